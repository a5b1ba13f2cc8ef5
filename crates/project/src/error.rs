//! Errors of the project model. Every variant names the file it is about; configuration
//! errors carry the source text and a span so the CLI can show file, line and column.

use std::path::PathBuf;

use miette::{Diagnostic, NamedSource, SourceSpan};

/// A problem located in a configuration file.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{location}: {message}")]
#[diagnostic(code(nanoesp::config::invalid))]
pub struct LocatedProblem {
    /// `file:line:column`.
    pub location: String,
    /// Dotted key.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to do.
    #[help]
    pub help: String,
    #[source_code]
    src: NamedSource<String>,
    #[label("{key}")]
    span: SourceSpan,
}

/// Converts a byte offset into 1-based line and column (columns count characters).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

impl LocatedProblem {
    pub(crate) fn new(
        file: &str,
        text: &str,
        span: std::ops::Range<usize>,
        key: &str,
        message: String,
        help: String,
    ) -> LocatedProblem {
        let (line, col) = line_col(text, span.start);
        LocatedProblem {
            location: format!("{file}:{line}:{col}"),
            key: key.to_string(),
            message,
            help,
            src: NamedSource::new(file, text.to_string()),
            span: (span.start, span.end.saturating_sub(span.start)).into(),
        }
    }
}

/// Malformed TOML, an unknown key or a value of the wrong type, located in its file.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{location}: {message}")]
#[diagnostic(code(nanoesp::config::syntax))]
pub struct SyntaxError {
    /// `file:line:column`.
    pub location: String,
    /// Parser message.
    pub message: String,
    /// What to try.
    #[help]
    pub help: Option<String>,
    /// The file's text, for the report.
    #[source_code]
    pub src: NamedSource<String>,
    /// Where the parser stopped.
    #[label("here")]
    pub span: SourceSpan,
}

/// Everything that can go wrong opening or editing a project.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum ProjectError {
    /// No `nanoesp.toml` in the directory.
    #[error("no nanoesp.toml in {}", dir.display())]
    #[diagnostic(
        code(nanoesp::project::not_found),
        help("Run `nanoesp new <dir>` to create a project, or pass --project <dir>.")
    )]
    NotFound {
        /// Where we looked.
        dir: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    #[diagnostic(code(nanoesp::project::read))]
    Read {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// A file could not be written (the original is left untouched).
    #[error("cannot write {}: {source}", path.display())]
    #[diagnostic(
        code(nanoesp::project::write),
        help("Check that the project directory is writable; the file was left unchanged.")
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The TOML itself is malformed, has an unknown key or a value of the wrong type.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Syntax(Box<SyntaxError>),
    /// The configuration parses but does not fit the boards.
    #[error("{}", summary(problems))]
    #[diagnostic(code(nanoesp::config::invalid))]
    Invalid {
        /// Each problem, located.
        #[related]
        problems: Vec<LocatedProblem>,
    },
    /// `config get/set/unset` with a key nanoesp does not know.
    #[error("unknown key `{key}`")]
    #[diagnostic(code(nanoesp::config::unknown_key), help("Known keys: {known}."))]
    UnknownKey {
        /// The key given.
        key: String,
        /// The keys that exist.
        known: String,
    },
    /// `config set` with a value of the wrong type.
    #[error("`{key}` expects {expected}, got `{value}`")]
    #[diagnostic(code(nanoesp::config::bad_value))]
    BadValue {
        /// The key.
        key: String,
        /// What it takes.
        expected: String,
        /// What was given (never a secret).
        value: String,
    },
    /// `config unset` on a key without a default.
    #[error("`{key}` is required and has no default")]
    #[diagnostic(
        code(nanoesp::config::required),
        help("Change it with `nanoesp config set {key} <value>` instead.")
    )]
    Required {
        /// The key.
        key: String,
    },
}

fn summary(problems: &[LocatedProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.location, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_and_column_are_one_based() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 11), (2, 6));
        assert_eq!(line_col("é = 1", 3), (1, 3), "columns count characters");
    }
}
