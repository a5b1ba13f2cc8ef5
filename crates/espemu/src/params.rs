//! Parsing of AT command lines: `AT+NAME`, `AT+NAME?`, `AT+NAME=?` and
//! `AT+NAME=<p1>,<p2>,...` where string parameters are quoted and may escape `"`, `,` and
//! `\` with a backslash (spec §2 CWJAP, "escaped SSID/password"). Never panics on input.

/// The form of a parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Form {
    /// `AT+NAME`
    Exec,
    /// `AT+NAME?`
    Query,
    /// `AT+NAME=?`
    Test,
    /// `AT+NAME=...`
    Set(Vec<Param>),
}

/// One parameter of a `Set` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    /// A quoted string with escapes resolved.
    Str(Vec<u8>),
    /// An unquoted token (numbers; empty when omitted as in `a,,b`).
    Raw(Vec<u8>),
}

impl Param {
    /// The value as an integer, if it is an unquoted decimal (optionally negative).
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Param::Raw(t) => {
                let s = std::str::from_utf8(t).ok()?;
                if s.is_empty() || s.len() > 18 {
                    return None;
                }
                s.parse().ok()
            }
            Param::Str(_) => None,
        }
    }

    /// The value as a quoted string.
    pub(crate) fn string(&self) -> Option<&[u8]> {
        match self {
            Param::Str(s) => Some(s),
            Param::Raw(_) => None,
        }
    }
}

/// A command line split into upper-cased name (without `AT`) and form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    /// e.g. `+CWJAP_CUR`, `E0`, `` (plain `AT`).
    pub name: String,
    pub form: Form,
}

/// Why a line is not a well-formed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Does not start with `AT`.
    NotAt,
    /// Unterminated quote or stray bytes after a quoted parameter.
    BadParams,
}

/// Parses one command line (without its line ending).
pub(crate) fn parse(line: &[u8]) -> Result<Command, ParseError> {
    if line.len() < 2 || !line[..2].eq_ignore_ascii_case(b"AT") {
        return Err(ParseError::NotAt);
    }
    let rest = &line[2..];
    let name_end = rest
        .iter()
        .position(|&b| b == b'=' || b == b'?')
        .unwrap_or(rest.len());
    let name: String = rest[..name_end]
        .iter()
        .map(|&b| (b as char).to_ascii_uppercase())
        .collect();
    let tail = &rest[name_end..];
    let form = match tail {
        [] => Form::Exec,
        [b'?'] => Form::Query,
        [b'=', b'?'] => Form::Test,
        [b'=', params @ ..] => Form::Set(split_params(params)?),
        _ => return Err(ParseError::BadParams),
    };
    Ok(Command { name, form })
}

fn split_params(s: &[u8]) -> Result<Vec<Param>, ParseError> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        if s.get(i) == Some(&b'"') {
            i += 1;
            let mut val = Vec::new();
            loop {
                match s.get(i) {
                    None => return Err(ParseError::BadParams),
                    Some(b'\\') => {
                        let &c = s.get(i + 1).ok_or(ParseError::BadParams)?;
                        val.push(c);
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        val.push(c);
                        i += 1;
                    }
                }
            }
            out.push(Param::Str(val));
            match s.get(i) {
                None => return Ok(out),
                Some(b',') => i += 1,
                Some(_) => return Err(ParseError::BadParams),
            }
        } else {
            let end = s[i..].iter().position(|&b| b == b',').map(|p| p + i);
            match end {
                Some(e) => {
                    out.push(Param::Raw(s[i..e].to_vec()));
                    i = e + 1;
                }
                None => {
                    out.push(Param::Raw(s[i..].to_vec()));
                    return Ok(out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_ssid_and_password_are_unescaped() {
        let c = parse(br#"AT+CWJAP_CUR="a\"b\,c\\d","p,w""#).unwrap();
        assert_eq!(c.name, "+CWJAP_CUR");
        assert_eq!(
            c.form,
            Form::Set(vec![
                Param::Str(b"a\"b,c\\d".to_vec()),
                Param::Str(b"p,w".to_vec())
            ])
        );
    }

    #[test]
    fn forms_are_recognised() {
        assert_eq!(parse(b"AT").unwrap().form, Form::Exec);
        assert_eq!(parse(b"ate0").unwrap().name, "E0");
        assert_eq!(parse(b"AT+CIPMUX?").unwrap().form, Form::Query);
        assert_eq!(parse(b"AT+CWMODE_CUR=?").unwrap().form, Form::Test);
        let c = parse(b"AT+CIPSEND=0,19").unwrap();
        assert_eq!(
            c.form,
            Form::Set(vec![Param::Raw(b"0".to_vec()), Param::Raw(b"19".to_vec())])
        );
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        assert_eq!(parse(b"?"), Err(ParseError::NotAt));
        assert_eq!(parse(b"AT+X=\"abc"), Err(ParseError::BadParams));
        assert_eq!(parse(b"AT+X=\"a\"b"), Err(ParseError::BadParams));
        assert_eq!(parse(b"AT+X=\"a\\"), Err(ParseError::BadParams));
        assert_eq!(parse(b"AT+X?junk"), Err(ParseError::BadParams));
    }
}
