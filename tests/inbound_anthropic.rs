//! The Anthropic server face (`provider::anthropic::inbound`): request bodies as the official
//! `@anthropic-ai/sdk` sends them decode to the unified request field by field, malformed
//! bodies are invalid requests naming their field, and every recorded Anthropic answer survives
//! a round trip through the encoder and the client-direction decoder. The cross-format cases
//! re-encode OpenAI answers as Anthropic ones.
use llm_edge::core::error::{Error, ErrorKind};
use llm_edge::core::event::StreamEvent;
use llm_edge::core::http::Headers;
use llm_edge::core::model::{
    CacheTtl, ContentPart, FinishKind, FinishReason, Message, Provider, ResponseFormat, Role,
    SystemBlock, ToolChoice, ToolDefinition, Usage,
};
use llm_edge::core::provider;
use llm_edge::core::provider::anthropic::inbound::{
    decode_request, encode_error, encode_response, StreamEncoder,
};
use llm_edge::core::provider::inbound::{invalid_param, InboundRequest};
use serde_json::{json, Value};
use support::inbound::*;

mod support;

const P: Provider = Provider::Anthropic;

// ------------------------------------------------------------------------------ helpers

fn decode(body: Value) -> InboundRequest {
    decode_request(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn encode_stream(events: &[StreamEvent]) -> String {
    let mut encoder = StreamEncoder::new("claude-haiku-4-5", 1_754_904_000, true, "");
    let mut out = String::new();
    for event in events {
        encoder.event(event, &mut out);
    }
    out
}

/// The (event name, data) frames of an Anthropic-format SSE text, each checked to name its
/// data's `type`.
fn frames(sse: &str) -> Vec<(String, Value)> {
    sse.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            let (event, data) = frame
                .split_once('\n')
                .expect("an event line and a data line");
            let name = event
                .strip_prefix("event: ")
                .expect("event line")
                .to_string();
            let data: Value =
                serde_json::from_str(data.strip_prefix("data: ").expect("data line")).unwrap();
            assert_eq!(data["type"], name.as_str(), "{frame}");
            (name, data)
        })
        .collect()
}

fn text_block(text: &str, cache: Option<CacheTtl>) -> ContentPart {
    ContentPart::Text {
        text: text.into(),
        cache,
    }
}

// ---------------------------------------------------------------- requests as the SDK sends them

#[test]
fn a_streamed_message_with_sampling_settings_and_a_user_id() {
    let inbound = decode(json!({
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Hello, Claude"}],
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["\n\nHuman:", "END"],
        "metadata": {"user_id": "user-7"},
        "stream": true
    }));
    assert!(inbound.stream && inbound.include_usage);
    assert_eq!(inbound.model, "claude-haiku-4-5");
    assert!(inbound.ignored.is_empty(), "{:?}", inbound.ignored);
    let r = inbound.request;
    assert_eq!(r.model, "claude-haiku-4-5");
    assert_eq!(
        r.system,
        [SystemBlock {
            text: "You are terse.".into(),
            cache: None
        }]
    );
    assert_eq!(r.messages, [Message::user("Hello, Claude")]);
    assert_eq!(r.max_tokens, Some(1024));
    assert_eq!(
        (r.temperature, r.top_p, r.top_k),
        (Some(0.5), Some(0.9), Some(40))
    );
    assert_eq!(r.stop, ["\n\nHuman:", "END"]);
    assert_eq!(r.metadata.end_user_id.as_deref(), Some("user-7"));
    assert!(r.tools.is_empty());
    assert_eq!((r.tool_choice, r.response_format), (None, None));

    let plain = decode(
        json!({"model": "anthropic/claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
    );
    assert!(!plain.stream && plain.include_usage);
    assert_eq!(plain.model, "anthropic/claude-sonnet-4-6");
}

#[test]
fn cache_markers_on_system_blocks_tools_and_content() {
    let inbound = decode(json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 2048,
        "system": [
            {"type": "text", "text": "You are a contracts assistant.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
            {"type": "text", "text": "Today is Monday."}
        ],
        "tools": [
            {"name": "search_clauses", "description": "Full-text search", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
             "cache_control": {"type": "ephemeral"}}
        ],
        "tool_choice": {"type": "any"},
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "<contract>...</contract>", "cache_control": {"type": "ephemeral", "ttl": "5m"}},
            {"type": "text", "text": "What is the notice period?"}
        ]}]
    }));
    let r = &inbound.request;
    assert_eq!(
        r.system,
        [
            SystemBlock {
                text: "You are a contracts assistant.".into(),
                cache: Some(CacheTtl::OneHour)
            },
            SystemBlock {
                text: "Today is Monday.".into(),
                cache: None
            },
        ]
    );
    assert_eq!(
        r.tools,
        [ToolDefinition {
            name: "search_clauses".into(),
            description: Some("Full-text search".into()),
            parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
            cache: Some(CacheTtl::FiveMinutes),
        }]
    );
    assert_eq!(r.tool_choice, Some(ToolChoice::Required));
    assert_eq!(
        r.messages[0].content,
        [
            text_block("<contract>...</contract>", Some(CacheTtl::FiveMinutes)),
            text_block("What is the notice period?", None),
        ]
    );
    assert!(inbound.ignored.is_empty(), "{:?}", inbound.ignored);
}

#[test]
fn a_multi_turn_conversation_with_thinking_tool_use_results_and_an_image() {
    let inbound = decode(json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [
            {"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}},
                {"type": "text", "text": "Where was this taken? Check the weather there."}
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Looks like Paris.", "signature": "EuYBCkQYAiJA"},
                {"type": "redacted_thinking", "data": "EmwKAhgB"},
                {"type": "text", "text": "That is Paris."},
                {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18°C, sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": [{"type": "text", "text": "12:"}, {"type": "text", "text": "00"}], "is_error": false},
                {"type": "text", "text": "And tomorrow?"}
            ]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_03", "name": "get_weather", "input": {"city": "Paris", "day": 1}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_03", "is_error": true, "content": "service down"}]}
        ],
        "tools": [
            {"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}, "day": {"type": "integer"}}}},
            {"type": "custom", "name": "get_time", "input_schema": {"type": "object"}}
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true}
    }));
    let result = |id: &str, name: &str, content: &str, is_error: bool| ContentPart::ToolResult {
        call_id: id.into(),
        name: Some(name.into()),
        content: content.into(),
        is_error,
        cache: None,
    };
    let call = |id: &str, name: &str, arguments: Value| ContentPart::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments,
        signature: None,
    };
    assert_eq!(
        inbound.request.messages,
        [
            Message {
                role: Role::User,
                content: vec![
                    ContentPart::Image {
                        media_type: "image/jpeg".into(),
                        data: "/9j/4AAQ".into(),
                        cache: None
                    },
                    ContentPart::text("Where was this taken? Check the weather there."),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Reasoning {
                        text: "Looks like Paris.".into(),
                        signature: Some("EuYBCkQYAiJA".into())
                    },
                    ContentPart::text("That is Paris."),
                    call("toolu_01", "get_weather", json!({"city": "Paris"})),
                    call("toolu_02", "get_time", json!({})),
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    result("toolu_01", "get_weather", "18°C, sunny", false),
                    result("toolu_02", "get_time", "12:00", false),
                    ContentPart::text("And tomorrow?"),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![call(
                    "toolu_03",
                    "get_weather",
                    json!({"city": "Paris", "day": 1})
                )],
            },
            Message {
                role: Role::User,
                content: vec![result("toolu_03", "get_weather", "service down", true)]
            },
        ]
    );
    assert_eq!(inbound.request.tool_choice, Some(ToolChoice::Auto));
    assert_eq!(inbound.request.tools.len(), 2);
    let ignored: Vec<&str> = inbound.ignored.iter().map(|w| w.setting.as_str()).collect();
    assert_eq!(
        ignored,
        [
            "messages.content.redacted_thinking",
            "tool_choice.disable_parallel_tool_use",
            "thinking"
        ]
    );
}

#[test]
fn structured_output_and_a_forced_tool() {
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false});
    let inbound = decode(json!({
        "model": "claude-sonnet-4-5", "max_tokens": 256,
        "messages": [{"role": "user", "content": "Which city?"}],
        "output_format": {"type": "json_schema", "schema": schema}
    }));
    assert_eq!(
        inbound.request.response_format,
        Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: schema.clone(),
            strict: true
        })
    );
    let inbound = decode(json!({
        "model": "claude-sonnet-4-5", "max_tokens": 256,
        "messages": [{"role": "user", "content": "Which city?"}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}, "effort": "low"},
        "tools": [{"name": "pick", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "pick"}
    }));
    assert!(matches!(
        inbound.request.response_format,
        Some(ResponseFormat::JsonSchema { .. })
    ));
    assert_eq!(
        inbound.request.tool_choice,
        Some(ToolChoice::Tool {
            name: "pick".into()
        })
    );
    assert_eq!(inbound.ignored[0].setting, "output_config.effort");
}

// ------------------------------------------------------------------------ malformed bodies

#[test]
fn malformed_bodies_are_invalid_requests_naming_their_field() {
    let hi = json!([{"role": "user", "content": "Hi"}]);
    let m = "claude-haiku-4-5";
    let cases: Vec<(Value, &str)> = vec![
        (json!("hello"), ""),
        (json!({"max_tokens": 10, "messages": hi}), "model"),
        (json!({"model": m, "messages": hi}), "max_tokens"),
        (
            json!({"model": m, "max_tokens": -1, "messages": hi}),
            "max_tokens",
        ),
        (
            json!({"model": m, "max_tokens": "100", "messages": hi}),
            "max_tokens",
        ),
        (json!({"model": m, "max_tokens": 10}), "messages"),
        (
            json!({"model": m, "max_tokens": 10, "messages": []}),
            "messages",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "system", "content": "x"}]}),
            "messages.0.role",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user"}]}),
            "messages.0.content",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": 7}]}),
            "messages.2.content",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "video"}]}]}),
            "messages.0.content.0.type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": [{"text": "no type"}]}]}),
            "messages.0.content.0.type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]}),
            "messages.0.content.0.type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}}]}]}),
            "messages.0.content.0.source.type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": "AAAA"}}]}]}),
            "messages.0.content.0.source.media_type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]}),
            "messages.0.content.0",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]}]}),
            "messages.0.content.0.input",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]}),
            "messages.1.content.0.tool_use_id",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image", "source": {}}]}]}]}),
            "messages.0.content.0.content.0.type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm"}]}]}),
            "messages.0.content.0.signature",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": [{"role": "user", "content": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "2h"}}]}]}),
            "messages.0.content.0.cache_control.ttl",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "system": 3}),
            "system",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "system": [{"type": "image"}]}),
            "system.0.type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "tools": [{"name": "f"}]}),
            "tools.0.input_schema",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools.0.type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "tool_choice": {"type": "required"}}),
            "tool_choice.type",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "tool_choice": {"type": "tool"}}),
            "tool_choice.name",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "temperature": 1.5}),
            "temperature",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "top_k": -1}),
            "top_k",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "stop_sequences": "END"}),
            "stop_sequences",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "metadata": "user-7"}),
            "metadata",
        ),
        (
            json!({"model": m, "max_tokens": 10, "messages": hi, "output_format": {"type": "json_schema"}}),
            "output_format.schema",
        ),
    ];
    assert!(cases.len() >= 15);
    for (body, path) in cases {
        let err = decode_request(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{body}");
        let named = if path.is_empty() {
            "request body: "
        } else {
            path
        };
        assert!(
            err.message().starts_with(&format!(
                "{named}{}",
                if path.is_empty() { "" } else { ": " }
            )),
            "{body}: {}",
            err.message()
        );
        assert_eq!(
            invalid_param(&err),
            (!path.is_empty()).then_some(path),
            "{body}"
        );
        let (status, answer) = encode_error(&err);
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(status, 400);
        assert_eq!(
            answer,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": err.message()}})
        );
    }
}

#[test]
fn the_messages_read_like_anthropic_s() {
    let err = decode_request(
        br#"{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"x"}]}"#,
    )
    .unwrap_err();
    assert_eq!(err.message(), "max_tokens: Field required");
    let err = decode_request(br#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":7}]}"#).unwrap_err();
    assert_eq!(
        err.message(),
        "messages.2.content: expected a string or an array of content blocks, got an integer"
    );
    let err = decode_request(br#"{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]}]}"#).unwrap_err();
    assert_eq!(
        err.message(),
        "messages.0.content.0: `tool_use` blocks can only appear in assistant messages, not in user messages"
    );
    for body in [&b"{\"model\": "[..], b"", b"not json"] {
        let err = decode_request(body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(
            err.message()
                .starts_with("There was an error parsing the body of your request"),
            "{err}"
        );
    }
}

// ------------------------------------------------------------------------ round trips

#[test]
fn every_whole_fixture_survives_encoding_and_decoding_again() {
    for case in cases("anthropic", ".json") {
        let original = provider::decode(P, &success(&fixture_bytes("anthropic", &case))).unwrap();
        let encoded = encode_response(&original, "claude-haiku-4-5", 1);
        let body: Value = serde_json::from_str(&encoded).unwrap();
        assert_eq!(
            (&body["type"], &body["role"]),
            (&json!("message"), &json!("assistant")),
            "{case}"
        );
        assert_eq!(body["model"], "claude-haiku-4-5", "{case}");
        let again = provider::decode(P, &success(encoded.as_bytes())).unwrap();
        assert_eq!(again.id, original.id, "{case}");
        assert_same_answer(&again, &original, &case);
    }
}

#[test]
fn every_stream_fixture_survives_encoding_and_decoding_again() {
    for case in cases("anthropic", ".sse") {
        let (events, result) = parse_stream(P, &fixture_bytes("anthropic", &case));
        result.unwrap_or_else(|e| panic!("{case}: {e}"));
        let sse = encode_stream(&events);
        let (again, result) = parse_stream(P, sse.as_bytes());
        result.unwrap_or_else(|e| panic!("{case}: {e}\n{sse}"));
        assert_same_answer(&assemble(P, &again), &assemble(P, &events), &case);
        // The input and cache counts are known from the first event, as upstream sent them.
        let first_usage = |events: &[StreamEvent]| {
            events.iter().find_map(|e| match e {
                StreamEvent::Usage { usage } => Some(usage.total_input_tokens()),
                _ => None,
            })
        };
        assert_eq!(first_usage(&again), first_usage(&events), "{case}");
    }
}

#[test]
fn the_stream_is_framed_as_anthropic_frames_it() {
    let (events, _) = parse_stream(P, &fixture_bytes("anthropic", "multi_block.sse"));
    let frames = frames(&encode_stream(&events));
    let names: Vec<&str> = frames.iter().map(|(name, _)| name.as_str()).collect();
    let mut expected = vec!["message_start", "content_block_start"];
    expected.extend(["content_block_delta"; 4]); // three thinking pieces and the signature
    expected.extend([
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
    ]);
    expected.extend([
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
    ]);
    expected.extend(["message_delta", "message_stop"]);
    assert_eq!(names, expected);
    let start = &frames[0].1["message"];
    assert_eq!(start["id"], "msg_01AqT8pVt3r4Fv5K3kQ9bH2m");
    assert_eq!(start["model"], "claude-haiku-4-5");
    assert_eq!(start["content"], json!([]));
    assert_eq!(
        start["usage"],
        json!({"input_tokens": 512, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 4})
    );
    // Blocks are numbered 0, 1, 2 and each closes before the next opens.
    let indexes: Vec<u64> = frames
        .iter()
        .filter(|(name, _)| name.starts_with("content_block"))
        .map(|(_, data)| data["index"].as_u64().unwrap())
        .collect();
    assert!(
        indexes.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1),
        "{indexes:?}"
    );
    assert_eq!(
        frames[1].1["content_block"],
        json!({"type": "thinking", "thinking": "", "signature": ""})
    );
    assert_eq!(
        frames[11].1["content_block"],
        json!({"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}})
    );
    assert_eq!(frames[12].1["delta"]["type"], "input_json_delta");
    let delta = &frames[frames.len() - 2].1;
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "tool_use", "stop_sequence": null})
    );
    assert_eq!(delta["usage"]["output_tokens"], 96);
}

#[test]
fn cache_writes_keep_their_ttl_split_through_the_stream() {
    let (events, _) = parse_stream(P, &fixture_bytes("anthropic", "cached_usage.sse"));
    let frames = frames(&encode_stream(&events));
    assert_eq!(
        frames[0].1["message"]["usage"],
        json!({"input_tokens": 21, "cache_creation_input_tokens": 1536, "cache_read_input_tokens": 10240,
               "cache_creation": {"ephemeral_5m_input_tokens": 512, "ephemeral_1h_input_tokens": 1024}, "output_tokens": 1})
    );
    let (again, _) = parse_stream(P, encode_stream(&events).as_bytes());
    assert_eq!(
        assemble(P, &again).usage,
        Usage {
            input_tokens: Some(21),
            cache_read_tokens: Some(10240),
            cache_write_5m_tokens: Some(512),
            cache_write_1h_tokens: Some(1024),
            output_tokens: Some(19),
            reasoning_tokens: None,
        }
    );
}

#[test]
fn a_failure_midway_ends_with_an_error_event_and_no_message_stop() {
    for (case, kind) in [
        ("in_stream_error.sse", ErrorKind::Overloaded),
        ("truncated.sse", ErrorKind::ServerError),
    ] {
        let (events, result) = parse_stream(P, &fixture_bytes("anthropic", case));
        let error = result.unwrap_err();
        let mut encoder = StreamEncoder::new("claude-haiku-4-5", 1, true, "msg_x");
        let mut sse = String::new();
        for event in &events {
            encoder.event(event, &mut sse);
        }
        encoder.error(&error, &mut sse);
        encoder.event(
            &StreamEvent::Finish {
                reason: FinishReason::new(FinishKind::Stop, "end_turn"),
                usage: Usage::default(),
            },
            &mut sse,
        );
        let frames = frames(&sse);
        let names: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.last(), Some(&"error"), "{case}");
        assert!(
            !names.contains(&"message_stop") && !names.contains(&"message_delta"),
            "{case}"
        );
        let (again, result) = parse_stream(P, sse.as_bytes());
        let failure = result.unwrap_err();
        assert_eq!(failure.kind(), kind, "{case}");
        assert_eq!(failure.message(), error.message(), "{case}");
        // What was streamed before the failure reached the client, usage included.
        let partial = |events: &[StreamEvent]| -> String {
            events
                .iter()
                .filter_map(|e| match e {
                    StreamEvent::TextDelta { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect()
        };
        assert!(!partial(&again).is_empty());
        assert_eq!(partial(&again), partial(&events), "{case}");
        assert_eq!(failure.usage(), error.usage(), "{case}");
    }
}

#[test]
fn interleaved_tool_call_fragments_end_the_stream_with_an_error_rather_than_wrong_arguments() {
    let mut encoder = StreamEncoder::new("claude-haiku-4-5", 1, true, "msg_x");
    let mut sse = String::new();
    for event in [
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_a".into(),
            name: "a".into(),
        },
        StreamEvent::ToolCallDelta {
            index: 0,
            arguments_delta: "{\"x\":".into(),
        },
        StreamEvent::ToolCallStart {
            index: 1,
            id: "call_b".into(),
            name: "b".into(),
        },
        StreamEvent::ToolCallDelta {
            index: 0,
            arguments_delta: "1}".into(),
        },
        StreamEvent::ToolCallDelta {
            index: 1,
            arguments_delta: "{}".into(),
        },
    ] {
        encoder.event(&event, &mut sse);
    }
    // The client sees a failed stream: the first call's block closed with half its arguments
    // (which a reader refuses), then the error event says why.
    assert!(parse_stream(P, sse.as_bytes()).1.is_err());
    let (name, data) = frames(&sse).pop().unwrap();
    assert_eq!(name, "error");
    assert!(
        data["error"]["message"]
            .as_str()
            .unwrap()
            .contains("interleaved"),
        "{data}"
    );
    assert!(!sse.contains("\"partial_json\":\"1}\""), "{sse}");
}

#[test]
fn a_tool_call_whose_arguments_were_never_streamed_still_carries_them() {
    // A call that only starts and ends (arguments whole at the end), and one that only ends.
    let end = |index: u32, id: &str, arguments: Value| StreamEvent::ToolCallEnd {
        index,
        id: id.into(),
        name: "f".into(),
        arguments,
        signature: None,
    };
    let mut encoder = StreamEncoder::new("claude-haiku-4-5", 1, true, "msg_x");
    let mut sse = String::new();
    for event in [
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_a".into(),
            name: "f".into(),
        },
        end(0, "call_a", json!({"x": 1})),
        end(1, "call_b", json!({"y": [true]})),
        StreamEvent::Finish {
            reason: FinishReason::new(FinishKind::ToolCalls, "tool_calls"),
            usage: Usage::default(),
        },
    ] {
        encoder.event(&event, &mut sse);
    }
    let (events, result) = parse_stream(P, sse.as_bytes());
    result.unwrap();
    let calls = assemble(P, &events).tool_calls();
    let arguments: Vec<&Value> = calls.iter().map(|c| &c.arguments).collect();
    assert_eq!(arguments, [&json!({"x": 1}), &json!({"y": [true]})]);
    assert_eq!(calls[1].id, "call_b");
}

#[test]
fn an_empty_answer_still_opens_and_closes_the_message() {
    let mut encoder = StreamEncoder::new("claude-haiku-4-5", 7, true, "");
    let mut sse = String::new();
    encoder.event(
        &StreamEvent::Start {
            id: None,
            model: None,
        },
        &mut sse,
    );
    encoder.event(
        &StreamEvent::Finish {
            reason: FinishReason::new(FinishKind::Length, "length"),
            usage: Usage::default(),
        },
        &mut sse,
    );
    let frames = frames(&sse);
    let names: Vec<&str> = frames.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["message_start", "message_delta", "message_stop"]);
    assert_eq!(frames[0].1["message"]["id"], "msg_7");
    assert_eq!(frames[1].1["delta"]["stop_reason"], "max_tokens");
    // Nothing was reported: the required counts are 0, the nullable ones null.
    assert_eq!(
        frames[1].1["usage"],
        json!({"output_tokens": 0, "input_tokens": null, "cache_creation_input_tokens": null, "cache_read_input_tokens": null})
    );
}

// ------------------------------------------------------------------------ cross-format

/// Anthropic's format has no reasoning-token count; the other classes cross unchanged.
fn without_reasoning_count(usage: &Usage) -> Usage {
    Usage {
        reasoning_tokens: None,
        ..*usage
    }
}

#[test]
fn openai_streams_re_encoded_as_anthropic_streams_keep_text_tool_calls_and_usage() {
    for case in cases("openai", ".sse") {
        let (events, result) = parse_stream(Provider::OpenAi, &fixture_bytes("openai", &case));
        result.unwrap_or_else(|e| panic!("{case}: {e}"));
        let original = assemble(Provider::OpenAi, &events);
        let sse = encode_stream(&events);
        let (again, result) = parse_stream(P, sse.as_bytes());
        result.unwrap_or_else(|e| panic!("{case}: {e}\n{sse}"));
        let crossed = assemble(P, &again);
        assert_eq!(crossed.content, original.content, "{case}");
        assert_eq!(
            crossed.finish_reason.unified, original.finish_reason.unified,
            "{case}"
        );
        assert_eq!(
            crossed.usage,
            without_reasoning_count(&original.usage),
            "{case}"
        );
    }
}

#[test]
fn openai_and_gemini_answers_re_encoded_as_anthropic_messages() {
    for (provider, name) in [(Provider::OpenAi, "openai"), (Provider::Gemini, "gemini")] {
        for case in cases(name, ".json") {
            let original =
                provider::decode(provider, &success(&fixture_bytes(name, &case))).unwrap();
            let crossed =
                provider::decode(P, &success(encode_response(&original, "m", 1).as_bytes()))
                    .unwrap();
            // Gemini's call signatures have no place in Anthropic's `tool_use`.
            let expected: Vec<ContentPart> = original
                .content
                .iter()
                .map(|part| match part {
                    ContentPart::ToolCall {
                        id,
                        name,
                        arguments,
                        ..
                    } => ContentPart::ToolCall {
                        id: id.clone(),
                        name: name.clone(),
                        arguments: arguments.clone(),
                        signature: None,
                    },
                    other => other.clone(),
                })
                .collect();
            assert_eq!(crossed.content, expected, "{name}/{case}");
            assert_eq!(
                crossed.finish_reason.unified, original.finish_reason.unified,
                "{name}/{case}"
            );
            assert_eq!(
                crossed.usage,
                without_reasoning_count(&original.usage),
                "{name}/{case}"
            );
        }
    }
}

// ------------------------------------------------------------------------------ errors

#[test]
fn every_error_kind_has_a_status_and_type_the_sdk_understands() {
    let cases = [
        (
            ErrorKind::InvalidRequest,
            400,
            "invalid_request_error",
            ErrorKind::InvalidRequest,
        ),
        (
            ErrorKind::Authentication,
            401,
            "authentication_error",
            ErrorKind::Authentication,
        ),
        (
            ErrorKind::Permission,
            403,
            "permission_error",
            ErrorKind::Permission,
        ),
        (
            ErrorKind::NotFound,
            404,
            "not_found_error",
            ErrorKind::NotFound,
        ),
        (
            ErrorKind::RateLimited,
            429,
            "rate_limit_error",
            ErrorKind::RateLimited,
        ),
        (
            ErrorKind::QuotaExceeded,
            402,
            "billing_error",
            ErrorKind::QuotaExceeded,
        ),
        (
            ErrorKind::BudgetExceeded,
            402,
            "billing_error",
            ErrorKind::QuotaExceeded,
        ),
        (
            ErrorKind::Overloaded,
            529,
            "overloaded_error",
            ErrorKind::Overloaded,
        ),
        (
            ErrorKind::ServerError,
            500,
            "api_error",
            ErrorKind::ServerError,
        ),
        (ErrorKind::Timeout, 504, "timeout_error", ErrorKind::Timeout),
        (
            ErrorKind::InvalidResponse,
            502,
            "api_error",
            ErrorKind::ServerError,
        ),
        (
            ErrorKind::Cancelled,
            499,
            "invalid_request_error",
            ErrorKind::InvalidRequest,
        ),
    ];
    for (kind, status, type_name, read_back) in cases {
        let (got, body) = encode_error(&Error::new(kind, "what happened"));
        assert_eq!(got, status, "{kind:?}");
        let value: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            value,
            json!({"type": "error", "error": {"type": type_name, "message": "what happened"}}),
            "{kind:?}"
        );
        assert_eq!(
            provider::decode_error(P, got, &Headers::new(), body.as_bytes()).kind(),
            read_back,
            "{kind:?}"
        );
    }
    // A context-length error reads back as one: the message says so.
    let too_long = Error::new(
        ErrorKind::ContextLength,
        "prompt is too long: 210000 tokens > 200000 maximum",
    );
    let (status, body) = encode_error(&too_long);
    assert_eq!(
        provider::decode_error(P, status, &Headers::new(), body.as_bytes()).kind(),
        ErrorKind::ContextLength
    );
}

#[test]
fn anthropic_upstream_errors_pass_through_and_others_are_translated() {
    let recorded = |name: &str, status: u16| {
        provider::decode_error(
            P,
            status,
            &Headers::new(),
            &fixture_bytes("anthropic", name),
        )
    };
    // A spend limit: Anthropic's own 429 stays what it was, request id included.
    let quota = recorded("error_429_quota.json", 429);
    assert_eq!(quota.kind(), ErrorKind::QuotaExceeded);
    let (status, body) = encode_error(&quota);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(status, 429);
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(body["request_id"], json!(quota.request_id().unwrap()));
    let (status, body) = encode_error(&recorded("error_529.json", 529));
    assert_eq!(
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap()["error"]["type"].clone()
        ),
        (529, json!("overloaded_error"))
    );
    // The upstream refused the proxy's key: a gateway error, not the client's 401.
    let (status, body) = encode_error(&recorded("error_401.json", 401));
    assert_eq!(status, 502);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"]["type"],
        "api_error"
    );
    // OpenAI's quota error crosses as a billing error; its masked key does not cross at all.
    let openai_quota = provider::decode_error(
        Provider::OpenAi,
        429,
        &Headers::new(),
        &fixture_bytes("openai", "error_429_quota.json"),
    );
    assert_eq!(encode_error(&openai_quota).0, 402);
    let openai_key = provider::decode_error(
        Provider::OpenAi,
        401,
        &Headers::new(),
        &fixture_bytes("openai", "error_401.json"),
    );
    assert!(!encode_error(&openai_key).1.contains("sk-proj"));
    // Gemini's 503 means overloaded in every API, as does a 422 invalid.
    let gemini_busy = provider::decode_error(
        Provider::Gemini,
        503,
        &Headers::new(),
        &fixture_bytes("gemini", "error_503.json"),
    );
    let (status, body) = encode_error(&gemini_busy);
    assert_eq!(
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap()["error"]["type"].clone()
        ),
        (503, json!("overloaded_error"))
    );
    let unprocessable = Error::new(ErrorKind::InvalidRequest, "x")
        .with_provider(Provider::OpenAi)
        .with_status(422);
    assert_eq!(encode_error(&unprocessable).0, 422);
}
