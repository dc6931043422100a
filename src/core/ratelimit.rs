//! Per-client rate limits: requests per minute and tokens per minute, each a GCRA limiter
//! (the generic cell rate algorithm, kept in its equivalent leaky-bucket form). A request
//! reserves its estimated tokens when admitted; the estimate is corrected with the actual
//! usage afterwards. A refusal says exactly how long to wait, for a 429 with `retry-after`.
//!
//! Exact and deterministic: the state is integers and time is the caller's `now_ms`, so the
//! same operations at the same times give the same answers in the npm client (in memory) and
//! in the proxy's Durable Object (which persists [`RateLimiterSnapshot`]).
//!
//! The arithmetic: a limit of `L` per minute admits one unit every `60_000 / L` ms with a burst
//! of `L`. To keep that exact when 60 000 is not a multiple of `L`, the bucket level is kept in
//! unit·ms: each unit adds 60 000, the level drains by `L` per millisecond, and it holds at most
//! `L × 60 000`.
use serde::{Deserialize, Serialize};

use super::error::{Error, ErrorKind, RetryAfter};

const WINDOW_MS: u64 = 60_000;

/// Large enough for any provider tier, small enough that a full bucket (limit × 60 000) and
/// the biggest correction stay far from overflowing `u64`.
const MAX_LIMIT: u64 = 1_000_000_000_000;

/// Rate limits, as configured (`rateLimit` in the client options and per client in the proxy).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Requests admitted per minute (a burst of this many, then evenly spaced).
    pub requests_per_minute: Option<u64>,
    /// Tokens (input + output) admitted per minute, counted from each request's estimate and
    /// corrected by its actual usage.
    pub tokens_per_minute: Option<u64>,
}

/// One limit's state: the level in unit·ms as of `at_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketState {
    pub level: u64,
    pub at_ms: u64,
}

/// The limiter's persistent state (configuration is not in it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimiterSnapshot {
    pub requests: BucketState,
    pub tokens: BucketState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    /// Units per minute.
    limit: u64,
    state: BucketState,
}

impl Bucket {
    fn capacity(&self) -> u64 {
        self.limit * WINDOW_MS
    }

    /// The level drained to `now_ms`. A clock that steps back drains nothing.
    fn drain(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.state.at_ms);
        self.state.level = self
            .state
            .level
            .saturating_sub(self.limit.saturating_mul(elapsed));
        self.state.at_ms = self.state.at_ms.max(now_ms);
    }

    /// How long until `units` fit, in whole milliseconds (0 if they fit now).
    fn wait_ms(&self, units: u64) -> u64 {
        let after = self
            .state
            .level
            .saturating_add(units.saturating_mul(WINDOW_MS));
        after.saturating_sub(self.capacity()).div_ceil(self.limit)
    }

    fn add(&mut self, units: u64) {
        self.state.level = self
            .state
            .level
            .saturating_add(units.saturating_mul(WINDOW_MS));
    }

    fn refund(&mut self, units: u64) {
        self.state.level = self
            .state
            .level
            .saturating_sub(units.saturating_mul(WINDOW_MS));
    }

    /// Refunds `unused` units, keeping at least the level that `used` units sent `since_ms`
    /// ago would leave now.
    fn give_back(&mut self, unused: u64, used: u64, since_ms: u64) {
        let floor = used
            .saturating_mul(WINDOW_MS)
            .saturating_sub(self.limit.saturating_mul(since_ms));
        self.refund(unused);
        self.state.level = self.state.level.max(floor);
    }

    /// Whole units that would be admitted now.
    fn remaining(&self) -> u64 {
        self.capacity().saturating_sub(self.state.level) / WINDOW_MS
    }

    /// Milliseconds until the bucket is empty again (a full burst available).
    fn reset_ms(&self) -> u64 {
        self.state.level.div_ceil(self.limit)
    }
}

/// An admitted request: settle it with the actual usage, or release it if it was never sent.
#[must_use = "a permit holds its estimated tokens until settled or released"]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatePermit {
    pub estimated_tokens: u64,
}

/// Where the limits stand, for `x-ratelimit-*` response headers. `None` where no limit is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitStatus {
    pub requests_limit: Option<u64>,
    pub requests_remaining: Option<u64>,
    /// Milliseconds until the full request burst is available again.
    pub requests_reset_ms: Option<u64>,
    pub tokens_limit: Option<u64>,
    pub tokens_remaining: Option<u64>,
    pub tokens_reset_ms: Option<u64>,
}

/// One client's request and token limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimiter {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
}

fn bucket(setting: &str, limit: Option<u64>, state: BucketState) -> Result<Option<Bucket>, Error> {
    match limit {
        None => Ok(None),
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(Some(Bucket { limit, state })),
        Some(limit) => Err(Error::new(
            ErrorKind::Config,
            format!("rateLimit.{setting} must be from 1 to {MAX_LIMIT}, got {limit}"),
        )),
    }
}

impl RateLimiter {
    pub fn new(config: &RateLimitConfig) -> Result<RateLimiter, Error> {
        Self::restore(config, RateLimiterSnapshot::default())
    }

    /// Rebuilds a limiter from its persisted state under the current configuration.
    pub fn restore(
        config: &RateLimitConfig,
        snapshot: RateLimiterSnapshot,
    ) -> Result<RateLimiter, Error> {
        Ok(RateLimiter {
            requests: bucket(
                "requestsPerMinute",
                config.requests_per_minute,
                snapshot.requests,
            )?,
            tokens: bucket("tokensPerMinute", config.tokens_per_minute, snapshot.tokens)?,
        })
    }

    pub fn snapshot(&self) -> RateLimiterSnapshot {
        RateLimiterSnapshot {
            requests: self.requests.map(|b| b.state).unwrap_or_default(),
            tokens: self.tokens.map(|b| b.state).unwrap_or_default(),
        }
    }

    /// Admits one request estimated at `estimated_tokens`, or refuses it with
    /// [`ErrorKind::RateLimited`] and the exact wait in [`Error::retry_after`]
    /// (`RetryAfter::Millis`). Both limits are checked before either is charged. A request
    /// estimated above the whole per-minute token limit could never pass: it is refused as
    /// [`ErrorKind::InvalidRequest`].
    pub fn acquire(&mut self, estimated_tokens: u64, now_ms: u64) -> Result<RatePermit, Error> {
        if let Some(tokens) = &self.tokens {
            if estimated_tokens > tokens.limit {
                return Err(Error::new(
                    ErrorKind::InvalidRequest,
                    format!(
                        "the request is estimated at {estimated_tokens} tokens, more than the \
                         limit of {} tokens per minute allows at once",
                        tokens.limit
                    ),
                ));
            }
        }
        for b in [&mut self.requests, &mut self.tokens].into_iter().flatten() {
            b.drain(now_ms);
        }
        let request_wait = self.requests.map_or(0, |b| b.wait_ms(1));
        let token_wait = self.tokens.map_or(0, |b| b.wait_ms(estimated_tokens));
        let wait = request_wait.max(token_wait);
        if wait > 0 {
            let mut reached = Vec::new();
            if let Some(b) = self.requests.filter(|_| request_wait > 0) {
                reached.push(format!("{} requests", b.limit));
            }
            if let Some(b) = self.tokens.filter(|_| token_wait > 0) {
                reached.push(format!("{} tokens", b.limit));
            }
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "the rate limit of {} per minute is reached; retry in {wait} ms",
                    reached.join(" and ")
                ),
            )
            .with_retry_after(Some(RetryAfter::Millis(wait))));
        }
        if let Some(b) = &mut self.requests {
            b.add(1);
        }
        if let Some(b) = &mut self.tokens {
            b.add(estimated_tokens);
        }
        Ok(RatePermit { estimated_tokens })
    }

    /// Charges `requests` requests and `tokens` tokens at once (an isolate's lease), or
    /// refuses like [`Self::acquire`] when they do not all fit now. Charging a lease's whole
    /// allowance when it is granted is conservative: the calls it admits later happen at or
    /// after the time they were counted.
    pub fn acquire_many(&mut self, requests: u64, tokens: u64, now_ms: u64) -> Result<(), Error> {
        for b in [&mut self.requests, &mut self.tokens].into_iter().flatten() {
            b.drain(now_ms);
        }
        let wait = self
            .requests
            .map_or(0, |b| b.wait_ms(requests))
            .max(self.tokens.map_or(0, |b| b.wait_ms(tokens)));
        if wait > 0 {
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!("the rate limit is reached; retry in {wait} ms"),
            )
            .with_retry_after(Some(RetryAfter::Millis(wait))));
        }
        if let Some(b) = &mut self.requests {
            b.add(requests);
        }
        if let Some(b) = &mut self.tokens {
            b.add(tokens);
        }
        Ok(())
    }

    /// Ends a lease charged with [`Self::acquire_many`]: `requests_used` of its
    /// `requests_charged` requests were sent and they used `tokens_used` of `tokens_charged`
    /// tokens, all sent by `sent_by_ms`. Extra tokens are charged; unused allowance is given
    /// back, but never below the level the used part would leave had it all been sent at
    /// `sent_by_ms`: the calls may have been sent at any time until then, and the limit must
    /// hold for the latest.
    pub fn settle_many(
        &mut self,
        requests_charged: u64,
        requests_used: u64,
        tokens_charged: u64,
        tokens_used: u64,
        sent_by_ms: u64,
        now_ms: u64,
    ) {
        let since_sent = now_ms.saturating_sub(sent_by_ms);
        if let Some(b) = &mut self.requests {
            b.drain(now_ms);
            b.give_back(
                requests_charged.saturating_sub(requests_used),
                requests_used,
                since_sent,
            );
        }
        if let Some(b) = &mut self.tokens {
            b.drain(now_ms);
            if tokens_used >= tokens_charged {
                b.add(tokens_used - tokens_charged);
            } else {
                b.give_back(tokens_charged - tokens_used, tokens_used, since_sent);
            }
        }
    }

    /// Corrects the token limit with the request's actual usage (input + output tokens): a
    /// smaller count gives tokens back, a larger one charges the difference.
    pub fn settle(&mut self, permit: RatePermit, actual_tokens: u64, now_ms: u64) {
        if let Some(b) = &mut self.tokens {
            b.drain(now_ms);
            if actual_tokens >= permit.estimated_tokens {
                b.add(actual_tokens - permit.estimated_tokens);
            } else {
                b.refund(permit.estimated_tokens - actual_tokens);
            }
        }
    }

    /// Gives back the request and its tokens: it never reached the provider.
    pub fn release(&mut self, permit: RatePermit, now_ms: u64) {
        if let Some(b) = &mut self.requests {
            b.drain(now_ms);
            b.refund(1);
        }
        if let Some(b) = &mut self.tokens {
            b.drain(now_ms);
            b.refund(permit.estimated_tokens);
        }
    }

    pub fn status(&self, now_ms: u64) -> RateLimitStatus {
        let drained = |b: &Option<Bucket>| {
            b.map(|mut b| {
                b.drain(now_ms);
                b
            })
        };
        let requests = drained(&self.requests);
        let tokens = drained(&self.tokens);
        RateLimitStatus {
            requests_limit: requests.map(|b| b.limit),
            requests_remaining: requests.map(|b| b.remaining()),
            requests_reset_ms: requests.map(|b| b.reset_ms()),
            tokens_limit: tokens.map(|b| b.limit),
            tokens_remaining: tokens.map(|b| b.remaining()),
            tokens_reset_ms: tokens.map(|b| b.reset_ms()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_795_780_800_000;

    fn limiter(rpm: Option<u64>, tpm: Option<u64>) -> RateLimiter {
        RateLimiter::new(&RateLimitConfig {
            requests_per_minute: rpm,
            tokens_per_minute: tpm,
        })
        .unwrap()
    }

    fn wait_of(result: Result<RatePermit, Error>) -> u64 {
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
        match err.retry_after() {
            Some(RetryAfter::Millis(ms)) => ms,
            other => panic!("no wait: {other:?}"),
        }
    }

    #[test]
    fn a_full_burst_then_one_request_per_interval() {
        let mut l = limiter(Some(60), None);
        for _ in 0..60 {
            let _ = l.acquire(0, T0).unwrap();
        }
        assert_eq!(wait_of(l.acquire(0, T0)), 1_000);
        assert_eq!(wait_of(l.acquire(0, T0 + 999)), 1);
        let _ = l.acquire(0, T0 + 1_000).unwrap();
        assert_eq!(wait_of(l.acquire(0, T0 + 1_000)), 1_000);
        // A refusal charges nothing: waiting the stated time is enough.
        assert_eq!(wait_of(l.acquire(0, T0 + 1_500)), 500);
        let _ = l.acquire(0, T0 + 2_000).unwrap();
    }

    #[test]
    fn intervals_that_are_not_whole_milliseconds_stay_exact() {
        // 7 per minute: one every 8571.43 ms; three intervals are exactly 25714.29 ms.
        let mut l = limiter(Some(7), None);
        for _ in 0..7 {
            let _ = l.acquire(0, T0).unwrap();
        }
        assert_eq!(wait_of(l.acquire(0, T0)), 8_572);
        let _ = l.acquire(0, T0 + 8_572).unwrap();
        let _ = l.acquire(0, T0 + 8_572 * 2).unwrap();
        // The third slot opens at 25714.29 ms, not at 3 × 8572 = 25716.
        assert_eq!(wait_of(l.acquire(0, T0 + 25_714)), 1);
        let _ = l.acquire(0, T0 + 25_715).unwrap();
    }

    #[test]
    fn retrying_after_the_stated_wait_admits_exactly_the_limit_and_never_earlier() {
        for limit in [1, 7, 13, 60, 1_000] {
            let mut l = limiter(Some(limit), None);
            let end = T0 + 10 * WINDOW_MS;
            let (mut now, mut admitted) = (T0, 0);
            while now <= end {
                match l.acquire(0, now) {
                    Ok(_) => admitted += 1,
                    Err(err) => {
                        let wait = wait_of(Err(err));
                        // One millisecond earlier is still too early: the wait is not padded.
                        if wait > 1 {
                            assert!(l.acquire(0, now + wait - 1).is_err(), "limit {limit}");
                        }
                        now += wait;
                    }
                }
            }
            // The initial burst, then one per interval for ten minutes, without drift from
            // rounding each wait up to a whole millisecond.
            assert_eq!(admitted, 11 * limit, "limit {limit}");
        }
    }

    #[test]
    fn tokens_are_reserved_from_the_estimate_and_corrected_by_usage() {
        let mut l = limiter(None, Some(10_000));
        let a = l.acquire(6_000, T0).unwrap();
        // 4000 left: 5000 must wait for 1000 tokens to drain, 6 s at 10 000 per minute.
        assert_eq!(wait_of(l.acquire(5_000, T0)), 6_000);
        l.settle(a, 1_000, T0);
        let b = l.acquire(5_000, T0).unwrap();
        assert_eq!(l.status(T0).tokens_remaining, Some(4_000));
        // Used more than estimated: the excess is charged.
        l.settle(b, 7_000, T0);
        assert_eq!(l.status(T0).tokens_remaining, Some(2_000));
        assert_eq!(l.status(T0).tokens_reset_ms, Some(48_000));
    }

    #[test]
    fn release_gives_back_the_request_and_its_tokens() {
        let mut l = limiter(Some(1), Some(100));
        let p = l.acquire(100, T0).unwrap();
        assert_eq!(wait_of(l.acquire(1, T0)), 60_000);
        l.release(p, T0 + 10);
        let _ = l.acquire(100, T0 + 10).unwrap();
    }

    #[test]
    fn a_lease_gives_back_its_unused_allowance_but_not_what_its_calls_used() {
        let mut l = limiter(Some(60), Some(6_000));
        l.acquire_many(10, 1_000, T0).unwrap();
        assert_eq!(l.status(T0).requests_remaining, Some(50));
        assert_eq!(l.status(T0).tokens_remaining, Some(5_000));
        // The lease did not fit twice over: refused with the wait.
        assert_eq!(
            wait_of(l.acquire_many(60, 0, T0).map(|()| RatePermit {
                estimated_tokens: 0
            })),
            10_000
        );
        // Two calls using 200 tokens, possibly sent as late as the close: the 5 s since the
        // grant drained the bucket, but not the calls that may have been sent just now.
        l.settle_many(10, 2, 1_000, 200, T0 + 5_000, T0 + 5_000);
        let status = l.status(T0 + 5_000);
        assert_eq!(status.requests_remaining, Some(58));
        assert_eq!(status.tokens_remaining, Some(5_800));
        // Closed later, the same calls have drained meanwhile.
        let mut l = limiter(Some(60), None);
        l.acquire_many(10, 0, T0).unwrap();
        l.settle_many(10, 2, 0, 0, T0, T0 + 1_000);
        assert_eq!(l.status(T0 + 1_000).requests_remaining, Some(59));
    }

    #[test]
    fn both_limits_must_admit_and_the_longer_wait_is_reported() {
        let mut l = limiter(Some(2), Some(1_000));
        let _ = l.acquire(900, T0).unwrap();
        let err = l.acquire(200, T0).unwrap_err();
        assert_eq!(
            err.message(),
            "the rate limit of 1000 tokens per minute is reached; retry in 6000 ms"
        );
        assert_eq!(wait_of(Err(err)), 6_000);
        let _ = l.acquire(100, T0).unwrap();
        let err = l.acquire(100, T0).unwrap_err();
        assert!(
            err.message()
                .contains("2 requests and 1000 tokens per minute"),
            "{}",
            err.message()
        );
        // Requests: one per 30 s; tokens: 100 per 6 s.
        assert_eq!(wait_of(Err(err)), 30_000);
    }

    #[test]
    fn a_request_larger_than_the_whole_limit_is_refused_for_good() {
        let mut l = limiter(None, Some(1_000));
        let err = l.acquire(1_001, T0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(err.retry_after(), None);
    }

    #[test]
    fn snapshots_restore_the_same_decisions() {
        let config = RateLimitConfig {
            requests_per_minute: Some(3),
            tokens_per_minute: Some(900),
        };
        let mut l = RateLimiter::new(&config).unwrap();
        let _ = l.acquire(500, T0).unwrap();
        let _ = l.acquire(300, T0 + 1).unwrap();
        let json = serde_json::to_string(&l.snapshot()).unwrap();
        assert_eq!(
            json,
            r#"{"requests":{"level":119997,"atMs":1795780800001},"tokens":{"level":47999100,"atMs":1795780800001}}"#
        );
        let mut restored =
            RateLimiter::restore(&config, serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(restored, l);
        assert_eq!(
            wait_of(restored.acquire(200, T0 + 2)),
            wait_of(l.acquire(200, T0 + 2))
        );
    }

    #[test]
    fn status_reports_remaining_and_reset() {
        let mut l = limiter(Some(10), None);
        assert_eq!(l.status(T0).requests_remaining, Some(10));
        for _ in 0..4 {
            let _ = l.acquire(0, T0).unwrap();
        }
        let s = l.status(T0 + 3_000);
        assert_eq!(s.requests_limit, Some(10));
        // 4 used, half an interval (3 s of 6 s) drained: 6 whole requests remain.
        assert_eq!(s.requests_remaining, Some(6));
        assert_eq!(s.requests_reset_ms, Some(21_000));
        assert_eq!(s.tokens_limit, None);
    }

    #[test]
    fn limits_are_validated() {
        for config in [
            RateLimitConfig {
                requests_per_minute: Some(0),
                ..RateLimitConfig::default()
            },
            RateLimitConfig {
                tokens_per_minute: Some(MAX_LIMIT + 1),
                ..RateLimitConfig::default()
            },
        ] {
            assert_eq!(
                RateLimiter::new(&config).unwrap_err().kind(),
                ErrorKind::Config
            );
        }
        let parsed: RateLimitConfig = serde_json::from_str(r#"{"requestsPerMinute":60}"#).unwrap();
        assert_eq!(parsed.requests_per_minute, Some(60));
        assert!(serde_json::from_str::<RateLimitConfig>(r#"{"rpm":60}"#).is_err());
    }
}
