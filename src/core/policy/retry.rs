//! Retrying one target: exponential backoff with full jitter, and the server's own wait
//! (`retry-after`, `retry-after-ms`, Gemini `RetryInfo`) honoured up to a cap.
use serde::{Deserialize, Serialize};

use crate::core::error::Error;

use super::config_error;

/// How often and how patiently a failed attempt is retried on the same target.
///
/// Only errors that [`Error::is_retryable`] are retried: rate limits, overload, 5xx, network
/// failures, per-attempt timeouts and broken streams; never client errors (4xx), never quota or
/// spend-cap 429s (`quota_exceeded`), and never once stream content has reached the caller.
///
/// The wait before retry `n` (0-based) is chosen as follows:
/// - when the server named a wait (`retry-after` seconds or HTTP date, `retry-after-ms`,
///   Gemini `RetryInfo`), exactly that wait plus a random 0-10% of it, never less: the server
///   knows when capacity returns, and the extra spread keeps clients that were told the same
///   instant from arriving together. A wait longer than `max_server_wait_ms` is not waited:
///   the target fails fast with the server's error, which carries the wait it asked for.
/// - otherwise "full jitter" backoff: a uniformly random delay in
///   `[0, min(max_delay_ms, base_delay_ms * multiplier^n)]`.
///
/// A retry whose wait would end after the call's total deadline is not attempted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Retries after the first attempt, per target (default 3; 0 disables retrying).
    pub max_retries: u32,
    /// The backoff ceiling of the first retry (default 500 ms).
    pub base_delay_ms: u64,
    /// The largest backoff ceiling (default 8000 ms).
    pub max_delay_ms: u64,
    /// Growth of the ceiling per retry (default 2; at least 1).
    pub multiplier: f64,
    /// The longest server-requested wait honoured (default 30000 ms).
    pub max_server_wait_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_retries: 3,
            base_delay_ms: 500,
            max_delay_ms: 8_000,
            multiplier: 2.0,
            max_server_wait_ms: 30_000,
        }
    }
}

/// A per-call change to some fields of the client's [`RetryConfig`] (absent fields keep the
/// client's value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct RetryOverrides {
    pub max_retries: Option<u32>,
    pub base_delay_ms: Option<u64>,
    pub max_delay_ms: Option<u64>,
    pub multiplier: Option<f64>,
    pub max_server_wait_ms: Option<u64>,
}

impl RetryOverrides {
    pub fn apply(&self, base: &RetryConfig) -> RetryConfig {
        RetryConfig {
            max_retries: self.max_retries.unwrap_or(base.max_retries),
            base_delay_ms: self.base_delay_ms.unwrap_or(base.base_delay_ms),
            max_delay_ms: self.max_delay_ms.unwrap_or(base.max_delay_ms),
            multiplier: self.multiplier.unwrap_or(base.multiplier),
            max_server_wait_ms: self.max_server_wait_ms.unwrap_or(base.max_server_wait_ms),
        }
    }
}

/// Why a retry waits as long as it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryReason {
    /// Exponential backoff with full jitter.
    Backoff,
    /// The server said how long to wait.
    ServerRequested,
}

/// The wait chosen before a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryDelay {
    pub delay_ms: u64,
    pub reason: RetryReason,
    /// The wait the server asked for, when it asked.
    pub server_wait_ms: Option<u64>,
}

/// The server asked for a wait longer than `max_server_wait_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerWaitTooLong {
    pub server_wait_ms: u64,
}

impl RetryConfig {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(config_error(format!(
                "retry.multiplier must be a number >= 1, got {}",
                self.multiplier
            )));
        }
        if self.max_delay_ms == 0 {
            return Err(config_error(
                "retry.maxDelayMs must be at least 1 (use maxRetries: 0 to disable retries)",
            ));
        }
        if self.base_delay_ms > self.max_delay_ms {
            return Err(config_error(format!(
                "retry.baseDelayMs ({}) must not exceed retry.maxDelayMs ({})",
                self.base_delay_ms, self.max_delay_ms
            )));
        }
        Ok(())
    }

    /// The backoff ceiling before retry `retry` (0-based): `min(max, base * multiplier^retry)`.
    pub fn backoff_ceiling_ms(&self, retry: u32) -> u64 {
        let grown = self.base_delay_ms as f64 * self.multiplier.powi(retry.min(1_000) as i32);
        // `as` saturates, so an overflowing power still lands on the cap.
        (grown as u64).min(self.max_delay_ms)
    }

    /// Full jitter: a delay drawn uniformly from `[0, ceiling]` by `random_unit` in `[0, 1)`.
    pub fn backoff_ms(&self, retry: u32, random_unit: f64) -> u64 {
        let ceiling = self.backoff_ceiling_ms(retry);
        ((ceiling as f64 + 1.0) * unit(random_unit))
            .floor()
            .min(ceiling as f64) as u64
    }

    /// The wait before retry `retry` after `error`, or `Err` when the server asked for more
    /// than `max_server_wait_ms`. A server wait of zero (an HTTP date already past) falls back
    /// to the backoff, so that a skewed clock cannot cause an immediate retry storm.
    pub fn delay_after(
        &self,
        error: &Error,
        retry: u32,
        now_ms: u64,
        random_unit: f64,
    ) -> Result<RetryDelay, ServerWaitTooLong> {
        let server_wait = error
            .retry_after()
            .map(|after| after.wait_ms(now_ms))
            .filter(|&wait| wait > 0);
        match server_wait {
            Some(wait) if wait > self.max_server_wait_ms => Err(ServerWaitTooLong {
                server_wait_ms: wait,
            }),
            Some(wait) => Ok(RetryDelay {
                delay_ms: wait + (wait as f64 * 0.1 * unit(random_unit)) as u64,
                reason: RetryReason::ServerRequested,
                server_wait_ms: Some(wait),
            }),
            None => Ok(RetryDelay {
                delay_ms: self.backoff_ms(retry, random_unit),
                reason: RetryReason::Backoff,
                server_wait_ms: None,
            }),
        }
    }
}

/// Clamps a host-provided random number into `[0, 1)`, so that a misbehaving host cannot
/// produce delays beyond the documented bounds.
fn unit(random: f64) -> f64 {
    if random.is_finite() {
        random.clamp(0.0, 1.0 - f64::EPSILON)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::{ErrorKind, RetryAfter};

    #[test]
    fn ceilings_grow_exponentially_up_to_the_cap() {
        let config = RetryConfig::default();
        let ceilings: Vec<u64> = (0..7).map(|n| config.backoff_ceiling_ms(n)).collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(config.backoff_ceiling_ms(u32::MAX), 8000);
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let config = RetryConfig::default();
        assert_eq!(config.backoff_ms(1, 0.0), 0);
        assert_eq!(config.backoff_ms(1, 0.5), 500);
        assert_eq!(config.backoff_ms(1, 0.999_999_999), 1000);
        assert_eq!(config.backoff_ms(1, 7.0), 1000);
        assert_eq!(config.backoff_ms(1, f64::NAN), 0);
    }

    #[test]
    fn a_server_wait_is_honoured_with_up_to_ten_percent_more() {
        let config = RetryConfig::default();
        let error = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Some(RetryAfter::Millis(2_000)));
        let low = config.delay_after(&error, 0, 0, 0.0).unwrap();
        let high = config.delay_after(&error, 0, 0, 0.999_999).unwrap();
        assert_eq!(low.delay_ms, 2_000);
        assert_eq!(high.delay_ms, 2_199);
        assert_eq!(low.reason, RetryReason::ServerRequested);
        assert_eq!(low.server_wait_ms, Some(2_000));
    }

    #[test]
    fn a_server_wait_beyond_the_cap_is_refused() {
        let config = RetryConfig::default();
        let error = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Some(RetryAfter::At(100_000)));
        assert_eq!(
            config.delay_after(&error, 0, 60_000, 0.5),
            Err(ServerWaitTooLong {
                server_wait_ms: 40_000
            })
        );
        // A date already past: back off instead of retrying at once.
        let past = config.delay_after(&error, 0, 200_000, 0.5).unwrap();
        assert_eq!(past.reason, RetryReason::Backoff);
    }

    #[test]
    fn validation_names_the_field() {
        let base_over_cap = RetryConfig {
            base_delay_ms: 9_000,
            ..RetryConfig::default()
        };
        let e = base_over_cap.validate().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("retry.baseDelayMs (9000)"), "{e}");
        let shrinking = RetryConfig {
            multiplier: 0.5,
            ..RetryConfig::default()
        };
        assert!(shrinking
            .validate()
            .unwrap_err()
            .message()
            .contains("multiplier"));
        assert!(RetryConfig::default().validate().is_ok());
    }
}
