//! Problems found in a policy, each pointing at the source that caused it
//! (`file:line:column: error: message`).

use std::fmt;

use crate::model::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{span}: {severity}: {message}")]
pub struct Diagnostic {
    pub span: Span,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(span: &Span, message: impl Into<String>) -> Self {
        Self {
            span: span.clone(),
            severity: Severity::Error,
            message: message.into(),
        }
    }

    pub fn warning(span: &Span, message: impl Into<String>) -> Self {
        Self {
            span: span.clone(),
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts by file, line and column, and drops repeats (a base file's problem is found once per
/// relying party built on it).
pub fn sort(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        (
            &a.span.file,
            a.span.line,
            a.span.column,
            a.severity,
            &a.message,
        )
            .cmp(&(
                &b.span.file,
                b.span.line,
                b.span.column,
                b.severity,
                &b.message,
            ))
    });
    diagnostics.dedup();
}

/// ` (did you mean 'X'?)` when one of `candidates` is close to `name`, else the empty string.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).max(2);
    let best = candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, c)) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    }
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_a_compiler_and_suggests_near_names() {
        let d = Diagnostic::error(&Span::new("policies/Base.xml", 3, 7), "boom");
        assert_eq!(d.to_string(), "policies/Base.xml:3:7: error: boom");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            did_you_mean(
                "AAD-UserReadUsingObjectID",
                ["AAD-UserReadUsingObjectId", "x"]
            ),
            " (did you mean 'AAD-UserReadUsingObjectId'?)"
        );
        assert_eq!(did_you_mean("zzzz", ["JwtIssuer"]), "");
    }
}
