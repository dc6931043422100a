//! Spend budgets in exact integer picodollars (1e-12 USD), so no float drift can let a budget
//! slip: a per-request cap checked before sending, and a daily ledger (UTC days) that
//! *reserves* each request's worst-case cost before it is sent and *settles* the actual cost
//! afterwards. Checking "spent < budget" and then sending lets concurrent requests all pass the
//! same check and overspend together (LiteLLM's race); a reservation is taken in the same step
//! as the check, so `spent + reserved` never passes the budget while costs stay within their
//! worst case.
//!
//! Amounts are `u64` picodollars (names end in `_pico`), up to about $18.4 million; convert a
//! [`super::cost::Picodollars`] with `u64::try_from(amount.0)`. Prices per token are the same
//! number as [`super::pricing::Rate`].
//!
//! Pure state, no clock and no I/O: every operation takes `now_ms` (Unix milliseconds). The npm
//! client keeps a [`Budget`] in memory; the proxy keeps one per client inside a Durable Object
//! and persists [`LedgerSnapshot`] (serialise it with serde_json: picodollar amounts above 2^53,
//! about $9,007, are not exact as JavaScript numbers).
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{Error, ErrorKind, RetryAfter};

pub const PICODOLLARS_PER_USD: u64 = 1_000_000_000_000;

const DAY_MS: u64 = 86_400_000;

/// The largest dollar amount a configuration may name: u64 picodollars end near $18.4 million,
/// and a day's spend must fit beside it.
const MAX_CONFIG_USD: f64 = 10_000_000.0;

const DEFAULT_ALERT_THRESHOLDS: [f64; 3] = [0.5, 0.8, 1.0];

/// Ten minutes: longer than any sane total timeout, short enough that a crashed request does
/// not hold budget for long.
const DEFAULT_RESERVATION_TTL_MS: u64 = 600_000;

/// Converts a configured dollar amount to picodollars; `None` unless finite, non-negative and
/// at most ten million dollars.
pub fn usd_to_pico(usd: f64) -> Option<u64> {
    (usd.is_finite() && (0.0..=MAX_CONFIG_USD).contains(&usd))
        .then(|| (usd * PICODOLLARS_PER_USD as f64).round() as u64)
}

/// Dollars as a float, for display and JSON only; budgets are enforced on the integer.
pub fn pico_to_usd(pico: u64) -> f64 {
    pico as f64 / PICODOLLARS_PER_USD as f64
}

/// The exact amount as dollars, e.g. `$1.50` or `$0.000125`: at least two decimals, trailing
/// zeros trimmed beyond that.
pub fn format_usd(pico: u64) -> String {
    let mut fraction = format!("{:012}", pico % PICODOLLARS_PER_USD);
    while fraction.len() > 2 && fraction.ends_with('0') {
        fraction.pop();
    }
    format!("${}.{fraction}", pico / PICODOLLARS_PER_USD)
}

/// The UTC day of a Unix time, as days since 1970-01-01. A day starts at 00:00 UTC.
pub fn utc_day(now_ms: u64) -> u64 {
    now_ms / DAY_MS
}

/// `YYYY-MM-DD` of a UTC day number (Howard Hinnant's `civil_from_days`).
pub fn format_day(day: u64) -> String {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn config_error(message: String) -> Error {
    Error::new(ErrorKind::Config, message)
}

fn dollars(setting: &str, usd: f64) -> Result<u64, Error> {
    usd_to_pico(usd).ok_or_else(|| {
        config_error(format!(
            "{setting} must be a number of dollars from 0 to {MAX_CONFIG_USD}, got {usd}"
        ))
    })
}

/// What to do with a request whose worst case exceeds the per-request cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnExceed {
    /// Refuse it before sending, with [`ErrorKind::BudgetExceeded`].
    #[default]
    Reject,
    /// Lower its `maxTokens` until the worst case fits (refused if not even one token fits).
    Clamp,
}

/// The per-request cap, as configured (`budget.perRequest`). No field set means no cap.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RequestCapConfig {
    /// Cap on input tokens + `maxTokens`.
    pub max_tokens: Option<u64>,
    /// Cap on the worst-case cost in dollars: input cost + `maxTokens` at the output price.
    pub max_usd: Option<f64>,
    pub on_exceed: OnExceed,
}

/// Budget configuration (`budget` in the client options and the proxy's per-client settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BudgetConfig {
    pub per_request: RequestCapConfig,
    /// Spend allowed per UTC day, in dollars; `None` tracks spend without a limit.
    pub daily_usd: Option<f64>,
    /// Fractions of the daily budget at which an alert fires, each at most once per day.
    pub alert_thresholds: Vec<f64>,
    /// How long a reservation holds budget if it is never settled or released (a crashed
    /// request). Keep it above the longest call: a reservation that expired before its request
    /// settled no longer holds budget, so concurrent requests may then pass the limit.
    pub reservation_ttl_ms: u64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            per_request: RequestCapConfig::default(),
            daily_usd: None,
            alert_thresholds: DEFAULT_ALERT_THRESHOLDS.to_vec(),
            reservation_ttl_ms: DEFAULT_RESERVATION_TTL_MS,
        }
    }
}

/// What one request may cost at most, computed by the caller from the price table before
/// sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestEstimate {
    /// Every input token (uncached, cache reads and writes).
    pub input_tokens: u64,
    /// The input's worst-case cost (as if nothing were read from the prompt cache).
    pub input_cost_pico: u64,
    /// The price of one output token.
    pub output_pico_per_token: u64,
    /// The request's `maxTokens`, or the model's output limit when the request names none.
    pub max_output_tokens: u64,
}

impl RequestEstimate {
    /// Input cost plus every allowed output token at the output price (saturating).
    pub fn worst_case_pico(&self) -> u64 {
        worst_case_pico(
            self.input_cost_pico,
            self.output_pico_per_token,
            self.max_output_tokens,
        )
    }
}

fn worst_case_pico(input: u64, per_output_token: u64, max_output: u64) -> u64 {
    let worst = input as u128 + per_output_token as u128 * max_output as u128;
    worst.min(u64::MAX as u128) as u64
}

/// The largest `maxTokens` whose worst case fits in `limit_pico`, or `None` when the input
/// alone does not leave room for one output token. Unlimited (`u64::MAX`) when output is free.
pub fn clamp_max_tokens(
    input_cost_pico: u64,
    output_pico_per_token: u64,
    limit_pico: u64,
) -> Option<u64> {
    let room = limit_pico.checked_sub(input_cost_pico)?;
    let tokens = room.checked_div(output_pico_per_token).unwrap_or(u64::MAX);
    (tokens > 0).then_some(tokens)
}

/// The outcome of a request that passed the per-request cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapDecision {
    /// The `maxTokens` to send (lower than requested when clamped).
    pub max_output_tokens: u64,
    pub clamped: bool,
    /// The worst case with `max_output_tokens`: what to reserve from the daily budget.
    pub worst_case_pico: u64,
}

/// The validated per-request cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestCap {
    max_tokens: Option<u64>,
    max_pico: Option<u64>,
    on_exceed: OnExceed,
}

impl RequestCap {
    pub fn new(config: &RequestCapConfig) -> Result<RequestCap, Error> {
        let max_pico = config
            .max_usd
            .map(|usd| dollars("budget.perRequest.maxUsd", usd))
            .transpose()?;
        if config.max_tokens == Some(0) {
            return Err(config_error(
                "budget.perRequest.maxTokens must be at least 1 (leave it unset for no cap)".into(),
            ));
        }
        Ok(RequestCap {
            max_tokens: config.max_tokens,
            max_pico,
            on_exceed: config.on_exceed,
        })
    }

    /// Checks a request's worst case against the cap: passes it, clamps its `maxTokens`
    /// (`onExceed: "clamp"`), or refuses it with [`ErrorKind::BudgetExceeded`].
    pub fn check(&self, estimate: &RequestEstimate) -> Result<CapDecision, Error> {
        let requested = estimate.max_output_tokens;
        let mut max_output = requested;
        if let Some(cap) = self.max_tokens {
            let worst = estimate.input_tokens.saturating_add(max_output);
            if worst > cap {
                let fits = cap.saturating_sub(estimate.input_tokens);
                if self.on_exceed == OnExceed::Reject || fits == 0 {
                    return Err(Error::new(
                        ErrorKind::BudgetExceeded,
                        format!(
                            "the request's worst case is {worst} tokens ({} input + {max_output} \
                             maxTokens), over the per-request cap of {cap} tokens",
                            estimate.input_tokens
                        ),
                    ));
                }
                max_output = fits;
            }
        }
        if let Some(cap) = self.max_pico {
            let worst = worst_case_pico(
                estimate.input_cost_pico,
                estimate.output_pico_per_token,
                max_output,
            );
            if worst > cap {
                let fits = clamp_max_tokens(
                    estimate.input_cost_pico,
                    estimate.output_pico_per_token,
                    cap,
                );
                match (self.on_exceed, fits) {
                    (OnExceed::Clamp, Some(fits)) => max_output = max_output.min(fits),
                    _ => {
                        return Err(Error::new(
                            ErrorKind::BudgetExceeded,
                            format!(
                                "the request's worst case is {} (input {} + {max_output} output \
                                 tokens at {} each), over the per-request cap of {}",
                                format_usd(worst),
                                format_usd(estimate.input_cost_pico),
                                format_usd(estimate.output_pico_per_token),
                                format_usd(cap)
                            ),
                        ))
                    }
                }
            }
        }
        Ok(CapDecision {
            max_output_tokens: max_output,
            clamped: max_output < requested,
            worst_case_pico: worst_case_pico(
                estimate.input_cost_pico,
                estimate.output_pico_per_token,
                max_output,
            ),
        })
    }
}

/// Budget held for one request in flight. Settle it (actual cost) or release it (never sent)
/// exactly once; one left alone stops holding budget at `expires_at_ms`.
#[must_use = "a reservation holds budget until it is settled or released"]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reservation {
    pub id: u64,
    pub worst_case_pico: u64,
    pub expires_at_ms: u64,
}

/// A spend alert, to deliver through the caller's hook or webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The configured fraction of the daily budget that was reached (e.g. `0.8`).
    pub threshold: f64,
    pub spent_usd: f64,
    pub budget_usd: f64,
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub spent_pico: u64,
    pub budget_pico: u64,
}

/// Today's spend, as read by the caller (`client.spend()`, the proxy's usage endpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spend {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    pub today_usd: f64,
    pub reserved_usd: f64,
    /// The daily budget, `null` when there is none.
    pub daily_usd: Option<f64>,
    pub today_pico: u64,
    pub reserved_pico: u64,
    pub daily_pico: Option<u64>,
    /// When today's spend resets: the next 00:00 UTC, in Unix milliseconds.
    pub resets_at_ms: u64,
}

/// The ledger's persistent state (the Durable Object stores this; configuration is not in it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LedgerSnapshot {
    /// The UTC day (days since 1970-01-01) that `spent_pico` belongs to.
    pub day: u64,
    pub spent_pico: u64,
    /// The highest alert threshold delivered today, in millionths of the budget.
    pub alerted_ppm: u32,
    pub next_reservation_id: u64,
    /// Reservations still held, by id.
    pub reservations: Vec<Reservation>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Threshold {
    ratio: f64,
    /// The ratio in millionths, so that crossing it is decided on integers.
    ppm: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    pico: u64,
    expires_at_ms: u64,
}

/// The daily spend ledger: reserve before sending, settle or release after.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetLedger {
    daily_pico: Option<u64>,
    thresholds: Vec<Threshold>,
    reservation_ttl_ms: u64,
    day: u64,
    spent_pico: u64,
    alerted_ppm: u32,
    next_reservation_id: u64,
    held: BTreeMap<u64, Held>,
}

impl BudgetLedger {
    pub fn new(config: &BudgetConfig) -> Result<BudgetLedger, Error> {
        Self::restore(config, LedgerSnapshot::default())
    }

    /// Rebuilds a ledger from its persisted state under the current configuration.
    pub fn restore(config: &BudgetConfig, snapshot: LedgerSnapshot) -> Result<BudgetLedger, Error> {
        let daily_pico = config
            .daily_usd
            .map(|usd| dollars("budget.dailyUsd", usd))
            .transpose()?;
        if config.reservation_ttl_ms == 0 {
            return Err(config_error(
                "budget.reservationTtlMs must be at least 1 millisecond".into(),
            ));
        }
        let mut thresholds = Vec::with_capacity(config.alert_thresholds.len());
        for &ratio in &config.alert_thresholds {
            if !(ratio.is_finite() && ratio > 0.0 && ratio <= 1.0) {
                return Err(config_error(format!(
                    "budget.alertThresholds must be fractions of the daily budget in (0, 1], \
                     got {ratio}"
                )));
            }
            let ppm = (ratio * 1e6).round() as u32;
            thresholds.push(Threshold { ratio, ppm });
        }
        thresholds.sort_by_key(|t| t.ppm);
        thresholds.dedup_by_key(|t| t.ppm);

        let held: BTreeMap<u64, Held> = snapshot
            .reservations
            .into_iter()
            .map(|r| {
                let held = Held {
                    pico: r.worst_case_pico,
                    expires_at_ms: r.expires_at_ms,
                };
                (r.id, held)
            })
            .collect();
        // An id must never be handed out twice, even from a hand-edited snapshot.
        let next_free = held.keys().next_back().map_or(0, |id| id + 1);
        Ok(BudgetLedger {
            daily_pico,
            thresholds,
            reservation_ttl_ms: config.reservation_ttl_ms,
            day: snapshot.day,
            spent_pico: snapshot.spent_pico,
            alerted_ppm: snapshot.alerted_ppm,
            next_reservation_id: snapshot.next_reservation_id.max(next_free),
            held,
        })
    }

    pub fn snapshot(&self) -> LedgerSnapshot {
        LedgerSnapshot {
            day: self.day,
            spent_pico: self.spent_pico,
            alerted_ppm: self.alerted_ppm,
            next_reservation_id: self.next_reservation_id,
            reservations: self
                .held
                .iter()
                .map(|(&id, held)| Reservation {
                    id,
                    worst_case_pico: held.pico,
                    expires_at_ms: held.expires_at_ms,
                })
                .collect(),
        }
    }

    pub fn daily_budget_pico(&self) -> Option<u64> {
        self.daily_pico
    }

    /// Reserves `worst_case_pico` for a request about to be sent. Fails with
    /// [`ErrorKind::BudgetExceeded`] once today's spend reached the budget (the hard stop), or
    /// when spent + reserved + this worst case would pass it.
    pub fn reserve(&mut self, worst_case_pico: u64, now_ms: u64) -> Result<Reservation, Error> {
        self.advance(now_ms);
        if let Some(budget) = self.daily_pico {
            let reserved = self.reserved_pico(now_ms);
            let day = format_day(self.day);
            let resets_at = RetryAfter::At((self.day + 1) * DAY_MS);
            if self.spent_pico >= budget {
                return Err(Error::new(
                    ErrorKind::BudgetExceeded,
                    format!(
                        "the daily budget of {} for {day} is used up (spent {}); it resets at \
                         00:00 UTC",
                        format_usd(budget),
                        format_usd(self.spent_pico)
                    ),
                )
                .with_retry_after(Some(resets_at)));
            }
            let total = self.spent_pico as u128 + reserved as u128 + worst_case_pico as u128;
            if total > budget as u128 {
                // Waiting for requests in flight cannot help when spend alone leaves no room.
                let hopeless_today =
                    self.spent_pico as u128 + worst_case_pico as u128 > budget as u128;
                return Err(Error::new(
                    ErrorKind::BudgetExceeded,
                    format!(
                        "the daily budget for {day} would be exceeded: spent {} + reserved {} + \
                         this request's worst case {} > budget {}",
                        format_usd(self.spent_pico),
                        format_usd(reserved),
                        format_usd(worst_case_pico),
                        format_usd(budget)
                    ),
                )
                .with_retry_after(hopeless_today.then_some(resets_at)));
            }
        }
        let id = self.next_reservation_id;
        self.next_reservation_id += 1;
        let expires_at_ms = now_ms.saturating_add(self.reservation_ttl_ms);
        self.held.insert(
            id,
            Held {
                pico: worst_case_pico,
                expires_at_ms,
            },
        );
        Ok(Reservation {
            id,
            worst_case_pico,
            expires_at_ms,
        })
    }

    /// Replaces a reservation by the request's actual cost and returns the alerts this spend
    /// crossed. All of `actual_pico` counts, even above the reservation or after it expired:
    /// spend is never lost. It counts toward the UTC day of `now_ms`.
    pub fn settle(
        &mut self,
        reservation: Reservation,
        actual_pico: u64,
        now_ms: u64,
    ) -> Vec<Alert> {
        self.advance(now_ms);
        self.held.remove(&reservation.id);
        self.spent_pico = self.spent_pico.saturating_add(actual_pico);
        self.due_alerts()
    }

    /// What reservation `id` holds (a lease's unreported part), expired or not: the caller
    /// charges an expired lease's hold before any other operation drops it.
    pub fn held_pico(&self, id: u64) -> Option<u64> {
        self.held.get(&id).map(|h| h.pico)
    }

    /// Counts `spent_pico` as spent against reservation `id` and lowers what it holds to
    /// `still_held_pico` (never raises it; 0 removes it): a lease reporting part of its spend.
    /// Like [`Self::settle`], all of the spend counts, held or not. Returns the alerts crossed.
    pub fn settle_part(
        &mut self,
        id: u64,
        spent_pico: u64,
        still_held_pico: u64,
        now_ms: u64,
    ) -> Vec<Alert> {
        self.advance(now_ms);
        if let Some(held) = self.held.get_mut(&id) {
            held.pico = held.pico.min(still_held_pico);
            if held.pico == 0 {
                self.held.remove(&id);
            }
        }
        self.spent_pico = self.spent_pico.saturating_add(spent_pico);
        self.due_alerts()
    }

    /// Gives a reservation back without cost: the request never reached the provider.
    pub fn release(&mut self, reservation: Reservation, now_ms: u64) {
        self.advance(now_ms);
        self.held.remove(&reservation.id);
    }

    /// Today's spend and reservations, as of `now_ms`.
    pub fn spend(&self, now_ms: u64) -> Spend {
        let today = utc_day(now_ms).max(self.day);
        let spent = if today == self.day {
            self.spent_pico
        } else {
            0
        };
        let reserved = self.reserved_pico(now_ms);
        Spend {
            day: format_day(today),
            today_usd: pico_to_usd(spent),
            reserved_usd: pico_to_usd(reserved),
            daily_usd: self.daily_pico.map(pico_to_usd),
            today_pico: spent,
            reserved_pico: reserved,
            daily_pico: self.daily_pico,
            resets_at_ms: (today + 1) * DAY_MS,
        }
    }

    /// Forgets today's spend and delivered alerts (an operator's reset). Reservations in flight
    /// stay held: their requests will still settle.
    pub fn reset(&mut self, now_ms: u64) {
        self.advance(now_ms);
        self.spent_pico = 0;
        self.alerted_ppm = 0;
    }

    fn reserved_pico(&self, now_ms: u64) -> u64 {
        self.held
            .values()
            .filter(|h| h.expires_at_ms > now_ms)
            .fold(0, |sum: u64, h| sum.saturating_add(h.pico))
    }

    /// Starts a new day at 00:00 UTC and drops expired reservations. A clock that steps back
    /// never reopens a past day.
    fn advance(&mut self, now_ms: u64) {
        let today = utc_day(now_ms);
        if today > self.day {
            self.day = today;
            self.spent_pico = 0;
            self.alerted_ppm = 0;
        }
        self.held.retain(|_, h| h.expires_at_ms > now_ms);
    }

    /// The thresholds that today's spend has reached and that were not delivered yet.
    fn due_alerts(&mut self) -> Vec<Alert> {
        let Some(budget) = self.daily_pico else {
            return Vec::new();
        };
        let spent = self.spent_pico;
        let alerts: Vec<Alert> = self
            .thresholds
            .iter()
            .filter(|t| t.ppm > self.alerted_ppm && spent >= threshold_pico(budget, t.ppm))
            .map(|t| Alert {
                threshold: t.ratio,
                spent_usd: pico_to_usd(spent),
                budget_usd: pico_to_usd(budget),
                day: format_day(self.day),
                spent_pico: spent,
                budget_pico: budget,
            })
            .collect();
        if let Some(highest) = self
            .thresholds
            .iter()
            .filter(|t| spent >= threshold_pico(budget, t.ppm))
            .map(|t| t.ppm)
            .max()
        {
            self.alerted_ppm = self.alerted_ppm.max(highest);
        }
        alerts
    }
}

/// The spend at which a threshold is reached, rounded up so that reaching it means at least
/// that fraction was spent.
fn threshold_pico(budget: u64, ppm: u32) -> u64 {
    (budget as u128 * ppm as u128).div_ceil(1_000_000) as u64
}

/// A request admitted by [`Budget::admit`].
#[must_use = "the reservation must be settled or released"]
#[derive(Debug, PartialEq, Eq)]
pub struct Admission {
    /// The `maxTokens` to send.
    pub max_output_tokens: u64,
    pub clamped: bool,
    pub reservation: Reservation,
}

/// The per-request cap and the daily ledger together: what the client and the proxy hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub cap: RequestCap,
    pub ledger: BudgetLedger,
}

impl Budget {
    pub fn new(config: &BudgetConfig) -> Result<Budget, Error> {
        Self::restore(config, LedgerSnapshot::default())
    }

    pub fn restore(config: &BudgetConfig, snapshot: LedgerSnapshot) -> Result<Budget, Error> {
        Ok(Budget {
            cap: RequestCap::new(&config.per_request)?,
            ledger: BudgetLedger::restore(config, snapshot)?,
        })
    }

    /// Checks the per-request cap (clamping if configured) and reserves the resulting worst
    /// case from the daily budget, before the request is sent.
    pub fn admit(&mut self, estimate: &RequestEstimate, now_ms: u64) -> Result<Admission, Error> {
        let decision = self.cap.check(estimate)?;
        let reservation = self.ledger.reserve(decision.worst_case_pico, now_ms)?;
        Ok(Admission {
            max_output_tokens: decision.max_output_tokens,
            clamped: decision.clamped,
            reservation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USD: u64 = PICODOLLARS_PER_USD;
    /// 2026-11-27T12:00:00Z.
    const NOON: u64 = 1_795_780_800_000;

    fn ledger(daily_usd: f64) -> BudgetLedger {
        BudgetLedger::new(&BudgetConfig {
            daily_usd: Some(daily_usd),
            ..BudgetConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn dollars_format_exactly() {
        assert_eq!(format_usd(0), "$0.00");
        assert_eq!(format_usd(USD + USD / 2), "$1.50");
        assert_eq!(format_usd(125_000_000), "$0.000125");
        assert_eq!(format_usd(1), "$0.000000000001");
        assert_eq!(usd_to_pico(0.1), Some(100_000_000_000));
        assert_eq!(usd_to_pico(-0.01), None);
        assert_eq!(usd_to_pico(f64::NAN), None);
        assert_eq!(usd_to_pico(1e8), None);
    }

    #[test]
    fn utc_days_are_named_by_their_date() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(utc_day(NOON)), "2026-11-27");
        assert_eq!(format_day(utc_day(1_709_208_000_000)), "2024-02-29");
        assert_eq!(format_day(utc_day(951_782_400_000)), "2000-02-29");
        assert_eq!(utc_day(NOON + 12 * 3_600_000 - 1), utc_day(NOON));
        assert_eq!(utc_day(NOON + 12 * 3_600_000), utc_day(NOON) + 1);
    }

    #[test]
    fn config_is_validated_with_config_errors() {
        let bad = [
            BudgetConfig {
                daily_usd: Some(-1.0),
                ..BudgetConfig::default()
            },
            BudgetConfig {
                alert_thresholds: vec![0.5, 1.5],
                ..BudgetConfig::default()
            },
            BudgetConfig {
                alert_thresholds: vec![0.0],
                ..BudgetConfig::default()
            },
            BudgetConfig {
                reservation_ttl_ms: 0,
                ..BudgetConfig::default()
            },
            BudgetConfig {
                per_request: RequestCapConfig {
                    max_usd: Some(f64::INFINITY),
                    ..RequestCapConfig::default()
                },
                ..BudgetConfig::default()
            },
            BudgetConfig {
                per_request: RequestCapConfig {
                    max_tokens: Some(0),
                    ..RequestCapConfig::default()
                },
                ..BudgetConfig::default()
            },
        ];
        for config in bad {
            let err = Budget::new(&config).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{config:?}");
            assert!(err.message().starts_with("budget."), "{}", err.message());
        }
    }

    #[test]
    fn config_reads_camel_case_with_defaults_and_rejects_typos() {
        let config: BudgetConfig = serde_json::from_value(serde_json::json!({
            "perRequest": { "maxUsd": 0.05, "onExceed": "clamp" },
            "dailyUsd": 10
        }))
        .unwrap();
        assert_eq!(config.per_request.on_exceed, OnExceed::Clamp);
        assert_eq!(config.alert_thresholds, vec![0.5, 0.8, 1.0]);
        assert_eq!(config.reservation_ttl_ms, 600_000);
        assert!(
            serde_json::from_value::<BudgetConfig>(serde_json::json!({ "dailyUSD": 10 })).is_err()
        );
    }

    fn estimate(input_tokens: u64, max_output_tokens: u64) -> RequestEstimate {
        // $1/M input, $4/M output.
        RequestEstimate {
            input_tokens,
            input_cost_pico: input_tokens * 1_000_000,
            output_pico_per_token: 4_000_000,
            max_output_tokens,
        }
    }

    #[test]
    fn token_cap_rejects_or_clamps() {
        let reject = RequestCap::new(&RequestCapConfig {
            max_tokens: Some(1_000),
            ..RequestCapConfig::default()
        })
        .unwrap();
        let ok = reject.check(&estimate(200, 800)).unwrap();
        assert_eq!((ok.max_output_tokens, ok.clamped), (800, false));
        let err = reject.check(&estimate(200, 801)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BudgetExceeded);
        assert!(err.message().contains("1001 tokens"), "{}", err.message());

        let clamp = RequestCap::new(&RequestCapConfig {
            max_tokens: Some(1_000),
            on_exceed: OnExceed::Clamp,
            ..RequestCapConfig::default()
        })
        .unwrap();
        let d = clamp.check(&estimate(200, 4_096)).unwrap();
        assert_eq!((d.max_output_tokens, d.clamped), (800, true));
        assert_eq!(d.worst_case_pico, 200 * 1_000_000 + 800 * 4_000_000);
        // The input alone fills the cap: nothing to clamp to.
        assert!(clamp.check(&estimate(1_000, 10)).is_err());
    }

    #[test]
    fn usd_cap_clamps_to_the_largest_fitting_max_tokens() {
        let cap = RequestCap::new(&RequestCapConfig {
            max_usd: Some(0.001), // 1e9 pico
            on_exceed: OnExceed::Clamp,
            ..RequestCapConfig::default()
        })
        .unwrap();
        // Input costs 2e8; 8e8 left at 4e6 per token = 200 tokens exactly.
        let d = cap.check(&estimate(200, 4_096)).unwrap();
        assert_eq!((d.max_output_tokens, d.clamped), (200, true));
        assert_eq!(d.worst_case_pico, 1_000_000_000);
        assert_eq!(
            clamp_max_tokens(200_000_000, 4_000_000, 1_000_000_000),
            Some(200)
        );
        assert_eq!(clamp_max_tokens(200_000_000, 4_000_000, 203_999_999), None);
        assert_eq!(clamp_max_tokens(5, 0, 10), Some(u64::MAX));
        assert_eq!(clamp_max_tokens(11, 1, 10), None);

        let reject = RequestCap::new(&RequestCapConfig {
            max_usd: Some(0.001),
            ..RequestCapConfig::default()
        })
        .unwrap();
        let err = reject.check(&estimate(200, 201)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BudgetExceeded);
        assert!(
            err.message().contains("$0.001004") && err.message().contains("$0.001"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn reserve_refuses_what_would_pass_the_budget_and_says_why() {
        let mut l = ledger(1.0);
        let a = l.reserve(USD * 6 / 10, NOON).unwrap();
        let err = l.reserve(USD / 2, NOON).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BudgetExceeded);
        assert_eq!(
            err.message(),
            "the daily budget for 2026-11-27 would be exceeded: spent $0.00 + reserved $0.60 + \
             this request's worst case $0.50 > budget $1.00"
        );
        // In-flight requests may free room: no reset time is suggested.
        assert_eq!(err.retry_after(), None);
        let b = l.reserve(USD * 4 / 10, NOON).unwrap();
        assert!(l.settle(a, USD / 10, NOON).is_empty());
        assert_eq!(l.spend(NOON).reserved_pico, USD * 4 / 10);
        l.release(b, NOON);
        let s = l.spend(NOON);
        assert_eq!((s.today_pico, s.reserved_pico), (USD / 10, 0));
    }

    #[test]
    fn hard_stop_at_the_budget_until_midnight_utc() {
        let mut l = ledger(1.0);
        let r = l.reserve(USD, NOON).unwrap();
        let alerts = l.settle(r, USD, NOON);
        assert_eq!(
            alerts.iter().map(|a| a.threshold).collect::<Vec<_>>(),
            [0.5, 0.8, 1.0]
        );
        let err = l.reserve(0, NOON).unwrap_err();
        assert!(err.message().contains("used up"), "{}", err.message());
        let midnight = (utc_day(NOON) + 1) * DAY_MS;
        assert_eq!(err.retry_after(), Some(RetryAfter::At(midnight)));
        assert!(l.reserve(0, midnight - 1).is_err());
        let next = l.reserve(USD, midnight).unwrap();
        assert_eq!(l.spend(midnight).day, "2026-11-28");
        l.release(next, midnight);
    }

    #[test]
    fn overrun_and_late_settlement_still_count() {
        let mut l = BudgetLedger::new(&BudgetConfig {
            daily_usd: Some(1.0),
            reservation_ttl_ms: 1_000,
            ..BudgetConfig::default()
        })
        .unwrap();
        let r = l.reserve(USD / 10, NOON).unwrap();
        assert_eq!(l.spend(NOON + 999).reserved_pico, USD / 10);
        assert_eq!(l.spend(NOON + 1_000).reserved_pico, 0, "expired");
        // The expired reservation no longer blocks others...
        let other = l.reserve(USD, NOON + 1_000).unwrap();
        l.release(other, NOON + 1_000);
        // Expired reservations leave the state, so snapshots stay small.
        assert!(l.snapshot().reservations.is_empty());
        // ...but its request's cost, larger than reserved, is counted in full when it settles.
        l.settle(r, USD * 3 / 10, NOON + 5_000);
        assert_eq!(l.spend(NOON + 5_000).today_pico, USD * 3 / 10);
    }

    #[test]
    fn reservation_settled_after_midnight_counts_for_the_new_day() {
        let mut l = ledger(1.0);
        let late = NOON + 11 * 3_600_000;
        let r = l.reserve(USD / 2, late).unwrap();
        let done = late + 2 * 3_600_000;
        l.settle(r, USD / 4, done);
        let s = l.spend(done);
        assert_eq!((s.day.as_str(), s.today_pico), ("2026-11-28", USD / 4));
    }

    #[test]
    fn reset_clears_spend_and_alerts_but_keeps_reservations() {
        let mut l = ledger(1.0);
        let r = l.reserve(USD * 6 / 10, NOON).unwrap();
        assert_eq!(l.settle(r, USD * 6 / 10, NOON).len(), 1);
        let held = l.reserve(USD / 10, NOON).unwrap();
        l.reset(NOON);
        let s = l.spend(NOON);
        assert_eq!((s.today_pico, s.reserved_pico), (0, USD / 10));
        let r = l.reserve(USD / 2, NOON).unwrap();
        assert_eq!(
            l.settle(r, USD / 2, NOON).len(),
            1,
            "0.5 fires again after a reset"
        );
        l.release(held, NOON);
    }

    #[test]
    fn without_a_daily_budget_spend_is_tracked_and_nothing_is_refused() {
        let mut l = BudgetLedger::new(&BudgetConfig::default()).unwrap();
        let r = l.reserve(u64::MAX / 2, NOON).unwrap();
        assert!(l.settle(r, 5 * USD, NOON).is_empty());
        let s = l.spend(NOON);
        assert_eq!(
            (s.today_pico, s.daily_pico, s.daily_usd),
            (5 * USD, None, None)
        );
    }

    #[test]
    fn spend_serialises_camel_case_with_integer_fields() {
        let mut l = ledger(2.0);
        let r = l.reserve(USD, NOON).unwrap();
        l.settle(r, USD / 4, NOON);
        let json = serde_json::to_value(l.spend(NOON)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "day": "2026-11-27", "todayUsd": 0.25, "reservedUsd": 0.0, "dailyUsd": 2.0,
                "todayPico": 250_000_000_000u64, "reservedPico": 0, "dailyPico": 2_000_000_000_000u64,
                "resetsAtMs": 1_795_824_000_000u64
            })
        );
    }

    #[test]
    fn snapshot_round_trips_and_restored_ids_never_repeat() {
        let config = BudgetConfig {
            daily_usd: Some(1.0),
            ..BudgetConfig::default()
        };
        let mut l = BudgetLedger::new(&config).unwrap();
        let a = l.reserve(USD / 10, NOON).unwrap();
        let b = l.reserve(USD / 10, NOON).unwrap();
        assert_eq!(l.settle(a, USD * 6 / 10, NOON).len(), 1);
        let json = serde_json::to_string(&l.snapshot()).unwrap();
        let mut snapshot: LedgerSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(BudgetLedger::restore(&config, snapshot.clone()).unwrap(), l);
        snapshot.next_reservation_id = 0;
        let mut restored = BudgetLedger::restore(&config, snapshot).unwrap();
        let c = restored.reserve(0, NOON).unwrap();
        assert!(c.id > b.id);
        // The 0.5 alert was delivered before the snapshot: it does not fire again.
        assert_eq!(
            restored
                .settle(b, USD / 10, NOON)
                .iter()
                .map(|a| a.threshold)
                .collect::<Vec<_>>(),
            [] as [f64; 0]
        );
        restored.release(c, NOON);
    }

    #[test]
    fn admit_clamps_then_reserves_the_clamped_worst_case() {
        let mut budget = Budget::new(&BudgetConfig {
            per_request: RequestCapConfig {
                max_usd: Some(0.001),
                on_exceed: OnExceed::Clamp,
                ..RequestCapConfig::default()
            },
            daily_usd: Some(0.0015),
            ..BudgetConfig::default()
        })
        .unwrap();
        let first = budget.admit(&estimate(200, 4_096), NOON).unwrap();
        assert_eq!((first.max_output_tokens, first.clamped), (200, true));
        assert_eq!(first.reservation.worst_case_pico, 1_000_000_000);
        // 0.5e9 left of the daily budget: the next clamped request (1e9) does not fit.
        let err = budget.admit(&estimate(200, 4_096), NOON).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BudgetExceeded);
        budget.ledger.release(first.reservation, NOON);
    }
}
