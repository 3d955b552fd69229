//! What an operator meets first: the `.env` file and the command line. `.env.example` reads the
//! same in a dotenv parser and a POSIX shell and resolves to the built-in defaults; `.env` can set
//! what the command line reads; an invalid setting exits with 78, the code the service managers
//! are told not to restart on; one-shot commands log to stderr in human form.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::BIN;

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// `gaia-dev ARGS` in `dir` with only `PATH` and `env` in the environment.
fn clean(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

/// `.env.example` with every `#KEY=value` line uncommented: what an operator gets who
/// uncomments everything.
fn uncommented_example() -> String {
    let text = std::fs::read_to_string(repo_file(".env.example")).unwrap();
    text.lines()
        .map(|line| {
            let body = line.strip_prefix('#').unwrap_or(line);
            let is_assignment = body.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            });
            if is_assignment { body } else { line }.to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn keys_of(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
        .collect()
}

#[test]
fn env_example_reads_the_same_in_dotenv_and_a_posix_shell_and_gives_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.env");
    let text = uncommented_example();
    std::fs::write(&file, &text).unwrap();
    let keys = keys_of(&text);
    assert!(keys.len() > 60, "{keys:?}");

    let dotenv: BTreeMap<String, String> = dotenvy::from_path_iter(&file)
        .unwrap()
        .map(|item| item.expect("every line parses in dotenv"))
        .collect();
    let out = Command::new("sh")
        .args(["-c", "set -eu; set -a; . \"$1\"; env -0", "sh"])
        .arg(&file)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(out.status.success(), "the shell refuses the file: {out:?}");
    let shell: BTreeMap<String, String> = out
        .stdout
        .split(|b| *b == 0)
        .filter_map(|kv| {
            std::str::from_utf8(kv)
                .ok()?
                .split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    for key in &keys {
        assert_eq!(
            dotenv.get(key),
            shell.get(key),
            "{key} reads differently in dotenv and in sh"
        );
    }

    // The uncommented example resolves to exactly the built-in defaults, apart from the lines
    // that are meant to be filled in (the database URL).
    let env: Vec<(String, String)> = dotenv.into_iter().collect();
    let from_example = clean(dir.path(), &["check-config"], &env);
    assert!(from_example.status.success(), "{from_example:?}");
    let defaults = clean(dir.path(), &["check-config"], &[]);
    let mut from_example: Value = serde_json::from_slice(&from_example.stdout).unwrap();
    let mut defaults: Value = serde_json::from_slice(&defaults.stdout).unwrap();
    for v in [&mut from_example, &mut defaults] {
        v.as_object_mut().unwrap().remove("database_url");
    }
    assert_eq!(from_example, defaults);
}

#[test]
fn dot_env_sets_what_the_command_line_reads_and_bad_settings_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    // LOG_FORMAT in .env applies to a one-shot command's log lines (read before the command
    // line is parsed); RUST_LOG is the filter.
    std::fs::write(
        dir.path().join(".env"),
        "LOG_FORMAT=json\nRUST_LOG=debug\nDATABASE_URL=postgres://u@127.0.0.1:1/x\n",
    )
    .unwrap();
    let out = clean(
        dir.path(),
        &["migrate", "--status"],
        &[("LOG_LEVEL".into(), "info".into())],
    );
    assert!(!out.status.success(), "nothing listens on port 1: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json_lines: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        json_lines
            .iter()
            .any(|l| l["level"] == "WARN" || l["level"] == "INFO"),
        "the retries are logged, as JSON lines: {stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a database fault is not a settings fault"
    );

    // Without LOG_FORMAT a one-shot command logs in human form.
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=postgres://u@127.0.0.1:1/x\n",
    )
    .unwrap();
    let out = clean(dir.path(), &["migrate", "--status"], &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARN") || stderr.contains("INFO"),
        "{stderr}"
    );
    assert!(
        stderr
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_err()),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "no colour codes in a file: {stderr}"
    );

    // An invalid setting in .env: 78 from `run`, `migrate` and `check-config`.
    std::fs::write(dir.path().join(".env"), "IPC_QUEUE_SIZE=0\n").unwrap();
    for args in [&["run"][..], &["migrate"], &["check-config"]] {
        let out = clean(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(78), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("IPC_QUEUE_SIZE"),
            "{out:?}"
        );
    }
    // A .env that cannot be parsed: 78 before anything else, naming the file's problem.
    std::fs::write(dir.path().join(".env"), "A='unterminated\n").unwrap();
    let out = clean(dir.path(), &["version"], &[]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(".env"),
        "{out:?}"
    );
}

#[test]
fn online_mode_refuses_to_start_without_a_usable_hotkey() {
    let dir = tempfile::tempdir().unwrap();
    let wallets = repo_file("crates/validator/tests/fixtures/chain/wallets");
    let online = |extra: &[(&str, String)]| {
        let mut env: Vec<(String, String)> = vec![
            ("CHAIN__MODE".into(), "online".into()),
            (
                "RUNTIME_DIR".into(),
                dir.path().join("rt").display().to_string(),
            ),
        ];
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        clean(dir.path(), &["run"], &env)
    };
    // No hotkey at all: refused before anything starts, naming both ways to give one.
    let out = online(&[]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CHAIN__HOTKEY_FILE") && err.contains("CHAIN__WALLET_NAME"),
        "{err}"
    );
    // A wallet name whose hotkey is encrypted (btcli's NaCl format): refused by name.
    let out = online(&[
        ("CHAIN__WALLET_PATH", wallets.display().to_string()),
        ("CHAIN__WALLET_NAME", "gaia".into()),
        ("CHAIN__HOTKEY_NAME", "encrypted".into()),
    ]);
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("CHAIN__HOTKEY_FILE") && err.contains("encrypted"),
        "{err}"
    );
    // `check-config` resolves the wallet names (and `~`) to the file it would load.
    let out = clean(
        dir.path(),
        &["check-config"],
        &[
            (
                "HOME".into(),
                wallets.parent().unwrap().display().to_string(),
            ),
            ("CHAIN__WALLET_PATH".into(), "~/wallets".into()),
            ("CHAIN__WALLET_NAME".into(), "gaia".into()),
        ],
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = json["chain"]["hotkey_file"].as_str().unwrap();
    assert!(
        file.ends_with("chain/wallets/gaia/hotkeys/default") && !file.contains('~'),
        "{file}"
    );
}
