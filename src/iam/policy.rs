//! The least-privilege policy of a command, built from the rows of `CALLS` and `ON_BEHALF`:
//! one statement per resource scope, its ARNs narrowed to the regions, accounts, buckets and
//! names given.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};

use super::{BASIC_EXECUTION_POLICY, CALLS, ON_BEHALF, Phase, Scope};
use crate::kinds::Task;

/// What the ARNs may be narrowed to; an empty list means any.
#[derive(Debug, Clone, Default)]
pub struct Narrowing {
    pub regions: Vec<String>,
    pub accounts: Vec<String>,
    /// The notification buckets.
    pub buckets: Vec<String>,
    pub topics: Vec<String>,
    pub kms_keys: Vec<String>,
    pub stack_name: String,
    pub shared_stack_name: String,
    /// The zip bucket's name, `{account}` and `{region}` placeholders allowed.
    pub lambda_bucket: String,
}

/// The partition a region belongs to.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

impl Narrowing {
    /// Every (partition, region, account) the ARNs cover, `*` standing for any.
    fn places(&self) -> Vec<(&'static str, String, String)> {
        let any = vec!["*".to_string()];
        let regions = if self.regions.is_empty() {
            &any
        } else {
            &self.regions
        };
        let accounts = if self.accounts.is_empty() {
            &any
        } else {
            &self.accounts
        };
        let mut out = Vec::new();
        for r in regions {
            for a in accounts {
                let p = if r == "*" { "aws" } else { partition(r) };
                out.push((p, r.clone(), a.clone()));
            }
        }
        out
    }

    fn partitions(&self) -> BTreeSet<&'static str> {
        self.places().into_iter().map(|(p, _, _)| p).collect()
    }

    fn zip_bucket(&self, region: &str, account: &str) -> String {
        self.lambda_bucket
            .replace("{account}", account)
            .replace("{region}", region)
    }

    /// The ARNs of a scope.
    pub fn arns(&self, scope: Scope) -> Vec<String> {
        let function = format!("{}-scwx-tdr-lambda-*", self.stack_name);
        let mut out = BTreeSet::new();
        match scope {
            Scope::Any => {
                out.insert("*".to_string());
            }
            Scope::NotificationBucket if !self.buckets.is_empty() => {
                for p in self.partitions() {
                    out.extend(self.buckets.iter().map(|b| format!("arn:{p}:s3:::{b}")));
                }
            }
            Scope::Topic if !self.topics.is_empty() => out.extend(self.topics.iter().cloned()),
            Scope::Key if !self.kms_keys.is_empty() => out.extend(self.kms_keys.iter().cloned()),
            _ => {
                for (p, r, a) in self.places() {
                    out.extend(self.place_arns(scope, p, &r, &a, &function));
                }
            }
        }
        out.into_iter().collect()
    }

    fn place_arns(&self, scope: Scope, p: &str, r: &str, a: &str, function: &str) -> Vec<String> {
        match scope {
            Scope::Stacks => [&self.stack_name, &self.shared_stack_name]
                .iter()
                .map(|s| format!("arn:{p}:cloudformation:{r}:{a}:stack/{s}/*"))
                .collect(),
            Scope::ZipBucket => vec![format!("arn:{p}:s3:::{}", self.zip_bucket(r, a))],
            Scope::ZipObjects => vec![format!("arn:{p}:s3:::{}/*", self.zip_bucket(r, a))],
            Scope::NotificationBucket => vec![format!("arn:{p}:s3:::*")],
            Scope::Function => vec![format!("arn:{p}:lambda:{r}:{a}:function:{function}")],
            Scope::Functions => vec![format!("arn:{p}:lambda:{r}:{a}:function:*")],
            Scope::FunctionRole => vec![format!("arn:{p}:iam::{a}:role/{}-*", self.stack_name)],
            Scope::FunctionLogs => {
                vec![format!(
                    "arn:{p}:logs:{r}:{a}:log-group:/aws/lambda/{function}"
                )]
            }
            Scope::Topic => vec![format!("arn:{p}:sns:{r}:{a}:*")],
            Scope::Trail => vec![format!("arn:{p}:cloudtrail:{r}:{a}:trail/*")],
            Scope::Key => vec![format!("arn:{p}:kms:{r}:{a}:key/*")],
            Scope::Secret => {
                vec![format!(
                    "arn:{p}:secretsmanager:{r}:{a}:secret:*TaegisXdrSecret*"
                )]
            }
            Scope::Any => vec!["*".to_string()],
        }
    }
}

/// A policy document, its fields in the order IAM shows them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Document {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    pub action: Vec<String>,
    pub resource: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

fn statement<'a>(
    sid: String,
    actions: impl IntoIterator<Item = &'a str>,
    resources: Vec<String>,
) -> Statement {
    Statement {
        sid,
        effect: "Allow",
        action: actions.into_iter().map(str::to_string).collect(),
        resource: resources,
        condition: None,
    }
}

/// The statement id of a scope: `Calls<Scope>` for the tool's own calls,
/// `ViaCloudFormation<Scope>` for what CloudFormation does with the caller's credentials.
pub fn sid(prefix: &str, scope: Scope) -> String {
    format!("{prefix}{scope:?}")
}

/// The policy document for a role that runs `task`.
pub fn policy(task: Task, n: &Narrowing) -> Document {
    let mut own: BTreeMap<Scope, BTreeSet<&str>> = BTreeMap::new();
    for c in CALLS {
        for (scope, _) in c.uses.iter().filter(|(_, u)| u.by(task)) {
            own.entry(*scope).or_default().insert(c.action);
        }
    }
    let mut statement: Vec<Statement> = own
        .into_iter()
        .map(|(s, actions)| self::statement(sid("Calls", s), actions, n.arns(s)))
        .collect();
    statement.extend(via_cloudformation(task, n));
    Document {
        version: "2012-10-17",
        statement,
    }
}

/// What CloudFormation needs to make, change and delete the stacks' resources.
fn via_cloudformation(task: Task, n: &Narrowing) -> Vec<Statement> {
    let phases: &[Phase] = match task {
        Task::Deploy | Task::Setup => &[Phase::Write, Phase::Delete],
        Task::Destroy => &[Phase::Delete],
        Task::Verify | Task::Coverage => return Vec::new(),
    };
    let mut by_scope: BTreeMap<Scope, BTreeSet<&str>> = BTreeMap::new();
    for row in ON_BEHALF.iter().filter(|r| phases.contains(&r.phase)) {
        by_scope
            .entry(row.scope)
            .or_default()
            .extend(row.actions.iter().copied());
    }
    let mut out: Vec<Statement> = by_scope
        .into_iter()
        .map(|(s, actions)| statement(sid("ViaCloudFormation", s), actions, n.arns(s)))
        .collect();
    let roles = n.arns(Scope::FunctionRole);
    let managed: Vec<String> = n
        .partitions()
        .into_iter()
        .map(|p| format!("arn:{p}:{BASIC_EXECUTION_POLICY}"))
        .collect();
    let attach: &[&str] = if phases.contains(&Phase::Write) {
        &["iam:AttachRolePolicy", "iam:DetachRolePolicy"]
    } else {
        &["iam:DetachRolePolicy"]
    };
    out.push(Statement {
        condition: Some(json!({"ArnEquals": {"iam:PolicyARN": managed}})),
        ..statement(
            "ViaCloudFormationBasicExecutionPolicy".into(),
            attach.iter().copied(),
            roles.clone(),
        )
    });
    if phases.contains(&Phase::Write) {
        out.push(Statement {
            condition: Some(
                json!({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
            ),
            ..statement(
                "ViaCloudFormationPassRoleToLambda".into(),
                ["iam:PassRole"],
                roles,
            )
        });
        if !n.kms_keys.is_empty() {
            // A customer-managed key for the function's environment: Lambda encrypts with it
            // through a grant made in the caller's name.
            out.push(statement(
                "ViaCloudFormationLambdaEnvironmentKey".into(),
                ["kms:CreateGrant", "kms:Encrypt"],
                n.kms_keys.clone(),
            ));
        }
    }
    out
}
