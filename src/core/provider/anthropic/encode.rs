//! Unified [`Request`] -> `POST {base}/v1/messages`.
use std::borrow::Cow;

use serde_json::Value;

use super::wire::{
    CacheControl, ContentBlockParam, ImageSource, MessageParam, MessagesRequest, Metadata, System,
    Tool, ToolChoice as WireToolChoice,
};
use super::{
    API_VERSION, DEFAULT_BASE_URL, DEFAULT_MAX_TOKENS, MAX_CACHE_BREAKPOINTS,
    STRUCTURED_OUTPUT_TOOL,
};
use crate::core::error::{Error, ErrorKind};
use crate::core::http::{Headers, HttpRequest, Method};
use crate::core::model::{
    CacheTtl, ContentPart, Message, Provider, Request, ResponseFormat, Role, ToolChoice, Warning,
};
use crate::core::provider::{Encoded, ProviderConfig};

const PROVIDER: Provider = Provider::Anthropic;

/// Anthropic's accepted temperature range is 0..=1.
const MAX_TEMPERATURE: f64 = 1.0;

pub fn encode(
    model: &str,
    request: &Request,
    config: &ProviderConfig,
    stream: bool,
) -> Result<Encoded, Error> {
    let mut warnings = Vec::new();

    let mut tools = encode_tools(request)?;
    let mut tool_choice = encode_tool_choice(request, !tools.is_empty());
    if let Some(tool) = structured_output_tool(request.response_format.as_ref()) {
        tools.push(tool);
        if request.tool_choice.is_some() {
            warnings.push(Warning {
                setting: "toolChoice".to_string(),
                message: format!(
                    "{PROVIDER} implements `responseFormat` by forcing the `{STRUCTURED_OUTPUT_TOOL}` \
                     tool, so the request's `toolChoice` was replaced"
                ),
            });
        }
        tool_choice = Some(WireToolChoice::Tool {
            name: STRUCTURED_OUTPUT_TOOL,
        });
    }

    let mut system: Vec<ContentBlockParam<'_>> = request
        .system
        .iter()
        .filter(|block| !block.text.is_empty())
        .map(|block| ContentBlockParam::Text {
            text: &block.text,
            cache_control: block.cache.map(CacheControl),
        })
        .collect();
    let mut messages = encode_messages(&request.messages, &mut warnings)?;
    limit_cache_breakpoints(&mut tools, &mut system, &mut messages, &mut warnings);

    let body = MessagesRequest {
        model,
        max_tokens: request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        system: encode_system(system),
        messages,
        temperature: request
            .temperature
            .map(|t| clamp_temperature(t, &mut warnings)),
        top_p: request.top_p,
        top_k: request.top_k,
        stop_sequences: &request.stop,
        stream,
        tools,
        tool_choice,
        metadata: request
            .metadata
            .end_user_id
            .as_deref()
            .map(|user_id| Metadata { user_id }),
    };
    let body = serde_json::to_string(&body).map_err(|e| {
        Error::new(
            ErrorKind::InvalidRequest,
            format!("cannot serialise the request: {e}"),
        )
        .with_provider(PROVIDER)
    })?;

    let mut headers = Headers::new();
    headers.set("content-type", "application/json");
    if stream {
        headers.set("accept", "text/event-stream");
    }
    headers.set("anthropic-version", API_VERSION);
    if let Some(key) = &config.api_key {
        headers.set("x-api-key", key.as_str());
    }
    config.apply_extra_headers(&mut headers);

    Ok(Encoded {
        http: HttpRequest {
            method: Method::Post,
            url: format!("{}/v1/messages", config.base_url_or(DEFAULT_BASE_URL)),
            headers,
            body: Some(body),
        },
        warnings,
    })
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidRequest, message).with_provider(PROVIDER)
}

fn encode_tools(request: &Request) -> Result<Vec<Tool<'_>>, Error> {
    request
        .tools
        .iter()
        .map(|tool| {
            if tool.name == STRUCTURED_OUTPUT_TOOL {
                return Err(invalid(format!(
                    "the tool name `{STRUCTURED_OUTPUT_TOOL}` is reserved for structured output"
                )));
            }
            Ok(Tool {
                name: &tool.name,
                description: tool.description.as_deref().map(Cow::Borrowed),
                input_schema: Cow::Borrowed(&tool.parameters),
                cache_control: tool.cache.map(CacheControl),
            })
        })
        .collect()
}

/// The API refuses `tool_choice` without `tools`; without tools `auto` and `none` mean what
/// sending nothing means, so they are omitted. `required` and a named tool are sent as they are
/// (the provider then reports the mistake).
fn encode_tool_choice(request: &Request, has_tools: bool) -> Option<WireToolChoice<'_>> {
    match request.tool_choice.as_ref()? {
        ToolChoice::Auto if !has_tools => None,
        ToolChoice::None if !has_tools => None,
        ToolChoice::Auto => Some(WireToolChoice::Auto),
        ToolChoice::None => Some(WireToolChoice::None),
        ToolChoice::Required => Some(WireToolChoice::Any),
        ToolChoice::Tool { name } => Some(WireToolChoice::Tool { name }),
    }
}

/// `responseFormat` Json / JsonSchema as the forced structured-output tool.
fn structured_output_tool(format: Option<&ResponseFormat>) -> Option<Tool<'_>> {
    let (schema, description) = match format? {
        ResponseFormat::Text => return None,
        ResponseFormat::Json => (
            Cow::Owned(serde_json::json!({ "type": "object" })),
            "Respond with the final answer as this tool's input: a JSON object.".to_string(),
        ),
        ResponseFormat::JsonSchema { name, schema, .. } => (
            Cow::Borrowed(schema),
            format!("Respond with the final answer as this tool's input: the `{name}` object."),
        ),
    };
    Some(Tool {
        name: STRUCTURED_OUTPUT_TOOL,
        description: Some(Cow::Owned(description)),
        input_schema: schema,
        cache_control: None,
    })
}

fn encode_messages<'a>(
    messages: &'a [Message],
    warnings: &mut Vec<Warning>,
) -> Result<Vec<MessageParam<'a>>, Error> {
    let mut out = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = match message.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let mut content = Vec::with_capacity(message.content.len());
        for part in &message.content {
            if let Some(block) = encode_part(i, message.role, part, warnings)? {
                content.push(block);
            }
        }
        if message.role == Role::User {
            // The API wants a user turn's tool results before any other content (stable sort:
            // the results keep their order, and so does the rest).
            content.sort_by_key(|block| !matches!(block, ContentBlockParam::ToolResult { .. }));
        }
        if content.is_empty() {
            warnings.push(Warning {
                setting: "messages".to_string(),
                message: format!(
                    "message {i} has no content {PROVIDER} accepts (empty text or unsigned \
                     reasoning); it was not sent"
                ),
            });
            continue;
        }
        out.push(MessageParam { role, content });
    }
    Ok(out)
}

fn encode_part<'a>(
    index: usize,
    role: Role,
    part: &'a ContentPart,
    warnings: &mut Vec<Warning>,
) -> Result<Option<ContentBlockParam<'a>>, Error> {
    Ok(Some(match part {
        // The API refuses empty text blocks; an empty part carries nothing.
        ContentPart::Text { text, cache: None } if text.is_empty() => return Ok(None),
        ContentPart::Text { text, cache } => ContentBlockParam::Text {
            text,
            cache_control: cache.map(CacheControl),
        },
        ContentPart::Image {
            media_type,
            data,
            cache,
        } => ContentBlockParam::Image {
            source: ImageSource {
                kind: "base64",
                media_type,
                data,
            },
            cache_control: cache.map(CacheControl),
        },
        ContentPart::ToolCall {
            id,
            name,
            arguments,
            ..
        } => {
            if role != Role::Assistant {
                return Err(invalid(format!(
                    "message {index}: a tool call (`{name}`) can only appear in an assistant message"
                )));
            }
            let input = if arguments.is_null() {
                Cow::Owned(Value::Object(Default::default()))
            } else {
                Cow::Borrowed(arguments)
            };
            ContentBlockParam::ToolUse { id, name, input }
        }
        ContentPart::ToolResult {
            call_id,
            content,
            is_error,
            cache,
            ..
        } => {
            if role != Role::User {
                return Err(invalid(format!(
                    "message {index}: a tool result (for call `{call_id}`) can only appear in a user message"
                )));
            }
            ContentBlockParam::ToolResult {
                tool_use_id: call_id,
                content,
                is_error: *is_error,
                cache_control: cache.map(CacheControl),
            }
        }
        ContentPart::Reasoning { text, signature } => {
            if role != Role::Assistant {
                return Err(invalid(format!(
                    "message {index}: reasoning can only appear in an assistant message"
                )));
            }
            match signature.as_deref() {
                Some(signature) if !signature.is_empty() => ContentBlockParam::Thinking {
                    thinking: text,
                    signature,
                },
                _ => {
                    warnings.push(Warning {
                        setting: "messages".to_string(),
                        message: format!(
                            "message {index}: reasoning without a signature cannot be sent back to \
                             {PROVIDER}; it was not sent"
                        ),
                    });
                    return Ok(None);
                }
            }
        }
    }))
}

/// Keeps at most [`MAX_CACHE_BREAKPOINTS`] cache markers: the last ones in prompt order (tools,
/// then system, then messages), since a later breakpoint caches everything before it. Also
/// warns when a 1-hour marker follows a 5-minute one (the API requires longer TTLs first).
fn limit_cache_breakpoints(
    tools: &mut [Tool<'_>],
    system: &mut [ContentBlockParam<'_>],
    messages: &mut [MessageParam<'_>],
    warnings: &mut Vec<Warning>,
) {
    let mut slots: Vec<&mut Option<CacheControl>> = tools
        .iter_mut()
        .map(|tool| &mut tool.cache_control)
        .chain(
            system
                .iter_mut()
                .filter_map(ContentBlockParam::cache_control_mut),
        )
        .chain(
            messages
                .iter_mut()
                .flat_map(|m| m.content.iter_mut())
                .filter_map(ContentBlockParam::cache_control_mut),
        )
        .filter(|slot| slot.is_some())
        .collect();
    let excess = slots.len().saturating_sub(MAX_CACHE_BREAKPOINTS);
    if excess > 0 {
        for slot in &mut slots[..excess] {
            **slot = None;
        }
        warnings.push(Warning {
            setting: "cache".to_string(),
            message: format!(
                "{PROVIDER} accepts at most {MAX_CACHE_BREAKPOINTS} cache breakpoints per request; \
                 {} were marked, so the first {excess} in prompt order were not sent",
                slots.len()
            ),
        });
    }
    let ttls: Vec<CacheTtl> = slots[excess..]
        .iter()
        .filter_map(|slot| slot.map(|c| c.0))
        .collect();
    if ttls
        .windows(2)
        .any(|w| w == [CacheTtl::FiveMinutes, CacheTtl::OneHour])
    {
        warnings.push(Warning {
            setting: "cache".to_string(),
            message: format!(
                "a 1-hour cache marker follows a 5-minute one; {PROVIDER} requires 1-hour \
                 breakpoints to come before 5-minute ones and may reject the request"
            ),
        });
    }
}

/// A plain string unless some block carries a cache marker.
fn encode_system(blocks: Vec<ContentBlockParam<'_>>) -> Option<System<'_>> {
    if blocks.is_empty() {
        return None;
    }
    let marked = blocks.iter().any(|block| {
        matches!(
            block,
            ContentBlockParam::Text {
                cache_control: Some(_),
                ..
            }
        )
    });
    if marked {
        return Some(System::Blocks(blocks));
    }
    let texts: Vec<&str> = blocks
        .iter()
        .filter_map(|block| match block {
            ContentBlockParam::Text { text, .. } => Some(*text),
            _ => None,
        })
        .collect();
    Some(System::Text(texts.join("\n\n")))
}

fn clamp_temperature(temperature: f64, warnings: &mut Vec<Warning>) -> f64 {
    let clamped = temperature.clamp(0.0, MAX_TEMPERATURE);
    if clamped != temperature {
        warnings.push(Warning {
            setting: "temperature".to_string(),
            message: format!(
                "{PROVIDER} accepts a temperature from 0 to {MAX_TEMPERATURE}; {temperature} was \
                 clamped to {clamped}"
            ),
        });
    }
    clamped
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::model::{Metadata as RequestMetadata, SystemBlock, ToolDefinition};

    const MODEL: &str = "claude-sonnet-4-5-20250929";

    fn key_config() -> ProviderConfig {
        ProviderConfig {
            api_key: Some("sk-ant-test".into()),
            ..ProviderConfig::default()
        }
    }

    fn encode_ok(request: &Request) -> Encoded {
        encode(MODEL, request, &key_config(), false).unwrap()
    }

    fn body(encoded: &Encoded) -> Value {
        serde_json::from_str(encoded.http.body.as_deref().unwrap()).unwrap()
    }

    fn user(text: &str) -> Request {
        Request::new("anthropic/claude-sonnet-4-5", vec![Message::user(text)])
    }

    fn weather_tool() -> ToolDefinition {
        ToolDefinition {
            name: "get_weather".into(),
            description: Some("Current weather for a city".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            cache: None,
        }
    }

    fn header_names(encoded: &Encoded) -> Vec<(String, String)> {
        encoded
            .http
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn simple_request_body_url_and_headers() {
        let encoded = encode_ok(&user("Hello"));
        assert_eq!(encoded.http.method, Method::Post);
        assert_eq!(encoded.http.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(
            header_names(&encoded),
            vec![
                ("content-type".to_string(), "application/json".to_string()),
                ("anthropic-version".to_string(), "2023-06-01".to_string()),
                ("x-api-key".to_string(), "sk-ant-test".to_string()),
            ]
        );
        assert_eq!(
            body(&encoded),
            json!({
                "model": MODEL,
                "max_tokens": DEFAULT_MAX_TOKENS,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
            })
        );
        assert_eq!(encoded.warnings, vec![]);
    }

    #[test]
    fn default_max_tokens_is_4096_and_an_explicit_one_wins() {
        assert_eq!(DEFAULT_MAX_TOKENS, 4096);
        let mut request = user("Hi");
        request.max_tokens = Some(256);
        assert_eq!(body(&encode_ok(&request))["max_tokens"], json!(256));
    }

    #[test]
    fn streaming_adds_stream_true_and_accept() {
        let encoded = encode(MODEL, &user("Hi"), &key_config(), true).unwrap();
        assert_eq!(body(&encoded)["stream"], json!(true));
        assert_eq!(
            encoded.http.headers.get("accept"),
            Some("text/event-stream")
        );
        let encoded = encode_ok(&user("Hi"));
        assert_eq!(body(&encoded).get("stream"), None);
        assert_eq!(encoded.http.headers.get("accept"), None);
    }

    #[test]
    fn without_an_api_key_no_auth_header_and_base_url_is_used() {
        let config = ProviderConfig {
            api_key: None,
            base_url: Some("https://proxy.example.com/anthropic/".into()),
            ..ProviderConfig::default()
        };
        let encoded = encode(MODEL, &user("Hi"), &config, false).unwrap();
        assert_eq!(
            encoded.http.url,
            "https://proxy.example.com/anthropic/v1/messages"
        );
        assert_eq!(encoded.http.headers.get("x-api-key"), None);
        assert_eq!(
            encoded.http.headers.get("anthropic-version"),
            Some("2023-06-01")
        );
    }

    #[test]
    fn extra_headers_are_added_last_and_can_override() {
        let config = ProviderConfig {
            api_key: Some("sk-ant-test".into()),
            headers: [
                ("anthropic-version", "2099-01-01"),
                ("anthropic-beta", "context-1m-2025-08-07"),
            ]
            .into_iter()
            .collect(),
            ..ProviderConfig::default()
        };
        let encoded = encode(MODEL, &user("Hi"), &config, false).unwrap();
        assert_eq!(
            encoded.http.headers.get("anthropic-version"),
            Some("2099-01-01")
        );
        assert_eq!(
            encoded.http.headers.get("anthropic-beta"),
            Some("context-1m-2025-08-07")
        );
        assert_eq!(encoded.http.headers.get("x-api-key"), Some("sk-ant-test"));
        assert_eq!(encoded.http.headers.len(), 4);
    }

    #[test]
    fn system_blocks_without_markers_become_one_string() {
        let mut request = user("Hi");
        request.system = vec![
            SystemBlock {
                text: "You are terse.".into(),
                cache: None,
            },
            SystemBlock {
                text: "Answer in French.".into(),
                cache: None,
            },
        ];
        assert_eq!(
            body(&encode_ok(&request))["system"],
            json!("You are terse.\n\nAnswer in French.")
        );
    }

    #[test]
    fn system_blocks_with_a_marker_stay_blocks() {
        let mut request = user("Hi");
        request.system = vec![
            SystemBlock {
                text: "Long stable instructions".into(),
                cache: Some(CacheTtl::FiveMinutes),
            },
            SystemBlock {
                text: "Today is Monday.".into(),
                cache: None,
            },
        ];
        assert_eq!(
            body(&encode_ok(&request))["system"],
            json!([
                {"type": "text", "text": "Long stable instructions", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Today is Monday."}
            ])
        );
    }

    #[test]
    fn multi_turn_with_tool_call_and_tool_results() {
        let request = Request::new(
            MODEL,
            vec![
                Message::user("Weather in Paris and Rome?"),
                Message {
                    role: Role::Assistant,
                    content: vec![
                        ContentPart::Reasoning {
                            text: "Two cities: two calls.".into(),
                            signature: Some("EqQBCkYIBxgCKkBsig".into()),
                        },
                        ContentPart::text("Checking both."),
                        ContentPart::ToolCall {
                            id: "toolu_01A".into(),
                            name: "get_weather".into(),
                            arguments: json!({"city": "Paris"}),
                            signature: None,
                        },
                        ContentPart::ToolCall {
                            id: "toolu_01B".into(),
                            name: "clock".into(),
                            arguments: Value::Null,
                            signature: Some("gemini-only".into()),
                        },
                    ],
                },
                Message {
                    role: Role::User,
                    content: vec![
                        ContentPart::text("Here you go."),
                        ContentPart::ToolResult {
                            call_id: "toolu_01A".into(),
                            name: Some("get_weather".into()),
                            content: "18°C, sunny".into(),
                            is_error: false,
                            cache: None,
                        },
                        ContentPart::ToolResult {
                            call_id: "toolu_01B".into(),
                            name: None,
                            content: "clock unavailable".into(),
                            is_error: true,
                            cache: None,
                        },
                    ],
                },
            ],
        );
        let encoded = encode_ok(&request);
        assert_eq!(
            body(&encoded)["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "Two cities: two calls.", "signature": "EqQBCkYIBxgCKkBsig"},
                    {"type": "text", "text": "Checking both."},
                    {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "toolu_01B", "name": "clock", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "18°C, sunny"},
                    {"type": "tool_result", "tool_use_id": "toolu_01B", "content": "clock unavailable", "is_error": true},
                    {"type": "text", "text": "Here you go."}
                ]}
            ])
        );
        assert_eq!(encoded.warnings, vec![]);
    }

    #[test]
    fn unsigned_reasoning_is_dropped_with_a_warning() {
        let request = Request::new(
            MODEL,
            vec![
                Message::user("Hi"),
                Message {
                    role: Role::Assistant,
                    content: vec![
                        ContentPart::Reasoning {
                            text: "hmm".into(),
                            signature: None,
                        },
                        ContentPart::text("Hello!"),
                    ],
                },
                Message {
                    role: Role::Assistant,
                    content: vec![ContentPart::Reasoning {
                        text: "only thoughts".into(),
                        signature: None,
                    }],
                },
                Message::user("Bye"),
            ],
        );
        let encoded = encode_ok(&request);
        assert_eq!(
            body(&encoded)["messages"],
            json!([
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
                {"role": "user", "content": [{"type": "text", "text": "Bye"}]}
            ])
        );
        let settings: Vec<&str> = encoded
            .warnings
            .iter()
            .map(|w| w.setting.as_str())
            .collect();
        assert_eq!(settings, vec!["messages", "messages", "messages"]);
        assert!(encoded.warnings[0].message.contains("message 1"));
        assert!(encoded.warnings[0].message.contains("signature"));
        assert!(encoded.warnings[2]
            .message
            .contains("message 2 has no content"));
    }

    #[test]
    fn parts_in_the_wrong_role_are_invalid_requests() {
        let call = ContentPart::ToolCall {
            id: "t".into(),
            name: "f".into(),
            arguments: json!({}),
            signature: None,
        };
        let result = ContentPart::ToolResult {
            call_id: "t".into(),
            name: None,
            content: "x".into(),
            is_error: false,
            cache: None,
        };
        let reasoning = ContentPart::Reasoning {
            text: "x".into(),
            signature: Some("s".into()),
        };
        for (role, part) in [
            (Role::User, call),
            (Role::Assistant, result),
            (Role::User, reasoning),
        ] {
            let request = Request::new(
                MODEL,
                vec![Message {
                    role,
                    content: vec![part],
                }],
            );
            let err = encode(MODEL, &request, &key_config(), false).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            assert_eq!(err.provider(), Some(Provider::Anthropic));
        }
    }

    #[test]
    fn images_are_base64_sources() {
        let request = Request::new(
            MODEL,
            vec![Message {
                role: Role::User,
                content: vec![
                    ContentPart::Image {
                        media_type: "image/png".into(),
                        data: "iVBORw0KGgo=".into(),
                        cache: None,
                    },
                    ContentPart::text("What is this?"),
                ],
            }],
        );
        assert_eq!(
            body(&encode_ok(&request))["messages"][0]["content"],
            json!([
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                {"type": "text", "text": "What is this?"}
            ])
        );
    }

    #[test]
    fn tools_and_each_tool_choice() {
        let mut request = user("Weather?");
        request.tools = vec![
            weather_tool(),
            ToolDefinition {
                name: "clock".into(),
                description: None,
                parameters: json!({"type": "object"}),
                cache: None,
            },
        ];
        let b = body(&encode_ok(&request));
        assert_eq!(
            b["tools"],
            json!([
                {"name": "get_weather", "description": "Current weather for a city",
                 "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                {"name": "clock", "input_schema": {"type": "object"}}
            ])
        );
        assert_eq!(b.get("tool_choice"), None);
        for (choice, wire) in [
            (ToolChoice::Auto, json!({"type": "auto"})),
            (ToolChoice::Required, json!({"type": "any"})),
            (ToolChoice::None, json!({"type": "none"})),
            (
                ToolChoice::Tool {
                    name: "clock".into(),
                },
                json!({"type": "tool", "name": "clock"}),
            ),
        ] {
            request.tool_choice = Some(choice);
            let encoded = encode_ok(&request);
            assert_eq!(body(&encoded)["tool_choice"], wire);
            assert_eq!(encoded.warnings, vec![]);
        }
    }

    #[test]
    fn auto_or_none_without_tools_is_not_sent() {
        for choice in [ToolChoice::Auto, ToolChoice::None] {
            let mut request = user("Hi");
            request.tool_choice = Some(choice);
            let b = body(&encode_ok(&request));
            assert_eq!(b.get("tool_choice"), None);
            assert_eq!(b.get("tools"), None);
        }
    }

    #[test]
    fn the_structured_output_tool_name_is_reserved() {
        let mut request = user("Hi");
        request.tools = vec![ToolDefinition {
            name: STRUCTURED_OUTPUT_TOOL.into(),
            description: None,
            parameters: json!({"type": "object"}),
            cache: None,
        }];
        let err = encode(MODEL, &request, &key_config(), false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn response_format_text_sends_nothing() {
        let mut request = user("Hi");
        request.response_format = Some(ResponseFormat::Text);
        assert_eq!(body(&encode_ok(&request)), body(&encode_ok(&user("Hi"))));
    }

    #[test]
    fn response_format_json_is_a_forced_object_tool() {
        let mut request = user("Give me JSON");
        request.response_format = Some(ResponseFormat::Json);
        let encoded = encode_ok(&request);
        let b = body(&encoded);
        assert_eq!(
            b["tools"],
            json!([{
                "name": "llm_edge_structured_output",
                "description": "Respond with the final answer as this tool's input: a JSON object.",
                "input_schema": {"type": "object"}
            }])
        );
        assert_eq!(
            b["tool_choice"],
            json!({"type": "tool", "name": "llm_edge_structured_output"})
        );
        assert_eq!(encoded.warnings, vec![]);
    }

    #[test]
    fn response_format_json_schema_is_appended_after_the_tools_and_overrides_tool_choice() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
        let mut request = user("Where?");
        request.tools = vec![weather_tool()];
        request.tool_choice = Some(ToolChoice::Auto);
        request.response_format = Some(ResponseFormat::JsonSchema {
            name: "place".into(),
            schema: schema.clone(),
            strict: true,
        });
        let encoded = encode_ok(&request);
        let b = body(&encoded);
        assert_eq!(b["tools"][0]["name"], json!("get_weather"));
        assert_eq!(
            b["tools"][1],
            json!({
                "name": STRUCTURED_OUTPUT_TOOL,
                "description": "Respond with the final answer as this tool's input: the `place` object.",
                "input_schema": schema
            })
        );
        assert_eq!(
            b["tool_choice"],
            json!({"type": "tool", "name": STRUCTURED_OUTPUT_TOOL})
        );
        assert_eq!(encoded.warnings.len(), 1);
        assert_eq!(encoded.warnings[0].setting, "toolChoice");
    }

    #[test]
    fn sampling_settings_and_metadata() {
        let mut request = user("Hi");
        request.temperature = Some(0.3);
        request.top_p = Some(0.9);
        request.top_k = Some(40);
        request.stop = vec!["\n\nHuman:".into(), "END".into()];
        request.metadata = RequestMetadata {
            conversation_id: Some("conv-1".into()),
            end_user_id: Some("user-42".into()),
        };
        let encoded = encode_ok(&request);
        let b = body(&encoded);
        assert_eq!(b["temperature"], json!(0.3));
        assert_eq!(b["top_p"], json!(0.9));
        assert_eq!(b["top_k"], json!(40));
        assert_eq!(b["stop_sequences"], json!(["\n\nHuman:", "END"]));
        assert_eq!(b["metadata"], json!({"user_id": "user-42"}));
        // Every unified setting is supported: conversationId is ours and needs no warning.
        assert_eq!(encoded.warnings, vec![]);
        // conversationId alone sends no metadata.
        request.metadata.end_user_id = None;
        assert_eq!(body(&encode_ok(&request)).get("metadata"), None);
    }

    #[test]
    fn temperature_above_one_is_clamped_with_a_warning() {
        let mut request = user("Hi");
        request.temperature = Some(1.7);
        let encoded = encode_ok(&request);
        assert_eq!(body(&encoded)["temperature"], json!(1.0));
        assert_eq!(encoded.warnings.len(), 1);
        assert_eq!(encoded.warnings[0].setting, "temperature");
        assert!(
            encoded.warnings[0].message.contains("1.7 was clamped to 1"),
            "{}",
            encoded.warnings[0].message
        );
        request.temperature = Some(1.0);
        assert_eq!(encode_ok(&request).warnings, vec![]);
    }

    fn marked_text(text: &str, ttl: CacheTtl) -> ContentPart {
        ContentPart::Text {
            text: text.into(),
            cache: Some(ttl),
        }
    }

    #[test]
    fn cache_markers_on_tools_system_and_messages() {
        let mut request = Request::new(
            MODEL,
            vec![Message {
                role: Role::User,
                content: vec![
                    ContentPart::Image {
                        media_type: "image/jpeg".into(),
                        data: "/9j/4AAQ".into(),
                        cache: Some(CacheTtl::FiveMinutes),
                    },
                    ContentPart::text("Describe it."),
                ],
            }],
        );
        request.tools = vec![ToolDefinition {
            cache: Some(CacheTtl::OneHour),
            ..weather_tool()
        }];
        request.system = vec![SystemBlock {
            text: "Stable prefix".into(),
            cache: Some(CacheTtl::OneHour),
        }];
        let encoded = encode_ok(&request);
        let b = body(&encoded);
        assert_eq!(
            b["tools"][0]["cache_control"],
            json!({"type": "ephemeral", "ttl": "1h"})
        );
        assert_eq!(
            b["system"],
            json!([{"type": "text", "text": "Stable prefix", "cache_control": {"type": "ephemeral", "ttl": "1h"}}])
        );
        assert_eq!(
            b["messages"][0]["content"][0],
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
                   "cache_control": {"type": "ephemeral"}})
        );
        assert_eq!(b["messages"][0]["content"][1].get("cache_control"), None);
        assert_eq!(encoded.warnings, vec![]);
    }

    #[test]
    fn tool_results_can_carry_cache_markers() {
        let request = Request::new(
            MODEL,
            vec![Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id: "toolu_1".into(),
                    name: None,
                    content: "big document".into(),
                    is_error: false,
                    cache: Some(CacheTtl::FiveMinutes),
                }],
            }],
        );
        assert_eq!(
            body(&encode_ok(&request))["messages"][0]["content"][0],
            json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "big document",
                   "cache_control": {"type": "ephemeral"}})
        );
    }

    #[test]
    fn more_than_four_breakpoints_keep_the_last_four() {
        let mut request = Request::new(
            MODEL,
            vec![
                Message {
                    role: Role::User,
                    content: vec![marked_text("m0", CacheTtl::FiveMinutes)],
                },
                Message::assistant("ok"),
                Message {
                    role: Role::User,
                    content: vec![
                        marked_text("m2a", CacheTtl::FiveMinutes),
                        marked_text("m2b", CacheTtl::FiveMinutes),
                    ],
                },
            ],
        );
        request.tools = vec![ToolDefinition {
            cache: Some(CacheTtl::OneHour),
            ..weather_tool()
        }];
        request.system = vec![
            SystemBlock {
                text: "s0".into(),
                cache: Some(CacheTtl::OneHour),
            },
            SystemBlock {
                text: "s1".into(),
                cache: None,
            },
        ];
        // Six markers in prompt order: tool, s0, m0, m2a, m2b -> five; the tool's is dropped.
        let encoded = encode_ok(&request);
        let b = body(&encoded);
        assert_eq!(b["tools"][0].get("cache_control"), None);
        assert_eq!(
            b["system"][0]["cache_control"],
            json!({"type": "ephemeral", "ttl": "1h"})
        );
        assert_eq!(b["system"][1].get("cache_control"), None);
        assert_eq!(
            b["messages"][0]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(
            b["messages"][2]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(
            b["messages"][2]["content"][1]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(encoded.warnings.len(), 1);
        assert_eq!(encoded.warnings[0].setting, "cache");
        assert!(
            encoded.warnings[0].message.contains("5 were marked"),
            "{}",
            encoded.warnings[0].message
        );

        // One more at the end drops the system marker too, and the system becomes a string.
        request.messages.push(Message {
            role: Role::User,
            content: vec![marked_text("m3", CacheTtl::FiveMinutes)],
        });
        let encoded = encode_ok(&request);
        let b = body(&encoded);
        assert_eq!(b["system"], json!("s0\n\ns1"));
        assert_eq!(
            b["messages"][0]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(
            b["messages"][3]["content"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert!(
            encoded.warnings[0].message.contains("first 2"),
            "{}",
            encoded.warnings[0].message
        );
    }

    #[test]
    fn a_one_hour_marker_after_a_five_minute_one_is_warned_not_reordered() {
        let mut request = Request::new(
            MODEL,
            vec![Message {
                role: Role::User,
                content: vec![marked_text("q", CacheTtl::OneHour)],
            }],
        );
        request.system = vec![SystemBlock {
            text: "s".into(),
            cache: Some(CacheTtl::FiveMinutes),
        }];
        let encoded = encode_ok(&request);
        let b = body(&encoded);
        assert_eq!(
            b["system"][0]["cache_control"],
            json!({"type": "ephemeral"})
        );
        assert_eq!(
            b["messages"][0]["content"][0]["cache_control"],
            json!({"type": "ephemeral", "ttl": "1h"})
        );
        assert_eq!(encoded.warnings.len(), 1);
        assert_eq!(encoded.warnings[0].setting, "cache");
        assert!(encoded.warnings[0].message.contains("1-hour"));

        // 1h then 5m is the right order: no warning.
        request.system[0].cache = Some(CacheTtl::OneHour);
        request.messages[0].content[0] = marked_text("q", CacheTtl::FiveMinutes);
        assert_eq!(encode_ok(&request).warnings, vec![]);
    }
}
