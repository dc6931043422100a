//! The OpenAI server face (`provider::openai::inbound`): request bodies as the official
//! `openai` SDKs send them decode to the unified request field by field, malformed bodies are
//! invalid requests naming their field, and every recorded OpenAI answer survives a round trip
//! through the encoder and the client-direction decoder. The cross-format case re-encodes
//! Anthropic streams as OpenAI streams.
use llm_edge::core::error::{Error, ErrorKind, RetryAfter};
use llm_edge::core::event::StreamEvent;
use llm_edge::core::http::Headers;
use llm_edge::core::model::{
    CacheTtl, ContentPart, FinishKind, FinishReason, Message, Provider, ResponseFormat, Role,
    SystemBlock, ToolChoice, ToolDefinition, Usage,
};
use llm_edge::core::provider;
use llm_edge::core::provider::inbound::{invalid_param, InboundRequest};
use llm_edge::core::provider::openai::inbound::{
    decode_request, encode_error, encode_response, StreamEncoder,
};
use serde_json::{json, Value};
use support::inbound::*;

mod support;

const P: Provider = Provider::OpenAi;

// ------------------------------------------------------------------------------ helpers

fn decode(body: Value) -> InboundRequest {
    decode_request(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn encode_stream(events: &[StreamEvent], include_usage: bool) -> String {
    let mut encoder = StreamEncoder::new("gpt-4o-mini", 1_754_904_000, include_usage, "");
    let mut out = String::new();
    for event in events {
        encoder.event(event, &mut out);
    }
    out
}

/// The JSON payloads of an OpenAI-format SSE text (`[DONE]` as the string "[DONE]").
fn payloads(sse: &str) -> Vec<Value> {
    sse.split("\n\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            let data = frame
                .strip_prefix("data: ")
                .expect("every frame is one data line");
            assert!(!data.contains('\n'), "{frame}");
            serde_json::from_str(data).unwrap_or(Value::String(data.to_string()))
        })
        .collect()
}

// ---------------------------------------------------------------- requests as SDKs send them

#[test]
fn a_streamed_chat_with_system_and_developer_messages() {
    let inbound = decode(json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hi"}
        ],
        "max_completion_tokens": 256,
        "temperature": 0.2,
        "stream": true,
        "stream_options": {"include_usage": true}
    }));
    assert!(inbound.stream && inbound.include_usage);
    assert_eq!(inbound.model, "gpt-4o-mini");
    assert!(inbound.ignored.is_empty(), "{:?}", inbound.ignored);
    let r = inbound.request;
    assert_eq!(r.model, "gpt-4o-mini");
    assert_eq!(
        r.system,
        [
            SystemBlock {
                text: "You are terse.".into(),
                cache: None
            },
            SystemBlock {
                text: "Answer in French.".into(),
                cache: None
            },
        ]
    );
    assert_eq!(r.messages, [Message::user("Hi")]);
    assert_eq!(r.max_tokens, Some(256));
    assert_eq!(r.temperature, Some(0.2));
    assert_eq!((r.top_p, r.top_k), (None, None));
    assert!(r.stop.is_empty() && r.tools.is_empty());
    assert_eq!((r.tool_choice, r.response_format), (None, None));
    assert_eq!(r.metadata.end_user_id, None);
}

#[test]
fn a_stream_without_include_usage_and_a_plain_call() {
    let streamed = decode(
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": true}),
    );
    assert!(streamed.stream && !streamed.include_usage);
    // `include_usage` means nothing without a stream.
    let plain = decode(
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}],
        "stream": false, "stream_options": {"include_usage": true}}),
    );
    assert!(!plain.stream && !plain.include_usage);
    let defaulted =
        decode(json!({"model": "auto", "messages": [{"role": "user", "content": "Hi"}]}));
    assert!(!defaulted.stream);
    assert_eq!(defaulted.model, "auto");
}

#[test]
fn tools_and_a_multi_turn_conversation_with_parallel_tool_results() {
    let inbound = decode(json!({
        "model": "anthropic/claude-sonnet-4-6",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "4°C, "}, {"type": "text", "text": "snow"}]},
            {"role": "user", "content": "Which is warmer?"},
            {"role": "assistant", "content": "Paris.", "tool_calls": [
                {"id": "call_3", "type": "function", "function": {"name": "get_time", "arguments": ""}}
            ]},
            {"role": "tool", "tool_call_id": "call_3", "content": "12:00"}
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": true}},
            {"type": "function", "function": {"name": "get_time"}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": false,
        "user": "user-7"
    }));
    let r = &inbound.request;
    let result = |id: &str, name: &str, content: &str| ContentPart::ToolResult {
        call_id: id.into(),
        name: Some(name.into()),
        content: content.into(),
        is_error: false,
        cache: None,
    };
    let call = |id: &str, name: &str, arguments: Value| ContentPart::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments,
        signature: None,
    };
    assert_eq!(
        r.messages,
        [
            Message::user("Weather in Paris and Oslo?"),
            Message {
                role: Role::Assistant,
                content: vec![
                    call("call_1", "get_weather", json!({"city": "Paris"})),
                    call("call_2", "get_weather", json!({"city": "Oslo"})),
                ],
            },
            // Consecutive tool messages share one user turn.
            Message {
                role: Role::User,
                content: vec![
                    result("call_1", "get_weather", "18°C, sunny"),
                    result("call_2", "get_weather", "4°C, snow"),
                ],
            },
            Message::user("Which is warmer?"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::text("Paris."),
                    call("call_3", "get_time", json!({}))
                ],
            },
            Message {
                role: Role::User,
                content: vec![result("call_3", "get_time", "12:00")]
            },
        ]
    );
    assert_eq!(
        r.tools,
        [
            ToolDefinition {
                name: "get_weather".into(),
                description: Some("Current weather".into()),
                parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
                cache: None,
            },
            ToolDefinition {
                name: "get_time".into(),
                description: None,
                parameters: json!({"type": "object", "properties": {}}),
                cache: None,
            },
        ]
    );
    assert_eq!(
        r.tool_choice,
        Some(ToolChoice::Tool {
            name: "get_weather".into()
        })
    );
    assert_eq!(r.metadata.end_user_id.as_deref(), Some("user-7"));
    let ignored: Vec<&str> = inbound.ignored.iter().map(|w| w.setting.as_str()).collect();
    assert_eq!(ignored, ["tools[].function.strict", "parallel_tool_calls"]);
}

#[test]
fn images_as_data_urls_with_text() {
    let inbound = decode(json!({
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
        ]}],
        "max_tokens": 300
    }));
    assert_eq!(
        inbound.request.messages[0].content,
        [
            ContentPart::text("What is in this image?"),
            ContentPart::Image {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into(),
                cache: None
            },
            ContentPart::Image {
                media_type: "image/jpeg".into(),
                data: "/9j/4AAQ".into(),
                cache: None
            },
        ]
    );
    assert_eq!(inbound.request.max_tokens, Some(300));
    assert_eq!(inbound.ignored.len(), 1);
    assert_eq!(
        inbound.ignored[0].setting,
        "messages[].content[].image_url.detail"
    );
}

#[test]
fn structured_output_stop_sequences_and_settings_not_honoured() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}},
                        "required": ["answer"], "additionalProperties": false});
    let inbound = decode(json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Capital of France?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": true}},
        "stop": "END",
        "max_tokens": 50,
        "max_completion_tokens": 60,
        "top_p": 0.9,
        "top_k": 40,
        "seed": 7,
        "frequency_penalty": 0,
        "presence_penalty": 0.5,
        "logprobs": false,
        "n": 1,
        "safety_identifier": "hash-42"
    }));
    let r = &inbound.request;
    assert_eq!(
        r.response_format,
        Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema,
            strict: true
        })
    );
    assert_eq!(r.stop, ["END"]);
    assert_eq!(r.max_tokens, Some(60));
    assert_eq!((r.top_p, r.top_k), (Some(0.9), Some(40)));
    assert_eq!(r.metadata.end_user_id.as_deref(), Some("hash-42"));
    let ignored: Vec<&str> = inbound.ignored.iter().map(|w| w.setting.as_str()).collect();
    // Defaults (`frequency_penalty: 0`, `logprobs: false`, `n: 1`) are no settings at all.
    assert_eq!(ignored, ["max_tokens", "presence_penalty", "seed"]);
    assert!(
        inbound.ignored[2].message.contains("ignored"),
        "{:?}",
        inbound.ignored[2]
    );

    let json_mode = decode(
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_object"}, "stop": ["a", "b"]}),
    );
    assert_eq!(
        json_mode.request.response_format,
        Some(ResponseFormat::Json)
    );
    assert_eq!(json_mode.request.stop, ["a", "b"]);
    // OpenAI's default strictness is off.
    let lax = decode(
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}}}),
    );
    assert!(matches!(
        lax.request.response_format,
        Some(ResponseFormat::JsonSchema { strict: false, .. })
    ));
}

#[test]
fn a_late_system_message_is_hoisted_and_cache_markers_are_read() {
    let inbound = decode(json!({
        "model": "anthropic/claude-haiku-4-5",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Long stable prefix", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
            {"role": "user", "content": [{"type": "text", "text": "Question", "cache_control": {"type": "ephemeral"}}]},
            {"role": "system", "content": "Be brief."},
            {"role": "assistant", "content": [{"type": "text", "text": "OK"}, {"type": "refusal", "refusal": " not that"}]}
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}, "cache_control": {"type": "ephemeral"}}]
    }));
    let r = &inbound.request;
    assert_eq!(
        r.system,
        [
            SystemBlock {
                text: "Long stable prefix".into(),
                cache: Some(CacheTtl::OneHour)
            },
            SystemBlock {
                text: "Be brief.".into(),
                cache: None
            },
        ]
    );
    assert_eq!(
        r.messages,
        [
            Message {
                role: Role::User,
                content: vec![ContentPart::Text {
                    text: "Question".into(),
                    cache: Some(CacheTtl::FiveMinutes)
                }],
            },
            Message {
                role: Role::Assistant,
                content: vec![ContentPart::text("OK"), ContentPart::text(" not that")],
            },
        ]
    );
    assert_eq!(r.tools[0].cache, Some(CacheTtl::FiveMinutes));
    assert_eq!(inbound.ignored.len(), 1);
    assert_eq!(inbound.ignored[0].setting, "messages[2].role");
}

// ------------------------------------------------------------------------ malformed bodies

#[test]
fn malformed_bodies_are_invalid_requests_naming_their_field() {
    let hi = json!([{"role": "user", "content": "Hi"}]);
    let cases: Vec<(Value, &str)> = vec![
        (json!([]), ""),
        (json!({"messages": hi}), "model"),
        (json!({"model": 4, "messages": hi}), "model"),
        (json!({"model": " ", "messages": hi}), "model"),
        (json!({"model": "gpt-4o"}), "messages"),
        (json!({"model": "gpt-4o", "messages": []}), "messages"),
        (json!({"model": "gpt-4o", "messages": "Hi"}), "messages"),
        (
            json!({"model": "gpt-4o", "messages": [{"content": "Hi"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "robot", "content": "Hi"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "function", "name": "f", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": 7}]}),
            "messages[2].content",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": []}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "video"}]}]}),
            "messages[0].content[1].type",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            "messages[0].content[0].text",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,rawbytes"}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "a"}, {"role": "assistant"}]}),
            "messages[1].content",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"model": "gpt-4o", "messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "tools": [{"type": "function"}]}),
            "tools[0].function",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "tools": [{"type": "custom", "custom": {"name": "x"}}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "tools": [{"type": "function", "function": {"name": "f", "parameters": "none"}}]}),
            "tools[0].function.parameters",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "tools": {"type": "function"}}),
            "tools",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "tool_choice": "sometimes"}),
            "tool_choice",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "max_completion_tokens": -5}),
            "max_completion_tokens",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "max_tokens": 0}),
            "max_tokens",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "max_tokens": 1.5}),
            "max_tokens",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "temperature": 3}),
            "temperature",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "top_p": "high"}),
            "top_p",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "stop": [1, 2]}),
            "stop[0]",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "response_format": {"type": "json_schema"}}),
            "response_format.json_schema",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "response_format": {"type": "yaml"}}),
            "response_format.type",
        ),
        (json!({"model": "gpt-4o", "messages": hi, "n": 3}), "n"),
        (
            json!({"model": "gpt-4o", "messages": hi, "functions": [{"name": "f"}]}),
            "functions",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "stream": "yes"}),
            "stream",
        ),
        (
            json!({"model": "gpt-4o", "messages": hi, "stream": true, "stream_options": {"include_usage": 1}}),
            "stream_options.include_usage",
        ),
    ];
    assert!(cases.len() >= 15);
    for (body, path) in cases {
        let err = decode_request(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{body}");
        let named = if path.is_empty() {
            "request body".to_string()
        } else {
            format!("'{path}'")
        };
        assert!(err.message().contains(&named), "{body}: {}", err.message());
        assert_eq!(
            invalid_param(&err),
            (!path.is_empty()).then_some(path),
            "{body}"
        );
        let (status, answer) = encode_error(&err);
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(status, 400);
        assert_eq!(answer["error"]["type"], "invalid_request_error");
        assert_eq!(
            answer["error"]["param"],
            if path.is_empty() {
                Value::Null
            } else {
                json!(path)
            }
        );
        assert_eq!(answer["error"]["message"], err.message());
    }
}

#[test]
fn bytes_that_are_not_json_are_an_invalid_request() {
    for body in [
        &b"{\"model\": \"gpt-4o\", \"messages\": ["[..],
        b"",
        b"\xff\xfe",
        b"model=gpt-4o",
    ] {
        let err = decode_request(body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(
            err.message().contains("could not parse the JSON body"),
            "{err}"
        );
        assert_eq!(invalid_param(&err), None);
        assert_eq!(encode_error(&err).0, 400);
    }
}

#[test]
fn the_messages_name_fields_as_openai_does() {
    let err = decode_request(br#"{"model":"gpt-4o","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":7}]}"#).unwrap_err();
    assert_eq!(
        err.message(),
        "Invalid type for 'messages[2].content': expected a string or an array of content parts, but got an integer instead."
    );
    let err = decode_request(br#"{"messages":[]}"#).unwrap_err();
    assert_eq!(err.message(), "Missing required parameter: 'model'.");
    let err = decode_request(br#"{"model":"gpt-4o","messages":[{"role":"robot","content":"x"}]}"#)
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Invalid 'messages[0].role': expected one of 'system', 'developer', 'user', 'assistant', 'tool', got 'robot'."
    );
    let err = decode_request(
        br#"{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"temperature":2.5}"#,
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Invalid 'temperature': number out of range; expected a value from 0 to 2, got 2.5."
    );
}

// ------------------------------------------------------------------------ round trips

/// What a client reads from a response: content, finish kind and usage by class.
#[test]
fn every_whole_fixture_survives_encoding_and_decoding_again() {
    for case in cases("openai", ".json") {
        let original = provider::decode(P, &success(&fixture_bytes("openai", &case))).unwrap();
        let encoded = encode_response(&original, "gpt-4o-mini", 1_754_904_211);
        let body: Value = serde_json::from_str(&encoded).unwrap();
        assert_eq!(body["object"], "chat.completion", "{case}");
        assert_eq!(body["model"], "gpt-4o-mini", "{case}");
        assert_eq!(body["created"], 1_754_904_211, "{case}");
        assert_eq!(body["choices"][0]["message"]["role"], "assistant", "{case}");
        let again = provider::decode(P, &success(encoded.as_bytes())).unwrap();
        assert_eq!(again.id, original.id, "{case}");
        assert_same_answer(&again, &original, &case);
    }
}

#[test]
fn every_stream_fixture_survives_encoding_and_decoding_again() {
    for case in cases("openai", ".sse") {
        let (events, result) = parse_stream(P, &fixture_bytes("openai", &case));
        result.unwrap_or_else(|e| panic!("{case}: {e}"));
        let sse = encode_stream(&events, true);
        let (again, result) = parse_stream(P, sse.as_bytes());
        result.unwrap_or_else(|e| panic!("{case}: {e}\n{sse}"));
        assert_same_answer(&assemble(P, &again), &assemble(P, &events), &case);
        // The same tool-call framing: a start per call, then its argument pieces.
        let calls = |events: &[StreamEvent]| -> Vec<StreamEvent> {
            events
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallEnd { .. }
                    )
                })
                .cloned()
                .collect()
        };
        assert_eq!(calls(&again), calls(&events), "{case}");
    }
}

#[test]
fn the_stream_is_framed_as_openai_frames_it() {
    let (events, _) = parse_stream(P, &fixture_bytes("openai", "tool_call.sse"));
    let sse = encode_stream(&events, true);
    let chunks = payloads(&sse);
    let first = &chunks[0];
    assert_eq!(first["object"], "chat.completion.chunk");
    assert_eq!(first["id"], "chatcmpl-C3xNd1YgT6bQ9wJ2kP7sV4hLmE8rZ");
    assert_eq!(first["model"], "gpt-4o-mini");
    assert_eq!(first["created"], 1_754_904_000);
    assert_eq!(
        first["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(first["usage"], Value::Null);
    assert!(
        first.get("usage").is_some(),
        "with include_usage every chunk has usage: null"
    );

    let fragments: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .map(|calls| &calls[0])
        .collect();
    assert_eq!(
        fragments[0],
        &json!({"index": 0, "id": "call_Zp3mK7wQ2xN9vB4tR8yH1sLc", "type": "function", "function": {"name": "search_flights", "arguments": ""}})
    );
    for fragment in &fragments[1..] {
        assert_eq!(fragment.as_object().unwrap().len(), 2, "{fragment}");
        assert!(
            fragment["function"].get("name").is_none()
                && fragment["function"]["arguments"].is_string()
        );
    }

    // The end: finish chunk, usage chunk, [DONE].
    let n = chunks.len();
    assert_eq!(chunks[n - 3]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(chunks[n - 3]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[n - 2]["choices"], json!([]));
    let usage = &chunks[n - 2]["usage"];
    assert_eq!(
        usage["prompt_tokens"].as_u64().unwrap(),
        usage["total_tokens"].as_u64().unwrap() - usage["completion_tokens"].as_u64().unwrap()
    );
    assert_eq!(chunks[n - 1], json!("[DONE]"));
    assert!(sse.ends_with("data: [DONE]\n\n"));
}

#[test]
fn without_include_usage_there_is_no_usage_chunk_and_no_usage_field() {
    let (events, _) = parse_stream(P, &fixture_bytes("openai", "cached_usage.sse"));
    let sse = encode_stream(&events, false);
    let chunks = payloads(&sse);
    assert!(chunks.iter().all(|c| c.get("usage").is_none()), "{sse}");
    assert!(chunks
        .iter()
        .all(|c| c.get("choices").is_none_or(|c| c != &json!([]))));
    assert_eq!(chunks.last(), Some(&json!("[DONE]")));
    let (again, result) = parse_stream(P, sse.as_bytes());
    result.unwrap();
    assert_eq!(assemble(P, &again).usage, Usage::default());
    assert_eq!(assemble(P, &again).text(), assemble(P, &events).text());
}

#[test]
fn usage_counts_prompt_tokens_with_the_cache_included() {
    let (events, _) = parse_stream(P, &fixture_bytes("openai", "cached_usage.sse"));
    let chunks = payloads(&encode_stream(&events, true));
    let usage = &chunks[chunks.len() - 2]["usage"];
    assert_eq!(
        usage,
        &json!({"prompt_tokens": 2306, "completion_tokens": 518, "total_tokens": 2824,
                "prompt_tokens_details": {"cached_tokens": 2048},
                "completion_tokens_details": {"reasoning_tokens": 448}})
    );
}

#[test]
fn a_failure_midway_ends_with_an_error_chunk_and_no_done() {
    // The recorded in-stream error, and a body cut short: both fail again after re-encoding.
    for case in ["in_stream_error.sse", "truncated.sse"] {
        let (events, result) = parse_stream(P, &fixture_bytes("openai", case));
        let error = result.unwrap_err();
        let mut encoder = StreamEncoder::new("gpt-4o-mini", 1, true, "chatcmpl-x");
        let mut sse = String::new();
        for event in &events {
            encoder.event(event, &mut sse);
        }
        encoder.error(&error, &mut sse);
        // Nothing after the error, not even a late finish.
        encoder.event(
            &StreamEvent::Finish {
                reason: FinishReason::new(FinishKind::Stop, "stop"),
                usage: Usage::default(),
            },
            &mut sse,
        );
        let frames = payloads(&sse);
        assert!(frames.iter().all(|frame| frame != "[DONE]"), "{case}");
        let last = frames.last().unwrap();
        assert_eq!(last["error"]["type"], "server_error", "{case}");
        let (again, result) = parse_stream(P, sse.as_bytes());
        let failure = result.unwrap_err();
        assert_eq!(failure.kind(), ErrorKind::ServerError, "{case}");
        assert_eq!(failure.message(), error.message(), "{case}");
        let text: String = again
            .iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        let original: String = events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert!(!text.is_empty() && text == original, "{case}");
    }
    // A classified failure keeps its kind through the in-stream error.
    let mut encoder = StreamEncoder::new("m", 1, false, "id");
    let mut sse = String::new();
    encoder.event(&StreamEvent::TextDelta { text: "Hi".into() }, &mut sse);
    encoder.error(
        &Error::new(ErrorKind::RateLimited, "slow down").with_provider(Provider::Anthropic),
        &mut sse,
    );
    assert_eq!(
        parse_stream(P, sse.as_bytes()).1.unwrap_err().kind(),
        ErrorKind::RateLimited
    );
}

// ------------------------------------------------------------------------ cross-format

/// Anthropic reports cache writes apart; OpenAI's prompt count holds them with the uncached
/// input, so that is where they land.
fn as_openai_usage(usage: &Usage) -> Usage {
    let writes =
        usage.cache_write_5m_tokens.unwrap_or(0) + usage.cache_write_1h_tokens.unwrap_or(0);
    Usage {
        input_tokens: usage.input_tokens.map(|input| input + writes),
        cache_read_tokens: usage.cache_read_tokens,
        output_tokens: usage.output_tokens,
        reasoning_tokens: usage.reasoning_tokens,
        ..Usage::default()
    }
}

/// Reasoning crosses without its signature (OpenAI's format has no place for it).
fn unsigned(content: &[ContentPart]) -> Vec<ContentPart> {
    content
        .iter()
        .map(|part| match part {
            ContentPart::Reasoning { text, .. } => ContentPart::Reasoning {
                text: text.clone(),
                signature: None,
            },
            other => other.clone(),
        })
        .collect()
}

#[test]
fn anthropic_streams_re_encoded_as_openai_streams_keep_text_tool_calls_and_usage() {
    for case in cases("anthropic", ".sse") {
        let (events, result) =
            parse_stream(Provider::Anthropic, &fixture_bytes("anthropic", &case));
        result.unwrap_or_else(|e| panic!("{case}: {e}"));
        let original = assemble(Provider::Anthropic, &events);
        let sse = encode_stream(&events, true);
        let (again, result) = parse_stream(P, sse.as_bytes());
        result.unwrap_or_else(|e| panic!("{case}: {e}\n{sse}"));
        let crossed = assemble(P, &again);
        assert_eq!(crossed.content, unsigned(&original.content), "{case}");
        assert_eq!(crossed.text(), original.text(), "{case}");
        assert_eq!(crossed.tool_calls(), original.tool_calls(), "{case}");
        assert_eq!(
            crossed.finish_reason.unified, original.finish_reason.unified,
            "{case}"
        );
        assert_eq!(crossed.usage, as_openai_usage(&original.usage), "{case}");
        assert_eq!(
            crossed.usage.total_input_tokens(),
            original.usage.total_input_tokens(),
            "{case}"
        );
    }
}

#[test]
fn anthropic_answers_re_encoded_as_openai_completions() {
    for case in cases("anthropic", ".json") {
        let original = provider::decode(
            Provider::Anthropic,
            &success(&fixture_bytes("anthropic", &case)),
        )
        .unwrap();
        let crossed = provider::decode(
            P,
            &success(encode_response(&original, "claude-haiku-4-5", 1).as_bytes()),
        )
        .unwrap();
        assert_eq!(crossed.content, unsigned(&original.content), "{case}");
        assert_eq!(
            crossed.finish_reason.unified, original.finish_reason.unified,
            "{case}"
        );
        assert_eq!(crossed.usage, as_openai_usage(&original.usage), "{case}");
    }
}

#[test]
fn a_tool_call_without_streamed_arguments_still_sends_its_json() {
    // Anthropic's `get_time` call streams no argument text at all.
    let (events, _) = parse_stream(
        Provider::Anthropic,
        &fixture_bytes("anthropic", "tool_call.sse"),
    );
    let chunks = payloads(&encode_stream(&events, false));
    let arguments: Vec<(u64, String)> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"].get("tool_calls"))
        .map(|calls| {
            (
                calls[0]["index"].as_u64().unwrap(),
                calls[0]["function"]["arguments"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let joined = |index| -> String {
        arguments
            .iter()
            .filter(|(i, _)| *i == index)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    assert_eq!(
        serde_json::from_str::<Value>(&joined(0)).unwrap(),
        json!({"city": "San Francisco, CA", "unit": "fahrenheit", "days": [1, 2]})
    );
    assert_eq!(joined(1), "{}");
}

// ------------------------------------------------------------------------------ errors

#[test]
fn every_error_kind_has_a_status_type_and_code_clients_understand() {
    let cases = [
        (
            ErrorKind::InvalidRequest,
            400,
            "invalid_request_error",
            None,
        ),
        (
            ErrorKind::ContextLength,
            400,
            "invalid_request_error",
            Some("context_length_exceeded"),
        ),
        (
            ErrorKind::ContentFiltered,
            400,
            "invalid_request_error",
            Some("content_policy_violation"),
        ),
        (
            ErrorKind::Authentication,
            401,
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        (ErrorKind::Permission, 403, "permission_error", None),
        (
            ErrorKind::NotFound,
            404,
            "invalid_request_error",
            Some("model_not_found"),
        ),
        (
            ErrorKind::RateLimited,
            429,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
        ),
        (
            ErrorKind::QuotaExceeded,
            429,
            "insufficient_quota",
            Some("insufficient_quota"),
        ),
        (
            ErrorKind::BudgetExceeded,
            429,
            "insufficient_quota",
            Some("insufficient_quota"),
        ),
        (ErrorKind::Overloaded, 503, "server_error", None),
        (ErrorKind::ServerError, 500, "server_error", None),
        (ErrorKind::Timeout, 504, "server_error", None),
        (ErrorKind::TruncatedStream, 502, "server_error", None),
        (ErrorKind::Network, 502, "server_error", None),
        (ErrorKind::Config, 500, "server_error", None),
    ];
    for (kind, status, kind_name, code) in cases {
        let error = Error::new(kind, "what happened");
        let (got_status, body) = encode_error(&error);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(got_status, status, "{kind:?}");
        assert_eq!(
            body,
            json!({"error": {"message": "what happened", "type": kind_name, "param": null, "code": code}}),
            "{kind:?}"
        );
        // The client-direction decoder reads the same kind back, except the gateway failures
        // that all read as server errors.
        let back =
            provider::decode_error(P, got_status, &Headers::new(), body.to_string().as_bytes());
        let expected = match kind {
            ErrorKind::TruncatedStream | ErrorKind::Network | ErrorKind::Config => {
                ErrorKind::ServerError
            }
            ErrorKind::BudgetExceeded => ErrorKind::QuotaExceeded,
            other => other,
        };
        assert_eq!(back.kind(), expected, "{kind:?}");
    }
}

#[test]
fn upstream_errors_keep_what_their_status_says_and_never_leak_the_key() {
    let recorded = |name: &str, status: u16| {
        provider::decode_error(P, status, &Headers::new(), &fixture_bytes("openai", name))
    };
    // OpenAI's own quota error passes through whole.
    let (status, body) = encode_error(&recorded("error_429_quota.json", 429));
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, &body["error"]["code"]),
        (429, &json!("insufficient_quota"))
    );
    // An upstream that refused the proxy's key: a gateway error, key redacted.
    let (status, body) = encode_error(&recorded("error_401.json", 401));
    assert_eq!(status, 502);
    assert!(
        !body.contains("wXyZ") && body.contains("[redacted]"),
        "{body}"
    );
    // The proxy's own authentication failure is the client's 401.
    assert_eq!(
        encode_error(&Error::new(ErrorKind::Authentication, "bad proxy key")).0,
        401
    );
    // Anthropic's 529 is a 503 to OpenAI clients; a 502 stays a 502.
    let overloaded = provider::decode_error(
        Provider::Anthropic,
        529,
        &Headers::new(),
        &fixture_bytes("anthropic", "error_529.json"),
    );
    assert_eq!(encode_error(&overloaded).0, 503);
    let bad_gateway = Error::new(ErrorKind::ServerError, "bad gateway")
        .with_provider(Provider::Gemini)
        .with_status(502);
    assert_eq!(encode_error(&bad_gateway).0, 502);
    // An upstream's invalid-request code is not a `param`.
    let upstream = recorded("error_400_context_length.json", 400);
    let body: Value = serde_json::from_str(&encode_error(&upstream).1).unwrap();
    assert_eq!(body["error"]["param"], Value::Null);
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    // Retry hints are the face's to send as headers; the body is unchanged by them.
    let limited =
        Error::new(ErrorKind::RateLimited, "x").with_retry_after(Some(RetryAfter::Millis(2000)));
    assert_eq!(encode_error(&limited).0, 429);
}
