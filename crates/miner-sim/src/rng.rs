//! A tiny deterministic generator (SplitMix64 + Box–Muller) so a world and every miner's noise
//! are reproducible from a seed, independent of any external crate's algorithm changes.

/// SplitMix64 state.
#[derive(Debug, Clone)]
pub struct SplitMix {
    state: u64,
    spare: Option<f64>,
}

impl SplitMix {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare: None,
        }
    }

    /// A generator for a stream identified by several numbers (seed, uid, step, ...).
    pub fn for_stream(parts: &[u64]) -> Self {
        let mut s = SplitMix::new(0x005E_ED0F_6A1A);
        let mut acc = 0u64;
        for p in parts {
            s.state ^= p.wrapping_mul(0xD1B5_4A32_D192_ED03);
            acc = s.next_u64();
        }
        SplitMix::new(acc)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Approximately standard normal and cheap: the centred sum of four uniforms from one
    /// 64-bit draw (16 bits each), scaled to unit variance (Irwin–Hall; tails end at ±3.46).
    pub fn fast_normal(&mut self) -> f64 {
        let x = self.next_u64();
        let sum: u64 = (0..4).map(|k| (x >> (16 * k)) & 0xFFFF).sum();
        // Each 16-bit uniform has mean 32767.5 and variance (65536² − 1)/12.
        (sum as f64 - 131_070.0) / (65_536.0 * (4.0f64 / 12.0).sqrt())
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_roughly_standard() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SplitMix::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let mut r = SplitMix::new(7);
        assert_eq!(a[0], r.next_u64());
        assert_ne!(
            SplitMix::for_stream(&[1, 2]).next_u64(),
            SplitMix::for_stream(&[2, 1]).next_u64()
        );
        let mut r = SplitMix::new(3);
        let xs: Vec<f64> = (0..20_000).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
        let ys: Vec<f64> = (0..20_000).map(|_| r.fast_normal()).collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let var = ys.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / ys.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
