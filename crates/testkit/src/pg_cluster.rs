//! A throwaway PostgreSQL cluster: `initdb` into a temporary directory, started on a private
//! port and Unix-socket directory, stopped and removed on drop.
//!
//! `initdb` refuses to run as root, so when the test runs as root every PostgreSQL program runs
//! as the unprivileged `postgres` user (`runuser -u postgres -- …`) and the data, socket and log
//! directories are handed to that user. As any other user the programs run as that user.
//! Binaries come from `GAIA_PG_BIN` or the newest `/usr/lib/postgresql/<version>/bin`, else PATH.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Failure to set up or control a throwaway cluster.
#[derive(Debug, thiserror::Error)]
pub enum PgClusterError {
    /// A directory could not be prepared.
    #[error("cannot prepare {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// A PostgreSQL program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// OS error.
        source: std::io::Error,
    },
    /// A PostgreSQL program exited non-zero.
    #[error("{program} failed ({status}):\n{output}")]
    Failed {
        /// The program and its action.
        program: String,
        /// Exit status.
        status: std::process::ExitStatus,
        /// What it printed (stdout, stderr and the server log tail).
        output: String,
    },
    /// The unprivileged user needed when running as root does not exist.
    #[error("running as root needs the `postgres` user to run initdb: {0}")]
    NoPostgresUser(String),
    /// The cluster could not be started (e.g. the start task panicked, no free port).
    #[error("cannot start a throwaway PostgreSQL cluster: {0}")]
    Start(String),
    /// Creating or dropping a test database failed.
    #[error("test database {database} on {url}: {source}")]
    Database {
        /// Database name.
        database: String,
        /// Server URL.
        url: String,
        /// Driver error.
        source: sqlx::Error,
    },
}

/// A running throwaway cluster; dropped = stopped and deleted.
#[derive(Debug)]
pub struct PgCluster {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
}

/// The directory holding `initdb` and `pg_ctl`.
pub fn postgres_bin_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("GAIA_PG_BIN").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).unwrap_or_default()
}

fn free_port() -> Result<u16, PgClusterError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|source| PgClusterError::Io {
        path: PathBuf::from("127.0.0.1:0"),
        source,
    })?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|source| PgClusterError::Io {
            path: PathBuf::from("127.0.0.1:0"),
            source,
        })
}

impl PgCluster {
    /// initdb and start a new cluster (trust authentication, superuser `postgres`).
    ///
    /// # Errors
    /// [`PgClusterError`] naming the step that failed, with PostgreSQL's output.
    pub fn start() -> Result<Self, PgClusterError> {
        let run_as = if nix::unistd::geteuid().is_root() {
            Some("postgres".to_owned())
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("gaia-pg-")
            .tempdir()
            .map_err(|source| PgClusterError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let mut cluster = PgCluster {
            dir,
            bin: postgres_bin_dir(),
            port: 0,
            run_as,
        };
        cluster.prepare_dirs()?;
        cluster.pg(
            "initdb",
            &[
                "-D",
                &cluster.data_dir().to_string_lossy(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )?;
        // The port is free when chosen but another process may take it first: try a few.
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.pg_ctl("start") {
                Ok(()) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| PgClusterError::Start("no free port after 5 tries".into())))
    }

    fn prepare_dirs(&self) -> Result<(), PgClusterError> {
        use std::os::unix::fs::PermissionsExt;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PgClusterError::Io { path, source }
        };
        let base = self.dir.path();
        std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).map_err(io(base))?;
        for d in [self.data_dir(), self.socket_dir(), self.log_dir()] {
            std::fs::create_dir(&d).map_err(io(&d))?;
            if let Some(user) = &self.run_as {
                let u = nix::unistd::User::from_name(user)
                    .map_err(|e| PgClusterError::NoPostgresUser(e.to_string()))?
                    .ok_or_else(|| PgClusterError::NoPostgresUser(format!("no user `{user}`")))?;
                nix::unistd::chown(&d, Some(u.uid), Some(u.gid))
                    .map_err(|e| io(&d)(std::io::Error::from(e)))?;
            }
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).map_err(io(&d))?;
        }
        Ok(())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The Unix-socket directory the server listens in.
    pub fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn log_dir(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// The TCP port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of the `postgres` database as superuser `postgres`.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// URL of `database` on this cluster.
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Stop the server (fast shutdown: open connections are cut) until [`Self::start_again`].
    ///
    /// # Errors
    /// [`PgClusterError::Failed`] when pg_ctl fails.
    pub fn stop(&self) -> Result<(), PgClusterError> {
        self.pg_ctl("stop")
    }

    /// Start the server stopped by [`Self::stop`], waiting until it is up.
    ///
    /// # Errors
    /// [`PgClusterError::Failed`] when pg_ctl fails.
    pub fn start_again(&self) -> Result<(), PgClusterError> {
        self.pg_ctl("start")
    }

    /// Restart the server (fast shutdown: open connections are cut), waiting until it is up.
    ///
    /// # Errors
    /// [`PgClusterError::Failed`] when pg_ctl fails.
    pub fn restart(&self) -> Result<(), PgClusterError> {
        self.pg_ctl("restart")
    }

    /// Serve TLS with `cert_pem`/`key_pem` and refuse plain TCP connections (`hostnossl …
    /// reject`; the Unix socket stays open), then restart. For the PostgreSQL-over-TLS test.
    ///
    /// # Errors
    /// [`PgClusterError`] when a file cannot be written or the restart fails.
    pub fn require_tls(&self, cert_pem: &str, key_pem: &str) -> Result<(), PgClusterError> {
        use std::os::unix::fs::PermissionsExt;
        let data = self.data_dir();
        let write = |name: &str, text: &str, mode: u32| -> Result<(), PgClusterError> {
            let path = data.join(name);
            let io = |source| PgClusterError::Io {
                path: path.clone(),
                source,
            };
            std::fs::write(&path, text).map_err(io)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
            if let Some(user) = &self.run_as {
                if let Ok(Some(u)) = nix::unistd::User::from_name(user) {
                    nix::unistd::chown(&path, Some(u.uid), Some(u.gid))
                        .map_err(|e| io(std::io::Error::from(e)))?;
                }
            }
            Ok(())
        };
        write("server.crt", cert_pem, 0o644)?;
        write("server.key", key_pem, 0o600)?;
        write(
            "pg_hba.conf",
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 trust\n\
             hostnossl all all 127.0.0.1/32 reject\n",
            0o600,
        )?;
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|source| PgClusterError::Io {
            path: conf.clone(),
            source,
        })?;
        text.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        write("postgresql.conf", &text, 0o600)?;
        self.restart()
    }

    fn pg_ctl(&self, action: &str) -> Result<(), PgClusterError> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            self.port,
            self.socket_dir().display()
        );
        let log = self.log_dir().join("postgres.log");
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data_dir().to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &opts,
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                action,
            ],
        )
    }

    fn pg(&self, program: &str, args: &[&str]) -> Result<(), PgClusterError> {
        let exe = self.bin.join(program);
        let exe = if exe.exists() {
            exe
        } else {
            PathBuf::from(program)
        };
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        // pg_ctl's children must not inherit a working directory the user cannot read.
        cmd.args(args).current_dir(self.dir.path());
        let label = format!("{} {}", exe.display(), args.last().unwrap_or(&""));
        let out = cmd.output().map_err(|source| PgClusterError::Spawn {
            program: label.clone(),
            source,
        })?;
        if out.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.log_dir().join("postgres.log")).unwrap_or_default();
        let tail: String = log
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Err(PgClusterError::Failed {
            program: label,
            status: out.status,
            output: format!(
                "{}{}\n--- server log ---\n{tail}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Immediate stop: nothing to flush in a throwaway cluster. The TempDir then removes it.
        let data = self.data_dir();
        let _ = self.pg(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

#[cfg(test)]
mod tests;
