//! Retry: exponential backoff with full jitter, the server's requested wait in every form the
//! providers send it, the cap on that wait, and the errors that are never retried.
mod support;

use llm_edge::core::client::CallOptions;
use llm_edge::core::error::{ErrorKind, RetryAfter};
use llm_edge::core::policy::{AttemptOutcome, PolicyOverrides, RetryOverrides};
use support::*;

fn retry_delays(h: &Harness) -> Vec<u64> {
    h.events
        .of_type("retry")
        .iter()
        .map(|e| e["delayMs"].as_u64().unwrap())
        .collect()
}

fn options_with_retry(retry: RetryOverrides) -> CallOptions {
    CallOptions {
        policy: PolicyOverrides {
            retry: Some(retry),
            ..PolicyOverrides::default()
        },
        ..CallOptions::default()
    }
}

#[test]
fn a_server_error_is_retried_until_an_answer_comes() {
    let h = harness(|_| {});
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "error_500.json"),
            fixture_reply("anthropic", "error_529.json"),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(outcome.target, CLAUDE);
    assert_eq!(h.transport.targets(), [CLAUDE, CLAUDE, CLAUDE]);
    let outcomes: Vec<_> = outcome.attempts.iter().map(|a| a.retry).collect();
    assert_eq!(outcomes, [0, 1, 2]);
    assert!(matches!(
        outcome.attempts[0].outcome,
        AttemptOutcome::Failed { ref error } if error.kind() == ErrorKind::ServerError
    ));
    assert!(matches!(
        outcome.attempts[1].outcome,
        AttemptOutcome::Failed { ref error } if error.kind() == ErrorKind::Overloaded
    ));
    assert_eq!(outcome.attempts[2].outcome, AttemptOutcome::Succeeded);
    // The waits were real sleeps on the clock: each retry was sent after its delay.
    let delays = retry_delays(&h);
    assert_eq!(outcome.attempts[1].waited_ms, delays[0]);
    assert_eq!(outcome.attempts[2].waited_ms, delays[1]);
    let sent: Vec<u64> = h
        .transport
        .exchanges()
        .iter()
        .map(|e| e.sent_at_ms)
        .collect();
    assert_eq!(sent, [0, delays[0], delays[0] + delays[1]]);
}

#[test]
fn backoff_delays_stay_within_the_full_jitter_bounds_and_vary() {
    let mut all = Vec::new();
    for seed in 0..300 {
        let h = harness_seeded(seed, |c| c.policy.fallback.clear());
        h.transport.script(
            CLAUDE,
            (0..4).map(|_| fixture_reply("anthropic", "error_500.json")),
        );
        let error = h.chat(CLAUDE).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ServerError);
        let delays = retry_delays(&h);
        assert_eq!(delays.len(), 3, "3 retries by default");
        for (n, delay) in delays.iter().enumerate() {
            let ceiling = (500u64 << n).min(8_000);
            assert!(
                *delay <= ceiling,
                "seed {seed}: retry {n} waited {delay} > {ceiling}"
            );
        }
        assert_eq!(h.clock.elapsed_ms(), delays.iter().sum::<u64>());
        all.push(delays);
    }
    let firsts: Vec<u64> = all.iter().map(|d| d[0]).collect();
    let distinct: std::collections::BTreeSet<_> = firsts.iter().collect();
    assert!(distinct.len() > 100, "jitter spreads delays: {distinct:?}");
    // Full jitter uses the whole range, not just its top: some early, some late.
    assert!(firsts.iter().any(|&d| d < 100) && firsts.iter().any(|&d| d > 400));
}

#[test]
fn the_cap_and_multiplier_are_configurable() {
    let h = harness(|c| {
        c.policy.retry.base_delay_ms = 100;
        c.policy.retry.max_delay_ms = 250;
        c.policy.retry.multiplier = 3.0;
        c.policy.retry.max_retries = 4;
    });
    // Random 0.999...: each delay sits at its ceiling.
    h.clock.script_random(&[0.999_999; 4]);
    h.transport.script(
        CLAUDE,
        (0..5).map(|_| fixture_reply("anthropic", "error_500.json")),
    );
    h.chat(CLAUDE).unwrap_err();
    assert_eq!(retry_delays(&h), [100, 250, 250, 250]);
}

#[test]
fn retry_after_seconds_is_waited_exactly_plus_at_most_ten_percent() {
    let h = harness(|_| {});
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "error_429.json").header("retry-after", "2"),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    h.chat(CLAUDE).unwrap();
    let retry = &h.events.of_type("retry")[0];
    assert_eq!(retry["reason"], "server-requested");
    assert_eq!(retry["serverWaitMs"], 2_000);
    let delay = retry["delayMs"].as_u64().unwrap();
    assert!((2_000..=2_200).contains(&delay), "{delay}");
    assert_eq!(h.transport.exchanges()[1].sent_at_ms, delay);
}

#[test]
fn retry_after_as_an_http_date_is_measured_from_the_clock() {
    // The recorded header says `Wed, 12 Nov 2025 09:46:12 GMT`; the clock reads 09:46:00.
    let h = harness(|_| {});
    h.transport.script(
        GPT,
        [
            fixture_reply("openai", "error_429_http_date.json"),
            fixture_reply("openai", "text.json"),
        ],
    );
    h.chat(GPT).unwrap();
    let retry = &h.events.of_type("retry")[0];
    assert_eq!(retry["serverWaitMs"], 12_000);
    assert!(h.transport.exchanges()[1].sent_at_ms >= 12_000);
}

#[test]
fn retry_after_ms_is_preferred_to_retry_after() {
    // The recorded OpenAI 429 carries `retry-after: 1` and `retry-after-ms: 167`.
    let h = harness(|_| {});
    h.transport.script(
        GPT,
        [
            fixture_reply("openai", "error_429.json"),
            fixture_reply("openai", "text.json"),
        ],
    );
    h.chat(GPT).unwrap();
    let retry = &h.events.of_type("retry")[0];
    assert_eq!(retry["serverWaitMs"], 167);
    assert!((167..=183).contains(&retry["delayMs"].as_u64().unwrap()));
}

#[test]
fn gemini_retry_info_is_honoured_when_under_the_cap() {
    // The recorded Gemini 429 asks for 31 s in `RetryInfo`, above the default 30 s cap.
    let h = harness(|c| {
        c.policy.retry.max_server_wait_ms = 60_000;
        c.timeouts.total_ms = Some(60_000);
    });
    h.transport.script(
        GEMINI,
        [
            fixture_reply("gemini", "error_429.json"),
            fixture_reply("gemini", "text.json"),
        ],
    );
    h.chat(GEMINI).unwrap();
    let retry = &h.events.of_type("retry")[0];
    assert_eq!(retry["serverWaitMs"], 31_000);
    assert!(h.transport.exchanges()[1].sent_at_ms >= 31_000);
}

#[test]
fn a_server_wait_beyond_the_cap_fails_fast_with_the_wait_it_asked_for() {
    // A deadline long enough that only the cap stands in the way.
    let h = harness(|c| c.timeouts.total_ms = Some(120_000));
    h.transport
        .script(GEMINI, [fixture_reply("gemini", "error_429.json")]);
    let error = h.chat(GEMINI).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.retry_after(), Some(RetryAfter::Millis(31_000)));
    assert_eq!(h.clock.elapsed_ms(), 0, "no sleep");
    assert_eq!(h.transport.exchanges().len(), 1);
    assert!(h.events.of_type("retry").is_empty());
    assert_eq!(error.attempts().len(), 1);
}

#[test]
fn client_errors_auth_errors_and_quota_429s_are_sent_exactly_once() {
    for (provider, target, name, kind) in [
        (
            "anthropic",
            CLAUDE,
            "error_400.json",
            ErrorKind::InvalidRequest,
        ),
        (
            "anthropic",
            CLAUDE,
            "error_401.json",
            ErrorKind::Authentication,
        ),
        (
            "anthropic",
            CLAUDE,
            "error_429_quota.json",
            ErrorKind::QuotaExceeded,
        ),
        ("openai", GPT, "error_400.json", ErrorKind::InvalidRequest),
        ("openai", GPT, "error_401.json", ErrorKind::Authentication),
        (
            "openai",
            GPT,
            "error_429_quota.json",
            ErrorKind::QuotaExceeded,
        ),
        (
            "gemini",
            GEMINI,
            "error_429_quota.json",
            ErrorKind::QuotaExceeded,
        ),
    ] {
        let h = harness(|_| {});
        h.transport.script(target, [fixture_reply(provider, name)]);
        let error = h.chat(target).unwrap_err();
        assert_eq!(error.kind(), kind, "{provider} {name}");
        assert_eq!(h.transport.exchanges().len(), 1, "{provider} {name}");
        assert_eq!(h.clock.elapsed_ms(), 0);
    }
}

#[test]
fn a_call_can_turn_retries_off() {
    let h = harness(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_529.json")]);
    let error = h
        .chat_with(
            request(CLAUDE),
            options_with_retry(RetryOverrides {
                max_retries: Some(0),
                ..RetryOverrides::default()
            }),
        )
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Overloaded);
    assert_eq!(h.transport.exchanges().len(), 1);
}

#[test]
fn a_retry_whose_wait_would_pass_the_deadline_is_not_attempted() {
    let h = harness(|c| c.timeouts.total_ms = Some(3_000));
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "error_429.json").header("retry-after", "5")],
    );
    let error = h.chat(CLAUDE).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(h.clock.elapsed_ms(), 0, "no pointless wait");
    assert_eq!(h.transport.exchanges().len(), 1);
}

#[test]
fn an_http_date_already_past_backs_off_instead_of_retrying_at_once() {
    let h = harness(|_| {});
    h.clock.script_random(&[0.5]);
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "error_429.json")
                .header("retry-after", "Wed, 12 Nov 2025 09:45:00 GMT"),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    h.chat(CLAUDE).unwrap();
    let retry = &h.events.of_type("retry")[0];
    assert_eq!(retry["reason"], "backoff");
    assert_eq!(retry["delayMs"], 250);
}
