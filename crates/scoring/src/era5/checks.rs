//! The ERA5 input checks on a miner's field after interpolation (spec §4.3 items 4-6): edge
//! salvage of the one-cell border, the extreme-value and NaN-injection manipulation checks, the
//! coverage requirement and the climatology fill of the remaining gaps.

use ndarray::{Array2, ArrayView2, Zip};

/// Fill NaNs in the outer one-cell border from the adjacent inner row/column of the **original**
/// field (§12-9): first the top and bottom rows (columns 1..m−2, from rows 1 and n−2), then the
/// whole left and right columns from columns 1 and m−2, so a corner takes its own row's
/// neighbour and the corners of a NaN row stay NaN. Returns the number of points filled. Fields
/// smaller than 3 × 3 are left alone.
pub fn edge_salvage(values: &mut Array2<f64>) -> usize {
    let (nr, nc) = values.dim();
    if nr < 3 || nc < 3 {
        return 0;
    }
    let original = values.clone();
    let mut filled = 0;
    for (edge, inner) in [(0, 1), (nr - 1, nr - 2)] {
        for j in 1..nc - 1 {
            if original[[edge, j]].is_nan() && !original[[inner, j]].is_nan() {
                values[[edge, j]] = original[[inner, j]];
                filled += 1;
            }
        }
    }
    for (edge, inner) in [(0, 1), (nc - 1, nc - 2)] {
        for i in 0..nr {
            if original[[i, edge]].is_nan() && !original[[i, inner]].is_nan() {
                values[[i, edge]] = original[[i, inner]];
                filled += 1;
            }
        }
    }
    filled
}

/// True when any finite value has `|x| > threshold` (§12-11: infinities are missing values,
/// not extreme ones).
pub fn has_extreme(values: &ArrayView2<f64>, threshold: f64) -> bool {
    values.iter().any(|x| x.is_finite() && x.abs() > threshold)
}

/// Counts for the coverage ratio: (truth-finite points, of which the forecast is finite).
pub fn coverage_counts(forecast: &ArrayView2<f64>, truth: &ArrayView2<f64>) -> (usize, usize) {
    let mut total = 0;
    let mut covered = 0;
    Zip::from(forecast).and(truth).for_each(|&f, &t| {
        if t.is_finite() {
            total += 1;
            if f.is_finite() {
                covered += 1;
            }
        }
    });
    (total, covered)
}

/// Replace the forecast's non-finite values (NaN and ±inf, §12-11) by the climatology; returns
/// the number of points replaced.
pub fn fill_from_climatology(forecast: &mut Array2<f64>, climatology: &ArrayView2<f64>) -> usize {
    let mut filled = 0;
    Zip::from(forecast).and(climatology).for_each(|f, &c| {
        if !f.is_finite() {
            *f = c;
            filled += 1;
        }
    });
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    const N: f64 = f64::NAN;

    #[test]
    fn salvage_fills_border_only() {
        let mut v = array![[N, N, 3.0], [4.0, N, 6.0], [7.0, 8.0, N]];
        let filled = edge_salvage(&mut v);
        // top row: (0,1) from (1,1)=NaN stays; left column (0,0) from the original (0,1)=NaN
        // stays; right column (2,2) from (2,1)=8. (1,1) is inner.
        assert_eq!(filled, 1);
        assert!(v[[0, 0]].is_nan());
        assert!(v[[0, 1]].is_nan());
        assert!(v[[1, 1]].is_nan());
        assert_eq!(v[[2, 2]], 8.0);
        let mut small = array![[N, 1.0]];
        assert_eq!(edge_salvage(&mut small), 0);
    }

    /// §12-9: a NaN top row is filled from row 1 except its corners, which the column pass
    /// rewrites from the original (NaN) row.
    #[test]
    fn the_corners_of_a_nan_row_stay_nan() {
        let mut v = array![[N, N, N, N], [1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]];
        assert_eq!(edge_salvage(&mut v), 2);
        assert!(v[[0, 0]].is_nan() && v[[0, 3]].is_nan());
        assert_eq!((v[[0, 1]], v[[0, 2]]), (2.0, 3.0));
        // A NaN column is filled whole, its corners from their rows' neighbours.
        let mut c = array![[1.0, 2.0, N], [3.0, 4.0, N], [5.0, 6.0, N]];
        assert_eq!(edge_salvage(&mut c), 3);
        assert_eq!(c.column(2).to_vec(), vec![2.0, 4.0, 6.0]);
    }

    #[test]
    fn checks_and_fill() {
        let f = array![[1.0, N], [f64::INFINITY, 2.0]];
        let t = array![[1.0, 1.0], [1.0, N]];
        assert!(
            !has_extreme(&f.view(), 1e12),
            "an infinity is not an extreme value"
        );
        assert!(has_extreme(&array![[1.0, -2e12]].view(), 1e12));
        assert!(!has_extreme(&array![[1e12, -1e12]].view(), 1e12));
        assert_eq!(coverage_counts(&f.view(), &t.view()), (3, 1));
        let mut g = array![[1.0, N], [f64::NEG_INFINITY, 2.0]];
        assert_eq!(
            fill_from_climatology(&mut g, &array![[9.0, 8.0], [7.0, 6.0]].view()),
            2
        );
        assert_eq!(g, array![[1.0, 8.0], [7.0, 2.0]]);
    }
}
