//! Unified [`Request`] -> Gemini `generateContent` / `streamGenerateContent?alt=sse` request.
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::core::error::{Error, ErrorKind};
use crate::core::http::{Headers, HttpRequest, Method};
use crate::core::model::{
    ContentPart, Provider, Request, ResponseFormat, Role, ToolChoice, Warning,
};
use crate::core::provider::{Encoded, ProviderConfig};

use super::wire;

pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// Gemini accepts at most this many stop sequences.
const MAX_STOP_SEQUENCES: usize = 5;
const TEMPERATURE_RANGE: (f64, f64) = (0.0, 2.0);
const TOP_P_RANGE: (f64, f64) = (0.0, 1.0);

pub fn encode(
    model: &str,
    request: &Request,
    config: &ProviderConfig,
    stream: bool,
) -> Result<Encoded, Error> {
    if model.is_empty() {
        return Err(invalid("the model name is empty"));
    }
    let mut warnings = Vec::new();
    let body = wire::GenerateContentRequest {
        contents: contents(request, &mut warnings)?,
        system_instruction: (!request.system.is_empty()).then(|| wire::SystemInstruction {
            parts: request
                .system
                .iter()
                .map(|block| text_part(&block.text))
                .collect(),
        }),
        tools: tools(request),
        tool_config: request.tool_choice.as_ref().map(tool_config),
        generation_config: generation_config(request, &mut warnings)?,
    };
    if request.metadata.end_user_id.is_some() {
        warnings.push(Warning::unsupported(Provider::Gemini, "metadata.endUserId"));
    }
    let body = serde_json::to_string(&body)
        .map_err(|e| invalid(format!("the request cannot be written as JSON: {e}")))?;

    let base = config.base_url_or(DEFAULT_BASE_URL);
    let model = encode_path_segment(model);
    let url = if stream {
        format!("{base}/v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("{base}/v1beta/models/{model}:generateContent")
    };
    let mut headers = Headers::new();
    headers.set("content-type", "application/json");
    if stream {
        headers.set("accept", "text/event-stream");
    }
    if let Some(key) = &config.api_key {
        headers.set("x-goog-api-key", key.as_str());
    }
    config.apply_extra_headers(&mut headers);
    Ok(Encoded {
        http: HttpRequest {
            method: Method::Post,
            url,
            headers,
            body: Some(body),
        },
        warnings,
    })
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidRequest, message).with_provider(Provider::Gemini)
}

fn text_part(text: &str) -> wire::Part<'_> {
    wire::Part {
        text: Some(text),
        ..wire::Part::default()
    }
}

/// The conversation as Gemini `contents`: `user` and `model` turns, tool calls as
/// `functionCall` parts (with their thought signatures), tool results as `functionResponse`
/// parts. Reasoning cannot go back to Gemini and is dropped with a warning.
fn contents<'a>(
    request: &'a Request,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<wire::Content<'a>>, Error> {
    // Tool results name their tool; when the caller left the name out, the call it answers has it.
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    let mut dropped_reasoning = 0usize;
    let mut contents = Vec::with_capacity(request.messages.len());
    for (i, message) in request.messages.iter().enumerate() {
        let mut parts = Vec::with_capacity(message.content.len());
        for part in &message.content {
            match part {
                ContentPart::Text { text, .. } => parts.push(text_part(text)),
                ContentPart::Image {
                    media_type, data, ..
                } => parts.push(wire::Part {
                    inline_data: Some(wire::Blob {
                        mime_type: media_type,
                        data,
                    }),
                    ..wire::Part::default()
                }),
                ContentPart::ToolCall {
                    id,
                    name,
                    arguments,
                    signature,
                } => {
                    if message.role != Role::Assistant {
                        return Err(invalid(format!(
                            "messages[{i}]: the tool call `{name}` must be in an assistant message"
                        )));
                    }
                    call_names.insert(id, name);
                    let args = if arguments.is_null() {
                        Cow::Owned(json!({}))
                    } else {
                        Cow::Borrowed(arguments)
                    };
                    parts.push(wire::Part {
                        function_call: Some(wire::FunctionCall { name, args }),
                        thought_signature: signature.as_deref(),
                        ..wire::Part::default()
                    });
                }
                ContentPart::ToolResult {
                    call_id,
                    name,
                    content,
                    is_error,
                    ..
                } => {
                    if message.role != Role::User {
                        return Err(invalid(format!(
                            "messages[{i}]: the result of tool call `{call_id}` must be in a user message"
                        )));
                    }
                    let name = name
                        .as_deref()
                        .or_else(|| call_names.get(call_id.as_str()).copied());
                    let Some(name) = name else {
                        return Err(invalid(format!(
                            "messages[{i}]: gemini needs the tool name of the result of call `{call_id}`: \
                             set `name` on the tool result, or keep the assistant tool call it answers \
                             in the conversation"
                        )));
                    };
                    parts.push(wire::Part {
                        function_response: Some(wire::FunctionResponse {
                            name,
                            response: tool_response(content, *is_error),
                        }),
                        ..wire::Part::default()
                    });
                }
                ContentPart::Reasoning { .. } => dropped_reasoning += 1,
            }
        }
        // Gemini rejects a turn without parts (e.g. one that held only reasoning).
        if !parts.is_empty() {
            let role = match message.role {
                Role::User => "user",
                Role::Assistant => "model",
            };
            contents.push(wire::Content { role, parts });
        }
    }
    if dropped_reasoning > 0 {
        warnings.push(Warning {
            setting: "messages".to_string(),
            message: format!(
                "gemini cannot take thought summaries back as input; {dropped_reasoning} reasoning \
                 part(s) were not sent"
            ),
        });
    }
    if contents.is_empty() {
        return Err(invalid("gemini needs at least one message with content"));
    }
    Ok(contents)
}

/// A tool result as a `functionResponse.response` object: a JSON object result as it is,
/// anything else under `content` (`error` when the tool failed).
fn tool_response(content: &str, is_error: bool) -> Value {
    let key = if is_error { "error" } else { "content" };
    match serde_json::from_str::<Value>(content) {
        Ok(object @ Value::Object(_)) if !is_error => object,
        Ok(object @ Value::Object(_)) => json!({ key: object }),
        _ => json!({ key: content }),
    }
}

fn tools(request: &Request) -> Vec<wire::Tool<'_>> {
    if request.tools.is_empty() {
        return Vec::new();
    }
    let function_declarations = request
        .tools
        .iter()
        .map(|tool| wire::FunctionDeclaration {
            name: &tool.name,
            description: tool.description.as_deref(),
            parameters_json_schema: (!declares_no_parameters(&tool.parameters))
                .then_some(&tool.parameters),
        })
        .collect();
    vec![wire::Tool {
        function_declarations,
    }]
}

/// An object schema without properties: Gemini rejects `parameters` whose `properties` are
/// empty ("should be non-empty for OBJECT type"), and a function without parameters simply
/// omits them.
fn declares_no_parameters(schema: &Value) -> bool {
    match schema {
        Value::Null => true,
        Value::Object(fields) => fields.iter().all(|(key, value)| match key.as_str() {
            "type" => *value == "object",
            "properties" => value.as_object().is_some_and(|p| p.is_empty()),
            "required" => value.as_array().is_some_and(|r| r.is_empty()),
            "additionalProperties" => *value == false,
            "$schema" | "title" | "description" => true,
            _ => false,
        }),
        _ => false,
    }
}

fn tool_config(choice: &ToolChoice) -> wire::ToolConfig {
    let (mode, allowed_function_names) = match choice {
        ToolChoice::Auto => ("AUTO", Vec::new()),
        ToolChoice::None => ("NONE", Vec::new()),
        ToolChoice::Required => ("ANY", Vec::new()),
        ToolChoice::Tool { name } => ("ANY", vec![name.clone()]),
    };
    wire::ToolConfig {
        function_calling_config: wire::FunctionCallingConfig {
            mode,
            allowed_function_names,
        },
    }
}

fn generation_config<'a>(
    request: &'a Request,
    warnings: &mut Vec<Warning>,
) -> Result<wire::GenerationConfig<'a>, Error> {
    let stop = request.stop.as_slice();
    let stop_sequences = if stop.len() > MAX_STOP_SEQUENCES {
        warnings.push(Warning {
            setting: "stop".to_string(),
            message: format!(
                "gemini accepts at most {MAX_STOP_SEQUENCES} stop sequences; only the first \
                 {MAX_STOP_SEQUENCES} of {} were sent",
                stop.len()
            ),
        });
        &stop[..MAX_STOP_SEQUENCES]
    } else {
        stop
    };
    let (response_mime_type, response_json_schema) = match &request.response_format {
        None | Some(ResponseFormat::Text) => (None, None),
        Some(ResponseFormat::Json) => (Some("application/json"), None),
        Some(ResponseFormat::JsonSchema { schema, .. }) => (Some("application/json"), Some(schema)),
    };
    Ok(wire::GenerationConfig {
        max_output_tokens: request.max_tokens,
        temperature: clamped(
            "temperature",
            request.temperature,
            TEMPERATURE_RANGE,
            warnings,
        )?,
        top_p: clamped("topP", request.top_p, TOP_P_RANGE, warnings)?,
        top_k: request.top_k,
        stop_sequences,
        response_mime_type,
        response_json_schema,
    })
}

/// `value` brought into Gemini's range for `setting`, with a warning when it had to move.
fn clamped(
    setting: &str,
    value: Option<f64>,
    (min, max): (f64, f64),
    warnings: &mut Vec<Warning>,
) -> Result<Option<f64>, Error> {
    let Some(value) = value else { return Ok(None) };
    if !value.is_finite() {
        return Err(invalid(format!(
            "`{setting}` must be a finite number, not {value}"
        )));
    }
    let adjusted = value.clamp(min, max);
    if adjusted != value {
        warnings.push(Warning {
            setting: setting.to_string(),
            message: format!(
                "gemini accepts `{setting}` from {min} to {max}; {value} was sent as {adjusted}"
            ),
        });
    }
    Ok(Some(adjusted))
}

/// Percent-encodes a URL path segment: every byte outside `[A-Za-z0-9._-]` becomes `%XX`.
fn encode_path_segment(segment: &str) -> Cow<'_, str> {
    let keep = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if segment.bytes().all(keep) {
        return Cow::Borrowed(segment);
    }
    let mut out = String::with_capacity(segment.len() * 3);
    for b in segment.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{CacheTtl, Message, Metadata, SystemBlock, ToolDefinition};

    fn user(text: &str) -> Message {
        Message::user(text)
    }

    fn request(messages: Vec<Message>) -> Request {
        Request::new("gemini/gemini-2.5-flash", messages)
    }

    fn keyed() -> ProviderConfig {
        ProviderConfig {
            api_key: Some("AIzaSyTEST".into()),
            ..ProviderConfig::default()
        }
    }

    fn encode_ok(request: &Request) -> (Value, Vec<Warning>) {
        let encoded = encode("gemini-2.5-flash", request, &keyed(), false).unwrap();
        let body: Value = serde_json::from_str(encoded.http.body.as_deref().unwrap()).unwrap();
        (body, encoded.warnings)
    }

    fn encode_err(request: &Request) -> Error {
        encode("gemini-2.5-flash", request, &keyed(), false).unwrap_err()
    }

    fn weather_tool() -> ToolDefinition {
        ToolDefinition {
            name: "get_weather".into(),
            description: Some("Current weather for a city".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            cache: None,
        }
    }

    #[test]
    fn simple_request_url_headers_and_body() {
        let encoded = encode(
            "gemini-2.5-flash",
            &request(vec![user("Hi")]),
            &keyed(),
            false,
        )
        .unwrap();
        let http = &encoded.http;
        assert_eq!(http.method, Method::Post);
        assert_eq!(
            http.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
        );
        assert_eq!(http.headers.get("content-type"), Some("application/json"));
        assert_eq!(http.headers.get("x-goog-api-key"), Some("AIzaSyTEST"));
        assert_eq!(http.headers.get("accept"), None);
        assert_eq!(http.headers.len(), 2);
        assert!(!http.url.contains("AIzaSyTEST"));
        let body: Value = serde_json::from_str(http.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})
        );
        assert!(encoded.warnings.is_empty());
    }

    #[test]
    fn stream_uses_sse_endpoint_and_accept_header() {
        let encoded = encode(
            "gemini-2.5-flash",
            &request(vec![user("Hi")]),
            &keyed(),
            true,
        )
        .unwrap();
        assert_eq!(
            encoded.http.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            encoded.http.headers.get("accept"),
            Some("text/event-stream")
        );
        let body: Value = serde_json::from_str(encoded.http.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})
        );
    }

    #[test]
    fn no_api_key_means_no_auth_header_and_base_url_and_extra_headers_apply() {
        let mut extra = Headers::new();
        extra.set("X-Proxy-Token", "t1");
        extra.set("Content-Type", "application/json; charset=utf-8");
        let config = ProviderConfig {
            api_key: None,
            base_url: Some("https://proxy.example.com/gemini/".into()),
            headers: extra,
        };
        let encoded = encode("gemini-2.5-pro", &request(vec![user("Hi")]), &config, false).unwrap();
        assert_eq!(
            encoded.http.url,
            "https://proxy.example.com/gemini/v1beta/models/gemini-2.5-pro:generateContent"
        );
        assert_eq!(encoded.http.headers.get("x-goog-api-key"), None);
        assert_eq!(encoded.http.headers.get("x-proxy-token"), Some("t1"));
        // Extra headers override the adapter's own.
        assert_eq!(
            encoded.http.headers.get("content-type"),
            Some("application/json; charset=utf-8")
        );
    }

    #[test]
    fn model_names_are_percent_encoded_in_the_path() {
        let encoded = encode(
            "tunedModels/my model?x#y",
            &request(vec![user("Hi")]),
            &keyed(),
            false,
        )
        .unwrap();
        assert_eq!(
            encoded.http.url,
            "https://generativelanguage.googleapis.com/v1beta/models/tunedModels%2Fmy%20model%3Fx%23y:generateContent"
        );
        assert_eq!(
            encode_path_segment("gemini-2.5-flash_v1.0"),
            "gemini-2.5-flash_v1.0"
        );
        assert_eq!(encode_path_segment("é"), "%C3%A9");
        assert_eq!(
            encode("", &request(vec![user("Hi")]), &keyed(), false)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidRequest
        );
    }

    #[test]
    fn system_blocks_become_system_instruction_parts_and_cache_markers_are_silent() {
        let mut req = request(vec![Message {
            role: Role::User,
            content: vec![ContentPart::Text {
                text: "Hi".into(),
                cache: Some(CacheTtl::OneHour),
            }],
        }]);
        req.system = vec![
            SystemBlock {
                text: "You are terse.".into(),
                cache: Some(CacheTtl::FiveMinutes),
            },
            SystemBlock {
                text: "Answer in French.".into(),
                cache: None,
            },
        ];
        let mut tool = weather_tool();
        tool.cache = Some(CacheTtl::FiveMinutes);
        req.tools = vec![tool];
        let (body, warnings) = encode_ok(&req);
        assert_eq!(
            body["systemInstruction"],
            json!({"parts": [{"text": "You are terse."}, {"text": "Answer in French."}]})
        );
        assert_eq!(
            body["contents"],
            json!([{"role": "user", "parts": [{"text": "Hi"}]}])
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn multi_turn_with_tool_call_signature_and_results() {
        let req = request(vec![
            user("Weather in Paris and London?"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::Reasoning {
                        text: "**Planning**".into(),
                        signature: None,
                    },
                    ContentPart::text("Checking both."),
                    ContentPart::ToolCall {
                        id: "call_0".into(),
                        name: "get_weather".into(),
                        arguments: json!({"city": "Paris"}),
                        signature: Some("CiQBVKhc7kSig".into()),
                    },
                    ContentPart::ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: Value::Null,
                        signature: None,
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    ContentPart::ToolResult {
                        call_id: "call_0".into(),
                        name: None,
                        content: r#"{"temp_c": 18, "sky": "clear"}"#.into(),
                        is_error: false,
                        cache: None,
                    },
                    ContentPart::ToolResult {
                        call_id: "call_1".into(),
                        name: Some("get_weather".into()),
                        content: "London is not supported".into(),
                        is_error: true,
                        cache: None,
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id: "call_0".into(),
                    name: None,
                    content: "[1, 2]".into(),
                    is_error: false,
                    cache: None,
                }],
            },
            Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id: "call_0".into(),
                    name: None,
                    content: r#"{"code": 500}"#.into(),
                    is_error: true,
                    cache: None,
                }],
            },
        ]);
        let (body, warnings) = encode_ok(&req);
        assert_eq!(
            body["contents"],
            json!([
                {"role": "user", "parts": [{"text": "Weather in Paris and London?"}]},
                {"role": "model", "parts": [
                    {"text": "Checking both."},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "CiQBVKhc7kSig"},
                    {"functionCall": {"name": "get_weather", "args": {}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"temp_c": 18, "sky": "clear"}}},
                    {"functionResponse": {"name": "get_weather", "response": {"error": "London is not supported"}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"content": "[1, 2]"}}}
                ]},
                {"role": "user", "parts": [
                    {"functionResponse": {"name": "get_weather", "response": {"error": {"code": 500}}}}
                ]}
            ])
        );
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].setting, "messages");
        assert!(
            warnings[0].message.contains("1 reasoning part"),
            "{}",
            warnings[0].message
        );
    }

    #[test]
    fn a_turn_holding_only_reasoning_is_left_out() {
        let req = request(vec![
            user("Hi"),
            Message {
                role: Role::Assistant,
                content: vec![ContentPart::Reasoning {
                    text: "hmm".into(),
                    signature: None,
                }],
            },
            user("Still there?"),
        ]);
        let (body, warnings) = encode_ok(&req);
        assert_eq!(
            body["contents"],
            json!([{"role": "user", "parts": [{"text": "Hi"}]}, {"role": "user", "parts": [{"text": "Still there?"}]}])
        );
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn tool_result_without_a_known_name_is_an_invalid_request() {
        let req = request(vec![Message {
            role: Role::User,
            content: vec![ContentPart::ToolResult {
                call_id: "call_9".into(),
                name: None,
                content: "ok".into(),
                is_error: false,
                cache: None,
            }],
        }]);
        let err = encode_err(&req);
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.message().contains("tool name"), "{}", err.message());
        assert!(err.message().contains("call_9"), "{}", err.message());
    }

    #[test]
    fn misplaced_tool_parts_and_empty_conversations_are_invalid_requests() {
        let call = ContentPart::ToolCall {
            id: "c".into(),
            name: "f".into(),
            arguments: json!({}),
            signature: None,
        };
        let err = encode_err(&request(vec![Message {
            role: Role::User,
            content: vec![call],
        }]));
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        let result = ContentPart::ToolResult {
            call_id: "c".into(),
            name: Some("f".into()),
            content: "x".into(),
            is_error: false,
            cache: None,
        };
        let err = encode_err(&request(vec![Message {
            role: Role::Assistant,
            content: vec![result],
        }]));
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(
            encode_err(&request(vec![])).kind(),
            ErrorKind::InvalidRequest
        );
    }

    #[test]
    fn images_become_inline_data() {
        let req = request(vec![Message {
            role: Role::User,
            content: vec![
                ContentPart::text("What is this?"),
                ContentPart::Image {
                    media_type: "image/png".into(),
                    data: "iVBORw0KGgo=".into(),
                    cache: None,
                },
            ],
        }]);
        let (body, _) = encode_ok(&req);
        assert_eq!(
            body["contents"][0]["parts"],
            json!([{"text": "What is this?"}, {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}])
        );
    }

    #[test]
    fn tools_and_every_tool_choice() {
        let mut req = request(vec![user("Weather?")]);
        req.tools = vec![
            weather_tool(),
            ToolDefinition {
                name: "now".into(),
                description: None,
                parameters: json!({"type": "object", "properties": {}, "required": [], "additionalProperties": false}),
                cache: None,
            },
        ];
        let (body, _) = encode_ok(&req);
        assert_eq!(
            body["tools"],
            json!([{"functionDeclarations": [
                {"name": "get_weather", "description": "Current weather for a city",
                 "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                {"name": "now"}
            ]}])
        );
        assert!(body.get("toolConfig").is_none());
        for (choice, expected) in [
            (
                ToolChoice::Auto,
                json!({"functionCallingConfig": {"mode": "AUTO"}}),
            ),
            (
                ToolChoice::None,
                json!({"functionCallingConfig": {"mode": "NONE"}}),
            ),
            (
                ToolChoice::Required,
                json!({"functionCallingConfig": {"mode": "ANY"}}),
            ),
            (
                ToolChoice::Tool {
                    name: "get_weather".into(),
                },
                json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}),
            ),
        ] {
            req.tool_choice = Some(choice.clone());
            let (body, warnings) = encode_ok(&req);
            assert_eq!(body["toolConfig"], expected, "{choice:?}");
            assert!(warnings.is_empty());
        }
    }

    #[test]
    fn empty_parameter_schemas_are_recognised() {
        assert!(declares_no_parameters(&json!({})));
        assert!(declares_no_parameters(&json!({"type": "object"})));
        assert!(declares_no_parameters(&Value::Null));
        assert!(declares_no_parameters(
            &json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {}})
        ));
        assert!(!declares_no_parameters(
            &json!({"type": "object", "properties": {"a": {"type": "string"}}})
        ));
        assert!(!declares_no_parameters(
            &json!({"type": "object", "additionalProperties": {"type": "string"}})
        ));
        assert!(!declares_no_parameters(&json!({"$ref": "#/$defs/Input"})));
    }

    #[test]
    fn each_response_format() {
        let mut req = request(vec![user("List three colours")]);
        req.response_format = Some(ResponseFormat::Text);
        assert!(encode_ok(&req).0.get("generationConfig").is_none());
        req.response_format = Some(ResponseFormat::Json);
        assert_eq!(
            encode_ok(&req).0["generationConfig"],
            json!({"responseMimeType": "application/json"})
        );
        let schema = json!({"type": "object", "properties": {"colours": {"type": "array", "items": {"type": "string"}}}, "required": ["colours"], "additionalProperties": false});
        req.response_format = Some(ResponseFormat::JsonSchema {
            name: "colours".into(),
            schema: schema.clone(),
            strict: true,
        });
        let (body, warnings) = encode_ok(&req);
        assert_eq!(
            body["generationConfig"],
            json!({"responseMimeType": "application/json", "responseJsonSchema": schema})
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn sampling_settings_and_stop_sequences() {
        let mut req = request(vec![user("Hi")]);
        req.max_tokens = Some(256);
        req.temperature = Some(0.7);
        req.top_p = Some(0.9);
        req.top_k = Some(40);
        req.stop = vec!["END".into(), "\n\n".into()];
        let (body, warnings) = encode_ok(&req);
        assert_eq!(
            body["generationConfig"],
            json!({"maxOutputTokens": 256, "temperature": 0.7, "topP": 0.9, "topK": 40, "stopSequences": ["END", "\n\n"]})
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn out_of_range_values_are_clamped_and_extra_stops_cut_with_warnings() {
        let mut req = request(vec![user("Hi")]);
        req.temperature = Some(2.5);
        req.top_p = Some(1.5);
        req.stop = (1..=7).map(|i| format!("S{i}")).collect();
        let (body, warnings) = encode_ok(&req);
        assert_eq!(
            body["generationConfig"],
            json!({"temperature": 2.0, "topP": 1.0, "stopSequences": ["S1", "S2", "S3", "S4", "S5"]})
        );
        let settings: Vec<&str> = warnings.iter().map(|w| w.setting.as_str()).collect();
        assert_eq!(settings, ["stop", "temperature", "topP"]);
        assert!(
            warnings[0].message.contains("first 5 of 7"),
            "{}",
            warnings[0].message
        );
        assert!(
            warnings[1].message.contains("2.5 was sent as 2"),
            "{}",
            warnings[1].message
        );

        req.stop.clear();
        req.top_p = None;
        req.temperature = Some(-1.0);
        let (body, warnings) = encode_ok(&req);
        assert_eq!(body["generationConfig"], json!({"temperature": 0.0}));
        assert_eq!(warnings.len(), 1);

        req.temperature = Some(f64::NAN);
        assert_eq!(encode_err(&req).kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn metadata_end_user_warns_and_conversation_id_is_silent() {
        let mut req = request(vec![user("Hi")]);
        req.metadata = Metadata {
            conversation_id: Some("conv-1".into()),
            end_user_id: None,
        };
        let (body, warnings) = encode_ok(&req);
        assert!(warnings.is_empty());
        assert_eq!(
            body,
            json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]})
        );
        req.metadata.end_user_id = Some("user-42".into());
        let (body, warnings) = encode_ok(&req);
        assert_eq!(
            warnings,
            [Warning::unsupported(Provider::Gemini, "metadata.endUserId")]
        );
        assert!(!body.to_string().contains("user-42"));
    }
}
