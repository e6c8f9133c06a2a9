//! Tests of the custom-policy front end, on small starter-pack-shaped fixtures of our own
//! (`tests/fixtures/starter`).

use std::collections::BTreeMap;
use std::path::Path;

use super::*;

fn files_in(dir: &Path, replace: Option<(&str, &str)>) -> Vec<PolicyFile> {
    let mut files: Vec<PolicyFile> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .map(|p| {
            let mut bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            if let Some((from, to)) = replace {
                bytes = String::from_utf8_lossy(&bytes)
                    .replace(from, to)
                    .into_bytes();
            }
            PolicyFile {
                name: p.display().to_string(),
                bytes,
            }
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

fn load_files(files: &[PolicyFile]) -> Result<Loaded, Vec<Diagnostic>> {
    let settings = BTreeMap::new();
    load(
        files,
        &LoadOptions {
            tenant_domain: "contoso.onmicrosoft.com",
            settings: &settings,
            limits: Limits::default(),
        },
    )
}

fn show(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("{d}\n")).collect()
}

#[test]
fn microsoft_starter_packs_load_without_errors() {
    for dir in ["/tmp/sp", "/tmp/spsl"] {
        let dir = Path::new(dir);
        if !dir.is_dir() {
            eprintln!("{}: absent, skipped", dir.display());
            continue;
        }
        let files = files_in(dir, Some(("yourtenant", "contoso")));
        let loaded = load_files(&files).unwrap_or_else(|e| panic!("{}", show(&e)));
        eprintln!("{}: warnings:\n{}", dir.display(), show(&loaded.warnings));
        let ids: Vec<&str> = loaded.policies.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "B2C_1A_PasswordReset",
                "B2C_1A_ProfileEdit",
                "B2C_1A_signup_signin"
            ]
        );
    }
}
