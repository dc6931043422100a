//! One client's request limits and daily budget, as a pure state machine: the proxy's Durable
//! Object (one per client, so every call for a client is serialised through it) feeds it calls
//! and persists its state. Reserve-then-settle makes concurrent requests unable to overspend:
//! budget and rate allowance are taken before a call is forwarded and settled to its actual
//! cost after.
//!
//! They are taken as **leases**, so that most calls need no round trip to the object: the
//! object grants an isolate a slice of the client's remaining budget and rate allowance
//! ([`LeaseGrant`]), the isolate admits calls against it locally ([`LeaseHolder`]) for a few
//! seconds, and reports what they actually cost in cumulative [`LeaseReport`]s, piggybacked on
//! its next call to the object or flushed shortly after. An isolate only spends what it holds,
//! so any number of isolates together never pass the budget or the rate limits. A client far
//! from its limits gets a slice of a tenth of what remains; a small budget or a client near its
//! limits gets per-request leases, which is plain reserve-then-settle. A lease whose holder
//! vanished without closing it counts its unreported part as spent when it expires.
use serde::{Deserialize, Serialize};

use crate::core::budget::{Alert, BudgetConfig, BudgetLedger, LedgerSnapshot, Reservation, Spend};
use crate::core::error::{Error, ErrorKind};
use crate::core::ratelimit::{RateLimitConfig, RateLimiter, RateLimiterSnapshot};

/// How long an isolate admits calls against a lease.
pub const LEASE_WINDOW_MS: u64 = 5_000;
/// How long after its window a lease keeps holding budget for the calls it admitted (the
/// longest call). Past it, whatever it still holds counts as spent.
pub const LEASE_SETTLE_TTL_MS: u64 = 600_000;
/// A lease takes at most 1/LEASE_SHARE of the budget and allowance that remain.
const LEASE_SHARE: u64 = 10;
/// A slice is only worth granting when it fits at least this many calls like the one asking;
/// below that, the lease is for that one call.
const LEASE_MIN_CALLS: u64 = 4;
/// The most calls one lease admits, and the most of them its budget and tokens are sized for.
const LEASE_MAX_CALLS: u64 = 1_000;

/// The limits of one client, from its `CLIENTS` entry (sent with every call, so a changed
/// secret takes effect at once while the state is kept).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientLimitsConfig {
    pub daily_budget_usd: f64,
    pub requests_per_minute: u64,
    pub tokens_per_minute: u64,
}

impl ClientLimitsConfig {
    fn budget(&self) -> BudgetConfig {
        BudgetConfig {
            daily_usd: Some(self.daily_budget_usd),
            // A lease's budget is a ledger reservation that lives as long as the lease.
            reservation_ttl_ms: LEASE_WINDOW_MS + LEASE_SETTLE_TTL_MS,
            ..BudgetConfig::default()
        }
    }

    fn rate(&self) -> RateLimitConfig {
        RateLimitConfig {
            requests_per_minute: Some(self.requests_per_minute),
            tokens_per_minute: Some(self.tokens_per_minute),
        }
    }
}

/// A slice of a client's budget and rate allowance, granted to one isolate. The call that
/// asked for it is already counted in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseGrant {
    pub id: u64,
    pub budget_pico: u64,
    pub requests: u64,
    /// Estimated tokens of the calls admitted, corrected by their actual tokens.
    pub tokens: u64,
    /// Calls are admitted until then (the grant time itself for a per-request lease).
    pub admit_until_ms: u64,
}

/// What an isolate tells the object about one lease. Cumulative, so that a report repeated,
/// reordered or lost and followed by a later one changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseReport {
    pub id: u64,
    /// The actual cost of every finished call so far.
    pub spent_pico: u64,
    /// Calls admitted (a call that never reached a provider is not counted).
    pub requests_used: u64,
    /// Actual tokens of finished calls plus estimates of calls in flight.
    pub tokens_used: u64,
    /// `None` while the isolate still admits calls; once it stopped, the worst case of its
    /// calls in flight: the most the lease can still cost, so the rest goes back.
    pub in_flight_pico: Option<u64>,
    /// Nothing admitted is in flight any more: the lease is over.
    pub closed: bool,
}

/// The object's record of a lease; its budget is held by the ledger reservation of the same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseRecord {
    pub id: u64,
    pub requests: u64,
    pub tokens: u64,
    pub admit_until_ms: u64,
    pub reported_pico: u64,
    pub expires_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum LimitsCall {
    /// Before forwarding a call the isolate's leases cannot admit: reports, then a new lease
    /// that admits this call (`single`: for this call only).
    #[serde(rename_all = "camelCase")]
    Acquire {
        limits: ClientLimitsConfig,
        worst_case_pico: u64,
        estimated_tokens: u64,
        #[serde(default)]
        single: bool,
        #[serde(default)]
        reports: Vec<LeaseReport>,
    },
    /// What the isolate's leases spent (a flush).
    Report {
        limits: ClientLimitsConfig,
        reports: Vec<LeaseReport>,
    },
    /// Today's spend, after the reports.
    Spend {
        limits: ClientLimitsConfig,
        #[serde(default)]
        reports: Vec<LeaseReport>,
    },
}

impl LimitsCall {
    fn parts(self) -> (ClientLimitsConfig, Vec<LeaseReport>) {
        match self {
            LimitsCall::Acquire {
                limits, reports, ..
            }
            | LimitsCall::Report { limits, reports }
            | LimitsCall::Spend { limits, reports } => (limits, reports),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum LimitsOutcome {
    Granted {
        lease: LeaseGrant,
    },
    /// `kind` is `rate_limited`, `budget_exceeded` or `invalid_request`.
    #[serde(rename_all = "camelCase")]
    Refused {
        kind: String,
        message: String,
        retry_after_ms: Option<u64>,
    },
    Reported,
    Spend {
        spend: Spend,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitsReply {
    pub outcome: LimitsOutcome,
    /// Budget alerts this call crossed (reported spend, expired leases), each delivered once.
    #[serde(default)]
    pub alerts: Vec<Alert>,
}

impl LimitsReply {
    /// A refusal as the core's error type.
    pub fn refusal_error(&self) -> Option<Error> {
        let LimitsOutcome::Refused {
            kind,
            message,
            retry_after_ms,
        } = &self.outcome
        else {
            return None;
        };
        let kind = match kind.as_str() {
            "rate_limited" => ErrorKind::RateLimited,
            "budget_exceeded" => ErrorKind::BudgetExceeded,
            _ => ErrorKind::InvalidRequest,
        };
        Some(
            Error::new(kind, message.clone())
                .with_retry_after(retry_after_ms.map(crate::core::error::RetryAfter::Millis)),
        )
    }
}

/// What the Durable Object persists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LimitsState {
    pub ledger: LedgerSnapshot,
    pub rate: RateLimiterSnapshot,
    pub leases: Vec<LeaseRecord>,
}

pub struct ClientLimits {
    ledger: BudgetLedger,
    limiter: RateLimiter,
    leases: Vec<LeaseRecord>,
}

impl ClientLimits {
    pub fn restore(config: &ClientLimitsConfig, state: LimitsState) -> Result<ClientLimits, Error> {
        Ok(ClientLimits {
            ledger: BudgetLedger::restore(&config.budget(), state.ledger)?,
            limiter: RateLimiter::restore(&config.rate(), state.rate)?,
            leases: state.leases,
        })
    }

    pub fn state(&self) -> LimitsState {
        LimitsState {
            ledger: self.ledger.snapshot(),
            rate: self.limiter.snapshot(),
            leases: self.leases.clone(),
        }
    }

    /// Handles one call: configuration changes apply first (keeping the state), then expired
    /// leases are charged, then the reports, then the call itself.
    pub fn handle(
        state: LimitsState,
        call: LimitsCall,
        now_ms: u64,
    ) -> Result<(LimitsReply, LimitsState), Error> {
        let ask = match &call {
            LimitsCall::Acquire {
                worst_case_pico,
                estimated_tokens,
                single,
                ..
            } => Some((*worst_case_pico, *estimated_tokens, *single)),
            _ => None,
        };
        let reads_spend = matches!(call, LimitsCall::Spend { .. });
        let (limits, reports) = call.parts();
        let mut this = ClientLimits::restore(&limits, state)?;
        let mut alerts = this.expire_leases(now_ms);
        for report in reports {
            alerts.extend(this.apply_report(&report, now_ms));
        }
        let outcome = match ask {
            Some((worst, estimated, single)) => this.grant(worst, estimated, single, now_ms),
            None if reads_spend => LimitsOutcome::Spend {
                spend: this.ledger.spend(now_ms),
            },
            None => LimitsOutcome::Reported,
        };
        Ok((LimitsReply { outcome, alerts }, this.state()))
    }

    /// Charges what expired leases still hold as spent: their holder vanished without saying
    /// what its calls cost, and no call may go unbilled.
    fn expire_leases(&mut self, now_ms: u64) -> Vec<Alert> {
        if self.leases.iter().all(|l| l.expires_at_ms > now_ms) {
            return Vec::new();
        }
        // Read every hold before settling any: settling drops expired reservations.
        let charges: Vec<(u64, u64)> = self
            .leases
            .iter()
            .filter(|l| l.expires_at_ms <= now_ms)
            .map(|l| (l.id, self.ledger.held_pico(l.id).unwrap_or(0)))
            .collect();
        self.leases.retain(|l| l.expires_at_ms > now_ms);
        charges
            .into_iter()
            .flat_map(|(id, held)| self.ledger.settle_part(id, held, 0, now_ms))
            .collect()
    }

    fn apply_report(&mut self, report: &LeaseReport, now_ms: u64) -> Vec<Alert> {
        // An unknown lease was closed already, or expired and was charged in full.
        let Some(index) = self.leases.iter().position(|l| l.id == report.id) else {
            return Vec::new();
        };
        let lease = &mut self.leases[index];
        let new_spend = report.spent_pico.saturating_sub(lease.reported_pico);
        lease.reported_pico += new_spend;
        let mut still_held = self
            .ledger
            .held_pico(report.id)
            .unwrap_or(0)
            .saturating_sub(new_spend);
        if let Some(in_flight) = report.in_flight_pico {
            still_held = still_held.min(in_flight);
        }
        if report.closed {
            still_held = 0;
        }
        let alerts = self
            .ledger
            .settle_part(report.id, new_spend, still_held, now_ms);
        if report.closed {
            let lease = self.leases.remove(index);
            self.limiter.settle_many(
                lease.requests,
                report.requests_used.min(lease.requests),
                lease.tokens,
                report.tokens_used,
                lease.admit_until_ms,
                now_ms,
            );
        }
        alerts
    }

    /// A lease admitting this call: a slice when the client is far from its limits, else
    /// this call alone, refused exactly as a single call would be.
    fn grant(&mut self, worst: u64, estimated: u64, single: bool, now_ms: u64) -> LimitsOutcome {
        if let Some((budget, requests, tokens)) = self.slice_size(worst, estimated, now_ms, single)
        {
            if self.limiter.acquire_many(requests, tokens, now_ms).is_ok() {
                match self.ledger.reserve(budget, now_ms) {
                    Ok(reservation) => {
                        let until = now_ms + LEASE_WINDOW_MS;
                        return self.record(reservation, requests, tokens, until);
                    }
                    Err(_) => self
                        .limiter
                        .settle_many(requests, 0, tokens, 0, now_ms, now_ms),
                }
            }
        }
        let permit = match self.limiter.acquire(estimated, now_ms) {
            Ok(permit) => permit,
            Err(error) => return refused(&error, now_ms),
        };
        match self.ledger.reserve(worst, now_ms) {
            Ok(reservation) => self.record(reservation, 1, estimated, now_ms),
            Err(error) => {
                // A call refused for budget does not use up rate allowance.
                self.limiter.release(permit, now_ms);
                refused(&error, now_ms)
            }
        }
    }

    /// Budget, requests and tokens of a slice, or `None` when the client is too close to a
    /// limit for a slice to fit [`LEASE_MIN_CALLS`] calls like this one.
    fn slice_size(
        &self,
        worst: u64,
        estimated: u64,
        now_ms: u64,
        single: bool,
    ) -> Option<(u64, u64, u64)> {
        if single {
            return None;
        }
        let spend = self.ledger.spend(now_ms);
        let budget_left = spend.daily_pico.map_or(u64::MAX, |daily| {
            daily
                .saturating_sub(spend.today_pico)
                .saturating_sub(spend.reserved_pico)
        });
        let status = self.limiter.status(now_ms);
        let share = |left: Option<u64>, per_call: u64| {
            (left.unwrap_or(u64::MAX) / LEASE_SHARE)
                .min(per_call.saturating_mul(LEASE_MAX_CALLS).max(per_call))
        };
        let budget = share(Some(budget_left), worst);
        let requests = share(status.requests_remaining, 1);
        let tokens = share(status.tokens_remaining, estimated);
        let fits = |slice: u64, per_call: u64| slice >= per_call.saturating_mul(LEASE_MIN_CALLS);
        (fits(budget, worst) && fits(requests, 1) && fits(tokens, estimated))
            .then_some((budget, requests, tokens))
    }

    fn record(
        &mut self,
        reservation: Reservation,
        requests: u64,
        tokens: u64,
        admit_until_ms: u64,
    ) -> LimitsOutcome {
        self.leases.push(LeaseRecord {
            id: reservation.id,
            requests,
            tokens,
            admit_until_ms,
            reported_pico: 0,
            expires_at_ms: reservation.expires_at_ms,
        });
        LimitsOutcome::Granted {
            lease: LeaseGrant {
                id: reservation.id,
                budget_pico: reservation.worst_case_pico,
                requests,
                tokens,
                admit_until_ms,
            },
        }
    }
}

fn refused(error: &Error, now_ms: u64) -> LimitsOutcome {
    let kind = match error.kind() {
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::BudgetExceeded => "budget_exceeded",
        _ => "invalid_request",
    };
    LimitsOutcome::Refused {
        kind: kind.to_string(),
        message: error.message().to_string(),
        retry_after_ms: error.retry_after().map(|r| r.wait_ms(now_ms)),
    }
}

/// A call admitted under one of an isolate's leases; give it back to [`LeaseHolder::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAdmission {
    pub lease_id: u64,
    pub worst_case_pico: u64,
    pub estimated_tokens: u64,
}

#[derive(Debug, Clone)]
struct HeldLease {
    grant: LeaseGrant,
    spent_pico: u64,
    requests_used: u64,
    tokens_used: u64,
    in_flight: u64,
    in_flight_pico: u64,
    /// No longer admits calls (its window ended, it was used up or given back).
    retired: bool,
    last_report: Option<LeaseReport>,
}

impl HeldLease {
    fn admits(&self, worst: u64, estimated: u64, now_ms: u64) -> bool {
        self.admitting(now_ms)
            && self.tokens_used.saturating_add(estimated) <= self.grant.tokens
            && self
                .spent_pico
                .saturating_add(self.in_flight_pico)
                .saturating_add(worst)
                <= self.grant.budget_pico
    }

    fn admitting(&self, now_ms: u64) -> bool {
        !self.retired
            && now_ms < self.grant.admit_until_ms
            && self.requests_used < self.grant.requests
    }

    fn take(&mut self, worst: u64, estimated: u64) -> LocalAdmission {
        self.requests_used += 1;
        self.tokens_used = self.tokens_used.saturating_add(estimated);
        self.in_flight += 1;
        self.in_flight_pico = self.in_flight_pico.saturating_add(worst);
        LocalAdmission {
            lease_id: self.grant.id,
            worst_case_pico: worst,
            estimated_tokens: estimated,
        }
    }

    fn report(&self) -> LeaseReport {
        LeaseReport {
            id: self.grant.id,
            spent_pico: self.spent_pico,
            requests_used: self.requests_used,
            tokens_used: self.tokens_used,
            in_flight_pico: self.retired.then_some(self.in_flight_pico),
            closed: self.retired && self.in_flight == 0,
        }
    }
}

/// One isolate's leases for one client: admits calls locally and says what to report.
#[derive(Debug, Clone, Default)]
pub struct LeaseHolder {
    leases: Vec<HeldLease>,
    /// Until when the isolate's latest flush timer runs, if one was started.
    pub flush_timer_until_ms: Option<u64>,
}

impl LeaseHolder {
    /// Admits a call under a lease that has room for it, without asking the object.
    pub fn admit(&mut self, worst: u64, estimated: u64, now_ms: u64) -> Option<LocalAdmission> {
        self.leases
            .iter_mut()
            .find(|l| l.admits(worst, estimated, now_ms))
            .map(|l| l.take(worst, estimated))
    }

    /// Stops admitting under every lease, so that the next reports give back what they do not
    /// need: called before asking for a new lease, so the object sizes it from what is free.
    pub fn retire_all(&mut self) {
        for lease in &mut self.leases {
            lease.retired = true;
        }
    }

    /// Holds a lease the object granted for the call that asked for it.
    pub fn hold(&mut self, grant: LeaseGrant, worst: u64, estimated: u64) -> LocalAdmission {
        let mut lease = HeldLease {
            grant,
            spent_pico: 0,
            requests_used: 0,
            tokens_used: 0,
            in_flight: 0,
            in_flight_pico: 0,
            retired: false,
            last_report: None,
        };
        let admission = lease.take(worst, estimated);
        self.leases.push(lease);
        admission
    }

    /// Ends an admitted call: what it cost, or (`consumed` false) that it never reached a
    /// provider and gives its request and tokens back.
    pub fn finish(
        &mut self,
        admission: &LocalAdmission,
        actual_pico: u64,
        actual_tokens: u64,
        consumed: bool,
    ) {
        let Some(lease) = self
            .leases
            .iter_mut()
            .find(|l| l.grant.id == admission.lease_id)
        else {
            return;
        };
        lease.in_flight = lease.in_flight.saturating_sub(1);
        lease.in_flight_pico = lease
            .in_flight_pico
            .saturating_sub(admission.worst_case_pico);
        lease.tokens_used = lease.tokens_used.saturating_sub(admission.estimated_tokens);
        if consumed {
            lease.spent_pico = lease.spent_pico.saturating_add(actual_pico);
            lease.tokens_used = lease.tokens_used.saturating_add(actual_tokens);
        } else {
            lease.requests_used = lease.requests_used.saturating_sub(1);
        }
    }

    /// The reports that say something new, as of `now_ms` (leases past their window are
    /// retired). Say what became of them with [`Self::delivered`] or [`Self::undelivered`].
    pub fn reports(&mut self, now_ms: u64) -> Vec<LeaseReport> {
        let mut reports = Vec::new();
        for lease in &mut self.leases {
            if !lease.admitting(now_ms) {
                lease.retired = true;
            }
            let report = lease.report();
            if lease.last_report.as_ref() != Some(&report) {
                lease.last_report = Some(report.clone());
                reports.push(report);
            }
        }
        reports
    }

    /// The object took these reports: closed leases are forgotten.
    pub fn delivered(&mut self, reports: &[LeaseReport]) {
        self.leases
            .retain(|l| !reports.iter().any(|r| r.closed && r.id == l.grant.id));
    }

    /// These reports were lost on the way: they go again with the next call, so that a
    /// failed round trip neither loses spend nor leaves a lease to be charged in full.
    pub fn undelivered(&mut self, reports: &[LeaseReport]) {
        for lease in &mut self.leases {
            if reports.iter().any(|r| r.id == lease.grant.id) {
                lease.last_report = None;
            }
        }
    }

    /// Whether a lease is over (no longer admitting, nothing in flight) and should be closed
    /// now, giving back what it did not use.
    pub fn has_lease_to_close(&self, now_ms: u64) -> bool {
        self.leases
            .iter()
            .any(|l| !l.admitting(now_ms) && l.in_flight == 0)
    }

    /// When the last lease that still admits calls stops admitting, if one does (a flush
    /// must come after that to close it).
    pub fn open_until_ms(&self, now_ms: u64) -> Option<u64> {
        self.leases
            .iter()
            .filter(|l| l.admitting(now_ms))
            .map(|l| l.grant.admit_until_ms)
            .max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::budget::PICODOLLARS_PER_USD;

    const SMALL: ClientLimitsConfig = ClientLimitsConfig {
        daily_budget_usd: 0.001,
        requests_per_minute: 1000,
        tokens_per_minute: 1_000_000,
    };
    const LARGE: ClientLimitsConfig = ClientLimitsConfig {
        daily_budget_usd: 1.0,
        requests_per_minute: 100_000,
        tokens_per_minute: 100_000_000,
    };
    /// 2026-11-27T12:20:12Z.
    const NOW: u64 = 1_795_801_212_000;

    /// The Durable Object and the isolates that use it, on a fake clock.
    struct World {
        limits: ClientLimitsConfig,
        state: LimitsState,
        isolates: Vec<LeaseHolder>,
        now: u64,
        alerts: Vec<Alert>,
        round_trips: u32,
    }

    impl World {
        fn new(limits: ClientLimitsConfig, isolates: usize) -> World {
            World {
                limits,
                state: LimitsState::default(),
                isolates: vec![LeaseHolder::default(); isolates],
                now: NOW,
                alerts: Vec::new(),
                round_trips: 0,
            }
        }

        fn object(&mut self, call: LimitsCall) -> LimitsOutcome {
            let (reply, next) = ClientLimits::handle(self.state.clone(), call, self.now).unwrap();
            // Every call goes through JSON, as it does between an isolate and the object.
            self.state = serde_json::from_str(&serde_json::to_string(&next).unwrap()).unwrap();
            self.alerts.extend(reply.alerts);
            self.round_trips += 1;
            reply.outcome
        }

        /// One call through isolate `i`: admitted locally, or after asking for a lease.
        fn admit(&mut self, i: usize, worst: u64, tokens: u64) -> Result<LocalAdmission, Error> {
            if let Some(admission) = self.isolates[i].admit(worst, tokens, self.now) {
                return Ok(admission);
            }
            self.isolates[i].retire_all();
            let reports = self.isolates[i].reports(self.now);
            self.isolates[i].delivered(&reports);
            let outcome = self.object(LimitsCall::Acquire {
                limits: self.limits.clone(),
                worst_case_pico: worst,
                estimated_tokens: tokens,
                single: false,
                reports,
            });
            let reply = LimitsReply {
                outcome,
                alerts: Vec::new(),
            };
            if let Some(error) = reply.refusal_error() {
                return Err(error);
            }
            let LimitsOutcome::Granted { lease } = reply.outcome else {
                panic!("{:?}", reply.outcome)
            };
            Ok(self.isolates[i].hold(lease, worst, tokens))
        }

        fn finish(&mut self, i: usize, admission: &LocalAdmission, cost: u64, tokens: u64) {
            self.isolates[i].finish(admission, cost, tokens, true);
            if self.isolates[i].has_lease_to_close(self.now) {
                self.flush(i);
            }
        }

        fn flush(&mut self, i: usize) {
            let reports = self.isolates[i].reports(self.now);
            if !reports.is_empty() {
                self.isolates[i].delivered(&reports);
                let limits = self.limits.clone();
                self.object(LimitsCall::Report { limits, reports });
            }
        }

        fn spend(&mut self) -> Spend {
            let limits = self.limits.clone();
            match self.object(LimitsCall::Spend {
                limits,
                reports: Vec::new(),
            }) {
                LimitsOutcome::Spend { spend } => spend,
                other => panic!("{other:?}"),
            }
        }
    }

    /// A small deterministic generator (xorshift), so that the interleavings are reproducible.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    #[test]
    fn a_small_budget_gets_per_request_leases_that_cannot_overspend() {
        let mut world = World::new(SMALL, 1);
        // $0.001 budget, each call may cost up to $0.0003: three fit, the fourth is refused.
        let worst = 300_000_000;
        let held: Vec<_> = (0..3)
            .map(|_| world.admit(0, worst, 100).unwrap())
            .collect();
        assert!(world.state.leases.iter().all(|l| l.requests == 1));
        let error = world.admit(0, worst, 100).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BudgetExceeded);
        assert!(error.message().contains("budget"), "{}", error.message());
        // Settling at a lower actual cost frees room for another call, at once.
        world.finish(0, &held[2], 100_000_000, 90);
        let _fourth = world.admit(0, worst, 100).unwrap();
        let spend = world.spend();
        assert_eq!(spend.today_pico, 100_000_000);
        assert_eq!(spend.reserved_pico, 900_000_000);
        // Two round trips per call, as before leases.
        assert_eq!(world.round_trips, 4 + 1 + 1 + 1);
    }

    #[test]
    fn a_client_far_from_its_limits_gets_a_slice_and_most_calls_need_no_round_trip() {
        let mut world = World::new(LARGE, 1);
        let worst = PICODOLLARS_PER_USD / 10_000;
        for _ in 0..200 {
            let admission = world.admit(0, worst, 500).unwrap();
            world.finish(0, &admission, worst / 2, 300);
        }
        let lease = &world.state.leases[0];
        assert!(lease.requests > 1, "{lease:?}");
        assert!(world.round_trips < 20, "{} round trips", world.round_trips);
        // The slice is a tenth of what remained, and counts as reserved until reported.
        let spend = world.spend();
        assert_eq!(
            spend.reserved_pico + spend.today_pico,
            PICODOLLARS_PER_USD / 10
        );
        // After the window, a flush closes the lease: spend is exact and nothing stays held.
        world.now += LEASE_WINDOW_MS;
        world.flush(0);
        let spend = world.spend();
        assert_eq!(spend.today_pico, 200 * (worst / 2));
        assert_eq!(spend.reserved_pico, 0);
        assert!(world.state.leases.is_empty());
    }

    #[test]
    fn many_isolates_with_concurrent_leases_never_overspend_and_lose_nothing() {
        for seed in 1..=6u64 {
            let limits = ClientLimitsConfig {
                daily_budget_usd: 0.05,
                ..LARGE
            };
            let budget = 50_000_000_000u64;
            let mut world = World::new(limits, 8);
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut in_flight: Vec<(usize, LocalAdmission)> = Vec::new();
            let mut billed = 0u64;
            for step in 0..1_500 {
                world.now += rng.below(20);
                if rng.below(3) > 0 || in_flight.is_empty() {
                    let i = rng.below(8) as usize;
                    let worst = 10_000_000 + rng.below(200_000_000);
                    if let Ok(admission) = world.admit(i, worst, 100) {
                        in_flight.push((i, admission));
                    }
                } else {
                    let (i, admission) =
                        in_flight.swap_remove(rng.below(in_flight.len() as u64) as usize);
                    // Never more than the worst case, often much less.
                    let cost = admission.worst_case_pico * rng.below(101) / 100;
                    billed += cost;
                    world.finish(i, &admission, cost, 80);
                }
                // What finished calls cost plus the worst case of calls in flight.
                let in_flight_worst: u64 = in_flight.iter().map(|(_, a)| a.worst_case_pico).sum();
                assert!(billed + in_flight_worst <= budget, "seed {seed}: overspent");
                if step % 10 == 0 {
                    let spend = world.spend();
                    assert!(
                        spend.today_pico + spend.reserved_pico <= budget,
                        "seed {seed}"
                    );
                }
            }
            for (i, admission) in std::mem::take(&mut in_flight) {
                billed += admission.worst_case_pico;
                world.finish(i, &admission, admission.worst_case_pico, 80);
            }
            world.now += LEASE_WINDOW_MS;
            for i in 0..8 {
                world.flush(i);
            }
            let spend = world.spend();
            assert_eq!(
                spend.today_pico, billed,
                "seed {seed}: every call billed exactly"
            );
            assert_eq!(spend.reserved_pico, 0, "seed {seed}");
            assert!(
                billed <= budget && billed > budget / 2,
                "seed {seed}: {billed}"
            );
        }
    }

    #[test]
    fn a_lease_whose_holder_vanished_counts_its_unreported_part_as_spent_when_it_expires() {
        let mut world = World::new(LARGE, 2);
        let worst = PICODOLLARS_PER_USD / 10_000;
        let first = world.admit(0, worst, 500).unwrap();
        world.finish(0, &first, worst, 300);
        let _never_finished = world.admit(0, worst, 500).unwrap();
        world.now += 1_000;
        world.flush(0);
        // Isolate 0 reported one call, then vanished holding the rest of its slice.
        let spend = world.spend();
        assert_eq!(spend.today_pico, worst);
        let slice = PICODOLLARS_PER_USD / 10;
        assert_eq!(spend.reserved_pico, slice - worst);
        world.now = NOW + LEASE_WINDOW_MS + LEASE_SETTLE_TTL_MS - 1;
        assert_eq!(world.spend().reserved_pico, slice - worst);
        world.now += 1;
        let spend = world.spend();
        assert_eq!(
            spend.today_pico, slice,
            "the whole slice is charged, conservatively"
        );
        assert_eq!(spend.reserved_pico, 0);
        assert!(world.state.leases.is_empty());
        // A late report of the expired lease changes nothing.
        let limits = world.limits.clone();
        let late = LeaseReport {
            id: first.lease_id,
            spent_pico: 2 * worst,
            requests_used: 2,
            tokens_used: 600,
            in_flight_pico: Some(0),
            closed: true,
        };
        world.object(LimitsCall::Report {
            limits,
            reports: vec![late],
        });
        assert_eq!(world.spend().today_pico, slice);
    }

    #[test]
    fn a_lease_past_its_window_gives_back_all_but_its_calls_in_flight() {
        let mut world = World::new(LARGE, 1);
        let worst = PICODOLLARS_PER_USD / 10_000;
        let long_call = world.admit(0, worst, 500).unwrap();
        world.now += LEASE_WINDOW_MS;
        world.flush(0);
        assert_eq!(world.spend().reserved_pico, worst);
        world.finish(0, &long_call, worst / 4, 300);
        let spend = world.spend();
        assert_eq!((spend.today_pico, spend.reserved_pico), (worst / 4, 0));
    }

    #[test]
    fn reports_lost_on_the_way_are_sent_again() {
        let mut world = World::new(LARGE, 1);
        let worst = PICODOLLARS_PER_USD / 10_000;
        let admission = world.admit(0, worst, 500).unwrap();
        world.finish(0, &admission, worst / 2, 300);
        world.now += LEASE_WINDOW_MS;
        let lost = world.isolates[0].reports(world.now);
        assert!(lost[0].closed);
        world.isolates[0].undelivered(&lost);
        assert!(world.isolates[0].has_lease_to_close(world.now));
        world.flush(0);
        assert!(!world.isolates[0].has_lease_to_close(world.now));
        let spend = world.spend();
        assert_eq!((spend.today_pico, spend.reserved_pico), (worst / 2, 0));
    }

    #[test]
    fn budget_alerts_fire_once_each_across_isolates_and_expiry() {
        let limits = ClientLimitsConfig {
            daily_budget_usd: 0.01,
            ..LARGE
        };
        let mut world = World::new(limits, 4);
        let mut rng = Rng(7);
        for _ in 0..2_000 {
            world.now += 5;
            let i = rng.below(4) as usize;
            if let Ok(admission) = world.admit(i, 10_000_000, 10) {
                world.finish(i, &admission, 10_000_000, 10);
            }
            if rng.below(50) == 0 {
                world.flush(i);
            }
        }
        // Leave a lease unreported until it expires.
        world.now += LEASE_SETTLE_TTL_MS + LEASE_WINDOW_MS;
        world.spend();
        let thresholds: Vec<f64> = world.alerts.iter().map(|a| a.threshold).collect();
        assert_eq!(thresholds, vec![0.5, 0.8, 1.0]);
    }

    #[test]
    fn rate_windows_are_honoured_across_isolates() {
        let limits = ClientLimitsConfig {
            daily_budget_usd: 1_000.0,
            requests_per_minute: 600,
            tokens_per_minute: 1_000_000,
        };
        let mut world = World::new(limits.clone(), 4);
        let mut rng = Rng(11);
        let mut sent = Vec::new();
        let end = NOW + 5 * 60_000;
        while world.now < end {
            world.now += rng.below(30);
            let i = rng.below(4) as usize;
            match world.admit(i, 1_000, 1_000) {
                Ok(admission) => {
                    sent.push(world.now);
                    world.finish(i, &admission, 1_000, 1_000);
                }
                Err(error) => {
                    assert_eq!(error.kind(), ErrorKind::RateLimited);
                    assert!(error.retry_after().is_some(), "{error}");
                }
            }
            if rng.below(100) == 0 {
                world.flush(i);
            }
        }
        // Every call sent must have been admitted by one limiter seeing them all as they were
        // sent.
        let mut reference = RateLimiter::new(&limits.rate()).unwrap();
        for (n, at) in sent.iter().enumerate() {
            let permit = reference.acquire(1_000, *at);
            assert!(
                permit.is_ok(),
                "call {n} at +{} ms passed the limit",
                at - NOW
            );
        }
        // And the limit was not starved: close to the 600 burst plus 600 per minute.
        assert!(sent.len() > 2_400, "{} calls", sent.len());
    }

    #[test]
    fn refusals_keep_their_retry_after() {
        let limits = ClientLimitsConfig {
            requests_per_minute: 2,
            ..SMALL
        };
        let mut world = World::new(limits, 1);
        world.admit(0, 1, 1).unwrap();
        world.admit(0, 1, 1).unwrap();
        let error = world.admit(0, 1, 1).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::RateLimited);
        let wait = error.retry_after().unwrap().wait_ms(0);
        assert!(wait > 0 && wait <= 30_000, "{wait}");

        let mut world = World::new(SMALL, 1);
        let error = world.admit(0, 2_000_000_000, 1).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BudgetExceeded);
        assert!(
            error.retry_after().is_some(),
            "a hopeless call waits for the next day"
        );
    }

    #[test]
    fn a_call_that_never_reached_a_provider_gives_its_request_back() {
        let limits = ClientLimitsConfig {
            requests_per_minute: 1,
            ..SMALL
        };
        let mut world = World::new(limits, 1);
        let admission = world.admit(0, 5, 5).unwrap();
        world.isolates[0].finish(&admission, 0, 0, false);
        world.flush(0);
        assert_eq!(world.spend().reserved_pico, 0);
        world.admit(0, 5, 5).unwrap();
    }
}
