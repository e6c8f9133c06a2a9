//! The bundled password blocklist: new passwords (sign-up, reset, change) that are common,
//! expected or breached are refused, as NIST SP 800-63B §5.1.1.2 asks and as Microsoft Entra
//! password protection does for B2C's directory. `[passwords] blocklist = false` turns it off.

use std::collections::HashSet;

/// The list, composed for this project (see the file's header); lower case, `#` comments.
const BUNDLED: &str = include_str!("password_blocklist.txt");

/// Up to this many digits and symbols around a listed word still make a listed password
/// (`Summer2024!`, `!Welcome1`); more is a different password.
const MAX_DECORATION: usize = 6;

/// What the page says when a new password is refused.
pub const MESSAGE: &str =
    "This password is too common and easy to guess. Please choose a different one.";

#[derive(Debug, Clone)]
pub struct PasswordBlocklist {
    entries: HashSet<String>,
}

impl PasswordBlocklist {
    /// The bundled list plus context-specific words (NIST's "the name of the service"): the
    /// tenant's name.
    pub fn bundled(context_words: &[&str]) -> Self {
        let entries = BUNDLED
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .chain(context_words.iter().map(|w| w.to_lowercase()))
            .filter(|w| !w.is_empty())
            .collect();
        Self { entries }
    }

    /// How many entries the list holds.
    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    /// Whether `password` is a listed one: compared without regard to case, as typed, without
    /// a short decoration of digits and symbols at its end or at both ends (`Summer2024!`,
    /// `!Welcome1`), and each of those with look-alike characters read as letters (`P@ssw0rd`).
    pub fn refuses(&self, password: &str) -> bool {
        let lower = password.to_lowercase();
        let undecorated = |s: &str| !s.chars().any(char::is_alphabetic);
        let whole = lower.as_str();
        let no_suffix = whole.trim_end_matches(|c: char| !c.is_alphabetic());
        let core = no_suffix.trim_start_matches(|c: char| !c.is_alphabetic());
        let removed = |part: &str| whole.chars().count() - part.chars().count();
        let mut candidates = vec![whole];
        if !undecorated(no_suffix) && removed(no_suffix) <= MAX_DECORATION {
            candidates.push(no_suffix);
        }
        if !undecorated(core) && removed(core) <= MAX_DECORATION {
            candidates.push(core);
        }
        candidates.into_iter().any(|candidate| {
            self.entries.contains(candidate)
                || ['i', 'l']
                    .into_iter()
                    .any(|one| self.entries.contains(&read_look_alikes(candidate, one)))
        })
    }
}

/// `p@ssw0rd` → `password`: the usual substitutions of letters by digits and symbols; `1` is
/// read as `one` (`i` or `l`, both are tried).
fn read_look_alikes(s: &str, one: char) -> String {
    s.chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '$' | '5' => 's',
            '0' => 'o',
            '3' => 'e',
            '7' => 't',
            '1' => one,
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_and_their_decorations_are_refused() {
        let list = PasswordBlocklist::bundled(&["contoso"]);
        assert!(list.entries() > 4000, "{}", list.entries());
        for p in [
            "Password1",
            "Welcome1",
            "Qwerty123",
            "Summer2024!",
            "P@ssw0rd1!",
            "!Welcome1",
            "@dmin123",
            "12345678",
            "1q2w3e4r",
            "Contoso2025!",
            "Michael1990!",
            "iloveyou",
            "LETMEIN!!",
        ] {
            assert!(list.refuses(p), "{p} should be refused");
        }
        for p in [
            "Passw0rd!x",
            "N3w-Passw0rd!",
            "correct horse battery staple",
            "Summer-Lake-Quietly-42",
            "Welcome1234567!",
            "xK9#mQ2$vL7p",
        ] {
            assert!(!list.refuses(p), "{p} should be accepted");
        }
    }
}
