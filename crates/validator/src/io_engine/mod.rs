//! The IO-Engine: the one async process. It serves the compute pool on a Unix socket, exposes
//! `/metrics`, `/health` (and, when enabled, `/admin/dispatch`), serves the operator's status
//! page on its own address (`status_page`), measures its own event-loop lag and runs the tasks'
//! schedules. It never computes anything heavy itself.

pub mod connection;
pub mod dispatcher;
pub mod http;
pub mod queue;
pub mod server;
pub mod status_page;

pub use dispatcher::{ComputeFailure, DispatchError, Dispatcher, Outcome};
pub use server::{DiagnosticUnit, IoEngine, IoEngineConfig, StatusPageConfig};
