//! Deadlines: first token, idle between chunks, the call's total deadline across attempts and
//! backoff sleeps, and a caller's abort (dropping the call) in the middle of a backoff sleep.
mod support;

use llm_edge::core::client::{CallOptions, Timeouts};
use llm_edge::core::error::{ErrorKind, TimeoutKind};
use llm_edge::core::policy::FallbackTarget;
use support::*;

fn timeouts(total: Option<u64>, first_token: Option<u64>, idle: Option<u64>) -> Timeouts {
    Timeouts {
        total_ms: total,
        first_token_ms: first_token,
        idle_ms: idle,
    }
}

#[test]
fn a_first_token_timeout_cancels_the_attempt_and_is_retried() {
    let h = harness(|c| c.timeouts = timeouts(Some(30_000), Some(1_000), None));
    h.clock.script_random(&[0.0]);
    h.transport.script(
        CLAUDE,
        [Reply::hang(), fixture_reply("anthropic", "text.sse")],
    );
    let (seen, stream) = h.stream(CLAUDE);
    assert!(seen.error.is_none());
    assert_eq!(
        seen.text(),
        "Bonjour ! Ça va très bien, merci. Et vous ? 🌤️"
    );
    let first = stream.attempts()[0].error().unwrap();
    assert_eq!(first.timeout_kind(), Some(TimeoutKind::FirstToken));
    assert_eq!(
        h.transport.exchanges()[0].fate(),
        Fate::Dropped { at_ms: 1_000 }
    );
}

#[test]
fn the_first_token_deadline_counts_until_content_not_until_headers() {
    // Headers and `message_start` come at once, then nothing for 2 s before the first text.
    let h = harness(|c| {
        c.timeouts = timeouts(Some(30_000), Some(1_000), None);
        c.policy.retry.max_retries = 0;
    });
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse").pause_before(1, 2_000)],
    );
    let (seen, _) = h.stream(CLAUDE);
    let error = seen.error.unwrap();
    assert_eq!(error.timeout_kind(), Some(TimeoutKind::FirstToken));
    assert!(
        seen.events.is_empty(),
        "nothing was committed to the caller"
    );
    assert_eq!(h.clock.elapsed_ms(), 1_000);
}

#[test]
fn an_idle_stream_after_content_ends_with_an_idle_timeout_and_no_retry() {
    let h = harness(|c| {
        c.timeouts = timeouts(Some(30_000), None, Some(500));
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
    });
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse")
            .first_pieces(4)
            .then_hang()],
    );
    let (seen, stream) = h.stream(CLAUDE);
    assert_eq!(seen.text(), "Bonjour !");
    let error = seen.error.unwrap();
    assert_eq!(error.timeout_kind(), Some(TimeoutKind::Idle));
    assert_eq!(error.usage().and_then(|u| u.input_tokens), Some(14));
    assert_eq!(stream.usage().input_tokens, Some(14));
    assert_eq!(h.transport.targets(), [CLAUDE]);
    assert_eq!(
        h.transport.exchanges()[0].fate(),
        Fate::Dropped { at_ms: 500 }
    );
}

#[test]
fn an_idle_stream_before_content_is_retried_invisibly() {
    let h = harness(|c| c.timeouts = timeouts(Some(30_000), None, Some(500)));
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.sse")
                .first_pieces(2)
                .then_hang(),
            fixture_reply("anthropic", "text.sse"),
        ],
    );
    let (seen, stream) = h.stream(CLAUDE);
    assert!(seen.error.is_none());
    let starts = seen
        .events
        .iter()
        .filter(|e| matches!(e, llm_edge::core::event::StreamEvent::Start { .. }))
        .count();
    assert_eq!(
        starts, 1,
        "the failed attempt's start event never reached the caller"
    );
    assert_eq!(
        stream.attempts()[0].error().unwrap().timeout_kind(),
        Some(TimeoutKind::Idle)
    );
}

#[test]
fn the_total_deadline_spans_attempts_and_backoff_sleeps() {
    let h = harness(|c| {
        c.timeouts = timeouts(Some(2_000), None, None);
        c.policy.retry.max_retries = 10;
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
    });
    // Attempt 1 fails after 300 ms; after its backoff, attempt 2 never answers.
    h.clock.script_random(&[0.5]);
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "error_500.json").after(300),
            Reply::hang(),
        ],
    );
    let error = h.chat(CLAUDE).unwrap_err();
    assert_eq!(error.timeout_kind(), Some(TimeoutKind::Total));
    assert_eq!(h.clock.elapsed_ms(), 2_000);
    assert_eq!(h.transport.exchanges()[1].sent_at_ms, 550);
    assert_eq!(
        h.transport.exchanges()[1].fate(),
        Fate::Dropped { at_ms: 2_000 }
    );
    assert_eq!(
        h.transport.targets(),
        [CLAUDE, CLAUDE],
        "the total deadline ends the call"
    );
    assert!(error
        .message()
        .starts_with("the call's total deadline passed (2 attempts):"));
    assert_eq!(h.clock.pending_timers(), 0);
}

#[test]
fn retries_stop_before_a_backoff_that_would_outlast_the_deadline() {
    let h = harness(|c| {
        c.timeouts = timeouts(Some(2_000), None, None);
        c.policy.retry.max_retries = 10;
    });
    // Each attempt fails after 300 ms; delays near their ceilings: 500, then 999 (too long).
    h.clock.script_random(&[0.999, 0.999]);
    h.transport.script(
        CLAUDE,
        (0..3).map(|_| fixture_reply("anthropic", "error_500.json").after(300)),
    );
    let error = h.chat(CLAUDE).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ServerError);
    assert_eq!(h.transport.exchanges().len(), 2);
    assert_eq!(h.clock.elapsed_ms(), 300 + 500 + 300);
    assert!(
        error
            .message()
            .ends_with("anthropic/claude-haiku-4-5 was not retried: waiting 999 ms would pass the call's deadline"),
        "{}",
        error.message()
    );
}

#[test]
fn a_whole_response_first_token_timeout_falls_back() {
    let h = harness(|c| {
        c.timeouts = timeouts(Some(30_000), Some(1_000), None);
        c.policy.retry.max_retries = 0;
        c.policy.fallback = vec![FallbackTarget::new(GEMINI)];
    });
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.json").after(5_000)],
    );
    h.transport
        .script(GEMINI, [fixture_reply("gemini", "text.json")]);
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(outcome.target, GEMINI);
    assert_eq!(h.clock.elapsed_ms(), 1_000);
    assert_eq!(h.events.of_type("fallback")[0]["reason"], "timeout");
}

#[test]
fn a_call_can_change_its_deadlines() {
    let h = harness(|_| {});
    h.transport.script(CLAUDE, [Reply::hang()]);
    let options = CallOptions {
        timeouts: Some(timeouts(Some(750), None, None)),
        ..CallOptions::default()
    };
    let error = h.chat_with(request(CLAUDE), options).unwrap_err();
    assert_eq!(error.timeout_kind(), Some(TimeoutKind::Total));
    assert_eq!(h.clock.elapsed_ms(), 750);
}

#[test]
fn aborting_during_a_backoff_sleep_cancels_the_sleep_and_nothing_else_runs() {
    let h = harness(|_| {});
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "error_529.json"),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    let request = request(CLAUDE);
    let options = CallOptions::default();
    let mut call = Task::new(&h.clock, h.client.chat(&request, &options));
    assert!(!call.run_until_stalled());
    assert_eq!(
        h.events.types(),
        ["attempt-start", "attempt-failed", "retry"]
    );
    // Between attempts no deadline timer runs: the backoff sleep is the only timer.
    assert_eq!(h.clock.pending_timers(), 1, "the backoff sleep");
    drop(call);
    assert_eq!(h.clock.pending_timers(), 0, "the sleep's timer was cleared");
    h.clock.advance(60_000);
    assert_eq!(h.transport.exchanges().len(), 1, "no retry after the abort");
    assert_eq!(h.events.types().len(), 3, "no event after the abort");
}

#[test]
fn aborting_a_stream_mid_attempt_drops_its_request() {
    let h = harness(|_| {});
    h.transport.script(CLAUDE, [Reply::hang()]);
    let mut stream = h.client.stream(request(CLAUDE), CallOptions::default());
    {
        let mut pending = Task::new(&h.clock, stream.next());
        assert!(!pending.run_for(5_000));
    }
    assert_eq!(
        h.transport.exchanges()[0].fate(),
        Fate::Waiting,
        "resumable"
    );
    drop(stream);
    assert!(matches!(
        h.transport.exchanges()[0].fate(),
        Fate::Dropped { .. }
    ));
    assert_eq!(h.clock.pending_timers(), 0);
}

#[test]
fn a_pending_next_dropped_before_commit_resumes_where_it_was() {
    let h = harness(|_| {});
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse").after(3_000)],
    );
    let mut stream = h.client.stream(request(CLAUDE), CallOptions::default());
    {
        let mut pending = Task::new(&h.clock, stream.next());
        assert!(!pending.run_for(1_000));
    }
    let streamed = run(&h.clock, drain(&mut stream));
    assert!(streamed.error.is_none());
    assert_eq!(
        h.transport.exchanges().len(),
        1,
        "the same attempt continued"
    );
    assert_eq!(h.clock.elapsed_ms(), 3_000);
}
