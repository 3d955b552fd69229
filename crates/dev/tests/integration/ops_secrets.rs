//! What a live validator prints: secrets (the DATABASE_URL password, the hotkey's seed, keys,
//! tokens) never appear in its log lines, `/metrics`, `/health`, the status page (which refuses
//! a request without `STATUS_TOKEN`), published state or process arguments; log lines are JSON with the role, the pid and the bound span context; `LOG_LEVEL`
//! sets the level of all three process kinds.
//!
//! The database is a real PostgreSQL (gaia-testkit: `TEST_DATABASE_URL` when set, otherwise a
//! throwaway cluster) with a role of its own whose password is in `DATABASE_URL`. The test
//! clusters use `trust` authentication, so the server does not check the password; what is
//! checked here is that the validator never repeats it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::BIN;
use gaia_dev::harness::{http, unit, Validator};
use gaia_testkit::{postgres_bin_dir, TestPostgres};
use serde_json::{json, Value};

const PASSWORD: &str = "Pw7f3c9e1dOpsSecret";
const TOKEN: &str = "tok-5d8a2b64-ops-token";
const API_KEY: &str = "key-91c4e7aa-ops-apikey";
/// A Bittensor hotkey file (the chain tests' fixture) for `CHAIN__HOTKEY_FILE`.
const HOTKEY_FIXTURE: &str = "../validator/tests/fixtures/chain/wallets/gaia/hotkeys/default";

fn hotkey_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(HOTKEY_FIXTURE)
}

/// Everything that must never be printed: the made-up password, token and key, and the hotkey's
/// `secretSeed` and `privateKey` (hex, with and without `0x`).
fn secrets() -> Vec<String> {
    let mut all: Vec<String> = [PASSWORD, TOKEN, API_KEY].map(String::from).to_vec();
    let hotkey: Value =
        serde_json::from_str(&std::fs::read_to_string(hotkey_fixture()).unwrap()).unwrap();
    for key in ["secretSeed", "privateKey"] {
        let value = hotkey[key].as_str().expect(key);
        let hex = value.trim_start_matches("0x");
        assert!(hex.len() >= 64, "{key}: {value}");
        all.push(hex.to_string());
        // Any 16-hex-digit piece of it would be a leak too.
        all.push(hex[..16].to_string());
        all.push(hex[hex.len() - 16..].to_string());
    }
    all
}

/// A database on the test server owned by a new role with a password; dropped with its role.
struct SecretDb {
    db: Option<TestPostgres>,
    role: String,
    admin_url: String,
    /// `postgres://<role>:<PASSWORD>@host:port/<db>`.
    url: String,
}

fn psql(url: &str, sql: &str) {
    let out = Command::new(postgres_bin_dir().join("psql"))
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl SecretDb {
    fn create() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = rt.block_on(TestPostgres::create()).expect("test database");
        let url = db.url().to_string();
        let (server, database) = url.rsplit_once('/').unwrap();
        let database = database.split('?').next().unwrap().to_string();
        let role = format!("gaia_ops_{}", std::process::id());
        psql(
            &url,
            &format!(
                "CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'; \
                 ALTER DATABASE \"{database}\" OWNER TO {role};"
            ),
        );
        let scheme_end = server.find("://").unwrap() + 3;
        let host = &server[server.find('@').map_or(scheme_end, |i| i + 1)..];
        Self {
            db: Some(db),
            admin_url: format!("{server}/postgres"),
            url: format!("postgres://{role}:{PASSWORD}@{host}/{database}"),
            role,
        }
    }
}

impl Drop for SecretDb {
    fn drop(&mut self) {
        // A private cluster goes away with its database (and the role with it); on a shared
        // server (TEST_DATABASE_URL) the role is dropped once its database is gone.
        let shared = self.db.as_ref().is_some_and(|db| db.cluster().is_none());
        drop(self.db.take());
        if shared {
            let _ = Command::new(postgres_bin_dir().join("psql"))
                .args([&self.admin_url, "-q", "-c"])
                .arg(format!("DROP ROLE IF EXISTS {}", self.role))
                .output();
        }
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in secrets() {
        assert!(
            !text
                .to_ascii_lowercase()
                .contains(&secret.to_ascii_lowercase()),
            "{what} contains the secret {secret:?}:\n{text}"
        );
    }
}

/// One GET of the status page, with an `Authorization` header when given: (status, whole
/// response with its headers).
fn status_get(addr: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = auth.map_or_else(String::new, |a| format!("Authorization: {a}\r\n"));
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

/// Run a CLI command of the validator in `dir` with `env` added; stdout and stderr together.
fn cli(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Output, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("DATA_DIR", dir.join("data"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn secrets_never_appear_in_logs_metrics_or_process_state() {
    let db = SecretDb::create();
    let url = db.url.clone();
    let tmp = tempfile::tempdir().unwrap();

    // The CLI paths that handle the URL: resolve and print settings, migrate (success and
    // failure), refuse an invalid setting.
    let (out, text) = cli(
        tmp.path(),
        &["check-config"],
        &[
            ("DATABASE_URL", &url),
            ("GAIA_API_TOKEN", TOKEN),
            ("STATUS_TOKEN", TOKEN),
        ],
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("{}:***@", db.role)),
        "check-config shows the redacted URL: {text}"
    );
    assert_no_secret("check-config output", &text);

    let (out, text) = cli(
        tmp.path(),
        &["--log-format", "json", "migrate"],
        &[("DATABASE_URL", &url), ("LOG_LEVEL", "debug")],
    );
    assert!(
        out.status.success(),
        "migrate with the password works: {text}"
    );
    assert_no_secret("migrate output", &text);

    let unreachable = format!("postgres://{}:{PASSWORD}@127.0.0.1:1/nowhere", db.role);
    // (The connection is retried for a while before the command gives up: ~15 s.)
    let (out, text) = cli(
        tmp.path(),
        &["--log-format", "json", "migrate"],
        &[("DATABASE_URL", &unreachable), ("LOG_LEVEL", "debug")],
    );
    assert!(!out.status.success(), "an unreachable server fails: {text}");
    assert!(
        text.contains(":***@127.0.0.1:1/"),
        "the failure names the redacted URL: {text}"
    );
    assert_no_secret("failed migrate output", &text);

    let (out, text) = cli(
        tmp.path(),
        &["run"],
        &[("DATABASE_URL", &url), ("NUM_COMPUTE_WORKERS", "0")],
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("NUM_COMPUTE_WORKERS"), "{text}");
    assert_no_secret("start-up error", &text);

    // The running validator, at debug level so every process says as much as it can, with a
    // signing key of its own.
    let hotkey_file = tmp.path().join("hotkey");
    std::fs::copy(hotkey_fixture(), &hotkey_file).unwrap();
    let hotkey_path = hotkey_file.to_str().unwrap();
    let mut v = Validator::start(
        BIN,
        &[
            ("CHAIN__HOTKEY_FILE", hotkey_path),
            ("DATABASE_URL", &url),
            ("LOG_LEVEL", "debug"),
            ("GAIA_API_TOKEN", TOKEN),
            ("WEATHER__API_KEY", API_KEY),
            ("STATUS_TOKEN", TOKEN),
        ],
    );
    for i in 0..3 {
        let answer = v.dispatch(&unit(&format!("s-{i}"), "sys.echo", json!({"i": i})));
        assert_eq!(answer["outcome"], "success", "{answer}");
    }
    let failed = v.dispatch(&unit("s-panic", "sys.panic", json!({})));
    assert_eq!(failed["outcome"], "handler_error", "{failed}");
    std::thread::sleep(Duration::from_secs(2));

    let metrics = v.metrics();
    assert!(
        metrics.contains("gaia_compute_jobs_total"),
        "a real scrape: {metrics}"
    );
    assert_no_secret("/metrics", &metrics);
    let health = http(&v.addr(), "GET", "/health", None).unwrap();
    assert_no_secret("/health", &health);
    // The status page: refused without the token, served with it (as a bearer token and as a
    // basic-auth password), and no page shows a secret either way.
    let status = v.status_addr();
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("operator:{TOKEN}"),
    );
    for path in ["/", "/weights", "/runs/1", "/miners/0"] {
        let (code, page) = status_get(&status, path, None);
        assert_eq!(code, 401, "{path} without the token: {page}");
        assert!(page.contains("Sign-in needed"), "{page}");
        assert_no_secret(&format!("status page {path} (refused)"), &page);
        for auth in [format!("Bearer {TOKEN}"), format!("Basic {basic}")] {
            let (code, page) = status_get(&status, path, Some(&auth));
            // Run 1 and miner 0 exist only when the daily run was due (the start-up catch-up
            // queues it between 18:00 and 24:00 UTC): 404 otherwise, never 401.
            let allowed: &[u16] = if path.starts_with("/runs/") || path.starts_with("/miners/") {
                &[200, 404]
            } else {
                &[200]
            };
            assert!(
                allowed.contains(&code),
                "{path} with the token: {code} {page}"
            );
            assert_no_secret(&format!("status page {path}"), &page);
        }
    }
    let state_file = std::fs::read_to_string(v.runtime.root().join("supervisor.json")).unwrap();
    assert_no_secret("supervisor.json", &state_file);
    let mut pids = vec![v.pid()];
    pids.extend(v.state().children.iter().map(|c| c.pid));
    assert!(
        pids.len() >= 3,
        "supervisor, IO-Engine and workers: {pids:?}"
    );
    for pid in pids {
        let args = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert_no_secret(&format!("arguments of process {pid}"), &args);
    }

    // Stop it, so the shutdown lines are in the log too.
    v.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(v.wait_exit(Duration::from_secs(30)).is_some(), "stops");
    let log = v.logs();
    assert_no_secret("the validator's log", &log);
    let lines = json_lines(&log);
    for role in ["supervisor", "io-engine", "compute-worker"] {
        assert!(
            lines.iter().any(|l| l["role"] == role),
            "no line from {role}:\n{log}"
        );
    }
    // The hotkey file was used (no fallback to the development key); its secrets never shown.
    assert!(
        !log.contains("public development key"),
        "the hotkey file was not used:\n{log}"
    );
    // A handler's panic is a JSON line of the worker, inside the job's span.
    assert!(
        lines.iter().any(|l| l["role"] == "compute-worker"
            && l["level"] == "ERROR"
            && l["msg"]
                .as_str()
                .is_some_and(|m| m.contains("sys.panic requested"))
            && l["job_id"] == "s-panic"
            && l["task"] == "sys.panic"),
        "no panic line with the job's context:\n{log}"
    );
    // The unknown key is named, its value is not.
    assert!(
        lines
            .iter()
            .any(|l| l["key"].as_str() == Some("weather.api_key")),
        "unknown-setting warning:\n{log}"
    );
    drop(db);
}

#[test]
fn log_lines_carry_role_pid_and_context_at_the_level_from_log_level() {
    // Default level (info, as LOG_LEVEL says in the harness): lines from every process kind.
    let mut v = Validator::start(BIN, &[]);
    let answer = v.dispatch(&unit("ctx-1", "sys.echo", json!({})));
    assert_eq!(answer["outcome"], "success", "{answer}");
    let mut roles = std::collections::HashMap::from([(v.pid(), "supervisor")]);
    for c in v.state().children {
        let role = if c.name == "io-engine" {
            "io-engine"
        } else {
            "compute-worker"
        };
        roles.insert(c.pid, role);
    }
    v.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(v.wait_exit(Duration::from_secs(30)).is_some());
    let log = v.logs();
    let lines = json_lines(&log);
    for line in &lines {
        for key in ["ts", "level", "msg", "role", "pid", "target"] {
            assert!(!line[key].is_null(), "no {key} in {line}");
        }
        let ts = line["ts"].as_str().unwrap();
        assert!(
            ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "{ts}"
        );
        // Each process prints its own pid and role (a worker started during shutdown is the
        // only process not in the state read above).
        let pid = line["pid"].as_u64().unwrap() as u32;
        let role = roles.get(&pid).copied().unwrap_or("compute-worker");
        assert_eq!(line["role"], role, "{line}");
    }
    for role in ["supervisor", "io-engine", "compute-worker"] {
        assert!(
            lines
                .iter()
                .any(|l| l["role"] == role && l["level"] == "INFO"),
            "no INFO line from {role}:\n{log}"
        );
    }
    // Span context: the IO-Engine serves each worker connection inside a `worker` span, so its
    // lines carry the worker's name and pid.
    let connected: Vec<&Value> = lines
        .iter()
        .filter(|l| l["msg"] == "compute worker connected")
        .collect();
    assert!(!connected.is_empty(), "{log}");
    for l in connected {
        assert!(
            l["worker"]
                .as_str()
                .is_some_and(|w| w.starts_with("compute-")),
            "{l}"
        );
        assert!(l["worker_pid"].as_u64().is_some(), "{l}");
        assert_eq!(l["role"], "io-engine");
    }

    // LOG_LEVEL=warn: nothing below WARN from any process.
    let mut quiet = Validator::start(BIN, &[("LOG_LEVEL", "warn")]);
    let answer = quiet.dispatch(&unit("ctx-2", "sys.echo", json!({})));
    assert_eq!(answer["outcome"], "success", "{answer}");
    quiet.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(quiet.wait_exit(Duration::from_secs(30)).is_some());
    let log = quiet.logs();
    for line in json_lines(&log) {
        assert!(
            line["level"] == "WARN" || line["level"] == "ERROR",
            "LOG_LEVEL=warn but: {line}"
        );
    }
}
