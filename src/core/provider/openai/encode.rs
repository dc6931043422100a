//! Unified [`Request`] -> `POST {base}/v1/chat/completions`.
//!
//! - The system blocks become one `system` message first (cache markers need no translation:
//!   OpenAI caches prompt prefixes by itself).
//! - Tool results leave their user message as one `tool` message each, in place; the rest of
//!   that user message follows as a user message.
//! - Reasoning parts and images in assistant turns cannot be sent: dropped with a warning.
//! - `temperature` (0..=2) and `topP` (0..=1) are clamped with a warning; only the first 4
//!   stop sequences are sent; `topK` is unsupported.
//! - A stream always asks for the usage chunk (`stream_options.include_usage`), so that the
//!   usage of a streamed call is never lost.
use super::wire::{
    AssistantContent, AssistantTextPart, ChatMessage, ChatRequest, FunctionCallOut,
    FunctionDefinition, ImageUrl, JsonSchema, NamedFunction, ResponseFormat as WireResponseFormat,
    StreamOptions, Tool, ToolCallOut, ToolChoice as WireToolChoice, UserContent, UserPart,
};
use crate::core::error::{Error, ErrorKind};
use crate::core::http::{Headers, HttpRequest, Method};
use crate::core::model::{
    ContentPart, Message, Provider, Request, ResponseFormat, Role, ToolChoice, Warning,
};
use crate::core::provider::{Encoded, ProviderConfig};

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com";
const PROVIDER: Provider = Provider::OpenAi;
/// OpenAI rejects more stop sequences than this.
const MAX_STOP_SEQUENCES: usize = 4;

pub fn encode(
    model: &str,
    request: &Request,
    config: &ProviderConfig,
    stream: bool,
) -> Result<Encoded, Error> {
    let mut warnings = Vec::new();
    let messages = encode_messages(request, &mut warnings)?;

    let temperature = clamped("temperature", request.temperature, 2.0, &mut warnings)?;
    let top_p = clamped("topP", request.top_p, 1.0, &mut warnings)?;
    if request.top_k.is_some() {
        warn(&mut warnings, Warning::unsupported(PROVIDER, "topK"));
    }
    let stop = if request.stop.len() > MAX_STOP_SEQUENCES {
        warn(
            &mut warnings,
            Warning {
                setting: "stop".to_string(),
                message: format!(
                    "{PROVIDER} accepts at most {MAX_STOP_SEQUENCES} stop sequences; only the first \
                     {MAX_STOP_SEQUENCES} of {} were sent",
                    request.stop.len()
                ),
            },
        );
        &request.stop[..MAX_STOP_SEQUENCES]
    } else {
        &request.stop[..]
    };

    let tools: Vec<Tool> = request
        .tools
        .iter()
        .map(|tool| Tool {
            kind: "function",
            function: FunctionDefinition {
                name: &tool.name,
                description: tool.description.as_deref(),
                parameters: &tool.parameters,
            },
        })
        .collect();
    let tool_choice = match &request.tool_choice {
        // OpenAI rejects `tool_choice` without `tools`; these two hold anyway.
        Some(ToolChoice::Auto | ToolChoice::None) if tools.is_empty() => None,
        Some(ToolChoice::Auto) => Some(WireToolChoice::Mode("auto")),
        Some(ToolChoice::None) => Some(WireToolChoice::Mode("none")),
        Some(ToolChoice::Required) => Some(WireToolChoice::Mode("required")),
        Some(ToolChoice::Tool { name }) => Some(WireToolChoice::Function {
            kind: "function",
            function: NamedFunction { name },
        }),
        None => None,
    };
    let response_format = match &request.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::Json) => Some(WireResponseFormat::JsonObject),
        Some(ResponseFormat::JsonSchema {
            name,
            schema,
            strict,
        }) => Some(WireResponseFormat::JsonSchema {
            json_schema: JsonSchema {
                name,
                schema,
                strict: *strict,
            },
        }),
    };

    let body = ChatRequest {
        model,
        messages,
        max_completion_tokens: request.max_tokens,
        temperature,
        top_p,
        stop,
        stream,
        stream_options: stream.then_some(StreamOptions {
            include_usage: true,
        }),
        tools,
        tool_choice,
        response_format,
        // `conversationId` is ours (session pinning, usage records): it is not sent.
        user: request.metadata.end_user_id.as_deref(),
    };
    let body = serde_json::to_string(&body).map_err(|e| {
        Error::new(
            ErrorKind::InvalidRequest,
            format!("the request cannot be encoded: {e}"),
        )
        .with_provider(PROVIDER)
    })?;

    let mut headers = Headers::new();
    headers.set("content-type", "application/json");
    if stream {
        headers.set("accept", "text/event-stream");
    }
    if let Some(key) = &config.api_key {
        headers.set("authorization", format!("Bearer {key}"));
    }
    config.apply_extra_headers(&mut headers);

    Ok(Encoded {
        http: HttpRequest {
            method: Method::Post,
            url: format!(
                "{}/v1/chat/completions",
                config.base_url_or(DEFAULT_BASE_URL)
            ),
            headers,
            body: Some(body),
        },
        warnings,
    })
}

fn encode_messages<'a>(
    request: &'a Request,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<ChatMessage<'a>>, Error> {
    let mut out = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = request.system_text() {
        out.push(ChatMessage::System { content: system });
    }
    for (at, message) in request.messages.iter().enumerate() {
        match message.role {
            Role::User => encode_user(at, message, &mut out, warnings)?,
            Role::Assistant => encode_assistant(at, message, &mut out, warnings)?,
        }
    }
    Ok(out)
}

fn encode_user<'a>(
    at: usize,
    message: &'a Message,
    out: &mut Vec<ChatMessage<'a>>,
    warnings: &mut Vec<Warning>,
) -> Result<(), Error> {
    let mut parts = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::ToolResult {
                call_id,
                content,
                is_error,
                ..
            } => {
                if *is_error {
                    warn(
                        warnings,
                        Warning {
                            setting: "isError".to_string(),
                            message: format!(
                                "{PROVIDER} tool results have no error flag; failed results were sent \
                                 as ordinary content"
                            ),
                        },
                    );
                }
                out.push(ChatMessage::Tool {
                    tool_call_id: call_id,
                    content,
                });
            }
            ContentPart::Text { text, .. } => parts.push(UserPart::Text { text }),
            ContentPart::Image {
                media_type, data, ..
            } => parts.push(UserPart::ImageUrl {
                image_url: ImageUrl {
                    url: format!("data:{media_type};base64,{data}"),
                },
            }),
            ContentPart::Reasoning { .. } => warn_reasoning(warnings),
            ContentPart::ToolCall { name, .. } => {
                return Err(invalid(format!(
                "messages[{at}] is a user message but holds a call to tool `{name}`; tool calls \
                     belong to assistant messages"
            )))
            }
        }
    }
    let content = match parts.as_slice() {
        [] => return Ok(()),
        [UserPart::Text { text }] => UserContent::Text(text),
        _ => UserContent::Parts(parts),
    };
    out.push(ChatMessage::User { content });
    Ok(())
}

fn encode_assistant<'a>(
    at: usize,
    message: &'a Message,
    out: &mut Vec<ChatMessage<'a>>,
    warnings: &mut Vec<Warning>,
) -> Result<(), Error> {
    let mut texts = Vec::new();
    let mut tool_calls = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::Text { text, .. } => texts.push(text.as_str()),
            ContentPart::ToolCall { id, name, arguments, .. } => tool_calls.push(ToolCallOut {
                id,
                kind: "function",
                function: FunctionCallOut { name, arguments: arguments.to_string() },
            }),
            ContentPart::Image { .. } => warn(
                warnings,
                Warning {
                    setting: "image".to_string(),
                    message: format!("{PROVIDER} does not accept images in assistant messages; they were not sent"),
                },
            ),
            ContentPart::Reasoning { .. } => warn_reasoning(warnings),
            ContentPart::ToolResult { call_id, .. } => {
                return Err(invalid(format!(
                    "messages[{at}] is an assistant message but holds the result of tool call \
                     `{call_id}`; tool results belong to user messages"
                )))
            }
        }
    }
    let content = match texts.as_slice() {
        [] => None,
        [text] => Some(AssistantContent::Text(text)),
        _ => Some(AssistantContent::Parts(
            texts
                .iter()
                .map(|text| AssistantTextPart { kind: "text", text })
                .collect(),
        )),
    };
    // A turn left with nothing to send (only reasoning, already warned about) is skipped: the
    // API rejects an assistant message with neither content nor tool calls.
    if content.is_some() || !tool_calls.is_empty() {
        out.push(ChatMessage::Assistant {
            content,
            tool_calls,
        });
    }
    Ok(())
}

/// `value` clamped to `0..=max`, with a warning when it had to be; not-a-number is refused.
fn clamped(
    setting: &str,
    value: Option<f64>,
    max: f64,
    warnings: &mut Vec<Warning>,
) -> Result<Option<f64>, Error> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.is_nan() {
        return Err(invalid(format!("`{setting}` is not a number")));
    }
    let clamped = value.clamp(0.0, max);
    if clamped != value {
        warn(
            warnings,
            Warning {
                setting: setting.to_string(),
                message: format!(
                    "{PROVIDER} accepts `{setting}` from 0 to {max}; {value} was sent as {clamped}"
                ),
            },
        );
    }
    Ok(Some(clamped))
}

fn warn_reasoning(warnings: &mut Vec<Warning>) {
    warn(
        warnings,
        Warning {
            setting: "reasoning".to_string(),
            message: format!(
                "{PROVIDER} chat completions cannot take reasoning parts back; they were not sent"
            ),
        },
    );
}

/// Adds a warning once per setting.
fn warn(warnings: &mut Vec<Warning>, warning: Warning) {
    if !warnings.iter().any(|w| w.setting == warning.setting) {
        warnings.push(warning);
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidRequest, message).with_provider(PROVIDER)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::core::model::{CacheTtl, Metadata, SystemBlock, ToolDefinition};

    fn config(key: Option<&str>) -> ProviderConfig {
        ProviderConfig {
            api_key: key.map(str::to_string),
            ..ProviderConfig::default()
        }
    }

    fn encoded(request: &Request) -> Encoded {
        encode("gpt-4o-mini", request, &config(Some("sk-test")), false).unwrap()
    }

    fn body(encoded: &Encoded) -> Value {
        serde_json::from_str(encoded.http.body.as_deref().unwrap()).unwrap()
    }

    fn hi() -> Request {
        Request::new("openai/gpt-4o-mini", vec![Message::user("Hi")])
    }

    fn weather_tool() -> ToolDefinition {
        ToolDefinition {
            name: "get_weather".into(),
            description: Some("Current weather for a city".into()),
            parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
            cache: None,
        }
    }

    fn headers(e: &Encoded) -> Vec<(String, String)> {
        e.http
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn simple_request() {
        let e = encoded(&hi());
        assert_eq!(e.http.method, Method::Post);
        assert_eq!(e.http.url, "https://api.openai.com/v1/chat/completions");
        assert_eq!(
            body(&e),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
        );
        assert_eq!(
            headers(&e),
            pairs(&[
                ("content-type", "application/json"),
                ("authorization", "Bearer sk-test")
            ])
        );
        assert!(e.warnings.is_empty());
    }

    #[test]
    fn system_blocks_become_one_system_message_first_and_cache_markers_need_no_warning() {
        let mut r = hi();
        r.system = vec![
            SystemBlock {
                text: "You are terse.".into(),
                cache: Some(CacheTtl::OneHour),
            },
            SystemBlock {
                text: "Answer in French.".into(),
                cache: None,
            },
        ];
        r.messages[0].content = vec![ContentPart::Text {
            text: "Hi".into(),
            cache: Some(CacheTtl::FiveMinutes),
        }];
        r.tools = vec![ToolDefinition {
            cache: Some(CacheTtl::FiveMinutes),
            ..weather_tool()
        }];
        let e = encoded(&r);
        let b = body(&e);
        assert_eq!(
            b["messages"],
            json!([
                {"role": "system", "content": "You are terse.\n\nAnswer in French."},
                {"role": "user", "content": "Hi"}
            ])
        );
        assert!(
            b["tools"][0].get("cache").is_none() && b["tools"][0].get("cache_control").is_none()
        );
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    }

    #[test]
    fn multi_turn_with_tool_call_and_tool_result() {
        let mut r = hi();
        r.messages = vec![
            Message::user("Weather in Paris and Oslo?"),
            Message {
                role: Role::Assistant,
                content: vec![
                    ContentPart::text("Checking both."),
                    ContentPart::ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: json!({"city": "Paris"}),
                        signature: None,
                    },
                    ContentPart::ToolCall {
                        id: "call_2".into(),
                        name: "get_weather".into(),
                        arguments: json!({"city": "Oslo"}),
                        signature: Some("gemini-only".into()),
                    },
                ],
            },
            Message {
                role: Role::User,
                content: vec![
                    ContentPart::ToolResult {
                        call_id: "call_1".into(),
                        name: Some("get_weather".into()),
                        content: "18°C, sunny".into(),
                        is_error: false,
                        cache: None,
                    },
                    ContentPart::ToolResult {
                        call_id: "call_2".into(),
                        name: None,
                        content: "4°C, snow".into(),
                        is_error: false,
                        cache: None,
                    },
                    ContentPart::text("Which is warmer?"),
                ],
            },
            Message {
                role: Role::Assistant,
                content: vec![ContentPart::ToolCall {
                    id: "call_3".into(),
                    name: "get_time".into(),
                    arguments: json!({}),
                    signature: None,
                }],
            },
            Message {
                role: Role::User,
                content: vec![ContentPart::ToolResult {
                    call_id: "call_3".into(),
                    name: None,
                    content: "12:00".into(),
                    is_error: false,
                    cache: None,
                }],
            },
        ];
        let e = encoded(&r);
        assert_eq!(
            body(&e)["messages"],
            json!([
                {"role": "user", "content": "Weather in Paris and Oslo?"},
                {"role": "assistant", "content": "Checking both.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
                {"role": "tool", "tool_call_id": "call_2", "content": "4°C, snow"},
                {"role": "user", "content": "Which is warmer?"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_3", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_3", "content": "12:00"}
            ])
        );
        assert!(e.warnings.is_empty());
    }

    #[test]
    fn failed_tool_results_are_sent_with_a_warning() {
        let mut r = hi();
        r.messages = vec![Message {
            role: Role::User,
            content: vec![ContentPart::ToolResult {
                call_id: "call_1".into(),
                name: None,
                content: "timeout".into(),
                is_error: true,
                cache: None,
            }],
        }];
        let e = encoded(&r);
        assert_eq!(
            body(&e)["messages"],
            json!([{"role": "tool", "tool_call_id": "call_1", "content": "timeout"}])
        );
        assert_eq!(e.warnings.len(), 1);
        assert_eq!(e.warnings[0].setting, "isError");
    }

    #[test]
    fn several_assistant_text_parts_are_sent_as_text_parts() {
        let mut r = hi();
        r.messages.push(Message {
            role: Role::Assistant,
            content: vec![ContentPart::text("One."), ContentPart::text("Two.")],
        });
        assert_eq!(
            body(&encoded(&r))["messages"][1],
            json!({"role": "assistant", "content": [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]})
        );
    }

    #[test]
    fn reasoning_is_dropped_with_one_warning_and_an_empty_turn_is_skipped() {
        let mut r = hi();
        r.messages.push(Message {
            role: Role::Assistant,
            content: vec![ContentPart::Reasoning {
                text: "hmm".into(),
                signature: None,
            }],
        });
        r.messages.push(Message {
            role: Role::Assistant,
            content: vec![
                ContentPart::Reasoning {
                    text: "so".into(),
                    signature: None,
                },
                ContentPart::text("Yes."),
            ],
        });
        let e = encoded(&r);
        assert_eq!(
            body(&e)["messages"],
            json!([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes."}])
        );
        assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
        assert_eq!(e.warnings[0].setting, "reasoning");
    }

    #[test]
    fn images_in_user_messages_become_data_urls() {
        let mut r = hi();
        r.messages = vec![Message {
            role: Role::User,
            content: vec![
                ContentPart::text("What is this?"),
                ContentPart::Image {
                    media_type: "image/png".into(),
                    data: "iVBORw0KGgo=".into(),
                    cache: None,
                },
            ],
        }];
        let e = encoded(&r);
        assert_eq!(
            body(&e)["messages"],
            json!([{"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]}])
        );
        assert!(e.warnings.is_empty());
        // A lone image is an array too.
        r.messages[0].content.remove(0);
        assert_eq!(
            body(&encoded(&r))["messages"][0]["content"],
            json!([{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}])
        );
    }

    #[test]
    fn images_in_assistant_messages_are_dropped_with_a_warning() {
        let mut r = hi();
        r.messages.push(Message {
            role: Role::Assistant,
            content: vec![
                ContentPart::text("Here:"),
                ContentPart::Image {
                    media_type: "image/jpeg".into(),
                    data: "/9j/".into(),
                    cache: None,
                },
            ],
        });
        let e = encoded(&r);
        assert_eq!(
            body(&e)["messages"][1],
            json!({"role": "assistant", "content": "Here:"})
        );
        assert_eq!(
            e.warnings
                .iter()
                .map(|w| w.setting.as_str())
                .collect::<Vec<_>>(),
            ["image"]
        );
    }

    #[test]
    fn misplaced_tool_parts_are_invalid_requests() {
        let mut r = hi();
        r.messages[0].content.push(ContentPart::ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: json!({}),
            signature: None,
        });
        let err = encode("gpt-4o-mini", &r, &config(None), false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(
            err.message().contains("messages[0]") && err.message().contains("get_weather"),
            "{err}"
        );

        let mut r = hi();
        r.messages.push(Message {
            role: Role::Assistant,
            content: vec![ContentPart::ToolResult {
                call_id: "call_9".into(),
                name: None,
                content: "x".into(),
                is_error: false,
                cache: None,
            }],
        });
        let err = encode("gpt-4o-mini", &r, &config(None), false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(
            err.message().contains("messages[1]") && err.message().contains("call_9"),
            "{err}"
        );
    }

    #[test]
    fn tools_and_each_tool_choice() {
        let mut r = hi();
        r.tools = vec![
            weather_tool(),
            ToolDefinition {
                description: None,
                ..weather_tool()
            },
        ];
        r.tools[1].name = "get_time".into();
        let expected_tools = json!([
            {"type": "function", "function": {
                "name": "get_weather",
                "description": "Current weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            }},
            {"type": "function", "function": {
                "name": "get_time",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
            }}
        ]);
        let b = body(&encoded(&r));
        assert_eq!(b["tools"], expected_tools);
        assert!(b.get("tool_choice").is_none());

        for (choice, wire) in [
            (ToolChoice::Auto, json!("auto")),
            (ToolChoice::None, json!("none")),
            (ToolChoice::Required, json!("required")),
            (
                ToolChoice::Tool {
                    name: "get_time".into(),
                },
                json!({"type": "function", "function": {"name": "get_time"}}),
            ),
        ] {
            r.tool_choice = Some(choice.clone());
            let e = encoded(&r);
            let b = body(&e);
            assert_eq!(b["tool_choice"], wire, "{choice:?}");
            assert_eq!(b["tools"], expected_tools);
            assert!(e.warnings.is_empty());
        }
    }

    #[test]
    fn auto_or_none_tool_choice_without_tools_is_not_sent() {
        for choice in [ToolChoice::Auto, ToolChoice::None] {
            let mut r = hi();
            r.tool_choice = Some(choice);
            let b = body(&encoded(&r));
            assert!(
                b.get("tool_choice").is_none() && b.get("tools").is_none(),
                "{b}"
            );
        }
        // A forced tool without tools is the caller's mistake: the provider says so.
        let mut r = hi();
        r.tool_choice = Some(ToolChoice::Required);
        assert_eq!(body(&encoded(&r))["tool_choice"], json!("required"));
    }

    #[test]
    fn each_response_format() {
        let mut r = hi();
        r.response_format = Some(ResponseFormat::Text);
        assert!(body(&encoded(&r)).get("response_format").is_none());

        r.response_format = Some(ResponseFormat::Json);
        assert_eq!(
            body(&encoded(&r))["response_format"],
            json!({"type": "json_object"})
        );

        let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}},
                            "required": ["answer"], "additionalProperties": false});
        for strict in [true, false] {
            r.response_format = Some(ResponseFormat::JsonSchema {
                name: "answer".into(),
                schema: schema.clone(),
                strict,
            });
            let e = encoded(&r);
            assert_eq!(
                body(&e)["response_format"],
                json!({"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": strict}})
            );
            assert!(e.warnings.is_empty());
        }
    }

    #[test]
    fn sampling_settings_in_range_are_sent_as_is() {
        let mut r = hi();
        r.max_tokens = Some(256);
        r.temperature = Some(0.7);
        r.top_p = Some(0.9);
        r.stop = vec!["END".into(), "\n\n".into()];
        r.metadata = Metadata {
            conversation_id: Some("conv-42".into()),
            end_user_id: Some("user-7".into()),
        };
        let e = encoded(&r);
        assert_eq!(
            body(&e),
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "Hi"}],
                "max_completion_tokens": 256,
                "temperature": 0.7,
                "top_p": 0.9,
                "stop": ["END", "\n\n"],
                "user": "user-7"
            })
        );
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    }

    #[test]
    fn out_of_range_sampling_is_clamped_with_warnings() {
        let mut r = hi();
        r.temperature = Some(2.5);
        r.top_p = Some(-0.1);
        let e = encoded(&r);
        let b = body(&e);
        assert_eq!(
            (b["temperature"].clone(), b["top_p"].clone()),
            (json!(2.0), json!(0.0))
        );
        let settings: Vec<&str> = e.warnings.iter().map(|w| w.setting.as_str()).collect();
        assert_eq!(settings, ["temperature", "topP"]);
        assert!(
            e.warnings[0].message.contains("2.5"),
            "{}",
            e.warnings[0].message
        );

        r.temperature = Some(-1.0);
        r.top_p = Some(1.0);
        let e = encoded(&r);
        assert_eq!(body(&e)["temperature"], json!(0.0));
        assert_eq!(body(&e)["top_p"], json!(1.0));
        assert_eq!(e.warnings.len(), 1);

        r.temperature = Some(f64::NAN);
        let err = encode("gpt-4o-mini", &r, &config(None), false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn more_than_four_stop_sequences_are_cut_with_a_warning() {
        let mut r = hi();
        r.stop = ["a", "b", "c", "d", "e", "f"].map(String::from).to_vec();
        let e = encoded(&r);
        assert_eq!(body(&e)["stop"], json!(["a", "b", "c", "d"]));
        assert_eq!(e.warnings.len(), 1);
        assert_eq!(e.warnings[0].setting, "stop");
        assert!(
            e.warnings[0].message.contains("6"),
            "{}",
            e.warnings[0].message
        );

        r.stop.truncate(4);
        let e = encoded(&r);
        assert_eq!(body(&e)["stop"], json!(["a", "b", "c", "d"]));
        assert!(e.warnings.is_empty());
    }

    #[test]
    fn top_k_is_unsupported() {
        let mut r = hi();
        r.top_k = Some(40);
        let e = encoded(&r);
        assert!(body(&e).get("top_k").is_none());
        assert_eq!(e.warnings, [Warning::unsupported(Provider::OpenAi, "topK")]);
    }

    #[test]
    fn conversation_id_alone_is_not_sent_and_not_warned() {
        let mut r = hi();
        r.metadata.conversation_id = Some("conv-42".into());
        let e = encoded(&r);
        assert_eq!(
            body(&e),
            json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
        );
        assert!(e.warnings.is_empty());
    }

    #[test]
    fn stream_asks_for_events_and_usage() {
        let e = encode("gpt-4o-mini", &hi(), &config(Some("sk-test")), true).unwrap();
        assert_eq!(
            body(&e),
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "Hi"}],
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
        assert_eq!(
            headers(&e),
            pairs(&[
                ("content-type", "application/json"),
                ("accept", "text/event-stream"),
                ("authorization", "Bearer sk-test"),
            ])
        );
        let whole = body(&encoded(&hi()));
        assert!(whole.get("stream").is_none() && whole.get("stream_options").is_none());
    }

    #[test]
    fn without_a_key_no_authorization_header_and_base_url_is_honoured() {
        let config = ProviderConfig {
            api_key: None,
            base_url: Some("https://proxy.example.com/openai/".into()),
            headers: Headers::new(),
        };
        let e = encode("gpt-4o-mini", &hi(), &config, false).unwrap();
        assert_eq!(
            e.http.url,
            "https://proxy.example.com/openai/v1/chat/completions"
        );
        assert_eq!(headers(&e), pairs(&[("content-type", "application/json")]));
    }

    #[test]
    fn extra_headers_are_added_last_and_can_override() {
        let config = ProviderConfig {
            api_key: Some("sk-test".into()),
            base_url: None,
            headers: [
                ("OpenAI-Organization", "org-123"),
                ("Authorization", "Bearer sk-override"),
            ]
            .into_iter()
            .collect(),
        };
        let e = encode("gpt-4o-mini", &hi(), &config, true).unwrap();
        assert_eq!(
            e.http.headers.get("authorization"),
            Some("Bearer sk-override")
        );
        assert_eq!(e.http.headers.get("openai-organization"), Some("org-123"));
        assert_eq!(e.http.headers.get("accept"), Some("text/event-stream"));
        assert_eq!(e.http.headers.len(), 4);
    }
}
