//! The budget ledger under many interleavings of reserve, settle and release: a seeded
//! pseudo-random schedule stands in for concurrent requests (the client's event loop and the
//! proxy's Durable Object both serialise operations, so any interleaving is a sequence).
//! The test keeps its own model of the ledger and checks every outcome against it: which
//! reservations must be refused, today's spend, what is reserved, and which alerts fire.
use std::collections::HashSet;

use llm_edge::core::budget::{
    utc_day, BudgetConfig, BudgetLedger, LedgerSnapshot, Reservation, PICODOLLARS_PER_USD,
};
use llm_edge::core::error::ErrorKind;

const USD: u64 = PICODOLLARS_PER_USD;
const HOUR_MS: u64 = 3_600_000;
/// 2026-11-27T20:00:00Z: a few hours before a UTC day boundary.
const START_MS: u64 = 1_795_809_600_000;

/// SplitMix64: a tiny, well-distributed generator so the schedule is reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// What the test expects the ledger to hold.
struct Model {
    day: u64,
    spent: u64,
    /// The part of `spent` that came from reservations settled after they expired.
    spent_late: u64,
    outstanding: Vec<Reservation>,
}

impl Model {
    fn reserved(&self, now_ms: u64) -> u64 {
        self.outstanding
            .iter()
            .filter(|r| r.expires_at_ms > now_ms)
            .map(|r| r.worst_case_pico)
            .sum()
    }
}

#[derive(Default)]
struct Coverage {
    refused: u64,
    refused_at_hard_stop: u64,
    settled: u64,
    settled_late: u64,
    released: u64,
    restored: u64,
    days: u64,
    /// Alerts delivered, per threshold.
    alerts: [u64; 3],
}

/// The spend at which a threshold fires: the fraction of the budget, rounded up.
fn threshold_pico(budget: u64, ratio: f64) -> u64 {
    let ppm = (ratio * 1e6).round() as u128;
    (budget as u128 * ppm).div_ceil(1_000_000) as u64
}

fn run_schedule(seed: u64, operations: usize, reservation_ttl_ms: u64) -> Coverage {
    let budget = 5 * USD;
    let thresholds = [0.5, 0.8, 1.0];
    let config = BudgetConfig {
        daily_usd: Some(5.0),
        alert_thresholds: thresholds.to_vec(),
        reservation_ttl_ms,
        ..BudgetConfig::default()
    };
    let mut ledger = BudgetLedger::new(&config).unwrap();
    let mut rng = Rng(seed);
    let mut now = START_MS;
    let mut model = Model {
        day: utc_day(now),
        spent: 0,
        spent_late: 0,
        outstanding: Vec::new(),
    };
    // (day, threshold in ppm) of every alert delivered, to prove none fires twice.
    let mut delivered: HashSet<(u64, u64)> = HashSet::new();
    let mut coverage = Coverage::default();

    for _ in 0..operations {
        // Time moves on: usually seconds, sometimes hours (so days roll over mid-flight).
        now += if rng.chance(2) {
            HOUR_MS + rng.below(6 * HOUR_MS)
        } else {
            rng.below(20_000)
        };
        if utc_day(now) > model.day {
            model.day = utc_day(now);
            model.spent = 0;
            model.spent_late = 0;
            coverage.days += 1;
        }

        match rng.below(10) {
            // Reserve a worst case from a fraction of a cent to a quarter of the budget.
            0..=4 => {
                let reserved = model.reserved(now);
                let worst = match rng.below(12) {
                    0..=2 => rng.below(USD / 100),
                    3..=7 => rng.below(USD / 4),
                    8..=10 => rng.below(5 * USD / 4),
                    // Exactly the room left, so that spend can reach the budget itself.
                    _ => budget.saturating_sub(model.spent + reserved),
                };
                let must_fit = model.spent < budget && model.spent + reserved + worst <= budget;
                match ledger.reserve(worst, now) {
                    Ok(reservation) => {
                        assert!(must_fit, "seed {seed}: reserved {worst} beyond the budget");
                        assert_eq!(reservation.worst_case_pico, worst);
                        model.outstanding.push(reservation);
                    }
                    Err(err) => {
                        assert!(!must_fit, "seed {seed}: refused {worst} that fits: {err}");
                        assert_eq!(err.kind(), ErrorKind::BudgetExceeded);
                        coverage.refused += 1;
                        if model.spent >= budget {
                            coverage.refused_at_hard_stop += 1;
                        }
                    }
                }
            }
            // Settle a random request in flight with an actual cost up to its worst case.
            5..=7 if !model.outstanding.is_empty() => {
                let index = rng.below(model.outstanding.len() as u64) as usize;
                let reservation = model.outstanding.swap_remove(index);
                let actual = match rng.below(3) {
                    0 => reservation.worst_case_pico,
                    _ => rng.below(reservation.worst_case_pico + 1),
                };
                let late = reservation.expires_at_ms <= now;
                let before = model.spent;
                model.spent += actual;
                if late {
                    model.spent_late += actual;
                    coverage.settled_late += 1;
                }
                let alerts = ledger.settle(reservation, actual, now);
                let expected: Vec<f64> = thresholds
                    .iter()
                    .copied()
                    .filter(|&t| {
                        let at = threshold_pico(budget, t);
                        before < at && at <= model.spent
                    })
                    .collect();
                let fired: Vec<f64> = alerts.iter().map(|a| a.threshold).collect();
                assert_eq!(
                    fired, expected,
                    "seed {seed}: alerts at spend {}",
                    model.spent
                );
                for alert in &alerts {
                    let index = thresholds
                        .iter()
                        .position(|&t| t == alert.threshold)
                        .unwrap();
                    coverage.alerts[index] += 1;
                    assert_eq!(alert.spent_pico, model.spent);
                    assert_eq!(alert.budget_pico, budget);
                    let key = (model.day, (alert.threshold * 1e6) as u64);
                    assert!(
                        delivered.insert(key),
                        "seed {seed}: alert {key:?} fired twice"
                    );
                }
                coverage.settled += 1;
            }
            // Release a request that never reached the provider.
            8 if !model.outstanding.is_empty() => {
                let index = rng.below(model.outstanding.len() as u64) as usize;
                ledger.release(model.outstanding.swap_remove(index), now);
                coverage.released += 1;
            }
            // The Durable Object is evicted and rebuilt from its stored snapshot.
            9 => {
                let json = serde_json::to_string(&ledger.snapshot()).unwrap();
                let snapshot: LedgerSnapshot = serde_json::from_str(&json).unwrap();
                ledger = BudgetLedger::restore(&config, snapshot).unwrap();
                coverage.restored += 1;
            }
            _ => {}
        }

        let spend = ledger.spend(now);
        let reserved = model.reserved(now);
        assert_eq!(spend.today_pico, model.spent, "seed {seed}");
        assert_eq!(spend.reserved_pico, reserved, "seed {seed}");
        // The property: costs within their worst case never take spend past the budget. Only a
        // reservation settled after it expired (it no longer held budget) can add beyond it.
        assert!(
            model.spent - model.spent_late + reserved <= budget,
            "seed {seed}: spent {} (late {}) + reserved {reserved} > budget {budget}",
            model.spent,
            model.spent_late
        );
    }
    coverage
}

#[test]
fn interleaved_requests_never_overspend_and_alerts_fire_once_per_day() {
    let mut total = Coverage::default();
    for seed in 1..=40 {
        // Reservations never expire here, so spend must stay within the budget outright.
        let c = run_schedule(seed, 5_000, u64::MAX / 4);
        assert_eq!(c.settled_late, 0);
        total.refused += c.refused;
        total.refused_at_hard_stop += c.refused_at_hard_stop;
        total.settled += c.settled;
        total.released += c.released;
        total.restored += c.restored;
        total.days += c.days;
        for (sum, count) in total.alerts.iter_mut().zip(c.alerts) {
            *sum += count;
        }
    }
    // The schedule must reach every interesting state, or the test proves nothing (measured
    // with these seeds: 21 582 settled, 7 100 released, 28 966 refused for lack of room and
    // 42 210 at the hard stop, 20 058 restores, 704 days, alerts 716 / 698 / 500).
    assert!(total.settled > 10_000, "{}", total.settled);
    assert!(total.released > 3_000, "{}", total.released);
    assert!(
        total.refused - total.refused_at_hard_stop > 10_000,
        "{}",
        total.refused
    );
    assert!(
        total.refused_at_hard_stop > 10_000,
        "{}",
        total.refused_at_hard_stop
    );
    assert!(total.restored > 10_000, "{}", total.restored);
    assert!(total.days > 350, "{}", total.days);
    assert!(total.alerts.iter().all(|&n| n > 250), "{:?}", total.alerts);
}

#[test]
fn expired_reservations_free_budget_and_their_late_cost_still_counts() {
    let mut late = 0;
    for seed in 100..120 {
        // Requests often outlive a 30-second reservation in this schedule.
        let c = run_schedule(seed, 2_500, 30_000);
        late += c.settled_late;
    }
    // Measured: 3 350 late settlements with these seeds.
    assert!(late > 1_500, "{late}");
}
