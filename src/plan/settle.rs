//! Waiting for AWS to catch up with a write, as AWS's own timing needs: a function that is busy
//! with an update answers "try later", a new permission takes seconds to reach S3, a bucket's
//! configuration read right after a write may still be the old one. Each wait is bounded by
//! the pace's `settle`, paused through the watch (so Ctrl-C ends it), and said once on the
//! target's line.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::cloud::{CallError, NotificationEntry, RefusedDestinations};
use super::{Event, Watch};

/// The longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Why `e` is worth trying again after a pause, if it is: AWS asked for it (a busy function,
/// throttling), or S3 refused only our own destination while `just_allowed` (the permission
/// that lets S3 in was added moments ago and has not reached S3 yet).
pub fn catching_up(e: &anyhow::Error, just_allowed: bool) -> Option<String> {
    if let Some(r) = e.downcast_ref::<RefusedDestinations>() {
        let ours_only = !r.0.is_empty() && r.0.iter().all(|d| d.ours);
        return (ours_only && just_allowed).then(|| {
            "S3 does not see the new invoke permission yet (it takes a few seconds to reach S3)"
                .to_string()
        });
    }
    e.chain()
        .filter_map(|c| c.downcast_ref::<CallError>())
        .find(|c| c.transient && c.code.is_some())
        .map(|c| format!("AWS asks to try again later ({c})"))
}

/// Run `op` until it succeeds or fails for good; while `waitable` names a reason to wait,
/// pause (from the pace's interval, doubling up to 5 s) and try again, for at most the pace's
/// `settle`. The first wait is said on `label`'s line.
pub async fn patiently<T, F, Fut>(
    watch: &Watch<'_>,
    label: &str,
    waitable: impl Fn(&anyhow::Error) -> Option<String>,
    mut op: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = Instant::now();
    let mut pause = watch.pace.interval.max(Duration::from_millis(10));
    let mut said = false;
    loop {
        let e = match op().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        let Some(why) = waitable(&e) else {
            return Err(e);
        };
        if started.elapsed() + pause > watch.pace.settle {
            let waited = started.elapsed().as_secs();
            return Err(e.context(format!("{why}; still so after {waited} s")));
        }
        if !said {
            watch.reporter.event(Event::Notice {
                target: label.to_string(),
                text: format!(
                    "{why}: trying again for up to {} s",
                    watch.pace.settle.as_secs()
                ),
            });
            said = true;
        }
        if !watch.pause(pause).await {
            return Err(e.context("interrupted while waiting for AWS"));
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Read a bucket's notification entries until `seen` holds (`what` shows), for at most the
/// pace's `settle`, and give the entries that showed it: S3 bucket configuration is eventually
/// consistent, and the next read-merge-write of this bucket (or a report that the target is
/// done, or that our entry is missing) must not rest on a configuration older than a write.
pub async fn until_visible<R, Fut>(
    watch: &Watch<'_>,
    (label, what): (&str, &str),
    bucket: &str,
    mut read: R,
    seen: impl Fn(&[NotificationEntry]) -> bool,
) -> Result<Vec<NotificationEntry>>
where
    R: FnMut() -> Fut,
    Fut: Future<Output = Result<Vec<NotificationEntry>>>,
{
    let why = format!(
        "{what} is not visible on bucket {bucket} yet (S3 bucket configuration is eventually consistent)"
    );
    patiently(
        watch,
        label,
        |e| {
            e.downcast_ref::<Stale>()
                .map(|_| why.clone())
                .or_else(|| catching_up(e, false))
        },
        || {
            let entries = read();
            let seen = &seen;
            async move {
                let entries = entries.await?;
                if seen(&entries) {
                    Ok(entries)
                } else {
                    Err(anyhow!(Stale))
                }
            }
        },
    )
    .await
}

/// The configuration read is not yet the one written.
#[derive(Debug)]
struct Stale;

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the configuration read is older than the one written")
    }
}

impl std::error::Error for Stale {}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::plan::cloud::RefusedDestination;
    use crate::plan::follow::Pace;
    use crate::plan::{Cancel, Reporter};

    #[derive(Default)]
    struct Said(Mutex<Vec<String>>);

    impl Reporter for Said {
        fn event(&self, event: Event) {
            if let Event::Notice { text, .. } = event {
                self.0.lock().unwrap().push(text);
            }
        }
    }

    fn busy() -> anyhow::Error {
        anyhow::Error::new(CallError {
            code: Some("ResourceConflictException".into()),
            message: "The operation cannot be performed at this time. An update is in progress"
                .into(),
            transient: true,
            ..Default::default()
        })
    }

    fn refused(ours: bool) -> anyhow::Error {
        anyhow::Error::new(RefusedDestinations(vec![RefusedDestination {
            arn: "arn:aws:lambda:us-east-1:1:function:f".into(),
            reason: "Not authorized to invoke function".into(),
            entry: None,
            ours,
        }]))
    }

    #[tokio::test]
    async fn waits_while_aws_catches_up_and_no_longer() {
        let said = Said::default();
        let cancel = Cancel::default();
        let watch = Watch {
            reporter: &said,
            pace: Pace {
                interval: Duration::from_millis(1),
                settle: Duration::from_millis(300),
                ..Pace::default()
            },
            cancel: &cancel,
            learnt: &crate::plan::follow::Learnt::default(),
        };
        // Busy twice, then done: one notice.
        let tries = AtomicUsize::new(0);
        let got = patiently(
            &watch,
            "t",
            |e| catching_up(e, false),
            || async {
                match tries.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(busy()),
                    _ => Ok(7),
                }
            },
        )
        .await;
        assert_eq!(got.unwrap(), 7);
        assert_eq!(tries.load(Ordering::SeqCst), 3);
        assert_eq!(said.0.lock().unwrap().len(), 1);
        // Busy for ever: given up after `settle`, saying how long it waited.
        let e = patiently(
            &watch,
            "t",
            |e| catching_up(e, false),
            || async { Err::<(), _>(busy()) },
        )
        .await
        .unwrap_err();
        assert!(format!("{e:#}").contains("still so after"), "{e:#}");
        // Not a reason to wait: at once.
        let tries = AtomicUsize::new(0);
        let e = patiently(
            &watch,
            "t",
            |e| catching_up(e, false),
            || async {
                tries.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>(anyhow!("AccessDenied"))
            },
        )
        .await;
        assert!(e.is_err());
        assert_eq!(tries.load(Ordering::SeqCst), 1);
        // Our own destination refused: worth waiting only right after the permission was added;
        // anyone else's never.
        assert!(catching_up(&refused(true), true).is_some());
        assert!(catching_up(&refused(true), false).is_none());
        assert!(catching_up(&refused(false), true).is_none());
    }
}
