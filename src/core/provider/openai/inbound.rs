//! The server direction: the proxy speaking the Chat Completions API to OpenAI-format clients
//! (the official `openai` SDKs with `baseURL` pointed at it). A request body decodes to the
//! unified request; a unified response, stream or error encodes back into OpenAI's format.
//!
//! Decoding:
//! - `system` and `developer` messages become the unified system blocks, in order; one that
//!   comes after the conversation started is moved there, with an `ignored` warning.
//! - `tool` messages become tool results; consecutive ones share one user message. Each result
//!   gets the tool's name from the assistant call it answers (Gemini matches results by name).
//! - Images must be `data:` URLs: the unified model holds base64 data only, so a remote URL is
//!   an invalid request naming the field.
//! - Extensions read because the unified request supports them: `top_k`, and Anthropic-style
//!   `cache_control` on content parts, system parts and tools (as LiteLLM and OpenRouter take
//!   it), so that prompt caching reaches an Anthropic upstream.
//! - The deprecated `functions` / `function_call` / `function` role are refused (use tools).
//!
//! Encoding:
//! - `finish_reason`: stop, length, tool_calls, content_filter; a pause or an unknown reason is
//!   `stop` (the SDK's types know no other value).
//! - `usage`: `prompt_tokens` is all input (uncached, cache reads and cache writes),
//!   `prompt_tokens_details.cached_tokens` the cache reads, `completion_tokens` all output,
//!   `completion_tokens_details.reasoning_tokens` the reasoning share. The three counts are
//!   required by the format, so a count the upstream did not report is 0 there; the details
//!   appear only when reported, and `usage` is left out when nothing was reported (a stream
//!   then has no usage chunk even with `include_usage`).
//! - Reasoning goes in `reasoning_content` (the field of OpenAI-compatible reasoning servers);
//!   OpenAI's SDK ignores it. Signatures cannot be carried.
//!
//! Errors (`encode_error`, and `StreamEncoder::error` in a stream):
//!
//! | kind | status | `type` | `code` |
//! |---|---|---|---|
//! | invalid request | 400 | `invalid_request_error` | null; `param` names the field |
//! | context length | 400 | `invalid_request_error` | `context_length_exceeded` |
//! | content filtered | 400 | `invalid_request_error` | `content_policy_violation` |
//! | authentication (the proxy's own) | 401 | `invalid_request_error` | `invalid_api_key` |
//! | authentication (an upstream refused the proxy's key) | 502 | `server_error` | null |
//! | permission | 403 | `permission_error` | null |
//! | not found | 404 | `invalid_request_error` | `model_not_found` |
//! | rate limited | 429 | `rate_limit_error` | `rate_limit_exceeded` |
//! | quota exceeded, budget exceeded | 429 | `insufficient_quota` | `insufficient_quota` |
//! | overloaded (incl. Anthropic 529), circuit open | 503 | `server_error` | null |
//! | server error, config | 500 | `server_error` | null |
//! | timeout | 504 | `server_error` | null |
//! | network, truncated stream, invalid response, invalid output | 502 | `server_error` | null |
//! | cancelled | 499 | `invalid_request_error` | null |
//!
//! An OpenAI upstream's error passes through as it answered (status and `code`); another
//! provider's status is kept when it means the same kind in any API (a 422 stays 422, a 502
//! stays 502, but Anthropic's 529 becomes 503). Anything that looks like an API key in a
//! message is redacted.
use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::wire::{
    ChunkChoiceOut, ChunkOut, CompletionChoiceOut, CompletionMessageOut, CompletionOut,
    CompletionTokensDetailsOut, DeltaOut, ErrorDetailOut, ErrorOut, FunctionCallOut,
    FunctionDeltaOut, PromptTokensDetailsOut, ToolCallDeltaOut, ToolCallOut, UsageOut,
};
use crate::core::error::{Error, ErrorKind};
use crate::core::event::StreamEvent;
use crate::core::model::{
    ContentPart, FinishKind, FinishReason, Message, Metadata, Provider, Request, Response,
    ResponseFormat, Role, SystemBlock, ToolChoice, ToolDefinition, Usage, Warning,
};
use crate::core::provider::inbound::{
    cache_control, invalid_param, is_upstream_auth_failure, kept_upstream_status, not_honoured,
    redact_secrets, warn_once, Dialect, InboundRequest, Node, Object,
};

const DIALECT: Dialect = Dialect::OpenAi;

/// Top-level fields read but not honoured, with the value that means "not set" (no warning).
const NOT_HONOURED: [(&str, Option<&str>); 17] = [
    ("frequency_penalty", Some("0")),
    ("presence_penalty", Some("0")),
    ("logit_bias", Some("{}")),
    ("logprobs", Some("false")),
    ("top_logprobs", Some("0")),
    ("seed", None),
    ("service_tier", Some("\"auto\"")),
    ("store", Some("false")),
    ("metadata", Some("{}")),
    ("reasoning_effort", None),
    ("modalities", Some("[\"text\"]")),
    ("audio", None),
    ("prediction", None),
    ("web_search_options", None),
    ("verbosity", None),
    ("prompt_cache_key", None),
    ("prompt_cache_retention", None),
];

// ------------------------------------------------------------------------------ decoding

/// Decodes a `POST /v1/chat/completions` body.
pub fn decode_request(body: &[u8]) -> Result<InboundRequest, Error> {
    let value = DIALECT.parse(body)?;
    let root = Node::root(&value, DIALECT).object()?;
    let mut ignored = Vec::new();

    let model_node = root.require("model")?;
    let model = model_node.string()?;
    if model.trim().is_empty() {
        return Err(model_node.invalid("empty string; expected a model name"));
    }
    for deprecated in ["functions", "function_call"] {
        if root.has(deprecated) {
            return Err(root.require(deprecated)?.invalid(
                "the deprecated function-calling parameters are not supported; use \
                 `tools` and `tool_choice`",
            ));
        }
    }
    if let Some(n) = root.get("n") {
        if n.integer(1)? > 1 {
            return Err(n.invalid("only one choice (n = 1) is supported"));
        }
    }

    let mut conversation = Conversation::default();
    for message in root.require("messages")?.non_empty_array()? {
        conversation.push(&message.object()?, &mut ignored)?;
    }

    let mut request = Request::new(model, conversation.messages);
    request.system = conversation.system;
    request.max_tokens = max_tokens(&root, &mut ignored)?;
    request.temperature = root
        .get("temperature")
        .map(|n| n.number(0.0, 2.0))
        .transpose()?;
    request.top_p = root.get("top_p").map(|n| n.number(0.0, 1.0)).transpose()?;
    request.top_k = root.get("top_k").map(|n| n.integer(0)).transpose()?;
    request.stop = root
        .get("stop")
        .map(|n| n.strings())
        .transpose()?
        .unwrap_or_default();
    if let Some(tools) = root.get("tools") {
        request.tools = tools
            .array()?
            .iter()
            .map(|tool| tool_definition(tool, &mut ignored))
            .collect::<Result<_, _>>()?;
    }
    request.tool_choice = root.get("tool_choice").map(tool_choice).transpose()?;
    if root.opt_bool("parallel_tool_calls")? == Some(false) {
        ignored.push(not_honoured(
            "parallel_tool_calls".to_string(),
            "cannot be enforced across providers",
        ));
    }
    request.response_format = root
        .get("response_format")
        .map(|n| response_format(&n, &mut ignored))
        .transpose()?;
    request.metadata = Metadata {
        conversation_id: None,
        end_user_id: match root.opt_string("user")? {
            Some(user) => Some(user.to_string()),
            None => root.opt_string("safety_identifier")?.map(str::to_string),
        },
    };

    let stream = root.opt_bool("stream")?.unwrap_or(false);
    let include_usage = match root.get("stream_options") {
        Some(options) => options
            .object()?
            .opt_bool("include_usage")?
            .unwrap_or(false),
        None => false,
    };
    for (field, default) in NOT_HONOURED {
        if let Some(node) = root.get(field) {
            if !default.is_some_and(|d| is_default(node.value(), d)) {
                ignored.push(not_honoured(
                    field.to_string(),
                    "is not supported by this proxy",
                ));
            }
        }
    }

    Ok(InboundRequest {
        request,
        stream,
        include_usage: stream && include_usage,
        model: model.to_string(),
        ignored,
    })
}

/// `max_completion_tokens`, or the older `max_tokens`.
fn max_tokens(root: &Object<'_>, ignored: &mut Vec<Warning>) -> Result<Option<u32>, Error> {
    let current = root
        .get("max_completion_tokens")
        .map(|n| n.integer(1))
        .transpose()?;
    let legacy = root.get("max_tokens").map(|n| n.integer(1)).transpose()?;
    if let (Some(current), Some(legacy)) = (current, legacy) {
        if current != legacy {
            ignored.push(not_honoured(
                "max_tokens".to_string(),
                "is superseded by `max_completion_tokens`",
            ));
        }
    }
    Ok(current.or(legacy))
}

/// Whether `value` is the JSON `default` (numbers compared by value: `0` and `0.0` alike).
fn is_default(value: &Value, default: &str) -> bool {
    match (value, serde_json::from_str::<Value>(default)) {
        (Value::Number(a), Ok(Value::Number(b))) => a.as_f64() == b.as_f64(),
        (value, Ok(default)) => *value == default,
        (_, Err(_)) => false,
    }
}

/// The messages as they are read: system parts hoisted, tool messages joined.
#[derive(Default)]
struct Conversation {
    system: Vec<SystemBlock>,
    messages: Vec<Message>,
    /// Tool names by call id, from the assistant turns so far.
    call_names: HashMap<String, String>,
    /// The last message is a user message built from `tool` messages.
    in_tool_results: bool,
}

impl Conversation {
    fn push(&mut self, message: &Object<'_>, ignored: &mut Vec<Warning>) -> Result<(), Error> {
        let role_node = message.require("role")?;
        let role = role_node.string()?;
        if message.has("name") && role != "tool" {
            warn_once(
                ignored,
                not_honoured("messages[].name".to_string(), "has no equivalent upstream"),
            );
        }
        let tool_message = role == "tool";
        match role {
            "system" | "developer" => {
                if !self.messages.is_empty() {
                    warn_once(
                        ignored,
                        Warning {
                            setting: message.path_of("role"),
                            message: format!(
                                "a {role} message after the conversation started was moved to \
                                 the system prompt"
                            ),
                        },
                    );
                }
                let content = message.require("content")?;
                self.system.extend(system_blocks(&content)?);
            }
            "user" => {
                let content = user_content(&message.require("content")?, ignored)?;
                self.messages.push(Message {
                    role: Role::User,
                    content,
                });
            }
            "assistant" => {
                let content = self.assistant_content(message, ignored)?;
                self.messages.push(Message {
                    role: Role::Assistant,
                    content,
                });
            }
            "tool" => {
                let call_id = message.require("tool_call_id")?.string()?;
                let content = joined_text(&message.require("content")?)?;
                let result = ContentPart::ToolResult {
                    call_id: call_id.to_string(),
                    name: self.call_names.get(call_id).cloned(),
                    content,
                    is_error: false,
                    cache: None,
                };
                match self.messages.last_mut() {
                    Some(last) if self.in_tool_results => last.content.push(result),
                    _ => self.messages.push(Message {
                        role: Role::User,
                        content: vec![result],
                    }),
                }
            }
            "function" => {
                return Err(role_node.invalid(
                    "the deprecated `function` role is not supported; send tool results as \
                     `tool` messages",
                ))
            }
            other => {
                return Err(role_node
                    .not_one_of(other, &["system", "developer", "user", "assistant", "tool"]))
            }
        }
        self.in_tool_results = tool_message;
        Ok(())
    }

    fn assistant_content(
        &mut self,
        message: &Object<'_>,
        ignored: &mut Vec<Warning>,
    ) -> Result<Vec<ContentPart>, Error> {
        if message.has("function_call") {
            return Err(message
                .require("function_call")?
                .invalid("the deprecated `function_call` is not supported; use `tool_calls`"));
        }
        if message.has("audio") {
            warn_once(
                ignored,
                not_honoured("messages[].audio".to_string(), "is not supported"),
            );
        }
        let mut content = Vec::new();
        if let Some(node) = message.get("content") {
            match node.value() {
                Value::String(text) => content.push(ContentPart::text(text.clone())),
                Value::Array(_) => {
                    for part in node.non_empty_array()? {
                        let part = part.object()?;
                        let kind = part.require("type")?;
                        let text = match kind.string()? {
                            "text" => part.require("text")?.string()?,
                            "refusal" => part.require("refusal")?.string()?,
                            other => return Err(kind.not_one_of(other, &["text", "refusal"])),
                        };
                        content.push(ContentPart::Text {
                            text: text.to_string(),
                            cache: cache_control(&part)?,
                        });
                    }
                }
                _ => return Err(node.wrong_type("a string or an array of content parts")),
            }
        }
        if let Some(refusal) = message.opt_string("refusal")? {
            content.push(ContentPart::text(refusal));
        }
        let calls = match message.get("tool_calls") {
            Some(calls) => calls.array()?,
            None => Vec::new(),
        };
        if content.is_empty() && calls.is_empty() {
            // The API's own rule: content is required unless there are tool calls.
            return Err(message.missing("content"));
        }
        if !calls.is_empty() {
            content
                .retain(|part| !matches!(part, ContentPart::Text { text, .. } if text.is_empty()));
        }
        for call in calls {
            let call = call.object()?;
            let id = call.require("id")?.string()?;
            if let Some(kind) = call.get("type") {
                let kind_name = kind.string()?;
                if kind_name != "function" {
                    return Err(kind.not_one_of(kind_name, &["function"]));
                }
            }
            let function = call.require("function")?.object()?;
            let name = function.require("name")?.string()?;
            let arguments = tool_arguments(&function.require("arguments")?)?;
            self.call_names.insert(id.to_string(), name.to_string());
            content.push(ContentPart::ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments,
                signature: None,
            });
        }
        Ok(content)
    }
}

/// `function.arguments`: a JSON document in a string (empty means no arguments); an object
/// is taken as it is.
fn tool_arguments(node: &Node<'_>) -> Result<Value, Error> {
    match node.value() {
        Value::String(text) if text.trim().is_empty() => Ok(Value::Object(Default::default())),
        Value::String(text) => serde_json::from_str(text)
            .map_err(|e| node.invalid(format_args!("not valid JSON ({e})"))),
        Value::Object(_) => Ok(node.value().clone()),
        _ => Err(node.wrong_type("a string holding JSON")),
    }
}

/// A system or developer message's content: a string, or text parts (one block each).
fn system_blocks(node: &Node<'_>) -> Result<Vec<SystemBlock>, Error> {
    match node.value() {
        Value::String(text) => Ok(vec![SystemBlock {
            text: text.clone(),
            cache: None,
        }]),
        Value::Array(_) => node
            .non_empty_array()?
            .iter()
            .map(|part| {
                let part = part.object()?;
                let text = text_part(&part)?;
                Ok(SystemBlock {
                    text: text.to_string(),
                    cache: cache_control(&part)?,
                })
            })
            .collect(),
        _ => Err(node.wrong_type("a string or an array of text parts")),
    }
}

/// A tool message's content: a string, or text parts joined.
fn joined_text(node: &Node<'_>) -> Result<String, Error> {
    match node.value() {
        Value::String(text) => Ok(text.clone()),
        Value::Array(_) => node
            .non_empty_array()?
            .iter()
            .map(|part| text_part(&part.object()?))
            .collect(),
        _ => Err(node.wrong_type("a string or an array of text parts")),
    }
}

/// The text of a `{"type":"text","text":...}` part.
fn text_part<'a>(part: &Object<'a>) -> Result<&'a str, Error> {
    let kind = part.require("type")?;
    match kind.string()? {
        "text" => part.require("text")?.string(),
        other => Err(kind.not_one_of(other, &["text"])),
    }
}

fn user_content(node: &Node<'_>, ignored: &mut Vec<Warning>) -> Result<Vec<ContentPart>, Error> {
    match node.value() {
        Value::String(text) => Ok(vec![ContentPart::text(text.clone())]),
        Value::Array(_) => node
            .non_empty_array()?
            .iter()
            .map(|part| user_part(&part.object()?, ignored))
            .collect(),
        _ => Err(node.wrong_type("a string or an array of content parts")),
    }
}

fn user_part(part: &Object<'_>, ignored: &mut Vec<Warning>) -> Result<ContentPart, Error> {
    let kind = part.require("type")?;
    match kind.string()? {
        "text" => Ok(ContentPart::Text {
            text: part.require("text")?.string()?.to_string(),
            cache: cache_control(part)?,
        }),
        "image_url" => {
            let image = part.require("image_url")?;
            // `{"url": ...}`; a few clients send the URL string itself.
            let url_node = match image.value() {
                Value::String(_) => image.clone(),
                _ => {
                    let image = image.object()?;
                    if let Some(detail) = image.opt_string("detail")? {
                        if detail != "auto" {
                            warn_once(
                                ignored,
                                not_honoured(
                                    "messages[].content[].image_url.detail".to_string(),
                                    "has no equivalent upstream",
                                ),
                            );
                        }
                    }
                    image.require("url")?
                }
            };
            let (media_type, data) = data_url(&url_node)?;
            Ok(ContentPart::Image {
                media_type,
                data,
                cache: cache_control(part)?,
            })
        }
        unsupported @ ("input_audio" | "file") => Err(kind.invalid(format_args!(
            "`{unsupported}` content parts are not supported by this proxy"
        ))),
        other => Err(kind.not_one_of(other, &["text", "image_url"])),
    }
}

/// `data:<media type>;base64,<data>` -> (media type, data). The unified request holds image
/// bytes only, so any other URL is refused rather than fetched.
fn data_url(node: &Node<'_>) -> Result<(String, String), Error> {
    let url = node.string()?;
    let Some(rest) = url.strip_prefix("data:") else {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        let why = if matches!(scheme, "http" | "https") {
            "remote image URLs are not supported by this proxy; send the image inline as a base64 \
             data URL (data:image/png;base64,...)"
        } else {
            "expected a base64 data URL (data:image/png;base64,...)"
        };
        return Err(node.invalid(why));
    };
    let (meta, data) = rest
        .split_once(',')
        .ok_or_else(|| node.invalid("a data URL needs a comma before its data"))?;
    let media_type = meta
        .strip_suffix(";base64")
        .filter(|media_type| media_type.contains('/'))
        .ok_or_else(|| {
            node.invalid("expected a base64 data URL with a media type (data:image/png;base64,...)")
        })?;
    if data.is_empty() {
        return Err(node.invalid("the data URL holds no data"));
    }
    Ok((media_type.to_string(), data.to_string()))
}

fn tool_definition(node: &Node<'_>, ignored: &mut Vec<Warning>) -> Result<ToolDefinition, Error> {
    let tool = node.object()?;
    let kind = tool.require("type")?;
    match kind.string()? {
        "function" => {}
        other => return Err(kind.not_one_of(other, &["function"])),
    }
    let function = tool.require("function")?.object()?;
    let name_node = function.require("name")?;
    let name = name_node.string()?;
    if name.is_empty() {
        return Err(name_node.invalid("empty string; expected a function name"));
    }
    let parameters = match function.get("parameters") {
        Some(schema) => {
            schema.object()?;
            schema.value().clone()
        }
        // The API's default: a function without parameters.
        None => serde_json::json!({"type": "object", "properties": {}}),
    };
    if function.opt_bool("strict")? == Some(true) {
        warn_once(
            ignored,
            not_honoured(
                "tools[].function.strict".to_string(),
                "cannot be enforced across providers",
            ),
        );
    }
    Ok(ToolDefinition {
        name: name.to_string(),
        description: function.opt_string("description")?.map(str::to_string),
        parameters,
        cache: cache_control(&tool)?,
    })
}

fn tool_choice(node: Node<'_>) -> Result<ToolChoice, Error> {
    match node.value() {
        Value::String(mode) => match mode.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(node.not_one_of(other, &["auto", "none", "required"])),
        },
        Value::Object(_) => {
            let choice = node.object()?;
            let kind = choice.require("type")?;
            match kind.string()? {
                "function" => {
                    let function = choice.require("function")?.object()?;
                    let name = function.require("name")?.string()?;
                    Ok(ToolChoice::Tool {
                        name: name.to_string(),
                    })
                }
                other => Err(kind.not_one_of(other, &["function"])),
            }
        }
        _ => Err(node.wrong_type("a string or an object")),
    }
}

fn response_format(node: &Node<'_>, ignored: &mut Vec<Warning>) -> Result<ResponseFormat, Error> {
    let format = node.object()?;
    let kind = format.require("type")?;
    match kind.string()? {
        "text" => Ok(ResponseFormat::Text),
        "json_object" => Ok(ResponseFormat::Json),
        "json_schema" => {
            let spec = format.require("json_schema")?.object()?;
            let name = spec.require("name")?.string()?;
            if spec.has("description") {
                ignored.push(not_honoured(
                    spec.path_of("description"),
                    "has no equivalent upstream",
                ));
            }
            let Some(schema) = spec.get("schema") else {
                return Ok(ResponseFormat::Json);
            };
            schema.object()?;
            Ok(ResponseFormat::JsonSchema {
                name: name.to_string(),
                schema: schema.value().clone(),
                // OpenAI's default is not strict.
                strict: spec.opt_bool("strict")?.unwrap_or(false),
            })
        }
        other => Err(kind.not_one_of(other, &["text", "json_object", "json_schema"])),
    }
}

// ------------------------------------------------------------------------------ encoding

/// A whole `chat.completion` for `response`. The id is the upstream's (or `chatcmpl-<created>`
/// when it gave none: set `response.id` first for a unique one).
pub fn encode_response(response: &Response, model_echo: &str, created_unix_s: u64) -> String {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for part in &response.content {
        match part {
            ContentPart::Text { text: piece, .. } => text.push_str(piece),
            ContentPart::Reasoning { text: piece, .. } => reasoning.push_str(piece),
            ContentPart::ToolCall {
                id,
                name,
                arguments,
                ..
            } => tool_calls.push(ToolCallOut {
                id,
                kind: "function",
                function: FunctionCallOut {
                    name,
                    arguments: arguments_text(arguments),
                },
            }),
            // Responses hold no images or tool results.
            ContentPart::Image { .. } | ContentPart::ToolResult { .. } => {}
        }
    }
    let fallback_id;
    let id = match &response.id {
        Some(id) => id.as_str(),
        None => {
            fallback_id = format!("chatcmpl-{created_unix_s}");
            &fallback_id
        }
    };
    let completion = CompletionOut {
        id,
        object: "chat.completion",
        created: created_unix_s,
        model: model_echo,
        choices: [CompletionChoiceOut {
            index: 0,
            message: CompletionMessageOut {
                role: "assistant",
                content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                refusal: None,
                reasoning_content: (!reasoning.is_empty()).then_some(reasoning),
                tool_calls,
                annotations: [],
            },
            logprobs: None,
            finish_reason: finish_reason(&response.finish_reason),
        }],
        usage: usage_out(&response.usage),
    };
    to_json(&completion)
}

fn finish_reason(reason: &FinishReason) -> &'static str {
    match reason.unified {
        FinishKind::Stop | FinishKind::Pause | FinishKind::Other => "stop",
        FinishKind::Length => "length",
        FinishKind::ToolCalls => "tool_calls",
        FinishKind::ContentFilter => "content_filter",
    }
}

fn usage_out(usage: &Usage) -> Option<UsageOut> {
    if usage.is_empty() {
        return None;
    }
    let prompt = usage.total_input_tokens().unwrap_or(0);
    let completion = usage.output_tokens.unwrap_or(0);
    Some(UsageOut {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: usage
            .cache_read_tokens
            .map(|cached_tokens| PromptTokensDetailsOut { cached_tokens }),
        completion_tokens_details: usage
            .reasoning_tokens
            .map(|reasoning_tokens| CompletionTokensDetailsOut { reasoning_tokens }),
    })
}

/// Arguments as the JSON string OpenAI sends (`{}` for none).
fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::Null => "{}".to_string(),
        other => other.to_string(),
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("the wire types serialise infallibly (string keys only)")
}

/// Unified stream events -> `data: {chunk}` server-sent events, ending in `data: [DONE]`.
///
/// The first chunk carries `role: "assistant"`; tool calls stream as OpenAI does (the first
/// fragment with index, id, type and name, then `arguments` pieces); usage events are held
/// until the end, where the finish chunk is followed by the usage chunk (`choices: []`, only
/// when the client asked for `include_usage`) and `[DONE]`. After the end, or after
/// [`StreamEncoder::error`], events are ignored.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    created: u64,
    include_usage: bool,
    id: String,
    started: bool,
    /// `[DONE]` or an error was written.
    closed: bool,
    usage: Usage,
    /// By tool-call index: the call's first fragment was sent, and whether arguments followed.
    calls: Vec<Option<bool>>,
}

impl StreamEncoder {
    /// `id` names every chunk; when empty, the upstream's id from the `Start` event is used
    /// (`chatcmpl-<created>` without one).
    pub fn new(
        model_echo: impl Into<String>,
        created_unix_s: u64,
        include_usage: bool,
        id: impl Into<String>,
    ) -> Self {
        StreamEncoder {
            model: model_echo.into(),
            created: created_unix_s,
            include_usage,
            id: id.into(),
            started: false,
            closed: false,
            usage: Usage::default(),
            calls: Vec::new(),
        }
    }

    pub fn event(&mut self, event: &StreamEvent, out: &mut String) {
        if self.closed {
            return;
        }
        if let StreamEvent::Start { id: Some(id), .. } = event {
            if self.id.is_empty() {
                self.id.clone_from(id);
            }
        }
        self.ensure_started(out);
        match event {
            StreamEvent::Start { .. } | StreamEvent::ReasoningSignature { .. } => {}
            StreamEvent::TextDelta { text } => {
                if !text.is_empty() {
                    self.delta(
                        DeltaOut {
                            content: Some(text),
                            ..DeltaOut::default()
                        },
                        out,
                    );
                }
            }
            StreamEvent::ReasoningDelta { text } => {
                if !text.is_empty() {
                    self.delta(
                        DeltaOut {
                            reasoning_content: Some(text),
                            ..DeltaOut::default()
                        },
                        out,
                    );
                }
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.call_start(*index, id, name, "", out);
            }
            StreamEvent::ToolCallDelta {
                index,
                arguments_delta,
            } => {
                if !arguments_delta.is_empty() {
                    self.call_arguments(*index, arguments_delta, out);
                }
            }
            StreamEvent::ToolCallEnd {
                index,
                id,
                name,
                arguments,
                ..
            } => {
                // A call whose arguments were never streamed still hands the client its JSON.
                let arguments = arguments_text(arguments);
                match self.call_state(*index) {
                    None => self.call_start(*index, id, name, &arguments, out),
                    Some(false) => self.call_arguments(*index, &arguments, out),
                    Some(true) => {}
                }
            }
            StreamEvent::Usage { usage } => self.usage.merge(usage),
            StreamEvent::Finish { reason, usage } => {
                self.usage.merge(usage);
                self.write(
                    vec![ChunkChoiceOut {
                        index: 0,
                        delta: DeltaOut::default(),
                        logprobs: None,
                        finish_reason: Some(finish_reason(reason)),
                    }],
                    None,
                    out,
                );
                if self.include_usage {
                    if let Some(usage) = usage_out(&self.usage) {
                        self.write(Vec::new(), Some(usage), out);
                    }
                }
                out.push_str("data: [DONE]\n\n");
                self.closed = true;
            }
        }
    }

    /// Ends the stream with an in-stream error chunk and no `[DONE]`, so that clients see a
    /// failed stream (the `openai` SDK throws on it), never a clean end.
    pub fn error(&mut self, error: &Error, out: &mut String) {
        if self.closed {
            return;
        }
        let (_, body) = encode_error(error);
        out.push_str("data: ");
        out.push_str(&body);
        out.push_str("\n\n");
        self.closed = true;
    }

    fn ensure_started(&mut self, out: &mut String) {
        if self.started {
            return;
        }
        self.started = true;
        if self.id.is_empty() {
            self.id = format!("chatcmpl-{}", self.created);
        }
        self.delta(
            DeltaOut {
                role: Some("assistant"),
                content: Some(""),
                ..DeltaOut::default()
            },
            out,
        );
    }

    fn call_state(&self, index: u32) -> Option<bool> {
        self.calls.get(index as usize).copied().flatten()
    }

    fn call_start(&mut self, index: u32, id: &str, name: &str, arguments: &str, out: &mut String) {
        let slot = index as usize;
        if self.calls.len() <= slot {
            self.calls.resize(slot + 1, None);
        }
        self.calls[slot] = Some(!arguments.is_empty());
        self.delta(
            DeltaOut {
                tool_calls: vec![ToolCallDeltaOut {
                    index,
                    id: Some(id),
                    kind: Some("function"),
                    function: FunctionDeltaOut {
                        name: Some(name),
                        arguments,
                    },
                }],
                ..DeltaOut::default()
            },
            out,
        );
    }

    fn call_arguments(&mut self, index: u32, arguments: &str, out: &mut String) {
        if let Some(slot) = self.calls.get_mut(index as usize) {
            *slot = Some(true);
        }
        self.delta(
            DeltaOut {
                tool_calls: vec![ToolCallDeltaOut {
                    index,
                    id: None,
                    kind: None,
                    function: FunctionDeltaOut {
                        name: None,
                        arguments,
                    },
                }],
                ..DeltaOut::default()
            },
            out,
        );
    }

    fn delta(&self, delta: DeltaOut<'_>, out: &mut String) {
        self.write(
            vec![ChunkChoiceOut {
                index: 0,
                delta,
                logprobs: None,
                finish_reason: None,
            }],
            None,
            out,
        );
    }

    fn write(&self, choices: Vec<ChunkChoiceOut<'_>>, usage: Option<UsageOut>, out: &mut String) {
        let chunk = ChunkOut {
            id: &self.id,
            object: "chat.completion.chunk",
            created: self.created,
            model: &self.model,
            choices,
            usage: self.include_usage.then_some(usage),
        };
        out.push_str("data: ");
        out.push_str(&to_json(&chunk));
        out.push_str("\n\n");
    }
}

// -------------------------------------------------------------------------------- errors

/// The status and `{"error":{...}}` body for `error` (see the module's table).
pub fn encode_error(error: &Error) -> (u16, String) {
    let (default_status, kind, default_code) = classify(error);
    let status = kept_upstream_status(error, Provider::OpenAi).unwrap_or(default_status);
    // An OpenAI upstream's own code travels as it is.
    let upstream_code = error
        .provider_code()
        .filter(|_| error.provider() == Some(Provider::OpenAi) && !is_upstream_auth_failure(error))
        .filter(|code| *code != kind);
    let param = invalid_param(error);
    // The proxy's own refusals (no provider) carry their code too, e.g. a screened prompt's
    // `prompt_injection_detected`.
    let own_code = error
        .provider_code()
        .filter(|_| error.provider().is_none() && param.is_none());
    let code = match param {
        Some(_) => None,
        None => upstream_code.or(own_code).or(default_code),
    };
    let message = redact_secrets(error.message());
    let raw_output = error.raw_output().map(redact_secrets);
    let body = ErrorOut {
        error: ErrorDetailOut {
            message: &message,
            kind,
            param,
            code,
            raw_output: raw_output.as_deref(),
        },
    };
    (status, to_json(&body))
}

fn classify(error: &Error) -> (u16, &'static str, Option<&'static str>) {
    const INVALID: &str = "invalid_request_error";
    const SERVER: &str = "server_error";
    match error.kind() {
        ErrorKind::InvalidRequest => (400, INVALID, None),
        ErrorKind::ContextLength => (400, INVALID, Some("context_length_exceeded")),
        ErrorKind::ContentFiltered => (400, INVALID, Some("content_policy_violation")),
        ErrorKind::Authentication if is_upstream_auth_failure(error) => (502, SERVER, None),
        ErrorKind::Authentication => (401, INVALID, Some("invalid_api_key")),
        ErrorKind::Permission => (403, "permission_error", None),
        ErrorKind::NotFound => (404, INVALID, Some("model_not_found")),
        ErrorKind::RateLimited => (429, "rate_limit_error", Some("rate_limit_exceeded")),
        ErrorKind::QuotaExceeded | ErrorKind::BudgetExceeded => {
            (429, "insufficient_quota", Some("insufficient_quota"))
        }
        ErrorKind::Overloaded | ErrorKind::CircuitOpen => (503, SERVER, None),
        ErrorKind::ServerError | ErrorKind::Config => (500, SERVER, None),
        ErrorKind::Timeout => (504, SERVER, None),
        ErrorKind::Network | ErrorKind::TruncatedStream | ErrorKind::InvalidResponse => {
            (502, SERVER, None)
        }
        ErrorKind::InvalidOutput => (502, SERVER, Some("invalid_output")),
        ErrorKind::Cancelled => (499, INVALID, None),
    }
}
