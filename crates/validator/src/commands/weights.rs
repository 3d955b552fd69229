//! `gaia-validator weights --scores-json FILE [--now T] [--json]`: run the weight calculation
//! (spec §5.2–5.3) on a JSON file of score rows and nodes and print the float weights and the
//! u16 vector fiber would submit. The same pure function backs the `weights.calculate` handler;
//! this command lets an operator check a vector by hand. File format: `docs/weights.md`.
//! Without `--scores-json`, `weights` shows the vectors recorded in the database instead
//! (`commands::operator`).

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use gaia_scoring::weights::{calculate_weights, WeightsFile, WeightsResult};

use crate::cli::WeightsArgs;

/// Run the subcommand.
pub fn run(args: &WeightsArgs, scores_json: &Path) -> anyhow::Result<ExitCode> {
    let text = crate::files::read_text_capped(scores_json, crate::files::DATA_FILE_BYTES)
        .with_context(|| format!("reading {}", scores_json.display()))?;
    let result = compute(&text, args.now.as_deref())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        print!("{}", render_table(&result));
    }
    Ok(ExitCode::SUCCESS)
}

/// Parse the file (with `now` overridden if given) and compute the weights.
pub fn compute(text: &str, now: Option<&str>) -> anyhow::Result<WeightsResult> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).context("the scores file is not valid JSON")?;
    if let Some(now) = now {
        let obj = value
            .as_object_mut()
            .context("the scores file must hold a JSON object")?;
        obj.insert(
            "now".to_string(),
            serde_json::Value::String(now.to_string()),
        );
    }
    let file: WeightsFile =
        serde_json::from_value(value).context("the scores file does not match docs/weights.md")?;
    let request = file.into_request(std::time::SystemTime::now());
    calculate_weights(&request).context("invalid weight input")
}

/// The human-readable report: a summary, one line per UID with weight, and the u16 vectors.
pub fn render_table(r: &WeightsResult) -> String {
    let mut out = String::new();
    let fallback = r.fallback.map_or("none".to_string(), |f| format!("{f:?}"));
    let _ = writeln!(out, "rows used: {}  fallback: {fallback}", r.rows_used);
    if let (Some(m), Some(cv)) = (r.midpoint, r.cv) {
        let _ = writeln!(
            out,
            "midpoint M: {m:.8}  cv: {cv:.6}  contrast rule: {}",
            if r.contrast_applied {
                "applied"
            } else {
                "not applied"
            }
        );
    }
    let burn = r
        .burn_uid
        .map_or("none".to_string(), |u| format!("uid {u}"));
    let _ = writeln!(out, "burn: {burn}");
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(
        out,
        "{:>4}  {:>12}  {:>14}  {:>14}  {:>5}",
        "uid", "15d score", "weight", "pre-burn", "u16"
    );
    for (uid, value) in r.uids.iter().zip(&r.values) {
        let i = usize::from(*uid);
        let _ = writeln!(
            out,
            "{uid:>4}  {:>12.8}  {:>14.10}  {:>14.10}  {value:>5}",
            r.aggregated_scores[i], r.weights[i], r.pre_burn_weights[i]
        );
    }
    let _ = writeln!(out, "uids:   {:?}", r.uids);
    let _ = writeln!(out, "values: {:?}", r.values);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(now: Option<&str>) -> String {
        let mut scores = vec![serde_json::Value::Null; 256];
        scores[7] = serde_json::json!(0.6);
        let mut v = serde_json::json!({
            "rows": [{"task_id": "weather_scores_r1", "created_at": "2026-11-27T00:00:00Z",
                      "scores": scores}],
            "nodes": [{"uid": 7, "hotkey": "m", "ip": "1.2.3.4"}],
            "config": {"burn": {"uid": 252}}
        });
        if let Some(now) = now {
            v["now"] = serde_json::json!(now);
        }
        v.to_string()
    }

    #[test]
    fn single_miner_file_gives_the_hand_checked_vector() {
        // One miner: weight 1 before the burn, 0.25 after; u16 21845 and 65535 (see
        // crates/scoring/tests/weights_calculate.rs for the derivation).
        let r = compute(&file(Some("2026-11-28T00:00:00Z")), None).unwrap();
        assert_eq!(r.uids, vec![7, 252]);
        assert_eq!(r.values, vec![21845, 65535]);
        let table = render_table(&r);
        assert!(table.contains("rows used: 1"));
        assert!(table.contains("values: [21845, 65535]"));
        assert!(table.contains("burn: uid 252"));
    }

    #[test]
    fn now_flag_overrides_the_file_and_moves_the_window() {
        // 20 days after the row: outside the 15-day window → fallback to UID 252 only.
        let r = compute(
            &file(Some("2026-11-28T00:00:00Z")),
            Some("2026-12-17T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(r.rows_used, 0);
        assert_eq!(r.uids, vec![252]);
        assert!(render_table(&r).contains("NoRows"));
    }

    #[test]
    fn bad_input_is_reported() {
        assert!(compute("not json", None).is_err());
        assert!(compute("[1, 2]", Some("2026-11-28T00:00:00Z")).is_err());
        assert!(compute(r#"{"rows": 5}"#, None).is_err());
        let bad_now = compute(&file(None), Some("yesterday"));
        assert!(bad_now.is_err());
    }
}
