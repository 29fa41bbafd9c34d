//! Decide, for `deploy`: a pure function of one target's settings, the local inputs and what
//! was observed, returning the steps and every problem found. Each concern (identity, buckets
//! and objects, the stacks, concurrency, the invoke permission, the trigger, the earlier
//! trigger) is its own small function that adds steps and problems.

mod params;
mod share;
mod stacks;
mod storage;
#[cfg(test)]
mod tests;
mod trigger;

use std::sync::Arc;

pub use share::share_once;
pub use trigger::overlaps;

use super::observe::{Fact, Observed, Reads};
use super::{
    Action, FunctionRef, LambdaZip, OldTrigger, Op, StackParam, Step, TargetPlan, template_key,
};
use crate::config::TargetConfig;
use crate::input::{Input, Preflight, Problem};
use crate::kinds::Trigger;
use crate::secret::Secret;
use crate::template::{Template, names};

pub use super::marks::{OBJECT_CREATED, S3_STATEMENT_ID, SNS_STATEMENT_ID, notification_id};

/// What every target shares: the files read once by the command. When a file could not be
/// read, the command puts a stand-in here and the target lists the input as flawed, so the
/// other checks still run and the run still stops before any change.
pub struct Local {
    pub zip: Arc<LambdaZip>,
    pub shared_template: Arc<Template>,
    pub lambda_template: Arc<Template>,
    /// The credentials text, or why it could not be read (a problem only where it is needed).
    pub secret: Result<Arc<Secret>, Problem>,
    pub update_credentials: bool,
    /// The date the run happens on (YYYY-MM-DD), for the runtime deprecation notice.
    pub today: String,
}

/// The zip's object key: content-addressed when the template can take the key.
pub fn zip_key(template: &Template, sha256: &str) -> String {
    if template.declares(names::LAMBDA_KEY) {
        format!(
            "taegis-lambda-amd64-{}.zip",
            &sha256[..16.min(sha256.len())]
        )
    } else {
        crate::config::DEFAULT_LAMBDA_ZIP.to_string()
    }
}

/// AWS's published schedule for `provided.al2` (as cfn-lint's runtime data carries it):
/// deprecated, then no new functions, then no updates of existing ones.
pub const AL2_DEPRECATED: &str = "2026-07-31";
pub const AL2_NO_CREATE: &str = "2027-02-01";
pub const AL2_NO_UPDATE: &str = "2027-03-03";

/// What the deprecation of `provided.al2` means on `today` (YYYY-MM-DD).
pub fn al2_warning(today: &str) -> String {
    let stage = if today >= AL2_NO_UPDATE {
        format!(
            "AWS blocks creating functions with it since {AL2_NO_CREATE} and updating them since {AL2_NO_UPDATE}"
        )
    } else if today >= AL2_NO_CREATE {
        format!(
            "creating new functions with it is blocked since {AL2_NO_CREATE}, and AWS blocks updating them from {AL2_NO_UPDATE}"
        )
    } else if today >= AL2_DEPRECATED {
        format!(
            "it is deprecated since {AL2_DEPRECATED}; AWS blocks creating new functions with it from {AL2_NO_CREATE} and updating them from {AL2_NO_UPDATE}"
        )
    } else {
        format!(
            "it is deprecated from {AL2_DEPRECATED}; AWS blocks creating new functions with it from {AL2_NO_CREATE} and updating them from {AL2_NO_UPDATE}"
        )
    };
    format!(
        "the Lambda template uses runtime provided.al2: {stage}; use provided.al2023 (--parameter LambdaRuntime=provided.al2023 with the bundled template)"
    )
}

/// The concurrency the function will reserve: `ReservedConcurrency` as given, else the
/// template's default; a template without the parameter reserves 5 (the vendor's).
fn wanted_reservation(t: &TargetConfig, lambda_t: &Template) -> i32 {
    const NAME: &str = names::RESERVED_CONCURRENCY;
    let Some(declared) = lambda_t.parameter(NAME) else {
        return 5;
    };
    t.parameters
        .get(NAME)
        .map(|v| v.value.clone())
        .or_else(|| declared.default.clone())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// What `deploy` reads for a target (its account expanded, its trail read): every input that
/// has no problem.
pub fn reads(t: &TargetConfig, seen: &Observed, local: &Local) -> Reads {
    let (t, _) = super::trail::filled(t, seen);
    let t = &t;
    let ok = |i: Input| !t.flawed.contains(&i);
    let mut objects = Vec::new();
    if ok(Input::LambdaZip) && ok(Input::LambdaTemplate) {
        objects.push(zip_key(&local.lambda_template, &local.zip.sha256));
    }
    for tpl in [&local.shared_template, &local.lambda_template] {
        if !tpl.fits_inline() {
            objects.push(template_key(tpl));
        }
    }
    Reads {
        notification_bucket: ok(Input::NotificationBucket).then(|| t.notification_bucket.clone()),
        own_notification_bucket: t.trigger == Trigger::S3,
        lambda_bucket: ok(Input::LambdaBucket).then(|| t.lambda_bucket.clone()),
        objects,
        topic: t.sns_topic_arn.clone().filter(|_| ok(Input::SnsTopicArn)),
        shared_stack: ok(Input::SharedStackName).then(|| t.shared_stack_name.clone()),
        lambda_stack: ok(Input::StackName).then(|| t.stack_name.clone()),
        notifications: t.trigger == Trigger::S3,
        earlier_trigger: true,
        account_settings: true,
        reserving: Some(wanted_reservation(t, &local.lambda_template)),
        exports: ok(Input::SharedStackName),
        keys: [
            (Input::BucketKmsKeyArn, &t.bucket_kms_key_arn),
            (Input::LambdaEnvKmsKeyArn, &t.lambda_env_kms_key_arn),
        ]
        .into_iter()
        .filter(|(i, _)| ok(*i))
        .filter_map(|(_, k)| k.clone())
        .collect(),
        bucket_encryption: true,
        ..Reads::default()
    }
}

/// The plan (when the identity could be read) and everything the preflight found.
#[derive(Debug)]
pub struct Decision {
    pub plan: Option<TargetPlan>,
    pub preflight: Preflight,
}

impl Decision {
    /// The problem of an identity that could not be read (none when it was, or was not read).
    pub fn identity(target: &TargetConfig, seen: &Observed) -> Preflight {
        let mut preflight = Preflight::default();
        if let Fact::Failed(e) = &seen.identity {
            preflight.problem(super::identity::problem(
                target,
                e,
                &seen.identity_elsewhere,
            ));
        }
        preflight
    }
}

/// An account id that stands in for the caller's while it is unknown: the checks that need
/// no AWS still run on values whose `{account}` it fills.
const UNKNOWN_ACCOUNT: &str = "000000000000";

/// Decide a target's deploy from what was observed. Pure: no AWS, no clock, no terminal.
pub fn decide(target: &TargetConfig, local: &Local, seen: &Observed) -> Decision {
    let account = match &seen.identity {
        Fact::Known(i) => i.account.clone(),
        Fact::Failed(_) => {
            // What needs no AWS is still checked: every problem is reported in one run.
            let mut preflight = Decision::identity(target, seen);
            preflight.extend(offline(target, local));
            return Decision {
                plan: None,
                preflight,
            };
        }
        Fact::NotRead => {
            return Decision {
                plan: None,
                preflight: Preflight::default(),
            };
        }
    };
    let (t, trail_problem) = super::trail::filled(&target.for_account(&account), seen);
    let mut cx = Ctx::new(t, local, seen, account);
    cx.trail(trail_problem);
    cx.identity();
    cx.parameters();
    cx.buckets();
    cx.kms();
    cx.objects();
    cx.topic();
    cx.stacks();
    cx.runtime_calendar();
    cx.concurrency();
    let trigger = cx.permission();
    let trigger = cx.trigger(trigger);
    let old_trigger = cx.earlier_trigger(&trigger);
    cx.finish(old_trigger)
}

/// The checks of a target that need no AWS (its parameters against the templates, the
/// credentials file when one is named), for a target whose account cannot be read or that has
/// no usable region: every problem is still reported in one run.
pub fn offline(target: &TargetConfig, local: &Local) -> Preflight {
    let seen = Observed::default();
    let mut cx = Ctx::new(
        target.for_account(UNKNOWN_ACCOUNT),
        local,
        &seen,
        UNKNOWN_ACCOUNT.into(),
    );
    cx.offline = true;
    cx.parameters();
    cx.pf
}

/// One decision in the making.
struct Ctx<'a> {
    t: TargetConfig,
    local: &'a Local,
    seen: &'a Observed,
    account: String,
    steps: Vec<Step>,
    pf: Preflight,
    shared_params: Vec<StackParam>,
    lambda_params: Vec<StackParam>,
    /// The function of the Lambda stack, when it exists and is healthy.
    function: Option<FunctionRef>,
    /// What the function reserves today.
    reserved_now: i32,
    /// The account could not be read: only what needs no AWS is checked, and the credentials
    /// are judged only when a file was named (the shared stack may hold them already).
    offline: bool,
}

impl<'a> Ctx<'a> {
    fn new(t: TargetConfig, local: &'a Local, seen: &'a Observed, account: String) -> Ctx<'a> {
        Ctx {
            t,
            local,
            seen,
            account,
            steps: Vec::new(),
            pf: Preflight::default(),
            shared_params: Vec::new(),
            lambda_params: Vec::new(),
            function: None,
            reserved_now: 0,
            offline: false,
        }
    }

    fn region(&self) -> &str {
        &self.t.region
    }

    fn ok(&self, input: Input) -> bool {
        !self.t.flawed.contains(&input)
    }

    fn problem(&mut self, p: Problem) {
        self.pf.problem(p);
    }

    fn warn(&mut self, p: Problem) {
        self.pf.warn(p);
    }

    fn step(&mut self, op: Op, action: Action, detail: impl Into<String>) {
        self.steps.push(Step::new(op, action, detail));
    }

    fn zip_key(&self) -> String {
        zip_key(&self.local.lambda_template, &self.local.zip.sha256)
    }

    /// The trail named: found, and what is worth saying about it and the region's others.
    fn trail(&mut self, problem: Option<Problem>) {
        if let Some(p) = problem {
            self.problem(p);
        }
        if let (Some(name), Fact::Known(trails)) = (&self.t.trail, &self.seen.trails) {
            let chosen = super::trail::find(trails, name, &self.t.region);
            for w in super::trail::warnings(trails, chosen, &self.account, &self.t.region) {
                self.warn(w);
            }
        }
    }

    /// The role answered for the account it was meant for.
    fn identity(&mut self) {
        if let Some(want) = &self.t.account
            && *want != self.account
        {
            let p = Problem::about(
                Input::RoleArn,
                format!("the role for account {want}{}", self.t.origin),
                format!("answered as account {}", self.account),
            )
            .fix("check --role-arn");
            self.problem(p);
        }
    }

    /// The account's unreserved concurrency must keep its minimum after the reservation.
    fn concurrency(&mut self) {
        let reserve = wanted_reservation(&self.t, &self.local.lambda_template);
        let region = self.region().to_string();
        match &self.seen.account_settings {
            Fact::Known(a) => {
                let minimum = a.concurrent_executions.min(100);
                let after = a.unreserved_concurrent_executions + self.reserved_now - reserve;
                if reserve > self.reserved_now && after < minimum {
                    let p = Problem::about(
                        Input::Account,
                        format!("Lambda concurrency in {region}"),
                        format!(
                            "reserving {reserve} for the function leaves {after} unreserved, below the account's minimum of {minimum} (account limit {})",
                            a.concurrent_executions
                        ),
                    )
                    .fix("request a higher \"Concurrent executions\" quota in Service Quotas, or lower --parameter ReservedConcurrency");
                    self.problem(p);
                }
            }
            Fact::Failed(e) => self.problem(Problem::about(
                Input::Account,
                format!("Lambda account settings in {region}"),
                format!("cannot read them ({e})"),
            )),
            Fact::NotRead => {}
        }
    }

    fn finish(mut self, old_trigger: OldTrigger) -> Decision {
        if !old_trigger.is_empty() {
            let detail = format!("remove the earlier trigger: {}", old_trigger.describe());
            self.step(Op::RemoveOldTrigger(old_trigger), Action::Delete, detail);
        }
        let warnings = self.pf.warnings.clone();
        let plan = TargetPlan {
            partition: self.seen.partition(),
            target: self.t,
            account: self.account,
            steps: self.steps,
            function: self.function,
            warnings,
        };
        Decision {
            plan: Some(plan),
            preflight: self.pf,
        }
    }
}
