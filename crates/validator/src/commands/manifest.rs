//! `gaia-validator manifest build|verify`: the miner-side manifest (spec §2.1) for a store on
//! disk, and the validator-side checks (hash, sr25519 signature, every file) from the command
//! line. The simulated miner uses `build`; operators use `verify` to inspect a store.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use gaia_protocol::{
    build_manifest, check_store, parse_signature_hex, verification_hash, verify_manifest_bytes,
    Manifest, Signer, StoreCheck,
};
use serde::Serialize;

use crate::cli::{ManifestBuildArgs, ManifestCommand, ManifestVerifyArgs};

/// Run a `manifest` subcommand; prints one JSON object.
pub fn run(cmd: &ManifestCommand) -> anyhow::Result<ExitCode> {
    let (value, ok) = match cmd {
        ManifestCommand::Build(args) => (serde_json::to_value(build(args)?)?, true),
        ManifestCommand::Verify(args) => {
            let report = verify(args)?;
            let ok = report.ok;
            (serde_json::to_value(report)?, ok)
        }
    };
    // A closed stdout (`| head`) is not an error worth a panic.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string_pretty(&value)?);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `manifest build` did.
#[derive(Debug, Serialize)]
pub struct BuildOutcome {
    /// SHA-256 of the manifest bytes.
    pub verification_hash: String,
    /// Files hashed.
    pub files: usize,
    /// Recorded signer.
    pub signer_hotkey_ss58: String,
    /// Manifest path written.
    pub manifest: PathBuf,
    /// Signature path written, when signing.
    pub signature: Option<PathBuf>,
}

/// Build (and optionally sign) the manifest of a store directory.
pub fn build(args: &ManifestBuildArgs) -> anyhow::Result<BuildOutcome> {
    let seed = crate::files::secret(args.sign_seed_file.as_deref(), "GAIA_MANIFEST_SIGN_SEED")
        .context("reading the signing seed")?;
    let signer = seed.as_deref().map(Signer::from_seed_hex).transpose()?;
    let address = match (&signer, &args.signer) {
        (Some(s), Some(given)) if s.ss58() != *given => {
            bail!(
                "--signer {given} is not the address of the signing seed ({})",
                s.ss58()
            )
        }
        (Some(s), _) => s.ss58(),
        (None, Some(given)) => {
            gaia_protocol::ss58::decode(given)?;
            given.clone()
        }
        (None, None) => bail!(
            "give --sign-seed-file or GAIA_MANIFEST_SIGN_SEED (to sign), or --signer (to record an \
             address)"
        ),
    };
    let built = build_manifest(&args.store, &address)
        .with_context(|| format!("hashing {}", args.store.display()))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.store.join("manifest.json"));
    std::fs::write(&out, &built.bytes).with_context(|| format!("writing {}", out.display()))?;
    let signature = match &signer {
        Some(s) => {
            let path = args
                .sig_out
                .clone()
                .unwrap_or_else(|| sibling(&out, "manifest.sig"));
            std::fs::write(&path, s.sign(&built.bytes))
                .with_context(|| format!("writing {}", path.display()))?;
            Some(path)
        }
        None => None,
    };
    Ok(BuildOutcome {
        verification_hash: built.verification_hash,
        files: built.manifest.files.len(),
        signer_hotkey_ss58: address,
        manifest: out,
        signature,
    })
}

fn sibling(path: &Path, name: &str) -> PathBuf {
    path.parent()
        .map_or_else(|| PathBuf::from(name), |p| p.join(name))
}

/// What `manifest verify` found.
#[derive(Debug, Serialize)]
pub struct VerifyOutcome {
    /// Everything checked passed.
    pub ok: bool,
    /// SHA-256 of the manifest bytes.
    pub verification_hash: String,
    /// Recorded signer.
    pub signer_hotkey_ss58: String,
    /// Signature check result: `null` when not requested, else "ok" or the error.
    pub signature: Option<String>,
    /// Per-file comparison with the store.
    pub files: StoreCheck,
}

/// Check a manifest file and the store it describes.
pub fn verify(args: &ManifestVerifyArgs) -> anyhow::Result<VerifyOutcome> {
    let bytes = crate::files::read_capped(&args.manifest, crate::files::DATA_FILE_BYTES)
        .with_context(|| format!("reading {}", args.manifest.display()))?;
    let hash = verification_hash(&bytes);
    let manifest = Manifest::parse(&bytes)?;
    let signature = match &args.hotkey {
        None => None,
        Some(hotkey) => {
            let sig = match &args.signature {
                Some(hex) => parse_signature_hex(hex)?.to_vec(),
                None => {
                    let path = sibling(&args.manifest, "manifest.sig");
                    crate::files::read_capped(&path, crate::files::SMALL_FILE_BYTES)
                        .with_context(|| format!("reading {}", path.display()))?
                }
            };
            let claimed = args.claimed_hash.clone().unwrap_or_else(|| hash.clone());
            Some(
                match verify_manifest_bytes(&bytes, &sig, &claimed, hotkey, true) {
                    Ok(_) => "ok".to_owned(),
                    Err(e) => e.to_string(),
                },
            )
        }
    };
    let hash_ok = args
        .claimed_hash
        .as_ref()
        .is_none_or(|c| c.eq_ignore_ascii_case(&hash));
    let files = check_store(&args.store, &manifest.files)?;
    Ok(VerifyOutcome {
        ok: hash_ok && files.ok() && signature.as_deref().is_none_or(|s| s == "ok"),
        verification_hash: hash,
        signer_hotkey_ss58: manifest.signer_hotkey_ss58,
        signature,
        files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "ab58ab9317c17c98816ad970dbc533dc45687acd9e790f521cc656298e615c29";
    const SS58: &str = "5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo";
    const OTHER: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";

    fn store() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("2t")).unwrap();
        std::fs::write(d.path().join(".zgroup"), br#"{"zarr_format": 2}"#).unwrap();
        std::fs::write(d.path().join("2t/0.0"), [1u8, 2, 3]).unwrap();
        d
    }

    /// A file holding [`SEED`], outside any store (kept for the test process's life).
    fn seed_file() -> PathBuf {
        static FILE: std::sync::OnceLock<tempfile::NamedTempFile> = std::sync::OnceLock::new();
        FILE.get_or_init(|| {
            let f = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(f.path(), SEED).unwrap();
            f
        })
        .path()
        .to_path_buf()
    }

    fn build_args(store: &Path) -> ManifestBuildArgs {
        ManifestBuildArgs {
            store: store.into(),
            sign_seed_file: Some(seed_file()),
            signer: None,
            out: None,
            sig_out: None,
        }
    }

    fn verify_args(store: &Path, hotkey: Option<&str>) -> ManifestVerifyArgs {
        ManifestVerifyArgs {
            store: store.into(),
            manifest: store.join("manifest.json"),
            hotkey: hotkey.map(str::to_owned),
            signature: None,
            claimed_hash: None,
        }
    }

    #[test]
    fn build_then_verify_round_trip() {
        let d = store();
        let built = build(&build_args(d.path())).unwrap();
        assert_eq!(built.signer_hotkey_ss58, SS58);
        assert_eq!(built.files, 2);
        assert_eq!(
            std::fs::read(d.path().join("manifest.sig")).unwrap().len(),
            64
        );
        let bytes = std::fs::read(d.path().join("manifest.json")).unwrap();
        assert_eq!(verification_hash(&bytes), built.verification_hash);
        let ok = verify(&verify_args(d.path(), Some(SS58))).unwrap();
        assert!(ok.ok, "{ok:?}");
        assert_eq!(ok.signature.as_deref(), Some("ok"));
        // The manifest's own files are excluded, so building again gives the same hash.
        assert_eq!(
            build(&build_args(d.path())).unwrap().verification_hash,
            built.verification_hash
        );
    }

    #[test]
    fn verify_reports_wrong_signer_changed_files_and_hash() {
        let d = store();
        let built = build(&build_args(d.path())).unwrap();
        let wrong = verify(&verify_args(d.path(), Some(OTHER))).unwrap();
        assert!(!wrong.ok);
        assert!(wrong.signature.unwrap().contains("signed for"));
        std::fs::write(d.path().join("2t/0.0"), [9u8]).unwrap();
        let changed = verify(&verify_args(d.path(), None)).unwrap();
        assert!(!changed.ok);
        assert_eq!(changed.files.mismatched, vec!["2t/0.0".to_owned()]);
        let mut claimed = verify_args(d.path(), None);
        std::fs::write(d.path().join("2t/0.0"), [1u8, 2, 3]).unwrap();
        claimed.claimed_hash = Some("00".repeat(32));
        assert!(!verify(&claimed).unwrap().ok);
        claimed.claimed_hash = Some(built.verification_hash.to_uppercase());
        assert!(verify(&claimed).unwrap().ok);
    }

    #[test]
    fn build_needs_a_signer_and_a_consistent_one() {
        let d = store();
        let mut args = build_args(d.path());
        args.sign_seed_file = None;
        assert!(build(&args).is_err());
        args.signer = Some("not-an-address".into());
        assert!(build(&args).is_err());
        args.signer = Some(OTHER.into());
        let unsigned = build(&args).unwrap();
        assert!(unsigned.signature.is_none());
        args.sign_seed_file = Some(seed_file());
        assert!(build(&args).is_err(), "seed and --signer disagree");
        let mut out = build_args(d.path());
        out.out = Some(d.path().join("elsewhere.json"));
        let o = build(&out).unwrap();
        assert_eq!(o.signature, Some(d.path().join("manifest.sig")));
        assert!(d.path().join("elsewhere.json").exists());
    }
}
