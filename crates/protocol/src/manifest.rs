//! The miner's forecast manifest (spec §2.1): one SHA-256 per stored file over
//! `relative_path_utf8 ‖ 0x00 ‖ stored bytes`, wrapped in a JSON object serialised exactly as
//! Python's `json.dumps(sort_keys=True, indent=4)`; the verification hash is the SHA-256 of those
//! bytes. Also the frozen form the validator keeps and the whole-store check used by the CLI.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{pyjson, VerifyError};

/// `manifest_schema_version` written by miners.
pub const MANIFEST_SCHEMA_VERSION: &str = "1.0";
/// `profile_structure_version` written by miners.
pub const PROFILE_STRUCTURE_VERSION: &str = "3.4.0-verify_on_read_mapper";
/// The only chunk hash algorithm the validator accepts (`WEATHER_REQUIRE_SHA256_MANIFESTS`).
pub const CHUNK_HASH_ALGORITHM: &str = "sha256";
/// Files at the store root that are never part of the manifest.
pub const EXCLUDED: [&str; 2] = ["manifest.json", "manifest.sig"];
/// Read buffer for hashing files.
const BUF: usize = 1 << 20;

/// Hex SHA-256 of `path ‖ 0x00 ‖ bytes` for an in-memory value.
pub fn file_hash(relative_path: &str, bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(relative_path.as_bytes());
    h.update([0u8]);
    h.update(bytes);
    hex::encode(h.finalize())
}

/// Hex SHA-256 of `path ‖ 0x00 ‖ file contents`, streaming the file.
pub fn file_hash_streaming(relative_path: &str, file: &Path) -> Result<String, VerifyError> {
    let io = |source| VerifyError::Io {
        path: file.to_path_buf(),
        source,
    };
    let mut f = File::open(file).map_err(io)?;
    let mut h = Sha256::new();
    h.update(relative_path.as_bytes());
    h.update([0u8]);
    let mut buf = vec![0u8; BUF];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Hex SHA-256 of manifest bytes: the verification hash.
pub fn verification_hash(manifest_bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(manifest_bytes))
}

/// A manifest as parsed from its JSON bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// `manifest_schema_version`.
    pub manifest_schema_version: String,
    /// `profile_structure_version`.
    pub profile_structure_version: String,
    /// `chunk_hash_algorithm` (`sha256`; `xxh64` exists in old miners and is refused).
    pub chunk_hash_algorithm: String,
    /// `signer_hotkey_ss58`.
    pub signer_hotkey_ss58: String,
    /// Relative path → hex hash.
    pub files: BTreeMap<String, String>,
}

impl Manifest {
    /// Parse manifest bytes (any key order; extra keys ignored).
    pub fn parse(bytes: &[u8]) -> Result<Self, VerifyError> {
        serde_json::from_slice(bytes).map_err(|e| VerifyError::BadManifest(e.to_string()))
    }

    /// The exact bytes the Python miner writes for this manifest.
    pub fn to_python_bytes(&self) -> Vec<u8> {
        let v = json!({
            "manifest_schema_version": self.manifest_schema_version,
            "profile_structure_version": self.profile_structure_version,
            "chunk_hash_algorithm": self.chunk_hash_algorithm,
            "signer_hotkey_ss58": self.signer_hotkey_ss58,
            "files": self.files.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
        });
        pyjson::dumps_sorted_indent4(&v).into_bytes()
    }
}

/// What the validator keeps after freezing a miner's manifest; travels in work-unit payloads and
/// drives verify-on-read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenManifest {
    /// Relative path → expected hex SHA-256.
    pub files: BTreeMap<String, String>,
    /// SHA-256 of the manifest bytes that were verified.
    pub verification_hash: String,
    /// The signer (the miner's hotkey).
    pub signer_hotkey_ss58: String,
}

impl FrozenManifest {
    /// Freeze a parsed manifest whose bytes hashed to `verification_hash`.
    pub fn from_manifest(m: &Manifest, verification_hash: String) -> Self {
        Self {
            files: m.files.clone(),
            verification_hash,
            signer_hotkey_ss58: m.signer_hotkey_ss58.clone(),
        }
    }
}

/// All regular files under `root` as (relative path with `/`, absolute path), sorted by relative
/// path, excluding the root's `manifest.json`/`manifest.sig`. Like Python's `rglob('*')`,
/// symlinked files are included and symlinked directories are not descended into.
pub fn list_store_files(root: &Path) -> Result<Vec<(String, PathBuf)>, VerifyError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let io = |source| VerifyError::Io {
            path: dir.clone(),
            source,
        };
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let path = entry.path();
            let is_link = entry.file_type().map_err(io)?.is_symlink();
            if path.is_dir() {
                if !is_link {
                    stack.push(path);
                }
                continue;
            }
            if !path.is_file() {
                continue;
            }
            let rel = path
                .strip_prefix(root)
                .map_err(|_| VerifyError::NonUtf8Path(path.display().to_string()))?;
            let parts: Option<Vec<&str>> =
                rel.components().map(|c| c.as_os_str().to_str()).collect();
            let rel = parts
                .ok_or_else(|| VerifyError::NonUtf8Path(path.display().to_string()))?
                .join("/");
            if EXCLUDED.contains(&rel.as_str()) {
                continue;
            }
            out.push((rel, path));
        }
    }
    out.sort();
    Ok(out)
}

/// A freshly built manifest: the object, its exact bytes and their hash.
#[derive(Debug, Clone)]
pub struct BuiltManifest {
    /// The manifest.
    pub manifest: Manifest,
    /// Bytes as the Python miner writes them to `manifest.json`.
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of `bytes`.
    pub verification_hash: String,
}

/// Build the manifest of the store directory `root` for signer `signer_ss58` (spec §2.1).
pub fn build_manifest(root: &Path, signer_ss58: &str) -> Result<BuiltManifest, VerifyError> {
    if !root.is_dir() {
        return Err(VerifyError::Io {
            path: root.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
        });
    }
    let mut files = BTreeMap::new();
    for (rel, path) in list_store_files(root)? {
        let h = file_hash_streaming(&rel, &path)?;
        files.insert(rel, h);
    }
    let manifest = Manifest {
        manifest_schema_version: MANIFEST_SCHEMA_VERSION.into(),
        profile_structure_version: PROFILE_STRUCTURE_VERSION.into(),
        chunk_hash_algorithm: CHUNK_HASH_ALGORITHM.into(),
        signer_hotkey_ss58: signer_ss58.into(),
        files,
    };
    let bytes = manifest.to_python_bytes();
    let verification_hash = verification_hash(&bytes);
    Ok(BuiltManifest {
        manifest,
        bytes,
        verification_hash,
    })
}

/// Result of checking every file of a store on disk against a manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCheck {
    /// Files whose hash matches.
    pub matched: usize,
    /// Files whose hash differs.
    pub mismatched: Vec<String>,
    /// Files in the manifest but not in the store.
    pub missing: Vec<String>,
    /// Files in the store but not in the manifest.
    pub extra: Vec<String>,
}

impl StoreCheck {
    /// True when every file matches and nothing is missing or extra.
    pub fn ok(&self) -> bool {
        self.mismatched.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

/// Re-hash every file of the store directory `root` and compare with `files`.
pub fn check_store(
    root: &Path,
    files: &BTreeMap<String, String>,
) -> Result<StoreCheck, VerifyError> {
    let mut check = StoreCheck::default();
    let mut seen = std::collections::BTreeSet::new();
    for (rel, path) in list_store_files(root)? {
        match files.get(&rel) {
            Some(want) if file_hash_streaming(&rel, &path)?.eq_ignore_ascii_case(want) => {
                check.matched += 1
            }
            Some(_) => check.mismatched.push(rel.clone()),
            None => check.extra.push(rel.clone()),
        }
        seen.insert(rel);
    }
    check.missing = files
        .keys()
        .filter(|k| !seen.contains(*k))
        .cloned()
        .collect();
    Ok(check)
}
