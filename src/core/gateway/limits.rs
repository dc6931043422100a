//! One client's request limits and daily budget, as a pure state machine: the proxy's Durable
//! Object (one per client, so every call for a client is serialised through it) feeds it calls
//! and persists its state. Reserve-then-settle makes concurrent requests unable to overspend:
//! each reserves its worst case before it is forwarded and settles to its actual cost after.
use serde::{Deserialize, Serialize};

use crate::core::budget::{Alert, BudgetConfig, BudgetLedger, LedgerSnapshot, Reservation, Spend};
use crate::core::error::{Error, ErrorKind};
use crate::core::ratelimit::{RateLimitConfig, RateLimiter, RateLimiterSnapshot, RatePermit};

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum LimitsCall {
    /// Before forwarding: count the request and reserve its worst-case cost.
    #[serde(rename_all = "camelCase")]
    Admit {
        limits: ClientLimitsConfig,
        worst_case_pico: u64,
        estimated_tokens: u64,
    },
    /// After the answer: replace the reservation by the actual cost (streams included).
    #[serde(rename_all = "camelCase")]
    Settle {
        limits: ClientLimitsConfig,
        reservation: Reservation,
        permit: RatePermit,
        actual_pico: u64,
        actual_tokens: u64,
    },
    /// The request never reached a provider: nothing to bill.
    #[serde(rename_all = "camelCase")]
    Release {
        limits: ClientLimitsConfig,
        reservation: Reservation,
        permit: RatePermit,
    },
    Spend {
        limits: ClientLimitsConfig,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "camelCase")]
pub enum LimitsReply {
    Admitted {
        reservation: Reservation,
        permit: RatePermit,
    },
    /// `kind` is `rate_limited`, `budget_exceeded` or `invalid_request`.
    #[serde(rename_all = "camelCase")]
    Refused {
        kind: String,
        message: String,
        retry_after_ms: Option<u64>,
    },
    Settled {
        alerts: Vec<Alert>,
    },
    Released,
    Spend {
        spend: Spend,
    },
}

impl LimitsReply {
    /// A refusal as the core's error type.
    pub fn refusal_error(&self) -> Option<Error> {
        let LimitsReply::Refused {
            kind,
            message,
            retry_after_ms,
        } = self
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
}

pub struct ClientLimits {
    ledger: BudgetLedger,
    limiter: RateLimiter,
}

impl ClientLimits {
    pub fn restore(config: &ClientLimitsConfig, state: LimitsState) -> Result<ClientLimits, Error> {
        Ok(ClientLimits {
            ledger: BudgetLedger::restore(&config.budget(), state.ledger)?,
            limiter: RateLimiter::restore(&config.rate(), state.rate)?,
        })
    }

    pub fn state(&self) -> LimitsState {
        LimitsState {
            ledger: self.ledger.snapshot(),
            rate: self.limiter.snapshot(),
        }
    }

    /// Handles one call. Configuration changes are applied first, keeping the state.
    pub fn handle(
        state: LimitsState,
        call: LimitsCall,
        now_ms: u64,
    ) -> Result<(LimitsReply, LimitsState), Error> {
        let limits = match &call {
            LimitsCall::Admit { limits, .. }
            | LimitsCall::Settle { limits, .. }
            | LimitsCall::Release { limits, .. }
            | LimitsCall::Spend { limits } => limits.clone(),
        };
        let mut this = ClientLimits::restore(&limits, state)?;
        let reply = match call {
            LimitsCall::Admit {
                worst_case_pico,
                estimated_tokens,
                ..
            } => {
                match this.limiter.acquire(estimated_tokens, now_ms) {
                    Err(error) => refused(&error, now_ms),
                    Ok(permit) => match this.ledger.reserve(worst_case_pico, now_ms) {
                        Ok(reservation) => LimitsReply::Admitted {
                            reservation,
                            permit,
                        },
                        Err(error) => {
                            // A request refused for budget does not use up rate allowance.
                            this.limiter.release(permit, now_ms);
                            refused(&error, now_ms)
                        }
                    },
                }
            }
            LimitsCall::Settle {
                reservation,
                permit,
                actual_pico,
                actual_tokens,
                ..
            } => {
                this.limiter.settle(permit, actual_tokens, now_ms);
                LimitsReply::Settled {
                    alerts: this.ledger.settle(reservation, actual_pico, now_ms),
                }
            }
            LimitsCall::Release {
                reservation,
                permit,
                ..
            } => {
                this.limiter.release(permit, now_ms);
                this.ledger.release(reservation, now_ms);
                LimitsReply::Released
            }
            LimitsCall::Spend { .. } => LimitsReply::Spend {
                spend: this.ledger.spend(now_ms),
            },
        };
        Ok((reply, this.state()))
    }
}

fn refused(error: &Error, now_ms: u64) -> LimitsReply {
    let kind = match error.kind() {
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::BudgetExceeded => "budget_exceeded",
        _ => "invalid_request",
    };
    LimitsReply::Refused {
        kind: kind.to_string(),
        message: error.message().to_string(),
        retry_after_ms: error.retry_after().map(|r| r.wait_ms(now_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ClientLimitsConfig = ClientLimitsConfig {
        daily_budget_usd: 0.001,
        requests_per_minute: 1000,
        tokens_per_minute: 1_000_000,
    };
    const NOW: u64 = 1_795_801_212_000;

    fn call(state: &mut LimitsState, call: LimitsCall) -> LimitsReply {
        let (reply, next) = ClientLimits::handle(state.clone(), call, NOW).unwrap();
        *state = next;
        reply
    }

    #[test]
    fn concurrent_reservations_cannot_overspend_and_settle_to_actual_cost() {
        let mut state = LimitsState::default();
        // $0.001 budget, each request may cost up to $0.0003: three fit, the fourth is refused.
        let admit = LimitsCall::Admit {
            limits: LIMITS,
            worst_case_pico: 300_000_000,
            estimated_tokens: 100,
        };
        let mut held = Vec::new();
        for _ in 0..3 {
            match call(&mut state, admit.clone()) {
                LimitsReply::Admitted {
                    reservation,
                    permit,
                } => held.push((reservation, permit)),
                other => panic!("expected admission, got {other:?}"),
            }
        }
        let refusal = call(&mut state, admit.clone());
        let error = refusal.refusal_error().expect("refused");
        assert_eq!(error.kind(), ErrorKind::BudgetExceeded);
        assert!(error.message().contains("budget"), "{}", error.message());
        // Settling at a lower actual cost frees room for another request.
        let (reservation, permit) = held.pop().unwrap();
        let settle = LimitsCall::Settle {
            limits: LIMITS,
            reservation,
            permit,
            actual_pico: 100_000_000,
            actual_tokens: 90,
        };
        assert!(matches!(
            call(&mut state, settle),
            LimitsReply::Settled { .. }
        ));
        assert!(matches!(
            call(&mut state, admit),
            LimitsReply::Admitted { .. }
        ));
        let LimitsReply::Spend { spend } = call(&mut state, LimitsCall::Spend { limits: LIMITS })
        else {
            panic!()
        };
        assert_eq!(spend.today_pico, 100_000_000);
        assert_eq!(spend.reserved_pico, 900_000_000);
    }

    #[test]
    fn rate_limit_refusal_carries_the_wait() {
        let limits = ClientLimitsConfig {
            requests_per_minute: 2,
            ..LIMITS
        };
        let mut state = LimitsState::default();
        let admit = LimitsCall::Admit {
            limits,
            worst_case_pico: 1,
            estimated_tokens: 1,
        };
        assert!(matches!(
            call(&mut state, admit.clone()),
            LimitsReply::Admitted { .. }
        ));
        assert!(matches!(
            call(&mut state, admit.clone()),
            LimitsReply::Admitted { .. }
        ));
        let error = call(&mut state, admit).refusal_error().unwrap();
        assert_eq!(error.kind(), ErrorKind::RateLimited);
        let wait = error.retry_after().unwrap().wait_ms(0);
        assert!(wait > 0 && wait <= 30_000, "{wait}");
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut state = LimitsState::default();
        let admit = LimitsCall::Admit {
            limits: LIMITS,
            worst_case_pico: 5,
            estimated_tokens: 5,
        };
        let LimitsReply::Admitted {
            reservation,
            permit,
        } = call(&mut state, admit)
        else {
            panic!()
        };
        let json = serde_json::to_string(&state).unwrap();
        let mut restored: LimitsState = serde_json::from_str(&json).unwrap();
        let settle = LimitsCall::Settle {
            limits: LIMITS,
            reservation,
            permit,
            actual_pico: 5,
            actual_tokens: 5,
        };
        let json_call = serde_json::to_string(&settle).unwrap();
        let parsed: LimitsCall = serde_json::from_str(&json_call).unwrap();
        assert!(matches!(
            call(&mut restored, parsed),
            LimitsReply::Settled { .. }
        ));
    }
}
