//! Development identities of simulated miners and the name of a forecast store (spec §1.3): each
//! uid gets a fixed sr25519 seed, so its SS58 hotkey is stable across runs. The deterministic job
//! id itself is `gaia_protocol::weather_job_id` (shared with the validator).

use chrono::{DateTime, Utc};
use gaia_protocol::Signer;
use sha2::{Digest, Sha256};

use crate::SimError;

/// The 32-byte development seed of miner `uid`: SHA-256(`"gaia-miner-sim/hotkey/<uid>"`).
pub fn dev_seed(uid: u16) -> [u8; 32] {
    Sha256::digest(format!("gaia-miner-sim/hotkey/{uid}").as_bytes()).into()
}

/// The sr25519 signer of miner `uid`.
pub fn dev_signer(uid: u16) -> Result<Signer, SimError> {
    Ok(Signer::from_seed(&dev_seed(uid))?)
}

/// The HS256 secret miner `uid` signs access tokens with.
pub fn dev_jwt_secret(uid: u16) -> Vec<u8> {
    Sha256::digest(format!("gaia-miner-sim/jwt/{uid}").as_bytes()).to_vec()
}

/// Name of the forecast store directory (spec §1.3):
/// `weather_forecast_{YYYYmmddHH}_miner_hk_{hotkey[:10]}_{jobid[:8]}.zarr`.
pub fn store_dir_name(gfs_init: DateTime<Utc>, hotkey: &str, job_id: &str) -> String {
    let hk: String = hotkey.chars().take(10).collect();
    let job: String = job_id.chars().take(8).collect();
    format!(
        "weather_forecast_{}_miner_hk_{hk}_{job}.zarr",
        gfs_init.format("%Y%m%d%H")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use gaia_protocol::weather_job_id;

    #[test]
    fn job_id_matches_python_uuid_construction() {
        // Python: h = sha256(b"weather_job_forecast_20261128000000_5GU2...").digest()[:16];
        // b = bytearray(h); b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80; uuid.UUID(bytes=bytes(b))
        let t = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
        let hk = "5GU2wYArpfPATbMJvm7WGM5wJqyWdWiZdn7Jo1GoQ4ixmrAo";
        let id = weather_job_id(t, hk);
        let d = Sha256::digest(format!("weather_job_forecast_20261128000000_{hk}").as_bytes());
        let mut b = d[..16].to_vec();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(&b);
        let want = format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        );
        assert_eq!(id, want);
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, weather_job_id(t, "other"));
        let name = store_dir_name(t, hk, &id);
        assert!(name.starts_with("weather_forecast_2026112800_miner_hk_5GU2wYArpf_"));
        assert!(name.ends_with(".zarr"));
    }

    #[test]
    fn dev_keys_are_stable_and_distinct() {
        let a = dev_signer(1).unwrap().ss58();
        assert_eq!(a, dev_signer(1).unwrap().ss58());
        assert_ne!(a, dev_signer(2).unwrap().ss58());
        assert_ne!(dev_jwt_secret(1), dev_jwt_secret(2));
    }
}
