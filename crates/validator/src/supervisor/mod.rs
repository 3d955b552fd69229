//! The supervisor: the production entry point (`gaia-validator run`). It starts the IO-Engine
//! and the compute workers, watches their liveness and RSS, restarts **only** the child that died
//! or outgrew its limit, and drains everything on SIGINT/SIGTERM. It holds no business state.
//!
//! Exit codes: 0 clean shutdown; 1 start-up failure; 3 a process class exhausted its restart
//! budget (the message names the class); 130 a second signal forced an immediate stop.

pub mod budget;
pub mod child;
pub mod instance;
mod run;

pub use run::{
    Supervisor, EXIT_BUDGET_EXHAUSTED, EXIT_CONFIG, EXIT_FORCED, EXIT_OK, EXIT_STARTUP,
    EXIT_WORKER_STOPPED,
};
