-- Closing a miner's response (weather.overall) and a run (weather.finalize) now take their turn
-- among the ERA5 leads by schedule (priority 100, were 105 and 110, claimed only once no ERA5 lead
-- of any run was due): under an ERA5 backlog the older runs still complete. Steps queued by
-- earlier versions get the new order too.
UPDATE work_ledger SET priority = 100 WHERE job_type = 'weather.overall' AND priority = 105;
UPDATE work_ledger SET priority = 100 WHERE job_type = 'weather.finalize' AND priority = 110;
