//! The loop that runs one call's attempts through the policies: breaker admission, hedging,
//! retry with backoff, fallback to the next target, and the record of it all.
//!
//! It is generic over what an attempt does (`chat` reads a whole response; a stream reads until
//! its first content), so both share exactly the same decisions. Everything it owns is
//! cancelled by drop: dropping the call's future drops the running attempts (aborting their
//! requests), any pending backoff sleep (clearing its timer), and the breaker permits (freeing
//! a half-open probe slot). Nothing needs to run afterwards.
use std::borrow::Cow;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use crate::core::client::Timeouts;
use crate::core::error::{Error, ErrorKind, RetryAfter, TimeoutKind};
use crate::core::model::{ModelRef, Request, Usage};
use crate::core::provider::ProviderConfig;
use crate::core::runtime::{select, with_deadline, Clock, Either};

use super::breaker::{counts_as_failure, Breakers, Permit, Refusal, Transition};
use super::events::{EventHook, PolicyEvent};
use super::fallback::FallbackTarget;
use super::report::{describe, Attempt, AttemptOutcome, SkipReason};
use super::retry::RetryDelay;
use super::PolicyConfig;

/// One target of a call, resolved before anything is sent.
#[derive(Debug, Clone)]
pub(crate) struct PlannedTarget {
    /// `provider/model`: the breaker key and the name in events and records.
    pub key: String,
    pub model: ModelRef,
    /// A fallback target's own settings.
    pub overrides: Option<FallbackTarget>,
    /// `None` when the client has no configuration for the provider (the target is skipped).
    pub provider_config: Option<ProviderConfig>,
}

impl PlannedTarget {
    pub fn request<'r>(&self, request: &'r Request) -> Cow<'r, Request> {
        match &self.overrides {
            Some(target) => target.apply(request),
            None => Cow::Borrowed(request),
        }
    }
}

/// Everything one call needs to decide: its merged policy, deadlines and targets in order.
#[derive(Debug, Clone)]
pub(crate) struct CallPlan {
    pub policy: PolicyConfig,
    pub timeouts: Timeouts,
    pub targets: Vec<PlannedTarget>,
}

/// The deadlines of one attempt, as absolute clock times.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttemptLimits {
    /// The call's total deadline.
    pub total: Option<u64>,
    /// The first content must arrive before this.
    pub first_content: Option<u64>,
    /// The configured deadlines (for the idle one, and for the messages).
    pub timeouts: Timeouts,
}

/// A deadline, and which timeout fires when it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline {
    pub at_ms: u64,
    pub kind: TimeoutKind,
}

impl AttemptLimits {
    /// The deadline while waiting for the response head (or a whole body): the total one or
    /// the first-content one, whichever comes first.
    pub fn before_content(&self) -> Option<Deadline> {
        self.earliest(None)
    }

    /// The deadline while waiting for the next chunk of a stream, read at `now_ms`.
    pub fn next_chunk(&self, now_ms: u64, before_content: bool) -> Option<Deadline> {
        let idle = self.timeouts.idle_ms.map(|ms| now_ms.saturating_add(ms));
        match before_content {
            true => self.earliest(idle),
            false => pick([(self.total, TimeoutKind::Total), (idle, TimeoutKind::Idle)]),
        }
    }

    pub fn total(&self) -> Option<Deadline> {
        pick([(self.total, TimeoutKind::Total)])
    }

    fn earliest(&self, idle: Option<u64>) -> Option<Deadline> {
        pick([
            (self.total, TimeoutKind::Total),
            (self.first_content, TimeoutKind::FirstToken),
            (idle, TimeoutKind::Idle),
        ])
    }

    /// The error for a deadline that passed.
    pub fn expired(&self, deadline: Deadline) -> Error {
        let ms = |limit: Option<u64>| limit.unwrap_or_default();
        let message = match deadline.kind {
            TimeoutKind::Total => format!(
                "the call's total deadline ({} ms) passed",
                ms(self.timeouts.total_ms)
            ),
            TimeoutKind::FirstToken => format!(
                "no content arrived within the first-token timeout ({} ms)",
                ms(self.timeouts.first_token_ms)
            ),
            TimeoutKind::Idle | TimeoutKind::Upstream => format!(
                "the stream went silent for longer than the idle timeout ({} ms)",
                ms(self.timeouts.idle_ms)
            ),
        };
        Error::timeout(deadline.kind, message)
    }

    /// Runs `future` unless `deadline` passes first (the future is then dropped, cancelling
    /// it) and returns the timeout error instead.
    pub async fn within<C: Clock, F: Future>(
        &self,
        clock: &C,
        deadline: Option<Deadline>,
        future: F,
    ) -> Result<F::Output, Error> {
        match deadline {
            None => Ok(future.await),
            Some(deadline) => with_deadline(clock, Some(deadline.at_ms), future)
                .await
                .ok_or_else(|| self.expired(deadline)),
        }
    }
}

/// The earliest of some deadlines; on a tie the first listed wins (the total one, which ends
/// the call, is listed first).
fn pick<const N: usize>(candidates: [(Option<u64>, TimeoutKind); N]) -> Option<Deadline> {
    candidates
        .into_iter()
        .filter_map(|(at, kind)| at.map(|at_ms| Deadline { at_ms, kind }))
        .reduce(|best, next| if next.at_ms < best.at_ms { next } else { best })
}

/// What a running attempt has reported so far, readable after the attempt was dropped (a
/// hedge race's loser is billed for what its provider had reported).
#[derive(Debug, Default)]
pub(crate) struct AttemptProgress {
    usage: Cell<Usage>,
}

impl AttemptProgress {
    pub fn report_usage(&self, usage: Usage) {
        self.usage.set(usage);
    }

    pub fn usage(&self) -> Option<Usage> {
        Some(self.usage.get()).filter(|usage| !usage.is_empty())
    }
}

/// Emits policy events, and the final outcome (which a stream reports only when it ends,
/// long after the attempt loop has finished).
#[derive(Clone)]
pub(crate) struct Reporter {
    hook: Option<EventHook>,
    pub started_ms: u64,
}

impl Reporter {
    pub fn new(hook: Option<EventHook>, started_ms: u64) -> Self {
        Reporter { hook, started_ms }
    }

    /// Builds the event only when someone listens.
    pub fn emit(&self, event: impl FnOnce() -> PolicyEvent) {
        if let Some(hook) = &self.hook {
            hook(&event());
        }
    }

    pub fn transition(&self, transition: Option<Transition>) {
        if let Some(t) = transition {
            self.emit(|| PolicyEvent::Breaker {
                target: t.target,
                from: t.from,
                to: t.to,
            });
        }
    }

    pub fn succeeded(&self, now_ms: u64, target: &str, attempts: &[Attempt]) {
        self.emit(|| PolicyEvent::Outcome {
            ok: true,
            target: Some(target.to_string()),
            error: None,
            elapsed_ms: now_ms.saturating_sub(self.started_ms),
            attempts: attempts.to_vec(),
        });
    }

    pub fn failed(&self, now_ms: u64, error: &Error) {
        self.emit(|| PolicyEvent::Outcome {
            ok: false,
            target: None,
            error: Some(error.kind()),
            elapsed_ms: now_ms.saturating_sub(self.started_ms),
            attempts: error.attempts().to_vec(),
        });
    }
}

/// A call that was served.
pub(crate) struct Served<A> {
    pub value: A,
    /// The serving target's key.
    pub target: String,
    pub attempts: Vec<Attempt>,
    /// The serving attempt's position in `attempts`.
    pub record: usize,
    /// When the serving attempt was sent.
    pub started_ms: u64,
}

/// A target the breaker let through, about to be attempted.
struct Admitted<'a> {
    index: usize,
    retry: u32,
    waited_ms: u64,
    hedge: bool,
    permit: Permit<'a>,
}

/// An attempt in flight.
struct Running<'a, F> {
    index: usize,
    retry: u32,
    /// Its number in the call (from 1), as in events.
    number: u32,
    /// Its record in `Call::attempts`.
    record: usize,
    started_ms: u64,
    permit: Permit<'a>,
    progress: Rc<AttemptProgress>,
    future: Pin<Box<F>>,
}

/// Why the call stopped trying.
enum End {
    /// No target left to try.
    Exhausted,
    /// The error is not one another target can fix.
    NotFallbackable,
    /// The total deadline passed (or the attempt was cancelled).
    Final,
}

pub(crate) struct Call<'a, C> {
    clock: &'a C,
    breakers: &'a Breakers,
    reporter: &'a Reporter,
    plan: &'a CallPlan,
    deadline: Option<u64>,
    attempts: Vec<Attempt>,
    sent: u32,
    /// When the earliest open circuit that made this call skip a target admits a probe.
    reopens_at: Option<u64>,
    /// Why the last failed target was not retried, when that is not obvious.
    not_retried: Option<String>,
}

impl<'a, C: Clock> Call<'a, C> {
    pub fn new(
        clock: &'a C,
        breakers: &'a Breakers,
        reporter: &'a Reporter,
        plan: &'a CallPlan,
    ) -> Self {
        let deadline = plan
            .timeouts
            .total_ms
            .map(|ms| reporter.started_ms.saturating_add(ms));
        Call {
            clock,
            breakers,
            reporter,
            plan,
            deadline,
            attempts: Vec::new(),
            sent: 0,
            reopens_at: None,
            not_retried: None,
        }
    }

    /// Runs attempts made by `start` until one succeeds or the policies give up. An attempt
    /// succeeds when its future resolves `Ok` (for a stream: once its first content arrived).
    pub async fn run<A, F>(
        mut self,
        mut start: impl FnMut(&'a PlannedTarget, AttemptLimits, Rc<AttemptProgress>) -> F,
    ) -> Result<Served<A>, Error>
    where
        F: Future<Output = Result<A, Error>>,
    {
        let mut next_target = 0;
        let Some(first) = self.admit_next(&mut next_target, false) else {
            return Err(self.nothing_sent());
        };
        let mut primary = self.launch(first, &mut start);
        let mut hedge: Option<Running<'a, F>> = None;
        // Whether `primary` already had its chance to be hedged.
        let mut hedged = false;
        loop {
            let (result, hedge_finished) = if let Some(racer) = hedge.as_mut() {
                match select(primary.future.as_mut(), racer.future.as_mut()).await {
                    Either::Left(result) => (result, false),
                    Either::Right(result) => (result, true),
                }
            } else if let Some(wait) = self.hedge_wait(&primary, hedged, next_target) {
                match select(primary.future.as_mut(), self.clock.sleep(wait)).await {
                    Either::Left(result) => (result, false),
                    Either::Right(()) => {
                        hedged = true;
                        hedge = self.start_hedge(&primary, &mut next_target, &mut start);
                        continue;
                    }
                }
            } else {
                (primary.future.as_mut().await, false)
            };
            if let (true, Some(racer)) = (hedge_finished, hedge.as_mut()) {
                std::mem::swap(&mut primary, racer);
            }
            // From here `primary` is the attempt that finished and `hedge` the other one.
            let error = match result {
                Ok(value) => return Ok(self.serve(primary, hedge.take(), value)),
                Err(error) => error,
            };
            let (index, retry) = self.fail(primary, &error);
            if ends_call(&error) {
                if let Some(other) = hedge.take() {
                    self.abandon(other);
                }
                return Err(self.end(error, End::Final, next_target));
            }
            if let Some(other) = hedge.take() {
                // The race goes on with one runner; decisions wait for its outcome.
                primary = other;
                hedged = true;
                continue;
            }
            primary = match self
                .next_attempt(index, retry, &error, &mut next_target, &mut start)
                .await
            {
                Ok(running) => running,
                Err(end) => return Err(self.end(error, end, next_target)),
            };
            hedged = false;
        }
    }

    /// Retries the failed target, or falls back to the next one, or says why not.
    async fn next_attempt<F>(
        &mut self,
        index: usize,
        retry: u32,
        error: &Error,
        next_target: &mut usize,
        start: &mut impl FnMut(&'a PlannedTarget, AttemptLimits, Rc<AttemptProgress>) -> F,
    ) -> Result<Running<'a, F>, End> {
        let plan: &'a CallPlan = self.plan;
        let target = &plan.targets[index];
        if let Some(delay) = self.retry_delay(target, retry, error) {
            self.reporter.emit(|| PolicyEvent::Retry {
                target: target.key.clone(),
                retry: retry + 1,
                delay_ms: delay.delay_ms,
                reason: delay.reason,
                server_wait_ms: delay.server_wait_ms,
            });
            // Dropping the call here drops the sleep, which clears its timer.
            self.clock.sleep(delay.delay_ms).await;
            if let Some(admitted) = self.admit(index, retry + 1, delay.delay_ms, false) {
                return Ok(self.launch(admitted, start));
            }
        }
        if !plan.policy.fallback_on.contains(&error.kind()) {
            return Err(End::NotFallbackable);
        }
        let admitted = self.admit_next(next_target, false).ok_or(End::Exhausted)?;
        self.reporter.emit(|| PolicyEvent::Fallback {
            from: target.key.clone(),
            to: plan.targets[admitted.index].key.clone(),
            reason: error.kind(),
        });
        Ok(self.launch(admitted, start))
    }

    /// The wait before retrying `target`, or `None` when it must not be retried (noting why
    /// when the reason is not simply the error's kind or the spent budget).
    fn retry_delay(
        &mut self,
        target: &PlannedTarget,
        retry: u32,
        error: &Error,
    ) -> Option<RetryDelay> {
        let config = &self.plan.policy.retry;
        if !error.is_retryable() || retry >= config.max_retries {
            return None;
        }
        let now = self.clock.now_ms();
        if self.breakers.refuses(&target.key, now) {
            self.not_retried = Some(format!(
                "{} was not retried: its circuit breaker is open",
                target.key
            ));
            return None;
        }
        let delay = match config.delay_after(error, retry, now, self.clock.random_unit()) {
            Ok(delay) => delay,
            Err(too_long) => {
                self.not_retried = Some(format!(
                    "{} was not retried: the server asked to wait {} ms, more than \
                     maxServerWaitMs ({} ms)",
                    target.key, too_long.server_wait_ms, config.max_server_wait_ms
                ));
                return None;
            }
        };
        if let Some(deadline) = self.deadline {
            if now.saturating_add(delay.delay_ms) >= deadline {
                self.not_retried = Some(format!(
                    "{} was not retried: waiting {} ms would pass the call's deadline",
                    target.key, delay.delay_ms
                ));
                return None;
            }
        }
        Some(delay)
    }

    fn hedge_wait<F>(
        &self,
        primary: &Running<'a, F>,
        hedged: bool,
        next_target: usize,
    ) -> Option<u64> {
        let hedge = self.plan.policy.hedge?;
        if hedged || next_target >= self.plan.targets.len() {
            return None;
        }
        let at = primary.started_ms.saturating_add(hedge.after_ms);
        Some(at.saturating_sub(self.clock.now_ms()))
    }

    fn start_hedge<F>(
        &mut self,
        primary: &Running<'a, F>,
        next_target: &mut usize,
        start: &mut impl FnMut(&'a PlannedTarget, AttemptLimits, Rc<AttemptProgress>) -> F,
    ) -> Option<Running<'a, F>> {
        let admitted = self.admit_next(next_target, true)?;
        let plan: &'a CallPlan = self.plan;
        self.reporter.emit(|| PolicyEvent::HedgeStart {
            primary: plan.targets[primary.index].key.clone(),
            target: plan.targets[admitted.index].key.clone(),
            after_ms: plan.policy.hedge.map_or(0, |h| h.after_ms),
        });
        Some(self.launch(admitted, start))
    }

    /// The next target, in order, that can be tried; the ones that cannot are recorded as
    /// skipped.
    fn admit_next(&mut self, next_target: &mut usize, hedge: bool) -> Option<Admitted<'a>> {
        while *next_target < self.plan.targets.len() {
            let index = *next_target;
            *next_target += 1;
            if let Some(admitted) = self.admit(index, 0, 0, hedge) {
                return Some(admitted);
            }
        }
        None
    }

    fn admit(
        &mut self,
        index: usize,
        retry: u32,
        waited_ms: u64,
        hedge: bool,
    ) -> Option<Admitted<'a>> {
        let plan: &'a CallPlan = self.plan;
        let target = &plan.targets[index];
        if target.provider_config.is_none() {
            self.skip(index, retry, SkipReason::NotConfigured);
            return None;
        }
        let breakers: &'a Breakers = self.breakers;
        let (admission, transition) = breakers.admit(&target.key, self.clock.now_ms());
        self.reporter.transition(transition);
        match admission {
            Ok(permit) => Some(Admitted {
                index,
                retry,
                waited_ms,
                hedge,
                permit,
            }),
            Err(Refusal::Open { until_ms }) => {
                self.reopens_at = Some(self.reopens_at.map_or(until_ms, |at| at.min(until_ms)));
                self.skip(index, retry, SkipReason::CircuitOpen);
                None
            }
            Err(Refusal::ProbeInFlight) => {
                self.skip(index, retry, SkipReason::ProbeInFlight);
                None
            }
        }
    }

    fn skip(&mut self, index: usize, retry: u32, reason: SkipReason) {
        let plan: &'a CallPlan = self.plan;
        let key = &plan.targets[index].key;
        self.reporter.emit(|| PolicyEvent::TargetSkipped {
            target: key.clone(),
            reason,
        });
        self.attempts.push(Attempt {
            target: key.clone(),
            retry,
            hedge: false,
            waited_ms: 0,
            duration_ms: 0,
            outcome: AttemptOutcome::Skipped { reason },
            usage: None,
        });
    }

    fn launch<F>(
        &mut self,
        admitted: Admitted<'a>,
        start: &mut impl FnMut(&'a PlannedTarget, AttemptLimits, Rc<AttemptProgress>) -> F,
    ) -> Running<'a, F> {
        let plan: &'a CallPlan = self.plan;
        let target = &plan.targets[admitted.index];
        let now = self.clock.now_ms();
        self.sent += 1;
        self.not_retried = None;
        self.reporter.emit(|| PolicyEvent::AttemptStart {
            attempt: self.sent,
            target: target.key.clone(),
            retry: admitted.retry,
            hedge: admitted.hedge,
        });
        let record = self.attempts.len();
        // Recorded as abandoned until it settles: that is what it is if the call is dropped.
        self.attempts.push(Attempt {
            target: target.key.clone(),
            retry: admitted.retry,
            hedge: admitted.hedge,
            waited_ms: admitted.waited_ms,
            duration_ms: 0,
            outcome: AttemptOutcome::Abandoned,
            usage: None,
        });
        let limits = AttemptLimits {
            total: self.deadline,
            first_content: plan
                .timeouts
                .first_token_ms
                .map(|ms| now.saturating_add(ms)),
            timeouts: plan.timeouts,
        };
        let progress = Rc::new(AttemptProgress::default());
        Running {
            index: admitted.index,
            retry: admitted.retry,
            number: self.sent,
            record,
            started_ms: now,
            permit: admitted.permit,
            future: Box::pin(start(target, limits, progress.clone())),
            progress,
        }
    }

    fn serve<A, F>(
        &mut self,
        winner: Running<'a, F>,
        loser: Option<Running<'a, F>>,
        value: A,
    ) -> Served<A> {
        let now = self.clock.now_ms();
        let record = &mut self.attempts[winner.record];
        record.outcome = AttemptOutcome::Succeeded;
        record.duration_ms = now.saturating_sub(winner.started_ms);
        self.reporter.transition(winner.permit.settle(false, now));
        let target = self.plan.targets[winner.index].key.clone();
        if let Some(loser) = loser {
            let loser_target = self.plan.targets[loser.index].key.clone();
            let loser_usage = loser.progress.usage();
            self.abandon(loser);
            self.reporter.emit(|| PolicyEvent::HedgeWin {
                winner: target.clone(),
                loser: loser_target,
                loser_usage,
            });
        }
        Served {
            value,
            target,
            attempts: std::mem::take(&mut self.attempts),
            record: winner.record,
            started_ms: winner.started_ms,
        }
    }

    /// Records a failed attempt and settles its permit; returns its target and retry count.
    fn fail<F>(&mut self, attempt: Running<'a, F>, error: &Error) -> (usize, u32) {
        let now = self.clock.now_ms();
        let duration_ms = now.saturating_sub(attempt.started_ms);
        let record = &mut self.attempts[attempt.record];
        record.duration_ms = duration_ms;
        record.usage = error.usage().copied().or(attempt.progress.usage());
        record.outcome = AttemptOutcome::Failed {
            error: error.clone(),
        };
        self.reporter.emit(|| PolicyEvent::AttemptFailed {
            attempt: attempt.number,
            target: self.plan.targets[attempt.index].key.clone(),
            error: error.clone(),
            duration_ms,
        });
        let transition = attempt.permit.settle(counts_as_failure(error), now);
        self.reporter.transition(transition);
        (attempt.index, attempt.retry)
    }

    /// Cancels an attempt still in flight (dropping it aborts its request).
    fn abandon<F>(&mut self, attempt: Running<'a, F>) {
        let record = &mut self.attempts[attempt.record];
        record.duration_ms = self.clock.now_ms().saturating_sub(attempt.started_ms);
        record.usage = attempt.progress.usage();
    }

    /// The call's error: the last attempt's, telling the whole story when there was more
    /// than one attempt, and carrying the attempt records.
    fn end(&mut self, error: Error, end: End, next_target: usize) -> Error {
        let attempts = std::mem::take(&mut self.attempts);
        if attempts.len() <= 1 {
            return error.with_attempts(attempts);
        }
        let targets_left = next_target < self.plan.targets.len();
        let headline = match end {
            End::Final if error.timeout_kind() == Some(TimeoutKind::Total) => {
                "the call's total deadline passed".to_string()
            }
            End::Final => format!("the call ended with {}", error.kind()),
            End::NotFallbackable if targets_left => format!(
                "the call failed with {}, which is not an error the next target can fix",
                error.kind()
            ),
            End::NotFallbackable | End::Exhausted => "every target failed".to_string(),
        };
        let mut message = describe(&headline, &attempts);
        if let Some(note) = self.not_retried.take() {
            message.push('\n');
            message.push_str(&note);
        }
        error.with_message(message).with_attempts(attempts)
    }

    /// No target could even be tried.
    fn nothing_sent(&mut self) -> Error {
        let attempts = std::mem::take(&mut self.attempts);
        let breaker_refused = attempts.iter().any(|a| {
            matches!(
                a.outcome,
                AttemptOutcome::Skipped {
                    reason: SkipReason::CircuitOpen | SkipReason::ProbeInFlight
                }
            )
        });
        let error = if breaker_refused {
            Error::new(
                ErrorKind::CircuitOpen,
                describe("no target could be tried", &attempts),
            )
            .with_retry_after(self.reopens_at.map(RetryAfter::At))
        } else if let [only] = self.plan.targets.as_slice() {
            Error::new(
                ErrorKind::Config,
                format!(
                    "model `{}` needs the {} provider, which this client has no \
                     configuration for",
                    only.key, only.model.provider
                ),
            )
            .with_provider(only.model.provider)
        } else {
            Error::new(
                ErrorKind::Config,
                describe("no target could be tried", &attempts),
            )
        };
        error.with_attempts(attempts)
    }
}

/// Errors after which nothing more is tried: the call's deadline passed, or it was cancelled.
fn ends_call(error: &Error) -> bool {
    error.timeout_kind() == Some(TimeoutKind::Total) || error.kind() == ErrorKind::Cancelled
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> AttemptLimits {
        AttemptLimits {
            total: Some(30_000),
            first_content: Some(1_000),
            timeouts: Timeouts {
                total_ms: Some(30_000),
                first_token_ms: Some(1_000),
                idle_ms: Some(500),
            },
        }
    }

    #[test]
    fn the_binding_deadline_says_which_timeout_it_is() {
        let l = limits();
        let kind = |d: Option<Deadline>| d.map(|d| (d.at_ms, d.kind));
        assert_eq!(
            kind(l.before_content()),
            Some((1_000, TimeoutKind::FirstToken))
        );
        assert_eq!(kind(l.next_chunk(0, true)), Some((500, TimeoutKind::Idle)));
        // After content the first-content deadline no longer applies, even where the idle
        // deadline falls on the same instant.
        assert_eq!(
            kind(l.next_chunk(500, false)),
            Some((1_000, TimeoutKind::Idle))
        );
        assert_eq!(
            kind(l.next_chunk(29_800, false)),
            Some((30_000, TimeoutKind::Total))
        );
        let tie = AttemptLimits {
            first_content: Some(30_000),
            ..l
        };
        assert_eq!(
            kind(tie.before_content()),
            Some((30_000, TimeoutKind::Total))
        );
        let message = l.expired(l.before_content().unwrap()).message().to_string();
        assert_eq!(
            message,
            "no content arrived within the first-token timeout (1000 ms)"
        );
    }
}
