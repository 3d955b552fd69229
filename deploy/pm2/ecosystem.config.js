// pm2 process file for a bare-metal gaia-validator (docs/operations.md, "pm2"):
//   pm2 start deploy/pm2/ecosystem.config.js && pm2 save
// The validator is its own supervisor: pm2 starts one process (`gaia-validator run`), which starts
// and restarts the IO-Engine and the compute workers itself. Two pm2 defaults would cut its drain:
//   - kill_timeout 1600 ms: pm2 SIGKILLs after 1.6 s; the supervisor drains within
//     SHUTDOWN_GRACE_S (default 30 s) and escalates itself after grace + 6 s -> 45 s here;
//   - treekill true: pm2 signals every descendant at once, so the workers die mid-job instead of
//     being drained by the supervisor -> false (the supervisor stops its children itself).
// Settings come from `.env` in `cwd` (read by the validator itself) or from `env` below.
module.exports = {
  apps: [
    {
      name: "gaia-validator",
      script: "/usr/local/bin/gaia-validator",
      args: "run",
      interpreter: "none",
      exec_mode: "fork",
      instances: 1,
      cwd: "/var/lib/gaia-validator",
      kill_timeout: 45000,
      treekill: false,
      // 78 = an invalid setting: restarting cannot help, fix `.env` (check-config names the key).
      stop_exit_codes: [78],
      autorestart: true,
      min_uptime: "60s",
      max_restarts: 5,
      exp_backoff_restart_delay: 10000,
      // The validator writes one JSON object per line with its own `ts`; no pm2 prefix.
      time: false,
      merge_logs: true,
      env: {
        LOG_FORMAT: "json",
        DATA_DIR: "/var/lib/gaia-validator",
      },
    },
  ],
};
