//! CloudFormation's stack statuses as a type (values AWS adds later are kept as they came), and
//! what a follower waits for.

use std::fmt;

/// A stack's status. `Other` keeps a value this release does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackStatus {
    CreateInProgress,
    CreateFailed,
    CreateComplete,
    RollbackInProgress,
    RollbackFailed,
    RollbackComplete,
    DeleteInProgress,
    DeleteFailed,
    DeleteComplete,
    UpdateInProgress,
    UpdateCompleteCleanupInProgress,
    UpdateComplete,
    UpdateFailed,
    UpdateRollbackInProgress,
    UpdateRollbackFailed,
    UpdateRollbackCompleteCleanupInProgress,
    UpdateRollbackComplete,
    ReviewInProgress,
    ImportInProgress,
    ImportComplete,
    ImportRollbackInProgress,
    ImportRollbackFailed,
    ImportRollbackComplete,
    Other(String),
}

const NAMES: &[(&str, StackStatus)] = &[
    ("CREATE_IN_PROGRESS", StackStatus::CreateInProgress),
    ("CREATE_FAILED", StackStatus::CreateFailed),
    ("CREATE_COMPLETE", StackStatus::CreateComplete),
    ("ROLLBACK_IN_PROGRESS", StackStatus::RollbackInProgress),
    ("ROLLBACK_FAILED", StackStatus::RollbackFailed),
    ("ROLLBACK_COMPLETE", StackStatus::RollbackComplete),
    ("DELETE_IN_PROGRESS", StackStatus::DeleteInProgress),
    ("DELETE_FAILED", StackStatus::DeleteFailed),
    ("DELETE_COMPLETE", StackStatus::DeleteComplete),
    ("UPDATE_IN_PROGRESS", StackStatus::UpdateInProgress),
    (
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        StackStatus::UpdateCompleteCleanupInProgress,
    ),
    ("UPDATE_COMPLETE", StackStatus::UpdateComplete),
    ("UPDATE_FAILED", StackStatus::UpdateFailed),
    (
        "UPDATE_ROLLBACK_IN_PROGRESS",
        StackStatus::UpdateRollbackInProgress,
    ),
    ("UPDATE_ROLLBACK_FAILED", StackStatus::UpdateRollbackFailed),
    (
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        StackStatus::UpdateRollbackCompleteCleanupInProgress,
    ),
    (
        "UPDATE_ROLLBACK_COMPLETE",
        StackStatus::UpdateRollbackComplete,
    ),
    ("REVIEW_IN_PROGRESS", StackStatus::ReviewInProgress),
    ("IMPORT_IN_PROGRESS", StackStatus::ImportInProgress),
    ("IMPORT_COMPLETE", StackStatus::ImportComplete),
    (
        "IMPORT_ROLLBACK_IN_PROGRESS",
        StackStatus::ImportRollbackInProgress,
    ),
    ("IMPORT_ROLLBACK_FAILED", StackStatus::ImportRollbackFailed),
    (
        "IMPORT_ROLLBACK_COMPLETE",
        StackStatus::ImportRollbackComplete,
    ),
];

impl StackStatus {
    pub fn parse(s: &str) -> StackStatus {
        NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| StackStatus::Other(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            StackStatus::Other(s) => s,
            known => NAMES
                .iter()
                .find(|(_, v)| v == known)
                .map(|(n, _)| *n)
                .unwrap_or(""),
        }
    }

    /// Settled in a state that can be updated.
    pub fn healthy(&self) -> bool {
        use StackStatus::*;
        matches!(
            self,
            CreateComplete
                | UpdateComplete
                | UpdateRollbackComplete
                | ImportComplete
                | ImportRollbackComplete
        )
    }

    /// A first create that failed, or an unexecuted change set: can only be deleted.
    pub fn needs_recreate(&self) -> bool {
        matches!(
            self,
            StackStatus::RollbackComplete | StackStatus::ReviewInProgress
        )
    }

    /// An operation is running (REVIEW_IN_PROGRESS waits for a person, not for AWS).
    pub fn in_progress(&self) -> bool {
        *self != StackStatus::ReviewInProgress && self.progress() == Progress::InProgress
    }

    /// Settled: `..._COMPLETE` or `..._FAILED`, nothing running.
    pub fn is_terminal(&self) -> bool {
        matches!(self.progress(), Progress::Complete | Progress::Failed)
    }

    /// Where the status stands, whatever the operation.
    pub fn progress(&self) -> Progress {
        Progress::of(self.as_str())
    }

    /// A first create, or the rollback of one: the stack of a `CreateStack` that went through.
    pub fn from_a_create(&self) -> bool {
        use StackStatus::*;
        matches!(
            self,
            CreateInProgress
                | CreateFailed
                | CreateComplete
                | RollbackInProgress
                | RollbackFailed
                | RollbackComplete
        )
    }
}

impl fmt::Display for StackStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stack's status as last seen while following it: unknown until its first event, which
/// reads as in progress.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastStatus(pub Option<StackStatus>);

impl fmt::Display for LastStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(s) => s.fmt(f),
            None => f.write_str("IN_PROGRESS"),
        }
    }
}

/// Where a resource (or stack) status stands, whatever the operation: running, done, failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    InProgress,
    Complete,
    Failed,
    /// Anything else AWS says (`..._SKIPPED`, a value this release does not know).
    Other,
}

impl Progress {
    fn of(status: &str) -> Progress {
        if status.ends_with("_IN_PROGRESS") {
            Progress::InProgress
        } else if status.ends_with("_COMPLETE") {
            Progress::Complete
        } else if status.ends_with("_FAILED") {
            Progress::Failed
        } else {
            Progress::Other
        }
    }
}

/// A resource's status in a stack event (`CREATE_IN_PROGRESS`, `DELETE_FAILED`, ...), kept as
/// AWS spells it and read through its [`Progress`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceStatus(String);

impl ResourceStatus {
    pub fn parse(s: &str) -> ResourceStatus {
        ResourceStatus(s.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn progress(&self) -> Progress {
        Progress::of(&self.0)
    }
}

impl fmt::Display for ResourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a follower waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Created,
    Updated,
    Deleted,
    /// Any settled status will do (a stack found mid-operation).
    Settled,
}

impl Goal {
    /// Is `status` what this goal waited for?
    pub fn reached_by(self, status: &StackStatus) -> bool {
        match self {
            Goal::Created => *status == StackStatus::CreateComplete,
            Goal::Updated => *status == StackStatus::UpdateComplete,
            Goal::Deleted => *status == StackStatus::DeleteComplete,
            Goal::Settled => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_kept() {
        for (name, _) in NAMES {
            assert_eq!(StackStatus::parse(name).as_str(), *name);
        }
        let new = StackStatus::parse("UPDATE_PAUSED_IN_PROGRESS");
        assert_eq!(new, StackStatus::Other("UPDATE_PAUSED_IN_PROGRESS".into()));
        assert!(new.in_progress());
    }

    #[test]
    fn resource_statuses_by_progress() {
        for (s, want) in [
            ("CREATE_IN_PROGRESS", Progress::InProgress),
            ("UPDATE_COMPLETE", Progress::Complete),
            ("DELETE_FAILED", Progress::Failed),
            ("DELETE_SKIPPED", Progress::Other),
        ] {
            assert_eq!(ResourceStatus::parse(s).progress(), want, "{s}");
        }
        assert!(StackStatus::RollbackComplete.from_a_create());
        assert!(!StackStatus::UpdateComplete.from_a_create());
    }

    #[test]
    fn terminal_statuses() {
        for s in [
            "CREATE_COMPLETE",
            "ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_FAILED",
            "DELETE_COMPLETE",
            "CREATE_FAILED",
        ] {
            assert!(StackStatus::parse(s).is_terminal(), "{s}");
        }
        for s in [
            "CREATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "REVIEW_IN_PROGRESS",
        ] {
            assert!(!StackStatus::parse(s).is_terminal(), "{s}");
        }
    }

    #[test]
    fn kinds_of_status() {
        assert!(StackStatus::UpdateRollbackComplete.healthy());
        assert!(!StackStatus::UpdateRollbackFailed.healthy());
        assert!(StackStatus::ReviewInProgress.needs_recreate());
        assert!(!StackStatus::ReviewInProgress.in_progress());
        assert!(StackStatus::UpdateCompleteCleanupInProgress.in_progress());
        assert!(Goal::Settled.reached_by(&StackStatus::RollbackComplete));
        assert!(!Goal::Created.reached_by(&StackStatus::RollbackComplete));
    }
}
