//! The plan as a value. A run is observe → decide → show → (confirm) → apply → report:
//! `observe` is the only part of planning that reads the cloud (`cloud` declares the reads and
//! writes, the `aws` room implements them); `deploy` decides, purely, from what was observed;
//! the `executor` performs exactly the planned steps and reports progress as events, which the
//! terminal layer (and the `ledger`) turn into output.
//!
//! The vocabulary the room shares, by part (each re-exported here): `steps` (a step, what it
//! does and how it went), `work` (a target's plan and what its steps work with), `results`
//! (a target's result), `watch` (events, the reporter, cancelling, how a run waits).

pub mod cloud;
pub mod coverage;
pub mod deploy;
pub mod destroy;
pub mod executor;
pub mod fact;
pub mod follow;
pub mod hints;
pub mod identity;
pub mod ledger;
pub mod marks;
pub mod observe;
pub mod policy;
mod results;
pub mod settle;
pub mod status;
mod steps;
pub mod trail;
pub mod verify;
mod watch;
mod work;

pub use results::{Outcome, TargetResult};
pub use steps::{Action, Op, Status, Step, StepKind, StepResult};
pub use watch::{Cancel, Event, Reporter, Watch};
pub use work::{
    FunctionRef, LambdaZip, MASKED, OldTrigger, ParamValue, StackParam, TargetPlan, TriggerSpec,
    template_key,
};

#[cfg(test)]
mod tests;
