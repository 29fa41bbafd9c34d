//! The credentials text from XDR: held in memory only to be sent as a NoEcho parameter.
//! Its Debug and Display print `***`; it is never parsed, logged or written anywhere.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Secret {
        Secret(text)
    }

    /// The text, for the one place that sends it to AWS, and for redaction.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replace every occurrence of the secret (and of each of its lines) in `text` with `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let whole = self.0.trim();
        if !whole.is_empty() {
            out = out.replace(whole, "***");
        }
        for line in self.0.lines().map(str::trim).filter(|l| l.len() >= 6) {
            out = out.replace(line, "***");
        }
        out
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_itself() {
        let s = Secret::new("client_id=abc123\nclient_secret=topsecretvalue\n".into());
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(
            s.redact("x client_secret=topsecretvalue y client_id=abc123"),
            "x *** y ***"
        );
        assert_eq!(s.redact("nothing here"), "nothing here");
    }
}
