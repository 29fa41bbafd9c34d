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

    /// Replace every occurrence of the secret (and of each of its lines), as written, as Debug
    /// or JSON would escape it, and as a request body encodes it (percent-encoding, the SDK's
    /// trace logs show bodies), in `text` with `***`. Lines shorter than 6 characters are left
    /// alone: they would match ordinary words.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        let whole = self.0.trim();
        let pieces =
            std::iter::once(whole).chain(self.0.lines().map(str::trim).filter(|l| l.len() >= 6));
        for piece in pieces.filter(|p| !p.is_empty()) {
            let debug = format!("{piece:?}");
            let json = serde_json::to_string(piece).unwrap_or_default();
            let encoded = percent_encoded(piece);
            let form_encoded = encoded.replace("%20", "+");
            for form in [
                piece,
                &debug[1..debug.len() - 1],
                &json[1..json.len().max(2) - 1],
                &encoded,
                &form_encoded,
            ] {
                if !form.is_empty() {
                    out = out.replace(form, "***");
                }
            }
        }
        out
    }
}

/// RFC 3986 percent-encoding: everything but letters, digits and `-_.~`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
        let quoted = Secret::new("id=\"a\\b\"\nsecret=x\ty-long\n".into());
        let shown = format!(
            "{:?} {}",
            "id=\"a\\b\"",
            serde_json::to_string("secret=x\ty-long").unwrap()
        );
        assert_eq!(quoted.redact(&shown), "\"***\" \"***\"", "{shown}");
        let body = "Parameters.member.1.ParameterValue=client_id%3Dabc123%0Aclient_secret%3Dtopsecretvalue%0A&x=1";
        assert_eq!(
            s.redact(body),
            "Parameters.member.1.ParameterValue=***%0A&x=1"
        );
        let spaced = Secret::new("a long secret line".into());
        assert_eq!(
            spaced.redact("v=a+long+secret+line&w=a%20long%20secret%20line"),
            "v=***&w=***"
        );
    }
}
