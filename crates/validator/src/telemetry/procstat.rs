//! Resource readings of processes from `/proc`: resident memory and CPU time.
//!
//! The supervisor uses them to enforce RSS limits; the metrics endpoint reports them per child.

/// Resident set size and CPU time of one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcStat {
    /// Resident memory in bytes.
    pub rss_bytes: u64,
    /// User + system CPU time in seconds.
    pub cpu_seconds: f64,
    /// Virtual memory size in bytes.
    pub vsize_bytes: u64,
    /// Number of threads.
    pub threads: i64,
    /// Start time, seconds since the Unix epoch.
    pub start_time_s: f64,
}

/// Read the stats of `pid`; `None` when it is gone or unreadable.
pub fn read(pid: u32) -> Option<ProcStat> {
    let process = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?;
    let stat = process.stat().ok()?;
    let ticks = procfs::ticks_per_second() as f64;
    let page = procfs::page_size();
    let boot = procfs::boot_time_secs().ok()? as f64;
    Some(ProcStat {
        rss_bytes: stat.rss * page,
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        vsize_bytes: stat.vsize,
        threads: stat.num_threads,
        start_time_s: boot + stat.starttime as f64 / ticks,
    })
}

/// Resident memory of `pid` in bytes (0 when unreadable).
pub fn rss_bytes(pid: u32) -> u64 {
    read(pid).map_or(0, |s| s.rss_bytes)
}

/// Number of open file descriptors of the current process.
pub fn open_fds() -> Option<usize> {
    procfs::process::Process::myself().ok()?.fd_count().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = read(std::process::id()).unwrap();
        assert!(me.rss_bytes > 1 << 20);
        assert!(me.vsize_bytes >= me.rss_bytes);
        assert!(me.threads >= 1);
        assert!(me.start_time_s > 1.6e9);
        assert!(open_fds().unwrap() >= 3);
        assert!(read(u32::MAX).is_none());
        assert_eq!(rss_bytes(u32::MAX), 0);
    }
}
