//! Small facts of the weather protocol both sides compute: the miner's deterministic job id
//! (spec §1.3, DJ `generate_weather_job_id`). The validator uses it to recognise a miner's job;
//! the simulated miners use it to name theirs.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// The miner's deterministic job id for a GFS cycle: a UUID from the first 16 bytes of
/// SHA-256(`"weather_job_forecast_" + %Y%m%d%H%M%S + "_" + hotkey`) with version 4 and the
/// RFC 4122 variant forced (Python `uuid.UUID(bytes=...)` after setting those bits).
pub fn weather_job_id(gfs_init: DateTime<Utc>, miner_hotkey: &str) -> String {
    let text = format!(
        "weather_job_forecast_{}_{}",
        gfs_init.format("%Y%m%d%H%M%S"),
        miner_hotkey
    );
    let digest = Sha256::digest(text.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
