//! Fallback: the order of targets, the request translated for each with its overrides, the
//! errors that move a call on and those that do not, skipped targets, the all-failed error,
//! and streams that fall back before their first content but never after it.
mod support;

use llm_edge::core::client::CallOptions;
use llm_edge::core::error::ErrorKind;
use llm_edge::core::event::StreamEvent;
use llm_edge::core::policy::{
    AttemptOutcome, FallbackTarget, PolicyOverrides, RetryOverrides, SkipReason,
};
use support::*;

/// No retries, so that each failure moves straight on.
fn no_retries(fallback: Vec<FallbackTarget>) -> CallOptions {
    CallOptions {
        policy: PolicyOverrides {
            retry: Some(RetryOverrides {
                max_retries: Some(0),
                ..RetryOverrides::default()
            }),
            fallback: Some(fallback),
            ..PolicyOverrides::default()
        },
        ..CallOptions::default()
    }
}

#[test]
fn targets_are_tried_in_order_each_with_its_own_settings() {
    let h = harness(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_529.json")]);
    h.transport
        .script(GPT, [fixture_reply("openai", "error_503.json")]);
    h.transport
        .script(GEMINI, [fixture_reply("gemini", "text.json")]);
    let mut request = request(CLAUDE);
    request.temperature = Some(0.7);
    let outcome = h
        .chat_with(
            request,
            no_retries(vec![
                FallbackTarget::new(GPT)
                    .with_max_tokens(50)
                    .with_temperature(0.1),
                FallbackTarget::new(GEMINI),
            ]),
        )
        .unwrap();
    assert_eq!(outcome.target, GEMINI);
    assert_eq!(outcome.response.provider.as_str(), "gemini");
    assert_eq!(h.transport.targets(), [CLAUDE, GPT, GEMINI]);
    let bodies: Vec<_> = h.transport.exchanges().iter().map(|e| e.body()).collect();
    // The same request, translated for each provider, with GPT's overrides applied.
    assert_eq!(bodies[0]["max_tokens"], 256);
    assert_eq!(bodies[0]["temperature"], 0.7);
    assert_eq!(bodies[1]["model"], "gpt-4o");
    assert_eq!(bodies[1]["max_completion_tokens"], 50);
    assert_eq!(bodies[1]["temperature"], 0.1);
    assert_eq!(bodies[1]["messages"][0]["content"], "Hi");
    assert_eq!(bodies[2]["generationConfig"]["maxOutputTokens"], 256);
    assert_eq!(bodies[2]["generationConfig"]["temperature"], 0.7);
    let fallbacks = h.events.of_type("fallback");
    assert_eq!(fallbacks.len(), 2);
    assert_eq!(
        (
            &fallbacks[0]["from"],
            &fallbacks[0]["to"],
            &fallbacks[0]["reason"]
        ),
        (&CLAUDE.into(), &GPT.into(), &"overloaded".into())
    );
    assert_eq!(fallbacks[1]["reason"], "overloaded");
}

#[test]
fn the_client_fallback_list_applies_after_retries_are_spent() {
    let h = harness(|c| {
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
        c.policy.retry.max_retries = 2;
    });
    h.transport.script(
        CLAUDE,
        (0..3).map(|_| fixture_reply("anthropic", "error_500.json")),
    );
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(h.transport.targets(), [CLAUDE, CLAUDE, CLAUDE, GPT]);
    assert_eq!(outcome.target, GPT);
    assert_eq!(outcome.attempts.len(), 4);
}

#[test]
fn a_target_whose_provider_is_not_configured_is_skipped_with_an_event() {
    let h = harness(|c| c.openai = None);
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_529.json")]);
    h.transport
        .script(GEMINI, [fixture_reply("gemini", "text.json")]);
    let outcome = h
        .chat_with(
            request(CLAUDE),
            no_retries(vec![FallbackTarget::new(GPT), FallbackTarget::new(GEMINI)]),
        )
        .unwrap();
    assert_eq!(outcome.target, GEMINI);
    assert_eq!(h.transport.targets(), [CLAUDE, GEMINI]);
    let skipped = h.events.of_type("target-skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["target"], GPT);
    assert_eq!(skipped[0]["reason"], "not-configured");
    assert_eq!(
        outcome.attempts[1].outcome,
        AttemptOutcome::Skipped {
            reason: SkipReason::NotConfigured
        }
    );
    // The fallback event names the target actually tried next.
    assert_eq!(h.events.of_type("fallback")[0]["to"], GEMINI);
}

#[test]
fn errors_in_the_request_itself_do_not_fall_back() {
    for (name, kind) in [
        ("error_400.json", ErrorKind::InvalidRequest),
        ("error_400_context.json", ErrorKind::ContextLength),
    ] {
        let h = harness(|c| c.policy.fallback = vec![FallbackTarget::new(GPT)]);
        h.transport
            .script(CLAUDE, [fixture_reply("anthropic", name)]);
        let error = h.chat(CLAUDE).unwrap_err();
        assert_eq!(error.kind(), kind);
        assert_eq!(h.transport.targets(), [CLAUDE], "{name}");
    }
}

#[test]
fn quota_not_found_and_authentication_errors_fall_back_at_once() {
    for (provider, name) in [
        ("openai", "error_429_quota.json"),
        ("openai", "error_404.json"),
        ("openai", "error_401.json"),
    ] {
        let h = harness(|c| c.policy.fallback = vec![FallbackTarget::new(CLAUDE)]);
        h.transport.script(GPT, [fixture_reply(provider, name)]);
        h.transport
            .script(CLAUDE, [fixture_reply("anthropic", "text.json")]);
        let outcome = h.chat(GPT).unwrap();
        assert_eq!(h.transport.targets(), [GPT, CLAUDE], "{name}");
        assert_eq!(outcome.target, CLAUDE);
    }
}

#[test]
fn the_kinds_that_fall_back_are_configurable() {
    let h = harness(|c| {
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
        c.policy.fallback_on = vec![ErrorKind::ServerError];
        c.policy.retry.max_retries = 0;
    });
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_529.json")]);
    let error = h.chat(CLAUDE).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Overloaded);
    assert_eq!(h.transport.targets(), [CLAUDE]);
}

#[test]
fn a_fallback_repeating_the_requested_model_is_not_tried_twice() {
    let h = harness(|c| {
        c.policy.fallback = vec![
            FallbackTarget::new("claude-haiku-4-5"),
            FallbackTarget::new(GPT),
        ];
        c.policy.retry.max_retries = 0;
    });
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_500.json")]);
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    h.chat(CLAUDE).unwrap();
    assert_eq!(h.transport.targets(), [CLAUDE, GPT]);
}

#[test]
fn when_every_target_fails_the_error_tells_the_whole_story() {
    let h = harness(|c| {
        c.policy.fallback = vec![FallbackTarget::new(GPT), FallbackTarget::new(GEMINI)];
        c.policy.retry.max_retries = 1;
        c.gemini = None;
    });
    h.clock.script_random(&[0.5]);
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "error_529.json").after(120),
            fixture_reply("anthropic", "error_529.json").after(80),
        ],
    );
    h.transport.script(
        GPT,
        [fixture_reply("openai", "error_429_quota.json").after(40)],
    );
    let error = h.chat(CLAUDE).unwrap_err();
    // The kind (and status, provider) is the last error's.
    assert_eq!(error.kind(), ErrorKind::QuotaExceeded);
    assert_eq!(error.status(), Some(429));
    let quota_message = "You exceeded your current quota, please check your plan and billing \
                         details. For more information on this error, read the docs: \
                         https://platform.openai.com/docs/guides/error-codes/api-errors.";
    assert_eq!(
        error.message(),
        format!(
            "every target failed (3 attempts, 1 target skipped):\n  \
             1. anthropic/claude-haiku-4-5: overloaded, status 529, after 120 ms: Overloaded\n  \
             2. anthropic/claude-haiku-4-5, retry 1 after waiting 250 ms: overloaded, \
             status 529, after 80 ms: Overloaded\n  \
             3. openai/gpt-4o: quota_exceeded, status 429, after 40 ms: {quota_message}\n  \
             4. gemini/gemini-2.5-flash: skipped, its provider is not configured"
        )
    );
    let attempts = error.attempts();
    assert_eq!(attempts.len(), 4);
    assert_eq!((attempts[1].retry, attempts[1].waited_ms), (1, 250));
    assert_eq!(
        attempts[2].error().unwrap().kind(),
        ErrorKind::QuotaExceeded
    );
    // The structured list travels with the error's JSON.
    let json = serde_json::to_value(&error).unwrap();
    assert_eq!(json["attempts"][3]["outcome"], "skipped");
    assert_eq!(json["attempts"][0]["error"]["status"], 529);
}

// ---------------------------------------------------------------------------- streams

#[test]
fn a_stream_that_fails_before_content_falls_back_invisibly() {
    // What GPT's stream looks like on its own.
    let alone = harness(|_| {});
    alone
        .transport
        .script(GPT, [fixture_reply("openai", "text.sse")]);
    let (expected, _) = alone.stream(GPT);
    assert!(expected.error.is_none());

    let h = harness(|c| {
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
        c.policy.retry.max_retries = 0;
    });
    // Claude sends `message_start` (an id, a model, input usage) and then the connection
    // breaks before any text.
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse")
            .first_pieces(2)
            .then_fail(50)],
    );
    h.transport
        .script(GPT, [fixture_reply("openai", "text.sse")]);
    let (seen, stream) = h.stream(CLAUDE);
    assert!(seen.error.is_none());
    assert_eq!(
        seen.events, expected.events,
        "no trace of the failed attempt"
    );
    assert_eq!(stream.target(), Some(GPT));
    assert_eq!(stream.provider().map(|p| p.as_str()), Some("openai"));
    assert_eq!(stream.attempts().len(), 2);
    assert_eq!(
        stream.attempts()[0].error().unwrap().kind(),
        ErrorKind::Network
    );
    // The failed attempt's usage (Claude's message_start) is on its record for billing.
    assert_eq!(
        stream.attempts()[0].usage.and_then(|u| u.input_tokens),
        Some(14)
    );
}

#[test]
fn a_stream_that_fails_after_content_ends_with_an_error_and_is_not_retried() {
    let h = harness(|c| c.policy.fallback = vec![FallbackTarget::new(GPT)]);
    // message_start, content_block_start, ping, two text deltas, then the connection breaks.
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse")
            .first_pieces(5)
            .then_fail(10)],
    );
    let (seen, stream) = h.stream(CLAUDE);
    assert_eq!(seen.text(), "Bonjour ! Ça va très bien");
    let error = seen.error.expect("a broken stream is never a clean end");
    assert_eq!(error.kind(), ErrorKind::Network);
    assert_eq!(error.usage().and_then(|u| u.input_tokens), Some(14));
    assert_eq!(stream.usage().input_tokens, Some(14));
    assert!(!seen
        .events
        .iter()
        .any(|e| matches!(e, StreamEvent::Finish { .. })));
    assert_eq!(h.transport.targets(), [CLAUDE], "no retry, no fallback");
    assert_eq!(error.attempts().len(), 1);
    assert!(matches!(
        error.attempts()[0].outcome,
        AttemptOutcome::Failed { .. }
    ));
}

#[test]
fn a_truncated_stream_after_content_is_a_truncated_stream_error() {
    let h = harness(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "truncated.sse")]);
    let (seen, _) = h.stream(CLAUDE);
    assert!(!seen.text().is_empty());
    assert_eq!(seen.error.unwrap().kind(), ErrorKind::TruncatedStream);
    assert_eq!(h.transport.targets(), [CLAUDE]);
}

#[test]
fn an_error_answer_to_a_stream_request_falls_back_too() {
    let h = harness(|c| {
        c.policy.fallback = vec![FallbackTarget::new(GEMINI)];
        c.policy.retry.max_retries = 0;
    });
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_529.json")]);
    h.transport
        .script(GEMINI, [fixture_reply("gemini", "text.sse")]);
    let (seen, stream) = h.stream(CLAUDE);
    assert!(seen.error.is_none());
    assert!(seen.text().starts_with("The capital of France is Paris."));
    assert_eq!(stream.target(), Some(GEMINI));
}
