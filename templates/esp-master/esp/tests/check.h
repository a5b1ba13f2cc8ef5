// nanoesp esp-master unit tests: a tiny self-contained check harness.
#pragma once

#include <stdio.h>

#include <string>
#include <type_traits>

namespace check {

struct Test {
    const char* name;
    void (*fn)();
    Test* next;
};

Test*& registry();
int& failures();
const char*& current();

struct Register {
    Test test;
    Register(const char* name, void (*fn)()) : test{name, fn, nullptr} {
        test.next = registry();
        registry() = &test;
    }
};

inline void fail(const char* file, int line, const std::string& what) {
    ++failures();
    fprintf(stderr, "FAIL %s (%s:%d): %s\n", current(), file, line, what.c_str());
}

inline std::string show(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20 || c >= 0x7F) {
            char b[8];
            snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}
inline std::string show(const char* s) { return show(std::string(s)); }
template <typename T>
std::string show(const T& v) {
    if constexpr (std::is_enum_v<T>) {
        return std::to_string(static_cast<long long>(v));
    } else {
        return std::to_string(v);
    }
}

}  // namespace check

#define TEST(name)                                                  \
    static void name();                                             \
    static ::check::Register name##_registered(#name, &name);       \
    static void name()

#define CHECK(cond)                                                 \
    do {                                                            \
        if (!(cond)) ::check::fail(__FILE__, __LINE__, #cond);      \
    } while (0)

#define CHECK_EQ(a, b)                                                                          \
    do {                                                                                        \
        const auto& check_a_ = (a);                                                             \
        const auto& check_b_ = (b);                                                             \
        if (!(check_a_ == check_b_))                                                            \
            ::check::fail(__FILE__, __LINE__,                                                   \
                          std::string(#a " == " #b ": ") + ::check::show(check_a_) + " vs " +   \
                              ::check::show(check_b_));                                         \
    } while (0)
