//! The agreement figures of two weight vectors (shadow versus control), as the rollout's
//! go/no-go reads them: cosine similarity, L1 distance of the normalised vectors, max |Δ| of the
//! u16 values, Spearman rank correlation, top-k overlap and the UIDs that differ most.
//!
//! Pure functions over dense per-UID u16 vectors (index = UID, absent = 0), so the `compare`
//! command, the scheduled comparison and the tests compute the same numbers.
//!
//! * **cosine** `a·b / (|a| |b|)`: 1 for proportional vectors; two empty vectors are identical
//!   (1), one empty and one not are orthogonal (0).
//! * **L1** `Σ |a/Σa − b/Σb|`: 0 identical, 2 disjoint (an empty vector counts as all zeros).
//! * **max |Δ|** `max |a_i − b_i|` in u16 units (both vectors are max-normalised to 65535 by the
//!   quantisation, so they share a scale).
//! * **Spearman** ρ over the UIDs non-zero in either vector: the Pearson correlation of their
//!   average ranks (ties share the mean rank, as `scipy.stats.spearmanr`); `None` when fewer than
//!   two such UIDs or one side is constant.
//! * **top-k overlap** `|top_k(a) ∩ top_k(b)| / k` with `k` capped at the larger non-zero count
//!   (ties broken by UID).

use serde::{Deserialize, Serialize};

/// How many UIDs the report lists by largest difference.
pub const LARGEST_DIFFERENCES: usize = 10;

/// One UID where the vectors differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UidDifference {
    /// The UID.
    pub uid: u16,
    /// Our (shadow) u16 value.
    pub ours: u16,
    /// The control's u16 value.
    pub control: u16,
    /// `ours − control`.
    pub delta: i32,
}

/// The figures of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Cosine similarity (0..1).
    pub cosine: f64,
    /// L1 distance of the sum-normalised vectors (0..2).
    pub l1: f64,
    /// Largest |Δ| of the u16 values.
    pub max_abs_delta: u16,
    /// Spearman rank correlation over the UIDs non-zero in either (`None`: undefined).
    pub spearman: Option<f64>,
    /// The `k` of the top-k overlap.
    pub top_k: usize,
    /// Share of the top-k UIDs both have in their top k (0..1).
    pub top_k_overlap: f64,
    /// UIDs non-zero in our vector.
    pub ours_nonzero: usize,
    /// UIDs non-zero in the control's.
    pub control_nonzero: usize,
    /// The UIDs that differ most, largest |Δ| first (ties by UID), at most
    /// [`LARGEST_DIFFERENCES`]; only non-zero differences.
    pub largest_differences: Vec<UidDifference>,
}

/// A dense vector (index = UID) from `(uid, value)` pairs; a repeated UID keeps its last value.
pub fn dense(pairs: &[(u16, u16)]) -> Vec<u16> {
    let len = pairs
        .iter()
        .map(|(u, _)| usize::from(*u) + 1)
        .max()
        .unwrap_or(0);
    let mut out = vec![0u16; len];
    for (uid, value) in pairs {
        out[usize::from(*uid)] = *value;
    }
    out
}

/// Compare `ours` with `control` (dense, any lengths: missing UIDs are 0), top-k with `k`.
pub fn agreement(ours: &[u16], control: &[u16], k: usize) -> Agreement {
    let n = ours.len().max(control.len());
    let at = |v: &[u16], i: usize| v.get(i).copied().unwrap_or(0);
    let ours: Vec<u16> = (0..n).map(|i| at(ours, i)).collect();
    let control: Vec<u16> = (0..n).map(|i| at(control, i)).collect();
    let a: Vec<f64> = ours.iter().map(|x| f64::from(*x)).collect();
    let b: Vec<f64> = control.iter().map(|x| f64::from(*x)).collect();
    let mut differences: Vec<UidDifference> = (0..n)
        .filter(|i| ours[*i] != control[*i])
        .filter_map(|i| {
            Some(UidDifference {
                uid: u16::try_from(i).ok()?,
                ours: ours[i],
                control: control[i],
                delta: i32::from(ours[i]) - i32::from(control[i]),
            })
        })
        .collect();
    differences.sort_by(|x, y| y.delta.abs().cmp(&x.delta.abs()).then(x.uid.cmp(&y.uid)));
    let max_abs_delta = differences.first().map_or(0, |d| {
        u16::try_from(d.delta.unsigned_abs()).unwrap_or(u16::MAX)
    });
    differences.truncate(LARGEST_DIFFERENCES);
    let ours_nonzero = a.iter().filter(|x| **x > 0.0).count();
    let control_nonzero = b.iter().filter(|x| **x > 0.0).count();
    let top_k = k.min(ours_nonzero.max(control_nonzero));
    Agreement {
        cosine: cosine(&a, &b),
        l1: l1(&a, &b),
        max_abs_delta,
        spearman: spearman_over_support(&a, &b),
        top_k,
        top_k_overlap: top_k_overlap(&a, &b, top_k),
        ours_nonzero,
        control_nonzero,
        largest_differences: differences,
    }
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    match (na > 0.0, nb > 0.0) {
        (false, false) => 1.0,
        (true, true) => (dot / (na * nb)).clamp(0.0, 1.0),
        _ => 0.0,
    }
}

fn l1(a: &[f64], b: &[f64]) -> f64 {
    let sa: f64 = a.iter().sum();
    let sb: f64 = b.iter().sum();
    let norm = |x: f64, s: f64| if s > 0.0 { x / s } else { 0.0 };
    a.iter()
        .zip(b)
        .map(|(x, y)| (norm(*x, sa) - norm(*y, sb)).abs())
        .sum()
}

/// Average ranks (1-based; ties share their mean rank).
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|i, j| values[*i].total_cmp(&values[*j]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) share the mean of ranks start+1..=end.
        let mean = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = mean;
        }
        start = end;
    }
    ranks
}

/// Pearson correlation; `None` when a side is constant or there are fewer than two values.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 2 || x.len() != y.len() {
        return None;
    }
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| (cov / (vx * vy).sqrt()).clamp(-1.0, 1.0))
}

/// Spearman ρ of `x` and `y` (average ranks, then Pearson).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&average_ranks(x), &average_ranks(y))
}

fn spearman_over_support(a: &[f64], b: &[f64]) -> Option<f64> {
    let (x, y): (Vec<f64>, Vec<f64>) = a
        .iter()
        .zip(b)
        .filter(|(x, y)| **x > 0.0 || **y > 0.0)
        .map(|(x, y)| (*x, *y))
        .unzip();
    spearman(&x, &y)
}

/// The `k` UIDs with the largest values (ties by UID), zeros excluded.
fn top(v: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).filter(|i| v[*i] > 0.0).collect();
    idx.sort_by(|i, j| v[*j].total_cmp(&v[*i]).then(i.cmp(j)));
    idx.truncate(k);
    idx
}

fn top_k_overlap(a: &[f64], b: &[f64], k: usize) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let ta = top(a, k);
    let tb = top(b, k);
    ta.iter().filter(|u| tb.contains(u)).count() as f64 / k as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_vectors_agree_fully() {
        let v = dense(&[(0, 65535), (1, 2), (3, 4)]);
        let a = agreement(&v, &v, 10);
        assert_eq!(a.cosine, 1.0);
        assert_eq!(a.l1, 0.0);
        assert_eq!(a.max_abs_delta, 0);
        assert_eq!(a.spearman, Some(1.0));
        assert_eq!((a.top_k, a.top_k_overlap), (3, 1.0));
        assert!(a.largest_differences.is_empty());
    }

    #[test]
    fn hand_checked_figures_of_a_swap() {
        // ours (uid 1, 2) = (3, 1), control = (1, 3): cosine (3+3)/(√10·√10) = 0.6;
        // shares 0.75/0.25 vs 0.25/0.75 → L1 = 1.0; max |Δ| = 2; ranks reversed → ρ = −1;
        // top-1 overlap 0.
        let a = agreement(&[0, 3, 1], &[0, 1, 3], 1);
        assert!((a.cosine - 0.6).abs() < 1e-12);
        assert!((a.l1 - 1.0).abs() < 1e-12);
        assert_eq!(a.max_abs_delta, 2);
        assert_eq!(a.spearman, Some(-1.0));
        assert_eq!((a.top_k, a.top_k_overlap), (1, 0.0));
        assert_eq!(
            a.largest_differences,
            vec![
                UidDifference {
                    uid: 1,
                    ours: 3,
                    control: 1,
                    delta: 2
                },
                UidDifference {
                    uid: 2,
                    ours: 1,
                    control: 3,
                    delta: -2
                },
            ]
        );
    }

    #[test]
    fn empty_and_one_sided_vectors() {
        let both = agreement(&[], &[0, 0], 5);
        assert_eq!((both.cosine, both.l1, both.top_k_overlap), (1.0, 0.0, 1.0));
        assert_eq!(both.spearman, None);
        let one = agreement(&[5], &[], 5);
        assert_eq!((one.cosine, one.l1), (0.0, 1.0));
        assert_eq!(one.max_abs_delta, 5);
    }

    #[test]
    fn ranks_average_ties_like_scipy() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0]),
            vec![1.5, 3.0, 1.5, 4.0]
        );
        // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((rho - 0.948_683_298_050_513_8).abs() < 1e-12, "{rho}");
        assert_eq!(pearson(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(pearson(&[1.0], &[1.0]), None);
        assert_eq!(dense(&[(2, 7), (2, 9)]), vec![0, 0, 9]);
    }
}
