//! A fleet of simulated miners on loopback: one axum server per miner (the offline miner gets a
//! port nobody listens on), forecasts for the fleet's GFS cycle built before serving, and the
//! per-miner facts a validator needs to put them in its node table.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::behaviour::Behaviour;
use crate::fiber::routes::{router as fiber_router, FiberApp};
use crate::fiber::{rsa_key_for, FiberMiner, Transport};
use crate::limits::{limited, Limiter, ServeLimits};
use crate::miner::{MinerConfig, MinerCore, DEFAULT_TOKEN_TTL_MINUTES};
use crate::server::{router, spawn_router, ServerHandle};
use crate::world::World;
use crate::SimError;

/// One miner to start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MinerSpec {
    /// Its uid (also selects its development keys).
    pub uid: u16,
    /// What it does.
    pub behaviour: Behaviour,
}

/// What to start.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The world forecasts come from.
    pub world: Arc<World>,
    /// The GFS cycle whose forecasts are built before the servers start.
    pub gfs_init: DateTime<Utc>,
    /// The miners.
    pub miners: Vec<MinerSpec>,
    /// Access-token lifetime.
    pub token_ttl: TimeDelta,
    /// When set, only these validator hotkeys may call the POST endpoints.
    pub allowed_validators: Option<Vec<String>>,
    /// What the miners speak (default [`Transport::Fiber`]: fiber, and plain JSON for
    /// requests without fiber headers).
    pub transport: Transport,
}

impl FleetConfig {
    /// A config with the default token lifetime and no validator allow-list.
    pub fn new(world: Arc<World>, gfs_init: DateTime<Utc>, miners: Vec<MinerSpec>) -> Self {
        Self {
            world,
            gfs_init,
            miners,
            token_ttl: TimeDelta::minutes(DEFAULT_TOKEN_TTL_MINUTES),
            allowed_validators: None,
            transport: Transport::default(),
        }
    }
}

/// A started miner, as the validator's node table needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinerInfo {
    /// uid.
    pub uid: u16,
    /// SS58 hotkey (prefix 42).
    pub hotkey: String,
    /// Always `127.0.0.1`.
    pub ip: String,
    /// TCP port (for `offline`, a port nothing listens on).
    pub port: u16,
    /// Its behaviour.
    pub behaviour: Behaviour,
    /// Deterministic job id for the fleet's GFS cycle (None for `offline`).
    pub job_id: Option<String>,
    /// Forecast store name for the fleet's GFS cycle, served under `/forecasts/` (None for
    /// `offline`); the store lives in memory ([`Fleet::store_file`]).
    pub store_name: Option<String>,
    /// SHA-256 of that store's `manifest.json`.
    pub manifest_hash: Option<String>,
}

/// Running miners; [`Fleet::stop`] shuts them down.
#[derive(Debug)]
pub struct Fleet {
    miners: Vec<MinerInfo>,
    cores: Vec<Arc<MinerCore>>,
    fibers: Vec<(u16, Arc<FiberMiner>)>,
    transport: Transport,
    servers: Vec<ServerHandle>,
    limiters: Vec<(u16, Arc<Limiter>)>,
}

/// The default demo fleet: three honest miners of different skill, then one of each failure
/// mode (uids 0…9).
pub fn demo_fleet() -> Vec<MinerSpec> {
    [
        Behaviour::Honest { skill: 0.9 },
        Behaviour::Honest { skill: 0.75 },
        Behaviour::Honest { skill: 0.5 },
        Behaviour::Slow { polls: 2 },
        Behaviour::Offline,
        Behaviour::GfsCloner,
        Behaviour::LyingHash,
        Behaviour::ChunkSwapper,
        Behaviour::NanInjector,
        Behaviour::WrongUnits,
    ]
    .into_iter()
    .enumerate()
    .map(|(i, behaviour)| MinerSpec {
        uid: i as u16,
        behaviour,
    })
    .collect()
}

impl Fleet {
    /// Build every miner's forecast for `gfs_init` (in parallel, blocking threads), then start
    /// one server per miner on `127.0.0.1:0`.
    pub async fn start(config: FleetConfig) -> Result<Fleet, SimError> {
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = config.miners.iter().find(|m| !seen.insert(m.uid)) {
            return Err(SimError::Config(format!("uid {} used twice", dup.uid)));
        }
        let mut cores = Vec::new();
        let mut builds = Vec::new();
        for spec in &config.miners {
            let core = MinerCore::new(MinerConfig {
                uid: spec.uid,
                behaviour: spec.behaviour,
                world: Arc::clone(&config.world),
                token_ttl: config.token_ttl,
                allowed_validators: config.allowed_validators.clone(),
            })?;
            if spec.behaviour != Behaviour::Offline {
                let c = Arc::clone(&core);
                let t = config.gfs_init;
                builds.push(tokio::task::spawn_blocking(move || c.prepare(t)));
            }
            cores.push(core);
        }
        // One RSA key per miner (fiber mode), generated while the forecasts build.
        let mut keygens = Vec::new();
        if config.transport != Transport::Plain {
            for spec in config
                .miners
                .iter()
                .filter(|s| s.behaviour != Behaviour::Offline)
            {
                let uid = spec.uid;
                keygens.push((uid, tokio::task::spawn_blocking(move || rsa_key_for(uid))));
            }
        }
        for b in builds {
            b.await
                .map_err(|e| SimError::Server(format!("build task: {e}")))??;
        }
        let mut fibers = Vec::new();
        for (uid, k) in keygens {
            let key = k
                .await
                .map_err(|e| SimError::Server(format!("RSA key task: {e}")))??;
            fibers.push((uid, Arc::new(FiberMiner::new(key)?)));
        }
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let mut servers = Vec::new();
        let mut miners = Vec::new();
        let mut refused_ports = Vec::new();
        let mut limiters = Vec::new();
        for core in &cores {
            let cfg = core.config();
            let (port, store) = if cfg.behaviour == Behaviour::Offline {
                // Hold the port until every server is up so no other miner gets it.
                let l = std::net::TcpListener::bind(loopback)
                    .map_err(|e| SimError::Server(format!("bind: {e}")))?;
                let port = l
                    .local_addr()
                    .map_err(|e| SimError::Server(e.to_string()))?
                    .port();
                refused_ports.push(l);
                (port, None)
            } else {
                let fiber = fibers.iter().find(|(u, _)| *u == cfg.uid);
                let app = match fiber {
                    Some((_, f)) => fiber_router(Arc::new(FiberApp {
                        core: Arc::clone(core),
                        fiber: Arc::clone(f),
                        transport: config.transport,
                    })),
                    None => router(Arc::clone(core)),
                };
                let limiter = Limiter::new(ServeLimits {
                    per_minute: cfg.behaviour.rate_limit_per_minute(),
                    store_delay: cfg.behaviour.store_delay(),
                });
                limiters.push((cfg.uid, Arc::clone(&limiter)));
                let h = spawn_router(limited(app, limiter), loopback).await?;
                let port = h.addr.port();
                servers.push(h);
                (port, core.store_for(config.gfs_init))
            };
            miners.push(MinerInfo {
                uid: cfg.uid,
                hotkey: core.hotkey().to_owned(),
                ip: Ipv4Addr::LOCALHOST.to_string(),
                port,
                behaviour: cfg.behaviour,
                job_id: store.as_ref().map(|s| s.job_id.clone()),
                store_name: store.as_ref().map(|s| s.dir_name.clone()),
                manifest_hash: store.as_ref().map(|s| s.manifest_hash.clone()),
            });
        }
        drop(refused_ports);
        Ok(Fleet {
            miners,
            cores,
            fibers,
            transport: config.transport,
            servers,
            limiters,
        })
    }

    /// The request limiter of miner `uid` (what it served and refused with 429).
    pub fn limiter(&self, uid: u16) -> Option<Arc<Limiter>> {
        self.limiters
            .iter()
            .find(|(u, _)| *u == uid)
            .map(|(_, l)| Arc::clone(l))
    }

    /// The started miners, in the order given.
    pub fn miners(&self) -> &[MinerInfo] {
        &self.miners
    }

    /// The miner with `uid`, if started.
    pub fn miner(&self, uid: u16) -> Option<&MinerInfo> {
        self.miners.iter().find(|m| m.uid == uid)
    }

    /// The file at store-relative `rel` (`manifest.json`, `.zmetadata`, `2t/0.0.0`, …) of
    /// miner `uid`'s store for the fleet's GFS cycle, as served (no token, no swap trigger).
    pub fn store_file(&self, uid: u16, rel: &str) -> Result<Vec<u8>, SimError> {
        let name = self
            .miner(uid)
            .and_then(|m| m.store_name.clone())
            .ok_or_else(|| SimError::Config(format!("miner {uid} serves no store")))?;
        let store = self
            .core(uid)
            .and_then(|c| c.store_named(&name))
            .ok_or_else(|| SimError::Config(format!("store {name} is not built")))?;
        match store.entry(rel)? {
            Some(crate::served::Entry::File(bytes)) => Ok(bytes),
            _ => Err(SimError::Config(format!("{name}/{rel} is not a file"))),
        }
    }

    /// The state of miner `uid` (its job registry, stores and token secret).
    pub fn core(&self, uid: u16) -> Option<Arc<MinerCore>> {
        self.cores.iter().find(|c| c.config().uid == uid).cloned()
    }

    /// The fiber state of miner `uid` (None in plain mode or for an offline miner): its key
    /// store, nonce log, clock and refusals.
    pub fn fiber(&self, uid: u16) -> Option<Arc<FiberMiner>> {
        self.fibers
            .iter()
            .find(|(u, _)| *u == uid)
            .map(|(_, f)| Arc::clone(f))
    }

    /// What the miners speak.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Stop every server and wait for them.
    pub async fn stop(self) {
        for s in self.servers {
            s.stop().await;
        }
    }
}
