//! Circuit breakers through the client: opening after failures, skipping an open target,
//! the single half-open probe, its outcomes, the failure-rate rule, and a dropped probe.
mod support;

use llm_edge::core::client::{CallOptions, ClientConfig};
use llm_edge::core::error::{ErrorKind, RetryAfter};
use llm_edge::core::policy::{
    AttemptOutcome, CircuitBreakerConfig, CircuitState, FallbackTarget, PolicyOverrides, SkipReason,
};
use llm_edge::core::runtime::Clock;
use support::*;

/// Opens after `threshold` consecutive failures; no retries so each call is one attempt.
fn breaker(threshold: u32) -> impl FnOnce(&mut ClientConfig) {
    move |c| {
        c.policy.retry.max_retries = 0;
        c.policy.circuit_breaker = Some(CircuitBreakerConfig {
            failure_threshold: threshold,
            ..CircuitBreakerConfig::default()
        });
    }
}

fn breaker_events(h: &Harness) -> Vec<(String, String)> {
    h.events
        .of_type("breaker")
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn open_claude(h: &Harness, failures: usize) {
    h.transport.script(
        CLAUDE,
        (0..failures).map(|_| fixture_reply("anthropic", "error_500.json")),
    );
    for _ in 0..failures {
        assert_eq!(h.chat(CLAUDE).unwrap_err().kind(), ErrorKind::ServerError);
    }
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::Open);
}

#[test]
fn opens_after_consecutive_failures_then_skips_the_target() {
    let h = harness(breaker(3));
    h.transport.script(
        CLAUDE,
        (0..2).map(|_| fixture_reply("anthropic", "error_500.json")),
    );
    for _ in 0..2 {
        h.chat(CLAUDE).unwrap_err();
    }
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::Closed);
    assert!(breaker_events(&h).is_empty());
    h.clock.advance(1_000);
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_500.json")]);
    h.chat(CLAUDE).unwrap_err();
    assert_eq!(breaker_events(&h), [("closed".into(), "open".into())]);

    // Open: nothing is sent, and the error says when to come back.
    h.clock.advance(5_000);
    let error = h.chat(CLAUDE).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CircuitOpen);
    assert_eq!(h.transport.exchanges().len(), 3);
    let reopens = START_MS + 1_000 + 30_000;
    assert_eq!(error.retry_after(), Some(RetryAfter::At(reopens)));
    let skipped = h.events.of_type("target-skipped");
    assert_eq!(skipped.last().unwrap()["reason"], "circuit-open");
    assert_eq!(skipped.last().unwrap()["target"], CLAUDE);
}

#[test]
fn an_open_target_is_skipped_in_favour_of_the_fallback() {
    let h = harness(breaker(2));
    open_claude(&h, 2);
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    let outcome = h
        .chat_with(
            request(CLAUDE),
            CallOptions {
                policy: PolicyOverrides {
                    fallback: Some(vec![FallbackTarget::new(GPT)]),
                    ..PolicyOverrides::default()
                },
                ..CallOptions::default()
            },
        )
        .unwrap();
    assert_eq!(outcome.target, GPT);
    assert_eq!(h.transport.targets(), [CLAUDE, CLAUDE, GPT]);
    assert_eq!(
        outcome.attempts[0].outcome,
        AttemptOutcome::Skipped {
            reason: SkipReason::CircuitOpen
        }
    );
}

#[test]
fn after_the_cooldown_one_probe_goes_through_while_others_skip() {
    let h = harness(breaker(2));
    open_claude(&h, 2);
    h.clock.advance(30_000);
    // The probe takes 2 s to answer; a second call arrives meanwhile.
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.json").after(2_000)],
    );
    let (request, options) = (request(CLAUDE), CallOptions::default());
    let probe = h.client.chat(&request, &options);
    let second = async {
        h.clock.sleep(500).await;
        h.client.chat(&request, &options).await
    };
    let (probe, second) = run(&h.clock, join(probe, second));
    assert_eq!(probe.unwrap().target, CLAUDE);
    let second = second.unwrap_err();
    assert_eq!(second.kind(), ErrorKind::CircuitOpen);
    assert_eq!(
        second.attempts()[0].outcome,
        AttemptOutcome::Skipped {
            reason: SkipReason::ProbeInFlight
        }
    );
    assert_eq!(h.transport.exchanges().len(), 3, "a single probe");
    assert_eq!(
        breaker_events(&h),
        [
            ("closed".into(), "open".into()),
            ("open".into(), "half-open".into()),
            ("half-open".into(), "closed".into())
        ]
    );
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::Closed);
}

#[test]
fn a_failed_probe_reopens_the_circuit_for_another_cooldown() {
    let h = harness(breaker(2));
    open_claude(&h, 2);
    h.clock.advance(30_000);
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_529.json")]);
    assert_eq!(h.chat(CLAUDE).unwrap_err().kind(), ErrorKind::Overloaded);
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::Open);
    assert_eq!(
        breaker_events(&h)[1..],
        [
            ("open".into(), "half-open".into()),
            ("half-open".into(), "open".into())
        ]
    );
    h.clock.advance(29_999);
    assert_eq!(h.chat(CLAUDE).unwrap_err().kind(), ErrorKind::CircuitOpen);
    assert_eq!(h.transport.exchanges().len(), 3);
}

#[test]
fn a_probe_dropped_mid_flight_frees_the_slot_for_the_next_call() {
    let h = harness(breaker(2));
    open_claude(&h, 2);
    h.clock.advance(30_000);
    h.transport.script(CLAUDE, [Reply::hang()]);
    let request = request(CLAUDE);
    let options = Default::default();
    let mut probe = Task::new(&h.clock, h.client.chat(&request, &options));
    assert!(!probe.run_until_stalled());
    assert_eq!(h.transport.exchanges().len(), 3);
    drop(probe);
    assert!(matches!(
        h.transport.exchanges()[2].fate(),
        Fate::Dropped { .. }
    ));
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::HalfOpen);
    // The next call becomes the probe instead of being refused.
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json")]);
    assert_eq!(h.chat(CLAUDE).unwrap().target, CLAUDE);
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::Closed);
}

#[test]
fn the_failure_rate_over_the_window_opens_the_circuit() {
    let h = harness(|c| {
        c.policy.retry.max_retries = 0;
        c.policy.circuit_breaker = Some(CircuitBreakerConfig {
            failure_threshold: 100,
            minimum_calls: 4,
            failure_rate_threshold: 0.5,
            ..CircuitBreakerConfig::default()
        });
    });
    for name in ["text.json", "error_500.json", "text.json"] {
        h.transport
            .script(CLAUDE, [fixture_reply("anthropic", name)]);
        let _ = h.chat(CLAUDE);
        h.clock.advance(1_000);
    }
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::Closed);
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_529.json")]);
    h.chat(CLAUDE).unwrap_err();
    assert_eq!(
        h.client.circuit_state(CLAUDE),
        CircuitState::Open,
        "2 of 4 failed"
    );
}

#[test]
fn client_errors_do_not_count_against_the_target() {
    let h = harness(breaker(2));
    for name in [
        "error_400.json",
        "error_401.json",
        "error_429_quota.json",
        "error_400.json",
    ] {
        h.transport
            .script(CLAUDE, [fixture_reply("anthropic", name)]);
        h.chat(CLAUDE).unwrap_err();
    }
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::Closed);
}

#[test]
fn a_stream_that_breaks_after_content_counts_as_a_failure() {
    let h = harness(breaker(1));
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse")
            .first_pieces(5)
            .then_fail(0)],
    );
    let (seen, _) = h.stream(CLAUDE);
    assert_eq!(seen.error.unwrap().kind(), ErrorKind::Network);
    assert_eq!(h.client.circuit_state(CLAUDE), CircuitState::Open);
}

#[test]
fn the_breaker_can_be_disabled() {
    let h = harness(|c| {
        c.policy.retry.max_retries = 0;
        c.policy.circuit_breaker = None;
    });
    h.transport.script(
        CLAUDE,
        (0..10).map(|_| fixture_reply("anthropic", "error_500.json")),
    );
    for _ in 0..10 {
        assert_eq!(h.chat(CLAUDE).unwrap_err().kind(), ErrorKind::ServerError);
    }
    assert_eq!(h.transport.exchanges().len(), 10);
}

#[test]
fn clones_of_a_client_share_its_breakers() {
    let h = harness(breaker(2));
    open_claude(&h, 2);
    let clone = h.client.clone();
    let error = run(&h.clock, clone.chat(&request(CLAUDE), &Default::default())).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CircuitOpen);
}
