//! The storage contract suite: every test in `suite` runs once on SQLite (a temporary file) and
//! once on PostgreSQL (a fresh database; see gaia-testkit), through the `contract!` macro.
//! Backend-specific checks (bad URLs, a server restart mid-write) live in `specific`.

mod fixtures;
mod instance_lock;
mod postgres_tls;
mod specific;
mod suite;
mod suite_claim;
mod suite_ledger;
mod suite_lookups;
mod suite_operator;

/// Instantiate each named suite function as a test of one backend.
macro_rules! contract {
    ($backend:ident, $open:path; $($module:ident :: $name:ident),+ $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fx = $open().await;
                    crate::$module::$name(&fx.store).await;
                }
            )+
        }
    };
}

macro_rules! all_backends {
    ($($module:ident :: $name:ident),+ $(,)?) => {
        contract!(sqlite, crate::fixtures::sqlite; $($module::$name),+);
        contract!(postgres, crate::fixtures::postgres; $($module::$name),+);
    };
}

all_backends!(
    suite::migrate_creates_schema_and_second_run_is_noop,
    suite::nodes_upsert_list_delete_cascades,
    suite::run_create_is_idempotent_and_status_updates,
    suite::response_upsert_keeps_one_row_and_updates,
    suite::score_upsert_same_key_twice_keeps_latest,
    suite::non_finite_score_is_rejected_and_nothing_written,
    suite::component_scores_upsert_by_key,
    suite::stats_upsert_merges_partial_writes,
    suite::score_table_rows_upsert_and_window_read,
    suite::weight_history_is_idempotent_by_key,
    suite::retention_deletes_old_runs_with_their_rows,
    suite::a_second_instance_lock_is_refused_until_the_first_is_dropped,
    suite_claim::the_claim_orders_every_claimable_state_together,
    suite_ledger::enqueue_is_idempotent_by_key,
    suite_ledger::jobs_are_listed_per_run,
    suite_ledger::claim_respects_priority_schedule_and_lease_holder,
    suite_ledger::expired_lease_is_reclaimed_until_max_attempts_then_quarantined,
    suite_ledger::failure_retries_then_ends_failed,
    suite_ledger::a_wake_makes_a_waiting_job_due_and_is_kept_while_it_runs,
    suite_ledger::reaper_requeues_and_quarantines_expired_leases,
    suite_ledger::two_concurrent_claimers_claim_each_job_once,
    suite_lookups::one_miners_rows_and_a_runs_states_equal_the_full_rows,
    suite_operator::recent_runs_newest_first_with_outcome_counts,
    suite_operator::miner_history_follows_runs_newest_first,
    suite_operator::ledger_summary_counts_states_and_finds_oldest_waiting,
    suite_operator::recent_weights_newest_first,
);
