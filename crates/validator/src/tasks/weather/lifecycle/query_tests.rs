//! Failure paths of the query step, each against a scripted miner on loopback speaking plain
//! JSON: every way a miner can fail to deliver ends with the response settled under a named
//! status and reason, or with a bounded "run again".

use serde_json::Value;

use super::*;
use crate::tasks::ledger::StepError;
use crate::tasks::weather::lifecycle::test_support::{
    self as support, scripted_miner, settled, setup,
};

/// The query job of `uid` at its `attempts`-th run.
fn job(run: &Run, uid: u8, attempts: i32) -> Job {
    support::job(
        WeatherStep::Query(MinerRef {
            run_id: run.id,
            uid,
        }),
        attempts,
    )
}

async fn query_step(ctx: &WeatherContext, job: &Job) -> Result<StepOutcome, StepError> {
    super::super::handle(ctx, job).await
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

/// Issue "real miners", items 3 and 4: the production miner fails a job with HTTP 500
/// `{"error": "Internal server error: FETCH_ERROR"}` (terminal at once), and a miner busy building
/// its store may not answer the last allowed poll: that is not a failure before the poll
/// deadline (max polls × interval after the job was accepted).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_error_is_terminal_and_a_late_poll_waits_for_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let fetch_error =
        json!({"__status": 500, "body": {"error": "Internal server error: FETCH_ERROR"}});
    let failed_job = scripted_miner(vec![
        ("/weather-initiate-fetch", vec![accepted("job-5")]),
        ("/weather-poll-job-status", vec![fetch_error]),
    ])
    .await;
    let busy = scripted_miner(vec![
        ("/weather-initiate-fetch", vec![accepted("job-6")]),
        (
            "/weather-poll-job-status",
            vec![
                json!({"status": "processing"}),
                json!({"__status": 503, "body": {"detail": "busy"}}),
            ],
        ),
    ])
    .await;
    let (mut ctx, run) = setup(dir.path(), &[(5, failed_job), (6, busy)]).await;

    query_step(&ctx, &job(&run, 5, 1)).await.unwrap();
    let out = query_step(&ctx, &job(&run, 5, 2)).await.unwrap();
    assert!(matches!(out, StepOutcome::Done(None)), "{out:?}");
    let (status, reason) = settled(&ctx, &run, 5).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(reason.contains("miner reported fetch_error"), "{reason}");
    assert!(reason.contains("FETCH_ERROR"), "{reason}");

    // Poll 1 answers processing; poll 2 (the last allowed) gets no answer: run again.
    query_step(&ctx, &job(&run, 6, 1)).await.unwrap();
    query_step(&ctx, &job(&run, 6, 2)).await.unwrap();
    match query_step(&ctx, &job(&run, 6, 3)).await.unwrap() {
        StepOutcome::Again { reason, .. } => {
            assert!(reason.contains("waiting for an answer until"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ctx.response_of(run.id, 6).await.unwrap().status,
        ResponseStatus::InferenceRunning
    );
    // Past the deadline, no answer is a failure.
    ctx.weather.poll_interval_s = 0;
    query_step(&ctx, &job(&run, 6, 4)).await.unwrap();
    let (status, reason) = settled(&ctx, &run, 6).await;
    assert_eq!(status, ResponseStatus::Failed);
    assert!(reason.contains("HTTP 503"), "{reason}");
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
