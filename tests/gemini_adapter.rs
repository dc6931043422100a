//! Replays the Gemini fixtures (`tests/fixtures/gemini/`) through the adapter: every whole
//! response through `decode`, every stream through `StreamParser` whole and in chunks of 1, 7
//! and 64 bytes, and every error body through `decode_error`, asserting the unified output field
//! by field. Where a whole response and a stream of the same answer exist, the assembled stream
//! must equal the decoded response.
use std::path::Path;

use llm_edge::core::error::{Error, ErrorKind, RetryAfter, TimeoutKind};
use llm_edge::core::event::{ResponseAssembler, StreamEvent};
use llm_edge::core::http::{Headers, HttpResponse};
use llm_edge::core::model::{
    ContentPart, FinishKind, FinishReason, Message, Provider, Request, Response, Role, Usage,
};
use llm_edge::core::provider::{self, ProviderConfig, StreamParser};
use serde_json::{json, Value};

const REQUEST_ID: &str = "req-5c1e0f7a9b";

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/gemini")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
}

fn whole(name: &str) -> Response {
    let response = HttpResponse {
        status: 200,
        headers: headers(&[("x-request-id", REQUEST_ID)]),
        body: fixture(name),
    };
    provider::decode(Provider::Gemini, &response).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[derive(Debug, PartialEq)]
struct Streamed {
    events: Vec<StreamEvent>,
    error: Option<Error>,
}

/// Feeds `bytes` to a fresh parser in chunks of `size`, then ends the body.
fn feed(bytes: &[u8], size: usize) -> Streamed {
    let mut parser = StreamParser::new(Provider::Gemini);
    let mut events = Vec::new();
    for chunk in bytes.chunks(size) {
        if let Err(error) = parser.feed(chunk, &mut events) {
            return Streamed {
                events,
                error: Some(error),
            };
        }
    }
    let error = parser.finish(&mut events).err();
    Streamed { events, error }
}

/// The stream fixture fed whole, after checking that 1-, 7- and 64-byte chunks give the same.
fn stream(name: &str) -> Streamed {
    let bytes = fixture(name);
    let reference = feed(&bytes, bytes.len().max(1));
    for size in [1, 7, 64] {
        assert_eq!(
            feed(&bytes, size),
            reference,
            "{name} fed in chunks of {size}"
        );
    }
    reference
}

fn assemble(events: &[StreamEvent]) -> Response {
    let mut assembler = ResponseAssembler::new(Provider::Gemini, "requested-model");
    assembler.set_request_id(Some(REQUEST_ID.to_string()));
    for event in events {
        assembler.push(event);
    }
    assert!(assembler.is_finished(), "no Finish event in {events:?}");
    assembler.into_response()
}

/// A complete stream: no error, exactly one Finish and it is last, Start first.
fn complete_stream(name: &str) -> Streamed {
    let streamed = stream(name);
    assert_eq!(streamed.error, None, "{name}");
    let finishes = streamed
        .events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Finish { .. }))
        .count();
    assert_eq!(finishes, 1, "{name}");
    assert!(
        matches!(streamed.events.last(), Some(StreamEvent::Finish { .. })),
        "{name}"
    );
    assert!(
        matches!(streamed.events.first(), Some(StreamEvent::Start { .. })),
        "{name}"
    );
    streamed
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

// ----------------------------------------------------------------------------- answers

#[test]
fn text() {
    let r = whole("text.json");
    assert_eq!(r.id.as_deref(), Some("mJ3VaNbXLZ6Uz7IPwJ2o2Ao"));
    assert_eq!(r.provider, Provider::Gemini);
    assert_eq!(r.model, "gemini-2.5-flash-lite");
    assert_eq!(
        r.content,
        [ContentPart::text(
            "The capital of France is Paris. It sits on the Seine and has been the country's political \
             and cultural centre for centuries."
        )]
    );
    assert_eq!(r.finish_reason, FinishReason::new(FinishKind::Stop, "STOP"));
    assert_eq!(r.usage, usage(Some(9), None, Some(27), None));
    assert_eq!(r.request_id.as_deref(), Some(REQUEST_ID));
    assert!(r.warnings.is_empty());

    // The stream uses CRLF line endings, as Google's servers do.
    let s = complete_stream("text.sse");
    assert_eq!(
        s.events,
        [
            StreamEvent::Start {
                id: Some("mJ3VaNbXLZ6Uz7IPwJ2o2Ao".into()),
                model: Some("gemini-2.5-flash-lite".into())
            },
            StreamEvent::TextDelta {
                text: "The capital of France is Paris.".into()
            },
            StreamEvent::Usage {
                usage: usage(Some(9), None, Some(7), None)
            },
            StreamEvent::TextDelta {
                text: " It sits on the Seine and has been the country's political".into()
            },
            StreamEvent::Usage {
                usage: usage(Some(9), None, Some(19), None)
            },
            StreamEvent::TextDelta {
                text: " and cultural centre for centuries.".into()
            },
            StreamEvent::Usage {
                usage: usage(Some(9), None, Some(27), None)
            },
            StreamEvent::Finish {
                reason: FinishReason::new(FinishKind::Stop, "STOP"),
                usage: usage(Some(9), None, Some(27), None)
            },
        ]
    );
    assert_eq!(assemble(&s.events), r);
}

#[test]
fn multi_block_reasoning_text_and_two_calls() {
    let r = whole("multi_block.json");
    assert_eq!(r.id.as_deref(), Some("Lq7VaOW5Hcq-1dkPr8Ck4Qk"));
    assert_eq!(r.model, "gemini-2.5-flash");
    assert_eq!(r.content.len(), 4);
    assert_eq!(
        r.content[0],
        ContentPart::Reasoning {
            text: "**Checking two cities**\n\nThe user wants the current weather in both Paris and London, \
                   so I'll call `get_weather` once for each city, in Celsius.\n"
                .into(),
            signature: None
        }
    );
    assert_eq!(
        r.content[1],
        ContentPart::text("I'll look up the current weather in both cities.")
    );
    let ContentPart::ToolCall {
        id,
        name,
        arguments,
        signature,
    } = &r.content[2]
    else {
        panic!("{:?}", r.content[2]);
    };
    assert_eq!((id.as_str(), name.as_str()), ("call_0", "get_weather"));
    assert_eq!(*arguments, json!({"city": "Paris", "unit": "celsius"}));
    assert!(signature
        .as_deref()
        .is_some_and(|s| s.starts_with("CvYBAdHtim9M") && s.ends_with("aS0dF3g==")));
    assert_eq!(
        r.content[3],
        ContentPart::ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: json!({"city": "London", "unit": "celsius"}),
            signature: None
        }
    );
    assert_eq!(r.text(), "I'll look up the current weather in both cities.");
    assert_eq!(r.tool_calls().len(), 2);
    // Gemini says STOP after function calls; the unified reason says tool calls.
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::ToolCalls, "STOP")
    );
    assert_eq!(r.usage, usage(Some(74), None, Some(41 + 118), Some(118)));
    assert_eq!(r.request_id.as_deref(), Some(REQUEST_ID));

    let s = complete_stream("multi_block.sse");
    let reasoning: Vec<&str> = s
        .events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ReasoningDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasoning.len(), 2);
    assert_eq!(
        text_deltas(&s.events),
        ["I'll look up the current weather in both cities."]
    );
    let starts: Vec<(u32, &str)> = s
        .events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCallStart { index, id, .. } => Some((*index, id.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(starts, [(0, "call_0"), (1, "call_1")]);
    // Usage while thinking reports thoughts but no candidate tokens yet.
    assert!(s.events.contains(&StreamEvent::Usage {
        usage: usage(Some(74), None, Some(118), Some(118))
    }));
    assert_eq!(assemble(&s.events), r);
}

#[test]
fn tool_call_with_nested_arguments_and_signature() {
    let r = whole("tool_call.json");
    assert_eq!(r.id.as_deref(), Some("8q_VaMLkE-2Oz7IP_4XR-Ac"));
    assert_eq!(r.model, "gemini-2.5-pro");
    assert_eq!(r.content.len(), 1);
    let ContentPart::ToolCall {
        id,
        name,
        arguments,
        signature,
    } = &r.content[0]
    else {
        panic!("{:?}", r.content[0]);
    };
    assert_eq!((id.as_str(), name.as_str()), ("call_0", "search_flights"));
    assert_eq!(
        *arguments,
        json!({"origin": "SFO", "destination": "NRT", "date": "2026-03-14",
               "passengers": {"adults": 2, "children": 1}, "cabin": "economy", "nonstop": true})
    );
    assert!(signature
        .as_deref()
        .is_some_and(|s| s.starts_with("CpoCAdHtim/5") && s.ends_with("T4y=")));
    assert_eq!(r.text(), "");
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::ToolCalls, "STOP")
    );
    assert_eq!(r.usage, usage(Some(152), None, Some(38 + 211), Some(211)));

    // Gemini sends the call whole: one start, one delta holding all the arguments, one end.
    let s = complete_stream("tool_call.sse");
    let calls: Vec<&StreamEvent> = s
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                StreamEvent::ToolCallStart { .. }
                    | StreamEvent::ToolCallDelta { .. }
                    | StreamEvent::ToolCallEnd { .. }
            )
        })
        .collect();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        *calls[0],
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_0".into(),
            name: "search_flights".into()
        }
    );
    let StreamEvent::ToolCallDelta {
        index: 0,
        arguments_delta,
    } = calls[1]
    else {
        panic!("{:?}", calls[1])
    };
    assert_eq!(
        serde_json::from_str::<Value>(arguments_delta).unwrap(),
        *arguments
    );
    assert!(matches!(
        calls[2],
        StreamEvent::ToolCallEnd {
            index: 0,
            signature: Some(_),
            ..
        }
    ));
    // The empty text part of the last chunk produces no text.
    assert!(text_deltas(&s.events).is_empty());
    assert_eq!(assemble(&s.events), r);
}

#[test]
fn cached_usage_subtracts_cached_tokens_from_input() {
    let r = whole("cached_usage.json");
    assert_eq!(r.id.as_deref(), Some("3bLVaJ2fMo3Vz7IPq5yW6Ag"));
    assert_eq!(r.model, "gemini-2.5-flash");
    assert_eq!(
        r.text(),
        "Section 4.2 caps the supplier's liability at twelve months of fees, but excludes data-protection \
         breaches and wilful misconduct from that cap."
    );
    assert_eq!(r.finish_reason, FinishReason::new(FinishKind::Stop, "STOP"));
    // promptTokenCount 4120 includes cachedContentTokenCount 3968.
    assert_eq!(
        r.usage,
        usage(Some(152), Some(3968), Some(52 + 310), Some(310))
    );
    assert_eq!(r.usage.total_input_tokens(), Some(4120));
    assert_eq!(r.usage.total_tokens(), Some(4482));

    let s = complete_stream("cached_usage.sse");
    let Some(StreamEvent::Finish {
        usage: finish_usage,
        ..
    }) = s.events.last()
    else {
        unreachable!()
    };
    assert_eq!(*finish_usage, r.usage);
    assert_eq!(assemble(&s.events), r);
}

#[test]
fn max_tokens_is_length() {
    let r = whole("max_tokens.json");
    assert_eq!(r.id.as_deref(), Some("R7TVaPzZB7Xe1dkP9oKQ-Qc"));
    assert_eq!(r.model, "gemini-2.5-pro");
    assert_eq!(
        r.text(),
        "Photosynthesis turns light into chemical energy in two stages. In the light-dependent reactions, \
         chlorophyll in the thylakoid"
    );
    assert_eq!(
        r.finish_reason,
        FinishReason::new(FinishKind::Length, "MAX_TOKENS")
    );
    assert_eq!(r.usage, usage(Some(14), None, Some(23 + 41), Some(41)));

    let s = complete_stream("max_tokens.sse");
    assert_eq!(assemble(&s.events), r);
}

// ----------------------------------------------------------------------------- broken streams

#[test]
fn in_stream_error_comes_after_the_text_already_delivered() {
    let s = stream("in_stream_error.sse");
    assert_eq!(
        s.events,
        [
            StreamEvent::Start {
                id: Some("YbbVaLDGAoGbz7IPyvW-uQo".into()),
                model: Some("gemini-2.5-flash-lite".into())
            },
            StreamEvent::TextDelta {
                text: "Here is a short story about a lighthouse keeper.".into()
            },
            StreamEvent::Usage {
                usage: usage(Some(11), None, Some(10), None)
            },
            StreamEvent::TextDelta {
                text: " Every night, Maren climbed the ninety-one steps".into()
            },
            StreamEvent::Usage {
                usage: usage(Some(11), None, Some(20), None)
            },
        ]
    );
    let e = s.error.expect("an error");
    assert_eq!(e.kind(), ErrorKind::Overloaded);
    assert_eq!(e.provider(), Some(Provider::Gemini));
    assert_eq!(e.status(), Some(503));
    assert_eq!(e.provider_code(), Some("UNAVAILABLE"));
    assert_eq!(
        e.message(),
        "The model is overloaded. Please try again later."
    );
    assert_eq!(e.usage(), Some(&usage(Some(11), None, Some(20), None)));
    assert!(e.is_retryable());
}

#[test]
fn truncated_stream_is_an_error_after_the_text() {
    let s = stream("truncated.sse");
    assert_eq!(
        text_deltas(&s.events),
        ["The three primary colours of light are", " red, green"]
    );
    assert!(!s
        .events
        .iter()
        .any(|e| matches!(e, StreamEvent::Finish { .. })));
    let e = s.error.expect("an error");
    assert_eq!(e.kind(), ErrorKind::TruncatedStream);
    assert_eq!(e.provider(), Some(Provider::Gemini));
    assert!(e.message().contains("finishReason"), "{}", e.message());
    assert_eq!(e.usage(), Some(&usage(Some(10), None, Some(10), None)));
}

#[test]
fn a_whole_fixture_cut_anywhere_before_its_terminal_chunk_is_truncated() {
    let bytes = fixture("text.sse");
    let terminal = bytes.windows(6).rposition(|w| w == b"data: ").unwrap();
    for cut in [0, 1, terminal / 2, terminal, terminal + 40, bytes.len() - 6] {
        let s = feed(&bytes[..cut], 7);
        assert_eq!(
            s.error.map(|e| e.kind()),
            Some(ErrorKind::TruncatedStream),
            "cut at {cut}"
        );
    }
    // The terminal chunk without its trailing blank line still completes the stream.
    let s = feed(&bytes[..bytes.len() - 2], 7);
    assert_eq!(s.error, None);
}

// ----------------------------------------------------------------------------- errors

struct ExpectedError {
    file: &'static str,
    status: u16,
    kind: ErrorKind,
    code: &'static str,
    message_starts: &'static str,
    retry_after: Option<RetryAfter>,
}

#[test]
fn error_fixtures() {
    let cases = [
        ExpectedError {
            file: "error_400.json",
            status: 400,
            kind: ErrorKind::InvalidRequest,
            code: "INVALID_ARGUMENT",
            message_starts: "Invalid JSON payload received. Unknown name \"additionalProperties\"",
            retry_after: None,
        },
        ExpectedError {
            file: "error_400_api_key.json",
            status: 400,
            kind: ErrorKind::Authentication,
            code: "INVALID_ARGUMENT",
            message_starts: "API key not valid. Please pass a valid API key.",
            retry_after: None,
        },
        ExpectedError {
            file: "error_400_context.json",
            status: 400,
            kind: ErrorKind::ContextLength,
            code: "INVALID_ARGUMENT",
            message_starts: "The input token count (1200293) exceeds the maximum",
            retry_after: None,
        },
        ExpectedError {
            file: "error_401.json",
            status: 401,
            kind: ErrorKind::Authentication,
            code: "UNAUTHENTICATED",
            message_starts: "Request had invalid authentication credentials.",
            retry_after: None,
        },
        ExpectedError {
            file: "error_429.json",
            status: 429,
            kind: ErrorKind::RateLimited,
            code: "RESOURCE_EXHAUSTED",
            message_starts:
                "You exceeded your current quota, please check your plan and billing details.",
            retry_after: Some(RetryAfter::Millis(31_000)),
        },
        ExpectedError {
            file: "error_429_quota.json",
            status: 429,
            kind: ErrorKind::QuotaExceeded,
            code: "RESOURCE_EXHAUSTED",
            message_starts:
                "You exceeded your current quota, please check your plan and billing details.",
            retry_after: Some(RetryAfter::Millis(38_542_000)),
        },
        ExpectedError {
            file: "error_500.json",
            status: 500,
            kind: ErrorKind::ServerError,
            code: "INTERNAL",
            message_starts: "An internal error has occurred.",
            retry_after: None,
        },
        ExpectedError {
            file: "error_503.json",
            status: 503,
            kind: ErrorKind::Overloaded,
            code: "UNAVAILABLE",
            message_starts: "The model is overloaded. Please try again later.",
            retry_after: None,
        },
        ExpectedError {
            file: "error_504.json",
            status: 504,
            kind: ErrorKind::Timeout,
            code: "DEADLINE_EXCEEDED",
            message_starts: "Deadline expired before operation could complete.",
            retry_after: None,
        },
    ];
    let hdrs = headers(&[("x-request-id", REQUEST_ID)]);
    for case in cases {
        let e = provider::decode_error(Provider::Gemini, case.status, &hdrs, &fixture(case.file));
        assert_eq!(e.kind(), case.kind, "{}", case.file);
        assert_eq!(e.provider(), Some(Provider::Gemini), "{}", case.file);
        assert_eq!(e.status(), Some(case.status), "{}", case.file);
        assert_eq!(e.provider_code(), Some(case.code), "{}", case.file);
        assert!(
            e.message().starts_with(case.message_starts),
            "{}: {}",
            case.file,
            e.message()
        );
        assert_eq!(e.request_id(), Some(REQUEST_ID), "{}", case.file);
        assert_eq!(e.retry_after(), case.retry_after, "{}", case.file);
        assert_eq!(e.usage(), None, "{}", case.file);
        if case.kind == ErrorKind::Timeout {
            assert_eq!(e.timeout_kind(), Some(TimeoutKind::Upstream));
        }
        // `decode` of the same answer gives the same error.
        let response = HttpResponse {
            status: case.status,
            headers: hdrs.clone(),
            body: fixture(case.file),
        };
        assert_eq!(
            provider::decode(Provider::Gemini, &response).unwrap_err(),
            e,
            "{}",
            case.file
        );
    }
}

#[test]
fn the_daily_quota_is_not_retryable_but_the_per_minute_limit_is() {
    let hdrs = Headers::new();
    assert!(
        provider::decode_error(Provider::Gemini, 429, &hdrs, &fixture("error_429.json"))
            .is_retryable()
    );
    assert!(!provider::decode_error(
        Provider::Gemini,
        429,
        &hdrs,
        &fixture("error_429_quota.json")
    )
    .is_retryable());
}

#[test]
fn retry_after_header_is_the_fallback_when_the_body_has_no_retry_info() {
    let hdrs = headers(&[("retry-after", "5")]);
    let e = provider::decode_error(Provider::Gemini, 503, &hdrs, &fixture("error_503.json"));
    assert_eq!(e.retry_after(), Some(RetryAfter::Millis(5_000)));
    assert_eq!(e.request_id(), None);
    // RetryInfo wins over the header.
    let hdrs = headers(&[("retry-after", "5")]);
    let e = provider::decode_error(Provider::Gemini, 429, &hdrs, &fixture("error_429.json"));
    assert_eq!(e.retry_after(), Some(RetryAfter::Millis(31_000)));
}

// ----------------------------------------------------------------------------- both directions

/// A response's tool calls go back on the next turn with their thought signatures, and results
/// that do not name their tool are matched to the call by id.
#[test]
fn a_decoded_tool_call_round_trips_into_the_next_request() {
    let first = whole("multi_block.json");
    let mut request = Request::new(
        "gemini/gemini-2.5-flash",
        vec![Message::user("Weather in Paris and London?")],
    );
    request.messages.push(Message {
        role: Role::Assistant,
        content: first.content.clone(),
    });
    request.messages.push(Message {
        role: Role::User,
        content: first
            .tool_calls()
            .iter()
            .map(|call| ContentPart::ToolResult {
                call_id: call.id.clone(),
                name: None,
                content: json!({"city": call.arguments["city"], "temp_c": 17}).to_string(),
                is_error: false,
                cache: None,
            })
            .collect(),
    });
    let config = ProviderConfig {
        api_key: Some("AIzaSyTEST".into()),
        ..ProviderConfig::default()
    };
    let encoded = provider::encode(
        Provider::Gemini,
        "gemini-2.5-flash",
        &request,
        &config,
        true,
    )
    .unwrap();
    let body: Value = serde_json::from_str(encoded.http.body.as_deref().unwrap()).unwrap();
    let ContentPart::ToolCall {
        signature: Some(signature),
        ..
    } = &first.content[2]
    else {
        unreachable!()
    };
    assert_eq!(
        body["contents"][1],
        json!({"role": "model", "parts": [
            {"text": "I'll look up the current weather in both cities."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}}, "thoughtSignature": signature},
            {"functionCall": {"name": "get_weather", "args": {"city": "London", "unit": "celsius"}}}
        ]})
    );
    assert_eq!(
        body["contents"][2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"city": "Paris", "temp_c": 17}}},
            {"functionResponse": {"name": "get_weather", "response": {"city": "London", "temp_c": 17}}}
        ]})
    );
    // The thought summary could not go back: said so, not dropped silently.
    assert_eq!(encoded.warnings.len(), 1);
    assert_eq!(encoded.warnings[0].setting, "messages");
}
