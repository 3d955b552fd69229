//! Wider vectors for the hot loops of the scores, chosen when the program runs.
//!
//! The release binary targets baseline x86-64. Baseline x86-64 has SSE2, so the compiler works on
//! two `f64` at a time. The inner loops of the scoring kernels are written with four independent
//! lanes ([`crate::metrics::moments::LANES`]) and with interpolation passes that vectorise.
//! On a CPU with AVX2 one instruction handles all four lanes. [`avx2_dispatch!`] compiles such a
//! loop twice, once for the baseline and once with AVX2 enabled, and picks one at each call.
//! The CPU check is cached by the standard library, so each call costs one relaxed load.
//!
//! **Same bits on every CPU.** Both copies run the same IEEE-754 operations in the same
//! order, lane by lane. The lanes are explicit arrays, so the order of the additions does not
//! depend on the vector width. FMA is not enabled: Rust never contracts `a * b + c` on its own,
//! and only the `fma` target feature would offer it. So a score never depends on the machine
//! that computed it. Each dispatched kernel has a `dispatched_*` test that compares it with its
//! baseline copy bit for bit (on a CPU without AVX2 both sides are the baseline).
//!
//! Why not `-C target-cpu`: the Docker image and the release binary have to run on any x86-64
//! server. Why not a crate such as `multiversion`: this macro is the whole of what is needed,
//! and it keeps the one `unsafe` call in view.

/// `fn NAME(args) -> R as BASELINE { body }` defines `NAME`, compiled twice (for baseline
/// x86-64 and with AVX2 enabled), whose every call runs the AVX2 copy when the CPU has AVX2, and
/// the private `BASELINE`, the same body always compiled for the baseline (what tests compare
/// with; on other architectures `NAME` just calls it). The function must not be generic, and
/// what its hot loop calls should be `#[inline]` so that it is compiled into both copies.
macro_rules! avx2_dispatch {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? as $baseline:ident
        $body:block
    ) => {
        /// The baseline copy of the function of the same name without the suffix.
        #[inline(always)]
        fn $baseline($($arg: $ty),*) $(-> $ret)? $body

        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $baseline($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: `avx2` only needs the AVX2 instructions, and the check above
                    // found them on this CPU.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $baseline($($arg),*)
        }
    };
}

pub(crate) use avx2_dispatch;

/// Test rows for comparing a dispatched kernel with its baseline copy.
#[cfg(test)]
pub(crate) mod test_rows {
    /// The lengths every comparison uses: empty, shorter than the lanes, ragged, a 0.25° row.
    pub(crate) const LENGTHS: [usize; 6] = [0, 1, 3, 4, 7, 1440];

    /// `n` deterministic values around 250 spread over `scale`.
    pub(crate) fn finite(seed: u64, n: usize, scale: f64) -> Vec<f64> {
        (0..n as u64)
            .map(|i| {
                let h = (i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
                (h as f64 / (1u64 << 53) as f64 - 0.5) * scale + 250.0
            })
            .collect()
    }

    /// `v` with a NaN every fifth point and ±infinity every seventh (from `first`).
    pub(crate) fn holed(mut v: Vec<f64>, first: usize) -> Vec<f64> {
        let n = v.len();
        for i in (first.min(n)..n).step_by(5) {
            v[i] = f64::NAN;
        }
        for i in (first.min(n)..n).step_by(7) {
            v[i] = if i % 2 == 0 {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
        }
        v
    }
}

#[cfg(test)]
mod tests {
    avx2_dispatch! {
        /// A sum with a division and a product, dispatched.
        fn dispatched(x: &[f64]) -> f64 as dispatched_baseline {
            let mut lanes = [0.0; 4];
            for c in x.chunks_exact(4) {
                for l in 0..4 {
                    lanes[l] += c[l] / 3.0 + 1e-3 * c[l] * c[l];
                }
            }
            (lanes[0] + lanes[1]) + (lanes[2] + lanes[3])
        }
    }

    /// The two copies give identical bits (the kernels' own tests compare each dispatched
    /// kernel with its baseline copy).
    #[test]
    fn dispatch_and_baseline_agree_bit_for_bit() {
        let x: Vec<f64> = (0..1440)
            .map(|i| ((i * 7919) % 1000) as f64 * 0.37 - 180.0)
            .collect();
        assert_eq!(dispatched(&x).to_bits(), dispatched_baseline(&x).to_bits());
    }
}
