//! When the validator sets weights (spec §5.5, chain.md §3.4): at least 250 blocks since the
//! chain's `LastUpdate` for this validator, and never faster than `WeightsSetRateLimit`.
//!
//! A pure predicate so the IO-Engine's chain task and the tests agree on the rule.

/// Gaia's target interval between weight submissions, in blocks.
pub const MIN_BLOCKS_BETWEEN_WEIGHTS: u64 = 250;

/// Whether weights are due at `current_block`.
///
/// `last_update` is `LastUpdate[netuid][uid]` (0 = never set, always due); due iff
/// `current − last_update ≥ max(min_interval, rate_limit)`. A `last_update` ahead of the
/// current block (a stale head) is not due.
pub fn weights_due(
    current_block: u64,
    last_update: u64,
    rate_limit: u64,
    min_interval: u64,
) -> bool {
    if last_update == 0 {
        return true;
    }
    current_block
        .checked_sub(last_update)
        .is_some_and(|since| since >= min_interval.max(rate_limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_after_250_blocks_or_the_rate_limit_whichever_is_longer() {
        assert!(!weights_due(1249, 1000, 100, MIN_BLOCKS_BETWEEN_WEIGHTS));
        assert!(weights_due(1250, 1000, 100, MIN_BLOCKS_BETWEEN_WEIGHTS));
        assert!(!weights_due(1299, 1000, 300, MIN_BLOCKS_BETWEEN_WEIGHTS));
        assert!(weights_due(1300, 1000, 300, MIN_BLOCKS_BETWEEN_WEIGHTS));
        assert!(weights_due(5, 0, 100, MIN_BLOCKS_BETWEEN_WEIGHTS));
        assert!(!weights_due(900, 1000, 100, MIN_BLOCKS_BETWEEN_WEIGHTS));
    }
}
