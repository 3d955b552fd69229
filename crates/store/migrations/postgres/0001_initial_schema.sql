-- Gaia validator schema, version 1 (PostgreSQL). The SQLite migration of the same version creates
-- the same logical schema; docs/storage.md describes every table.

CREATE TABLE node_table (
    uid               INTEGER PRIMARY KEY CHECK (uid BETWEEN 0 AND 255),
    hotkey            TEXT NOT NULL,
    coldkey           TEXT NOT NULL,
    ip                TEXT NOT NULL DEFAULT '',
    port              INTEGER NOT NULL DEFAULT 0 CHECK (port BETWEEN 0 AND 65535),
    stake             DOUBLE PRECISION NOT NULL DEFAULT 0,
    incentive         DOUBLE PRECISION NOT NULL DEFAULT 0,
    trust             DOUBLE PRECISION NOT NULL DEFAULT 0,
    vtrust            DOUBLE PRECISION NOT NULL DEFAULT 0,
    validator_permit  BOOLEAN NOT NULL DEFAULT FALSE,
    last_updated      TIMESTAMPTZ NOT NULL
);

CREATE TABLE weather_forecast_runs (
    id                            BIGSERIAL PRIMARY KEY,
    run_initiation_time           TIMESTAMPTZ NOT NULL,
    target_forecast_time_utc      TIMESTAMPTZ NOT NULL,
    gfs_init_time_utc             TIMESTAMPTZ NOT NULL UNIQUE,
    gfs_input_metadata            JSONB,
    status                        TEXT NOT NULL DEFAULT 'created',
    completion_time               TIMESTAMPTZ,
    final_scoring_attempted_time  TIMESTAMPTZ,
    error_message                 TEXT
);
CREATE INDEX ix_runs_initiation ON weather_forecast_runs (run_initiation_time);

CREATE TABLE weather_miner_responses (
    id                          BIGSERIAL PRIMARY KEY,
    run_id                      BIGINT NOT NULL REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    miner_uid                   INTEGER NOT NULL REFERENCES node_table (uid) ON DELETE CASCADE,
    miner_hotkey                TEXT NOT NULL,
    job_id                      TEXT,
    zarr_url                    TEXT,
    verification_hash_claimed   TEXT,
    verification_hash_computed  TEXT,
    verification_passed         BOOLEAN,
    frozen_manifest             JSONB,
    manifest_frozen_at          TIMESTAMPTZ,
    status                      TEXT NOT NULL DEFAULT 'received',
    error_message               TEXT,
    retry_count                 INTEGER NOT NULL DEFAULT 0,
    next_retry_time             TIMESTAMPTZ,
    response_time               TIMESTAMPTZ NOT NULL,
    job_accepted_at             TIMESTAMPTZ,
    inference_started_at        TIMESTAMPTZ,
    inference_completed_at      TIMESTAMPTZ,
    day1_scoring_completed_at   TIMESTAMPTZ,
    era5_scoring_completed_at   TIMESTAMPTZ,
    UNIQUE (run_id, miner_uid)
);

CREATE TABLE weather_miner_scores (
    id                BIGSERIAL PRIMARY KEY,
    response_id       BIGINT NOT NULL REFERENCES weather_miner_responses (id) ON DELETE CASCADE,
    run_id            BIGINT NOT NULL REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    miner_uid         INTEGER NOT NULL CHECK (miner_uid BETWEEN 0 AND 255),
    miner_hotkey      TEXT NOT NULL,
    score_type        TEXT NOT NULL,
    lead_hours        INTEGER NOT NULL,
    variable_level    TEXT NOT NULL,
    valid_time_utc    TIMESTAMPTZ NOT NULL,
    score             DOUBLE PRECISION,
    metrics           JSONB,
    calculation_time  TIMESTAMPTZ NOT NULL,
    error_message     TEXT,
    UNIQUE (response_id, score_type, lead_hours, variable_level, valid_time_utc)
);
CREATE INDEX ix_scores_run ON weather_miner_scores (run_id, miner_uid);

CREATE TABLE weather_forecast_component_scores (
    id                       BIGSERIAL PRIMARY KEY,
    response_id              BIGINT NOT NULL REFERENCES weather_miner_responses (id) ON DELETE CASCADE,
    run_id                   BIGINT NOT NULL REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    miner_uid                INTEGER NOT NULL CHECK (miner_uid BETWEEN 0 AND 255),
    score_type               TEXT NOT NULL CHECK (score_type IN ('day1', 'era5')),
    lead_hours               INTEGER NOT NULL,
    variable_name            TEXT NOT NULL,
    pressure_level           INTEGER NOT NULL,
    valid_time_utc           TIMESTAMPTZ NOT NULL,
    rmse                     DOUBLE PRECISION,
    mse                      DOUBLE PRECISION,
    acc                      DOUBLE PRECISION,
    skill_score              DOUBLE PRECISION,
    skill_score_gfs          DOUBLE PRECISION,
    skill_score_climatology  DOUBLE PRECISION,
    bias                     DOUBLE PRECISION,
    mae                      DOUBLE PRECISION,
    clone_penalty            DOUBLE PRECISION,
    variable_weight          DOUBLE PRECISION,
    qc_flags                 JSONB,
    calculated_at            TIMESTAMPTZ NOT NULL,
    UNIQUE (response_id, score_type, lead_hours, variable_name, pressure_level)
);

CREATE TABLE weather_forecast_stats (
    id                      BIGSERIAL PRIMARY KEY,
    run_id                  BIGINT NOT NULL REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    miner_uid               INTEGER NOT NULL REFERENCES node_table (uid) ON DELETE CASCADE,
    miner_hotkey            TEXT NOT NULL,
    forecast_status         TEXT NOT NULL DEFAULT 'seeded',
    current_forecast_stage  TEXT,
    forecast_score_initial  DOUBLE PRECISION,
    era5_score_24h          DOUBLE PRECISION,
    era5_score_48h          DOUBLE PRECISION,
    era5_score_72h          DOUBLE PRECISION,
    era5_score_96h          DOUBLE PRECISION,
    era5_score_120h         DOUBLE PRECISION,
    era5_score_144h         DOUBLE PRECISION,
    era5_score_168h         DOUBLE PRECISION,
    era5_score_192h         DOUBLE PRECISION,
    era5_score_216h         DOUBLE PRECISION,
    era5_score_240h         DOUBLE PRECISION,
    era5_combined_score     DOUBLE PRECISION,
    era5_completeness       DOUBLE PRECISION,
    overall_forecast_score  DOUBLE PRECISION,
    updated_at              TIMESTAMPTZ NOT NULL,
    UNIQUE (miner_uid, run_id)
);

-- One row per run; `scores` is a JSON array of exactly 256 numbers or nulls, index = UID.
CREATE TABLE score_table (
    id          BIGSERIAL PRIMARY KEY,
    task_name   TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    run_id      BIGINT REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    scores      JSONB NOT NULL CHECK (jsonb_typeof(scores) = 'array' AND jsonb_array_length(scores) = 256),
    created_at  TIMESTAMPTZ NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    UNIQUE (task_name, task_id)
);
CREATE INDEX ix_score_table_created ON score_table (task_name, created_at);

CREATE TABLE work_ledger (
    id                BIGSERIAL PRIMARY KEY,
    job_key           TEXT NOT NULL UNIQUE,
    job_type          TEXT NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 100,
    payload           JSONB NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'in_progress', 'succeeded', 'failed',
                                        'retry_scheduled', 'quarantined')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
    scheduled_at      TIMESTAMPTZ NOT NULL,
    next_retry_at     TIMESTAMPTZ,
    lease_expires_at  TIMESTAMPTZ,
    claimed_by        TEXT,
    last_error        TEXT,
    result            JSONB,
    run_id            BIGINT REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX ix_ledger_claimable ON work_ledger (status, priority, scheduled_at, id);

CREATE TABLE weight_history (
    id            BIGSERIAL PRIMARY KEY,
    attempt_key   TEXT NOT NULL UNIQUE,
    created_at    TIMESTAMPTZ NOT NULL,
    block         BIGINT,
    weights       JSONB NOT NULL CHECK (jsonb_typeof(weights) = 'array' AND jsonb_array_length(weights) = 256),
    outcome       TEXT NOT NULL CHECK (outcome IN ('submitted', 'skipped', 'failed')),
    detail        TEXT
);
CREATE INDEX ix_weight_history_created ON weight_history (created_at);
