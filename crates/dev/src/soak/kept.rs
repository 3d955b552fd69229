//! Judging a run again from what it left on disk: its samples (`DIR/NAME/samples.json`), the
//! supervisor's log (`DIR/NAME/validator.log`) and its SQLite database (`DIR/NAME.db`). For a
//! long soak stopped on purpose once its calm run was done (`soak --judge-kept`, docs/soak.md):
//! the run's outcome is rebuilt as the harness had it when the run ended, except what only the
//! harness saw (chaos events: a kept run is judged as calm) and the drain's exact length, which
//! is taken from the samples (the wall time after the last simulated day).

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use gaia_store::{Store, StoreConfig};

use super::run::RunOutcome;
use super::sample::Sample;
use super::{data, BUSINESS_START};
use crate::cli::{SoakArgs, SoakDb};

/// The log line the supervisor writes for each child that exited unasked.
pub(crate) const CRASH_LINE: &str = "\"msg\":\"child crashed; restarting\"";

/// The outcome of the run `name` a soak with the same `--out`, `--simulated-days` and
/// `--miners` left under `out` (SQLite only: a PostgreSQL run's cluster ends with its soak).
pub async fn outcome(args: &SoakArgs, out: &Path, name: &str) -> anyhow::Result<RunOutcome> {
    if args.db != SoakDb::Sqlite {
        anyhow::bail!(
            "--judge-kept needs --db sqlite: a PostgreSQL run's cluster is removed with its soak"
        );
    }
    let dir = out.join(name);
    let samples_file = dir.join("samples.json");
    let samples: Vec<Sample> = serde_json::from_slice(
        &std::fs::read(&samples_file)
            .with_context(|| format!("reading {} (did the run end?)", samples_file.display()))?,
    )
    .with_context(|| format!("parsing {}", samples_file.display()))?;
    let last = samples
        .last()
        .with_context(|| format!("{} holds no sample", samples_file.display()))?;
    let log = std::fs::read_to_string(dir.join("validator.log")).unwrap_or_default();
    let db_file = out.join(format!("{name}.db"));
    if !db_file.is_file() {
        anyhow::bail!("no database at {}", db_file.display());
    }
    let start: DateTime<Utc> = BUSINESS_START.parse()?;
    let days = args.simulated_days.max(1);
    let business_end = start + Duration::milliseconds((last.day * 86_400_000.0) as i64);
    let store = Store::open(&StoreConfig::new(format!("sqlite://{}", db_file.display())))
        .await
        .with_context(|| format!("opening {}", db_file.display()))?;
    let complete = data::compared_runs_complete(&store, start, days).await?;
    let results = data::results(&store, start, days, business_end, args.miners).await?;
    store.close().await;
    let days_end_t = samples
        .iter()
        .find(|s| s.day >= f64::from(days))
        .map_or(last.t, |s| s.t);
    Ok(RunOutcome {
        supervisor_alive: last.rss.iter().any(|(n, _, _)| n == "io-engine"),
        crashed: log.matches(CRASH_LINE).count() as u64,
        wall_s: last.t,
        drained_s: complete.then_some(last.t - days_end_t),
        chaos: Vec::new(),
        settled: results.settled,
        lead_rule: results.lead_rule,
        weights: results.weights,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use gaia_store::{UidVector, WeightOutcome, WeightRecord};

    use super::*;
    use crate::cli::{DevCli, DevCommand};

    fn args(out: &Path, extra: &[&str]) -> SoakArgs {
        let mut argv = vec!["gaia-dev", "soak", "--judge-kept", "--simulated-days", "2"];
        argv.extend(["--miners", "5", "--out"]);
        let out = out.display().to_string();
        argv.push(&out);
        argv.extend(extra);
        match DevCli::try_parse_from(argv).unwrap().command {
            DevCommand::Soak(a) => a,
            other => panic!("{other:?}"),
        }
    }

    fn sample(t: f64, day: f64, children: &[&str]) -> Sample {
        Sample {
            t,
            day,
            rss: children
                .iter()
                .map(|n| ((*n).to_owned(), 7, 100 << 20))
                .collect(),
            jobs: t * 3.0,
            ..Sample::default()
        }
    }

    #[tokio::test]
    async fn a_kept_run_is_rebuilt_from_its_samples_log_and_database() {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("calm");
        std::fs::create_dir_all(&dir).unwrap();
        let samples = vec![
            sample(0.0, 0.0, &["io-engine"]),
            sample(10.0, 1.5, &["io-engine", "compute-0"]),
            sample(20.0, 2.0, &["io-engine"]),
            sample(35.0, 2.3, &["io-engine"]),
        ];
        std::fs::write(
            dir.join("samples.json"),
            serde_json::to_vec(&samples).unwrap(),
        )
        .unwrap();
        let line = format!("{{{CRASH_LINE},\"child\":\"compute-0\"}}\n");
        std::fs::write(dir.join("validator.log"), line.repeat(2)).unwrap();
        let url = format!("sqlite://{}", out.path().join("calm.db").display());
        let store = Store::open(&StoreConfig::new(url)).await.unwrap();
        let mut w = UidVector::new(vec![Some(0.0); 256]).unwrap();
        w.set(2, Some(0.75)).unwrap();
        let start: DateTime<Utc> = BUSINESS_START.parse().unwrap();
        let rec = WeightRecord {
            attempt_key: "weights-1".into(),
            created_at: start + Duration::hours(3),
            block: Some(1),
            weights: w,
            outcome: WeightOutcome::Submitted,
            detail: None,
        };
        assert!(store.record_weights(&rec).await.unwrap());
        store.close().await;

        let args = args(out.path(), &[]);
        let run = outcome(&args, out.path(), "calm").await.unwrap();
        assert_eq!(run.samples.len(), 4);
        assert_eq!(run.crashed, 2);
        assert_eq!(run.wall_s, 35.0);
        // Two simulated days leave no cycle to compare, so the drain is complete at once: it
        // lasted from the sample at day 2 to the last one.
        assert_eq!(run.drained_s, Some(15.0));
        assert!(run.supervisor_alive);
        assert!(run.chaos.is_empty());
        assert_eq!(run.weights, vec![0.0, 0.0, 0.75, 0.0, 0.0]);
        assert_eq!(run.lead_rule, (0, Vec::new()));

        let report = crate::soak::judge::calm_only(&args, 2, run);
        let names: Vec<&str> = report.criteria.iter().map(|c| c.name.as_str()).collect();
        assert!(names.contains(&"zero_crashes"), "{names:?}");
        assert!(names.contains(&"event_loop_lag_p99_s_calm"), "{names:?}");
        assert!(!names.iter().any(|n| n.contains("chaos")), "{names:?}");
        let crashes = &report.criteria[0];
        assert!(!crashes.pass, "two crashes without chaos: {crashes:?}");
        assert!(report.figures["runs_judged"]
            .as_str()
            .unwrap()
            .starts_with("calm only"));
        assert_eq!(report.figures["compute_jobs_calm"], 105.0);
        assert!(!report.pass);
    }

    #[tokio::test]
    async fn a_run_that_left_nothing_or_ran_on_postgres_is_named() {
        let out = tempfile::tempdir().unwrap();
        let err = outcome(&args(out.path(), &[]), out.path(), "calm")
            .await
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("calm/samples.json"), "{err:#}");
        let dir = out.path().join("calm");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("samples.json"), b"[]").unwrap();
        let err = outcome(&args(out.path(), &[]), out.path(), "calm")
            .await
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("holds no sample"), "{err:#}");
        let one = serde_json::to_vec(&[sample(1.0, 0.1, &[])]).unwrap();
        std::fs::write(dir.join("samples.json"), one).unwrap();
        let err = outcome(&args(out.path(), &[]), out.path(), "calm")
            .await
            .err()
            .unwrap();
        assert!(format!("{err:#}").contains("no database at"), "{err:#}");
        let pg = args(out.path(), &["--db", "postgres"]);
        let err = outcome(&pg, out.path(), "calm").await.err().unwrap();
        assert!(err.to_string().contains("--db sqlite"), "{err}");
    }
}
