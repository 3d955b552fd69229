//! The offline chain: the metagraph comes from a JSON file (a list of [`MetagraphNode`]), block
//! numbers are derived from the clock, and `set_weights` submits nothing — the caller records
//! the vector in the weight history, where `last_update_block` finds it again.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use gaia_store::{Store, StoreError, WeightOutcome, WeightRecord};

use super::{Chain, ChainError, MetagraphNode, WeightsReceipt};

/// Largest metagraph file read (256 nodes need a few tens of KiB).
const MAX_METAGRAPH_BYTES: u64 = 4 * 1024 * 1024;

/// Metagraph from a file, weights recorded locally.
#[derive(Debug, Clone)]
pub struct OfflineChain {
    metagraph_file: Option<PathBuf>,
    block_time_s: f64,
    store: Store,
}

impl OfflineChain {
    /// An offline chain over `metagraph_file` (none: an empty metagraph).
    pub fn new(metagraph_file: Option<PathBuf>, block_time_s: f64, store: Store) -> Self {
        Self {
            metagraph_file,
            block_time_s: block_time_s.max(1e-3),
            store,
        }
    }

    /// The block number the clock gives at `t`.
    pub fn block_at(&self, t: DateTime<Utc>) -> u64 {
        let seconds = t.timestamp_millis().max(0) as f64 / 1000.0;
        (seconds / self.block_time_s) as u64
    }

    /// Read and check the metagraph file.
    pub fn read_metagraph(&self) -> Result<Vec<MetagraphNode>, ChainError> {
        let Some(path) = &self.metagraph_file else {
            return Ok(Vec::new());
        };
        let err = |reason: String| ChainError::Metagraph {
            source_name: path.display().to_string(),
            reason,
        };
        let size = std::fs::metadata(path)
            .map_err(|e| err(e.to_string()))?
            .len();
        if size > MAX_METAGRAPH_BYTES {
            return Err(err(format!("{size} bytes, over {MAX_METAGRAPH_BYTES}")));
        }
        let text = crate::files::read_text_capped(path, MAX_METAGRAPH_BYTES)
            .map_err(|e| err(e.to_string()))?;
        let nodes: Vec<MetagraphNode> =
            serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for n in &nodes {
            if !seen.insert(n.uid) {
                return Err(err(format!("uid {} listed twice", n.uid)));
            }
        }
        Ok(nodes)
    }
}

/// The block of the latest weight-history record of the last 30 days that `keep` accepts (0:
/// none). The offline chain's `LastUpdate`; the weights check's cadence in shadow mode.
pub async fn latest_weights_block(
    store: &Store,
    keep: impl Fn(&WeightRecord) -> bool,
) -> Result<u64, StoreError> {
    let since = crate::clock::now() - chrono::Duration::days(30);
    let history = store.weight_history_since(since).await?;
    Ok(history
        .iter()
        .filter(|r| keep(r))
        .filter_map(|r| r.block.and_then(|b| u64::try_from(b).ok()))
        .max()
        .unwrap_or(0))
}

impl Chain for OfflineChain {
    fn metagraph(&self) -> BoxFuture<'_, Result<Vec<MetagraphNode>, ChainError>> {
        async move { self.read_metagraph() }.boxed()
    }

    fn current_block(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
        async move { Ok(self.block_at(crate::clock::now())) }.boxed()
    }

    fn last_update_block(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
        async move {
            let submitted = |r: &WeightRecord| r.outcome == WeightOutcome::Submitted;
            Ok(latest_weights_block(&self.store, submitted).await?)
        }
        .boxed()
    }

    fn set_weights<'a>(
        &'a self,
        uids: &'a [u16],
        values: &'a [u16],
    ) -> BoxFuture<'a, Result<WeightsReceipt, ChainError>> {
        async move {
            if uids.len() != values.len() || uids.is_empty() {
                return Err(ChainError::BadWeights(format!(
                    "{} uids for {} values",
                    uids.len(),
                    values.len()
                )));
            }
            let block = self.block_at(crate::clock::now());
            tracing::info!(
                block,
                ?uids,
                ?values,
                "offline chain: weights recorded, not submitted"
            );
            Ok(WeightsReceipt {
                block,
                submitted: true,
                detail: "offline chain: recorded locally, nothing sent".into(),
            })
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store(dir: &std::path::Path) -> Store {
        let url = format!("sqlite://{}/c.db", dir.display());
        Store::open(&gaia_store::StoreConfig::new(url))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn metagraph_file_is_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.json");
        std::fs::write(
            &file,
            r#"[{"uid": 3, "hotkey": "hk3", "ip": "127.0.0.1", "port": 9}, {"uid": 4, "hotkey": "hk4"}]"#,
        )
        .unwrap();
        let chain = OfflineChain::new(Some(file.clone()), 12.0, store(dir.path()).await);
        let nodes = chain.metagraph().await.unwrap();
        assert_eq!(nodes.len(), 2);
        assert_eq!((nodes[0].uid, nodes[0].port), (3, 9));
        std::fs::write(
            &file,
            r#"[{"uid": 3, "hotkey": "a"}, {"uid": 3, "hotkey": "b"}]"#,
        )
        .unwrap();
        let err = chain.metagraph().await.unwrap_err().to_string();
        assert!(
            err.contains("uid 3 listed twice") && err.contains("m.json"),
            "{err}"
        );
        std::fs::write(&file, "not json").unwrap();
        assert!(chain.metagraph().await.is_err());
        let none = OfflineChain::new(None, 12.0, store(dir.path()).await);
        assert!(none.metagraph().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn blocks_follow_the_clock_and_weights_need_matching_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let chain = OfflineChain::new(None, 12.0, store(dir.path()).await);
        let t = DateTime::from_timestamp(1200, 0).unwrap();
        assert_eq!(chain.block_at(t), 100);
        assert_eq!(chain.last_update_block().await.unwrap(), 0);
        assert!(chain.set_weights(&[1, 2], &[3]).await.is_err());
        let r = chain.set_weights(&[1], &[65535]).await.unwrap();
        assert!(r.submitted && r.block > 0);
        assert!(chain.current_block().await.unwrap() >= r.block);
    }
}
