-- Spec §12-2: a run's score_table row is stamped with the run's GFS init time (00:00 UTC), not the
-- wall-clock start of the run. Rows written by earlier versions carried the run's initiation
-- time; restamp them from their run so the 15-day weights window holds the same rows as the
-- reference's.
UPDATE score_table
SET created_at = (
    SELECT r.gfs_init_time_utc FROM weather_forecast_runs r WHERE r.id = score_table.run_id
)
WHERE task_name = 'weather'
  AND run_id IS NOT NULL
  AND EXISTS (SELECT 1 FROM weather_forecast_runs r WHERE r.id = score_table.run_id);
