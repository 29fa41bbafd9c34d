//! Follows one stack operation from its first event until the stack's own terminal event, reports
//! every resource transition, and confirms the result with DescribeStacks. The pace is injected;
//! there is no other waiting in the tool.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::cloud::{CloudReads, StackEvent, StackInfo};
use super::status::{Goal, LastStatus, Progress, StackStatus};
use super::{Event, Watch};

/// How often to poll, and how long to wait at most.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub interval: Duration,
    pub timeout: Duration,
    /// Print a "still waiting" line this often when nothing happens.
    pub heartbeat: Duration,
    /// How long to wait at most for AWS to catch up with a write: a new permission reaching
    /// S3, a bucket configuration read back, a function busy with an update.
    pub settle: Duration,
}

impl Default for Pace {
    fn default() -> Pace {
        Pace {
            interval: Duration::from_millis(1000),
            timeout: Duration::from_secs(30 * 60),
            heartbeat: Duration::from_secs(15),
            settle: Duration::from_secs(60),
        }
    }
}

/// How a followed operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The stack reached the wanted status; `stack` is the DescribeStacks answer that said so
    /// (its outputs too), absent when the stack is gone.
    Done {
        status: StackStatus,
        stack: Option<Box<StackInfo>>,
    },
    /// It settled elsewhere: the failing resource and reason, when known.
    Failed { status: StackStatus, reason: String },
    /// Still in progress when the wait ran out.
    TimedOut { status: LastStatus },
    /// The user interrupted the wait; the operation goes on in AWS.
    Interrupted { status: LastStatus },
}

/// The first failed resource that was not merely cancelled: "Resource: reason".
pub fn first_failure(events_oldest_first: &[StackEvent]) -> Option<String> {
    events_oldest_first
        .iter()
        .filter(|e| e.status.progress() == Progress::Failed)
        .filter(|e| {
            let r = e.reason.as_deref().unwrap_or("");
            !r.contains("cancelled")
        })
        .find(|e| !e.is_stack() || e.reason.is_some())
        .map(|e| {
            format!(
                "{} ({}) {}: {}",
                e.logical_id,
                e.resource_type,
                e.status,
                e.reason.as_deref().unwrap_or("no reason given")
            )
        })
}

/// The operation followed: the stack's name (for messages), its id, and the newest event
/// before the operation started (events up to it are not ours).
#[derive(Debug, Clone, Copy)]
struct Operation<'a> {
    name: &'a str,
    id: &'a str,
    until: Option<&'a str>,
}

pub struct Follow<'a, C: CloudReads> {
    pub cloud: &'a C,
    pub watch: Watch<'a>,
    pub target: &'a str,
    /// The caller needs the stack as it settled (its outputs): a success its own event shows
    /// is still confirmed with DescribeStacks, which gives them.
    pub outputs: bool,
}

/// What one follow has seen so far.
struct Seen<'l> {
    /// What the run's stacks taught about how long a resource takes.
    learnt: &'l Learnt,
    ids: HashSet<String>,
    /// The operation's events, oldest first.
    ours: Vec<StackEvent>,
    /// The stack's latest status, as its events or DescribeStacks told.
    last_status: LastStatus,
    /// Resources whose latest event is `..._IN_PROGRESS`: while there are some, the stack is
    /// busy; when there are none, it is about to settle (or to start the next resource).
    busy: HashSet<String>,
    /// AWS's time of the operation's first event, and of each resource it finished since.
    start_ms: Option<i64>,
    done_ms: Vec<i64>,
    /// Each resource's type and AWS's time of its first `..._IN_PROGRESS` event.
    begun: HashMap<String, (String, i64)>,
    /// Looks since one found a resource done or was made when one was due.
    misses: u32,
    /// Looks in a row that found no new event.
    quiet_polls: u32,
    /// The terminal status the stack's own event gave, once one did.
    terminal: Option<StackStatus>,
}

/// What a resource of a type takes on AWS before the run has seen one (ms): the times
/// CloudFormation's events show for these types (an IAM role includes the wait for it to
/// propagate). Only their ratios matter once the run has seen any resource: a run learns how
/// much faster or slower its cloud is (`Learnt::scale`).
const PRIORS: &[(&str, u64)] = &[
    ("AWS::SecretsManager::Secret", 5_000),
    ("AWS::IAM::Role", 6_000),
    ("AWS::IAM::Policy", 6_000),
    ("AWS::Logs::LogGroup", 2_500),
    ("AWS::Lambda::Function", 10_000),
    ("AWS::Lambda::Permission", 2_000),
];
/// The prior of any other type.
const DEFAULT_PRIOR: u64 = 6_000;

fn prior(resource_type: &str) -> u64 {
    PRIORS
        .iter()
        .find(|(t, _)| *t == resource_type)
        .map_or(DEFAULT_PRIOR, |(_, ms)| *ms)
}

/// How long resources take, as learnt from the stacks followed so far in a run: per resource
/// type (from each resource's own start to its end, so that resources worked on side by side
/// count right), and how this cloud compares with the priors (a scale, in thousandths: 1000
/// until a resource finished). The first guess for every stack followed after. One per run,
/// shared by its followers through the watch.
#[derive(Debug, Default)]
pub struct Learnt {
    scale: AtomicU64,
    types: Mutex<HashMap<String, u64>>,
}

/// Fold `each` into a running average that favours what was seen before.
fn average(old: u64, each: u64) -> u64 {
    if old == 0 { each } else { (old * 3 + each) / 4 }
}

impl Learnt {
    /// Has the run seen a resource finish?
    fn knows(&self) -> bool {
        self.scale.load(Ordering::Relaxed) > 0
    }

    /// Fold in one resource's time.
    fn learn(&self, resource_type: &str, each: u64) {
        let ratio = (each * 1000 / prior(resource_type)).max(1);
        let old = self.scale.load(Ordering::Relaxed);
        self.scale.store(average(old, ratio), Ordering::Relaxed);
        if let Ok(mut types) = self.types.lock() {
            let t = types.entry(resource_type.to_string()).or_default();
            *t = average(*t, each);
        }
    }

    /// How long a resource of this type should take: its type's time in this run, else its
    /// prior scaled as this run's cloud is.
    fn expected(&self, resource_type: &str) -> u64 {
        let typed = self
            .types
            .lock()
            .ok()
            .and_then(|t| t.get(resource_type).copied());
        typed.unwrap_or_else(|| {
            let scale = match self.scale.load(Ordering::Relaxed) {
                0 => 1000,
                s => s,
            };
            prior(resource_type) * scale / 1000
        })
    }

    /// How long the first look waits: until the quickest resource the run knows could be done
    /// (at most two paces); half the pace while the run knows nothing.
    fn first_wait(&self, pace: Duration) -> Duration {
        let quickest = self
            .types
            .lock()
            .ok()
            .and_then(|t| t.values().copied().filter(|ms| *ms > 0).min());
        match quickest {
            Some(ms) => Duration::from_millis(ms + 50).min(pace * MAX_PREDICTED_PACES),
            None => pace / 2,
        }
    }
}

/// The longest wait for a predicted event, in paces: a bad guess costs at most that.
const MAX_PREDICTED_PACES: u32 = 2;

impl<'l> Seen<'l> {
    fn new(learnt: &'l Learnt) -> Seen<'l> {
        Seen {
            learnt,
            ids: HashSet::new(),
            ours: Vec::new(),
            last_status: LastStatus::default(),
            busy: HashSet::new(),
            start_ms: None,
            done_ms: Vec::new(),
            begun: HashMap::new(),
            misses: 0,
            quiet_polls: 0,
            terminal: None,
        }
    }

    /// How long to wait before the next look: until the next resource should be done; when
    /// none is due (it is late, or nothing is known), soon, then less and less often, never
    /// more than once a pace while the run knows nothing.
    fn wait(&mut self, pace: Duration, now_ms: i64) -> Duration {
        let knows = self.learnt.knows();
        let most = match knows {
            true => (pace * MAX_PREDICTED_PACES).max(pace),
            false => pace,
        };
        if let Some(due) = self.due_in(now_ms) {
            self.misses = 0;
            return due.clamp(Duration::from_millis(100).min(most), most);
        }
        self.misses += 1;
        if !knows {
            return self.next_poll(pace);
        }
        self.next_poll(pace).min(ramp(self.misses, pace))
    }

    /// How long to wait before the next poll when no event is due: the pace while resources
    /// are being worked on, a quarter of it when none is (the stack is about to settle), never
    /// faster than 100 ms.
    fn next_poll(&self, pace: Duration) -> Duration {
        if self.busy.is_empty() {
            (pace / 4).max(Duration::from_millis(100)).min(pace)
        } else {
            pace
        }
    }

    /// Note a new event's time: the operation's start (its first event), a resource begun, or
    /// a resource done (what it took is learnt).
    fn timed(&mut self, ev: &StackEvent) {
        let Some(at) = ev.at_ms else {
            return;
        };
        let start = *self.start_ms.get_or_insert(at);
        if ev.is_stack() {
            return;
        }
        if ev.status.progress() == Progress::InProgress {
            self.begun
                .entry(ev.logical_id.clone())
                .or_insert((ev.resource_type.clone(), at));
            return;
        }
        if at > start {
            self.done_ms.push(at);
            self.misses = 0;
        }
        let begun = self.begun.get(&ev.logical_id).map_or(start, |(_, t)| *t);
        if at > begun {
            self.learnt.learn(&ev.resource_type, (at - begun) as u64);
        }
    }

    /// When the next resource being worked on should be done, from how long its type took
    /// so far in the run: the time left until then, if any is left.
    fn due_in(&self, now_ms: i64) -> Option<Duration> {
        let next = self
            .busy
            .iter()
            .filter_map(|id| self.begun.get(id))
            .map(|(ty, begun)| begun + self.learnt.expected(ty) as i64)
            // A little after it is due, so that one look usually finds it.
            .map(|due| due + 50 - now_ms)
            .filter(|left| *left > 0)
            .min()?;
        Some(Duration::from_millis(next as u64))
    }
}

/// Now, by the clock AWS's event times are compared with (ms since the epoch).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The longest wait before late look `n` (0 the first): 100 ms, doubling up to the pace. A
/// resource that is a little late is noticed within a few tenths of a second; a long one costs
/// only a few more reads.
fn ramp(n: u32, pace: Duration) -> Duration {
    Duration::from_millis(100)
        .saturating_mul(1 << n.min(16))
        .min(pace)
}

impl<C: CloudReads> Follow<'_, C> {
    /// Follow the stack `stack_id` until it settles; `until` is the newest event before the
    /// operation started (events up to it are not ours).
    pub async fn run(
        &self,
        stack_name: &str,
        stack_id: &str,
        until: Option<&str>,
        goal: Goal,
    ) -> Result<Settled> {
        let op = Operation {
            name: stack_name,
            id: stack_id,
            until,
        };
        let pace = self.watch.pace;
        let started = Instant::now();
        let mut seen = Seen::new(self.watch.learnt);
        let mut last_heartbeat = Instant::now();
        let mut interval = pace.interval;
        // The first look waits for the quickest resource the run knows (half a pace when it
        // knows none): an immediate look would find only the operation's start.
        let first = self.watch.learnt.first_wait(pace.interval);
        if !self.watch.pause(first.min(pace.timeout)).await {
            return Ok(Settled::Interrupted {
                status: seen.last_status,
            });
        }
        loop {
            let terminal_seen = self.look(op, &mut seen, &mut interval).await?;
            if let Some(end) = self.ended(op, goal, terminal_seen, &mut seen).await? {
                return Ok(end);
            }
            let elapsed = started.elapsed();
            if elapsed >= pace.timeout {
                return Ok(Settled::TimedOut {
                    status: seen.last_status,
                });
            }
            self.heartbeat(&mut last_heartbeat, stack_name, &seen, elapsed);
            let rest = pace.timeout.saturating_sub(elapsed);
            if !self.watch.pause(interval.min(rest)).await {
                return Ok(Settled::Interrupted {
                    status: seen.last_status,
                });
            }
        }
    }

    /// Now and then, that the stack is still being waited for.
    fn heartbeat(&self, last: &mut Instant, stack_name: &str, seen: &Seen<'_>, elapsed: Duration) {
        if last.elapsed() < self.watch.pace.heartbeat {
            return;
        }
        *last = Instant::now();
        self.watch.reporter.event(Event::Waiting {
            target: self.target.to_string(),
            stack: stack_name.to_string(),
            status: seen.last_status.clone(),
            elapsed,
        });
    }

    /// One look at the stack's events: whether the stack's own terminal event was among them;
    /// sets the wait before the next look.
    async fn look(
        &self,
        op: Operation<'_>,
        seen: &mut Seen<'_>,
        interval: &mut Duration,
    ) -> Result<bool> {
        let stack_name = op.name;
        let (fresh, terminal) = match self.cloud.stack_events(op.id, op.until).await {
            Ok(events) => {
                let reported = self.report(stack_name, events, seen);
                *interval = seen.wait(self.watch.pace.interval, now_ms());
                reported
            }
            // Throttled or a passing fault: slow down instead of failing.
            Err(e) if looks_transient(&e) => {
                *interval = (*interval * 2)
                    .min(Duration::from_secs(20))
                    .max(self.watch.pace.interval);
                (0, false)
            }
            Err(e) => {
                return Err(e.context(format!("failed to read the events of stack {stack_name}")));
            }
        };
        seen.quiet_polls = if fresh == 0 { seen.quiet_polls + 1 } else { 0 };
        tracing::debug!(
            "{}: stack {stack_name} {} ({fresh} new events, {} resources in progress), next look in {} ms",
            self.target,
            seen.last_status,
            seen.busy.len(),
            interval.as_millis()
        );
        Ok(terminal)
    }

    /// Has the stack settled? Its own event may say so (enough when its outputs are not
    /// needed); DescribeStacks confirms on a terminal event, and now and then while quiet (an
    /// event stream can lag behind the stack's status).
    async fn ended(
        &self,
        op: Operation<'_>,
        goal: Goal,
        terminal_seen: bool,
        seen: &mut Seen<'_>,
    ) -> Result<Option<Settled>> {
        let confirm = terminal_seen || seen.quiet_polls % 10 == 9;
        if terminal_seen
            && !self.outputs
            && let Some(status) = seen.terminal.clone().filter(|s| goal.reached_by(s))
        {
            return Ok(Some(Settled::Done {
                status,
                stack: None,
            }));
        }
        if !confirm {
            return Ok(None);
        }
        self.confirm(op, goal, terminal_seen, seen).await
    }

    /// Ask DescribeStacks whether the stack has settled; `None` while it has not.
    async fn confirm(
        &self,
        op: Operation<'_>,
        goal: Goal,
        terminal_seen: bool,
        seen: &mut Seen<'_>,
    ) -> Result<Option<Settled>> {
        let stack_name = op.name;
        match self.cloud.stack(op.id).await {
            Ok(Some(s)) if s.status.is_terminal() => {
                if !terminal_seen {
                    // The status ran ahead of the events: show the rest of them.
                    if let Ok(events) = self.cloud.stack_events(op.id, op.until).await {
                        self.report(stack_name, events, seen);
                    }
                }
                Ok(Some(settle(s, goal, &seen.ours)))
            }
            Ok(Some(s)) => {
                seen.last_status = LastStatus(Some(s.status));
                Ok(None)
            }
            Ok(None) if matches!(goal, Goal::Deleted | Goal::Settled) => Ok(Some(Settled::Done {
                status: StackStatus::DeleteComplete,
                stack: None,
            })),
            Ok(None) => Ok(Some(Settled::Failed {
                status: StackStatus::Other("DELETED".into()),
                reason: first_failure(&seen.ours)
                    .unwrap_or_else(|| format!("stack {stack_name} disappeared")),
            })),
            Err(e) if looks_transient(&e) => Ok(None),
            Err(e) => Err(e.context(format!("failed to read stack {stack_name}"))),
        }
    }

    /// Report the events not seen yet (oldest first); returns how many were new and whether
    /// the stack's own terminal event was among them.
    fn report(
        &self,
        stack_name: &str,
        newest_first: Vec<StackEvent>,
        seen: &mut Seen<'_>,
    ) -> (usize, bool) {
        let mut fresh = 0;
        let mut terminal = false;
        for ev in newest_first.into_iter().rev() {
            if !seen.ids.insert(ev.id.clone()) {
                continue;
            }
            fresh += 1;
            self.watch.reporter.event(Event::StackEvent {
                target: self.target.to_string(),
                stack: stack_name.to_string(),
                resource: ev.logical_id.clone(),
                resource_type: ev.resource_type.clone(),
                status: ev.status.clone(),
                reason: ev.reason.clone(),
            });
            if let Some(status) = ev.stack_status() {
                terminal |= status.is_terminal();
                seen.last_status = LastStatus(Some(status.clone()));
                if status.is_terminal() {
                    seen.terminal = Some(status);
                }
            } else if ev.status.progress() == Progress::InProgress {
                seen.busy.insert(ev.logical_id.clone());
            } else {
                seen.busy.remove(&ev.logical_id);
            }
            seen.timed(&ev);
            seen.ours.push(ev);
        }
        (fresh, terminal)
    }
}

fn settle(stack: StackInfo, goal: Goal, ours: &[StackEvent]) -> Settled {
    let status = stack.status.clone();
    if goal.reached_by(&status) {
        Settled::Done {
            status,
            stack: Some(Box::new(stack)),
        }
    } else {
        Settled::Failed {
            reason: first_failure(ours)
                .or(stack.reason)
                .unwrap_or_else(|| format!("the stack ended in {status}")),
            status,
        }
    }
}

/// Errors worth waiting out rather than failing on: throttling, 5xx, dropped connections.
pub fn looks_transient(e: &anyhow::Error) -> bool {
    super::cloud::CallError::is_transient(e)
}

/// A stack operation that is still running in AWS when the run stopped waiting for it: not a
/// failure; re-running the command resumes.
#[derive(Debug)]
pub struct StillRunning(pub String);

impl std::fmt::Display for StillRunning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StillRunning {}

/// A failure message for an operation that did not settle as wanted.
pub fn explain(stack: &str, settled: &Settled) -> anyhow::Error {
    match settled {
        Settled::Done { .. } => anyhow!("stack {stack} succeeded"),
        Settled::Failed { status, reason } => anyhow!("stack {stack} ended in {status}: {reason}"),
        Settled::TimedOut { status } => anyhow::Error::new(StillRunning(format!(
            "stack {stack} is still {status} after the --timeout; it has not failed: re-run the same command to follow it to the end"
        ))),
        Settled::Interrupted { status } => anyhow::Error::new(StillRunning(format!(
            "interrupted while stack {stack} was {status}; it goes on in AWS: re-run the same command to resume"
        ))),
    }
}

#[cfg(test)]
mod tests;
