//! Active validators get no weight (spec §5.4, §12-5): a UID with a validator permit whose
//! `LastUpdate` lies fewer than 500 blocks behind the head is a validator at work, and the
//! reference zeroes its weight just before submission — except the burn UID, which receives the
//! burned share whatever it is.
//!
//! The chain client reads `ValidatorPermit`, `LastUpdate` and the head once per submission and
//! hands the UIDs to the calculation ([`active_validator_uids`]); [`zero_active_validators`] is
//! the step of the calculation.

/// How recent a validator's `LastUpdate` must be for it to count as active (`recent_blocks`).
pub const ACTIVE_VALIDATOR_BLOCKS: u64 = 500;

/// The UIDs whose permit is set and whose `LastUpdate` is fewer than `recent_blocks` behind
/// `current_block`, as the reference selects them: `permit == 1 and uid < len(last_update) and
/// current_block - last_update[uid] < recent_blocks` (a `LastUpdate` ahead of the head counts as
/// recent, as Python's signed difference does).
pub fn active_validator_uids(
    permits: &[bool],
    last_update: &[u64],
    current_block: u64,
    recent_blocks: u64,
) -> Vec<u16> {
    permits
        .iter()
        .enumerate()
        .filter(|(uid, permit)| {
            **permit
                && last_update.get(*uid).is_some_and(|&updated| {
                    i128::from(current_block) - i128::from(updated) < i128::from(recent_blocks)
                })
        })
        .filter_map(|(uid, _)| u16::try_from(uid).ok())
        .collect()
}

/// Set the weight of every UID in `active` to 0, except `burn_uid`, and renormalise the rest to
/// sum 1 (when anything is left). Returns the UIDs whose weight was positive and is now 0.
pub fn zero_active_validators(
    weights: &mut [f64],
    active: &[u16],
    burn_uid: Option<u16>,
) -> Vec<u16> {
    let mut zeroed = Vec::new();
    for &uid in active {
        if Some(uid) == burn_uid {
            continue;
        }
        if let Some(w) = weights.get_mut(usize::from(uid)) {
            if *w > 0.0 {
                zeroed.push(uid);
            }
            *w = 0.0;
        }
    }
    zeroed.sort_unstable();
    zeroed.dedup();
    if !zeroed.is_empty() {
        let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
        if total > 0.0 {
            weights.iter_mut().for_each(|w| *w /= total);
        }
    }
    zeroed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_means_permit_and_an_update_fewer_than_500_blocks_ago() {
        let permits = [true, true, false, true, true, true];
        let last_update = [1_000, 1_501, 1_900, 1_000_000, 1_500];
        // uid 0: 1000 behind; uid 1: 499 behind (active); uid 2: no permit; uid 3: ahead of the
        // head (active, as the reference's signed difference is negative); uid 4: exactly 500
        // behind (not active); uid 5: no LastUpdate entry.
        assert_eq!(
            active_validator_uids(&permits, &last_update, 2_000, ACTIVE_VALIDATOR_BLOCKS),
            vec![1, 3]
        );
        assert!(active_validator_uids(&[], &[], 5, 500).is_empty());
    }

    #[test]
    fn active_validators_lose_their_weight_except_the_burn_uid() {
        let mut w = vec![0.1, 0.2, 0.3, 0.4];
        let zeroed = zero_active_validators(&mut w, &[1, 3, 3, 9], Some(3));
        assert_eq!(
            zeroed,
            vec![1],
            "uid 3 is the burn UID, uid 9 has no weight"
        );
        let total = 0.1 + 0.3 + 0.4;
        let expected = [0.1 / total, 0.0, 0.3 / total, 0.4 / total];
        for (got, want) in w.iter().zip(expected) {
            assert!((got - want).abs() < 1e-15, "{w:?}");
        }
        let mut untouched = vec![0.5, 0.5];
        assert!(zero_active_validators(&mut untouched, &[], None).is_empty());
        assert_eq!(untouched, vec![0.5, 0.5]);
        let mut all = vec![0.0, 1.0];
        assert_eq!(zero_active_validators(&mut all, &[1], None), vec![1]);
        assert_eq!(
            all,
            vec![0.0, 0.0],
            "nothing left: zero weights, as the reference sets"
        );
    }
}
