//! The contract between the IO-Engine and the compute workers.
//!
//! This crate owns the message types ([`WorkUnit`], [`ResultUnit`]), the wire framing used on the
//! Unix-domain socket between the two process kinds ([`frame`]), and the shared-memory arrays
//! that carry large payloads by reference ([`shm`]). Both sides depend on it; it depends on
//! nothing of ours.

pub mod frame;
pub mod shm;
pub mod types;

pub use frame::{Message, PROTOCOL_VERSION};
pub use shm::{Dtype, SharedArray, ShmError};
pub use types::{FailureKind, ResultUnit, SharedArrayRef, WorkUnit, DEFAULT_TIMEOUT_SECONDS};

#[cfg(test)]
mod prop_tests;

/// Unit tests count their allocations (issue 20: a hostile length must not become a huge buffer).
#[cfg(test)]
#[global_allocator]
static ALLOC: gaia_testkit::hostile::CountingAlloc = gaia_testkit::hostile::CountingAlloc;
