//! Mirroring the metagraph into `node_table` (spec §1.6 `metagraph.sync`): every listed node is
//! upserted, and a UID no longer listed is removed (its responses stay with the runs).

use futures::FutureExt;
use gaia_store::{Job, Store};
use serde_json::json;

use crate::chain::{Chain, ChainError};
use crate::tasks::ledger::{StepError, StepFuture, StepHandler, StepOutcome};

/// Copy the chain's metagraph into `node_table`; returns the number of nodes.
pub async fn sync_metagraph(chain: &dyn Chain, store: &Store) -> Result<usize, ChainError> {
    let nodes = chain.metagraph().await?;
    let now = crate::clock::now();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::offline::OfflineChain;
    use crate::tasks::steps::{Occurrence, Step};
    use chrono::Utc;

    #[tokio::test]
    async fn sync_upserts_listed_nodes_and_drops_unlisted_ones() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/m.db", dir.path().display());
        let store = Store::open(&gaia_store::StoreConfig::new(url))
            .await
            .unwrap();
        let file = dir.path().join("m.json");
        std::fs::write(
            &file,
            r#"[{"uid": 1, "hotkey": "a"}, {"uid": 2, "hotkey": "b"}]"#,
        )
        .unwrap();
        let chain = OfflineChain::new(Some(file.clone()), 12.0, store.clone());
        assert_eq!(sync_metagraph(&chain, &store).await.unwrap(), 2);
        std::fs::write(
            &file,
            r#"[{"uid": 2, "hotkey": "b2", "ip": "1.2.3.4", "port": 9}]"#,
        )
        .unwrap();
        let step = MetagraphStep {
            chain: std::sync::Arc::new(chain),
            store: store.clone(),
        };
        let job = store
            .enqueue_job(
                &Step::SyncMetagraph(Occurrence::at(Utc::now())).new_job(1, Utc::now()),
                Utc::now(),
            )
            .await
            .unwrap();
        let job = store.get_job(job.job_id).await.unwrap().unwrap();
        let out = step.run(&job).await.unwrap();
        assert_eq!(out, StepOutcome::Done(Some(json!({"nodes": 1}))));
        let nodes = store.list_nodes().await.unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(
            (nodes[0].uid, nodes[0].hotkey.as_str(), nodes[0].port),
            (2, "b2", 9)
        );
    }
}
