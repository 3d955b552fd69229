//! The validator's real handlers: thin typed wrappers over the pure functions of
//! `gaia-scoring`, registered under the task names the IO-Engine dispatches.
//!
//! | task | function |
//! |---|---|
//! | `weather.verify.manifest` | `gaia_scoring::verify::handle_verify_manifest` |
//! | `weather.score.day1` | `gaia_scoring::day1::score_day1` |
//! | `weather.score.era5` | `gaia_scoring::era5::score_era5_lead` |
//! | `weather.score.overall` | `gaia_scoring::aggregate::aggregate_overall` (per-lead and overall, §4.4) |
//! | `weather.score.row` | `gaia_scoring::aggregate::build_score_row` |
//! | `weights.calculate` | `gaia_scoring::weights::calculate_weights` |

use gaia_scoring::{aggregate, day1, era5, verify, weights};

use crate::compute::HandlerRegistry;

/// Prefix of a handler error the lifecycle records as `verification_failed` (the forecast does
/// not match what the miner signed); other errors are scoring failures.
pub const VERIFICATION_FAILED_PREFIX: &str = "verification_failed: ";

/// An error message marked as a verification failure or not.
fn classified(verification: bool, message: impl std::fmt::Display) -> String {
    if verification {
        format!("{VERIFICATION_FAILED_PREFIX}{message}")
    } else {
        message.to_string()
    }
}

/// Register the weather and weight handlers.
pub fn register(registry: &mut HandlerRegistry) {
    // Either the manifest bytes the engine fetched, or the store URL for the worker to fetch
    // (`handle_verify_manifest` picks by the payload's shape).
    // Every manifest failure (fetch, hash, signer, signature, policy) is `verification_failed`
    // (spec §2.2 step 4).
    registry.register_typed(verify::VERIFY_MANIFEST_TASK, |req: serde_json::Value| {
        verify::handle_verify_manifest(&req).map_err(|e| classified(true, e))
    });
    registry.register_typed("weather.score.day1", |req: day1::Day1Request| {
        day1::score_day1(&req).map_err(|e| classified(e.is_verification_failure(), e))
    });
    registry.register_typed("weather.score.era5", |req: era5::Era5Request| {
        era5::score_era5_lead(&req).map_err(|e| classified(e.is_verification_failure(), e))
    });
    registry.register_typed("weather.score.overall", |req: aggregate::OverallRequest| {
        aggregate::aggregate_overall(&req)
    });
    registry.register_typed("weather.score.row", |req: aggregate::ScoreRowRequest| {
        aggregate::build_score_row(&req)
    });
    registry.register_typed("weights.calculate", |req: weights::WeightsRequest| {
        weights::calculate_weights(&req)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_weather_task_is_registered() {
        let mut reg = HandlerRegistry::default();
        register(&mut reg);
        assert_eq!(
            reg.task_names(),
            [
                "weather.score.day1",
                "weather.score.era5",
                "weather.score.overall",
                "weather.score.row",
                "weather.verify.manifest",
                "weights.calculate"
            ]
        );
    }

    #[test]
    fn a_payload_of_the_wrong_shape_is_a_named_bad_payload() {
        let mut reg = HandlerRegistry::default();
        register(&mut reg);
        let shared = Default::default();
        let ctx = crate::compute::JobContext {
            job_id: "j",
            shm_dir: std::path::Path::new("/tmp"),
            shared: &shared,
            segment_prefix: "p",
        };
        for task in reg.task_names() {
            let err =
                reg.get(&task).unwrap()(&ctx, &serde_json::json!({"nonsense": true})).unwrap_err();
            let text = err.to_string();
            let named = text.contains(&format!("bad payload for {task}"))
                || text.contains("bad request: missing field");
            assert!(named, "{task}: {err}");
        }
    }
}
