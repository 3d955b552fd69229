//! The mutation engine and the bounds: deterministic, capped, and able to fail.

use proptest::prelude::*;

use super::Rng;
use super::*;

#[test]
fn the_same_seed_gives_the_same_mutations() {
    let seed = br#"{"zarr_format": 2, "shape": [10, 20], "chunks": [5, 5]}"#;
    let a: Vec<Vec<u8>> = (0..50)
        .map(|i| mutate(seed, &mut Rng::new(i), 8, 4096))
        .collect();
    let b: Vec<Vec<u8>> = (0..50)
        .map(|i| mutate(seed, &mut Rng::new(i), 8, 4096))
        .collect();
    assert_eq!(a, b);
    assert!(
        a.iter().any(|m| m.as_slice() != seed.as_slice()),
        "mutations change the input"
    );
    assert!(a.iter().all(|m| m.len() <= 4096));
}

#[test]
fn every_kind_of_mutation_happens() {
    let seed = b"shape = [10, 20]; name = \"t2m\"".to_vec();
    let mut rng = Rng::new(7);
    let (mut shorter, mut longer, mut token, mut extreme) = (false, false, false, false);
    for _ in 0..2000 {
        let mut m = seed.clone();
        mutate_once(&mut m, &mut rng, 1 << 16);
        shorter |= m.len() < seed.len();
        longer |= m.len() > seed.len();
        token |= m.windows(3).any(|w| w == b"../" || w == b"NaN");
        extreme |= m.windows(10).any(|w| w == b"4294967295");
    }
    assert!(
        shorter && longer && token && extreme,
        "{shorter} {longer} {token} {extreme}"
    );
}

#[test]
fn mutation_caps_the_length_and_copes_with_empty_input() {
    let mut rng = Rng::new(3);
    for _ in 0..500 {
        let mut m = Vec::new();
        mutate_once(&mut m, &mut rng, 16);
        assert!(m.len() <= 16);
    }
    assert_eq!(rng.below(0), 0);
}

#[test]
fn cases_come_from_the_environment_or_the_default() {
    // The variable is not set by the test runner; the default applies.
    if std::env::var("GAIA_PROPTEST_CASES").is_err() {
        assert_eq!(cases(123), 123);
        assert_eq!(config(45).cases, 45);
        assert!(config(45).failure_persistence.is_none());
    }
}

#[test]
fn bounded_fails_a_slow_call() {
    let limits = Limits {
        time: std::time::Duration::from_millis(1),
        peak_bytes: usize::MAX,
    };
    let slow = bounded("sleep", b"x", limits, || {
        std::thread::sleep(std::time::Duration::from_millis(20))
    });
    let err = slow.expect_err("a 20 ms call breaks a 1 ms limit");
    assert!(err.to_string().contains("sleep"), "{err}");
    assert!(bounded("fast", b"x", Limits::default(), || 5).is_ok());
}

#[test]
fn measure_without_the_counting_allocator_reports_nothing_counted() {
    // This test binary keeps the system allocator: figures are zero and say so.
    let (v, usage) = measure(|| vec![0u8; 1 << 20]);
    assert_eq!(v.len(), 1 << 20);
    if !usage.counted {
        assert_eq!(usage.peak_bytes, 0);
    }
}

#[test]
fn counting_alloc_counts_when_called_directly() {
    use std::alloc::{GlobalAlloc, Layout};
    let layout = Layout::from_size_align(4096, 8).expect("valid layout");
    let ((), usage) = measure(|| {
        // SAFETY: the layout is non-zero; each pointer is released with the layout it came with.
        unsafe {
            let a = CountingAlloc.alloc(layout);
            assert!(!a.is_null());
            let b = CountingAlloc.realloc(a, layout, 8192);
            assert!(!b.is_null());
            CountingAlloc.dealloc(b, Layout::from_size_align(8192, 8).expect("valid layout"));
            let z = CountingAlloc.alloc_zeroed(layout);
            assert!(!z.is_null() && *z == 0);
            CountingAlloc.dealloc(z, layout);
        }
    });
    assert!(usage.counted);
    assert!(usage.largest >= 8192, "{usage:?}");
    assert!(usage.peak_bytes >= 8192, "{usage:?}");
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn hostile_inputs_stay_under_the_cap(input in hostile(vec![b"[1, 2, 3]".to_vec()])) {
        prop_assert!(input.len() <= 1 << 20);
    }
}
