//! Failure paths of the query step, each against a scripted miner on loopback speaking plain
//! JSON: every way a miner can fail to deliver ends with the response settled under a named
//! status and reason, or with a bounded "run again".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::Uri;
use chrono::Utc;
use gaia_store::{JobStatus, NewRun};
use serde_json::Value;

use super::*;
use crate::tasks::weather::miner_client::{MinerClient, PlainJsonTransport};
use crate::tasks::weather::url_policy::UrlPolicy;

/// Answers per endpoint path, used in order; the last one repeats.
type Script = Arc<Mutex<HashMap<String, Vec<Value>>>>;

/// A miner answering `script`; returns its port.
async fn scripted_miner(script: Vec<(&str, Vec<Value>)>) -> u16 {
    let script: Script = Arc::new(Mutex::new(
        script.into_iter().map(|(p, a)| (p.to_owned(), a)).collect(),
    ));
    let app = axum::Router::new()
        .fallback(|State(s): State<Script>, uri: Uri| async move {
            let mut s = s.lock().unwrap();
            let answers = s.get_mut(uri.path()).expect("unscripted endpoint");
            let answer = if answers.len() > 1 {
                answers.remove(0)
            } else {
                answers[0].clone()
            };
            axum::Json(answer)
        })
        .with_state(script);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

/// A context whose miners are plain-JSON servers on loopback, with a run and a `Received`
/// response per `(uid, port)`.
async fn setup(dir: &std::path::Path, miners: &[(u8, u16)]) -> (WeatherContext, Run) {
    let mut ctx = crate::tasks::weather::lifecycle::test_context(dir).await;
    ctx.weather.miner_scheme = "http".into();
    ctx.weather.max_poll_attempts = 2;
    ctx.weather.query_retry_delays_s = vec![1];
    ctx.client = MinerClient::new(
        Arc::new(PlainJsonTransport::new().unwrap()),
        UrlPolicy {
            allow_private: true,
        },
    );
    let now = Utc::now();
    let run = ctx
        .store
        .create_run(&NewRun {
            run_initiation_time: now,
            target_forecast_time_utc: now,
            gfs_init_time_utc: now,
            gfs_input_metadata: None,
        })
        .await
        .unwrap();
    for &(uid, port) in miners {
        let node = crate::chain::MetagraphNode {
            uid,
            hotkey: format!("hk{uid}"),
            coldkey: String::new(),
            ip: "127.0.0.1".into(),
            port,
            stake: 0.0,
            incentive: 0.0,
            trust: 0.0,
            vtrust: 0.0,
            validator_permit: false,
        };
        ctx.store.upsert_node(&node.to_record(now)).await.unwrap();
        ctx.store
            .upsert_response(&NewResponse {
                run_id: run.id,
                miner_uid: uid,
                miner_hotkey: format!("hk{uid}"),
                job_id: None,
                zarr_url: None,
                verification_hash_claimed: None,
                status: ResponseStatus::Received,
                response_time: now,
            })
            .await
            .unwrap();
    }
    (ctx, run)
}

/// The query job of `uid` at its `attempts`-th run.
fn job(run: &Run, uid: u8, attempts: i32) -> Job {
    let now = Utc::now();
    Job {
        id: i64::from(uid),
        job_key: format!("weather.query:{}:{uid}", run.id),
        job_type: super::super::QUERY.into(),
        priority: 1,
        payload: json!({"run_id": run.id, "uid": uid}),
        status: JobStatus::InProgress,
        attempts,
        max_attempts: 30,
        scheduled_at: now,
        next_retry_at: None,
        lease_expires_at: None,
        claimed_by: None,
        last_error: None,
        result: None,
        run_id: Some(run.id),
        created_at: now,
        updated_at: now,
    }
}

async fn settled(ctx: &WeatherContext, run: &Run, uid: u8) -> (ResponseStatus, String) {
    let r = ctx.response_of(run.id, uid).await.unwrap();
    (r.status, r.error_message.unwrap_or_default())
}

fn accepted(job_id: &str) -> Value {
    json!({"status": "fetch_accepted", "job_id": job_id})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_miner_without_a_job_id_or_reporting_failure_is_settled_failed() {
    let dir = tempfile::tempdir().unwrap();
    let no_job = scripted_miner(vec![(
        "/weather-initiate-fetch",
        vec![json!({"status": "error", "message": "busy"})],
    )])
    .await;
    let gives_up = scripted_miner(vec![
        ("/weather-initiate-fetch", vec![accepted("job-2")]),
        (
            "/weather-poll-job-status",
            vec![json!({"status": "fetch_error", "message": "NOMADS down"})],
        ),
    ])
    .await;
    let (ctx, run) = setup(dir.path(), &[(1, no_job), (2, gives_up)]).await;

    let out = query_step(&ctx, &job(&run, 1, 1)).await.unwrap();
    assert!(matches!(out, StepOutcome::Done(None)));
    let (status, reason) = settled(&ctx, &run, 1).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(reason.contains("without a job id: busy"), "{reason}");

    let out = query_step(&ctx, &job(&run, 2, 1)).await.unwrap();
    assert!(matches!(out, StepOutcome::Again { .. }), "{out:?}");
    assert_eq!(
        ctx.response_of(run.id, 2).await.unwrap().job_id.as_deref(),
        Some("job-2")
    );
    query_step(&ctx, &job(&run, 2, 2)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 2).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(
        reason.contains("miner reported fetch_error: NOMADS down"),
        "{reason}"
    );
    // A settled response is left alone by a late re-run.
    let out = query_step(&ctx, &job(&run, 2, 3)).await.unwrap();
    assert!(matches!(out, StepOutcome::Done(None)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_are_bounded_and_a_shared_job_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let slow = scripted_miner(vec![
        ("/weather-initiate-fetch", vec![accepted("job-1")]),
        (
            "/weather-poll-job-status",
            vec![json!({"status": "processing"}), json!({"status": "weird"})],
        ),
    ])
    .await;
    let copycat = scripted_miner(vec![("/weather-initiate-fetch", vec![accepted("job-1")])]).await;
    let (ctx, run) = setup(dir.path(), &[(1, slow), (2, copycat)]).await;

    query_step(&ctx, &job(&run, 1, 1)).await.unwrap();
    let out = query_step(&ctx, &job(&run, 1, 2)).await.unwrap();
    match out {
        StepOutcome::Again { reason, .. } => assert!(reason.contains("poll 1/2: processing")),
        other => panic!("{other:?}"),
    }
    query_step(&ctx, &job(&run, 1, 3)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 1).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(
        reason.contains("no forecast after 2 polls (last answer: weird)"),
        "{reason}"
    );

    query_step(&ctx, &job(&run, 2, 1)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 2).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(
        reason.contains("job id job-1 already belongs to uid 1"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_or_deregistered_miner_is_retried_then_settled() {
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (ctx, run) = setup(dir.path(), &[(1, closed), (2, closed), (3, 0)]).await;

    let out = query_step(&ctx, &job(&run, 1, 1)).await.unwrap();
    match out {
        StepOutcome::Again { reason, .. } => {
            assert!(reason.contains("initiate-fetch attempt 1"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    query_step(&ctx, &job(&run, 1, 2)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 1).await;
    assert_eq!(status, ResponseStatus::MinerOffline);
    assert!(
        reason.contains("no answer to initiate-fetch after 2 attempts"),
        "{reason}"
    );

    // uid 2's hotkey changed on chain before its query ran.
    let mut node = ctx.store.list_nodes().await.unwrap();
    node.retain(|n| n.uid == 2);
    let mut moved = node.remove(0);
    moved.hotkey = "someone-else".into();
    ctx.store.upsert_node(&moved).await.unwrap();
    query_step(&ctx, &job(&run, 2, 1)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 2).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(
        reason.contains("deregistered or hotkey changed"),
        "{reason}"
    );

    // uid 3 serves no axon (port 0).
    query_step(&ctx, &job(&run, 3, 1)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 3).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(reason.contains("does not serve an axon"), "{reason}");
}
