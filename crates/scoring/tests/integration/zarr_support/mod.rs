//! Shared by the `zarr_*` and `verify_*` tests: fixture stores written by xarray (through
//! `scripts/fixtures/zarr_stores.py`) and a small HTTP/1.1 file server on loopback that checks a
//! Bearer token, answers `Range` requests and can be told to stall (for timeouts).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The fixture directory, written once by `scripts/fixtures/zarr_stores.py` and shared by every
/// test process (gaia_testkit::python_fixture): read-only, [`fresh_copy`] gives a writable copy.
pub(crate) fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        gaia_testkit::python_fixture("scripts/fixtures/zarr_stores.py")
            .expect("fixture script")
            .dir
    })
}

/// Copy fixture store `name` into a fresh temp dir (for tests that modify it).
pub(crate) fn fresh_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let dst = dir.path().join(format!("{name}.zarr"));
    copy_dir(&fixtures().join(format!("{name}.zarr")), &dst);
    (dir, dst)
}

/// Recursive directory copy.
pub(crate) fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read_dir") {
        let e = e.expect("entry");
        let to = dst.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), to).expect("copy");
        }
    }
}

/// The expected-values JSON the fixture script wrote for store `name`.
pub(crate) fn expected(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join(format!("{name}.expected.json")))
        .expect("expected json");
    serde_json::from_str(&text).expect("json")
}

/// Behaviour switches of the test server.
#[derive(Default)]
pub(crate) struct ServerControl {
    /// Stall this long before answering.
    pub delay_ms: AtomicUsize,
    /// Claim this Content-Length (0 = the true length) — to test the declared-size limit.
    pub fake_length: AtomicUsize,
    /// Answer every request with 500.
    pub fail: AtomicBool,
}

/// A file server on 127.0.0.1 serving `root`.
pub(crate) struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Request lines received (`GET /path`), for asserting what was fetched.
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Switches.
    pub control: Arc<ServerControl>,
}

impl TestServer {
    /// Serve `root`; when `token` is set, requests without `Authorization: Bearer <token>` get 401.
    pub(crate) fn start(root: &Path, token: Option<&str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let control = Arc::new(ServerControl::default());
        let (root, token) = (root.to_path_buf(), token.map(str::to_owned));
        let (reqs, ctl) = (requests.clone(), control.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, token, reqs, ctl) =
                    (root.clone(), token.clone(), reqs.clone(), ctl.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, token.as_deref(), &reqs, &ctl);
                });
            }
        });
        Self {
            base,
            requests,
            control,
        }
    }

    /// URL of a path under the server root.
    pub(crate) fn url(&self, rel: &str) -> String {
        format!("{}/{}", self.base, rel)
    }

    /// Paths requested so far.
    pub(crate) fn requested(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

fn serve(
    mut stream: TcpStream,
    root: &Path,
    token: Option<&str>,
    reqs: &Mutex<Vec<String>>,
    ctl: &ServerControl,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("/").to_owned(),
    );
    let mut auth = None;
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "authorization" => auth = Some(v.trim().to_owned()),
                "range" => range = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    reqs.lock().expect("lock").push(format!("{method} {path}"));
    let delay = ctl.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        std::thread::sleep(Duration::from_millis(delay as u64));
    }
    let reply = |stream: &mut TcpStream,
                 status: &str,
                 len: usize,
                 body: &[u8],
                 extra: &str|
     -> std::io::Result<()> {
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n{extra}\r\n"
        )?;
        if method != "HEAD" {
            stream.write_all(body)?;
        }
        stream.flush()
    };
    if ctl.fail.load(Ordering::SeqCst) {
        return reply(&mut stream, "500 Internal Server Error", 0, b"", "");
    }
    if let Some(t) = token {
        if auth.as_deref() != Some(&format!("Bearer {t}")) {
            return reply(&mut stream, "401 Unauthorized", 0, b"", "");
        }
    }
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|c| c == "..") {
        return reply(&mut stream, "403 Forbidden", 0, b"", "");
    }
    let Ok(mut f) = std::fs::File::open(root.join(rel)) else {
        return reply(&mut stream, "404 Not Found", 0, b"", "");
    };
    let mut body = Vec::new();
    if f.read_to_end(&mut body).is_err() {
        return reply(&mut stream, "404 Not Found", 0, b"", "");
    }
    if let Some(r) = range.and_then(|r| r.strip_prefix("bytes=").map(str::to_owned)) {
        if let Some((a, b)) = r.split_once('-') {
            let start: usize = a.parse().unwrap_or(0);
            let end: usize = b
                .parse()
                .map(|e: usize| e + 1)
                .unwrap_or(body.len())
                .min(body.len());
            let part = &body[start.min(end)..end];
            let extra = format!(
                "Content-Range: bytes {start}-{}/{}\r\n",
                end.saturating_sub(1),
                body.len()
            );
            return reply(&mut stream, "206 Partial Content", part.len(), part, &extra);
        }
    }
    let fake = ctl.fake_length.load(Ordering::SeqCst);
    let len = if fake > 0 { fake } else { body.len() };
    reply(&mut stream, "200 OK", len, &body, "")
}
