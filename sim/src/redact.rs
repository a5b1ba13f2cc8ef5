//! Keeps the Wi-Fi password out of everything `nanoesp-sim` prints: serial transcripts
//! contain the firmware's `AT+CWJAP` command, which carries it.

/// What replaces a secret.
pub const MASK: &str = "********";

/// Masks `password` (plain and AT-escaped) and the password argument of any
/// `AT+CWJAP`/`AT+CWSAP` command line in `text`.
pub fn redact(text: &str, password: Option<&[u8]>) -> String {
    let mut out = text.to_string();
    if let Some(pw) = password.filter(|p| !p.is_empty()) {
        let plain = String::from_utf8_lossy(pw).into_owned();
        // AT firmware escapes `"`, `,` and `\` with a backslash (esp-at-behaviour.md §2)
        let mut escaped = String::new();
        for c in plain.chars() {
            if matches!(c, '"' | ',' | '\\') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        // transcripts render a backslash as `\\`
        let rendered = escaped.replace('\\', "\\\\");
        for form in [rendered, escaped, plain] {
            out = out.replace(&form, MASK);
        }
    }
    out.lines()
        .map(mask_join_command)
        .collect::<Vec<_>>()
        .join("\n")
}

fn mask_join_command(line: &str) -> String {
    let Some(at) = line.find("CWJAP").or_else(|| line.find("CWSAP")) else {
        return line.to_string();
    };
    let rest = &line[at..];
    let Some(sep) = rest.find("\",\"") else {
        return line.to_string();
    };
    let start = at + sep + 3;
    let end = line
        .rfind('"')
        .filter(|&e| e >= start)
        .unwrap_or(line.len());
    format!("{}{}{}", &line[..start], MASK, &line[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_command_password_is_masked() {
        let t = "--> AT+CWJAP_CUR=\"lab\",\"s3cret\\\\\"pw\"\\r\\n\n<-- OK";
        let r = redact(t, None);
        assert_eq!(r, "--> AT+CWJAP_CUR=\"lab\",\"********\"\\r\\n\n<-- OK");
    }

    #[test]
    fn known_password_is_masked_anywhere() {
        let r = redact("echo: hunter2, again hunter2", Some(b"hunter2"));
        assert!(!r.contains("hunter2"), "{r}");
        let r = redact("x s3cret\\\"pw y", Some(b"s3cret\"pw"));
        assert!(!r.contains("s3cret"), "{r}");
    }
}
