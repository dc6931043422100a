//! Hedging: a slow attempt gets a second target raced alongside it; the first to produce
//! content wins and the other is cancelled (and its usage so far reported).
mod support;

use llm_edge::core::client::ClientConfig;
use llm_edge::core::policy::{AttemptOutcome, FallbackTarget, HedgeConfig};
use support::*;

fn hedged(after_ms: u64) -> impl FnOnce(&mut ClientConfig) {
    move |c| {
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
        c.policy.hedge = Some(HedgeConfig { after_ms });
    }
}

#[test]
fn a_slow_primary_is_hedged_and_the_faster_hedge_wins() {
    let h = harness(hedged(1_000));
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.json").after(5_000)],
    );
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json").after(200)]);
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(outcome.target, GPT);
    assert_eq!(h.clock.elapsed_ms(), 1_200);
    let exchanges = h.transport.exchanges();
    assert_eq!(exchanges[1].sent_at_ms, 1_000);
    assert_eq!(
        exchanges[0].fate(),
        Fate::Dropped { at_ms: 1_200 },
        "primary aborted"
    );
    assert_eq!(exchanges[1].fate(), Fate::Finished);
    let start = &h.events.of_type("hedge-start")[0];
    assert_eq!(
        (&start["primary"], &start["target"], &start["afterMs"]),
        (&CLAUDE.into(), &GPT.into(), &1_000.into())
    );
    let win = &h.events.of_type("hedge-win")[0];
    assert_eq!(
        (&win["winner"], &win["loser"]),
        (&GPT.into(), &CLAUDE.into())
    );
    assert_eq!(
        win["loserUsage"],
        serde_json::Value::Null,
        "a whole response reports nothing early"
    );
    assert_eq!(outcome.attempts[0].outcome, AttemptOutcome::Abandoned);
    assert_eq!(outcome.attempts[0].duration_ms, 1_200);
    assert_eq!(outcome.attempts[1].outcome, AttemptOutcome::Succeeded);
    assert!(outcome.attempts[1].hedge);
}

#[test]
fn a_primary_that_answers_in_time_is_not_hedged() {
    let h = harness(hedged(1_000));
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json").after(999)]);
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(outcome.target, CLAUDE);
    assert_eq!(h.transport.targets(), [CLAUDE]);
    assert!(h.events.of_type("hedge-start").is_empty());
    assert_eq!(h.clock.pending_timers(), 0, "the hedge timer was cleared");
}

#[test]
fn the_primary_can_still_win_after_the_hedge_started() {
    let h = harness(hedged(1_000));
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.json").after(1_500)],
    );
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json").after(2_000)]);
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(outcome.target, CLAUDE);
    assert_eq!(
        h.transport.exchanges()[1].fate(),
        Fate::Dropped { at_ms: 1_500 }
    );
    let win = &h.events.of_type("hedge-win")[0];
    assert_eq!(
        (&win["winner"], &win["loser"]),
        (&CLAUDE.into(), &GPT.into())
    );
}

#[test]
fn when_the_hedge_fails_the_primary_carries_on_alone() {
    let h = harness(hedged(1_000));
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.json").after(3_000)],
    );
    h.transport
        .script(GPT, [fixture_reply("openai", "error_500.json").after(100)]);
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(outcome.target, CLAUDE);
    assert_eq!(h.clock.elapsed_ms(), 3_000);
    assert_eq!(
        h.transport.targets(),
        [CLAUDE, GPT],
        "no retry of the failed hedge"
    );
    assert!(h.events.of_type("hedge-win").is_empty());
    assert!(matches!(
        outcome.attempts[1].outcome,
        AttemptOutcome::Failed { .. }
    ));
}

#[test]
fn a_streamed_race_is_won_by_first_content_and_the_loser_is_billed() {
    let h = harness(hedged(1_000));
    // Claude accepts at once (message_start reports 14 input tokens) but stalls before text.
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse").pause_before(1, 10_000)],
    );
    h.transport
        .script(GPT, [fixture_reply("openai", "text.sse").after(300)]);
    let (seen, stream) = h.stream(CLAUDE);
    assert!(seen.error.is_none());
    assert_eq!(stream.target(), Some(GPT));
    assert!(!seen.text().is_empty());
    let win = &h.events.of_type("hedge-win")[0];
    assert_eq!(win["winner"], GPT);
    assert_eq!(win["loserUsage"]["inputTokens"], 14);
    assert_eq!(
        stream.attempts()[0].usage.and_then(|u| u.input_tokens),
        Some(14)
    );
    assert_eq!(
        h.transport.exchanges()[0].fate(),
        Fate::Dropped { at_ms: 1_300 }
    );
}

#[test]
fn hedging_zero_ms_races_both_targets_from_the_start() {
    let h = harness(hedged(0));
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json").after(700)]);
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json").after(400)]);
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(outcome.target, GPT);
    assert_eq!(h.transport.exchanges()[1].sent_at_ms, 0);
}
