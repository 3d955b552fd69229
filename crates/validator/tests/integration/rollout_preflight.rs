//! `gaia-validator preflight` (issue 17 acceptance 1): the production binary against the
//! loopback chain node of `chain_node` (online_storage.json, with `Timestamp.Now` set to now),
//! the loopback truth servers of the existing tests (pydap's DAP2 server of
//! `scripts/fixtures/gfs_opendap.py` for GFS, the Zarr stores of `remote_truth.py` over HTTP for
//! ERA5 and the climatology) and a simulated fiber miner on the metagraph's UID 1: every check
//! passes and it exits 0; then each failure kind — bad hotkey, not registered, no permit,
//! commit-reveal on, stale metadata, unreachable source, full disk budget — gives its named
//! failing line and exit 2, and `--offline` skips the network checks with a clear word.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use gaia_miner_sim::{Behaviour, Fleet, FleetConfig, MinerSpec, World, WorldConfig};
use gaia_validator::chain::storage::{axons_key, keys_key};
use serde_json::Value;

use crate::chain_node::{serve, set, Mock};
use crate::gfs_opendap::Server as DapServer;
use crate::rollout_compare::{control_fixture, run_binary, store_with_shadow_vector};

fn hotkey_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/chain/wallets/gaia/hotkeys")
        .join(name)
}

/// A static file server over `root` (the Zarr stores).
async fn serve_dir(root: PathBuf) -> String {
    let app = axum::Router::new()
        .route(
            "/{*path}",
            axum::routing::get(
                |State(root): State<Arc<PathBuf>>, UrlPath(path): UrlPath<String>| async move {
                    tokio::fs::read(root.join(path))
                        .await
                        .map_err(|_| StatusCode::NOT_FOUND)
                },
            ),
        )
        .with_state(Arc::new(root));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn put(mock: &Mock, key: Vec<u8>, value: Vec<u8>) {
    mock.storage.lock().unwrap().insert(
        format!("0x{}", hex::encode(key)),
        format!("0x{}", hex::encode(value)),
    );
}

/// `Timestamp.Now` = `ms` (SCALE u64).
fn set_clock(mock: &Mock, fx: &Value, ms: i64) {
    mock.storage.lock().unwrap().insert(
        fx["timestamp_now_key"].as_str().unwrap().into(),
        format!("0x{}", hex::encode((ms as u64).to_le_bytes())),
    );
}

/// Put the simulated miner on UID 1: its hotkey in `Keys(237, 1)` and a loopback axon.
fn miner_on_uid_1(mock: &Mock, hotkey: &str, port: u16) {
    let (_, account) = gaia_protocol::ss58::decode(hotkey).unwrap();
    put(mock, keys_key(237, 1), account.to_vec());
    let mut axon = Vec::new();
    axon.extend_from_slice(&1u64.to_le_bytes()); // block
    axon.extend_from_slice(&1u32.to_le_bytes()); // version
    axon.extend_from_slice(&u128::from(u32::from(std::net::Ipv4Addr::LOCALHOST)).to_le_bytes());
    axon.extend_from_slice(&port.to_le_bytes());
    axon.extend_from_slice(&[4, 4, 0, 0]); // ip_type, protocol, placeholders
    put(mock, axons_key(237, &account), axon);
}

struct Rig {
    mock: Arc<Mock>,
    node: String,
    fx: Value,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    _dap: DapServer,
    fleet: Fleet,
}

async fn rig() -> Rig {
    let fx = control_fixture();
    let (mock, node) = serve().await;
    set_clock(&mock, &fx, chrono::Utc::now().timestamp_millis());
    let dir = tempfile::tempdir().unwrap();
    let url = store_with_shadow_vector(dir.path(), &fx).await;
    let stores = dir.path().join("stores");
    std::fs::create_dir_all(&stores).unwrap();
    gaia_testkit::run_python(
        "scripts/fixtures/remote_truth.py",
        &[stores.to_str().unwrap()],
    )
    .unwrap();
    let zarr = serve_dir(stores).await;
    let dap = tokio::task::spawn_blocking(DapServer::start).await.unwrap();
    let world = Arc::new(
        World::new(WorldConfig {
            seed: 5,
            grid_deg: 20.0,
        })
        .unwrap(),
    );
    let cfg = FleetConfig::new(
        world,
        "2026-11-28T00:00:00Z".parse().unwrap(),
        vec![MinerSpec {
            uid: 1,
            behaviour: Behaviour::Honest { skill: 0.8 },
        }],
    );
    let fleet = Fleet::start(cfg).await.unwrap();
    let m = &fleet.miners()[0];
    miner_on_uid_1(&mock, &m.hotkey, m.port);
    let env = vec![
        ("DATABASE_URL", url),
        ("CHAIN__MODE", "online".into()),
        (
            "CHAIN__HOTKEY_FILE",
            hotkey_file("default").display().to_string(),
        ),
        ("WEATHER__MINER_SCHEME", "http".into()),
        (
            "WEATHER__GFS_ANALYSIS_SOURCE",
            format!("opendap:{}", dap.base("dods")),
        ),
        (
            "WEATHER__GFS_FORECAST_SOURCE",
            format!("opendap:{}", dap.base("dods")),
        ),
        ("WEATHER__ERA5_SOURCE", format!("{zarr}/arco_era5.zarr")),
        (
            "WEATHER__CLIMATOLOGY_SOURCE",
            format!("{zarr}/wb2_climatology.zarr"),
        ),
        ("ROLLOUT__MIN_FREE_DISK_GB", "0.01".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Rig {
        mock,
        node,
        fx,
        dir,
        env,
        _dap: dap,
        fleet,
    }
}

impl Rig {
    /// Run `preflight --json` with `extra` settings over the rig's; (exit code, report).
    async fn preflight(&self, extra: &[(&str, &str)], flags: &[&str]) -> (Option<i32>, Value) {
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        env.extend_from_slice(extra);
        let mut args = vec!["preflight", "--json"];
        args.extend_from_slice(flags);
        let out = run_binary(self.dir.path(), &self.node, &args, &env).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report)
    }
}

impl Rig {
    /// The checklist run in this process through the library the command calls
    /// (`rollout::preflight::run_checks`, settings from `config::load_with_env` with the
    /// binary's environment): each check's name and status, as JSON.
    async fn preflight_in_process(&self) -> Vec<(String, Value)> {
        let dir = self.dir.path().display().to_string();
        let mut env: Vec<(String, String)> = [
            ("HOME", dir.as_str()),
            ("DATA_DIR", dir.as_str()),
            ("CHAIN__ENDPOINT", self.node.as_str()),
            ("CHAIN__NETUID", "237"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.extend(self.env.iter().cloned());
        let url = self
            .env
            .iter()
            .find(|(k, _)| k == "DATABASE_URL")
            .map(|(_, v)| v.clone())
            .unwrap();
        let settings = gaia_validator::config::load_with_env(None, env)
            .unwrap()
            .settings;
        let checks = gaia_validator::rollout::preflight::run_checks(
            &settings,
            &url,
            false,
            chrono::Utc::now(),
        )
        .await;
        checks
            .iter()
            .map(|c| {
                let v = serde_json::to_value(c).unwrap();
                (c.name.to_string(), v["status"].clone())
            })
            .collect()
    }
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

/// The failure produced: exit 2, `name` failed with `value_part` in its value.
fn assert_fails(result: &(Option<i32>, Value), name: &str, value_part: &str) {
    let (code, report) = result;
    assert_eq!(*code, Some(2), "{name}: {report}");
    let c = check(report, name);
    assert_eq!(c["status"], "fail", "{name}: {c}");
    assert!(
        c["value"].as_str().unwrap().contains(value_part),
        "{name}: {c}"
    );
    assert!(!c["action"].as_str().unwrap().is_empty(), "{name}: {c}");
    assert!(
        report["failed"]
            .as_array()
            .unwrap()
            .contains(&Value::from(name)),
        "{report}"
    );
    assert_eq!(report["verdict"], "no-go");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflight_passes_on_loopback_and_names_each_failure() {
    let rig = rig().await;
    let (code, report) = rig.preflight(&[], &[]).await;
    let statuses: Vec<(String, String)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().into(),
                c["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    for (name, status) in &statuses {
        let allowed: &[&str] = match name.as_str() {
            "stake" | "weights_mode" | "scoring_profile" => &["info"],
            _ => &["pass"],
        };
        assert!(
            allowed.contains(&status.as_str()),
            "{name} is {status}: {report:#}"
        );
    }
    assert_eq!(statuses.len(), 21, "{statuses:?}");
    assert_eq!(
        (code, report["verdict"].as_str()),
        (Some(0), Some("go")),
        "{report:#}"
    );
    assert!(check(&report, "hotkey_registered")["value"]
        .as_str()
        .unwrap()
        .starts_with("uid 2 on netuid 237"));
    assert!(check(&report, "rate_limit")["value"]
        .as_str()
        .unwrap()
        .starts_with("203 blocks"));
    assert!(check(&report, "miner_handshake")["value"]
        .as_str()
        .unwrap()
        .starts_with("1/1 miners"));
    // The same checks in process (the library the command calls) say the same.
    let in_process = rig.preflight_in_process().await;
    assert_eq!(
        in_process.len(),
        20,
        "all but the settings line: {in_process:?}"
    );
    for (name, status) in &in_process {
        assert_eq!(&check(&report, name)["status"], status, "{name}");
    }

    // Bad hotkey: a file whose address does not match its key.
    let bad = hotkey_file("wrong_ss58").display().to_string();
    assert_fails(
        &rig.preflight(&[("CHAIN__HOTKEY_FILE", &bad)], &[]).await,
        "hotkey_file",
        "wrong_ss58",
    );
    // Not registered: a valid hotkey without Uids(237, hotkey).
    let stranger = hotkey_file("devphrase").display().to_string();
    assert_fails(
        &rig.preflight(&[("CHAIN__HOTKEY_FILE", &stranger)], &[])
            .await,
        "hotkey_registered",
        "is not registered on netuid 237",
    );
    // No permit: ValidatorPermit [true, false, false] (UID 2 loses it).
    let permits = rig.mock.fx["storage"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, v)| v.as_str() == Some("0x0c010001"))
        .map(|(k, _)| k.clone())
        .expect("the fixture's ValidatorPermit [1, 0, 1]");
    rig.mock
        .storage
        .lock()
        .unwrap()
        .insert(permits.clone(), "0x0c010000".into());
    assert_fails(
        &rig.preflight(&[], &[]).await,
        "validator_permit",
        "uid 2 has no validator permit",
    );
    rig.mock
        .storage
        .lock()
        .unwrap()
        .insert(permits, "0x0c010001".into());
    // Commit-reveal on.
    set(&rig.mock, "CommitRevealWeightsEnabled", Some("true"));
    assert_fails(
        &rig.preflight(&[], &[]).await,
        "commit_reveal",
        "CommitRevealWeightsEnabled = true",
    );
    set(&rig.mock, "CommitRevealWeightsEnabled", Some("false"));
    // Stale metadata: the runtime moved the pallet.
    *rig.mock.metadata.lock().unwrap() = "pallet_moved";
    assert_fails(
        &rig.preflight(&[], &[]).await,
        "runtime_metadata",
        "does not match this client",
    );
    *rig.mock.metadata.lock().unwrap() = "good";
    // Unreachable source.
    assert_fails(
        &rig.preflight(
            &[("WEATHER__ERA5_SOURCE", "http://127.0.0.1:1/era5.zarr")],
            &[],
        )
        .await,
        "truth_era5",
        "unreachable",
    );
    // Full disk budget.
    assert_fails(
        &rig.preflight(&[("ROLLOUT__MIN_FREE_DISK_GB", "1000000")], &[])
            .await,
        "disk_budget",
        "required 1000000 GiB",
    );
    // Clock: the chain's timestamp ten minutes behind ours.
    set_clock(
        &rig.mock,
        &rig.fx,
        chrono::Utc::now().timestamp_millis() - 600_000,
    );
    assert_fails(&rig.preflight(&[], &[]).await, "clock_skew", "+600");
    set_clock(&rig.mock, &rig.fx, chrono::Utc::now().timestamp_millis());
    // The chain endpoint down.
    assert_fails(
        &rig.preflight(&[("CHAIN__ENDPOINT", "http://127.0.0.1:1")], &[])
            .await,
        "chain_endpoint",
        "127.0.0.1:1",
    );

    // Offline: every network check skipped with the word, the rest still checked.
    let (code, report) = rig.preflight(&[], &["--offline"]).await;
    assert_eq!(code, Some(0), "{report:#}");
    for name in [
        "chain_endpoint",
        "commit_reveal",
        "clock_skew",
        "truth_era5",
        "miner_handshake",
    ] {
        let c = check(&report, name);
        assert_eq!(c["status"], "skip", "{c}");
        assert!(
            c["value"].as_str().unwrap().starts_with("offline mode"),
            "{c}"
        );
    }
    assert_eq!(check(&report, "database")["status"], "pass");
    // The table form.
    let out = run_binary(rig.dir.path(), &rig.node, &["preflight", "--offline"], &[]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("SKIP  chain_endpoint") && text.contains("verdict:"),
        "{text}"
    );
    // Invalid settings: the settings line and exit 78.
    let (code, report) = rig
        .preflight(&[("ROLLOUT__MAX_CLOCK_SKEW_S", "-1")], &[])
        .await;
    assert_eq!(code, Some(78));
    assert!(check(&report, "settings")["value"]
        .as_str()
        .unwrap()
        .contains("ROLLOUT__MAX_CLOCK_SKEW_S"));
    rig.fleet.stop().await;
}
