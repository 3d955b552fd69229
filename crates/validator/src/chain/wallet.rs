//! Loading the validator hotkey from a Bittensor wallet (chain.md §4).
//!
//! A hotkey lives in `<wallets>/<wallet_name>/hotkeys/<hotkey_name>`, one JSON object per file
//! (`secretPhrase`, `secretSeed`, `privateKey`, `publicKey`, `accountId`, `ss58Address`). Like
//! fiber, only `secretSeed` is used to make the key: the 32-byte mini secret is expanded in
//! Ed25519 mode ([`gaia_protocol::Signer::from_seed_hex`]). The derived public key and SS58
//! address must equal the file's `publicKey`/`accountId` and `ss58Address` — a mismatch is
//! [`WalletError::Mismatch`] naming the file, so a hand-edited or half-copied hotkey never signs.
//!
//! Encrypted keyfiles (`$NACL`, `$ANSIBLE_VAULT`, legacy Fernet `gAAAAA`, chain.md §4.2) are refused
//! with [`WalletError::Encrypted`]: fiber cannot load them either, and Bittensor writes hotkeys
//! unencrypted by default.

use std::path::{Path, PathBuf};

use gaia_protocol::Signer;
use serde::Deserialize;

/// Largest hotkey file read (a real one is well under 1 KiB).
const MAX_KEYFILE_BYTES: u64 = 64 * 1024;

/// Failures loading a hotkey file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    /// The file could not be read.
    #[error("hotkey file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// The file is larger than any hotkey file.
    #[error("hotkey file {path}: {size} bytes, not a hotkey file")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The file is encrypted; only unencrypted hotkeys are supported.
    #[error(
        "hotkey file {path} is encrypted ({format}); only unencrypted hotkeys can be loaded \
         (regenerate the hotkey without a password, as Bittensor does by default)"
    )]
    Encrypted {
        /// The file.
        path: PathBuf,
        /// Which encryption was recognised.
        format: &'static str,
    },
    /// The file is not the expected JSON object.
    #[error("hotkey file {path}: not a hotkey JSON object: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `secretSeed` is not a 32-byte hex seed.
    #[error("hotkey file {path}: bad secretSeed: {reason}")]
    BadSeed {
        /// The file.
        path: PathBuf,
        /// What is wrong (the seed itself is never printed).
        reason: String,
    },
    /// The key derived from `secretSeed` is not the one the file names.
    #[error("hotkey file {path}: {field} is {in_file} but secretSeed gives {derived}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Which field disagrees (`ss58Address`, `publicKey`, `accountId`).
        field: &'static str,
        /// The file's value.
        in_file: String,
        /// The value derived from the seed.
        derived: String,
    },
}

/// The fields of a hotkey file used here (others are ignored).
#[derive(Deserialize)]
struct KeyfileJson {
    #[serde(rename = "secretSeed")]
    secret_seed: Option<String>,
    #[serde(rename = "ss58Address")]
    ss58_address: Option<String>,
    #[serde(rename = "publicKey")]
    public_key: Option<String>,
    #[serde(rename = "accountId")]
    account_id: Option<String>,
}

/// A loaded, checked hotkey.
pub struct Hotkey {
    signer: Signer,
    ss58: String,
    path: PathBuf,
}

impl std::fmt::Debug for Hotkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Hotkey")
            .field("ss58", &self.ss58)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Hotkey {
    /// The signing key (sr25519, signing context `substrate`).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// The SS58 address (prefix 42).
    pub fn ss58(&self) -> &str {
        &self.ss58
    }

    /// The 32-byte public key (= account id).
    pub fn public_key(&self) -> [u8; 32] {
        self.signer.public_key()
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Consume into the signer.
    pub fn into_signer(self) -> Signer {
        self.signer
    }
}

/// `<wallets_dir>/<wallet_name>/hotkeys/<hotkey_name>` (fiber `get_hotkey_file_path`).
pub fn hotkey_path(wallets_dir: &Path, wallet_name: &str, hotkey_name: &str) -> PathBuf {
    wallets_dir
        .join(wallet_name)
        .join("hotkeys")
        .join(hotkey_name)
}

/// The default wallets directory, `$HOME/.bittensor/wallets` (None without `HOME`).
pub fn default_wallets_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".bittensor").join("wallets"))
}

/// Which encryption a keyfile's leading bytes announce, if any (BTW `keyfile.rs` L166-182).
pub fn encryption_format(data: &[u8]) -> Option<&'static str> {
    let trimmed = data.trim_ascii_start();
    if trimmed.starts_with(b"$NACL") {
        Some("NaCl secretbox ($NACL)")
    } else if trimmed.starts_with(b"$ANSIBLE_VAULT") {
        Some("Ansible vault ($ANSIBLE_VAULT)")
    } else if trimmed.starts_with(b"gAAAAA") {
        Some("legacy Fernet (gAAAAA)")
    } else {
        None
    }
}

/// Read and check the hotkey file at `path`.
pub fn load_hotkey(path: &Path) -> Result<Hotkey, WalletError> {
    let io = |source| WalletError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_KEYFILE_BYTES {
        return Err(WalletError::TooLarge {
            path: path.to_path_buf(),
            size,
        });
    }
    // The size above can lie (a device, a file still growing): read no more than the cap.
    let data = crate::files::read_capped(path, MAX_KEYFILE_BYTES).map_err(io)?;
    parse_hotkey(&data, path)
}

/// Check the hotkey file contents `data` (read from `path`, named in errors).
pub fn parse_hotkey(data: &[u8], path: &Path) -> Result<Hotkey, WalletError> {
    let path_buf = || path.to_path_buf();
    if let Some(format) = encryption_format(data) {
        return Err(WalletError::Encrypted {
            path: path_buf(),
            format,
        });
    }
    let file: KeyfileJson = serde_json::from_slice(data).map_err(|e| WalletError::Format {
        path: path_buf(),
        reason: e.to_string(),
    })?;
    let seed = file.secret_seed.ok_or_else(|| WalletError::Format {
        path: path_buf(),
        reason: "no secretSeed (a public-only key cannot sign)".into(),
    })?;
    let signer = Signer::from_seed_hex(&seed).map_err(|e| WalletError::BadSeed {
        path: path_buf(),
        reason: e.to_string(),
    })?;
    let ss58 = signer.ss58();
    let public_hex = format!("0x{}", hex::encode(signer.public_key()));

    let Some(file_ss58) = file.ss58_address else {
        return Err(WalletError::Format {
            path: path_buf(),
            reason: "no ss58Address".into(),
        });
    };
    if file_ss58.trim() != ss58 {
        return Err(WalletError::Mismatch {
            path: path_buf(),
            field: "ss58Address",
            in_file: file_ss58,
            derived: ss58,
        });
    }
    for (field, value) in [
        ("publicKey", file.public_key),
        ("accountId", file.account_id),
    ] {
        let Some(value) = value else { continue };
        let t = value.trim();
        let normalised = format!(
            "0x{}",
            t.strip_prefix("0x").unwrap_or(t).to_ascii_lowercase()
        );
        if normalised != public_hex {
            return Err(WalletError::Mismatch {
                path: path_buf(),
                field,
                in_file: value,
                derived: public_hex,
            });
        }
    }
    Ok(Hotkey {
        signer,
        ss58,
        path: path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // miner-protocol.md §8.1 / chain.md §4.3 test vector.
    const SEED: &str = "0xfac7959dbfe72f052e5a0c3c8d6530f202b02fd8f9f5ca3580ec8deb7797479e";
    const SS58: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";

    #[test]
    fn spec_vector_loads() {
        let json = format!(r#"{{"secretSeed": "{SEED}", "ss58Address": "{SS58}"}}"#);
        let key = parse_hotkey(json.as_bytes(), Path::new("hk")).unwrap();
        assert_eq!(key.ss58(), SS58);
        assert!(!format!("{key:?}").contains("fac7959d"));
    }

    #[test]
    fn encrypted_prefixes_are_recognised() {
        assert!(encryption_format(b"$NACL...").is_some());
        assert!(encryption_format(b"$ANSIBLE_VAULT;1.1").is_some());
        assert!(encryption_format(b"gAAAAABk").is_some());
        assert!(encryption_format(b"{\"secretSeed\":1}").is_none());
    }

    #[test]
    fn path_layout() {
        assert_eq!(
            hotkey_path(Path::new("/w"), "val", "hk1"),
            PathBuf::from("/w/val/hotkeys/hk1")
        );
    }
}
