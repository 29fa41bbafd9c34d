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

#[test]
fn the_next_look_is_when_the_next_resource_should_be_done() {
    let learnt = Learnt::default();
    let mut seen = Seen::new(&learnt);
    // Nothing known yet: no guess.
    assert_eq!(seen.due_in(10_000), None);
    seen.timed(&at(ev("stack", "CREATE_IN_PROGRESS", None), 10_000));
    seen.timed(&at(ev("Fn", "CREATE_IN_PROGRESS", None), 10_010));
    seen.timed(&at(ev("Role", "CREATE_IN_PROGRESS", None), 10_010));
    // The first resource took 2 s: the next is due 2 s after it (and 50 ms for luck).
    seen.timed(&at(ev("Role", "CREATE_COMPLETE", None), 12_000));
    assert_eq!(seen.due_in(12_500), Some(Duration::from_millis(1_550)));
    // Two resources in 5 s: 2.5 s each.
    seen.timed(&at(ev("Fn", "CREATE_COMPLETE", None), 15_000));
    assert_eq!(seen.due_in(15_000), Some(Duration::from_millis(2_550)));
    // Late: no guess, so the caller looks soon and then less often.
    assert_eq!(seen.due_in(17_600), None);
    // Events without a time change nothing.
    seen.timed(&ev("Other", "CREATE_COMPLETE", None));
    assert_eq!(seen.done_ms.len(), 2);
    // The run's next stack starts from what this one taught; another run from nothing.
    let mut next = Seen::new(&learnt);
    next.timed(&at(ev("stack", "CREATE_IN_PROGRESS", None), 20_000));
    assert!(next.due_in(20_000).is_some());
    assert!(learnt.first_wait(Duration::from_secs(1)).is_some());
    assert!(
        Learnt::default()
            .first_wait(Duration::from_secs(1))
            .is_none()
    );
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
