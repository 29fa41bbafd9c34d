//! CloudFormation templates as data: the bundled pair, user files, their declared Parameters
//! (short-form tags such as `!Ref` and `!Sub` tolerated), value checks, and the function runtime.
//!
//! This is the only module that touches `serde_yaml` (archived upstream), so that it can be
//! swapped for a maintained fork in one place. It imports nothing else of ours.

pub mod names;

use std::collections::BTreeMap;
use std::fmt;

use serde_yaml::Value;
use sha2::{Digest, Sha256};

/// The bundled shared-resources template (Secrets Manager secret + exports).
pub const BUNDLED_SHARED: &str =
    include_str!("../../templates/taegis-cloudformation-shared-resources.yaml");
/// The bundled Lambda template (role, function, log group).
pub const BUNDLED_LAMBDA: &str =
    include_str!("../../templates/taegis-cloudformation-lambda-template.yaml");

/// File names of the bundled templates, as the vendor names its downloads.
pub const SHARED_FILE_NAME: &str = "taegis-cloudformation-shared-resources.yaml";
pub const LAMBDA_FILE_NAME: &str = "taegis-cloudformation-lambda-template.yaml";

/// CloudFormation's limit for an inline template body.
pub const MAX_INLINE_BODY: usize = 51_200;
/// CloudFormation's limit for a template read from S3 (TemplateURL).
pub const MAX_URL_BODY: usize = 1_048_576;

/// One declared template parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: String,
    pub kind: ParamType,
    pub default: Option<String>,
    pub allowed_values: Vec<String>,
    pub allowed_pattern: Option<String>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub no_echo: bool,
    pub description: Option<String>,
}

/// A parameter's `Type`: the tool checks numbers; the rest it keeps as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamType {
    Number,
    /// `String`, a list or an AWS-specific type, as the template names it.
    Other(String),
}

impl ParamType {
    fn parse(text: String) -> ParamType {
        match text.as_str() {
            "Number" => ParamType::Number,
            _ => ParamType::Other(text),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            ParamType::Number => "Number",
            ParamType::Other(t) => t,
        }
    }
}

impl Parameter {
    /// A parameter without a default must be given a value.
    pub fn required(&self) -> bool {
        self.default.is_none()
    }

    /// Problems with `value` for this parameter, as sentences naming the parameter.
    /// The value itself is only quoted when the parameter is not NoEcho and not `hide`.
    pub fn check(&self, value: &str, hide: bool) -> Vec<String> {
        let mut out = Vec::new();
        let shown = if self.no_echo || hide {
            "the value".to_string()
        } else {
            format!("{value:?}")
        };
        if !self.allowed_values.is_empty() && !self.allowed_values.iter().any(|v| v == value) {
            out.push(format!(
                "parameter {}: {shown} is not allowed by the template; allowed: {}",
                self.name,
                self.allowed_values.join(", ")
            ));
        }
        if let Some(min) = self.min_length
            && value.chars().count() < min
        {
            out.push(format!(
                "parameter {}: {shown} is shorter than the template's MinLength {min}",
                self.name
            ));
        }
        if let Some(max) = self.max_length
            && value.chars().count() > max
        {
            out.push(format!(
                "parameter {}: {shown} is longer than the template's MaxLength {max}",
                self.name
            ));
        }
        if let Some(pattern) = &self.allowed_pattern {
            match regex::Regex::new(&format!("^(?:{pattern})$")) {
                Ok(re) if !re.is_match(value) => out.push(format!(
                    "parameter {}: {shown} does not match the template's AllowedPattern {pattern}",
                    self.name
                )),
                Ok(_) => {}
                Err(_) => out.push(format!(
                    "parameter {}: the template's AllowedPattern {pattern:?} is not a valid pattern",
                    self.name
                )),
            }
        }
        if self.kind == ParamType::Number {
            out.extend(self.check_number(value, &shown));
        }
        out
    }

    /// A Number parameter's value: a number, within MinValue and MaxValue.
    fn check_number(&self, value: &str, shown: &str) -> Option<String> {
        let name = &self.name;
        let Ok(n) = value.trim().parse::<f64>() else {
            return Some(format!(
                "parameter {name}: {shown} is not a number (the template declares Type: Number)"
            ));
        };
        if let Some(min) = self.min_value.filter(|min| n < *min) {
            return Some(format!(
                "parameter {name}: {shown} is below the template's MinValue {min}"
            ));
        }
        let max = self.max_value.filter(|max| n > *max)?;
        Some(format!(
            "parameter {name}: {shown} is above the template's MaxValue {max}"
        ))
    }
}

/// A parsed template: its text (sent as is) and what the tool needs to know of it.
#[derive(Debug, Clone)]
pub struct Template {
    /// Where it came from: "bundled shared template" or a file path.
    pub source: String,
    pub body: String,
    /// SHA-256 of the body, hex.
    pub sha256: String,
    /// Declared parameters, in template order.
    pub parameters: Vec<Parameter>,
    /// `Runtime` of each `AWS::Lambda::Function`: a literal, or the name of the parameter it
    /// refers to.
    runtimes: Vec<RuntimeRef>,
    /// The names of its outputs' exports, as written (`${AWS::StackName}` and the like kept).
    exports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum RuntimeRef {
    Literal(String),
    Param(String),
}

/// What is wrong with a value given for a template's parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueProblemKind {
    /// The template declares no such parameter.
    Undeclared,
    /// The template does not allow the value.
    Invalid,
    /// Required, and no value was given.
    Missing,
}

/// One problem with the values for a template, naming its parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueProblem {
    pub parameter: String,
    pub kind: ValueProblemKind,
    /// A sentence that names the parameter; never quotes a hidden value.
    pub message: String,
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a template could not be used.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub source: String,
    pub reason: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

impl std::error::Error for TemplateError {}

/// Strip a YAML tag (`!Ref x` → `x`), so short forms read like their values.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

fn scalar(v: &Value) -> Option<String> {
    match untag(v) {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn get<'a>(map: &'a serde_yaml::Mapping, key: &str) -> Option<&'a Value> {
    map.get(Value::String(key.to_string()))
}

impl Template {
    pub fn bundled_shared() -> Template {
        Template::parse("bundled shared template", BUNDLED_SHARED)
            .expect("the bundled shared template parses")
    }

    pub fn bundled_lambda() -> Template {
        Template::parse("bundled Lambda template", BUNDLED_LAMBDA)
            .expect("the bundled Lambda template parses")
    }

    /// Parse a template body (YAML or JSON). `source` names it in errors.
    pub fn parse(source: &str, body: &str) -> Result<Template, TemplateError> {
        let err = |reason: String| TemplateError {
            source: source.to_string(),
            reason,
        };
        if body.trim().is_empty() {
            return Err(err("the template is empty".into()));
        }
        if body.len() > MAX_URL_BODY {
            return Err(err(format!(
                "the template is {} bytes; CloudFormation accepts at most {MAX_URL_BODY} bytes",
                body.len()
            )));
        }
        let doc: Value = serde_yaml::from_str(body).map_err(|e| {
            err(format!(
                "not valid YAML or JSON ({})",
                e.to_string().lines().next().unwrap_or("parse error")
            ))
        })?;
        let Value::Mapping(top) = untag(&doc) else {
            return Err(err(
                "not a CloudFormation template (the top level is not a mapping)".into(),
            ));
        };
        let resources = match get(top, "Resources").map(untag) {
            Some(Value::Mapping(m)) if !m.is_empty() => m,
            _ => return Err(err("the template has no Resources section".into())),
        };
        let parameters = match get(top, "Parameters").map(untag) {
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| parse_parameter(k, v))
                .collect::<Result<Vec<_>, String>>()
                .map_err(err)?,
            Some(_) => {
                return Err(err(
                    "the template's Parameters section is not a mapping".into()
                ));
            }
            None => return Err(err("the template declares no Parameters".into())),
        };
        Ok(Template {
            source: source.to_string(),
            body: body.to_string(),
            sha256: hex::encode(Sha256::digest(body.as_bytes())),
            parameters,
            runtimes: function_runtimes(resources),
            exports: export_names(top),
        })
    }

    /// Small enough to send inline (TemplateBody); else it goes through S3 (TemplateURL).
    pub fn fits_inline(&self) -> bool {
        self.body.len() <= MAX_INLINE_BODY
    }

    pub fn parameter(&self, name: &str) -> Option<&Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    pub fn declares(&self, name: &str) -> bool {
        self.parameter(name).is_some()
    }

    /// Every problem with `values` against this template: undeclared names, values the template
    /// does not allow, required parameters without a value. The values of `hidden` parameters
    /// are never quoted, whatever the template says.
    pub fn check_values(
        &self,
        values: &BTreeMap<String, String>,
        hidden: &[&str],
    ) -> Vec<ValueProblem> {
        let mut out = Vec::new();
        for (name, value) in values {
            match self.parameter(name) {
                None => out.push(ValueProblem {
                    parameter: name.clone(),
                    kind: ValueProblemKind::Undeclared,
                    message: format!(
                        "parameter {name} is not declared by the {}; declared: {}",
                        self.source,
                        self.parameters
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
                Some(p) => out.extend(
                    p.check(value, hidden.contains(&name.as_str()))
                        .into_iter()
                        .map(|message| ValueProblem {
                            parameter: name.clone(),
                            kind: ValueProblemKind::Invalid,
                            message,
                        }),
                ),
            }
        }
        for p in &self.parameters {
            if p.required() && !values.contains_key(&p.name) {
                out.push(ValueProblem {
                    parameter: p.name.clone(),
                    kind: ValueProblemKind::Missing,
                    message: format!(
                        "parameter {} of the {} is required and has no value; give it with --parameter {}=VALUE",
                        p.name, self.source, p.name
                    ),
                });
            }
        }
        out
    }

    /// The export names its outputs register for a stack of this name in this region and
    /// account; a name built from anything else is left out.
    pub fn export_names(&self, stack: &str, region: &str, account: &str) -> Vec<String> {
        self.exports
            .iter()
            .map(|n| {
                n.replace("${AWS::StackName}", stack)
                    .replace("${AWS::Region}", region)
                    .replace("${AWS::AccountId}", account)
            })
            .filter(|n| !n.contains("${"))
            .collect()
    }

    /// The runtimes the template's functions will get with these parameter values.
    pub fn function_runtimes(&self, values: &BTreeMap<String, String>) -> Vec<String> {
        self.runtimes
            .iter()
            .filter_map(|r| match r {
                RuntimeRef::Literal(s) => Some(s.clone()),
                RuntimeRef::Param(p) => values
                    .get(p)
                    .cloned()
                    .or_else(|| self.parameter(p).and_then(|d| d.default.clone())),
            })
            .collect()
    }
}

/// One declared parameter, from its name and its mapping.
fn parse_parameter(k: &Value, v: &Value) -> Result<Parameter, String> {
    let name = scalar(k).ok_or("a parameter name is not a string")?;
    let Value::Mapping(p) = untag(v) else {
        return Err(format!("parameter {name} is not a mapping"));
    };
    let kind = get(p, "Type")
        .and_then(scalar)
        .map(ParamType::parse)
        .ok_or_else(|| format!("parameter {name} has no Type"))?;
    let num = |key: &str| -> Result<Option<f64>, String> {
        match get(p, key).and_then(scalar) {
            None => Ok(None),
            Some(s) => s
                .parse::<f64>()
                .map(Some)
                .map_err(|_| format!("parameter {name}: {key} is not a number")),
        }
    };
    let allowed_values = match get(p, "AllowedValues").map(untag) {
        None => Vec::new(),
        Some(Value::Sequence(s)) => s.iter().filter_map(scalar).collect(),
        Some(_) => return Err(format!("parameter {name}: AllowedValues is not a list")),
    };
    Ok(Parameter {
        default: get(p, "Default").and_then(scalar),
        allowed_values,
        allowed_pattern: get(p, "AllowedPattern").and_then(scalar),
        min_length: num("MinLength")?.map(|n| n as usize),
        max_length: num("MaxLength")?.map(|n| n as usize),
        min_value: num("MinValue")?,
        max_value: num("MaxValue")?,
        no_echo: get(p, "NoEcho")
            .and_then(scalar)
            .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        description: get(p, "Description").and_then(scalar),
        name,
        kind,
    })
}

/// The `Runtime` of each `AWS::Lambda::Function`: a literal or the parameter it refers to.
fn function_runtimes(resources: &serde_yaml::Mapping) -> Vec<RuntimeRef> {
    let mut runtimes = Vec::new();
    for (_, r) in resources {
        let Value::Mapping(r) = untag(r) else {
            continue;
        };
        if get(r, "Type").and_then(scalar).as_deref() != Some("AWS::Lambda::Function") {
            continue;
        }
        let Some(Value::Mapping(props)) = get(r, "Properties").map(untag) else {
            continue;
        };
        let found = match get(props, "Runtime") {
            Some(Value::Tagged(t)) if t.tag == "!Ref" => scalar(&t.value).map(RuntimeRef::Param),
            Some(Value::Mapping(m)) => get(m, "Ref").and_then(scalar).map(RuntimeRef::Param),
            Some(v) => scalar(v).map(RuntimeRef::Literal),
            None => None,
        };
        runtimes.extend(found);
    }
    runtimes
}

/// `Outputs.*.Export.Name` of a template, where it is a string (short forms stripped).
fn export_names(top: &serde_yaml::Mapping) -> Vec<String> {
    let Some(Value::Mapping(outputs)) = get(top, "Outputs").map(untag) else {
        return Vec::new();
    };
    outputs
        .values()
        .filter_map(|o| match untag(o) {
            Value::Mapping(o) => match get(o, "Export").map(untag) {
                Some(Value::Mapping(e)) => get(e, "Name").and_then(scalar),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Read any YAML document (a rollout file) into `T`: the one YAML parser of the tool lives
/// here. The error is the parser's first line.
pub fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_yaml::from_str(text).map_err(|e| {
        e.to_string()
            .lines()
            .next()
            .unwrap_or("not valid YAML")
            .to_string()
    })
}

#[cfg(test)]
mod tests;
