// nanoesp esp-master unit tests: runs every TEST (optionally only names containing argv[1]).
#include <string.h>

#include "check.h"

namespace check {
Test*& registry() {
    static Test* head = nullptr;
    return head;
}
int& failures() {
    static int n = 0;
    return n;
}
const char*& current() {
    static const char* name = "";
    return name;
}
}  // namespace check

int main(int argc, char** argv) {
    int run = 0;
    for (check::Test* t = check::registry(); t != nullptr; t = t->next) {
        if (argc > 1 && strstr(t->name, argv[1]) == nullptr) continue;
        check::current() = t->name;
        int before = check::failures();
        t->fn();
        ++run;
        printf("%s %s\n", check::failures() == before ? "ok  " : "FAIL", t->name);
    }
    printf("%d tests, %d failed checks\n", run, check::failures());
    return check::failures() == 0 && run > 0 ? 0 : 1;
}
