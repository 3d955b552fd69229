//! Headless Chromium for the status page's browser tests: find it (installing Debian's package
//! through `scripts/ensure-chromium` when missing), load a page and return the DOM as the
//! browser rendered it, and save a screenshot.
//!
//! Each call is one `chromium --headless` process with its own throw-away profile directory, so
//! tests running in parallel never share browser state. As root Chromium needs `--no-sandbox`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Why the browser could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// No Chromium and it could not be installed.
    #[error("no Chromium: scripts/ensure-chromium failed ({0}); install Debian's `chromium`")]
    Missing(String),
    /// The browser process failed.
    #[error("chromium {args}: {reason}")]
    Failed {
        /// What it was asked.
        args: String,
        /// Exit status and stderr.
        reason: String,
    },
}

/// A headless Chromium.
#[derive(Debug, Clone)]
pub struct Chromium {
    /// The executable.
    pub path: PathBuf,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

impl Chromium {
    /// `GAIA_CHROMIUM`, else the output of `scripts/ensure-chromium` (which installs the
    /// package when missing).
    ///
    /// # Errors
    /// [`BrowserError::Missing`] when neither works.
    pub fn find_or_install() -> Result<Self, BrowserError> {
        if let Some(p) = std::env::var_os("GAIA_CHROMIUM").map(PathBuf::from) {
            if p.is_file() {
                return Ok(Self { path: p });
            }
        }
        let script = workspace_root().join("scripts/ensure-chromium");
        let out = Command::new(&script)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| BrowserError::Missing(format!("{}: {e}", script.display())))?;
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !out.status.success() || path.is_empty() {
            return Err(BrowserError::Missing(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(Self {
            path: PathBuf::from(path),
        })
    }

    fn run(&self, extra: &[String]) -> Result<Output, BrowserError> {
        let profile = tempfile::tempdir().map_err(|e| BrowserError::Failed {
            args: extra.join(" "),
            reason: e.to_string(),
        })?;
        let mut cmd = Command::new(&self.path);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .stdin(Stdio::null());
        let args = extra.join(" ");
        let child = cmd.output().map_err(|e| BrowserError::Failed {
            args: args.clone(),
            reason: e.to_string(),
        })?;
        if !child.status.success() {
            return Err(BrowserError::Failed {
                args,
                reason: format!(
                    "{}: {}",
                    child.status,
                    String::from_utf8_lossy(&child.stderr)
                ),
            });
        }
        Ok(child)
    }

    /// The DOM of `url` after rendering (`--dump-dom`).
    ///
    /// # Errors
    /// [`BrowserError::Failed`] when Chromium fails.
    pub fn dump_dom(&self, url: &str) -> Result<String, BrowserError> {
        let out = self.run(&["--dump-dom".to_owned(), url.to_owned()])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Save a `width`×`height` screenshot of `url` to `png`.
    ///
    /// # Errors
    /// [`BrowserError::Failed`] when Chromium fails or writes no file.
    pub fn screenshot(
        &self,
        url: &str,
        png: &Path,
        width: u32,
        height: u32,
    ) -> Result<(), BrowserError> {
        let _ = std::fs::remove_file(png);
        self.run(&[
            format!("--screenshot={}", png.display()),
            format!("--window-size={width},{height}"),
            url.to_owned(),
        ])?;
        if !png.is_file() {
            return Err(BrowserError::Failed {
                args: format!("--screenshot {url}"),
                reason: format!("no file at {}", png.display()),
            });
        }
        Ok(())
    }
}

/// Every value of attribute `attr` on elements whose start tag contains `marker` (e.g.
/// `class="cell"`), in document order: how the tests read plotted points out of the DOM.
pub fn attr_values(dom: &str, marker: &str, attr: &str) -> Vec<String> {
    let needle = format!(" {attr}=\"");
    dom.split('<')
        .filter(|tag| tag.split('>').next().is_some_and(|t| t.contains(marker)))
        .filter_map(|tag| {
            let head = tag.split('>').next()?;
            let start = head.find(&needle)? + needle.len();
            let rest = &head[start..];
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}

/// Poll `f` until it returns `Some` or `timeout` passes.
pub fn eventually<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let until = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if std::time::Instant::now() > until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_attributes_of_marked_tags() {
        let dom = r#"<svg><rect class="cell" data-uid="3" data-score="0.5"></rect><rect class="x" data-uid="9"></rect><rect class="cell" data-uid="4" data-score=""></rect></svg>"#;
        assert_eq!(
            attr_values(dom, r#"class="cell""#, "data-uid"),
            vec!["3", "4"]
        );
        assert_eq!(
            attr_values(dom, r#"class="cell""#, "data-score"),
            vec!["0.5", ""]
        );
    }
}
