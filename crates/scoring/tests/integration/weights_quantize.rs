//! chain.md §3.2: u16 quantisation as the pinned fiber client does it (its worked examples,
//! exact integers), and the burn of spec §5.3 on hand-checked vectors (1e-12 absolute).

use gaia_scoring::weights::{
    apply_burn, group_factor, quantize_dense, quantize_u16, QuantizedWeights, SmoothingConfig,
    WeightsError,
};

fn q(uids: &[u16], weights: &[f64]) -> (Vec<u16>, Vec<u16>) {
    let QuantizedWeights { uids, values } = quantize_u16(uids, weights).expect("valid");
    (uids, values)
}

#[test]
fn chain_md_worked_examples() {
    // Row 1: scale = 65535 / 65535 = 1; 2.5 → 2 and 3.5 → 4 (ties to even); 0 dropped.
    assert_eq!(
        q(&[0, 1, 2, 3], &[65535.0, 2.5, 3.5, 0.0]),
        (vec![0, 1, 2], vec![65535, 2, 4])
    );
    // Row 2: scale = 65535 / 0.4; 0.1·scale = 16383.75 → 16384, 0.2 → 32767.5 → 32768 (even),
    // 0.3 → 49151.25 → 49151, 0.4 → 65535.
    assert_eq!(
        q(&[0, 1, 2, 3, 4], &[0.1, 0.2, 0.3, 0.0, 0.4]),
        (vec![0, 1, 2, 4], vec![16384, 32768, 49151, 65535])
    );
    // Row 3: 1e-9 · 65535 rounds to 0 but the pair is kept; 0.5 · 65535 = 32767.5 → 32768.
    assert_eq!(
        q(&[0, 1, 2], &[1e-9, 0.5, 1.0]),
        (vec![0, 1, 2], vec![0, 32768, 65535])
    );
    // Row 4: all zero → empty.
    assert_eq!(q(&[0, 1, 2, 3, 4], &[0.0; 5]), (vec![], vec![]));
}

#[test]
fn dense_vector_uses_the_index_as_uid() {
    let mut w = vec![0.0; 256];
    w[252] = 0.75;
    w[7] = 0.25;
    let out = quantize_dense(&w).unwrap();
    assert_eq!(out.uids, vec![7, 252]);
    assert_eq!(out.values, vec![21845, 65535]);
    assert_eq!(
        quantize_dense(&vec![0.0; 70_000]),
        Err(WeightsError::TooManyUids(70_000))
    );
}

#[test]
fn invalid_input_is_rejected() {
    assert_eq!(
        quantize_u16(&[0, 1], &[0.5]),
        Err(WeightsError::LengthMismatch {
            uids: 2,
            weights: 1
        })
    );
    assert!(matches!(
        quantize_u16(&[0, 1], &[0.5, -0.1]),
        Err(WeightsError::InvalidWeight { uid: 1, .. })
    ));
    assert!(quantize_u16(&[0], &[f64::NAN]).is_err());
    assert!(quantize_u16(&[0], &[f64::INFINITY]).is_err());
}

#[test]
fn burn_moves_the_rate_to_the_burn_uid() {
    // [0.5, 0.3, 0.2] burn to uid 1 at 0.75: (1 − 0.75)·w = [0.125, 0.075, 0.05], then
    // w1 += 0.75 · 1.0 → [0.125, 0.825, 0.05].
    let out = apply_burn(&[0.5, 0.3, 0.2], 1, 0.75).unwrap();
    for (a, b) in out.iter().zip([0.125, 0.825, 0.05]) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    // Negative weights count as 0: base [0.6, 0, 0.4], rate 0.5 to uid 2 → [0.3, 0, 0.7].
    let out = apply_burn(&[0.6, -0.2, 0.4], 2, 0.5).unwrap();
    for (a, b) in out.iter().zip([0.3, 0.0, 0.7]) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    // Rate above 1 clamps to 1: everything to the burn UID.
    assert_eq!(apply_burn(&[0.5, 0.5], 0, 3.0), Some(vec![1.0, 0.0]));
    // Skipped: zero rate, NaN rate, UID out of range, zero total.
    assert_eq!(apply_burn(&[0.5, 0.5], 0, 0.0), None);
    assert_eq!(apply_burn(&[0.5, 0.5], 0, f64::NAN), None);
    assert_eq!(apply_burn(&[0.5, 0.5], 2, 0.75), None);
    assert_eq!(apply_burn(&[0.0, 0.0], 0, 0.75), None);
}

#[test]
fn smoothing_group_factors() {
    let cfg = SmoothingConfig::default();
    assert!(!cfg.enabled);
    // 1 − (s − 3)·0.8/7 for 3 ≤ s < 10; 0 from 10; 1 below 3.
    assert_eq!(group_factor(2, &cfg), 1.0);
    assert_eq!(group_factor(3, &cfg), 1.0);
    assert!((group_factor(6, &cfg) - (1.0 - 3.0 * 0.8 / 7.0)).abs() < 1e-15);
    assert!((group_factor(9, &cfg) - (1.0 - 6.0 * 0.8 / 7.0)).abs() < 1e-15);
    assert_eq!(group_factor(10, &cfg), 0.0);
    assert_eq!(group_factor(40, &cfg), 0.0);
}
