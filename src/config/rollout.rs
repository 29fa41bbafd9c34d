//! The rollout file: the keys of `deploy`'s flags in snake_case, at the top level (defaults for
//! every target) and in each entry of `targets:`. YAML is parsed by the template room, the one
//! place that holds a YAML parser.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::GuideArgs;
use crate::kinds::OnFailure;

/// The keys of a rollout file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    pub account: Option<String>,
    pub accounts: Option<Vec<String>>,
    pub role_arn: Option<String>,
    pub region: Option<String>,
    pub regions: Option<Vec<String>>,
    /// The guide's options, under the same names as their flags.
    #[serde(flatten)]
    pub guide: GuideArgs,
    pub shared_template: Option<PathBuf>,
    pub shared_stack_name: Option<String>,
    pub stack_name: Option<String>,
    pub parameters: Option<BTreeMap<String, String>>,
    pub concurrency: Option<usize>,
    pub timeout: Option<String>,
    pub on_failure: Option<OnFailure>,
    pub targets: Option<Vec<Keys>>,
}

/// A rollout file as read: its keys and the folder its relative paths start from.
pub struct Rollout {
    pub keys: Keys,
    pub dir: PathBuf,
    pub name: String,
}

impl Rollout {
    /// Parse the text of a rollout file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Rollout, String> {
        let name = path.display().to_string();
        if text.trim().is_empty() {
            return Err(format!(
                "rollout file {name} is empty; see assets/rollout.example.yaml"
            ));
        }
        let keys: Keys =
            crate::template::from_yaml(text).map_err(|e| format!("rollout file {name}: {e}"))?;
        if let Some(targets) = &keys.targets {
            if targets.is_empty() {
                return Err(format!(
                    "rollout file {name}: `targets:` is empty; list at least one target or remove the key"
                ));
            }
            if targets.iter().any(|t| t.targets.is_some()) {
                return Err(format!(
                    "rollout file {name}: a target may not have its own `targets:`"
                ));
            }
        }
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Rollout { keys, dir, name })
    }

    /// A path of the file, relative to the file's folder.
    pub fn path(&self, p: &Path) -> PathBuf {
        if p.is_relative() && p.as_os_str() != "-" {
            self.dir.join(p)
        } else {
            p.to_path_buf()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_file_mistakes_name_the_file() {
        for (text, want) in [
            ("", "empty"),
            ("taegis_regoin: echo\n", "unknown field `taegis_regoin`"),
            ("targets: 3\n", "targets"),
            ("targets: []\n", "`targets:` is empty"),
            ("concurrency: lots\n", "concurrency"),
            // The guide's options are read through one definition; their key is still named.
            ("trigger: ftp\n", "trigger: unknown variant `ftp`"),
            ("prefix: [a]\n", "prefix: invalid type"),
            (
                "targets:\n  - lambda_zip: {a: 1}\n",
                "lambda_zip: invalid type",
            ),
            ("a: [\n", "prod.yaml"),
        ] {
            let e = Rollout::parse(Path::new("prod.yaml"), text).err().unwrap();
            assert!(e.contains("prod.yaml") && e.contains(want), "{text:?}: {e}");
        }
    }
}
