//! Replays the Anthropic fixtures (`tests/fixtures/anthropic/`) through the adapter: whole
//! responses through `decode`, streams through `StreamParser` (whole and in 1-, 7- and 64-byte
//! chunks) and `ResponseAssembler`, error bodies through `decode_error`. Every unified field is
//! asserted, and a stream must assemble into exactly what its whole twin decodes to.
use llm_edge::core::error::{Error, ErrorKind, RetryAfter};
use llm_edge::core::event::{ResponseAssembler, StreamEvent};
use llm_edge::core::http::{Headers, HttpResponse};
use llm_edge::core::model::{
    ContentPart, FinishKind, FinishReason, Message, Provider, Request, Response, Role, Usage,
};
use llm_edge::core::provider::{self, anthropic, ProviderConfig, StreamParser};
use serde_json::{json, Value};

const REQUEST_ID: &str = "req_011CUJ4Fq2kD8cQGm3Lnpt9X";
const SONNET: &str = "claude-sonnet-4-5-20250929";
const HAIKU: &str = "claude-haiku-4-5-20251001";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/anthropic/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
}

fn ok_headers() -> Headers {
    headers(&[
        ("content-type", "application/json"),
        ("request-id", REQUEST_ID),
    ])
}

/// `decode()` of a whole fixture, checked to agree with the provider-level dispatch.
fn whole(name: &str) -> Response {
    let http = HttpResponse {
        status: 200,
        headers: ok_headers(),
        body: fixture(name),
    };
    let direct = anthropic::decode::decode(&http).unwrap();
    assert_eq!(
        provider::decode(Provider::Anthropic, &http).unwrap(),
        direct
    );
    direct
}

type Replay = (Vec<StreamEvent>, Result<(), Error>);

fn replay_in_chunks(bytes: &[u8], size: usize) -> Replay {
    let mut parser = StreamParser::new(Provider::Anthropic);
    let mut events = Vec::new();
    for chunk in bytes.chunks(size.max(1)) {
        if let Err(error) = parser.feed(chunk, &mut events) {
            return (events, Err(error));
        }
    }
    let result = parser.finish(&mut events);
    (events, result)
}

/// Replays a stream fixture in one piece, and checks that 1-, 7- and 64-byte chunks give the
/// same events and the same outcome.
fn replay(name: &str) -> Replay {
    let bytes = fixture(name);
    let reference = replay_in_chunks(&bytes, bytes.len());
    for size in [1, 7, 64] {
        let chunked = replay_in_chunks(&bytes, size);
        assert_eq!(
            chunked.0, reference.0,
            "{name}: events differ with {size}-byte chunks"
        );
        assert_eq!(
            chunked.1, reference.1,
            "{name}: outcome differs with {size}-byte chunks"
        );
    }
    reference
}

/// A complete stream: exactly one `Finish`, last; assembled into a response.
fn streamed(name: &str) -> (Vec<StreamEvent>, Response) {
    let (events, result) = replay(name);
    result.unwrap_or_else(|e| panic!("{name}: {e}"));
    let finishes = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Finish { .. }))
        .count();
    assert_eq!(finishes, 1, "{name}: {events:?}");
    assert!(
        matches!(events.last(), Some(StreamEvent::Finish { .. })),
        "{name}"
    );
    assert!(
        matches!(events.first(), Some(StreamEvent::Start { .. })),
        "{name}"
    );
    let mut assembler = ResponseAssembler::new(Provider::Anthropic, "claude-requested-alias");
    assembler.set_request_id(Some(REQUEST_ID.to_string()));
    for event in &events {
        assembler.push(event);
    }
    assert!(assembler.is_finished());
    (events, assembler.into_response())
}

fn usage(
    input: Option<u64>,
    cache_read: Option<u64>,
    write_5m: Option<u64>,
    write_1h: Option<u64>,
    output: Option<u64>,
) -> Usage {
    Usage {
        input_tokens: input,
        cache_read_tokens: cache_read,
        cache_write_5m_tokens: write_5m,
        cache_write_1h_tokens: write_1h,
        output_tokens: output,
        reasoning_tokens: None,
    }
}

fn text(s: &str) -> StreamEvent {
    StreamEvent::TextDelta {
        text: s.to_string(),
    }
}

fn assert_common(r: &Response, id: &str, model: &str) {
    assert_eq!(r.id.as_deref(), Some(id));
    assert_eq!(r.model, model);
    assert_eq!(r.provider, Provider::Anthropic);
    assert_eq!(r.request_id.as_deref(), Some(REQUEST_ID));
    assert_eq!(r.warnings, vec![]);
}

// ------------------------------------------------------------------------------ text

const TEXT: &str = "Bonjour ! Ça va très bien, merci. Et vous ? 🌤️";

fn assert_text(r: &Response) {
    assert_common(r, "msg_01XFDUDYJgAACzvnptvVoYEL", SONNET);
    assert_eq!(r.content, vec![ContentPart::text(TEXT)]);
    assert_eq!(r.text(), TEXT);
    assert_eq!(r.tool_calls(), vec![]);
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::Stop, "end_turn")
    );
    // The cache counts were reported as 0 (kept), the TTL split was not (None).
    assert_eq!(r.usage, usage(Some(14), Some(0), Some(0), None, Some(18)));
}

#[test]
fn text_whole() {
    assert_text(&whole("text.json"));
}

#[test]
fn text_streamed() {
    let (events, r) = streamed("text.sse");
    let start_usage = usage(Some(14), Some(0), Some(0), None, Some(1));
    let end_usage = usage(Some(14), Some(0), Some(0), None, Some(18));
    assert_eq!(
        events,
        vec![
            StreamEvent::Start {
                id: Some("msg_01XFDUDYJgAACzvnptvVoYEL".into()),
                model: Some(SONNET.into())
            },
            StreamEvent::Usage { usage: start_usage },
            text("Bonjour !"),
            text(" Ça va très bien"),
            text(", merci. Et vous"),
            text(" ? 🌤️"),
            StreamEvent::Usage { usage: end_usage },
            StreamEvent::Finish {
                reason: FinishReason::new(FinishKind::Stop, "end_turn"),
                usage: end_usage
            },
        ]
    );
    assert_text(&r);
}

// ----------------------------------------------------------------------- multi_block

const SIGNATURE: &str = "EuYBCkQYAiJAgCs1le6/Pol5PM6PfWhB4Ob1ln6hR2ZcHkJpmYx9xq9w0Q1J4nYgQ3u6R2W7c3e+Ck7vYb0pI2Yc1G5o3bUk6xIMAbc0dEF2r1HkTgQ0GgyN6m4e9W1wPqH3sQ0iMHkY8t+X0x4vV6y1g==";
const THINKING: &str =
    "The user wants the weather in Paris. I should call get_weather with city Paris and celsius.";

fn assert_multi_block(r: &Response) {
    assert_common(r, "msg_01AqT8pVt3r4Fv5K3kQ9bH2m", SONNET);
    assert_eq!(
        r.content,
        vec![
            ContentPart::Reasoning {
                text: THINKING.into(),
                signature: Some(SIGNATURE.into())
            },
            ContentPart::text("Let me check the current weather in Paris."),
            ContentPart::ToolCall {
                id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                name: "get_weather".into(),
                arguments: json!({"city": "Paris", "unit": "celsius"}),
                signature: None,
            },
        ]
    );
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::ToolCalls, "tool_use")
    );
    assert_eq!(r.usage, usage(Some(512), Some(0), Some(0), None, Some(96)));
}

#[test]
fn multi_block_whole() {
    assert_multi_block(&whole("multi_block.json"));
}

#[test]
fn multi_block_streamed() {
    let (events, r) = streamed("multi_block.sse");
    assert_multi_block(&r);
    let content_events: Vec<&StreamEvent> = events
        .iter()
        .filter(|e| {
            !matches!(
                e,
                StreamEvent::Start { .. } | StreamEvent::Usage { .. } | StreamEvent::Finish { .. }
            )
        })
        .collect();
    assert_eq!(
        content_events,
        vec![
            &StreamEvent::ReasoningDelta {
                text: "The user wants the weather in Paris.".into()
            },
            &StreamEvent::ReasoningDelta {
                text: " I should call get_weather".into()
            },
            &StreamEvent::ReasoningDelta {
                text: " with city Paris and celsius.".into()
            },
            &StreamEvent::ReasoningSignature {
                signature: SIGNATURE.into()
            },
            &text("Let me check the current"),
            &text(" weather in Paris."),
            &StreamEvent::ToolCallStart {
                index: 0,
                id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                name: "get_weather".into()
            },
            &StreamEvent::ToolCallDelta {
                index: 0,
                arguments_delta: r#"{"city": "Par"#.into()
            },
            &StreamEvent::ToolCallDelta {
                index: 0,
                arguments_delta: r#"is", "unit": "cel"#.into()
            },
            &StreamEvent::ToolCallDelta {
                index: 0,
                arguments_delta: r#"sius"}"#.into()
            },
            &StreamEvent::ToolCallEnd {
                index: 0,
                id: "toolu_01T1x1fJ34qAmk2tNTrN7Up6".into(),
                name: "get_weather".into(),
                arguments: json!({"city": "Paris", "unit": "celsius"}),
                signature: None,
            },
        ]
    );
}

// ------------------------------------------------------------------------- tool_call

fn assert_tool_call(r: &Response) {
    assert_common(r, "msg_01Gk7tB2S8y3PzWw4mQmU8Jd", HAIKU);
    assert_eq!(r.text(), "I'll look up the weather and the local time.");
    assert_eq!(r.content.len(), 3);
    let calls = r.tool_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].id, "toolu_01A09q90qw90lq917835lq9");
    assert_eq!(calls[0].name, "get_weather");
    assert_eq!(
        calls[0].arguments,
        json!({"city": "San Francisco, CA", "unit": "fahrenheit", "days": [1, 2]})
    );
    assert_eq!(calls[1].id, "toolu_01BnQW3s9kGq5e9V7cR3zD4x");
    assert_eq!(calls[1].name, "get_time");
    assert_eq!(calls[1].arguments, json!({}));
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::ToolCalls, "tool_use")
    );
    assert_eq!(r.usage, usage(Some(472), Some(0), Some(0), None, Some(121)));
}

#[test]
fn tool_call_whole() {
    assert_tool_call(&whole("tool_call.json"));
}

#[test]
fn tool_call_streamed_joins_fragments_by_index() {
    let (events, r) = streamed("tool_call.sse");
    assert_tool_call(&r);
    // Tool-call indices count tool calls (0, 1), not content blocks (1, 2).
    let starts: Vec<(u32, &str)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallStart { index, name, .. } => Some((*index, name.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(starts, vec![(0, "get_weather"), (1, "get_time")]);
    let fragments: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallDelta {
                index: 0,
                arguments_delta,
            } => Some(arguments_delta.as_str()),
            StreamEvent::ToolCallDelta { .. } => panic!("call 1 streamed no arguments: {e:?}"),
            _ => None,
        })
        .collect();
    assert_eq!(fragments.len(), 4);
    assert_eq!(
        fragments.concat(),
        r#"{"city": "San Francisco, CA", "unit": "fahrenheit", "days": [1, 2]}"#
    );
    let ends: Vec<(u32, Value)> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallEnd {
                index, arguments, ..
            } => Some((*index, arguments.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        vec![
            (
                0,
                json!({"city": "San Francisco, CA", "unit": "fahrenheit", "days": [1, 2]})
            ),
            (1, json!({}))
        ]
    );
}

// ---------------------------------------------------------------------- cached_usage

fn assert_cached_usage(r: &Response) {
    assert_common(r, "msg_01Q3xWvH2nYp7rT5kLm8bC4e", SONNET);
    assert_eq!(
        r.content,
        vec![ContentPart::text(
            "Under clause 14.2, the termination notice period is 90 days."
        )]
    );
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::Stop, "end_turn")
    );
    // input_tokens is already uncached; writes come from the TTL split.
    assert_eq!(
        r.usage,
        usage(Some(21), Some(10240), Some(512), Some(1024), Some(19))
    );
    assert_eq!(r.usage.total_input_tokens(), Some(21 + 10240 + 512 + 1024));
    assert_eq!(r.usage.total_tokens(), Some(21 + 10240 + 512 + 1024 + 19));
}

#[test]
fn cached_usage_whole() {
    assert_cached_usage(&whole("cached_usage.json"));
}

#[test]
fn cached_usage_streamed() {
    let (events, r) = streamed("cached_usage.sse");
    assert_cached_usage(&r);
    // The message_delta repeats the write total without the split: the split is kept.
    let usages: Vec<Usage> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Usage { usage } => Some(*usage),
            _ => None,
        })
        .collect();
    assert_eq!(
        usages,
        vec![
            usage(Some(21), Some(10240), Some(512), Some(1024), Some(1)),
            usage(Some(21), Some(10240), Some(512), Some(1024), Some(19)),
        ]
    );
}

// ------------------------------------------------------------------------ max_tokens

fn assert_max_tokens(r: &Response) {
    assert_common(r, "msg_01Hn5Tq8Wc2Yv6Zp3Xs9Bd7K", HAIKU);
    assert_eq!(
        r.content,
        vec![ContentPart::text(
            "Once upon a time, in a kingdom by the sea, there lived a"
        )]
    );
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::Length, "max_tokens")
    );
    // This server reported no cache fields: they stay None, never zero.
    assert_eq!(r.usage, usage(Some(31), None, None, None, Some(16)));
}

#[test]
fn max_tokens_whole() {
    assert_max_tokens(&whole("max_tokens.json"));
}

#[test]
fn max_tokens_streamed() {
    let (events, r) = streamed("max_tokens.sse");
    assert_max_tokens(&r);
    // The first text arrived inside content_block_start.
    assert_eq!(events[2], text("Once upon a time,"));
}

// ----------------------------------------------------------------- structured output

fn assert_structured_output(r: &Response) {
    assert_common(r, "msg_01Lp4Rz7Kx2Vb9Nq6Wt3Yh8F", SONNET);
    assert_eq!(r.content.len(), 1);
    assert!(
        matches!(r.content[0], ContentPart::Text { .. }),
        "{:?}",
        r.content
    );
    let answer: Value = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(
        answer,
        json!({"city": "Paris", "temperature_c": 18, "conditions": "sunny"})
    );
    assert_eq!(r.tool_calls(), vec![]);
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::Stop, "tool_use")
    );
    assert_eq!(r.usage, usage(Some(389), Some(0), Some(0), None, Some(42)));
}

#[test]
fn structured_output_whole_is_text() {
    let r = whole("structured_output.json");
    assert_structured_output(&r);
    assert_eq!(
        r.text(),
        r#"{"city":"Paris","conditions":"sunny","temperature_c":18}"#
    );
}

#[test]
fn structured_output_streamed_is_text_deltas() {
    let (events, r) = streamed("structured_output.sse");
    assert_structured_output(&r);
    assert!(!events.iter().any(|e| matches!(
        e,
        StreamEvent::ToolCallStart { .. }
            | StreamEvent::ToolCallDelta { .. }
            | StreamEvent::ToolCallEnd { .. }
    )));
    assert_eq!(
        r.text(),
        r#"{"city": "Paris", "temperature_c": 18, "conditions": "sunny"}"#
    );
}

// ----------------------------------------------------------- stream == whole, per pair

#[test]
fn every_stream_assembles_into_its_whole_twin() {
    for name in [
        "text",
        "multi_block",
        "tool_call",
        "cached_usage",
        "max_tokens",
    ] {
        let whole = whole(&format!("{name}.json"));
        let (_, streamed) = streamed(&format!("{name}.sse"));
        assert_eq!(streamed, whole, "{name}");
    }
    // Structured output: the same JSON (the stream keeps the model's spacing and key order).
    let mut whole = whole("structured_output.json");
    let (_, mut streamed) = streamed("structured_output.sse");
    let parse = |r: &Response| serde_json::from_str::<Value>(&r.text()).unwrap();
    assert_eq!(parse(&streamed), parse(&whole));
    whole.content.clear();
    streamed.content.clear();
    assert_eq!(streamed, whole);
}

// -------------------------------------------------------------- stream failures

fn text_before_failure(events: &[StreamEvent]) -> Vec<&StreamEvent> {
    events
        .iter()
        .filter(|e| matches!(e, StreamEvent::TextDelta { .. }))
        .collect()
}

#[test]
fn in_stream_error_fails_after_the_text_already_delivered() {
    let (events, result) = replay("in_stream_error.sse");
    let start_usage = usage(Some(25), Some(0), Some(0), None, Some(1));
    assert_eq!(
        events,
        vec![
            StreamEvent::Start {
                id: Some("msg_01Ww2Ex5Rt8Yu1Io4Pa7Sd3F".into()),
                model: Some(SONNET.into())
            },
            StreamEvent::Usage { usage: start_usage },
            text("The capital of Australia"),
            text(" is Canberra,"),
        ]
    );
    assert_eq!(text_before_failure(&events).len(), 2);
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Overloaded);
    assert!(error.is_retryable());
    assert_eq!(error.provider(), Some(Provider::Anthropic));
    assert_eq!(error.provider_code(), Some("overloaded_error"));
    assert_eq!(error.message(), "Overloaded");
    assert_eq!(error.status(), None);
    assert_eq!(error.request_id(), None);
    assert_eq!(error.usage(), Some(&start_usage));
    // Classified exactly like the same error answered as HTTP 529.
    let answered = anthropic::error::decode_error(529, &Headers::new(), &fixture("error_529.json"));
    assert_eq!(error.kind(), answered.kind());
    assert_eq!(error.provider_code(), answered.provider_code());
}

#[test]
fn truncated_stream_fails_after_the_text_already_delivered() {
    let (events, result) = replay("truncated.sse");
    let start_usage = usage(Some(25), Some(0), Some(0), None, Some(1));
    assert_eq!(
        events,
        vec![
            StreamEvent::Start {
                id: Some("msg_01Tr9Uv4Wx7Yz2Ab5Cd8Ef1G".into()),
                model: Some(SONNET.into())
            },
            StreamEvent::Usage { usage: start_usage },
            text("Rust's ownership model"),
            text(" guarantees memory safety"),
        ]
    );
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TruncatedStream);
    assert_eq!(error.provider(), Some(Provider::Anthropic));
    assert!(
        error.message().contains("message_stop"),
        "{}",
        error.message()
    );
    assert_eq!(error.usage(), Some(&start_usage));
}

#[test]
fn a_stream_cut_right_after_the_last_delta_is_truncated_too() {
    let bytes = fixture("text.sse");
    let text = String::from_utf8(bytes).unwrap();
    let cut = text.find("event: message_stop").unwrap();
    let (events, result) = replay_in_chunks(&text.as_bytes()[..cut], 64);
    assert!(!events
        .iter()
        .any(|e| matches!(e, StreamEvent::Finish { .. })));
    assert_eq!(result.unwrap_err().kind(), ErrorKind::TruncatedStream);
}

// ------------------------------------------------------------------------ errors

struct Expected<'a> {
    kind: ErrorKind,
    code: &'a str,
    message: &'a str,
    request_id: &'a str,
    retry_after: Option<RetryAfter>,
    retryable: bool,
}

fn check_error(name: &str, status: u16, headers: Headers, expected: Expected<'_>) {
    let body = fixture(name);
    let error = anthropic::error::decode_error(status, &headers, &body);
    assert_eq!(error.kind(), expected.kind, "{name}");
    assert_eq!(error.status(), Some(status), "{name}");
    assert_eq!(error.provider(), Some(Provider::Anthropic), "{name}");
    assert_eq!(error.provider_code(), Some(expected.code), "{name}");
    assert_eq!(error.message(), expected.message, "{name}");
    assert_eq!(error.request_id(), Some(expected.request_id), "{name}");
    assert_eq!(error.retry_after(), expected.retry_after, "{name}");
    assert_eq!(error.is_retryable(), expected.retryable, "{name}");
    assert_eq!(error.usage(), None, "{name}");
    // The provider-level dispatch classifies non-2xx answers the same way.
    let via_decode = provider::decode(
        Provider::Anthropic,
        &HttpResponse {
            status,
            headers: headers.clone(),
            body,
        },
    )
    .unwrap_err();
    assert_eq!(via_decode, error, "{name}");
}

#[test]
fn error_400_invalid_request() {
    check_error(
        "error_400.json",
        400,
        headers(&[("request-id", "req_011CUJ5DpJhW9dHmNc9mHf3c")]),
        Expected {
            kind: ErrorKind::InvalidRequest,
            code: "invalid_request_error",
            message: "messages.1.content.0.tool_result: unexpected `tool_use_id` found in `tool_result` blocks: \
                      toolu_01A09q90qw90lq917835lq9. Each `tool_result` block must have a corresponding \
                      `tool_use` block in the previous message.",
            request_id: "req_011CUJ5DpJhW9dHmNc9mHf3c",
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_400_prompt_too_long_is_context_length() {
    check_error(
        "error_400_context.json",
        400,
        Headers::new(),
        Expected {
            kind: ErrorKind::ContextLength,
            code: "invalid_request_error",
            message: "prompt is too long: 210000 tokens > 200000 maximum",
            // No header: the body's request id.
            request_id: "req_011CUJ6BqTzWn7Yy4Kk3sXr1",
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_401_authentication() {
    check_error(
        "error_401.json",
        401,
        Headers::new(),
        Expected {
            kind: ErrorKind::Authentication,
            code: "authentication_error",
            message: "invalid x-api-key",
            request_id: "req_011CUJ7Lm2Pq8Xz5Vb1Nc4Hd",
            retry_after: None,
            retryable: false,
        },
    );
}

#[test]
fn error_429_transient_rate_limit() {
    let error_headers = headers(&[
        ("request-id", "req_from_header_429"),
        ("retry-after", "17"),
        ("anthropic-ratelimit-input-tokens-remaining", "0"),
        (
            "anthropic-ratelimit-input-tokens-reset",
            "2026-01-15T10:31:00Z",
        ),
    ]);
    let body: Value = serde_json::from_slice(&fixture("error_429.json")).unwrap();
    check_error(
        "error_429.json",
        429,
        error_headers,
        Expected {
            kind: ErrorKind::RateLimited,
            code: "rate_limit_error",
            message: body["error"]["message"].as_str().unwrap(),
            // The header wins over the body's id.
            request_id: "req_from_header_429",
            retry_after: Some(RetryAfter::Millis(17_000)),
            retryable: true,
        },
    );
}

#[test]
fn error_429_usage_limit_is_quota_exceeded() {
    check_error(
        "error_429_quota.json",
        429,
        headers(&[("request-id", "req_011CUJ9Hj3Kl6Zx8Cv1Bn4Mq"), ("retry-after", "3600")]),
        Expected {
            kind: ErrorKind::QuotaExceeded,
            code: "rate_limit_error",
            message: "You have reached your specified API usage limits. You will regain access on 2026-02-01 at 00:00 UTC.",
            request_id: "req_011CUJ9Hj3Kl6Zx8Cv1Bn4Mq",
            retry_after: Some(RetryAfter::Millis(3_600_000)),
            retryable: false,
        },
    );
}

#[test]
fn error_500_server_error() {
    check_error(
        "error_500.json",
        500,
        headers(&[("request-id", "req_011CUJAWe4Rt7Yu0Io3Pa6Sd")]),
        Expected {
            kind: ErrorKind::ServerError,
            code: "api_error",
            message: "Internal server error",
            request_id: "req_011CUJAWe4Rt7Yu0Io3Pa6Sd",
            retry_after: None,
            retryable: true,
        },
    );
}

#[test]
fn error_529_overloaded() {
    check_error(
        "error_529.json",
        529,
        headers(&[
            ("request-id", "req_011CUJBZx1Cv4Bn7Mq0Wa3Se"),
            ("x-should-not-leak", "secret-value"),
        ]),
        Expected {
            kind: ErrorKind::Overloaded,
            code: "overloaded_error",
            message: "Overloaded",
            request_id: "req_011CUJBZx1Cv4Bn7Mq0Wa3Se",
            retry_after: None,
            retryable: true,
        },
    );
}

// -------------------------------------------------------- both directions of tool use

#[test]
fn a_decoded_tool_turn_is_sent_back_with_its_result() {
    let response = whole("multi_block.json");
    let mut request = Request::new(
        "anthropic/claude-sonnet-4-5",
        vec![
            Message::user("What's the weather in Paris?"),
            Message {
                role: Role::Assistant,
                content: response.content.clone(),
            },
            Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id: response.tool_calls()[0].id.clone(),
                    name: Some("get_weather".into()),
                    content: r#"{"temp_c": 18, "conditions": "sunny"}"#.into(),
                    is_error: false,
                    cache: None,
                }],
            },
        ],
    );
    request.max_tokens = Some(1024);
    let config = ProviderConfig {
        api_key: Some("sk-ant-test".into()),
        ..ProviderConfig::default()
    };
    let encoded = provider::encode(Provider::Anthropic, SONNET, &request, &config, true).unwrap();
    assert_eq!(encoded.warnings, vec![]);
    let body: Value = serde_json::from_str(encoded.http.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({
            "model": SONNET,
            "max_tokens": 1024,
            "stream": true,
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "What's the weather in Paris?"}]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": THINKING, "signature": SIGNATURE},
                    {"type": "text", "text": "Let me check the current weather in Paris."},
                    {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather",
                     "input": {"city": "Paris", "unit": "celsius"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                     "content": "{\"temp_c\": 18, \"conditions\": \"sunny\"}"}
                ]}
            ]
        })
    );
    assert_eq!(encoded.http.url, "https://api.anthropic.com/v1/messages");
}

#[test]
fn the_request_id_header_is_the_providers() {
    assert_eq!(
        provider::request_id(Provider::Anthropic, &ok_headers()).as_deref(),
        Some(REQUEST_ID)
    );
}
