//! Push mode: once a stream has committed, the host reads the body itself and pushes what it
//! read. Whatever the chunking, the caller must see exactly what pulling would have given:
//! the same events, the same failure, the same usage, attempts and cost.
mod support;

use llm_edge::core::client::{CallOptions, ChatStream, Timeouts};
use llm_edge::core::error::{Error, ErrorKind, TimeoutKind};
use llm_edge::core::event::StreamEvent;
use llm_edge::core::runtime::ResponseBody;
use support::*;

type Stream = ChatStream<ScriptedTransport, FakeClock>;

/// A stream past its first event, in push mode, with the rest of its body read out.
fn pushed(h: &Harness, model: &str) -> (Vec<StreamEvent>, Stream, Vec<u8>) {
    let mut stream = h.client.stream(request(model), CallOptions::default());
    let first = run(&h.clock, stream.next())
        .expect("an event")
        .expect("no error");
    let mut body = stream.take_body().expect("a committed stream has a body");
    let rest = run(&h.clock, body.read_to_end()).expect("the scripted body reads");
    (vec![first], stream, rest)
}

fn drain_pushed(stream: &mut Stream, seen: &mut Streamed) {
    while let Some(item) = stream.next_pushed() {
        match item {
            Ok(event) => seen.events.push(event),
            Err(error) => seen.error = Some(error),
        }
    }
}

/// Pushes `rest` cut at `cuts`, then the end (or `failure`), and returns what the caller saw.
fn push_split(
    stream: &mut Stream,
    first: Vec<StreamEvent>,
    rest: &[u8],
    cuts: &[usize],
    failure: Option<Error>,
) -> Streamed {
    let mut seen = Streamed {
        events: first,
        error: None,
    };
    let mut from = 0;
    for &cut in cuts.iter().chain([&rest.len()]) {
        stream.push_chunk(&rest[from..cut]);
        drain_pushed(stream, &mut seen);
        from = cut;
    }
    match failure {
        Some(error) => stream.push_failure(error),
        None => stream.push_end(),
    }
    drain_pushed(stream, &mut seen);
    seen
}

fn assert_same(pulled: &(Streamed, Stream), pushed: &(Streamed, &Stream), case: &str) {
    let (pulled_seen, pulled_stream) = pulled;
    let (pushed_seen, pushed_stream) = pushed;
    assert_eq!(pushed_seen.events, pulled_seen.events, "{case}: events");
    assert_eq!(
        pushed_seen
            .error
            .as_ref()
            .map(|e| (e.kind(), e.to_string())),
        pulled_seen
            .error
            .as_ref()
            .map(|e| (e.kind(), e.to_string())),
        "{case}: error"
    );
    assert_eq!(
        pushed_stream.usage(),
        pulled_stream.usage(),
        "{case}: usage"
    );
    assert_eq!(
        pushed_stream.attempts().len(),
        pulled_stream.attempts().len(),
        "{case}: attempts"
    );
    assert_eq!(
        pushed_stream.cost().map(|c| (c.total_usd(), c.estimated)),
        pulled_stream.cost().map(|c| (c.total_usd(), c.estimated)),
        "{case}: cost"
    );
}

#[test]
fn pushed_chunks_split_at_every_byte_decode_as_pulling_does() {
    // Every single cut point for the smaller fixtures (quadratic); every byte a chunk of its
    // own for all of them.
    for (provider, model, case, every_cut) in [
        ("anthropic", CLAUDE, "text.sse", true),
        ("anthropic", CLAUDE, "tool_call.sse", true),
        ("anthropic", CLAUDE, "in_stream_error.sse", true),
        ("openai", GPT, "text.sse", true),
        ("openai", GPT, "tool_call.sse", false),
        ("openai", GPT, "reasoning.sse", false),
        ("gemini", GEMINI, "text.sse", true),
        ("gemini", GEMINI, "tool_call.sse", true),
    ] {
        let h = harness(|_| {});
        h.transport.script(model, [fixture_reply(provider, case)]);
        let pulled = h.stream(model);
        let rest_len = {
            let h = harness(|_| {});
            h.transport.script(model, [fixture_reply(provider, case)]);
            pushed(&h, model).2.len()
        };
        let mut splits: Vec<Vec<usize>> = match every_cut {
            true => (0..=rest_len).map(|cut| vec![cut]).collect(),
            false => vec![vec![rest_len / 2]],
        };
        splits.push((1..rest_len).collect());
        for cuts in splits {
            let h = harness(|_| {});
            h.transport.script(model, [fixture_reply(provider, case)]);
            let (first, mut stream, rest) = pushed(&h, model);
            let seen = push_split(&mut stream, first, &rest, &cuts, None);
            let label = format!("{provider}/{case} cut at {:?}", &cuts[..cuts.len().min(3)]);
            assert_same(&pulled, &(seen, &stream), &label);
            assert!(
                stream.next_pushed().is_none(),
                "{label}: nothing after the end"
            );
        }
    }
}

#[test]
fn a_broken_body_ends_with_a_network_error_carrying_the_usage_and_an_estimated_cost() {
    let h = harness(|c| c.policy.retry.max_retries = 0);
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse").first_pieces(4)],
    );
    let (first, mut stream, rest) = pushed(&h, CLAUDE);
    let broken = Error::new(ErrorKind::Network, "the connection broke");
    let seen = push_split(&mut stream, first, &rest, &[], Some(broken));
    assert_eq!(seen.text(), "Bonjour !");
    let error = seen.error.expect("the failure reaches the caller");
    assert_eq!(error.kind(), ErrorKind::Network);
    assert_eq!(error.usage().and_then(|u| u.input_tokens), Some(14));
    assert!(stream.attempts()[0].error().is_some(), "the attempt failed");
    assert!(stream.cost().expect("a cut stream is costed").estimated);
    // Nothing more is decoded once the stream has failed.
    stream.push_chunk(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
    assert!(stream.next_pushed().is_none());
}

#[test]
fn a_silent_pushed_stream_times_out_at_its_idle_deadline() {
    let h = harness(|c| {
        c.timeouts = Timeouts {
            total_ms: Some(30_000),
            first_token_ms: None,
            idle_ms: Some(500),
        }
    });
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.sse")]);
    let (first, mut stream, rest) = pushed(&h, CLAUDE);
    let mut seen = Streamed {
        events: first,
        error: None,
    };
    let started = h.clock.elapsed_ms();
    assert_eq!(
        stream.push_deadline_ms(),
        Some(START_MS + started + 500),
        "idle comes before total"
    );
    stream.push_chunk(&rest[..10]);
    h.clock.advance(300);
    assert_eq!(stream.push_deadline_ms(), Some(START_MS + started + 500));
    stream.push_chunk(&rest[10..20]);
    assert_eq!(
        stream.push_deadline_ms(),
        Some(START_MS + started + 800),
        "a chunk moves the idle deadline"
    );
    h.clock.advance(499);
    assert!(!stream.push_check_deadline(), "not yet");
    h.clock.advance(1);
    assert!(stream.push_check_deadline());
    drain_pushed(&mut stream, &mut seen);
    let error = seen.error.expect("the timeout reaches the caller");
    assert_eq!(error.timeout_kind(), Some(TimeoutKind::Idle));
    assert_eq!(stream.push_deadline_ms(), None, "the stream has ended");
    assert!(!stream.push_check_deadline());
}

#[test]
fn there_is_no_body_to_take_before_the_stream_commits_or_once_it_ended() {
    let h = harness(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.sse")]);
    let mut stream = h.client.stream(request(CLAUDE), CallOptions::default());
    assert!(stream.take_body().is_none(), "not started");
    let (_, mut ended) = h.stream(CLAUDE);
    assert!(ended.take_body().is_none(), "ended");
}
