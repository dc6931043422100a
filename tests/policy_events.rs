//! Observability and configuration: the events a call emits, in order and with their
//! payloads; the outcome a response and a stream report; and the checks on the settings.
mod support;

use llm_edge::core::client::{CallOptions, Client, ClientConfig, Timeouts};
use llm_edge::core::error::ErrorKind;
use llm_edge::core::policy::{
    FallbackTarget, PolicyConfig, PolicyOverrides, RetryConfig, RetryOverrides,
};
use serde_json::json;
use support::*;

#[test]
fn a_retry_then_a_fallback_emits_events_in_order() {
    let h = harness(|c| {
        c.policy.retry.max_retries = 1;
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
    });
    h.clock.script_random(&[0.5]);
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "error_529.json").after(100),
            fixture_reply("anthropic", "error_529.json").after(100),
        ],
    );
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json").after(50)]);
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(
        h.events.types(),
        [
            "attempt-start",
            "attempt-failed",
            "retry",
            "attempt-start",
            "attempt-failed",
            "fallback",
            "attempt-start",
            "outcome"
        ]
    );
    let events = h.events.json();
    assert_eq!(
        events[0],
        json!({ "type": "attempt-start", "attempt": 1, "target": CLAUDE, "retry": 0,
                "hedge": false })
    );
    assert_eq!(events[1]["attempt"], 1);
    assert_eq!(events[1]["error"]["kind"], "overloaded");
    assert_eq!(events[1]["error"]["status"], 529);
    assert_eq!(events[1]["durationMs"], 100);
    assert_eq!(
        events[2],
        json!({ "type": "retry", "target": CLAUDE, "retry": 1, "delayMs": 250,
                "reason": "backoff" })
    );
    assert_eq!(
        (&events[3]["attempt"], &events[3]["retry"]),
        (&2.into(), &1.into())
    );
    assert_eq!(
        events[5],
        json!({ "type": "fallback", "from": CLAUDE, "to": GPT, "reason": "overloaded" })
    );
    assert_eq!(
        (&events[6]["attempt"], &events[6]["target"]),
        (&3.into(), &GPT.into())
    );
    let end = &events[7];
    assert_eq!((&end["ok"], &end["target"]), (&true.into(), &GPT.into()));
    assert_eq!(end["elapsedMs"], 100 + 250 + 100 + 50);
    assert_eq!(end["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(end["attempts"][2]["outcome"], "succeeded");
    assert_eq!(
        end["attempts"],
        serde_json::to_value(&outcome.attempts).unwrap()
    );
}

#[test]
fn a_failed_call_ends_with_a_failed_outcome() {
    let h = harness(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_400.json")]);
    h.chat(CLAUDE).unwrap_err();
    let end = h.events.of_type("outcome").pop().unwrap();
    assert_eq!(end["ok"], false);
    assert_eq!(end["error"], "invalid_request");
    assert_eq!(end["target"], serde_json::Value::Null);
}

#[test]
fn a_stream_reports_its_outcome_when_it_ends() {
    let h = harness(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.sse").every(10)]);
    let mut stream = h.client.stream(request(CLAUDE), CallOptions::default());
    let first = run(&h.clock, stream.next()).unwrap().unwrap();
    assert!(matches!(
        first,
        llm_edge::core::event::StreamEvent::Start { .. }
    ));
    assert!(h.events.of_type("outcome").is_empty(), "not before the end");
    let rest = run(&h.clock, drain(&mut stream));
    assert!(rest.error.is_none());
    let end = h.events.of_type("outcome").pop().unwrap();
    assert_eq!((&end["ok"], &end["target"]), (&true.into(), &CLAUDE.into()));
    assert_eq!(stream.attempts().len(), 1);
    assert_eq!(stream.target(), Some(CLAUDE));
}

#[test]
fn the_chat_outcome_serialises_for_the_js_face() {
    let h = harness(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json")]);
    let outcome = h.chat(CLAUDE).unwrap();
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["target"], CLAUDE);
    assert_eq!(json["attempts"][0]["outcome"], "succeeded");
    assert_eq!(json["attempts"][0]["waitedMs"], 0);
    assert_eq!(json["response"]["provider"], "anthropic");
}

#[test]
fn invalid_client_settings_are_config_errors_at_construction() {
    type Configure = Box<dyn Fn(&mut ClientConfig)>;
    let cases: Vec<(&str, Configure)> = vec![
        (
            "retry.baseDelayMs (9000) must not exceed retry.maxDelayMs (8000)",
            Box::new(|c| c.policy.retry.base_delay_ms = 9_000),
        ),
        (
            "retry.multiplier must be a number >= 1, got 0.5",
            Box::new(|c| c.policy.retry.multiplier = 0.5),
        ),
        (
            "circuitBreaker.failureThreshold must be at least 1",
            Box::new(|c| {
                c.policy.circuit_breaker.as_mut().unwrap().failure_threshold = 0;
            }),
        ),
        (
            "fallback[1] `llama-3` is not a usable target",
            Box::new(|c| {
                c.policy.fallback = vec![FallbackTarget::new(GPT), FallbackTarget::new("llama-3")]
            }),
        ),
        (
            "firstTokenTimeoutMs must be at least 1 ms (null disables it)",
            Box::new(|c| c.timeouts.first_token_ms = Some(0)),
        ),
    ];
    for (expected, configure) in cases {
        let clock = FakeClock::new(1);
        let mut config = ClientConfig::default();
        configure(&mut config);
        let error = Client::new(ScriptedTransport::new(&clock), clock, config)
            .err()
            .unwrap_or_else(|| panic!("accepted: {expected}"));
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(error.message().starts_with(expected), "{}", error.message());
    }
}

#[test]
fn an_invalid_per_call_override_fails_the_call_before_sending() {
    let h = harness(|_| {});
    let options = CallOptions {
        policy: PolicyOverrides {
            retry: Some(RetryOverrides {
                base_delay_ms: Some(60_000),
                ..RetryOverrides::default()
            }),
            ..PolicyOverrides::default()
        },
        ..CallOptions::default()
    };
    let error = h.chat_with(request(CLAUDE), options.clone()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    let (streamed, _) = h.stream_with(request(CLAUDE), options);
    assert_eq!(streamed.error.unwrap().kind(), ErrorKind::Config);
    assert!(h.transport.exchanges().is_empty());
}

#[test]
fn the_js_options_object_deserialises_into_the_policy() {
    // The whole `new Client({...})` object: the policy keys are read beside `providers` and
    // the timeouts, which other passes read.
    let policy: PolicyConfig = serde_json::from_value(json!({
        "providers": { "anthropic": { "apiKey": "sk-ant" } },
        "timeoutMs": 30000, "firstTokenTimeoutMs": 10000, "idleTimeoutMs": 10000,
        "retry": { "maxRetries": 3, "baseDelayMs": 500, "maxDelayMs": 8000,
                   "maxServerWaitMs": 30000 },
        "fallback": ["openai/gpt-4o", "gemini/gemini-2.5-flash"],
        "circuitBreaker": { "failureThreshold": 5, "cooldownMs": 30000 },
        "hedge": { "afterMs": 2000 }
    }))
    .unwrap();
    assert_eq!(policy.retry, RetryConfig::default());
    assert_eq!(policy.fallback[1], FallbackTarget::new(GEMINI));
    let clock = FakeClock::new(1);
    let config = ClientConfig {
        policy,
        timeouts: Timeouts::default(),
        ..ClientConfig::default()
    };
    assert!(Client::new(ScriptedTransport::new(&clock), clock, config).is_ok());
    // Per call: `client.chat({ ..., fallback: [], retry: { maxRetries: 0 } })`.
    let overrides: PolicyOverrides = serde_json::from_value(json!({
        "model": "anthropic/claude-haiku-4-5", "messages": [{ "role": "user", "content": "Hi" }],
        "fallback": [], "retry": { "maxRetries": 0 }
    }))
    .unwrap();
    assert_eq!(overrides.fallback, Some(vec![]));
    assert_eq!(overrides.retry.unwrap().max_retries, Some(0));
}

#[test]
fn a_model_whose_provider_is_not_configured_is_a_config_error() {
    let h = harness(|c| c.gemini = None);
    let error = h.chat(GEMINI).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(
        error.message(),
        "model `gemini/gemini-2.5-flash` needs the gemini provider, which this client has no \
         configuration for"
    );
    assert_eq!(
        h.events.of_type("target-skipped")[0]["reason"],
        "not-configured"
    );
}
