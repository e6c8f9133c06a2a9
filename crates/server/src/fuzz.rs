//! Entry points for the fuzz targets in `fuzz/` (not an API): a page's form body arrives as the
//! browser (or an attacker) sends it, and the config file as an operator typed it.

use std::path::Path;

use crate::Config;
use crate::routes::journey::parse_form;

/// A journey page's form body as `POST …/SelfAsserted` reads it: the CSRF token and the input
/// handed to the engine, shown with `Debug`.
pub fn form(body: &[u8]) -> String {
    let form = parse_form(body);
    format!("{:?} {:?}", form.csrf, form.input)
}

/// A `trustframe.toml`, with environment overrides as `TRUSTFRAME__SECTION__KEY=value` lines
/// after a line `---`. `Ok` when it would start.
pub fn config(input: &str) -> Result<(), String> {
    let (text, env) = input.split_once("\n---\n").unwrap_or((input, ""));
    let env = env
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect::<Vec<_>>();
    Config::parse(
        text,
        Path::new("/nonexistent/trustframe.toml"),
        env.into_iter(),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The fuzz seeds in `fuzz/corpus/config/` start from a config that loads.
    #[test]
    fn the_config_seed_loads_and_env_lines_override() {
        let seed = "[server]\npublic_url = \"http://localhost:8080\"\n[storage]\n\
            url = \"sqlite://x.db\"\n[tenant]\nname = \"contoso\"\n---\nTRUSTFRAME__SERVER__LISTEN=127.0.0.1:0\n";
        assert_eq!(config(seed), Ok(()));
        let bad = format!("{seed}TRUSTFRAME__SERVER__LISTEN=not an address\n");
        assert!(config(&bad).is_err());
        assert!(form(b"csrf=a&action=cancel").starts_with("Some(\"a\") Cancel"));
    }
}
