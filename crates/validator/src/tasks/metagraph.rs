//! Mirroring the metagraph into `node_table` (spec §1.6 `metagraph.sync`): every listed node is
//! upserted, and a UID no longer listed is removed (its responses stay with the runs).

use chrono::Utc;
use futures::FutureExt;
use gaia_store::{Job, Store};
use serde_json::json;

use crate::chain::{Chain, ChainError};
use crate::tasks::ledger::{StepError, StepFuture, StepHandler, StepOutcome};

/// Job type of the metagraph sync.
pub const SYNC_METAGRAPH: &str = "metagraph.sync";

/// Copy the chain's metagraph into `node_table`; returns the number of nodes.
pub async fn sync_metagraph(chain: &dyn Chain, store: &Store) -> Result<usize, ChainError> {
    let nodes = chain.metagraph().await?;
    let now = Utc::now();
    for n in &nodes {
        store.upsert_node(&n.to_record(now)).await?;
    }
    for existing in store.list_nodes().await? {
        if !nodes.iter().any(|n| n.uid == existing.uid) {
            store.delete_node(existing.uid).await?;
        }
    }
    Ok(nodes.len())
}

/// The `metagraph.sync` step.
pub struct MetagraphStep {
    /// The chain.
    pub chain: std::sync::Arc<dyn Chain>,
    /// The database.
    pub store: Store,
}

impl StepHandler for MetagraphStep {
    fn run<'a>(&'a self, _job: &'a Job) -> StepFuture<'a> {
        async move {
            let n = sync_metagraph(self.chain.as_ref(), &self.store)
                .await
                .map_err(|e| StepError::retry(e, chrono::Duration::seconds(60)))?;
            Ok(StepOutcome::Done(Some(json!({ "nodes": n }))))
        }
        .boxed()
    }
}
