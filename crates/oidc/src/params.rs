//! Request parameters (query string or form body) as the server hands them over.

/// Parameters in arrival order. Empty values count as absent (RFC 6749 §3.1); unknown names are
/// ignored by the callers.
pub(crate) struct Params<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> Params<'a> {
    pub(crate) fn new(pairs: &'a [(String, String)]) -> Self {
        Params { pairs }
    }

    /// The first non-empty value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// RFC 6749 §3.1: parameters must not be included more than once.
    pub(crate) fn repeated(&self, name: &str) -> bool {
        self.pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .count()
            > 1
    }

    /// The first of `names` that is repeated.
    pub(crate) fn first_repeated(&self, names: &[&'static str]) -> Option<&'static str> {
        names.iter().copied().find(|n| self.repeated(n))
    }
}
