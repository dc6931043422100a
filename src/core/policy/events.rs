//! Policy events: what the reliability layer decided, as it decides it, for logs and metrics.
//! The JS face serialises each one to JSON and hands it to the `onEvent` callback.
use std::rc::Rc;

use serde::Serialize;

use crate::core::error::{Error, ErrorKind};
use crate::core::model::Usage;
use crate::core::route::RouteDecision;
use crate::core::screen::{PartChanges, ScreenOutcome};

use super::breaker::CircuitState;
use super::report::{Attempt, SkipReason};
use super::retry::RetryReason;

/// Receives every [`PolicyEvent`] of every call of a client, synchronously, in order.
pub type EventHook = Rc<dyn Fn(&PolicyEvent)>;

/// One decision of the policy layer. Serialised with a kebab-case `type` tag and camelCase
/// fields, e.g. `{"type":"retry","target":"openai/gpt-4o","retry":1,"delayMs":412,
/// "reason":"backoff"}`. Attempts are numbered from 1 within a call; `retry` counts earlier
/// attempts on the same target (0 for a first try).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PolicyEvent {
    /// `requested` named a route (`auto`, ...) and the router chose `decision.model`, which
    /// becomes the call's first target (fallback targets follow it). Comes before any attempt.
    #[serde(rename_all = "camelCase")]
    Route {
        requested: String,
        decision: RouteDecision,
    },
    /// Input screening found signs of prompt injection in a request it let through (`flag`
    /// mode). Comes before routing and any attempt. A blocked request fails instead.
    #[serde(rename_all = "camelCase")]
    Screened { screening: ScreenOutcome },
    /// Input hygiene removed control or invisible characters from the request (after
    /// screening, which reads the original). Comes before routing and any attempt.
    #[serde(rename_all = "camelCase")]
    Sanitized { changes: Vec<PartChanges> },
    /// A request is about to be sent.
    #[serde(rename_all = "camelCase")]
    AttemptStart {
        attempt: u32,
        target: String,
        retry: u32,
        hedge: bool,
    },
    /// An attempt failed (before any of its content reached the caller, or after: then the
    /// call ends with this error).
    #[serde(rename_all = "camelCase")]
    AttemptFailed {
        attempt: u32,
        target: String,
        error: Error,
        duration_ms: u64,
    },
    /// The same target will be tried again after `delay_ms`.
    #[serde(rename_all = "camelCase")]
    Retry {
        target: String,
        /// The retry about to happen (1 for the first retry).
        retry: u32,
        delay_ms: u64,
        reason: RetryReason,
        /// The wait the server asked for (`reason: "server-requested"`).
        #[serde(skip_serializing_if = "Option::is_none")]
        server_wait_ms: Option<u64>,
    },
    /// The call moves on from a target that failed to the next one it will try.
    #[serde(rename_all = "camelCase")]
    Fallback {
        from: String,
        to: String,
        /// The kind of the error that ended `from`.
        reason: ErrorKind,
    },
    /// A target was passed over without sending anything.
    #[serde(rename_all = "camelCase")]
    TargetSkipped { target: String, reason: SkipReason },
    /// A target's circuit breaker changed state.
    #[serde(rename_all = "camelCase")]
    Breaker {
        target: String,
        from: CircuitState,
        to: CircuitState,
    },
    /// `primary` had no content after `after_ms`, so `target` was started alongside it.
    #[serde(rename_all = "camelCase")]
    HedgeStart {
        primary: String,
        target: String,
        after_ms: u64,
    },
    /// A hedge race was decided: `winner` produced content first and `loser` was cancelled.
    /// `loser_usage` is what the loser's provider had reported by then, for billing.
    #[serde(rename_all = "camelCase")]
    HedgeWin {
        winner: String,
        loser: String,
        loser_usage: Option<Usage>,
    },
    /// The call ended: served by `target`, or failed with `error`. For a stream this comes
    /// when the stream ends (not if the caller drops it first).
    #[serde(rename_all = "camelCase")]
    Outcome {
        ok: bool,
        target: Option<String>,
        error: Option<ErrorKind>,
        elapsed_ms: u64,
        attempts: Vec<Attempt>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_serialise_with_a_kebab_case_tag_and_camel_case_fields() {
        let retry = PolicyEvent::Retry {
            target: "openai/gpt-4o".into(),
            retry: 1,
            delay_ms: 412,
            reason: RetryReason::ServerRequested,
            server_wait_ms: Some(400),
        };
        assert_eq!(
            serde_json::to_value(&retry).unwrap(),
            json!({ "type": "retry", "target": "openai/gpt-4o", "retry": 1, "delayMs": 412,
                    "reason": "server-requested", "serverWaitMs": 400 })
        );
        let breaker = PolicyEvent::Breaker {
            target: "gemini/gemini-2.5-flash".into(),
            from: CircuitState::HalfOpen,
            to: CircuitState::Open,
        };
        assert_eq!(
            serde_json::to_value(&breaker).unwrap(),
            json!({ "type": "breaker", "target": "gemini/gemini-2.5-flash",
                    "from": "half-open", "to": "open" })
        );
        let fallback = PolicyEvent::Fallback {
            from: "a/b".into(),
            to: "c/d".into(),
            reason: ErrorKind::QuotaExceeded,
        };
        assert_eq!(
            serde_json::to_value(&fallback).unwrap()["reason"],
            "quota_exceeded"
        );
    }
}
