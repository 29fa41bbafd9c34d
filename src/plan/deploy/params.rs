//! The parameters of both stacks: every parameter each template declares, the value it will be
//! sent (or the template's default), where the value came from, and the stack's value it
//! replaces. Each problem names the input that gave the value.

use crate::template::names;
use std::collections::BTreeMap;

use super::{Ctx, al2_warning};
use crate::input::{Input, Problem, Source};
use crate::plan::cloud::StackInfo;
use crate::plan::{MASKED, ParamValue, StackParam};
use crate::template::{Template, ValueProblemKind};

/// A value for a template parameter and where it came from.
type Given = BTreeMap<String, (ParamValue, Source)>;

/// The input that gives each Lambda-template parameter a value of its own.
const LAMBDA_INPUTS: &[(&str, Input)] = &[
    (names::NOTIFICATION_BUCKET, Input::NotificationBucket),
    (names::LAMBDA_BUCKET, Input::LambdaBucket),
    (names::INTEGRATION_TYPE, Input::IntegrationType),
    (names::SNS_TOPIC, Input::SnsTopicArn),
    (names::BUCKET_KMS_KEY, Input::BucketKmsKeyArn),
    (names::LAMBDA_ENV_KMS_KEY, Input::LambdaEnvKmsKeyArn),
];

/// The input of each shared-template parameter.
const SHARED_INPUTS: &[(&str, Input)] = &[
    (names::SECRET_VALUE, Input::Credentials),
    (names::TAEGIS_REGION, Input::TaegisRegion),
];

fn input_of(table: &[(&str, Input)], parameter: &str) -> Option<Input> {
    table.iter().find(|(p, _)| *p == parameter).map(|(_, i)| *i)
}

/// The values given, as text (a kept value is empty: only a first send is judged).
fn plain(given: &Given) -> BTreeMap<String, String> {
    given
        .iter()
        .map(|(k, (v, _))| {
            let text = match v {
                ParamValue::Plain(s) => s.clone(),
                ParamValue::Secret(s) => s.expose().to_string(),
                ParamValue::UsePrevious => String::new(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// Every declared parameter in template order: what is sent, shown, and replaced.
fn stack_params(template: &Template, given: &Given, stack: Option<&StackInfo>) -> Vec<StackParam> {
    template
        .parameters
        .iter()
        .filter_map(|p| {
            let (sent, shown, source) = match given.get(&p.name) {
                Some((v @ (ParamValue::Secret(_) | ParamValue::UsePrevious), src)) => {
                    (Some(v.clone()), MASKED.to_string(), *src)
                }
                Some((ParamValue::Plain(v), src)) => {
                    let shown = if p.no_echo { MASKED } else { v.as_str() };
                    (Some(ParamValue::Plain(v.clone())), shown.to_string(), *src)
                }
                None => {
                    let d = p.default.clone()?;
                    let shown = if p.no_echo { MASKED.to_string() } else { d };
                    (None, shown, Source::Template)
                }
            };
            let previous = stack
                .filter(|_| !p.no_echo && shown != MASKED)
                .and_then(|s| s.parameters.get(&p.name))
                .filter(|old| **old != shown)
                .cloned();
            Some(StackParam {
                name: p.name.clone(),
                sent,
                shown,
                source,
                previous,
            })
        })
        .collect()
}

impl Ctx<'_> {
    pub(super) fn parameters(&mut self) {
        self.shared_parameters();
        self.lambda_parameters();
        self.runtime_warnings();
    }

    /// The healthy stack of this name, whose parameters an update replaces.
    fn healthy(&self, lambda: bool) -> Option<StackInfo> {
        let stack = if lambda {
            &self.seen.lambda_stack
        } else {
            &self.seen.shared_stack
        };
        stack
            .known()
            .and_then(Option::as_ref)
            .filter(|s| s.info.status.healthy())
            .map(|s| s.info.clone())
    }

    fn shared_parameters(&mut self) {
        let tpl = self.local.shared_template.clone();
        let stack = self.healthy(false);
        if self.ok(Input::SharedTemplate)
            && tpl
                .parameter(names::SECRET_VALUE)
                .is_some_and(|p| !p.no_echo)
        {
            self.problem(
                Problem::about(
                    Input::SharedTemplate,
                    format!("the {}", tpl.source),
                    "parameter SecretValue is not NoEcho, so the credentials would show in the CloudFormation console and in DescribeStacks",
                )
                .fix("add `NoEcho: true` to it"),
            );
        }
        let secret = self.secret_param(stack.is_some());
        let mut given = Given::new();
        given.extend(secret.map(|s| (names::SECRET_VALUE.to_string(), s)));
        given.insert(
            names::TAEGIS_REGION.into(),
            (
                ParamValue::Plain(self.t.taegis_region.clone()),
                self.t.source(Input::TaegisRegion),
            ),
        );
        if self.ok(Input::SharedTemplate) {
            self.check_shared(&tpl, &given);
        }
        self.shared_params = stack_params(&tpl, &given, stack.as_ref());
    }

    /// The credentials parameter: the stack's own when it exists (unless they are re-sent),
    /// else the text read; missing is a problem only where they are needed.
    fn secret_param(&mut self, stack_exists: bool) -> Option<(ParamValue, Source)> {
        let keep_secret = stack_exists && !self.local.update_credentials;
        match (&self.local.secret, keep_secret) {
            (_, true) => Some((ParamValue::UsePrevious, Source::Previous)),
            (Ok(s), false) => Some((
                ParamValue::Secret(s.clone()),
                self.t.source(Input::Credentials),
            )),
            (Err(_), false)
                if self.offline
                    && self.t.credentials == crate::config::CredentialsSource::Missing =>
            {
                // Whether the shared stack holds them already cannot be known.
                None
            }
            (Err(p), false) => {
                // Needed: the shared stack is to be created, or the credentials re-sent.
                self.problem(p.clone());
                None
            }
        }
    }

    /// The shared template's rules, checked as the values would be sent the first time: the
    /// credentials themselves.
    fn check_shared(&mut self, tpl: &Template, given: &Given) {
        let mut check = plain(given);
        let mut hidden = vec![names::SECRET_VALUE];
        match &self.local.secret {
            Ok(s) => {
                check.insert(names::SECRET_VALUE.into(), s.expose().to_string());
            }
            Err(_) => hidden.clear(),
        }
        let skip = if self.local.secret.is_err() {
            Some(names::SECRET_VALUE)
        } else {
            None
        };
        self.check_values(tpl, &check, SHARED_INPUTS, &hidden, skip);
    }

    fn lambda_parameters(&mut self) {
        let tpl = self.local.lambda_template.clone();
        let t = &self.t;
        let mut given = Given::new();
        let mut put = |k: &str, v: &str, src: Source| {
            given.insert(k.to_string(), (ParamValue::Plain(v.to_string()), src));
        };
        put(
            names::NOTIFICATION_BUCKET,
            &t.notification_bucket,
            t.source(Input::NotificationBucket),
        );
        put(
            names::LAMBDA_BUCKET,
            &t.lambda_bucket,
            t.source(Input::LambdaBucket),
        );
        if t.given(Input::IntegrationType) || tpl.declares(names::INTEGRATION_TYPE) {
            put(
                names::INTEGRATION_TYPE,
                &t.integration_type,
                t.source(Input::IntegrationType),
            );
        }
        if tpl.declares(names::LAMBDA_KEY) {
            put(names::LAMBDA_KEY, &self.zip_key(), Source::Default);
        }
        for (k, v, input) in [
            (names::SNS_TOPIC, &t.sns_topic_arn, Input::SnsTopicArn),
            (
                names::BUCKET_KMS_KEY,
                &t.bucket_kms_key_arn,
                Input::BucketKmsKeyArn,
            ),
            (
                names::LAMBDA_ENV_KMS_KEY,
                &t.lambda_env_kms_key_arn,
                Input::LambdaEnvKmsKeyArn,
            ),
        ] {
            if let Some(v) = v {
                put(k, v, t.source(input));
            }
        }
        self.add_parameters(&mut given);
        if self.ok(Input::LambdaTemplate) {
            self.check_values(&tpl, &plain(&given), LAMBDA_INPUTS, &[], None);
        }
        let stack = self.healthy(true);
        self.lambda_params = stack_params(&tpl, &given, stack.as_ref());
    }

    /// `--parameter` values (and the file's `parameters:`): added, or a problem where one
    /// gives a parameter an option already gives another value.
    fn add_parameters(&mut self, given: &mut Given) {
        let mut conflicts = Vec::new();
        for (k, v) in &self.t.parameters {
            let own = input_of(LAMBDA_INPUTS, k);
            match (own, given.get(k)) {
                (Some(input), Some((ParamValue::Plain(mine), _))) if *mine != v.value => {
                    conflicts.push((k.clone(), input));
                }
                _ => {
                    given.insert(k.clone(), (ParamValue::Plain(v.value.clone()), v.source));
                }
            }
        }
        for (k, input) in conflicts {
            self.problem(
                Problem::value(
                    Input::Parameter,
                    &k,
                    format!("conflicts with {}", input.flag()),
                )
                .fix(format!("give the value once, with {}", input.flag())),
            );
        }
    }

    /// The template's own rules for the values, each problem labelled with the input that
    /// gave the value (`--parameter` for the rest); inputs that already have a problem are
    /// not judged again.
    fn check_values(
        &mut self,
        tpl: &Template,
        values: &BTreeMap<String, String>,
        inputs: &[(&str, Input)],
        hidden: &[&str],
        skip: Option<&str>,
    ) {
        let judged = tpl
            .check_values(values, hidden)
            .into_iter()
            .filter(|vp| Some(vp.parameter.as_str()) != skip);
        for vp in judged {
            let input = input_of(inputs, &vp.parameter).unwrap_or(Input::Parameter);
            if !self.ok(input) {
                continue;
            }
            let p = match (vp.kind, input) {
                (ValueProblemKind::Invalid, i) if i != Input::Parameter => {
                    Problem::about(i, i.flag(), vp.message)
                }
                _ => Problem::about(input, "", vp.message),
            };
            self.problem(p);
        }
    }

    /// The runtimes the function will have.
    fn runtimes(&self) -> Vec<String> {
        let values: BTreeMap<String, String> = self
            .lambda_params
            .iter()
            .map(|p| (p.name.clone(), p.shown.clone()))
            .collect();
        self.local.lambda_template.function_runtimes(&values)
    }

    /// `provided.al2` on or after AWS's dates: a Lambda stack that would create such a function
    /// (from 2027-02-01) or update one (from 2027-03-03) is refused here, with the fix, rather
    /// than failing inside CloudFormation.
    pub(super) fn runtime_calendar(&mut self) {
        use super::{AL2_NO_CREATE, AL2_NO_UPDATE};
        use crate::plan::{Action, StepKind};
        if !self.runtimes().iter().any(|r| r == "provided.al2") {
            return;
        }
        let action = self
            .steps
            .iter()
            .find(|s| s.kind() == StepKind::LambdaStack)
            .map(|s| s.action);
        let today = self.local.today.as_str();
        let (verb, since) = match action {
            Some(Action::Create) if today >= AL2_NO_CREATE => ("create", AL2_NO_CREATE),
            Some(Action::Update) if today >= AL2_NO_UPDATE => ("update", AL2_NO_UPDATE),
            _ => return,
        };
        self.problem(
            Problem::about(
                Input::Parameter,
                "runtime provided.al2",
                format!("AWS refuses to {verb} functions on it since {since}, so stack {} would fail", self.t.stack_name),
            )
            .fix("deploy on provided.al2023: --parameter LambdaRuntime=provided.al2023 with the bundled template, or a vendor template that uses it"),
        );
    }

    /// The function's runtime: warn about provided.al2 and non-custom runtimes.
    fn runtime_warnings(&mut self) {
        let runtimes = self.runtimes();
        if runtimes.iter().any(|r| r == "provided.al2") {
            let w = al2_warning(&self.local.today);
            self.warn(Problem::about(Input::Parameter, "", w));
        }
        for r in runtimes.iter().filter(|r| !r.starts_with("provided")) {
            self.warn(Problem::about(
                Input::LambdaTemplate,
                "the Lambda template's function runtime",
                format!("is {r}; the Taegis function is a custom runtime (provided.al2023)"),
            ));
        }
    }
}
