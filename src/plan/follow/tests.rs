use super::*;

fn ev(logical: &str, status: &str, reason: Option<&str>) -> StackEvent {
    StackEvent {
        id: format!("{logical}-{status}"),
        stack_id: "sid".into(),
        logical_id: logical.into(),
        physical_id: if logical == "stack" {
            "sid".into()
        } else {
            "p".into()
        },
        resource_type: if logical == "stack" {
            "AWS::CloudFormation::Stack".into()
        } else {
            "AWS::Lambda::Function".into()
        },
        status: crate::plan::status::ResourceStatus::parse(status),
        reason: reason.map(str::to_string),
        at_ms: None,
    }
}

#[test]
fn first_real_failure_wins_over_cancellations() {
    let events = vec![
        ev("stack", "CREATE_IN_PROGRESS", Some("User Initiated")),
        ev("Role", "CREATE_FAILED", Some("Resource creation cancelled")),
        ev(
            "Fn",
            "CREATE_FAILED",
            Some("Specified ReservedConcurrentExecutions ..."),
        ),
        ev(
            "stack",
            "ROLLBACK_IN_PROGRESS",
            Some("The following resource(s) failed to create: [Fn]"),
        ),
    ];
    let f = first_failure(&events).unwrap();
    assert!(
        f.starts_with("Fn (AWS::Lambda::Function) CREATE_FAILED: Specified"),
        "{f}"
    );
    assert_eq!(first_failure(&events[..2]), None);
}

fn at(mut e: StackEvent, ms: i64) -> StackEvent {
    e.at_ms = Some(ms);
    e
}

/// An event of `logical` of type `ty` at `ms`.
fn typed(logical: &str, ty: &str, status: &str, ms: i64) -> StackEvent {
    let mut e = at(ev(logical, status, None), ms);
    e.resource_type = ty.into();
    e
}

#[test]
fn the_next_look_is_when_the_next_resource_should_be_done() {
    let learnt = Learnt::default();
    let mut seen = Seen::new(&learnt);
    // Nothing begun yet: no guess.
    assert_eq!(seen.due_in(10_000), None);
    for e in [
        at(ev("stack", "CREATE_IN_PROGRESS", None), 10_000),
        typed("Role", "AWS::IAM::Role", "CREATE_IN_PROGRESS", 10_010),
        typed("Logs", "AWS::Logs::LogGroup", "CREATE_IN_PROGRESS", 10_010),
    ] {
        seen.busy.insert(e.logical_id.clone());
        seen.timed(&e);
    }
    seen.busy.remove("stack");
    // Nothing learnt: the priors, as on AWS (the log group first, 2.5 s).
    assert_eq!(seen.due_in(10_010), Some(Duration::from_millis(2_550)));
    // The log group took 500 ms, side by side with the role: learnt per type, from its own
    // start; this cloud is five times quicker than the priors, so the role (not seen yet)
    // should take 1.2 s.
    seen.timed(&typed(
        "Logs",
        "AWS::Logs::LogGroup",
        "CREATE_COMPLETE",
        10_510,
    ));
    seen.busy.remove("Logs");
    assert_eq!(learnt.expected("AWS::Logs::LogGroup"), 500);
    assert_eq!(learnt.expected("AWS::IAM::Role"), 1_200);
    assert_eq!(seen.due_in(11_000), Some(Duration::from_millis(260)));
    // Late: no guess, so the caller looks soon and then less often.
    assert_eq!(seen.due_in(11_300), None);
    seen.timed(&typed("Role", "AWS::IAM::Role", "CREATE_COMPLETE", 12_010));
    seen.busy.remove("Role");
    assert_eq!(learnt.expected("AWS::IAM::Role"), 2_000);
    // The function starts: its prior, at this cloud's scale (between the two seen).
    seen.timed(&typed(
        "Fn",
        "AWS::Lambda::Function",
        "CREATE_IN_PROGRESS",
        12_020,
    ));
    seen.busy.insert("Fn".into());
    let f = learnt.expected("AWS::Lambda::Function");
    assert!((2_000..3_400).contains(&f), "{f}");
    assert_eq!(seen.due_in(12_020), Some(Duration::from_millis(f + 50)));
    // Events without a time change nothing.
    seen.timed(&ev("Other", "CREATE_COMPLETE", None));
    assert_eq!(seen.done_ms.len(), 2);
    // The run's next stack starts from what this one taught: its first look waits for the
    // quickest type it knows; another run's waits half a pace.
    let pace = Duration::from_secs(1);
    assert_eq!(learnt.first_wait(pace), Duration::from_millis(550));
    assert_eq!(Learnt::default().first_wait(pace), pace / 2);
}

#[test]
fn while_the_run_knows_nothing_it_looks_once_a_pace_and_when_late_soon_then_less_often() {
    let learnt = Learnt::default();
    let mut seen = Seen::new(&learnt);
    let pace = Duration::from_secs(1);
    seen.busy.insert("Secret".into());
    seen.begun
        .insert("Secret".into(), ("AWS::SecretsManager::Secret".into(), 0));
    // Due in 5 s by its prior: at most a pace until the run knows its cloud.
    let waits: Vec<u128> = (0..3).map(|_| seen.wait(pace, 0).as_millis()).collect();
    assert_eq!(waits, [1000, 1000, 1000]);
    // Late: soon, then less often.
    learnt.learn("AWS::SecretsManager::Secret", 300);
    seen.misses = 0;
    let waits: Vec<u128> = (0..5).map(|_| seen.wait(pace, 400).as_millis()).collect();
    assert_eq!(waits, [200, 400, 800, 1000, 1000]);
}

#[test]
fn polls_quickly_only_when_no_resource_is_being_worked_on() {
    let learnt = Learnt::default();
    let mut seen = Seen::new(&learnt);
    let pace = Duration::from_millis(1000);
    assert_eq!(seen.next_poll(pace), Duration::from_millis(250));
    seen.busy.insert("Fn".into());
    assert_eq!(seen.next_poll(pace), pace);
    assert_eq!(
        seen.next_poll(Duration::from_millis(20)),
        Duration::from_millis(20)
    );
    seen.busy.clear();
    assert_eq!(
        seen.next_poll(Duration::from_millis(20)),
        Duration::from_millis(20)
    );
}

#[test]
fn the_first_looks_come_quickly_then_at_the_pace() {
    let pace = Duration::from_secs(1);
    let waits: Vec<u128> = (1..7).map(|n| ramp(n, pace).as_millis()).collect();
    assert_eq!(waits, [200, 400, 800, 1000, 1000, 1000]);
    assert_eq!(ramp(0, pace), Duration::from_millis(100));
    assert_eq!(ramp(40, pace), pace);
    assert_eq!(
        ramp(0, Duration::from_millis(20)),
        Duration::from_millis(20)
    );
}

#[test]
fn transient_errors() {
    use crate::plan::cloud::CallError;
    let err = |transient| CallError {
        code: Some("Throttling".into()),
        message: "Rate exceeded".into(),
        transient,
        ..Default::default()
    };
    assert!(looks_transient(
        &anyhow::Error::new(err(true)).context("failed to read")
    ));
    assert!(!looks_transient(&anyhow::Error::new(err(false))));
    assert!(!looks_transient(&anyhow!("Throttling")));
}
