//! The compute worker process: a synchronous loop that takes `WorkUnit`s from the IO-Engine,
//! runs the registered job (see `crate::jobs`) and sends back a `ResultUnit`, recycling itself
//! after a number of jobs or when its memory grows past its limit.

pub mod handlers;
pub mod registry;
pub mod worker;

pub use registry::{HandlerFn, HandlerRegistry};

/// The registry every worker starts with: the validator's production handlers.
pub fn default_registry() -> HandlerRegistry {
    let mut registry = HandlerRegistry::default();
    handlers::register_all(&mut registry);
    registry
}
