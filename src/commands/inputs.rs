//! Local inputs, read once per run before any AWS call: the credentials text, the Lambda zip,
//! the templates. Each problem names the file and the fix.

use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::CredentialsSource;
use crate::input::{Input, Problem};
use crate::plan::LambdaZip;
use crate::secret::Secret;
use crate::template::Template;

/// Read a file that must be a regular, readable file; `input` names the flag.
fn read_file(path: &Path, input: Input) -> Result<Vec<u8>, Problem> {
    let about = |m: String| Problem::value(input, &path.display().to_string(), m);
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(about("no such file".into()));
        }
        Err(e) => return Err(about(format!("cannot read it ({e})"))),
        Ok(m) if m.is_dir() => return Err(about("is a directory".into()).fix("give the file")),
        Ok(_) => {}
    }
    std::fs::read(path).map_err(|e| about(format!("cannot read it ({e})")))
}

/// The credentials text, never shown. Empty or non-text files are refused.
pub fn read_credentials(source: &CredentialsSource) -> Result<Secret, Problem> {
    let about = |m: &str| {
        Problem::value(Input::Credentials, &source.to_string(), m)
            .fix("give the credentials.txt downloaded from XDR")
    };
    let bytes = match source {
        CredentialsSource::Stdin => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                Problem::value(
                    Input::Credentials,
                    "-",
                    format!("cannot read standard input ({e})"),
                )
            })?;
            buf
        }
        CredentialsSource::File(p) => read_file(p, Input::Credentials)?,
        CredentialsSource::Missing => {
            return Err(Problem::about(
                Input::Credentials,
                "missing --credentials FILE",
                "the credentials file downloaded from XDR (\"-\" reads stdin)",
            ));
        }
    };
    let text = String::from_utf8(bytes).map_err(|_| about("not a text file"))?;
    if text.trim().is_empty() {
        return Err(about("is empty"));
    }
    Ok(Secret::new(text))
}

/// The zip, checked: a zip archive holding an executable `bootstrap` at its root.
pub fn read_zip(path: &Path) -> Result<Arc<LambdaZip>, Problem> {
    let bytes = read_file(path, Input::LambdaZip)?;
    let about = |m: String| Problem::value(Input::LambdaZip, &path.display().to_string(), m);
    let mut archive = zip::ZipArchive::new(Cursor::new(&bytes)).map_err(|_| {
        about("is not a zip archive".into())
            .fix("give the taegis-lambda-amd64.zip downloaded from XDR")
    })?;
    let entry = archive.by_name("bootstrap").map_err(|_| {
        about("holds no `bootstrap` at its root".into())
            .fix("a custom-runtime Lambda zip needs one")
    })?;
    match entry.unix_mode() {
        Some(mode) if mode & 0o111 != 0 => {}
        Some(mode) => {
            return Err(about(format!(
                "`bootstrap` is not executable (mode {:o})",
                mode & 0o7777
            ))
            .fix("rebuild the zip after chmod +x bootstrap"));
        }
        None => {
            return Err(about(
                "`bootstrap` carries no Unix permissions, so Lambda cannot run it".into(),
            )
            .fix("rebuild the zip on Linux or macOS after chmod +x bootstrap"));
        }
    }
    drop(entry);
    let sha256 = hex::encode(Sha256::digest(&bytes));
    Ok(Arc::new(LambdaZip {
        bytes: bytes.into(),
        sha256,
    }))
}

/// A template file given by the user, or the bundled one.
pub fn read_template(
    path: Option<&Path>,
    input: Input,
    bundled: fn() -> Template,
) -> Result<Arc<Template>, Problem> {
    let Some(p) = path else {
        return Ok(Arc::new(bundled()));
    };
    let bytes = read_file(p, input)?;
    let shown = p.display().to_string();
    let text =
        String::from_utf8(bytes).map_err(|_| Problem::value(input, &shown, "not a text file"))?;
    Template::parse(&format!("{} {shown}", input.flag()), &text)
        .map(Arc::new)
        .map_err(|e| Problem::about(input, e.source, e.reason))
}

/// Today as YYYY-MM-DD (UTC); `TAEGIS_TODAY` (YYYY-MM-DD) stands in for it, so that what
/// depends on AWS's calendar can be tried on any day.
pub fn today() -> String {
    if let Ok(day) = std::env::var("TAEGIS_TODAY")
        && humantime::parse_rfc3339(&format!("{day}T00:00:00Z")).is_ok()
    {
        return day;
    }
    humantime::format_rfc3339(std::time::SystemTime::now())
        .to_string()
        .chars()
        .take(10)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_with(name: &str, mode: u32) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default().unix_permissions(mode);
            w.start_file(name, opts).unwrap();
            w.write_all(b"#!/bin/sh\n").unwrap();
            w.finish().unwrap();
        }
        buf.into_inner()
    }

    #[test]
    fn zips_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let good = write("good.zip", &zip_with("bootstrap", 0o755));
        let z = read_zip(&good).unwrap();
        assert_eq!(z.sha256.len(), 64);
        for (name, bytes, want) in [
            ("noexec.zip", zip_with("bootstrap", 0o644), "not executable"),
            ("other.zip", zip_with("main", 0o755), "no `bootstrap`"),
            ("text.zip", b"hello".to_vec(), "not a zip"),
        ] {
            let e = read_zip(&write(name, &bytes)).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(name), "{e}");
        }
        let e = read_zip(dir.path()).unwrap_err();
        assert_eq!(e.input, Input::LambdaZip);
        assert!(e.to_string().contains("is a directory"));
        assert!(
            read_zip(&dir.path().join("missing.zip"))
                .unwrap_err()
                .to_string()
                .contains("no such file")
        );
    }

    #[test]
    fn credentials_are_checked_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.txt");
        std::fs::write(&p, "  \n").unwrap();
        let e = read_credentials(&CredentialsSource::File(p.clone())).unwrap_err();
        assert!(e.to_string().contains("is empty"));
        std::fs::write(&p, "id=1\nsecret=abcdef\n").unwrap();
        let s = read_credentials(&CredentialsSource::File(p)).unwrap();
        assert_eq!(s.expose(), "id=1\nsecret=abcdef\n");
    }

    #[test]
    fn today_is_a_date() {
        let t = today();
        assert_eq!(t.len(), 10);
        assert_eq!(&t[4..5], "-");
    }
}
