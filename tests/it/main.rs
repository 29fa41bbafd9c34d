//! Integration tests: the real binary against the emulator, one module per capability.

mod bad_input;
mod coverage;
mod deploy;
mod destroy;
mod ecosystem;
mod first_contact;
mod harness;
mod iam;
mod preflight;
mod preview;
mod resilience;
mod rollout;
mod rooms;
mod rules;
mod scale;
mod seed;
mod setup;
mod shard;
mod state;
mod timing;
mod trails;
mod verify;
mod xdr;
