//! The validator under the restrictions of `deploy/systemd/gaia-validator.service` that can be
//! applied without systemd here: an unprivileged user, no capabilities (bounding, inheritable
//! and ambient sets empty), `no_new_privs`, `UMask=0027`, a clean environment. It must become
//! ready (database open, workers connected), create its files without world access, and stop
//! cleanly on SIGTERM. (The seccomp filter, namespaces and read-only mounts need systemd as PID 1:
//! `systemd-analyze security --offline` checks the unit file, `scripts/check-deploy`.)

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::BIN;

#[test]
fn runs_unprivileged_without_capabilities_and_with_the_units_umask() {
    let setpriv_found = Command::new("setpriv").arg("--version").output().is_ok();
    if !nix::unistd::Uid::effective().is_root() || !setpriv_found {
        eprintln!("skipped: needs root (to drop to `nobody`) and util-linux setpriv");
        return;
    }
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("validator");
    std::fs::create_dir(&home).unwrap();
    nix::unistd::chown(&home, Some(nobody.uid), Some(nobody.gid)).unwrap();
    // The binary must be reachable by `nobody`: the tempdir itself is 0700 root.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(tmp.path().join("log")).unwrap();
    let mut child = unsafe {
        Command::new("setpriv")
            .args([
                &format!("--reuid={}", nobody.uid),
                &format!("--regid={}", nobody.gid),
                "--clear-groups",
                "--no-new-privs",
                "--bounding-set=-all",
                "--inh-caps=-all",
                "--ambient-caps=-all",
                "--",
                BIN,
                "--log-format",
                "json",
                "run",
            ])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("DATA_DIR", home.join("data"))
            .env("RUNTIME_DIR", home.join("rt"))
            .env("SHM_DIR", home.join("shm"))
            .env("METRICS_ADDR", &addr)
            .env("NUM_COMPUTE_WORKERS", "1")
            .env("COMPUTE_WORKER_RLIMIT_AS_MB", "8192")
            .current_dir(&home)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .pre_exec(|| {
                nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o027));
                Ok(())
            })
            .spawn()
            .unwrap()
    };
    let logs = || std::fs::read_to_string(tmp.path().join("log")).unwrap_or_default();
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = gaia_dev::harness::http(&addr, "GET", "/ready", None).unwrap_or_default();
        if ready.contains("\"status\":\"ready\"") {
            break;
        }
        if Instant::now() > until || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("not ready under the restrictions: {ready}\n{}", logs());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let db = home.join("data/gaia.db");
    let meta = std::fs::metadata(&db).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.uid(), nobody.uid.as_raw(), "owned by the service user");
    assert_eq!(
        meta.permissions().mode() & 0o007,
        0,
        "no world access (UMask=0027)"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let until = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "no clean stop: {}", logs());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "{}", logs());
}
