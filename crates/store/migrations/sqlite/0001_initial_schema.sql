-- Gaia validator schema, version 1 (SQLite). The PostgreSQL migration of the same version creates
-- the same logical schema; docs/storage.md describes every table.

CREATE TABLE node_table (
    uid               INTEGER PRIMARY KEY CHECK (uid BETWEEN 0 AND 255),
    hotkey            TEXT NOT NULL,
    coldkey           TEXT NOT NULL,
    ip                TEXT NOT NULL DEFAULT '',
    port              INTEGER NOT NULL DEFAULT 0 CHECK (port BETWEEN 0 AND 65535),
    stake             REAL NOT NULL DEFAULT 0,
    incentive         REAL NOT NULL DEFAULT 0,
    trust             REAL NOT NULL DEFAULT 0,
    vtrust            REAL NOT NULL DEFAULT 0,
    validator_permit  INTEGER NOT NULL DEFAULT 0 CHECK (validator_permit IN (0, 1)),
    last_updated      TEXT NOT NULL
) STRICT;

CREATE TABLE weather_forecast_runs (
    id                            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_initiation_time           TEXT NOT NULL,
    target_forecast_time_utc      TEXT NOT NULL,
    gfs_init_time_utc             TEXT NOT NULL UNIQUE,
    gfs_input_metadata            TEXT CHECK (gfs_input_metadata IS NULL OR json_valid(gfs_input_metadata)),
    status                        TEXT NOT NULL DEFAULT 'created',
    completion_time               TEXT,
    final_scoring_attempted_time  TEXT,
    error_message                 TEXT
) STRICT;
CREATE INDEX ix_runs_initiation ON weather_forecast_runs (run_initiation_time);

CREATE TABLE weather_miner_responses (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id                      INTEGER NOT NULL REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    miner_uid                   INTEGER NOT NULL REFERENCES node_table (uid) ON DELETE CASCADE,
    miner_hotkey                TEXT NOT NULL,
    job_id                      TEXT,
    zarr_url                    TEXT,
    verification_hash_claimed   TEXT,
    verification_hash_computed  TEXT,
    verification_passed         INTEGER,
    frozen_manifest             TEXT CHECK (frozen_manifest IS NULL OR json_valid(frozen_manifest)),
    manifest_frozen_at          TEXT,
    status                      TEXT NOT NULL DEFAULT 'received',
    error_message               TEXT,
    retry_count                 INTEGER NOT NULL DEFAULT 0,
    next_retry_time             TEXT,
    response_time               TEXT NOT NULL,
    job_accepted_at             TEXT,
    inference_started_at        TEXT,
    inference_completed_at      TEXT,
    day1_scoring_completed_at   TEXT,
    era5_scoring_completed_at   TEXT,
    UNIQUE (run_id, miner_uid)
) STRICT;

CREATE TABLE weather_miner_scores (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    response_id       INTEGER NOT NULL REFERENCES weather_miner_responses (id) ON DELETE CASCADE,
    run_id            INTEGER NOT NULL REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    miner_uid         INTEGER NOT NULL CHECK (miner_uid BETWEEN 0 AND 255),
    miner_hotkey      TEXT NOT NULL,
    score_type        TEXT NOT NULL,
    lead_hours        INTEGER NOT NULL,
    variable_level    TEXT NOT NULL,
    valid_time_utc    TEXT NOT NULL,
    score             REAL,
    metrics           TEXT CHECK (metrics IS NULL OR json_valid(metrics)),
    calculation_time  TEXT NOT NULL,
    error_message     TEXT,
    UNIQUE (response_id, score_type, lead_hours, variable_level, valid_time_utc)
) STRICT;
CREATE INDEX ix_scores_run ON weather_miner_scores (run_id, miner_uid);

CREATE TABLE weather_forecast_component_scores (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    response_id              INTEGER NOT NULL REFERENCES weather_miner_responses (id) ON DELETE CASCADE,
    run_id                   INTEGER NOT NULL REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    miner_uid                INTEGER NOT NULL CHECK (miner_uid BETWEEN 0 AND 255),
    score_type               TEXT NOT NULL CHECK (score_type IN ('day1', 'era5')),
    lead_hours               INTEGER NOT NULL,
    variable_name            TEXT NOT NULL,
    pressure_level           INTEGER NOT NULL,
    valid_time_utc           TEXT NOT NULL,
    rmse                     REAL,
    mse                      REAL,
    acc                      REAL,
    skill_score              REAL,
    skill_score_gfs          REAL,
    skill_score_climatology  REAL,
    bias                     REAL,
    mae                      REAL,
    clone_penalty            REAL,
    variable_weight          REAL,
    qc_flags                 TEXT CHECK (qc_flags IS NULL OR json_valid(qc_flags)),
    calculated_at            TEXT NOT NULL,
    UNIQUE (response_id, score_type, lead_hours, variable_name, pressure_level)
) STRICT;

CREATE TABLE weather_forecast_stats (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id                  INTEGER NOT NULL REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    miner_uid               INTEGER NOT NULL REFERENCES node_table (uid) ON DELETE CASCADE,
    miner_hotkey            TEXT NOT NULL,
    forecast_status         TEXT NOT NULL DEFAULT 'seeded',
    current_forecast_stage  TEXT,
    forecast_score_initial  REAL,
    era5_score_24h          REAL,
    era5_score_48h          REAL,
    era5_score_72h          REAL,
    era5_score_96h          REAL,
    era5_score_120h         REAL,
    era5_score_144h         REAL,
    era5_score_168h         REAL,
    era5_score_192h         REAL,
    era5_score_216h         REAL,
    era5_score_240h         REAL,
    era5_combined_score     REAL,
    era5_completeness       REAL,
    overall_forecast_score  REAL,
    updated_at              TEXT NOT NULL,
    UNIQUE (miner_uid, run_id)
) STRICT;

-- One row per run; `scores` is a JSON array of exactly 256 numbers or nulls, index = UID.
CREATE TABLE score_table (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_name   TEXT NOT NULL,
    task_id     TEXT NOT NULL,
    run_id      INTEGER REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    scores      TEXT NOT NULL CHECK (json_valid(scores) AND json_type(scores) = 'array' AND json_array_length(scores) = 256),
    created_at  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    UNIQUE (task_name, task_id)
) STRICT;
CREATE INDEX ix_score_table_created ON score_table (task_name, created_at);

CREATE TABLE work_ledger (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    job_key           TEXT NOT NULL UNIQUE,
    job_type          TEXT NOT NULL,
    priority          INTEGER NOT NULL DEFAULT 100,
    payload           TEXT NOT NULL CHECK (json_valid(payload)),
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'in_progress', 'succeeded', 'failed',
                                        'retry_scheduled', 'quarantined')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
    scheduled_at      TEXT NOT NULL,
    next_retry_at     TEXT,
    lease_expires_at  TEXT,
    claimed_by        TEXT,
    last_error        TEXT,
    result            TEXT CHECK (result IS NULL OR json_valid(result)),
    run_id            INTEGER REFERENCES weather_forecast_runs (id) ON DELETE CASCADE,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
) STRICT;
CREATE INDEX ix_ledger_claimable ON work_ledger (status, priority, scheduled_at, id);

CREATE TABLE weight_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    attempt_key   TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    block         INTEGER,
    weights       TEXT NOT NULL CHECK (json_valid(weights) AND json_type(weights) = 'array' AND json_array_length(weights) = 256),
    outcome       TEXT NOT NULL CHECK (outcome IN ('submitted', 'skipped', 'failed')),
    detail        TEXT
) STRICT;
CREATE INDEX ix_weight_history_created ON weight_history (created_at);
