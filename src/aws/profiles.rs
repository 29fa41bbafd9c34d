//! The profiles the AWS config and credentials files define, read as the AWS CLI reads them
//! (`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/config` and
//! `~/.aws/credentials`): to say which profiles exist when the one asked for does not.

use std::path::PathBuf;

/// The file an environment variable names, else `~/.aws/NAME`.
fn file(var: &str, name: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".aws").join(name)),
    }
}

/// The profile names in a config file's text (`[default]`, `[profile NAME]`) or a credentials
/// file's (`[NAME]`); other sections (`[sso-session X]`, `[services X]`) are not profiles.
pub fn names(text: &str, config: bool) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let inner = l.strip_prefix('[')?.strip_suffix(']')?.trim();
            let name = match inner.split_once(char::is_whitespace) {
                Some(("profile", n)) if config => n.trim(),
                Some(_) => return None,
                None if !config || inner == "default" => inner,
                None => return None,
            };
            Some(name.to_string())
        })
        .collect()
}

/// Every profile the two files define, sorted, each once.
pub fn known() -> Vec<String> {
    let mut out = Vec::new();
    for (var, name, config) in [
        ("AWS_CONFIG_FILE", "config", true),
        ("AWS_SHARED_CREDENTIALS_FILE", "credentials", false),
    ] {
        if let Some(text) = file(var, name).and_then(|p| std::fs::read_to_string(p).ok()) {
            out.extend(names(&text, config));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_of_both_files() {
        let config = "[default]\nregion = us-east-1\n[profile dev]\nsso_session = corp\n[sso-session corp]\nsso_region = us-east-1\n[ops]\n";
        assert_eq!(names(config, true), ["default", "dev"]);
        let credentials = "[default]\naws_access_key_id = A\n[ ci ]\n";
        assert_eq!(names(credentials, false), ["default", "ci"]);
    }
}
