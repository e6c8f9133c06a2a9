//! Private keys on disk: refused at start when anyone but their owner may read them, so a
//! key left world-readable by a copy or an unpacked archive is noticed before it is used.

use std::path::Path;

/// Whether `bytes` (a PEM file) hold a private key rather than only certificates.
pub fn holds_private_key(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"PRIVATE KEY")
}

/// Refuses `path` when its group or others may read it; `key` names the setting in the error
/// (one line, naming the file).
pub fn check_owner_only(key: &str, path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("{key}: cannot read {}: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o044 != 0 {
            return Err(format!(
                "{key}: the private key file {} is readable by group or others (mode {mode:03o}); make it readable by its owner only: chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (key, path);
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_readable_key_is_refused_with_its_name() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = check_owner_only("server.tls_key", &path).unwrap_err();
        assert!(
            err.starts_with("server.tls_key: ") && err.contains("key.pem"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_owner_only("server.tls_key", &path).unwrap();
        assert!(holds_private_key(b"-----BEGIN RSA PRIVATE KEY-----"));
        assert!(!holds_private_key(b"-----BEGIN CERTIFICATE-----"));
    }
}
