//! Tests of the step catalogue: keys and payloads as earlier versions stored them, and the round
//! trip through a ledger row.

use chrono::TimeZone;
use serde_json::json;

use super::*;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 18, 5, 0).unwrap()
}

fn every_step() -> Vec<Step> {
    let init = Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap();
    vec![
        WeatherStep::Run(RunPayload { gfs_init: init }).step(),
        WeatherStep::Query(MinerRef { run_id: 3, uid: 7 }).step(),
        WeatherStep::Day1(ResponseRef {
            run_id: 3,
            uid: 7,
            response_id: 11,
        })
        .step(),
        WeatherStep::Era5(LeadRef {
            run_id: 3,
            uid: 7,
            response_id: 11,
            lead_hours: 48,
        })
        .step(),
        WeatherStep::Overall(ResponseRef {
            run_id: 3,
            uid: 7,
            response_id: 11,
        })
        .step(),
        WeatherStep::Finalize(RunRef { run_id: 3 }).step(),
        WeatherStep::Recompute(Occurrence::at(at())).step(),
        Step::SyncMetagraph(Occurrence::at(at())),
        Step::SetWeights(WeightsTrigger::cadence(at())),
        Step::SetWeights(WeightsTrigger::run_completed(3)),
    ]
}

/// The ledger row of `new` as claimed for its `attempts`-th run.
pub(crate) fn claimed(new: &NewJob, attempts: i32) -> Job {
    Job {
        id: 1,
        job_key: new.job_key.clone(),
        job_type: new.job_type.clone(),
        status: gaia_store::JobStatus::InProgress,
        priority: new.priority,
        payload: new.payload.clone(),
        attempts,
        max_attempts: new.max_attempts,
        scheduled_at: new.scheduled_at,
        next_retry_at: None,
        lease_expires_at: None,
        claimed_by: None,
        last_error: None,
        result: None,
        run_id: new.run_id,
        created_at: new.scheduled_at,
        updated_at: new.scheduled_at,
    }
}

#[test]
fn keys_types_priorities_and_payloads_are_those_earlier_versions_stored() {
    let expected = [
        (
            "weather.run:2026112800",
            "weather.run",
            50,
            json!({"gfs_init": "2026-11-28T00:00:00Z"}),
            None,
        ),
        (
            "weather.query:3:7",
            "weather.query",
            80,
            json!({"run_id": 3, "uid": 7}),
            Some(3),
        ),
        (
            "weather.day1:11",
            "weather.day1",
            60,
            json!({"run_id": 3, "uid": 7, "response_id": 11}),
            Some(3),
        ),
        (
            "weather.era5:11:48",
            "weather.era5",
            100,
            json!({"run_id": 3, "uid": 7, "response_id": 11, "lead_hours": 48}),
            Some(3),
        ),
        (
            "weather.overall:11",
            "weather.overall",
            100,
            json!({"run_id": 3, "uid": 7, "response_id": 11}),
            Some(3),
        ),
        (
            "weather.finalize:3",
            "weather.finalize",
            100,
            json!({"run_id": 3}),
            Some(3),
        ),
        (
            "weather.recompute:20261128T1805",
            "weather.recompute",
            50,
            json!({"occurrence": "2026-11-28T18:05:00Z"}),
            None,
        ),
        (
            "metagraph.sync:20261128T1805",
            "metagraph.sync",
            50,
            json!({"occurrence": "2026-11-28T18:05:00Z"}),
            None,
        ),
        (
            "weights.set:20261128T1805",
            "weights.set",
            50,
            json!({"reason": "cadence", "occurrence": "2026-11-28T18:05:00Z"}),
            None,
        ),
        (
            "weights.set:run:3",
            "weights.set",
            50,
            json!({"reason": "run 3 completed", "run_id": 3}),
            None,
        ),
    ];
    for (step, (key, job_type, priority, payload, run_id)) in every_step().iter().zip(expected) {
        let job = step.new_job(4, at());
        assert_eq!(job.job_key, key);
        assert_eq!(job.job_type, job_type);
        assert_eq!(job.priority, priority, "{key}");
        assert_eq!(job.payload, payload, "{key}");
        assert_eq!(job.run_id, run_id, "{key}");
        assert_eq!(job.max_attempts, 4);
        assert_eq!(job.scheduled_at, at());
    }
}

#[test]
fn every_step_reads_back_from_its_ledger_row() {
    for step in every_step() {
        let back = Step::from_job(&claimed(&step.new_job(1, at()), 1)).unwrap();
        assert_eq!(back, step);
    }
}

#[test]
fn payloads_of_earlier_versions_read_back() {
    for (job_type, payload) in [
        ("weather.recompute", json!({})),
        ("metagraph.sync", json!({})),
        ("weights.set", json!({"reason": "cadence"})),
        ("weights.set", json!({"reason": "run 4 completed"})),
    ] {
        let mut job = claimed(
            &Step::SyncMetagraph(Occurrence::default()).new_job(1, at()),
            1,
        );
        job.job_type = job_type.into();
        job.payload = payload;
        assert!(Step::from_job(&job).is_ok(), "{job_type}");
    }
}

#[test]
fn a_job_of_another_type_or_a_bad_payload_is_a_named_error() {
    let mut job = claimed(
        &Step::SyncMetagraph(Occurrence::default()).new_job(1, at()),
        1,
    );
    job.job_type = "t.script".into();
    let err = Step::from_job(&job).unwrap_err();
    assert!(
        err.to_string().contains("not a step of this validator"),
        "{err}"
    );
    job.job_type = "weather.era5".into();
    job.payload = json!({"run_id": 1, "uid": 2, "response_id": 3});
    let err = Step::from_job(&job).unwrap_err().to_string();
    assert!(
        err.contains("weather.era5") && err.contains("lead_hours"),
        "{err}"
    );
    job.payload = json!({"run_id": 1, "uid": 2, "response_id": 3, "lead_hours": 24, "extra": 1});
    let err = Step::from_job(&job).unwrap_err().to_string();
    assert!(err.contains("unknown field"), "{err}");
}

#[test]
fn a_lead_wakes_its_responses_closing_step_and_that_wakes_the_runs_finalize() {
    let waiters: Vec<(String, Option<String>)> = every_step()
        .iter()
        .map(|s| (s.key(), s.waiter().map(|w| w.key())))
        .filter(|(_, w)| w.is_some())
        .collect();
    assert_eq!(
        waiters,
        vec![
            (
                "weather.era5:11:48".to_string(),
                Some("weather.overall:11".to_string())
            ),
            (
                "weather.overall:11".to_string(),
                Some("weather.finalize:3".to_string())
            ),
        ]
    );
}
