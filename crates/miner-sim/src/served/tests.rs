//! The in-memory store against the on-disk one: for every behaviour, every file, listing, hash
//! and swap served from memory equals, byte for byte, what [`build_forecast`] writes to disk;
//! dropped caches recompute to the same bytes; the miner keeps only its latest caches.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use gaia_protocol::list_store_files;

use super::{Entry, ServedForecast};
use crate::forecast::{build_forecast, ForecastPlan, SWAPPED_CHUNK};
use crate::keys::dev_signer;
use crate::miner::{MinerConfig, MinerCore, CACHED_STORES};
use crate::{Behaviour, World, WorldConfig};

fn world() -> Arc<World> {
    Arc::new(
        World::new(WorldConfig {
            seed: 7,
            grid_deg: 30.0,
        })
        .unwrap(),
    )
}

fn init() -> DateTime<Utc> {
    "2026-03-01T00:00:00Z".parse().unwrap()
}

fn served(world: &Arc<World>, uid: u16, b: Behaviour) -> ServedForecast {
    let signer = dev_signer(uid).unwrap();
    let plan = ForecastPlan::new(uid, &signer.ss58(), b, init());
    ServedForecast::build(Arc::clone(world), plan, &signer).unwrap()
}

fn file(s: &ServedForecast, rel: &str) -> Vec<u8> {
    match s.entry(rel).unwrap() {
        Some(Entry::File(b)) => b,
        other => panic!("{rel}: {other:?}"),
    }
}

fn dir(s: &ServedForecast, rel: &str) -> Vec<String> {
    match s.entry(rel).unwrap() {
        Some(Entry::Dir(names)) => names,
        other => panic!("{rel}: {other:?}"),
    }
}

/// Every file reachable through the served listings.
fn served_files(s: &ServedForecast) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![String::new()];
    while let Some(d) = stack.pop() {
        for name in dir(s, &d) {
            let rel = if d.is_empty() {
                name
            } else {
                format!("{d}/{name}")
            };
            match s.entry(&rel).unwrap() {
                Some(Entry::Dir(_)) => stack.push(rel),
                Some(Entry::File(_)) => {
                    out.insert(rel);
                }
                None => panic!("{rel} listed but absent"),
            }
        }
    }
    out
}

fn disk_listing(path: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn memory_equals_disk_for_every_behaviour() {
    let w = world();
    let tmp = tempfile::tempdir().unwrap();
    let behaviours = [
        Behaviour::Honest { skill: 0.9 },
        Behaviour::ReferenceLayout { skill: 0.6 },
        Behaviour::GfsCloner,
        Behaviour::LyingHash,
        Behaviour::ChunkSwapper,
        Behaviour::NanInjector,
        Behaviour::WrongUnits,
        Behaviour::Slow { polls: 2 },
    ];
    for (i, b) in behaviours.into_iter().enumerate() {
        let uid = i as u16;
        let s = served(&w, uid, b);
        let signer = dev_signer(uid).unwrap();
        let disk = build_forecast(&w, tmp.path(), uid, &signer, &b, init()).unwrap();
        assert_eq!(s.dir_name, disk.dir_name, "{b}");
        assert_eq!(s.job_id, disk.job_id, "{b}");
        assert_eq!(s.manifest_hash, disk.manifest_hash, "{b}");
        assert_eq!(s.claimed_hash, disk.claimed_hash, "{b}");
        assert_eq!(
            b == Behaviour::LyingHash,
            s.claimed_hash != s.manifest_hash,
            "{b}"
        );
        let on_disk = list_store_files(&disk.path).unwrap();
        for (rel, path) in &on_disk {
            assert_eq!(file(&s, rel), std::fs::read(path).unwrap(), "{b}: {rel}");
        }
        let manifest = std::fs::read(disk.path.join("manifest.json")).unwrap();
        assert_eq!(file(&s, "manifest.json"), manifest, "{b}");
        let sig = file(&s, "manifest.sig");
        gaia_protocol::verify_manifest_bytes(
            &manifest,
            &sig,
            &s.manifest_hash,
            &signer.ss58(),
            true,
        )
        .unwrap();
        // Same files, same listings.
        let mut want: BTreeSet<String> = on_disk.iter().map(|(r, _)| r.clone()).collect();
        want.extend(["manifest.json".to_owned(), "manifest.sig".to_owned()]);
        assert_eq!(served_files(&s), want, "{b}");
        assert_eq!(dir(&s, ""), disk_listing(&disk.path), "{b}");
        assert_eq!(dir(&s, "t"), disk_listing(&disk.path.join("t")), "{b}");
        assert_eq!(dir(&s, "lat/"), disk_listing(&disk.path.join("lat")), "{b}");
        // Swap: only the chunk swapper, only after its manifest was fetched.
        let before = file(&s, SWAPPED_CHUNK);
        s.on_manifest_fetched();
        assert_eq!(s.swapped(), b == Behaviour::ChunkSwapper, "{b}");
        if let Some(swap) = &disk.swap {
            assert_eq!(file(&s, SWAPPED_CHUNK), swap.replacement);
            assert_ne!(file(&s, SWAPPED_CHUNK), before);
        } else {
            assert_eq!(file(&s, SWAPPED_CHUNK), before, "{b}");
        }
    }
}

#[test]
fn dropped_caches_recompute_the_same_bytes() {
    let w = world();
    let s = served(&w, 3, Behaviour::NanInjector);
    let manifest = file(&s, "manifest.json");
    let zmeta = file(&s, ".zmetadata");
    assert!(s.is_cached());
    s.drop_cache();
    assert!(!s.is_cached());
    assert_eq!(file(&s, ".zmetadata"), zmeta);
    assert_eq!(file(&s, "manifest.json"), manifest);
    // A second build (a restarted miner) serves the same bytes, chunk for chunk.
    let again = served(&w, 3, Behaviour::NanInjector);
    assert_eq!(file(&again, "manifest.json"), manifest);
    assert_eq!(file(&again, "t/39.12.0.0"), file(&s, "t/39.12.0.0"));
}

#[test]
fn unknown_paths_are_absent() {
    let w = world();
    let prod = served(&w, 1, Behaviour::Honest { skill: 0.8 });
    let reference = served(&w, 2, Behaviour::ReferenceLayout { skill: 0.8 });
    for bad in [
        "2t/01.0.0",
        "2t/40.0.0",
        "2t/0.0",
        "2t/x.0.0",
        "t/0.1.0.0",
        "zz/0.0.0",
        "nothing",
        "2t/.zarray/x",
    ] {
        assert_eq!(prod.entry(bad).unwrap(), None, "{bad}");
    }
    assert!(matches!(
        prod.entry("t/3.0.0.0").unwrap(),
        Some(Entry::File(_))
    ));
    for bad in ["t/0.13.0.0", "t/0.0.0", "t/-1.0.0.0", "lead_time/1"] {
        assert_eq!(reference.entry(bad).unwrap(), None, "{bad}");
    }
    assert!(matches!(
        reference.entry("t/0.12.0.0").unwrap(),
        Some(Entry::File(_))
    ));
    assert!(prod.plan().chunk_keys("lat").is_empty());
    assert_eq!(reference.plan().chunk_keys("t").len(), 40 * 13);
}

#[test]
fn a_miner_keeps_only_its_latest_caches() {
    let core = MinerCore::new(MinerConfig {
        uid: 4,
        behaviour: Behaviour::Honest { skill: 0.7 },
        world: world(),
        token_ttl: chrono::TimeDelta::minutes(5),
        allowed_validators: None,
    })
    .unwrap();
    let inits: Vec<DateTime<Utc>> = (0..CACHED_STORES as i64 + 2)
        .map(|d| init() + chrono::TimeDelta::days(d))
        .collect();
    let stores: Vec<_> = inits.iter().map(|t| core.prepare(*t).unwrap()).collect();
    let cached: Vec<bool> = stores.iter().map(|s| s.is_cached()).collect();
    let n = stores.len();
    assert_eq!(cached.iter().filter(|c| **c).count(), CACHED_STORES);
    assert!(cached[n - CACHED_STORES..].iter().all(|c| *c), "{cached:?}");
    // Using an old store again caches it and drops the least recently used one.
    core.used(&stores[0]);
    assert!(!file(&stores[0], "manifest.json").is_empty());
    core.used(&stores[0]);
    assert!(stores[0].is_cached());
    assert!(!stores[n - CACHED_STORES].is_cached());
    // prepare() of a built store returns it as is.
    assert!(Arc::ptr_eq(&core.prepare(inits[0]).unwrap(), &stores[0]));
}

#[test]
fn out_of_range_indices_are_errors_not_panics() {
    use crate::world::stores::{chunk_values, StoreLayout};
    let w = world();
    let plan = ForecastPlan::new(5, "hotkey", Behaviour::Honest { skill: 0.5 }, init());
    assert!(plan.plane(&w, "2t", None, 40).is_err());
    assert!(plan.plane(&w, "nope", None, 0).is_err());
    let mut plane = |var: &str, level: Option<f64>, ti: usize| plan.plane(&w, var, level, ti);
    assert!(chunk_values("t", 0, Some(13), StoreLayout::Reference, &mut plane).is_err());
    assert!(chunk_values("t", 0, None, StoreLayout::Reference, &mut plane).is_err());
    assert_eq!(
        chunk_values("t", 0, None, StoreLayout::Production, &mut plane)
            .unwrap()
            .len(),
        13 * w.plane_len()
    );
}
