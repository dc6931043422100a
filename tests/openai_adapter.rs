//! Replays the OpenAI Chat Completions fixtures (`tests/fixtures/openai/`) through the adapter,
//! whole and streamed, and checks the unified output field by field.
//!
//! Fixture files: `<case>.json` is a whole 2xx body, `<case>.sse` the same answer streamed,
//! `error_<status>*.json` (or `.html`) an error body with its response headers in
//! `<name>.headers` (`name: value` lines).
use std::path::PathBuf;

use llm_edge::core::error::{Error, ErrorKind, RetryAfter};
use llm_edge::core::event::{ResponseAssembler, StreamEvent};
use llm_edge::core::http::{Headers, HttpResponse};
use llm_edge::core::model::{ContentPart, FinishKind, FinishReason, Provider, Response, Usage};
use llm_edge::core::provider::{self, StreamParser};
use serde_json::{json, Value};

const P: Provider = Provider::OpenAi;
const REQUEST_ID: &str = "req_a1b2c3d4e5f60718293a4b5c6d7e8f90";

// ------------------------------------------------------------------------------ helpers

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openai")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The response headers recorded beside an error fixture.
fn recorded_headers(name: &str) -> Headers {
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let text = String::from_utf8(fixture(&format!("{stem}.headers"))).unwrap();
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a `name: value` line");
            (name.trim().to_string(), value.trim().to_string())
        })
        .collect()
}

fn success(body: Vec<u8>) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: [
            ("content-type", "application/json"),
            ("x-request-id", REQUEST_ID),
        ]
        .into_iter()
        .collect(),
        body,
    }
}

fn decode_whole(name: &str) -> Response {
    provider::decode(P, &success(fixture(&format!("{name}.json"))))
        .unwrap_or_else(|e| panic!("{name}.json: {e}"))
}

/// Feeds `bytes` in chunks of `size` (all at once when `None`), then finishes.
fn run_stream(bytes: &[u8], size: Option<usize>) -> (Vec<StreamEvent>, Result<(), Error>) {
    let mut parser = StreamParser::new(P);
    let mut events = Vec::new();
    for chunk in bytes.chunks(size.unwrap_or(bytes.len().max(1))) {
        if let Err(e) = parser.feed(chunk, &mut events) {
            return (events, Err(e));
        }
    }
    let result = parser.finish(&mut events);
    (events, result)
}

/// A stream fixture's events, checked to be identical whatever the chunking.
fn stream_events(name: &str) -> (Vec<StreamEvent>, Result<(), Error>) {
    let bytes = fixture(name);
    let whole = run_stream(&bytes, None);
    for size in [1, 7, 64] {
        assert_eq!(
            run_stream(&bytes, Some(size)),
            whole,
            "{name} fed in chunks of {size} bytes"
        );
    }
    whole
}

fn assemble(events: &[StreamEvent]) -> Response {
    let mut assembler = ResponseAssembler::new(P, "requested-model");
    assembler.set_request_id(Some(REQUEST_ID.to_string()));
    for event in events {
        assembler.push(event);
    }
    assert!(assembler.is_finished());
    assembler.into_response()
}

/// The streamed response of `<name>.sse`, after checking the event sequence's shape: `Start`
/// first, exactly one `Finish`, last.
fn decode_streamed(name: &str) -> (Response, Vec<StreamEvent>) {
    let (events, result) = stream_events(&format!("{name}.sse"));
    result.unwrap_or_else(|e| panic!("{name}.sse: {e}"));
    assert!(
        matches!(events.first(), Some(StreamEvent::Start { .. })),
        "{name}: {:?}",
        events.first()
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::Finish { .. }))
            .count(),
        1,
        "{name}"
    );
    assert!(
        matches!(events.last(), Some(StreamEvent::Finish { .. })),
        "{name}"
    );
    (assemble(&events), events)
}

/// Decodes `<name>.json` and `<name>.sse`, checks they agree, returns the whole one.
fn decode_both(name: &str) -> (Response, Vec<StreamEvent>) {
    let whole = decode_whole(name);
    let (streamed, events) = decode_streamed(name);
    assert_eq!(
        streamed, whole,
        "{name}: streamed and whole responses differ"
    );
    (whole, events)
}

fn usage(
    input: Option<u64>,
    cache_read: Option<u64>,
    output: Option<u64>,
    reasoning: Option<u64>,
) -> Usage {
    Usage {
        input_tokens: input,
        cache_read_tokens: cache_read,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        output_tokens: output,
        reasoning_tokens: reasoning,
    }
}

fn text_deltas(events: &[StreamEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn arguments_streamed(events: &[StreamEvent], index: u32) -> (usize, String) {
    let pieces: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallDelta {
                index: i,
                arguments_delta,
            } if *i == index => Some(arguments_delta.as_str()),
            _ => None,
        })
        .collect();
    (pieces.len(), pieces.concat())
}

fn finish_event(events: &[StreamEvent]) -> (&FinishReason, &Usage) {
    match events.last() {
        Some(StreamEvent::Finish { reason, usage }) => (reason, usage),
        other => panic!("last event is not Finish: {other:?}"),
    }
}

// ------------------------------------------------------------------------- successes

#[test]
fn text() {
    let (r, events) = decode_both("text");
    assert_eq!(
        r.id.as_deref(),
        Some("chatcmpl-C3xJ8nQm2VwP5yLk7TbR0sDfH9aZe")
    );
    assert_eq!(r.provider, Provider::OpenAi);
    assert_eq!(r.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(
        r.content,
        [ContentPart::text("Hello! How can I help you today?")]
    );
    assert_eq!(r.text(), "Hello! How can I help you today?");
    assert_eq!(r.finish_reason, FinishReason::new(FinishKind::Stop, "stop"));
    // OpenAI reports zero cached and zero reasoning tokens: kept as zeros, not dropped.
    assert_eq!(r.usage, usage(Some(19), Some(0), Some(10), Some(0)));
    assert_eq!(r.usage.total_tokens(), Some(29));
    assert_eq!(r.request_id.as_deref(), Some(REQUEST_ID));
    assert!(r.warnings.is_empty());

    assert_eq!(
        events[0],
        StreamEvent::Start {
            id: Some("chatcmpl-C3xJ8nQm2VwP5yLk7TbR0sDfH9aZe".into()),
            model: Some("gpt-4o-mini-2024-07-18".into()),
        }
    );
    // The role chunk's empty content is not a delta.
    assert_eq!(
        text_deltas(&events),
        ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]
    );
    let n = events.len();
    assert_eq!(events[n - 2], StreamEvent::Usage { usage: r.usage });
    assert_eq!(
        finish_event(&events),
        (&FinishReason::new(FinishKind::Stop, "stop"), &r.usage)
    );
}

#[test]
fn multi_block_text_and_two_tool_calls() {
    let (r, events) = decode_both("multi_block");
    assert_eq!(
        r.id.as_deref(),
        Some("chatcmpl-C3xLq4HbN8eWv1ZtK6yJ3mRcP0sUa")
    );
    assert_eq!(r.model, "gpt-4.1-2025-04-14");
    assert_eq!(
        r.content,
        [
            ContentPart::text("I'll check the weather in both cities."),
            ContentPart::ToolCall {
                id: "call_Vq8bT2nLxR5kW9mJ3cYh6pZd".into(),
                name: "get_weather".into(),
                arguments: json!({"city": "Paris", "unit": "celsius"}),
                signature: None,
            },
            ContentPart::ToolCall {
                id: "call_H4sNf7gQ1uE2aK8vB5rX0oTm".into(),
                name: "get_weather".into(),
                arguments: json!({"city": "Oslo", "unit": "celsius"}),
                signature: None,
            },
        ]
    );
    let calls = r.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].arguments["city"], "Oslo");
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::ToolCalls, "tool_calls")
    );
    assert_eq!(r.usage, usage(Some(142), Some(0), Some(71), Some(0)));
    assert_eq!(r.request_id.as_deref(), Some(REQUEST_ID));

    // Starts and ends carry stable indices; ends come in index order when the finish arrives.
    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallStart { index, id, name } => {
                Some((*index, id.as_str(), name.as_str()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        [
            (0, "call_Vq8bT2nLxR5kW9mJ3cYh6pZd", "get_weather"),
            (1, "call_H4sNf7gQ1uE2aK8vB5rX0oTm", "get_weather")
        ]
    );
    assert_eq!(
        arguments_streamed(&events, 0),
        (9, r#"{"city":"Paris","unit":"celsius"}"#.to_string())
    );
    assert_eq!(
        arguments_streamed(&events, 1),
        (9, r#"{"city":"Oslo","unit":"celsius"}"#.to_string())
    );
    let ends: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallEnd {
                index, signature, ..
            } => {
                assert_eq!(*signature, None);
                Some(*index)
            }
            _ => None,
        })
        .collect();
    assert_eq!(ends, [0, 1]);
}

#[test]
fn tool_call_with_arguments_in_many_fragments() {
    let (r, events) = decode_both("tool_call");
    let arguments = json!({
        "origin": "SFO", "destination": "NRT", "date": "2025-11-03", "passengers": 2, "cabin": "economy"
    });
    assert_eq!(
        r.content,
        [ContentPart::ToolCall {
            id: "call_Zp3mK7wQ2xN9vB4tR8yH1sLc".into(),
            name: "search_flights".into(),
            arguments: arguments.clone(),
            signature: None,
        }]
    );
    assert_eq!(r.text(), "");
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::ToolCalls, "tool_calls")
    );
    assert_eq!(r.usage, usage(Some(87), Some(0), Some(33), Some(0)));
    assert_eq!(r.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(
        r.id.as_deref(),
        Some("chatcmpl-C3xNd1YgT6bQ9wJ2kP7sV4hLmE8rZ")
    );

    assert!(text_deltas(&events).is_empty());
    let (fragments, joined) = arguments_streamed(&events, 0);
    assert_eq!(fragments, 26);
    assert_eq!(serde_json::from_str::<Value>(&joined).unwrap(), arguments);
    let end = events
        .iter()
        .position(|e| matches!(e, StreamEvent::ToolCallEnd { .. }))
        .unwrap();
    assert_eq!(
        events[end],
        StreamEvent::ToolCallEnd {
            index: 0,
            id: "call_Zp3mK7wQ2xN9vB4tR8yH1sLc".into(),
            name: "search_flights".into(),
            arguments,
            signature: None,
        }
    );
    // The end comes with the finish reason, before the usage chunk.
    assert!(
        matches!(events[end + 1], StreamEvent::Usage { .. }),
        "{:?}",
        events[end + 1]
    );
}

#[test]
fn cached_usage_subtracts_cached_tokens_from_the_prompt() {
    let (r, events) = decode_both("cached_usage");
    assert_eq!(r.model, "o4-mini-2025-04-16");
    assert_eq!(
        r.text(),
        "Clause 7.2 caps liability at the fees paid in the prior 12 months."
    );
    assert_eq!(r.finish_reason, FinishReason::new(FinishKind::Stop, "stop"));
    // prompt_tokens 2306 includes 2048 cached; completion 518 includes 448 reasoning.
    assert_eq!(r.usage, usage(Some(258), Some(2048), Some(518), Some(448)));
    assert_eq!(r.usage.cache_write_5m_tokens, None);
    assert_eq!(r.usage.cache_write_1h_tokens, None);
    assert_eq!(r.usage.total_input_tokens(), Some(2306));
    assert_eq!(r.usage.total_tokens(), Some(2824));
    assert_eq!(finish_event(&events).1, &r.usage);
}

#[test]
fn max_tokens_without_usage_details_leaves_them_unknown() {
    let (r, _) = decode_both("max_tokens");
    assert_eq!(r.model, "gpt-3.5-turbo-0125");
    assert_eq!(
        r.id.as_deref(),
        Some("chatcmpl-9Kq2vXbT7mR4nW8yL1sE5hJdC3aZp")
    );
    assert_eq!(
        r.text(),
        "The history of Rome spans more than two and a half thousand years, beginning"
    );
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::Length, "length")
    );
    assert_eq!(r.usage, usage(Some(25), None, Some(16), None));
}

#[test]
fn refusal_is_text_with_a_content_filter_finish() {
    let (r, events) = decode_both("refusal");
    assert_eq!(
        r.content,
        [ContentPart::text(
            "I'm sorry, but I can't assist with that request."
        )]
    );
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::ContentFilter, "stop")
    );
    assert_eq!(r.usage, usage(Some(112), Some(0), Some(11), Some(0)));
    assert_eq!(r.model, "gpt-4o-2024-08-06");
    assert_eq!(text_deltas(&events).len(), 11);
}

#[test]
fn reasoning_content_of_compatible_servers() {
    let (r, events) = decode_both("reasoning");
    assert_eq!(
        r.id.as_deref(),
        Some("8f2c6a1e-3b7d-4f90-a5c2-9d1e4b6f8a03")
    );
    assert_eq!(r.model, "deepseek-reasoner");
    assert_eq!(
        r.content,
        [
            ContentPart::Reasoning {
                text: "The user asks for 17 times 23. 17 × 20 = 340, 17 × 3 = 51, so 391.".into(),
                signature: None,
            },
            ContentPart::text("17 × 23 = **391**."),
        ]
    );
    assert_eq!(r.finish_reason, FinishReason::new(FinishKind::Stop, "stop"));
    assert_eq!(r.usage, usage(Some(18), Some(0), Some(61), Some(49)));
    let reasoning = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ReasoningDelta { .. }))
        .count();
    assert_eq!(reasoning, 23);
    // This server puts the usage on the finish chunk itself.
    let n = events.len();
    assert_eq!(events[n - 2], StreamEvent::Usage { usage: r.usage });
}

#[test]
fn every_stream_fixture_is_independent_of_chunking() {
    let mut seen = 0;
    for entry in std::fs::read_dir(path("")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".sse") {
            let (events, result) = stream_events(&name);
            // Every fixture starts the message; only the broken ones fail.
            assert!(
                matches!(events.first(), Some(StreamEvent::Start { .. })),
                "{name}"
            );
            let broken = name.starts_with("in_stream_error") || name.starts_with("truncated");
            assert_eq!(result.is_err(), broken, "{name}: {result:?}");
            seen += 1;
        }
    }
    assert!(seen >= 9, "{seen} stream fixtures");
}

// --------------------------------------------------------------------- broken streams

#[test]
fn in_stream_error_comes_after_the_text_already_delivered() {
    let (events, result) = stream_events("in_stream_error.sse");
    assert_eq!(
        events[0],
        StreamEvent::Start {
            id: Some("chatcmpl-C3xTb8NdX3qP6wK9vR2mJ5hYe7sLc".into()),
            model: Some("gpt-4o-mini-2024-07-18".into()),
        }
    );
    assert_eq!(events.len(), 5, "{events:?}");
    assert_eq!(text_deltas(&events), ["Once", " upon", " a", " time"]);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.provider(), Some(Provider::OpenAi));
    assert_eq!(err.provider_code(), Some("server_error"));
    assert_eq!(
        err.message(),
        "The server had an error while processing your request. Sorry about that!"
    );
    assert_eq!(err.status(), None);
    assert_eq!(err.usage(), None);
    assert!(err.is_retryable());
}

#[test]
fn truncated_stream_is_an_error_after_the_text_already_delivered() {
    let (events, result) = stream_events("truncated.sse");
    assert!(matches!(events[0], StreamEvent::Start { .. }));
    assert_eq!(events.len(), 5, "{events:?}");
    assert_eq!(text_deltas(&events), ["The", " quick", " brown", " fox"]);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TruncatedStream);
    assert_eq!(err.provider(), Some(Provider::OpenAi));
    assert!(err.message().contains("[DONE]"), "{err}");
    assert_eq!(err.usage(), None);
}

#[test]
fn a_stream_without_done_is_truncated_even_after_finish_and_usage() {
    let text = String::from_utf8(fixture("text.sse")).unwrap();
    let cut = text
        .strip_suffix("data: [DONE]\n\n")
        .expect("text.sse ends with [DONE]");
    let (events, result) = run_stream(cut.as_bytes(), Some(7));
    assert!(!events
        .iter()
        .any(|e| matches!(e, StreamEvent::Finish { .. })));
    assert_eq!(
        text_deltas(&events).concat(),
        "Hello! How can I help you today?"
    );
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TruncatedStream);
    assert!(err.message().contains("stop"), "{err}");
    // What was consumed is known, so it can still be billed.
    assert_eq!(
        err.usage(),
        Some(&usage(Some(19), Some(0), Some(10), Some(0)))
    );
}

fn chunk(delta: Value, finish: Value) -> String {
    let chunk = json!({
        "id": "chatcmpl-X", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {chunk}\n\n")
}

#[test]
fn in_stream_errors_carry_the_usage_seen_and_are_classified_by_code() {
    let usage_chunk = r#"data: {"id":"chatcmpl-X","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":3}}"#;
    for (error, kind, code) in [
        (
            r#"{"error":{"message":"Rate limit reached","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#,
            ErrorKind::RateLimited,
            "rate_limit_exceeded",
        ),
        (
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":null}}"#,
            ErrorKind::QuotaExceeded,
            "insufficient_quota",
        ),
        (
            r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
            ErrorKind::InvalidRequest,
            "invalid_request_error",
        ),
    ] {
        let body = format!(
            "{}{usage_chunk}\n\ndata: {error}\n\n",
            chunk(json!({"content": "Hi"}), Value::Null)
        );
        let (events, result) = run_stream(body.as_bytes(), None);
        assert_eq!(text_deltas(&events), ["Hi"]);
        let err = result.unwrap_err();
        assert_eq!(err.kind(), kind, "{error}");
        assert_eq!(err.provider_code(), Some(code));
        assert_eq!(err.usage(), Some(&usage(Some(50), None, Some(3), None)));
    }
}

#[test]
fn invalid_streamed_tool_arguments_name_the_tool() {
    let body = [
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "lookup", "arguments": "{\"q\": "}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let (events, result) = run_stream(body.as_bytes(), None);
    assert!(matches!(
        events[1],
        StreamEvent::ToolCallStart { index: 0, .. }
    ));
    assert!(
        matches!(&events[2], StreamEvent::ToolCallDelta { index: 0, arguments_delta } if arguments_delta == "{\"q\": ")
    );
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("`lookup`"), "{err}");
}

#[test]
fn streamed_tool_call_with_empty_arguments_means_an_empty_object() {
    let body = [
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "now", "arguments": ""}}]}),
            Value::Null,
        ),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let (events, result) = run_stream(body.as_bytes(), None);
    result.unwrap();
    // No finish_reason came: the call still ends at [DONE], and the finish is Other without raw.
    assert_eq!(
        events[2],
        StreamEvent::ToolCallEnd {
            index: 0,
            id: "call_1".into(),
            name: "now".into(),
            arguments: json!({}),
            signature: None
        }
    );
    assert_eq!(
        finish_event(&events),
        (
            &FinishReason {
                unified: FinishKind::Other,
                raw: None
            },
            &Usage::default()
        )
    );
}

#[test]
fn tool_fragments_without_index_are_joined_by_id() {
    let body = [
        chunk(json!({"tool_calls": [{"id": "call_a", "function": {"name": "a", "arguments": "{\"x\":"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"function": {"arguments": "1}"}}]}), Value::Null),
        chunk(json!({"tool_calls": [{"id": "call_b", "function": {"name": "b", "arguments": "{}"}}]}), json!("tool_calls")),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let (events, result) = run_stream(body.as_bytes(), None);
    result.unwrap();
    let r = assemble(&events);
    assert_eq!(
        r.tool_calls()
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str(), c.arguments.clone()))
            .collect::<Vec<_>>(),
        [("call_a", "a", json!({"x": 1})), ("call_b", "b", json!({}))]
    );
}

#[test]
fn a_tool_fragment_for_an_unknown_call_without_a_name_is_invalid() {
    let body = chunk(
        json!({"tool_calls": [{"index": 3, "function": {"arguments": "{}"}}]}),
        Value::Null,
    );
    let err = run_stream(body.as_bytes(), None).1.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains('3'), "{err}");
}

#[test]
fn data_that_is_not_json_is_an_invalid_response() {
    let body = format!(
        "{}data: {{not json\n\n",
        chunk(json!({"content": "Hi"}), Value::Null)
    );
    let (events, result) = run_stream(body.as_bytes(), None);
    assert_eq!(text_deltas(&events), ["Hi"]);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidResponse);
}

#[test]
fn events_after_done_are_ignored() {
    let body = format!(
        "{}data: [DONE]\n\n{}data: {{not json\n\n",
        chunk(json!({"content": "Hi"}), json!("stop")),
        chunk(json!({"content": "late"}), Value::Null)
    );
    let (events, result) = run_stream(body.as_bytes(), Some(5));
    result.unwrap();
    assert_eq!(text_deltas(&events), ["Hi"]);
    assert!(matches!(events.last(), Some(StreamEvent::Finish { .. })));
}

#[test]
fn an_unidentified_first_chunk_does_not_start_the_message() {
    // Azure OpenAI opens with prompt filter results: empty id and model, no choices.
    let azure = r#"data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}"#;
    let body = format!(
        "{azure}\n\n{}data: [DONE]\n\n",
        chunk(json!({"role": "assistant", "content": "Hi"}), json!("stop"))
    );
    let (events, result) = run_stream(body.as_bytes(), None);
    result.unwrap();
    assert_eq!(
        events,
        [
            StreamEvent::Start {
                id: Some("chatcmpl-X".into()),
                model: Some("gpt-4o-mini".into())
            },
            StreamEvent::TextDelta { text: "Hi".into() },
            StreamEvent::Finish {
                reason: FinishReason::new(FinishKind::Stop, "stop"),
                usage: Usage::default()
            },
        ]
    );
}

#[test]
fn only_the_first_choice_is_streamed() {
    let other = r#"data: {"id":"chatcmpl-X","choices":[{"index":1,"delta":{"content":"other"},"finish_reason":null}]}"#;
    let body = format!(
        "{}{other}\n\ndata: [DONE]\n\n",
        chunk(json!({"content": "first"}), json!("stop"))
    );
    let (events, result) = run_stream(body.as_bytes(), None);
    result.unwrap();
    assert_eq!(text_deltas(&events), ["first"]);
}

// ----------------------------------------------------------------------- whole bodies

#[test]
fn an_empty_choices_array_is_an_invalid_response() {
    let body = json!({"id": "chatcmpl-X", "object": "chat.completion", "model": "gpt-4o-mini", "choices": []});
    let err = provider::decode(P, &success(body.to_string().into_bytes())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.provider(), Some(Provider::OpenAi));
    assert_eq!(err.request_id(), Some(REQUEST_ID));
    assert!(err.message().contains("choices"), "{err}");
}

#[test]
fn a_body_that_is_not_a_completion_is_an_invalid_response() {
    for body in [&b"<html>oops</html>"[..], b"", b"{\"choices\": 3}"] {
        let err = provider::decode(P, &success(body.to_vec())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{body:?}");
        assert_eq!(err.status(), Some(200));
    }
}

#[test]
fn an_error_object_in_a_2xx_body_is_classified() {
    let body = br#"{"error":{"message":"Rate limit exceeded","type":"requests","code":"rate_limit_exceeded"}}"#;
    let err = provider::decode(P, &success(body.to_vec())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.provider_code(), Some("rate_limit_exceeded"));
    assert_eq!(err.request_id(), Some(REQUEST_ID));
}

#[test]
fn invalid_whole_tool_arguments_name_the_tool_and_empty_ones_are_an_empty_object() {
    let body = |arguments: &str| {
        json!({"id": "chatcmpl-X", "model": "gpt-4o-mini", "choices": [{"index": 0, "finish_reason": "tool_calls",
            "message": {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": arguments}}]}}]})
        .to_string()
        .into_bytes()
    };
    let err = provider::decode(P, &success(body("{\"q\":"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("`lookup`"), "{err}");
    let r = provider::decode(P, &success(body(""))).unwrap();
    assert_eq!(r.tool_calls()[0].arguments, json!({}));
    assert_eq!(r.usage, Usage::default());
}

#[test]
fn cached_tokens_above_the_prompt_count_saturate() {
    let body = json!({"id": "chatcmpl-X", "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "something_new"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 12},
                  "completion_tokens_details": null}});
    let r = provider::decode(P, &success(body.to_string().into_bytes())).unwrap();
    assert_eq!(r.usage, usage(Some(0), Some(12), Some(1), None));
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::Other, "something_new")
    );
}

// ----------------------------------------------------------------------------- errors

struct Expected {
    status: u16,
    kind: ErrorKind,
    code: Option<&'static str>,
    message: &'static str,
    request_id: Option<&'static str>,
    retry_after: Option<RetryAfter>,
    retryable: bool,
}

fn check_error(name: &str, expected: Expected) {
    let headers = recorded_headers(name);
    let err = provider::decode_error(P, expected.status, &headers, &fixture(name));
    assert_eq!(err.kind(), expected.kind, "{name}: {err}");
    assert_eq!(err.status(), Some(expected.status), "{name}");
    assert_eq!(err.provider(), Some(Provider::OpenAi), "{name}");
    assert_eq!(err.provider_code(), expected.code, "{name}");
    assert_eq!(err.message(), expected.message, "{name}");
    assert_eq!(err.request_id(), expected.request_id, "{name}");
    assert_eq!(err.retry_after(), expected.retry_after, "{name}");
    assert_eq!(err.is_retryable(), expected.retryable, "{name}");
    assert_eq!(err.usage(), None, "{name}");
    // The whole-response path gives the same error.
    let whole = provider::decode(
        P,
        &HttpResponse {
            status: expected.status,
            headers,
            body: fixture(name),
        },
    );
    assert_eq!(whole.unwrap_err(), err, "{name}");
}

#[test]
fn error_400_invalid_request() {
    check_error(
        "error_400.json",
        Expected {
            status: 400,
            kind: ErrorKind::InvalidRequest,
            code: Some("invalid_request_error"),
            message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message \
                      with 'tool_calls'.",
            request_id: Some("req_5f1c0a9e8b7d4c3a2f1e0d9c8b7a6f5e"),
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_400_context_length() {
    check_error(
        "error_400_context_length.json",
        Expected {
            status: 400,
            kind: ErrorKind::ContextLength,
            code: Some("context_length_exceeded"),
            message: "This model's maximum context length is 128000 tokens. However, your messages resulted in \
                      131072 tokens. Please reduce the length of the messages.",
            request_id: Some("req_0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"),
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_400_content_policy() {
    check_error(
        "error_400_content_policy.json",
        Expected {
            status: 400,
            kind: ErrorKind::ContentFiltered,
            code: Some("content_policy_violation"),
            message: "Your request was rejected as a result of our safety system. Your prompt may contain text \
                      that is not allowed by our safety system.",
            request_id: Some("req_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"),
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_401_invalid_api_key() {
    check_error(
        "error_401.json",
        Expected {
            status: 401,
            kind: ErrorKind::Authentication,
            code: Some("invalid_api_key"),
            message: "Incorrect API key provided: sk-proj-********************************************wXyZ. You \
                      can find your API key at https://platform.openai.com/account/api-keys.",
            request_id: Some("req_2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c0b"),
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_403_permission() {
    check_error(
        "error_403.json",
        Expected {
            status: 403,
            kind: ErrorKind::Permission,
            code: Some("unsupported_country_region_territory"),
            message: "Country, region, or territory not supported",
            request_id: Some("req_7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a"),
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_404_model_not_found() {
    check_error(
        "error_404.json",
        Expected {
            status: 404,
            kind: ErrorKind::NotFound,
            code: Some("model_not_found"),
            message: "The model `gpt-5-turbo` does not exist or you do not have access to it.",
            request_id: Some("req_4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d"),
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_429_rate_limit_with_retry_after_ms() {
    check_error(
        "error_429.json",
        Expected {
            status: 429,
            kind: ErrorKind::RateLimited,
            code: Some("rate_limit_exceeded"),
            message: "Rate limit reached for gpt-4o-mini in organization org-Qm7nR2xW5kT8vB3yL6pH9sJc on tokens \
                      per min (TPM): Limit 200000, Used 199534, Requested 1024. Please try again in 167ms. Visit \
                      https://platform.openai.com/account/rate-limits to learn more.",
            request_id: Some("req_8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b"),
            // `retry-after-ms: 167` wins over `retry-after: 1`.
            retry_after: Some(RetryAfter::Millis(167)),
            retryable: true,
        },
    );
}

#[test]
fn error_429_rate_limit_with_an_http_date() {
    check_error(
        "error_429_http_date.json",
        Expected {
            status: 429,
            kind: ErrorKind::RateLimited,
            code: Some("rate_limit_exceeded"),
            message: "Rate limit reached for gpt-4o in organization org-Qm7nR2xW5kT8vB3yL6pH9sJc on requests per \
                      day (RPD): Limit 10000, Used 10000, Requested 1. Please try again in 6m12s. Visit \
                      https://platform.openai.com/account/rate-limits to learn more.",
            request_id: Some("req_1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c"),
            // Wed, 12 Nov 2025 09:46:12 GMT
            retry_after: Some(RetryAfter::At(1_762_940_772_000)),
            retryable: true,
        },
    );
}

#[test]
fn error_429_quota_is_never_retried() {
    check_error(
        "error_429_quota.json",
        Expected {
            status: 429,
            kind: ErrorKind::QuotaExceeded,
            code: Some("insufficient_quota"),
            message: "You exceeded your current quota, please check your plan and billing details. For more \
                      information on this error, read the docs: \
                      https://platform.openai.com/docs/guides/error-codes/api-errors.",
            request_id: Some("req_6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e"),
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_500_server_error() {
    check_error(
        "error_500.json",
        Expected {
            status: 500,
            kind: ErrorKind::ServerError,
            code: Some("server_error"),
            message: "The server had an error while processing your request. Sorry about that!",
            request_id: Some("req_3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f"),
            retry_after: None,
            retryable: true,
        },
    );
}

#[test]
fn error_503_overloaded() {
    check_error(
        "error_503.json",
        Expected {
            status: 503,
            kind: ErrorKind::Overloaded,
            code: Some("server_error"),
            message: "The engine is currently overloaded, please try again later.",
            request_id: Some("req_0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b"),
            retry_after: Some(RetryAfter::Millis(2_000)),
            retryable: true,
        },
    );
}

#[test]
fn error_502_html_from_a_gateway() {
    let headers = recorded_headers("error_502.html");
    let body = fixture("error_502.html");
    let err = provider::decode_error(P, 502, &headers, &body);
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert_eq!(err.status(), Some(502));
    assert_eq!(err.provider(), Some(Provider::OpenAi));
    assert_eq!(err.provider_code(), None);
    assert_eq!(err.request_id(), None);
    assert_eq!(err.retry_after(), None);
    let message = err.message();
    assert!(message.contains("502"), "{message}");
    let text = String::from_utf8(body).unwrap();
    let excerpt: String = text.trim().chars().take(200).collect();
    assert!(message.contains(&excerpt), "{message}");
    assert!(
        !message.contains(&text.trim().chars().take(201).collect::<String>()),
        "{message}"
    );
    assert!(
        !message.contains("8f1e2d3c4b5a6978"),
        "a header value leaked into the message: {message}"
    );
}

#[test]
fn odd_error_bodies_never_fail() {
    let headers: Headers = [("x-request-id", "req_1")].into_iter().collect();
    let cases: [(u16, &[u8], ErrorKind, Option<&str>); 7] = [
        (503, b"", ErrorKind::Overloaded, None),
        (
            401,
            br#"{"error":"Unauthorized"}"#,
            ErrorKind::Authentication,
            None,
        ),
        (
            429,
            br#"{"error":{"message":"slow down","code":429}}"#,
            ErrorKind::RateLimited,
            Some("429"),
        ),
        (
            402,
            br#"{"error":{"type":"billing_not_active","message":""}}"#,
            ErrorKind::QuotaExceeded,
            Some("billing_not_active"),
        ),
        (
            504,
            br#"{"error":{"type":"server_error","message":"timed out"}}"#,
            ErrorKind::Timeout,
            Some("server_error"),
        ),
        (418, b"\xff\xfe not utf-8", ErrorKind::InvalidResponse, None),
        (
            400,
            br#"{"detail":"Not Found"}"#,
            ErrorKind::InvalidRequest,
            None,
        ),
    ];
    for (status, body, kind, code) in cases {
        let err = provider::decode_error(P, status, &headers, body);
        assert_eq!(err.kind(), kind, "{status} {body:?}: {err}");
        assert_eq!(err.provider_code(), code, "{status} {body:?}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.request_id(), Some("req_1"));
        assert!(!err.message().is_empty());
    }
    let err = provider::decode_error(
        P,
        402,
        &headers,
        br#"{"error":{"type":"billing_not_active","message":""}}"#,
    );
    assert!(err.message().contains("billing_not_active"), "{err}");
    let err = provider::decode_error(P, 503, &headers, b"");
    assert!(err.message().contains("503"), "{err}");
    let err = provider::decode_error(
        P,
        504,
        &headers,
        br#"{"error":{"type":"server_error","message":"timed out"}}"#,
    );
    assert_eq!(
        err.timeout_kind(),
        Some(llm_edge::core::error::TimeoutKind::Upstream)
    );
}
