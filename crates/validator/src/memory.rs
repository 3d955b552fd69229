//! Process-wide allocator settings, applied first thing in `main` of every binary that scores.
//!
//! Scoring allocates and frees field-sized buffers (4–8 MB at 0.25°, a few hundred per ERA5
//! lead). glibc serves blocks that large with a fresh `mmap` each time (its dynamic threshold
//! only rises after the first free) and hands freed heap tops back to the kernel, so every field
//! read paid for its pages again: one `score era5` lead took ~770 000 page faults and spent more
//! time in the kernel (1.4 s) than computing (1.1 s). Raising the mmap threshold to its maximum
//! (32 MiB) and keeping up to 128 MiB of freed memory for reuse cuts that to ~75 000 faults and
//! the lead from 2.4 s to 1.3 s (docs/scoring.md), with the same peak RSS: the memory kept is
//! what the next field needs anyway. The compute workers' RSS limit still bounds it.

/// Largest block glibc serves from `mmap` instead of the heap (its maximum on 64-bit).
pub const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// Freed memory at the top of a heap that glibc keeps instead of returning it to the kernel.
pub const TRIM_THRESHOLD_BYTES: i32 = 128 << 20;

/// Apply the allocator settings above; returns whether the allocator accepted them (always
/// `false` off glibc, where there is nothing to tune). An operator's `GLIBC_TUNABLES` applies
/// before `main` and is overridden here.
pub fn tune_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes allocator parameters; it is called before any other
        // thread exists and with parameters glibc documents for these options.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// Freed memory at the top of a heap that a *scoring* process keeps (see
/// [`keep_freed_memory_for_scoring`]).
pub const SCORING_TRIM_THRESHOLD_BYTES: i32 = 1 << 30;

/// For the processes that score (compute workers, `score`, the score benchmark): keep up to
/// 1 GiB of freed heap instead of 128 MiB. An ERA5 variable of a production miner holds its 13
/// stored forecast levels (one chunk, 108 MB at 0.25°) next to the truth and climatology; when it
/// is done the free top of the heap
/// passes 128 MiB, glibc returns it, and the next variable faults every page in again: ~40 000
/// page faults per lead and ~0.1× the decode floor of its time (docs/scoring.md). What is kept
/// is never more than the process's own peak, which its RSS limit already bounds; the IO-Engine
/// keeps [`TRIM_THRESHOLD_BYTES`]. Returns whether the allocator accepted it (`false` off glibc).
pub fn keep_freed_memory_for_scoring() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes an allocator parameter (glibc takes its own lock), with
        // a value glibc documents for this option.
        unsafe { libc::mallopt(libc::M_TRIM_THRESHOLD, SCORING_TRIM_THRESHOLD_BYTES) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_accepts_the_settings() {
        assert_eq!(
            tune_allocator(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
        assert_eq!(
            keep_freed_memory_for_scoring(),
            cfg!(all(target_os = "linux", target_env = "gnu"))
        );
        // Large blocks still allocate, fill and free normally afterwards.
        let v = vec![1.5f64; 1 << 20];
        assert_eq!(v.iter().sum::<f64>(), 1.5 * (1 << 20) as f64);
    }
}
