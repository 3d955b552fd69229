//! The job registry of a compute worker: the [`ComputeJob`] types it can run, looked up by the
//! task name a `WorkUnit` carries.
//!
//! Types are registered, not strings: [`HandlerRegistry::register`]`::<J>()` files `J::run` under
//! `J::TASK`, decoding the request (unknown fields rejected) and encoding the response. The
//! worker loop only looks a job up, times it and turns its outcome (including a panic) into a
//! `ResultUnit`.

use std::collections::HashMap;

use serde_json::Value;

use crate::jobs::{ComputeJob, JobContext, JobError};

/// A registered job, type-erased: the request as JSON in, the response as JSON out.
pub type HandlerFn = Box<dyn Fn(&JobContext<'_>, &Value) -> Result<Value, JobError> + Send + Sync>;

/// Task name → job.
#[derive(Default)]
pub struct HandlerRegistry {
    handlers: HashMap<&'static str, HandlerFn>,
}

impl std::fmt::Debug for HandlerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerRegistry")
            .field("tasks", &self.task_names())
            .finish()
    }
}

impl HandlerRegistry {
    /// Register job `J` under `J::TASK`. A request that does not decode is an internal failure
    /// named `bad payload for <task>: <reason>`.
    pub fn register<J: ComputeJob>(&mut self) {
        self.handlers.insert(
            J::TASK,
            Box::new(|ctx, payload| {
                let request: J::Request = serde_json::from_value(payload.clone())
                    .map_err(|e| JobError::internal(format!("bad payload for {}: {e}", J::TASK)))?;
                let response = J::run(ctx, request)?;
                serde_json::to_value(response).map_err(|e| {
                    JobError::internal(format!("{}: cannot encode the response: {e}", J::TASK))
                })
            }),
        );
    }

    /// Look a job up by its task name.
    pub fn get(&self, task: &str) -> Option<&HandlerFn> {
        self.handlers.get(task)
    }

    /// Registered task names, sorted.
    pub fn task_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.handlers.keys().copied().collect();
        names.sort_unstable();
        names
    }
}
