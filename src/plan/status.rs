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
        *self != StackStatus::ReviewInProgress && self.as_str().ends_with("_IN_PROGRESS")
    }

    /// Settled: `..._COMPLETE` or `..._FAILED`, nothing running.
    pub fn is_terminal(&self) -> bool {
        let s = self.as_str();
        !s.ends_with("_IN_PROGRESS") && (s.ends_with("_COMPLETE") || s.ends_with("_FAILED"))
    }
}

impl fmt::Display for StackStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
