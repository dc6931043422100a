//! The Gemini server face (`provider::gemini::inbound`): request paths and bodies as the
//! Google SDKs (and curl examples, in snake_case) send them decode to the unified request
//! field by field, malformed bodies are invalid requests naming their field, and every recorded
//! Gemini answer survives a round trip through the encoder and the client-direction decoder.
//! The cross-format cases re-encode Anthropic and OpenAI streams as Gemini streams.
use llm_edge::core::error::{Error, ErrorKind, RetryAfter};
use llm_edge::core::event::StreamEvent;
use llm_edge::core::http::Headers;
use llm_edge::core::model::{
    ContentPart, FinishKind, FinishReason, Message, Provider, ResponseFormat, Role, SystemBlock,
    ToolChoice, ToolDefinition, Usage,
};
use llm_edge::core::provider;
use llm_edge::core::provider::gemini::inbound::{
    decode_request, decode_request_at, encode_error, encode_response, StreamEncoder,
};
use llm_edge::core::provider::inbound::{invalid_param, InboundRequest};
use serde_json::{json, Value};
use support::inbound::*;

mod support;

const P: Provider = Provider::Gemini;
const STREAM_PATH: &str = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

// ------------------------------------------------------------------------------ helpers

fn decode(body: Value) -> InboundRequest {
    decode_request(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"))
}

fn encode_stream(events: &[StreamEvent]) -> String {
    let mut encoder = StreamEncoder::new("gemini-2.5-flash", 1, true, "");
    let mut out = String::new();
    for event in events {
        encoder.event(event, &mut out);
    }
    out
}

/// The chunks of a Gemini-format SSE text, each framed `data: {...}\r\n\r\n`.
fn chunks(sse: &str) -> Vec<Value> {
    assert!(sse.ends_with("\r\n\r\n"), "{sse}");
    sse.split("\r\n\r\n")
        .filter(|frame| !frame.is_empty())
        .map(|frame| {
            serde_json::from_str(frame.strip_prefix("data: ").expect("a data line")).unwrap()
        })
        .collect()
}

// ---------------------------------------------------------------- requests as clients send them

#[test]
fn a_streamed_call_names_its_model_in_the_path() {
    let body = json!({
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
        "generationConfig": {"maxOutputTokens": 256, "temperature": 0.2, "topP": 0.9, "topK": 40, "stopSequences": ["END"]}
    });
    let inbound = decode_request_at(STREAM_PATH, body.to_string().as_bytes()).unwrap();
    assert!(inbound.stream && inbound.include_usage);
    assert_eq!(inbound.model, "gemini-2.5-flash");
    assert!(inbound.ignored.is_empty(), "{:?}", inbound.ignored);
    let r = inbound.request;
    assert_eq!(r.model, "gemini-2.5-flash");
    assert_eq!(
        r.system,
        [
            SystemBlock {
                text: "Be brief.".into(),
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
    assert_eq!(
        (r.temperature, r.top_p, r.top_k),
        (Some(0.2), Some(0.9), Some(40))
    );
    assert_eq!(r.stop, ["END"]);
    assert_eq!((r.tool_choice, r.response_format), (None, None));

    let whole = decode_request_at(
        "/v1beta/models/anthropic%2Fclaude-haiku-4-5:generateContent",
        body.to_string().as_bytes(),
    )
    .unwrap();
    assert!(!whole.stream);
    assert_eq!(whole.model, "anthropic/claude-haiku-4-5");
    // Without the path, the body alone says neither.
    let bare = decode(body);
    assert_eq!((bare.model.as_str(), bare.stream), ("", false));
}

#[test]
fn function_declarations_calls_responses_and_thoughts() {
    let inbound = decode(json!({
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris and London?"}]},
            {"role": "model", "parts": [
                {"text": "**Checking**", "thought": true},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CvYBAdHt"},
                {"functionCall": {"name": "get_weather", "args": {"city": "London"}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": "18°C"}}},
                {"functionResponse": {"name": "get_weather", "response": {"temp": 12, "unit": "C"}}}
            ]},
            {"role": "model", "parts": [{"functionCall": {"id": "fc-9", "name": "get_time"}}]},
            {"role": "function", "parts": [{"functionResponse": {"id": "fc-9", "name": "get_time", "response": {"error": "no clock"}}}]}
        ],
        "tools": [{"functionDeclarations": [
            {"name": "get_weather", "description": "Current weather",
             "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}},
            {"name": "get_time", "parametersJsonSchema": {"type": "object", "properties": {}, "additionalProperties": false}}
        ]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    }));
    let call =
        |id: &str, name: &str, arguments: Value, signature: Option<&str>| ContentPart::ToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
            signature: signature.map(String::from),
        };
    let result = |id: &str, name: &str, content: &str, is_error: bool| ContentPart::ToolResult {
        call_id: id.into(),
        name: Some(name.into()),
        content: content.into(),
        is_error,
        cache: None,
    };
    assert_eq!(
        inbound.request.messages,
        [
            Message::user("Weather in Paris and London?"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Reasoning {
                        text: "**Checking**".into(),
                        signature: None
                    },
                    call(
                        "call_0",
                        "get_weather",
                        json!({"city": "Paris"}),
                        Some("CvYBAdHt")
                    ),
                    call("call_1", "get_weather", json!({"city": "London"}), None),
                ],
            },
            // Responses without ids answer the calls of their name in order.
            Message {
                role: Role::User,
                content: vec![
                    result("call_0", "get_weather", "18°C", false),
                    result("call_1", "get_weather", r#"{"temp":12,"unit":"C"}"#, false),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![call("fc-9", "get_time", json!({}), None)]
            },
            Message {
                role: Role::User,
                content: vec![result("fc-9", "get_time", "no clock", true)]
            },
        ]
    );
    assert_eq!(
        inbound.request.tools,
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
                parameters: json!({"type": "object", "properties": {}, "additionalProperties": false}),
                cache: None,
            },
        ]
    );
    assert_eq!(
        inbound.request.tool_choice,
        Some(ToolChoice::Tool {
            name: "get_weather".into()
        })
    );
    assert!(inbound.ignored.is_empty(), "{:?}", inbound.ignored);
}

#[test]
fn images_json_schemas_and_settings_not_honoured() {
    let inbound = decode(json!({
        "contents": [{"parts": [
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"text": "Describe it as JSON."}
        ]}],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": {"type": "OBJECT", "properties": {"label": {"type": "STRING", "nullable": true}}},
            "seed": 7,
            "thinkingConfig": {"thinkingBudget": 0}
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    }));
    let r = &inbound.request;
    assert_eq!(
        r.messages[0].content,
        [
            ContentPart::Image {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into(),
                cache: None
            },
            ContentPart::text("Describe it as JSON."),
        ]
    );
    assert_eq!(r.messages[0].role, Role::User);
    assert_eq!(
        r.response_format,
        Some(ResponseFormat::JsonSchema {
            name: "response".into(),
            schema: json!({"type": "object", "properties": {"label": {"type": ["string", "null"]}}}),
            strict: true,
        })
    );
    let ignored: Vec<&str> = inbound.ignored.iter().map(|w| w.setting.as_str()).collect();
    assert_eq!(
        ignored,
        [
            "generationConfig.seed",
            "generationConfig.thinkingConfig",
            "safetySettings"
        ]
    );

    let json_mode = decode(
        json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseMimeType": "application/json"}}),
    );
    assert_eq!(
        json_mode.request.response_format,
        Some(ResponseFormat::Json)
    );
}

#[test]
fn snake_case_bodies_as_in_the_curl_examples() {
    let inbound = decode(json!({
        "system_instruction": {"parts": [{"text": "You are a cat."}]},
        "contents": [{"role": "user", "parts": [{"text": "Hello"}, {"inline_data": {"mime_type": "image/jpeg", "data": "/9j/"}}]}],
        "generation_config": {"max_output_tokens": 100, "stop_sequences": ["x"], "response_json_schema": {"type": "object"}},
        "tools": [{"function_declarations": [{"name": "purr"}]}],
        "tool_config": {"function_calling_config": {"mode": "NONE"}}
    }));
    let r = &inbound.request;
    assert_eq!(r.system_text().as_deref(), Some("You are a cat."));
    assert_eq!(r.max_tokens, Some(100));
    assert_eq!(r.stop, ["x"]);
    assert!(
        matches!(&r.response_format, Some(ResponseFormat::JsonSchema { schema, .. }) if *schema == json!({"type": "object"}))
    );
    assert_eq!(
        r.tools[0].parameters,
        json!({"type": "object", "properties": {}})
    );
    assert_eq!(r.tool_choice, Some(ToolChoice::None));
    assert!(
        matches!(&r.messages[0].content[1], ContentPart::Image { media_type, .. } if media_type == "image/jpeg")
    );
}

// ------------------------------------------------------------------------ malformed bodies

#[test]
fn malformed_bodies_are_invalid_requests_naming_their_field() {
    let hi = json!([{"role": "user", "parts": [{"text": "Hi"}]}]);
    let cases: Vec<(Value, &str)> = vec![
        (json!([hi]), ""),
        (json!({}), "contents"),
        (json!({"contents": []}), "contents"),
        (json!({"contents": {"parts": []}}), "contents"),
        (
            json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
            "contents[0].role",
        ),
        (json!({"contents": [{"role": "user"}]}), "contents[0].parts"),
        (
            json!({"contents": [{"role": "user", "parts": []}]}),
            "contents[0].parts",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{}]}]}),
            "contents[0].parts[0]",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": 5}]}]}),
            "contents[0].parts[0].text",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"inlineData": {"data": "AAAA"}}]}]}),
            "contents[0].parts[0].inlineData.mimeType",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"fileData": {"mimeType": "image/png", "fileUri": "gs://b/cat.png"}}]}]}),
            "contents[0].parts[0].fileData",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"functionCall": {"name": "f"}}]}]}),
            "contents[0].parts[0].functionCall",
        ),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": "hmm", "thought": true}]}]}),
            "contents[0].parts[0]",
        ),
        (
            json!({"contents": [hi[0], {"role": "user", "parts": [{"functionResponse": {"response": {}}}]}]}),
            "contents[1].parts[0].functionResponse.name",
        ),
        (
            json!({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": "x=1"}}]}]}),
            "contents[0].parts[0].functionCall.args",
        ),
        (
            json!({"contents": hi, "systemInstruction": {"parts": [{"inlineData": {"mimeType": "a/b", "data": "x"}}]}}),
            "systemInstruction.parts[0]",
        ),
        (
            json!({"contents": hi, "systemInstruction": "Be brief."}),
            "systemInstruction",
        ),
        (
            json!({"contents": hi, "tools": [{"googleSearch": {}}]}),
            "tools[0].googleSearch",
        ),
        (
            json!({"contents": hi, "tools": [{"functionDeclarations": [{"description": "no name"}]}]}),
            "tools[0].functionDeclarations[0].name",
        ),
        (
            json!({"contents": hi, "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}),
            "toolConfig.functionCallingConfig.mode",
        ),
        (
            json!({"contents": hi, "generationConfig": {"maxOutputTokens": -1}}),
            "generationConfig.maxOutputTokens",
        ),
        (
            json!({"contents": hi, "generationConfig": {"temperature": 5}}),
            "generationConfig.temperature",
        ),
        (
            json!({"contents": hi, "generationConfig": {"responseMimeType": "text/x.enum"}}),
            "generationConfig.responseMimeType",
        ),
        (
            json!({"contents": hi, "generationConfig": {"candidateCount": 2}}),
            "generationConfig.candidateCount",
        ),
        (
            json!({"contents": hi, "generation_config": {"max_output_tokens": "ten"}}),
            "generation_config.max_output_tokens",
        ),
        (
            json!({"contents": hi, "cachedContent": "cachedContents/abc"}),
            "cachedContent",
        ),
    ];
    assert!(cases.len() >= 15);
    for (body, path) in cases {
        let err = decode_request(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{body}");
        let named = if path.is_empty() {
            "Invalid request body".to_string()
        } else {
            format!("Invalid value at '{path}'")
        };
        assert!(
            err.message().starts_with(&named),
            "{body}: {}",
            err.message()
        );
        assert_eq!(
            invalid_param(&err),
            (!path.is_empty()).then_some(path),
            "{body}"
        );
        let (status, answer) = encode_error(&err);
        assert_eq!(status, 400);
        assert_eq!(
            serde_json::from_str::<Value>(&answer).unwrap(),
            json!({"error": {"code": 400, "message": err.message(), "status": "INVALID_ARGUMENT"}})
        );
    }
    for body in [&b"{\"contents\": ["[..], b"", b"contents=hi"] {
        let err = decode_request(body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(
            err.message().starts_with("Invalid JSON payload received."),
            "{err}"
        );
    }
}

// ------------------------------------------------------------------------ round trips

#[test]
fn every_whole_fixture_survives_encoding_and_decoding_again() {
    for case in cases("gemini", ".json") {
        let original = provider::decode(P, &success(&fixture_bytes("gemini", &case))).unwrap();
        let encoded = encode_response(&original, "gemini-2.5-flash", 1);
        let body: Value = serde_json::from_str(&encoded).unwrap();
        assert_eq!(body["modelVersion"], "gemini-2.5-flash", "{case}");
        assert_eq!(body["candidates"][0]["content"]["role"], "model", "{case}");
        // Gemini's own calls carry no id, and none is invented.
        assert!(!encoded.contains("\"id\""), "{case}: {encoded}");
        let again = provider::decode(P, &success(encoded.as_bytes())).unwrap();
        assert_eq!(again.id, original.id, "{case}");
        assert_eq!(
            again.finish_reason.raw, original.finish_reason.raw,
            "{case}"
        );
        assert_same_answer(&again, &original, &case);
    }
}

#[test]
fn every_stream_fixture_survives_encoding_and_decoding_again() {
    for case in cases("gemini", ".sse") {
        let (events, result) = parse_stream(P, &fixture_bytes("gemini", &case));
        result.unwrap_or_else(|e| panic!("{case}: {e}"));
        let sse = encode_stream(&events);
        let (again, result) = parse_stream(P, sse.as_bytes());
        result.unwrap_or_else(|e| panic!("{case}: {e}\n{sse}"));
        assert_same_answer(&assemble(P, &again), &assemble(P, &events), &case);
        let response_id = |events: &[StreamEvent]| match events.first() {
            Some(StreamEvent::Start { id, .. }) => id.clone(),
            other => panic!("{case}: {other:?}"),
        };
        assert_eq!(response_id(&again), response_id(&events), "{case}");
    }
}

#[test]
fn the_stream_is_framed_as_google_frames_it() {
    let (events, _) = parse_stream(P, &fixture_bytes("gemini", "multi_block.sse"));
    let chunks = chunks(&encode_stream(&events));
    for (i, chunk) in chunks.iter().enumerate() {
        assert_eq!(chunk["modelVersion"], "gemini-2.5-flash");
        assert_eq!(chunk["responseId"], "Lq7VaOW5Hcq-1dkPr8Ck4Qk");
        assert_eq!(chunk["candidates"][0]["content"]["role"], "model");
        // A chunk's usage is reported after its content: it shows from the second chunk on.
        assert_eq!(
            chunk["usageMetadata"]["promptTokenCount"].is_u64(),
            i > 0,
            "{chunk}"
        );
    }
    let (last, body) = chunks.split_last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(body
        .iter()
        .all(|c| c["candidates"][0].get("finishReason").is_none()));
    assert_eq!(
        last["usageMetadata"],
        json!({"promptTokenCount": 74, "candidatesTokenCount": 41, "thoughtsTokenCount": 118, "totalTokenCount": 233})
    );
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["candidates"][0]["content"]["parts"][0].get("functionCall"))
        .collect();
    assert_eq!(
        calls,
        [
            &json!({"name": "get_weather", "args": {"city": "Paris", "unit": "celsius"}}),
            &json!({"name": "get_weather", "args": {"city": "London", "unit": "celsius"}})
        ]
    );
}

#[test]
fn a_failure_midway_ends_with_an_error_chunk() {
    for (case, kind) in [
        ("in_stream_error.sse", ErrorKind::Overloaded),
        ("truncated.sse", ErrorKind::Overloaded),
    ] {
        let (events, result) = parse_stream(P, &fixture_bytes("gemini", case));
        let error = result.unwrap_err();
        let mut encoder = StreamEncoder::new("gemini-2.5-flash", 1, true, "r1");
        let mut sse = String::new();
        for event in &events {
            encoder.event(event, &mut sse);
        }
        encoder.error(&error, &mut sse);
        encoder.event(
            &StreamEvent::Finish {
                reason: FinishReason::new(FinishKind::Stop, "STOP"),
                usage: Usage::default(),
            },
            &mut sse,
        );
        let chunks = chunks(&sse);
        assert!(chunks.last().unwrap()["error"]["code"].is_u64(), "{case}");
        assert!(
            chunks
                .iter()
                .all(|c| c["candidates"][0].get("finishReason").is_none()),
            "{case}"
        );
        let (again, result) = parse_stream(P, sse.as_bytes());
        let failure = result.unwrap_err();
        assert_eq!(failure.kind(), kind, "{case}");
        assert_eq!(failure.message(), error.message(), "{case}");
        assert_eq!(failure.usage(), error.usage(), "{case}");
        assert_eq!(
            assemble_partial_text(&again),
            assemble_partial_text(&events),
            "{case}"
        );
    }
}

fn assemble_partial_text(events: &[StreamEvent]) -> String {
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(!text.is_empty());
    text
}

// ------------------------------------------------------------------------ cross-format

/// Gemini's prompt count holds cache writes with the uncached input; it has no write classes.
fn as_gemini_usage(usage: &Usage) -> Usage {
    let writes =
        usage.cache_write_5m_tokens.unwrap_or(0) + usage.cache_write_1h_tokens.unwrap_or(0);
    Usage {
        input_tokens: usage.input_tokens.map(|input| input + writes),
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        ..*usage
    }
}

#[test]
fn anthropic_and_openai_streams_re_encoded_as_gemini_streams() {
    for (provider, name) in [
        (Provider::Anthropic, "anthropic"),
        (Provider::OpenAi, "openai"),
    ] {
        for case in cases(name, ".sse") {
            let (events, result) = parse_stream(provider, &fixture_bytes(name, &case));
            result.unwrap_or_else(|e| panic!("{name}/{case}: {e}"));
            let original = assemble(provider, &events);
            let sse = encode_stream(&events);
            let (again, result) = parse_stream(P, sse.as_bytes());
            result.unwrap_or_else(|e| panic!("{name}/{case}: {e}\n{sse}"));
            let crossed = assemble(P, &again);
            // Text, reasoning (with Anthropic's signatures), tool calls with their ids.
            assert_eq!(crossed.content, original.content, "{name}/{case}");
            assert_eq!(
                crossed.finish_reason.unified, original.finish_reason.unified,
                "{name}/{case}"
            );
            assert_eq!(
                crossed.usage,
                as_gemini_usage(&original.usage),
                "{name}/{case}"
            );
        }
    }
}

#[test]
fn anthropic_and_openai_answers_re_encoded_as_gemini_responses() {
    for (provider, name) in [
        (Provider::Anthropic, "anthropic"),
        (Provider::OpenAi, "openai"),
    ] {
        for case in cases(name, ".json") {
            let original =
                provider::decode(provider, &success(&fixture_bytes(name, &case))).unwrap();
            let crossed =
                provider::decode(P, &success(encode_response(&original, "m", 1).as_bytes()))
                    .unwrap();
            assert_eq!(crossed.content, original.content, "{name}/{case}");
            assert_eq!(
                crossed.finish_reason.unified, original.finish_reason.unified,
                "{name}/{case}"
            );
            assert_eq!(
                crossed.usage,
                as_gemini_usage(&original.usage),
                "{name}/{case}"
            );
        }
    }
}

// ------------------------------------------------------------------------------ errors

#[test]
fn every_error_kind_has_a_code_and_status_google_uses() {
    let cases = [
        (
            ErrorKind::InvalidRequest,
            400,
            "INVALID_ARGUMENT",
            ErrorKind::InvalidRequest,
        ),
        (
            ErrorKind::Authentication,
            401,
            "UNAUTHENTICATED",
            ErrorKind::Authentication,
        ),
        (
            ErrorKind::Permission,
            403,
            "PERMISSION_DENIED",
            ErrorKind::Permission,
        ),
        (ErrorKind::NotFound, 404, "NOT_FOUND", ErrorKind::NotFound),
        (
            ErrorKind::RateLimited,
            429,
            "RESOURCE_EXHAUSTED",
            ErrorKind::RateLimited,
        ),
        (
            ErrorKind::Overloaded,
            503,
            "UNAVAILABLE",
            ErrorKind::Overloaded,
        ),
        (
            ErrorKind::ServerError,
            500,
            "INTERNAL",
            ErrorKind::ServerError,
        ),
        (
            ErrorKind::Timeout,
            504,
            "DEADLINE_EXCEEDED",
            ErrorKind::Timeout,
        ),
        (
            ErrorKind::TruncatedStream,
            503,
            "UNAVAILABLE",
            ErrorKind::Overloaded,
        ),
        (ErrorKind::Config, 500, "INTERNAL", ErrorKind::ServerError),
    ];
    for (kind, code, status, read_back) in cases {
        let (got, body) = encode_error(&Error::new(kind, "what happened"));
        assert_eq!(got, code, "{kind:?}");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"error": {"code": code, "message": "what happened", "status": status}}),
            "{kind:?}"
        );
        assert_eq!(
            provider::decode_error(P, got, &Headers::new(), body.as_bytes()).kind(),
            read_back,
            "{kind:?}"
        );
    }
    assert_eq!(
        encode_error(&Error::new(ErrorKind::Cancelled, "gone")).0,
        499
    );
}

#[test]
fn retry_delays_travel_as_retry_info() {
    let limited = Error::new(ErrorKind::RateLimited, "slow down")
        .with_retry_after(Some(RetryAfter::Millis(32_000)));
    let (status, body) = encode_error(&limited);
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        value["error"]["details"],
        json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "32s"}])
    );
    let back = provider::decode_error(P, status, &Headers::new(), body.as_bytes());
    assert_eq!(back.retry_after(), Some(RetryAfter::Millis(32_000)));
}

#[test]
fn gemini_upstream_errors_pass_through_and_keys_never_leak() {
    let recorded = |name: &str, status: u16| {
        provider::decode_error(P, status, &Headers::new(), &fixture_bytes("gemini", name))
    };
    let quota = recorded("error_429_quota.json", 429);
    let (status, body) = encode_error(&quota);
    let value: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, &value["error"]["status"]),
        (429, &json!("RESOURCE_EXHAUSTED"))
    );
    assert!(
        value["error"]["details"][0]["retryDelay"].is_string(),
        "{value}"
    );
    // Gemini answers a bad key with 400 INVALID_ARGUMENT; it was the proxy's key: a 500 here.
    let bad_key = recorded("error_400_api_key.json", 400);
    assert_eq!(bad_key.kind(), ErrorKind::Authentication);
    assert_eq!(encode_error(&bad_key).0, 500);
    // Other providers' statuses are not Google's: Anthropic's 529 is UNAVAILABLE 503.
    let overloaded = provider::decode_error(
        Provider::Anthropic,
        529,
        &Headers::new(),
        &fixture_bytes("anthropic", "error_529.json"),
    );
    assert_eq!(encode_error(&overloaded).0, 503);
    let leaked = Error::new(
        ErrorKind::ServerError,
        "upstream said: key AIzaSyD-abcdefghijklmnop_123 is odd",
    )
    .with_provider(P);
    assert!(!encode_error(&leaked).1.contains("AIza"));
}
