//! How a run is watched: the events the executor and follower tell the terminal layer, the
//! `Reporter` that receives them, the first Ctrl-C (`Cancel`), and the run's `Watch` (its
//! reporter, pace, cancel and what it has learnt).

use std::time::Duration;

use super::{Action, Outcome, Status, StepKind, follow, status};

/// What the executor and follower tell the terminal layer.
#[derive(Debug, Clone)]
pub enum Event {
    StepStarted {
        target: String,
        step: StepKind,
        action: Action,
        detail: String,
    },
    StepFinished {
        target: String,
        step: StepKind,
        status: Status,
        detail: String,
    },
    /// A resource (or the stack itself) changed status.
    StackEvent {
        target: String,
        stack: String,
        resource: String,
        resource_type: String,
        status: status::ResourceStatus,
        reason: Option<String>,
    },
    /// Still waiting for a stack.
    Waiting {
        target: String,
        stack: String,
        status: status::LastStatus,
        elapsed: Duration,
    },
    Notice {
        target: String,
        text: String,
    },
    /// A target's steps are over.
    TargetFinished {
        target: String,
        outcome: Outcome,
        seconds: f64,
    },
}

/// Receives events; implemented by the terminal layer (and by tests).
pub trait Reporter: Sync {
    fn event(&self, event: Event);
}

/// The first Ctrl-C: stop starting new steps and stop waiting; the write in flight finishes.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    pub fn cancel(&self) {
        self.flag.store(true, std::sync::atomic::Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Resolves once `cancel` has been called.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// How a run waits: where progress goes, at what pace, and what stops it.
#[derive(Clone, Copy)]
pub struct Watch<'a> {
    pub reporter: &'a dyn Reporter,
    pub pace: follow::Pace,
    pub cancel: &'a Cancel,
    /// How long a resource takes, as the run's stacks so far taught.
    pub learnt: &'a follow::Learnt,
}

impl Watch<'_> {
    /// The one way the tool waits: `false` when interrupted before `d` passed.
    pub async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.cancel.cancelled() => false,
        }
    }
}
