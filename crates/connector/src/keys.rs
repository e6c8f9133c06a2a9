//! The key store: policy key names (`B2C_1A_RestApiPassword`) to secret bytes.
//!
//! B2C keeps these as policy keys; the server builds this store from its own configuration.
//! Names are matched without regard to case, as B2C matches `StorageReferenceId`s.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Secret values by reference name. `Debug` shows the names only, never a value.
#[derive(Clone, Default)]
pub struct KeyStore {
    keys: Arc<HashMap<String, (String, Vec<u8>)>>,
}

impl KeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a key.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        let name = name.into();
        Arc::make_mut(&mut self.keys).insert(name.to_lowercase(), (name, value.into()));
    }

    /// Builder form of [`KeyStore::insert`].
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.insert(name, value);
        self
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.keys
            .get(&name.to_lowercase())
            .map(|(_, v)| v.as_slice())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl<N: Into<String>, V: Into<Vec<u8>>> FromIterator<(N, V)> for KeyStore {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut store = Self::new();
        for (n, v) in iter {
            store.insert(n, v);
        }
        store
    }
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.keys.values().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        f.debug_struct("KeyStore")
            .field("keys", &names)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case_and_debug_hides_values() {
        let keys = KeyStore::new().with("B2C_1A_RestApiPassword", "s3cr3t-value");
        assert_eq!(
            keys.get("b2c_1a_restapipassword"),
            Some(&b"s3cr3t-value"[..])
        );
        assert_eq!(keys.get("B2C_1A_Other"), None);
        let shown = format!("{keys:?}");
        assert!(shown.contains("B2C_1A_RestApiPassword"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
