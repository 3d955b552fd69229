//! `GET`/`HEAD /forecasts/{path}` (miner-protocol.md §7.4): the access token must be valid and
//! unexpired (401), the path must stay inside the token's `file_path` store (403, also for any
//! `..`/`.` component), a directory answers a listing, a missing file 404. Bytes come from the
//! in-memory store ([`crate::served`]). The chunk swapper's swap is triggered here, by the first
//! `GET` of the store's `manifest.json`.

use super::protocol::{FileReply, Rejection};
use super::MinerCore;
use crate::jwt::{self, TokenError};
use crate::served::Entry;

/// Check `path` (relative to `/forecasts/`) against the token's `file_path`; returns the
/// cleaned components.
pub fn confine<'a>(path: &'a str, file_path: &str) -> Result<Vec<&'a str>, Rejection> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let parts: Vec<&str> = trimmed.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == ".." || *p == "." || p.contains('\\'))
    {
        return Err(Rejection::Forbidden(format!(
            "path `{path}` is not allowed"
        )));
    }
    if parts.first() != Some(&file_path) {
        return Err(Rejection::Forbidden(format!(
            "token does not grant access to `{path}`"
        )));
    }
    Ok(parts)
}

impl MinerCore {
    /// Serve `path` (relative to `/forecasts/`) for `token`; `head` skips the swap trigger (the
    /// length is still returned as the bytes' length).
    pub fn file(
        &self,
        path: &str,
        token: Option<&str>,
        head: bool,
    ) -> Result<FileReply, Rejection> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Rejection::Unauthorized("Missing access token".into()))?;
        let claims = jwt::validate(self.jwt_secret(), token).map_err(|e| match e {
            TokenError::Expired => Rejection::Unauthorized("Token has expired".into()),
            other => Rejection::Unauthorized(other.to_string()),
        })?;
        let parts = confine(path, &claims.file_path)?;
        let not_found = || Rejection::NotFound(format!("`{path}` not found"));
        let store = self.store_named(parts[0]).ok_or_else(not_found)?;
        self.used(&store);
        let rel = parts[1..].join("/");
        let entry = store
            .entry(&rel)
            .map_err(|e| Rejection::Internal(e.to_string()))?
            .ok_or_else(not_found)?;
        if !head && rel == "manifest.json" {
            store.on_manifest_fetched();
        }
        Ok(match entry {
            Entry::File(bytes) => FileReply::Bytes(bytes),
            Entry::Dir(names) => FileReply::Listing(names),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confinement_rules() {
        assert_eq!(confine("a.zarr", "a.zarr").unwrap(), vec!["a.zarr"]);
        assert_eq!(confine("a.zarr/", "a.zarr").unwrap(), vec!["a.zarr"]);
        assert_eq!(confine("a.zarr/2t/0.0.0", "a.zarr").unwrap().len(), 3);
        for bad in [
            "b.zarr/x",
            "a.zarr/../b.zarr",
            "a.zarr/./x",
            "a.zarr//x",
            "a.zarrx",
            "..",
            "a.zarr/a\\b",
            "",
        ] {
            assert!(
                matches!(confine(bad, "a.zarr"), Err(Rejection::Forbidden(_))),
                "{bad}"
            );
        }
    }
}
