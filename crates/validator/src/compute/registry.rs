//! The handler registry: task name → pure function of the job's payload (and shared arrays).
//!
//! Handlers are plain functions so that they can be tested without a pool; the worker loop only
//! looks them up, times them and turns their outcome (including a panic) into a `ResultUnit`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use gaia_ipc::SharedArrayRef;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// What a handler may see of its job besides the payload.
#[derive(Debug)]
pub struct JobContext<'a> {
    /// Job id.
    pub job_id: &'a str,
    /// Directory of shared-memory segments.
    pub shm_dir: &'a Path,
    /// Input arrays passed by reference.
    pub shared: &'a BTreeMap<String, SharedArrayRef>,
    /// Prefix a handler must give to any result segment it creates.
    pub segment_prefix: &'a str,
}

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The payload is not what the handler takes.
    #[error("bad payload for {task}: {reason}")]
    BadPayload {
        /// Handler name.
        task: String,
        /// What is wrong.
        reason: String,
    },
    /// The handler ran and failed.
    #[error("{0}")]
    Failed(String),
}

/// A handler's output: the JSON result and any result arrays it created (detached).
#[derive(Debug, Default)]
pub struct HandlerOutput {
    /// JSON result.
    pub result: Value,
    /// Result arrays handed over to the IO-Engine.
    pub shared: Option<BTreeMap<String, SharedArrayRef>>,
}

impl From<Value> for HandlerOutput {
    fn from(result: Value) -> Self {
        Self {
            result,
            shared: None,
        }
    }
}

/// A registered handler.
pub type HandlerFn =
    Box<dyn Fn(&JobContext<'_>, &Value) -> Result<HandlerOutput, HandlerError> + Send + Sync>;

/// Task name → handler.
#[derive(Default)]
pub struct HandlerRegistry {
    handlers: HashMap<String, HandlerFn>,
}

impl std::fmt::Debug for HandlerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerRegistry")
            .field("tasks", &self.task_names())
            .finish()
    }
}

impl HandlerRegistry {
    /// Register a raw handler.
    pub fn register(&mut self, task: &str, handler: HandlerFn) {
        self.handlers.insert(task.to_string(), handler);
    }

    /// Register a pure typed function: the payload is deserialised into `Req`, the output
    /// serialised from `Resp`, and its error becomes a failed job with the error's text.
    pub fn register_typed<Req, Resp, E, F>(&mut self, task: &'static str, f: F)
    where
        Req: DeserializeOwned,
        Resp: Serialize,
        E: std::fmt::Display,
        F: Fn(Req) -> Result<Resp, E> + Send + Sync + 'static,
    {
        self.register(
            task,
            Box::new(move |_ctx, payload| {
                let req: Req = serde_json::from_value(payload.clone()).map_err(|e| {
                    HandlerError::BadPayload {
                        task: task.into(),
                        reason: e.to_string(),
                    }
                })?;
                let resp = f(req).map_err(|e| HandlerError::Failed(e.to_string()))?;
                let value =
                    serde_json::to_value(resp).map_err(|e| HandlerError::Failed(e.to_string()))?;
                Ok(value.into())
            }),
        );
    }

    /// Look a handler up.
    pub fn get(&self, task: &str) -> Option<&HandlerFn> {
        self.handlers.get(task)
    }

    /// Registered task names, sorted.
    pub fn task_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.handlers.keys().cloned().collect();
        names.sort();
        names
    }
}
