//! The parameters: table cases of values the templates refuse, the credentials (sent once,
//! shown masked, needed only when sent), every parameter previewed, inputs with a problem
//! left alone, and the `provided.al2` runtime's calendar.

use super::*;

/// Values the template does not take.
pub(super) fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "a parameter that duplicates a flag",
            args: |a| a.guide.parameters = vec!["NotificationBucket=other".into()],
            seen: fresh,
            want: Want::Problems(&[(Input::Parameter, "conflicts with --notification-bucket")]),
        },
        Case {
            name: "a value the template does not allow",
            args: |a| a.guide.integration_type = Some("vpcflow".into()),
            seen: fresh,
            want: Want::Problems(&[(Input::IntegrationType, "\"vpcflow\" is not allowed")]),
        },
    ]
}

#[test]
fn the_credentials_are_sent_once_and_shown_masked() {
    let d = decide(&target(|_| {}), &local(), &fresh());
    let plan = d.plan.unwrap();
    let secret = &step(&plan, StepKind::SharedStack).parameters[0];
    assert_eq!(secret.name, "SecretValue");
    assert!(matches!(secret.sent, Some(ParamValue::Secret(_))));
    assert_eq!(
        (secret.shown.as_str(), secret.source),
        ("****", Source::Flag)
    );
    // Deployed: kept, unless asked to re-send them.
    let d = decide(&target(|_| {}), &local(), &deployed());
    let plan = d.plan.unwrap();
    let secret = &step(&plan, StepKind::SharedStack).parameters[0];
    assert_eq!(secret.sent, Some(ParamValue::UsePrevious));
    assert_eq!(secret.source, Source::Previous);
    let l = Local {
        update_credentials: true,
        ..local()
    };
    let d = decide(&target(|_| {}), &l, &deployed());
    let plan = d.plan.unwrap();
    assert!(matches!(
        step(&plan, StepKind::SharedStack).parameters[0].sent,
        Some(ParamValue::Secret(_))
    ));
    assert_eq!(plan.steps[2].action, Action::Update);
    let text = format!("{plan:?}");
    assert!(!text.contains("very-secret"), "{text}");
}

#[test]
fn every_parameter_is_previewed_with_its_source_and_previous_value() {
    let d = decide(
        &target(|a| {
            a.guide.integration_type = Some("generic".into());
            a.guide.parameters = vec!["EnableObjectTagging=true".into()];
        }),
        &local(),
        &deployed(),
    );
    let plan = d.plan.unwrap();
    let lambda = step(&plan, StepKind::LambdaStack);
    let names: Vec<&str> = lambda.parameters.iter().map(|p| p.name.as_str()).collect();
    let Op::LambdaStack(template) = &lambda.op else {
        panic!("{lambda:?}");
    };
    let declared: Vec<&str> = template
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, declared, "every parameter, in template order");
    let by = |n: &str| lambda.parameters.iter().find(|p| p.name == n).unwrap();
    let it = by("IntegrationType");
    assert_eq!(
        (it.shown.as_str(), it.source, it.previous.as_deref()),
        ("generic", Source::Flag, Some("awscloudtrail"))
    );
    let tagging = by("EnableObjectTagging");
    assert_eq!(
        (
            tagging.shown.as_str(),
            tagging.source,
            tagging.previous.as_deref()
        ),
        ("true", Source::Flag, Some("false"))
    );
    let rc = by("ReservedConcurrency");
    assert_eq!(
        (rc.shown.as_str(), rc.source, rc.sent.is_none()),
        ("5", Source::Template, true)
    );
    assert_eq!(by("TaegisLambdaS3BucketName").previous, None, "unchanged");
    assert!(
        lambda
            .detail
            .contains("IntegrationType \"awscloudtrail\" -> \"generic\"")
    );
}

#[test]
fn inputs_that_already_have_a_problem_are_neither_read_nor_judged_again() {
    let mut t = target(|a| a.guide.taegis_region = Some(String::new()));
    t.flawed.insert(Input::StackName);
    let r = reads(&t, &fresh(), &local());
    assert_eq!(r.lambda_stack, None);
    assert!(r.shared_stack.is_some());
    let l = local();
    let seen = Observed {
        notification_bucket: Fact::Known(Some("eu-west-1".into())),
        lambda_stack: Fact::NotRead,
        ..fresh()
    };
    let d = decide(&t, &l, &seen);
    let inputs: Vec<Input> = d.preflight.problems.iter().map(|p| p.input).collect();
    assert_eq!(
        inputs,
        [Input::NotificationBucket],
        "{:?}",
        d.preflight.problems
    );
}

#[test]
fn the_credentials_are_needed_only_to_create_the_shared_stack_or_re_send_them() {
    let missing = || Local {
        secret: Err(crate::input::Problem::about(
            Input::Credentials,
            "missing --credentials FILE",
            "the credentials file downloaded from XDR",
        )),
        ..local()
    };
    let inputs =
        |d: &Decision| -> Vec<Input> { d.preflight.problems.iter().map(|p| p.input).collect() };
    assert_eq!(
        inputs(&decide(&target(|_| {}), &missing(), &fresh())),
        [Input::Credentials]
    );
    let d = decide(&target(|_| {}), &missing(), &deployed());
    assert!(d.preflight.is_ok(), "{:?}", d.preflight.problems);
    let again = Local {
        update_credentials: true,
        ..missing()
    };
    assert_eq!(
        inputs(&decide(&target(|_| {}), &again, &deployed())),
        [Input::Credentials]
    );
}

#[test]
fn the_runtime_deprecation_is_a_warning() {
    let d = decide(
        &target(|a| a.guide.parameters = vec!["LambdaRuntime=provided.al2".into()]),
        &local(),
        &fresh(),
    );
    assert!(d.preflight.is_ok());
    assert!(d.preflight.warnings[0].to_string().contains("2027-02-01"));
}

#[test]
fn provided_al2_is_refused_on_and_after_aws_dates() {
    let al2 = target(|a| a.guide.parameters = vec!["LambdaRuntime=provided.al2".into()]);
    let on = |today: &str| Local {
        today: today.into(),
        ..local()
    };
    let refused = |d: &Decision| {
        d.preflight
            .problems
            .iter()
            .find(|p| p.subject == "runtime provided.al2")
            .map(ToString::to_string)
    };
    // A new function: refused from 2027-02-01.
    let d = decide(&al2, &on("2027-01-31"), &fresh());
    assert!(refused(&d).is_none(), "{:?}", d.preflight.problems);
    assert!(d.preflight.warnings[0].to_string().contains("2027-03-03"));
    let d = decide(&al2, &on("2027-02-01"), &fresh());
    let why = refused(&d).expect("a create on provided.al2 is refused");
    assert!(
        why.contains("create") && why.contains("2027-02-01") && why.contains("provided.al2023"),
        "{why}"
    );
    // An update of the deployed function (to provided.al2): refused only from 2027-03-03.
    let d = decide(&al2, &on("2027-03-02"), &deployed());
    assert!(refused(&d).is_none(), "{:?}", d.preflight.problems);
    let d = decide(&al2, &on("2027-03-03"), &deployed());
    let why = refused(&d).expect("an update on provided.al2 is refused");
    assert!(
        why.contains("update") && why.contains("2027-03-03"),
        "{why}"
    );
    // provided.al2023 is never refused.
    let d = decide(&target(|_| {}), &on("2030-01-01"), &fresh());
    assert!(refused(&d).is_none());
}

#[test]
fn al2_warning_depends_on_the_day() {
    assert!(al2_warning("2026-05-01").contains("deprecated from 2026-07-31"));
    assert!(al2_warning("2026-11-30").contains("deprecated since 2026-07-31"));
    assert!(al2_warning("2027-03-01").contains("blocked since 2027-02-01"));
    assert!(al2_warning("2027-03-01").contains("updating them from 2027-03-03"));
    assert!(al2_warning("2027-04-01").contains("updating them since 2027-03-03"));
}
