//! Circuit breakers, one per target (`provider/model`), shared by all calls of a client.
//!
//! Closed: calls pass, failures are counted. Open: calls skip the target until the cooldown
//! has passed. Half-open: one call (the probe) may try the target; the others keep skipping it
//! while the probe is in flight. The probe's success closes the circuit, its failure reopens
//! it for another cooldown. A probe that is dropped (its call was aborted or lost a hedge race)
//! gives its slot back through [`Permit`]'s `Drop`, so the next call probes instead.
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::core::error::{Error, ErrorKind};

use super::config_error;

/// When a target's circuit opens, and for how long.
///
/// A circuit opens after `failure_threshold` consecutive failures, or when at least
/// `minimum_calls` calls in the last `window_ms` saw a failure rate of `failure_rate_threshold`
/// or more. It then stays open for `cooldown_ms` before admitting one probe.
///
/// Only failures that say the target is unhealthy count: server errors, overload, timeouts,
/// network failures, truncated streams and invalid responses. Client errors (400s),
/// authentication, rate limits and quota errors mean the target answered, so they count as
/// healthy answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open the circuit (default 5).
    pub failure_threshold: u32,
    /// The failure rate, in `(0, 1]`, that opens the circuit (default 0.5).
    pub failure_rate_threshold: f64,
    /// Calls the window needs before the failure rate is judged (default 10).
    pub minimum_calls: u32,
    /// The sliding window of the failure rate (default 60000 ms).
    pub window_ms: u64,
    /// How long an open circuit refuses calls before admitting a probe (default 30000 ms).
    pub cooldown_ms: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        CircuitBreakerConfig {
            failure_threshold: 5,
            failure_rate_threshold: 0.5,
            minimum_calls: 10,
            window_ms: 60_000,
            cooldown_ms: 30_000,
        }
    }
}

impl CircuitBreakerConfig {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let positive = [
            ("failureThreshold", self.failure_threshold as u64),
            ("minimumCalls", self.minimum_calls as u64),
            ("windowMs", self.window_ms),
            ("cooldownMs", self.cooldown_ms),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(config_error(format!(
                "circuitBreaker.{name} must be at least 1 (set circuitBreaker to null to \
                 disable the breaker)"
            )));
        }
        let rate = self.failure_rate_threshold;
        if !(rate > 0.0 && rate <= 1.0) {
            return Err(config_error(format!(
                "circuitBreaker.failureRateThreshold must be in (0, 1], got {rate}"
            )));
        }
        Ok(())
    }
}

/// Whether an error says the target itself is unhealthy (and so counts against its circuit).
pub fn counts_as_failure(error: &Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ServerError
            | ErrorKind::Overloaded
            | ErrorKind::Timeout
            | ErrorKind::Network
            | ErrorKind::TruncatedStream
            | ErrorKind::InvalidResponse
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

/// A circuit changed state (reported as a `breaker` policy event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub target: String,
    pub from: CircuitState,
    pub to: CircuitState,
}

/// Why a breaker refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Open until this clock time (Unix ms).
    Open { until_ms: u64 },
    /// Half-open, and another call's probe is in flight.
    ProbeInFlight,
}

#[derive(Debug)]
enum State {
    Closed,
    Open { until_ms: u64 },
    HalfOpen { probing: bool },
}

impl State {
    fn name(&self) -> CircuitState {
        match self {
            State::Closed => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    start_ms: u64,
    calls: u32,
    failures: u32,
}

/// Calls and failures over the last `window_ms`, in ten buckets so that memory stays fixed
/// however many calls a busy proxy makes (the window's edge is a tenth of it coarse).
#[derive(Debug, Default)]
struct Window {
    buckets: VecDeque<Bucket>,
}

const BUCKETS_PER_WINDOW: u64 = 10;

impl Window {
    fn record(&mut self, config: &CircuitBreakerConfig, now_ms: u64, failed: bool) {
        self.prune(config, now_ms);
        let width = (config.window_ms / BUCKETS_PER_WINDOW).max(1);
        let start_ms = now_ms - now_ms % width;
        match self.buckets.back_mut() {
            Some(bucket) if bucket.start_ms == start_ms => {
                bucket.calls += 1;
                bucket.failures += failed as u32;
            }
            _ => self.buckets.push_back(Bucket {
                start_ms,
                calls: 1,
                failures: failed as u32,
            }),
        }
    }

    fn prune(&mut self, config: &CircuitBreakerConfig, now_ms: u64) {
        let width = (config.window_ms / BUCKETS_PER_WINDOW).max(1);
        let horizon = now_ms.saturating_sub(config.window_ms);
        while let Some(front) = self.buckets.front() {
            if front.start_ms + width <= horizon {
                self.buckets.pop_front();
            } else {
                break;
            }
        }
    }

    fn rate_exceeded(&self, config: &CircuitBreakerConfig) -> bool {
        let (calls, failures) = self.buckets.iter().fold((0u64, 0u64), |(c, f), b| {
            (c + b.calls as u64, f + b.failures as u64)
        });
        calls >= config.minimum_calls as u64
            && failures as f64 >= config.failure_rate_threshold * calls as f64
    }

    fn has_failures(&self) -> bool {
        self.buckets.iter().any(|b| b.failures > 0)
    }
}

#[derive(Debug)]
struct Circuit {
    state: State,
    consecutive_failures: u32,
    window: Window,
}

impl Circuit {
    fn new() -> Self {
        Circuit {
            state: State::Closed,
            consecutive_failures: 0,
            window: Window::default(),
        }
    }

    /// Nothing worth remembering: closed with no recent failure.
    fn is_idle(&self) -> bool {
        matches!(self.state, State::Closed)
            && self.consecutive_failures == 0
            && !self.window.has_failures()
    }

    fn open(&mut self, config: &CircuitBreakerConfig, now_ms: u64) {
        self.state = State::Open {
            until_ms: now_ms.saturating_add(config.cooldown_ms),
        };
        self.consecutive_failures = 0;
        self.window = Window::default();
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.consecutive_failures = 0;
        self.window = Window::default();
    }
}

/// Above this many remembered circuits, idle ones are forgotten (a proxy may see arbitrary
/// model names; only circuits with recent failures need to be kept).
const SWEEP_ABOVE: usize = 256;

/// The circuits of one client. Single-threaded interior mutability: a client and its calls
/// live on one thread (one JS realm); no borrow is held across an await or a user callback.
#[derive(Debug)]
pub(crate) struct Breakers {
    config: Option<CircuitBreakerConfig>,
    circuits: RefCell<HashMap<String, Circuit>>,
}

impl Breakers {
    /// `None` disables circuit breaking: every call is admitted.
    pub fn new(config: Option<CircuitBreakerConfig>) -> Self {
        Breakers {
            config,
            circuits: RefCell::new(HashMap::new()),
        }
    }

    /// Asks to send a call to `target`. The permit must be settled with the attempt's outcome;
    /// dropping it unsettled forgets the attempt (and frees a half-open probe slot).
    pub fn admit(
        &self,
        target: &str,
        now_ms: u64,
    ) -> (Result<Permit<'_>, Refusal>, Option<Transition>) {
        if self.config.is_none() {
            return (Ok(self.permit(target, false)), None);
        }
        let mut circuits = self.circuits.borrow_mut();
        if circuits.len() > SWEEP_ABOVE {
            circuits.retain(|_, circuit| !circuit.is_idle());
        }
        let circuit = circuits
            .entry(target.to_string())
            .or_insert_with(Circuit::new);
        match circuit.state {
            State::Closed => (Ok(self.permit(target, false)), None),
            State::Open { until_ms } if now_ms < until_ms => {
                (Err(Refusal::Open { until_ms }), None)
            }
            State::Open { .. } => {
                circuit.state = State::HalfOpen { probing: true };
                let transition = transition(target, CircuitState::Open, CircuitState::HalfOpen);
                (Ok(self.permit(target, true)), Some(transition))
            }
            State::HalfOpen { probing: true } => (Err(Refusal::ProbeInFlight), None),
            State::HalfOpen { probing: false } => {
                circuit.state = State::HalfOpen { probing: true };
                (Ok(self.permit(target, true)), None)
            }
        }
    }

    /// Whether `target` would be refused now, without changing anything (asked before a
    /// retry's wait: a circuit this call's own failure opened ends the target's retries).
    pub fn refuses(&self, target: &str, now_ms: u64) -> bool {
        if self.config.is_none() {
            return false;
        }
        match self.circuits.borrow().get(target).map(|c| &c.state) {
            Some(State::Open { until_ms }) => now_ms < *until_ms,
            Some(State::HalfOpen { probing }) => *probing,
            _ => false,
        }
    }

    /// Records an outcome observed outside a permit: a stream that failed after it was
    /// committed. Counts only while the circuit is closed.
    pub fn observe(&self, target: &str, failed: bool, now_ms: u64) -> Option<Transition> {
        let config = self.config.as_ref()?;
        let mut circuits = self.circuits.borrow_mut();
        let circuit = circuits.get_mut(target)?;
        Self::count(config, target, circuit, failed, now_ms)
    }

    /// The state of `target`'s circuit (closed if never seen).
    pub fn state(&self, target: &str) -> CircuitState {
        self.circuits
            .borrow()
            .get(target)
            .map_or(CircuitState::Closed, |c| c.state.name())
    }

    fn permit(&self, target: &str, probe: bool) -> Permit<'_> {
        Permit {
            breakers: self,
            target: target.to_string(),
            probe,
            settled: false,
        }
    }

    fn count(
        config: &CircuitBreakerConfig,
        target: &str,
        circuit: &mut Circuit,
        failed: bool,
        now_ms: u64,
    ) -> Option<Transition> {
        if !matches!(circuit.state, State::Closed) {
            return None;
        }
        circuit.window.record(config, now_ms, failed);
        if !failed {
            circuit.consecutive_failures = 0;
            return None;
        }
        circuit.consecutive_failures += 1;
        let opens = circuit.consecutive_failures >= config.failure_threshold
            || circuit.window.rate_exceeded(config);
        opens.then(|| {
            circuit.open(config, now_ms);
            transition(target, CircuitState::Closed, CircuitState::Open)
        })
    }

    fn settle(&self, target: &str, probe: bool, failed: bool, now_ms: u64) -> Option<Transition> {
        let config = self.config.as_ref()?;
        let mut circuits = self.circuits.borrow_mut();
        let circuit = circuits.get_mut(target)?;
        if !probe {
            return Self::count(config, target, circuit, failed, now_ms);
        }
        if !matches!(circuit.state, State::HalfOpen { .. }) {
            return None;
        }
        if failed {
            circuit.open(config, now_ms);
            Some(transition(
                target,
                CircuitState::HalfOpen,
                CircuitState::Open,
            ))
        } else {
            circuit.close();
            Some(transition(
                target,
                CircuitState::HalfOpen,
                CircuitState::Closed,
            ))
        }
    }

    fn release_probe(&self, target: &str) {
        // `try_borrow_mut`: a drop must never panic, even during an unwinding borrow.
        if let Ok(mut circuits) = self.circuits.try_borrow_mut() {
            if let Some(circuit) = circuits.get_mut(target) {
                if let State::HalfOpen { probing } = &mut circuit.state {
                    *probing = false;
                }
            }
        }
    }
}

fn transition(target: &str, from: CircuitState, to: CircuitState) -> Transition {
    Transition {
        target: target.to_string(),
        from,
        to,
    }
}

/// The right to send one attempt to a target. Settle it with the outcome; dropping it
/// unsettled (the attempt was cancelled) records nothing and releases a probe slot.
#[must_use = "an unsettled permit records nothing"]
#[derive(Debug)]
pub(crate) struct Permit<'b> {
    breakers: &'b Breakers,
    target: String,
    probe: bool,
    settled: bool,
}

impl Permit<'_> {
    /// Records the attempt's outcome: `failed` when its error counts against the target.
    pub fn settle(mut self, failed: bool, now_ms: u64) -> Option<Transition> {
        self.settled = true;
        self.breakers
            .settle(&self.target, self.probe, failed, now_ms)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breakers.release_probe(&self.target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "anthropic/claude-haiku-4-5";

    fn breakers() -> Breakers {
        Breakers::new(Some(CircuitBreakerConfig::default()))
    }

    fn fail(b: &Breakers, now: u64) -> Option<Transition> {
        b.admit(T, now).0.unwrap().settle(true, now)
    }

    #[test]
    fn opens_after_consecutive_failures_and_a_success_resets_the_count() {
        let b = breakers();
        for now in 0..4 {
            assert_eq!(fail(&b, now), None);
        }
        assert_eq!(b.admit(T, 4).0.unwrap().settle(false, 4), None);
        for now in 5..9 {
            assert_eq!(fail(&b, now), None);
        }
        let opened = fail(&b, 9).unwrap();
        assert_eq!(
            (opened.from, opened.to),
            (CircuitState::Closed, CircuitState::Open)
        );
        assert_eq!(
            b.admit(T, 10).0.unwrap_err(),
            Refusal::Open { until_ms: 30_009 }
        );
    }

    #[test]
    fn the_failure_rate_opens_once_the_window_has_enough_calls() {
        let b = Breakers::new(Some(CircuitBreakerConfig {
            failure_threshold: 100,
            ..CircuitBreakerConfig::default()
        }));
        // 4 failures and 5 successes: below the minimum of 10 calls.
        for i in 0..9 {
            assert_eq!(b.admit(T, i).0.unwrap().settle(i % 2 == 1, i), None);
        }
        // The 10th call fails: 5 of 10 is 50%.
        let opened = fail(&b, 9).expect("opens at 50% of 10 calls");
        assert_eq!(opened.to, CircuitState::Open);
    }

    #[test]
    fn failures_older_than_the_window_do_not_count() {
        let b = Breakers::new(Some(CircuitBreakerConfig {
            failure_threshold: 100,
            ..CircuitBreakerConfig::default()
        }));
        for i in 0..5 {
            assert_eq!(fail(&b, i), None);
        }
        // 70 s later the five failures have left the 60 s window: 1 failure in 10 calls.
        for i in 0..9 {
            let now = 70_000 + i;
            assert_eq!(b.admit(T, now).0.unwrap().settle(false, now), None);
        }
        assert_eq!(fail(&b, 70_009), None);
        assert_eq!(b.state(T), CircuitState::Closed);
    }

    #[test]
    fn half_open_admits_one_probe_whose_outcome_decides() {
        let b = Breakers::new(Some(CircuitBreakerConfig {
            failure_threshold: 1,
            ..CircuitBreakerConfig::default()
        }));
        fail(&b, 0).unwrap();
        assert!(b.refuses(T, 29_999));
        let (probe, half_open) = b.admit(T, 30_000);
        let probe = probe.unwrap();
        assert_eq!(half_open.unwrap().to, CircuitState::HalfOpen);
        assert_eq!(b.admit(T, 30_001).0.unwrap_err(), Refusal::ProbeInFlight);
        // The probe fails: open for another cooldown.
        assert_eq!(probe.settle(true, 30_002).unwrap().to, CircuitState::Open);
        assert_eq!(
            b.admit(T, 30_003).0.unwrap_err(),
            Refusal::Open { until_ms: 60_002 }
        );
        // The next probe succeeds: closed.
        let probe = b.admit(T, 60_002).0.unwrap();
        let closed = probe.settle(false, 60_003).unwrap();
        assert_eq!(
            (closed.from, closed.to),
            (CircuitState::HalfOpen, CircuitState::Closed)
        );
        assert!(b.admit(T, 60_004).0.is_ok());
    }

    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let b = Breakers::new(Some(CircuitBreakerConfig {
            failure_threshold: 1,
            ..CircuitBreakerConfig::default()
        }));
        fail(&b, 0).unwrap();
        let probe = b.admit(T, 30_000).0.unwrap();
        assert_eq!(b.admit(T, 30_001).0.unwrap_err(), Refusal::ProbeInFlight);
        drop(probe);
        assert_eq!(b.state(T), CircuitState::HalfOpen);
        assert!(
            b.admit(T, 30_002).0.is_ok(),
            "the next call becomes the probe"
        );
    }

    #[test]
    fn outcomes_of_calls_admitted_before_the_circuit_opened_are_ignored() {
        let b = Breakers::new(Some(CircuitBreakerConfig {
            failure_threshold: 1,
            ..CircuitBreakerConfig::default()
        }));
        let early = b.admit(T, 0).0.unwrap();
        fail(&b, 1).unwrap();
        assert_eq!(early.settle(false, 2), None);
        assert_eq!(b.state(T), CircuitState::Open);
    }

    #[test]
    fn idle_circuits_are_forgotten_when_many_targets_were_seen() {
        let b = breakers();
        for i in 0..300 {
            let target = format!("openai/model-{i}");
            let failed = i == 0;
            b.admit(&target, 0).0.unwrap().settle(failed, 0);
        }
        let remembered = b.circuits.borrow().len();
        assert!(remembered < 300, "{remembered}");
        assert!(b.circuits.borrow().contains_key("openai/model-0"));
    }

    #[test]
    fn validation_rejects_zeros_and_rates_outside_zero_to_one() {
        let zero = CircuitBreakerConfig {
            cooldown_ms: 0,
            ..CircuitBreakerConfig::default()
        };
        assert!(zero
            .validate()
            .unwrap_err()
            .message()
            .contains("cooldownMs"));
        let rate = CircuitBreakerConfig {
            failure_rate_threshold: 1.5,
            ..CircuitBreakerConfig::default()
        };
        assert_eq!(rate.validate().unwrap_err().kind(), ErrorKind::Config);
    }

    #[test]
    fn disabled_breakers_admit_everything() {
        let b = Breakers::new(None);
        for now in 0..20 {
            assert_eq!(fail(&b, now), None);
        }
        assert_eq!(b.state(T), CircuitState::Closed);
    }
}
