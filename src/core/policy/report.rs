//! The record of a call's attempts, returned with every response and attached to every error,
//! and the plain-words summary of a call that failed after several attempts.
use std::fmt::Write;

use serde::Serialize;

use crate::core::error::{Error, TimeoutKind};
use crate::core::model::Usage;

/// One attempt of a call, or one target the call skipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    /// `provider/model`.
    pub target: String,
    /// Earlier attempts on this target in this call: 0 for the first try.
    pub retry: u32,
    /// Started by hedging, alongside a slow attempt on the previous target.
    pub hedge: bool,
    /// The wait before this attempt (a retry's backoff or the server's requested wait).
    pub waited_ms: u64,
    /// From sending to the outcome (for a served stream: to its first content).
    pub duration_ms: u64,
    #[serde(flatten)]
    pub outcome: AttemptOutcome,
    /// What the provider reported as used by an attempt that did not serve the call (failed
    /// or abandoned), so that billing can count it; `None` if it reported nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum AttemptOutcome {
    /// This attempt served the call.
    Succeeded,
    Failed {
        error: Error,
    },
    /// Cancelled unfinished: it lost a hedge race, or the call ended while it ran.
    Abandoned,
    /// Not sent at all.
    Skipped {
        reason: SkipReason,
    },
}

/// Why a target was not tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// The client has no configuration for the target's provider.
    NotConfigured,
    /// The target's circuit breaker is open.
    CircuitOpen,
    /// The target's circuit is half-open and another call is probing it.
    ProbeInFlight,
}

impl SkipReason {
    fn describe(self) -> &'static str {
        match self {
            SkipReason::NotConfigured => "its provider is not configured",
            SkipReason::CircuitOpen => "its circuit breaker is open",
            SkipReason::ProbeInFlight => "another call is probing its circuit breaker",
        }
    }
}

impl Attempt {
    pub fn is_sent(&self) -> bool {
        !matches!(self.outcome, AttemptOutcome::Skipped { .. })
    }

    pub fn error(&self) -> Option<&Error> {
        match &self.outcome {
            AttemptOutcome::Failed { error } => Some(error),
            _ => None,
        }
    }
}

/// Tells what happened to each attempt, one line each, after a headline saying how the call
/// ended; e.g.
///
/// ```text
/// every target failed (3 attempts, 1 target skipped):
///   1. anthropic/claude-haiku-4-5: overloaded, status 529, after 120 ms: Overloaded
///   2. anthropic/claude-haiku-4-5, retry 1 after waiting 412 ms: overloaded, status 529, ...
///   3. openai/gpt-4o: skipped, its circuit breaker is open
///   4. gemini/gemini-2.5-flash: timeout (first_token), after 10000 ms: no content arrived ...
/// ```
pub(crate) fn describe(headline: &str, attempts: &[Attempt]) -> String {
    let sent = attempts.iter().filter(|a| a.is_sent()).count();
    let skipped = attempts.len() - sent;
    let mut text = format!("{headline} ({sent} attempt{}", plural(sent));
    if skipped > 0 {
        let _ = write!(text, ", {skipped} target{} skipped", plural(skipped));
    }
    text.push_str("):");
    for (number, attempt) in attempts.iter().enumerate() {
        let _ = write!(text, "\n  {}. {}", number + 1, attempt.target);
        if attempt.hedge {
            text.push_str(" (hedge)");
        }
        if attempt.retry > 0 {
            let _ = write!(
                text,
                ", retry {} after waiting {} ms",
                attempt.retry, attempt.waited_ms
            );
        }
        match &attempt.outcome {
            AttemptOutcome::Succeeded => text.push_str(": succeeded"),
            AttemptOutcome::Abandoned => {
                let _ = write!(text, ": abandoned after {} ms", attempt.duration_ms);
            }
            AttemptOutcome::Skipped { reason } => {
                let _ = write!(text, ": skipped, {}", reason.describe());
            }
            AttemptOutcome::Failed { error } => {
                let _ = write!(text, ": {}", error.kind());
                if let Some(which) = error.timeout_kind() {
                    let _ = write!(text, " ({})", timeout_name(which));
                }
                if let Some(status) = error.status() {
                    let _ = write!(text, ", status {status}");
                }
                let _ = write!(
                    text,
                    ", after {} ms: {}",
                    attempt.duration_ms,
                    error.message()
                );
            }
        }
    }
    text
}

fn timeout_name(which: TimeoutKind) -> &'static str {
    match which {
        TimeoutKind::Total => "total",
        TimeoutKind::FirstToken => "first_token",
        TimeoutKind::Idle => "idle",
        TimeoutKind::Upstream => "upstream",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::error::ErrorKind;

    fn attempt(retry: u32, waited_ms: u64, outcome: AttemptOutcome) -> Attempt {
        Attempt {
            target: "anthropic/claude-haiku-4-5".into(),
            retry,
            hedge: false,
            waited_ms,
            duration_ms: 120,
            outcome,
            usage: None,
        }
    }

    #[test]
    fn the_summary_lists_every_attempt_in_plain_words() {
        let overloaded = Error::new(ErrorKind::Overloaded, "Overloaded").with_status(529);
        let attempts = vec![
            attempt(
                0,
                0,
                AttemptOutcome::Failed {
                    error: overloaded.clone(),
                },
            ),
            attempt(1, 412, AttemptOutcome::Failed { error: overloaded }),
            Attempt {
                target: "openai/gpt-4o".into(),
                ..attempt(
                    0,
                    0,
                    AttemptOutcome::Skipped {
                        reason: SkipReason::CircuitOpen,
                    },
                )
            },
        ];
        assert_eq!(
            describe("every target failed", &attempts),
            "every target failed (2 attempts, 1 target skipped):\n  \
             1. anthropic/claude-haiku-4-5: overloaded, status 529, after 120 ms: Overloaded\n  \
             2. anthropic/claude-haiku-4-5, retry 1 after waiting 412 ms: overloaded, \
             status 529, after 120 ms: Overloaded\n  \
             3. openai/gpt-4o: skipped, its circuit breaker is open"
        );
    }

    #[test]
    fn attempts_serialise_flat_with_an_outcome_tag() {
        let failed = attempt(
            1,
            300,
            AttemptOutcome::Failed {
                error: Error::new(ErrorKind::Network, "reset"),
            },
        );
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["outcome"], "failed");
        assert_eq!(json["error"]["kind"], "network");
        assert_eq!(json["waitedMs"], 300);
        let skipped = attempt(
            0,
            0,
            AttemptOutcome::Skipped {
                reason: SkipReason::NotConfigured,
            },
        );
        let json = serde_json::to_value(&skipped).unwrap();
        assert_eq!(json["outcome"], "skipped");
        assert_eq!(json["reason"], "not-configured");
        assert!(json.get("usage").is_none());
    }
}
