//! Data correctness from the stored results: the settled scores of a run (every response of
//! every cycle whose last ERA5 lead was due well before the end) as exact bit patterns, so a
//! chaos run and a calm run over the same world can be compared bit for bit, and the check of
//! spec §12-1 (overall = 0.95 · Σ available L_h / 10 + 0.05 · Day-1 pass) on every stored
//! per-lead result.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use gaia_store::Store;

/// Settled results: `(gfs init, uid)` → bit patterns of Day-1, the ten ERA5 leads and overall;
/// plus `gfs init` → the score row's per-UID bits.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Settled {
    /// Per response.
    pub responses: BTreeMap<(DateTime<Utc>, u8), Vec<Option<u64>>>,
    /// Per run's score row.
    pub rows: BTreeMap<DateTime<Utc>, Vec<Option<u64>>>,
}

/// What a finished run left in its database: the settled scores, the §12-1 check and the last
/// weights recorded.
pub struct StoreResults {
    /// The settled scores.
    pub settled: Settled,
    /// Overall scores checked against spec §12-1, and the violations.
    pub lead_rule: (usize, Vec<String>),
    /// The last weights recorded, in uid order, for the first `miners` uids.
    pub weights: Vec<f64>,
}

/// The business instant before which a run of `days` simulated days from `start` must have
/// settled a cycle for it to be compared: a day before the end.
pub fn settled_before(start: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    start + Duration::days(i64::from(days)) - Duration::days(1)
}

/// Whether every compared cycle of a run of `days` simulated days from `start` has a completed
/// run: only those count (a later run says nothing of them, and one that run retention deleted,
/// a drain that outlasted it, must not count as complete).
pub async fn compared_runs_complete(
    store: &Store,
    start: DateTime<Utc>,
    days: u32,
) -> anyhow::Result<bool> {
    let before = settled_before(start, days);
    let first = crate::soak::world::cycle_of(start, 0);
    let runs = store.list_runs_since(start - Duration::days(1)).await?;
    let compared: Vec<_> = runs
        .iter()
        .filter(|r| r.gfs_init_time_utc >= first)
        .filter(|r| r.gfs_init_time_utc + Duration::days(10) <= before)
        .collect();
    let open = compared
        .iter()
        .filter(|r| r.status != gaia_store::RunStatus::Completed)
        .count();
    let expected = (0..days)
        .filter(|d| crate::soak::world::cycle_of(start, *d) + Duration::days(10) <= before)
        .count();
    Ok(open == 0 && compared.len() >= expected)
}

/// Read what a run of `days` simulated days from `start`, stopped at business time
/// `business_end`, left in `store`.
pub async fn results(
    store: &Store,
    start: DateTime<Utc>,
    days: u32,
    business_end: DateTime<Utc>,
    miners: u16,
) -> anyhow::Result<StoreResults> {
    let settled = settled(store, start, settled_before(start, days)).await?;
    let lead_rule = lead_rule(store, start, business_end).await?;
    let weights = store
        .weight_history_since(start - Duration::days(1))
        .await?
        .last()
        .map(|w| {
            w.weights
                .as_slice()
                .iter()
                .take(usize::from(miners))
                .map(|v| v.unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    Ok(StoreResults {
        settled,
        lead_rule,
        weights,
    })
}

/// Read the results of every cycle with `gfs_init + 10 d ≤ settled_before`.
pub async fn settled(
    store: &Store,
    since: DateTime<Utc>,
    settled_before: DateTime<Utc>,
) -> anyhow::Result<Settled> {
    let mut out = Settled::default();
    let runs = store.list_runs_since(since - Duration::days(1)).await?;
    let rows = store
        .score_rows_since("weather", since - Duration::days(1))
        .await?;
    for run in runs {
        let init = run.gfs_init_time_utc;
        if init + Duration::days(10) > settled_before {
            continue;
        }
        for s in store.list_forecast_stats(run.id).await? {
            let mut v = vec![s.forecast_score_initial.map(f64::to_bits)];
            v.extend(s.era5_by_lead().iter().map(|x| x.map(f64::to_bits)));
            v.push(s.overall_forecast_score.map(f64::to_bits));
            out.responses.insert((init, s.miner_uid), v);
        }
        if let Some(row) = rows.iter().find(|r| r.run_id == Some(run.id)) {
            let bits = row
                .scores
                .as_slice()
                .iter()
                .map(|x| x.map(f64::to_bits))
                .collect();
            out.rows.insert(init, bits);
        }
    }
    Ok(out)
}

/// How two settled snapshots differ: missing, extra and different entries (empty when equal).
pub fn differences(calm: &Settled, chaos: &Settled) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in &calm.responses {
        match chaos.responses.get(k) {
            None => out.push(format!("response {} uid {} missing", k.0, k.1)),
            Some(w) if w != v => out.push(format!("response {} uid {} differs", k.0, k.1)),
            _ => {}
        }
    }
    for k in chaos.responses.keys() {
        if !calm.responses.contains_key(k) {
            out.push(format!("response {} uid {} extra", k.0, k.1));
        }
    }
    for (k, v) in &calm.rows {
        if chaos.rows.get(k) != Some(v) {
            out.push(format!("score row of {k} missing or different"));
        }
    }
    if calm.responses.is_empty() {
        out.push("no settled response to compare".into());
    }
    out
}

/// Whether miner `uid`'s scores arrived in every settled cycle: its ten ERA5 leads and its
/// overall score stored. Returns (cycles checked, what is missing).
pub fn unscored(settled: &Settled, uid: u8) -> (usize, Vec<String>) {
    let mut cycles: Vec<DateTime<Utc>> = settled.responses.keys().map(|k| k.0).collect();
    cycles.dedup();
    let missing = cycles
        .iter()
        .filter_map(|init| match settled.responses.get(&(*init, uid)) {
            None => Some(format!("{init} uid {uid}: no response")),
            Some(v) => {
                let absent = v.iter().skip(1).filter(|x| x.is_none()).count();
                (absent > 0 || v.len() < 12)
                    .then(|| format!("{init} uid {uid}: {absent} of 11 lead/overall scores absent"))
            }
        })
        .collect();
    (cycles.len(), missing)
}

/// Check spec §12-1 on every stored overall score of every run: the overall is the blend of the
/// leads stored so far, and no lead is stored before it was due at `end` (business time).
/// Returns (results checked, violations).
pub async fn lead_rule(
    store: &Store,
    since: DateTime<Utc>,
    end: DateTime<Utc>,
) -> anyhow::Result<(usize, Vec<String>)> {
    let mut checked = 0;
    let mut bad = Vec::new();
    for run in store.list_runs_since(since - Duration::days(1)).await? {
        let init = run.gfs_init_time_utc;
        for s in store.list_forecast_stats(run.id).await? {
            let leads = s.era5_by_lead();
            for (i, l) in leads.iter().enumerate() {
                let due = init + Duration::hours(24 * (i as i64 + 1));
                if l.is_some() && due > end {
                    bad.push(format!(
                        "{init} uid {}: lead {}h before due",
                        s.miner_uid,
                        24 * (i + 1)
                    ));
                }
            }
            let Some(overall) = s.overall_forecast_score else {
                continue;
            };
            checked += 1;
            let era5: f64 = leads.iter().map(|l| l.unwrap_or(0.0)).sum::<f64>() / 10.0;
            let pass = s.forecast_score_initial.is_some_and(|d| d >= 0.1);
            let want = (0.95 * era5 + 0.05 * f64::from(u8::from(pass))).clamp(0.0, 1.0);
            let failed_early = leads.iter().all(Option::is_none) && overall == 0.0;
            if (overall - want).abs() > 1e-9 && !failed_early {
                bad.push(format!(
                    "{init} uid {}: overall {overall} but the stored leads give {want}",
                    s.miner_uid
                ));
            }
        }
    }
    Ok((checked, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_missing_extra_and_changed_results() {
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut a = Settled::default();
        assert_eq!(differences(&a, &a), vec!["no settled response to compare"]);
        a.responses.insert((t, 1), vec![Some(1)]);
        a.rows.insert(t, vec![Some(3)]);
        assert!(differences(&a, &a.clone()).is_empty());
        let mut b = a.clone();
        b.responses.insert((t, 1), vec![Some(2)]);
        b.responses.insert((t, 2), vec![None]);
        b.rows.clear();
        let d = differences(&a, &b);
        assert_eq!(d.len(), 3, "{d:?}");
        assert!(differences(&b, &a).iter().any(|x| x.contains("missing")));
    }

    #[test]
    fn a_miner_is_unscored_where_a_lead_or_its_response_is_missing() {
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let u = t + Duration::days(1);
        let mut s = Settled::default();
        s.responses.insert((t, 3), vec![Some(1); 12]);
        s.responses.insert((u, 0), vec![Some(1); 12]);
        let (checked, missing) = unscored(&s, 3);
        assert_eq!(checked, 2);
        assert_eq!(missing, vec![format!("{u} uid 3: no response")]);
        let mut lead = vec![Some(1); 12];
        lead[4] = None;
        s.responses.insert((u, 3), lead);
        assert!(unscored(&s, 3).1[0].contains("1 of 11"));
        s.responses.insert((u, 3), vec![None, Some(1), Some(2)]);
        assert_eq!(unscored(&s, 3).1.len(), 1, "too short");
        assert!(unscored(&s, 0).1.len() == 1);
    }
}
