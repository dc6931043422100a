//! The reliability layer: retry with backoff, timeouts, fallback across targets, circuit
//! breakers, hedging, and the events and attempt records that make all of it observable.
//!
//! The configuration is plain data ([`PolicyConfig`] per client, [`PolicyOverrides`] per
//! call), deserialisable from the JS options object (camelCase) and validated once with
//! `config` errors. The loop that applies it to one call is `call`; the client runs every
//! attempt through it.
//!
//! How a call proceeds: its targets are the requested model followed by the fallback targets
//! (duplicates of an earlier `provider/model` dropped). Each target is tried, and retried while
//! its error is retryable and the retry budget, the server's requested wait, the call's
//! deadline and the target's circuit breaker allow. When a target is done, the call moves to
//! the next one if the error's kind is in `fallback_on`, and otherwise ends with that error.
//! Targets whose provider is not configured, or whose circuit is open, are skipped.
use serde::{Deserialize, Deserializer, Serialize};

use crate::core::error::{Error, ErrorKind};

mod breaker;
pub(crate) mod call;
mod events;
mod fallback;
mod hedge;
mod report;
mod retry;

pub(crate) use breaker::Breakers;
pub use breaker::{counts_as_failure, CircuitBreakerConfig, CircuitState};
pub use events::{EventHook, PolicyEvent};
pub use fallback::{default_fallback_on, FallbackTarget};
pub use hedge::HedgeConfig;
pub use report::{Attempt, AttemptOutcome, SkipReason};
pub use retry::{RetryConfig, RetryDelay, RetryOverrides, RetryReason, ServerWaitTooLong};

/// The reliability settings of a client. In JS these keys sit beside `providers` and the
/// timeouts:
///
/// ```text
/// retry:          { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 8000, multiplier: 2,
///                   maxServerWaitMs: 30000 }
/// fallback:       ["openai/gpt-4o", { model: "gemini/gemini-2.5-flash", maxTokens: 1024 }]
/// fallbackOn:     ["overloaded", "server_error", ...]      (see default_fallback_on)
/// circuitBreaker: { failureThreshold: 5, failureRateThreshold: 0.5, minimumCalls: 10,
///                   windowMs: 60000, cooldownMs: 30000 }  (null disables)
/// hedge:          { afterMs: 2000 }                        (off unless given)
/// ```
///
/// The deadlines (`timeoutMs`, `firstTokenTimeoutMs`, `idleTimeoutMs`) are
/// [`crate::core::client::Timeouts`]. When every target of a call was skipped by its breaker,
/// the call fails with [`ErrorKind::CircuitOpen`]; otherwise a failed call's error is its last
/// attempt's, with a message listing every attempt and the list in [`Error::attempts`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyConfig {
    pub retry: RetryConfig,
    /// Targets tried, in order, after the requested model (default none).
    pub fallback: Vec<FallbackTarget>,
    /// The error kinds that move a call on to the next target (default
    /// [`default_fallback_on`]). A call's total deadline passing always ends it.
    pub fallback_on: Vec<ErrorKind>,
    /// Shared by all calls of the client; `None` (JSON `null`) disables circuit breaking.
    pub circuit_breaker: Option<CircuitBreakerConfig>,
    pub hedge: Option<HedgeConfig>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            retry: RetryConfig::default(),
            fallback: Vec::new(),
            fallback_on: default_fallback_on(),
            circuit_breaker: Some(CircuitBreakerConfig::default()),
            hedge: None,
        }
    }
}

impl PolicyConfig {
    /// Checks every setting; the error names the offending key as spelled in JS.
    pub fn validate(&self) -> Result<(), Error> {
        self.retry.validate()?;
        if let Some(breaker) = &self.circuit_breaker {
            breaker.validate()?;
        }
        for (position, target) in self.fallback.iter().enumerate() {
            target.resolve(position)?;
        }
        Ok(())
    }

    /// This configuration with a call's overrides applied, validated.
    pub fn merged(&self, overrides: &PolicyOverrides) -> Result<PolicyConfig, Error> {
        let merged = PolicyConfig {
            retry: match &overrides.retry {
                Some(retry) => retry.apply(&self.retry),
                None => self.retry.clone(),
            },
            fallback: overrides
                .fallback
                .clone()
                .unwrap_or_else(|| self.fallback.clone()),
            fallback_on: overrides
                .fallback_on
                .clone()
                .unwrap_or_else(|| self.fallback_on.clone()),
            circuit_breaker: self.circuit_breaker.clone(),
            hedge: overrides.hedge.unwrap_or(self.hedge),
        };
        if *overrides != PolicyOverrides::default() {
            merged.validate()?;
        }
        Ok(merged)
    }
}

/// Per-call changes to the client's [`PolicyConfig`]: the same keys, each replacing the
/// client's when present (`retry` field by field; `fallback: []` disables fallback for the
/// call; `hedge: null` disables hedging). The circuit breakers belong to the client.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyOverrides {
    pub retry: Option<RetryOverrides>,
    pub fallback: Option<Vec<FallbackTarget>>,
    pub fallback_on: Option<Vec<ErrorKind>>,
    /// `Some(None)` (JSON `null`) turns hedging off for the call.
    #[serde(deserialize_with = "explicit_null")]
    pub hedge: Option<Option<HedgeConfig>>,
}

/// Tells `"key": null` (`Some(None)`) from an absent key (`None`, via `#[serde(default)]`).
fn explicit_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

pub(crate) fn config_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_js_options_deserialise_with_defaults_for_what_is_absent() {
        let config: PolicyConfig = serde_json::from_value(json!({
            "retry": { "maxRetries": 1, "baseDelayMs": 100 },
            "fallback": ["openai/gpt-4o", { "model": "gemini/gemini-2.5-flash", "maxTokens": 9 }],
            "circuitBreaker": { "failureThreshold": 3 },
            "hedge": { "afterMs": 2000 }
        }))
        .unwrap();
        assert_eq!(config.retry.max_retries, 1);
        assert_eq!(config.retry.base_delay_ms, 100);
        assert_eq!(config.retry.max_delay_ms, 8_000);
        assert_eq!(config.fallback.len(), 2);
        assert_eq!(config.fallback_on, default_fallback_on());
        let breaker = config.circuit_breaker.as_ref().unwrap();
        assert_eq!(
            (breaker.failure_threshold, breaker.cooldown_ms),
            (3, 30_000)
        );
        assert_eq!(config.hedge, Some(HedgeConfig { after_ms: 2000 }));
        config.validate().unwrap();

        let defaults: PolicyConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(defaults, PolicyConfig::default());
        let no_breaker: PolicyConfig =
            serde_json::from_value(json!({ "circuitBreaker": null })).unwrap();
        assert_eq!(no_breaker.circuit_breaker, None);
    }

    #[test]
    fn typos_and_unknown_error_kinds_are_rejected() {
        assert!(
            serde_json::from_value::<PolicyConfig>(json!({ "retry": { "maxRetry": 1 } })).is_err()
        );
        assert!(
            serde_json::from_value::<PolicyConfig>(json!({ "fallbackOn": ["overload"] })).is_err()
        );
        assert!(serde_json::from_value::<PolicyConfig>(json!({ "hedge": {} })).is_err());
    }

    #[test]
    fn overrides_replace_what_they_name() {
        let client = PolicyConfig {
            fallback: vec![FallbackTarget::new("openai/gpt-4o")],
            hedge: Some(HedgeConfig { after_ms: 500 }),
            ..PolicyConfig::default()
        };
        let overrides: PolicyOverrides = serde_json::from_value(json!({
            "retry": { "maxRetries": 0 }, "fallback": [], "hedge": null
        }))
        .unwrap();
        let merged = client.merged(&overrides).unwrap();
        assert_eq!(merged.retry.max_retries, 0);
        assert_eq!(merged.retry.base_delay_ms, 500);
        assert!(merged.fallback.is_empty());
        assert_eq!(merged.hedge, None);

        let untouched = client.merged(&PolicyOverrides::default()).unwrap();
        assert_eq!(untouched, client);
    }

    #[test]
    fn merged_settings_are_validated() {
        let overrides = PolicyOverrides {
            retry: Some(RetryOverrides {
                base_delay_ms: Some(10_000),
                ..RetryOverrides::default()
            }),
            ..PolicyOverrides::default()
        };
        let e = PolicyConfig::default().merged(&overrides).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        let bad_target = PolicyOverrides {
            fallback: Some(vec![FallbackTarget::new("llama-3")]),
            ..PolicyOverrides::default()
        };
        let e = PolicyConfig::default().merged(&bad_target).unwrap_err();
        assert!(e.message().contains("fallback[0] `llama-3`"), "{e}");
    }
}
