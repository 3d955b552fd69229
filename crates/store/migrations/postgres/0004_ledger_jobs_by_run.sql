-- The steps that look at a whole run (finalize, and its sweep for abandoned responses) list the
-- run's jobs; without an index that read scans the whole ledger, every run's jobs, once per wake
-- of the run's finalize step (each closing step of a miner wakes it).
CREATE INDEX ix_ledger_run ON work_ledger (run_id);
