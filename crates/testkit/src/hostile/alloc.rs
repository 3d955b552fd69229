//! A counting global allocator for test binaries: how many bytes a parser allocated at its peak,
//! and its largest single request, so a property test can assert that a hostile length field did
//! not turn into a huge allocation.
//!
//! A test binary opts in with
//! `#[global_allocator] static ALLOC: gaia_testkit::hostile::CountingAlloc = gaia_testkit::hostile::CountingAlloc;`.
//! The counters are per thread (tests running in parallel threads of one process do not see
//! each other); a parser's helper threads are not counted, the calling thread's allocations
//! (where a hostile length becomes `Vec::with_capacity`) are.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    // Signed: a block freed on another thread than the one that allocated it is subtracted here.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// The system allocator, counting live bytes, their peak and the largest single request.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

fn grew(size: usize) {
    INSTALLED.store(true, Ordering::Relaxed);
    // `try_with`: during thread teardown the slots may be gone; such blocks are not counted.
    let _ = LIVE.try_with(|live| {
        let now = live.get().wrapping_add(size as isize);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

fn shrank(size: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_sub(size as isize)));
}

// SAFETY: every call is forwarded unchanged to `System`; only counters are updated around it.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

/// What one measured call allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Peak of live bytes during the call beyond those live before it.
    pub peak_bytes: usize,
    /// Largest single allocation request during the call.
    pub largest: usize,
    /// Whether the counting allocator is the global allocator (if not, both figures are 0).
    pub counted: bool,
}

/// Runs `f` on this thread and reports what this thread allocated (measurements must not nest).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Usage) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    LARGEST.with(|largest| largest.set(0));
    let out = f();
    let usage = Usage {
        peak_bytes: usize::try_from(PEAK.with(Cell::get).wrapping_sub(base)).unwrap_or(0),
        largest: LARGEST.with(Cell::get),
        counted: INSTALLED.load(Ordering::Relaxed),
    };
    (out, usage)
}
