//! The rollout of this validator next to the Python one (docs/rollout.md): the agreement
//! figures of two weight vectors ([`figures`]), the go/no-go of a comparison ([`verdict`]), the
//! control's weights read from the chain ([`control_chain`]) and the `compare` report
//! ([`report`]).

pub mod compare;
pub mod control_chain;
pub mod control_db;
pub mod figures;
pub mod preflight;
pub mod report;
pub mod scheduled;
pub mod verdict;

/// Exit code of `preflight` and `compare` when they ran but say "no-go" (1 is an error that
/// stopped them, 78 an invalid setting).
pub const EXIT_NO_GO: u8 = 2;
