//! The server direction: the proxy speaking the Messages API to Anthropic-format clients (the
//! official `@anthropic-ai/sdk` with `baseURL` pointed at it). A request body decodes to the
//! unified request; a unified response, stream or error encodes back into Anthropic's format.
//!
//! Decoding:
//! - `max_tokens` is required, as the API requires it.
//! - `system` (a string or text blocks) and content blocks keep their `cache_control` markers
//!   as unified cache TTLs; a marker on a block the unified model cannot mark (`tool_use`,
//!   `thinking`) is reported in `ignored`.
//! - `thinking` blocks (with their signatures) become reasoning parts; `redacted_thinking`
//!   cannot be carried and is dropped with an `ignored` warning.
//! - Images must be base64 (`source.type: "base64"`): the unified model holds image bytes only,
//!   so URL and file sources are invalid requests naming the field. Tool results hold text:
//!   an image inside one is refused the same way.
//! - Server tools (`web_search_...`, `bash_...`, ...) and blocks the unified model has no place
//!   for (`document`, `search_result`, server tool results) are refused, naming the field.
//! - Structured output (`output_format`, or `output_config.format`, `{"type":"json_schema",
//!   "schema":...}`) becomes the unified JSON-schema response format.
//! - `thinking`, `service_tier`, `container`, `mcp_servers`, `context_management` and
//!   `tool_choice.disable_parallel_tool_use` are accepted and reported in `ignored`.
//!
//! Encoding:
//! - `stop_reason` from the unified finish: end_turn, max_tokens, tool_use, refusal, pause_turn
//!   (an unknown reason is end_turn); an Anthropic upstream's `stop_sequence` and
//!   `model_context_window_exceeded` are kept.
//! - `usage.input_tokens` excludes the cache (Anthropic's convention, and the unified one);
//!   `cache_creation_input_tokens` is both write TTLs, split in `cache_creation` when the 1-hour
//!   share is known. `input_tokens` and `output_tokens` are required numbers, so a count the
//!   upstream did not report is 0 there; the nullable cache counts are `null` when unknown.
//! - A stream's `message_start` waits for the first content (or the end), so that it carries
//!   the input and cache counts an upstream reports first; the cumulative counts are repeated
//!   in `message_delta`. Blocks are framed one after another as the API does; tool arguments
//!   stream as `input_json_delta`.
//!
//! Errors (`encode_error`, and `StreamEncoder::error` as an `error` event):
//!
//! | kind | status | `type` |
//! |---|---|---|
//! | invalid request, context length, content filtered | 400 | `invalid_request_error` (413: `request_too_large`) |
//! | authentication (the proxy's own) | 401 | `authentication_error` |
//! | authentication (an upstream refused the proxy's key) | 502 | `api_error` |
//! | permission | 403 | `permission_error` |
//! | not found | 404 | `not_found_error` |
//! | rate limited | 429 | `rate_limit_error` |
//! | quota exceeded, budget exceeded | 402 | `billing_error` |
//! | overloaded | 529 | `overloaded_error` |
//! | circuit open | 503 | `overloaded_error` |
//! | server error, config | 500 | `api_error` |
//! | timeout | 504 | `timeout_error` |
//! | network, truncated stream, invalid response, invalid output | 502 | `api_error` |
//! | cancelled | 499 | `invalid_request_error` |
//!
//! An Anthropic upstream's error passes through as it answered (status and `type`: its 429
//! spend limit stays a 429); another provider's status is kept when it means the same kind in
//! any API (a 422 stays 422, a 429 is a `rate_limit_error`). `request_id` is the upstream's
//! when known. Anything that looks like an API key in a message is redacted.
use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::wire::{
    BlockDeltaOut, CacheCreationOut, ContentBlockParam, DeltaUsageOut, ErrorDetailOut, ErrorOut,
    MessageDeltaOut, MessageOut, StreamEventOut, UsageOut,
};
use crate::core::error::{Error, ErrorKind};
use crate::core::event::StreamEvent;
use crate::core::model::{
    ContentPart, FinishKind, FinishReason, Message, Metadata, Provider, Request, Response,
    ResponseFormat, Role, SystemBlock, ToolChoice, ToolDefinition, Usage, Warning,
};
use crate::core::provider::inbound::{
    cache_control, is_upstream_auth_failure, kept_upstream_status, not_honoured, redact_secrets,
    warn_once, Dialect, InboundRequest, Node, Object,
};

const DIALECT: Dialect = Dialect::Anthropic;

/// Top-level fields read but not honoured.
const NOT_HONOURED: [&str; 5] = [
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
];

// ------------------------------------------------------------------------------ decoding

/// Decodes a `POST /v1/messages` body.
pub fn decode_request(body: &[u8]) -> Result<InboundRequest, Error> {
    let value = DIALECT.parse(body)?;
    let root = Node::root(&value, DIALECT).object()?;
    let mut ignored = Vec::new();

    let model_node = root.require("model")?;
    let model = model_node.string()?;
    if model.trim().is_empty() {
        return Err(model_node.invalid("String should have at least 1 character"));
    }
    let max_tokens = root.require("max_tokens")?.integer(1)?;
    let mut call_names = HashMap::new();
    let messages = root
        .require("messages")?
        .non_empty_array()?
        .iter()
        .map(|message| decode_message(message, &mut call_names, &mut ignored))
        .collect::<Result<Vec<_>, _>>()?;

    let mut request = Request::new(model, messages);
    request.system = match root.get("system") {
        Some(system) => system_blocks(&system)?,
        None => Vec::new(),
    };
    request.max_tokens = Some(max_tokens);
    request.temperature = root
        .get("temperature")
        .map(|n| n.number(0.0, 1.0))
        .transpose()?;
    request.top_p = root.get("top_p").map(|n| n.number(0.0, 1.0)).transpose()?;
    request.top_k = root.get("top_k").map(|n| n.integer(0)).transpose()?;
    if let Some(stop) = root.get("stop_sequences") {
        request.stop = stop
            .array()?
            .iter()
            .map(|s| s.string().map(str::to_string))
            .collect::<Result<_, _>>()?;
    }
    if let Some(tools) = root.get("tools") {
        request.tools = tools
            .array()?
            .iter()
            .map(|tool| tool_definition(tool, &mut ignored))
            .collect::<Result<_, _>>()?;
    }
    request.tool_choice = root
        .get("tool_choice")
        .map(|n| tool_choice(&n, &mut ignored))
        .transpose()?;
    request.response_format = response_format(&root, &mut ignored)?;
    if let Some(metadata) = root.get("metadata") {
        request.metadata = Metadata {
            conversation_id: None,
            end_user_id: metadata
                .object()?
                .opt_string("user_id")?
                .map(str::to_string),
        };
    }
    for field in NOT_HONOURED {
        if root.has(field) {
            ignored.push(not_honoured(
                field.to_string(),
                "is not supported by this proxy",
            ));
        }
    }

    Ok(InboundRequest {
        request,
        stream: root.opt_bool("stream")?.unwrap_or(false),
        include_usage: true,
        model: model.to_string(),
        ignored,
    })
}

/// `system`: a string, or text blocks (one unified block each, with its cache marker).
fn system_blocks(node: &Node<'_>) -> Result<Vec<SystemBlock>, Error> {
    match node.value() {
        Value::String(text) if text.is_empty() => Ok(Vec::new()),
        Value::String(text) => Ok(vec![SystemBlock {
            text: text.clone(),
            cache: None,
        }]),
        Value::Array(_) => node
            .array()?
            .iter()
            .map(|block| {
                let block = block.object()?;
                let kind = block.require("type")?;
                match kind.string()? {
                    "text" => Ok(SystemBlock {
                        text: block.require("text")?.string()?.to_string(),
                        cache: cache_control(&block)?,
                    }),
                    other => Err(kind.not_one_of(other, &["text"])),
                }
            })
            .collect(),
        _ => Err(node.wrong_type("a string or an array of text blocks")),
    }
}

fn decode_message(
    node: &Node<'_>,
    call_names: &mut HashMap<String, String>,
    ignored: &mut Vec<Warning>,
) -> Result<Message, Error> {
    let message = node.object()?;
    let role_node = message.require("role")?;
    let role = match role_node.string()? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => return Err(role_node.not_one_of(other, &["user", "assistant"])),
    };
    let content_node = message.require("content")?;
    let content = match content_node.value() {
        Value::String(text) => vec![ContentPart::text(text.clone())],
        Value::Array(_) => {
            let mut content = Vec::new();
            for block in content_node.array()? {
                if let Some(part) = content_block(&block.object()?, role, call_names, ignored)? {
                    content.push(part);
                }
            }
            content
        }
        _ => return Err(content_node.wrong_type("a string or an array of content blocks")),
    };
    Ok(Message { role, content })
}

/// One content block; `None` for a block that is dropped with a warning.
fn content_block(
    block: &Object<'_>,
    role: Role,
    call_names: &mut HashMap<String, String>,
    ignored: &mut Vec<Warning>,
) -> Result<Option<ContentPart>, Error> {
    let kind_node = block.require("type")?;
    let kind = kind_node.string()?;
    let only_in = |expected: Role| -> Result<(), Error> {
        if role == expected {
            return Ok(());
        }
        let (name, other) = match expected {
            Role::User => ("user", "assistant"),
            Role::Assistant => ("assistant", "user"),
        };
        Err(block.invalid(format_args!(
            "`{kind}` blocks can only appear in {name} messages, not in {other} messages"
        )))
    };
    let unmarkable = |ignored: &mut Vec<Warning>| {
        if block.has("cache_control") {
            warn_once(
                ignored,
                not_honoured(
                    format!("messages.content.{kind}.cache_control"),
                    "cannot be carried on this block",
                ),
            );
        }
    };
    Ok(Some(match kind {
        "text" => ContentPart::Text {
            text: block.require("text")?.string()?.to_string(),
            cache: cache_control(block)?,
        },
        "image" => {
            let (media_type, data) = image_source(&block.require("source")?.object()?)?;
            ContentPart::Image {
                media_type,
                data,
                cache: cache_control(block)?,
            }
        }
        "tool_use" => {
            only_in(Role::Assistant)?;
            unmarkable(ignored);
            let id = block.require("id")?.string()?;
            let name = block.require("name")?.string()?;
            let input = block.require("input")?;
            input.object()?;
            call_names.insert(id.to_string(), name.to_string());
            ContentPart::ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments: input.value().clone(),
                signature: None,
            }
        }
        "tool_result" => {
            only_in(Role::User)?;
            let call_id = block.require("tool_use_id")?.string()?;
            let content = match block.get("content") {
                Some(content) => tool_result_text(&content)?,
                None => String::new(),
            };
            ContentPart::ToolResult {
                call_id: call_id.to_string(),
                name: call_names.get(call_id).cloned(),
                content,
                is_error: block.opt_bool("is_error")?.unwrap_or(false),
                cache: cache_control(block)?,
            }
        }
        "thinking" => {
            only_in(Role::Assistant)?;
            unmarkable(ignored);
            let text = block.require("thinking")?.string()?;
            let signature = block.require("signature")?.string()?;
            ContentPart::Reasoning {
                text: text.to_string(),
                signature: (!signature.is_empty()).then(|| signature.to_string()),
            }
        }
        "redacted_thinking" => {
            only_in(Role::Assistant)?;
            warn_once(
                ignored,
                not_honoured(
                    "messages.content.redacted_thinking".to_string(),
                    "cannot be carried to other providers",
                ),
            );
            return Ok(None);
        }
        unsupported @ ("document"
        | "search_result"
        | "server_tool_use"
        | "web_search_tool_result"
        | "web_fetch_tool_result"
        | "code_execution_tool_result"
        | "bash_code_execution_tool_result"
        | "text_editor_code_execution_tool_result"
        | "mcp_tool_use"
        | "mcp_tool_result"
        | "container_upload") => {
            return Err(kind_node.invalid(format_args!(
                "`{unsupported}` blocks are not supported by this proxy"
            )))
        }
        other => {
            return Err(kind_node.not_one_of(
                other,
                &[
                    "text",
                    "image",
                    "tool_use",
                    "tool_result",
                    "thinking",
                    "redacted_thinking",
                ],
            ))
        }
    }))
}

/// `{"type":"base64","media_type":...,"data":...}` -> (media type, data).
fn image_source(source: &Object<'_>) -> Result<(String, String), Error> {
    let kind = source.require("type")?;
    match kind.string()? {
        "base64" => Ok((
            source.require("media_type")?.string()?.to_string(),
            source.require("data")?.string()?.to_string(),
        )),
        "url" => Err(kind.invalid(
            "URL image sources are not supported by this proxy; send the image as base64 \
             (`{\"type\":\"base64\",\"media_type\":...,\"data\":...}`)",
        )),
        "file" => Err(kind.invalid(
            "file image sources are not supported by this proxy; send the image as base64",
        )),
        other => Err(kind.not_one_of(other, &["base64"])),
    }
}

/// A tool result's `content`: a string, or text blocks joined.
fn tool_result_text(node: &Node<'_>) -> Result<String, Error> {
    match node.value() {
        Value::String(text) => Ok(text.clone()),
        Value::Array(_) => node
            .array()?
            .iter()
            .map(|block| {
                let block = block.object()?;
                let kind = block.require("type")?;
                match kind.string()? {
                    "text" => block.require("text")?.string(),
                    "image" => Err(kind.invalid(
                        "images in tool results are not supported by this proxy (tool results \
                         carry text)",
                    )),
                    other => Err(kind.not_one_of(other, &["text"])),
                }
            })
            .collect(),
        _ => Err(node.wrong_type("a string or an array of content blocks")),
    }
}

fn tool_definition(node: &Node<'_>, ignored: &mut Vec<Warning>) -> Result<ToolDefinition, Error> {
    let tool = node.object()?;
    if let Some(kind) = tool.get("type") {
        match kind.string()? {
            "custom" => {}
            server => {
                return Err(kind.invalid(format_args!(
                    "server tools (`{server}`) are not supported by this proxy; only client tools \
                     (name, description, input_schema) are"
                )))
            }
        }
    }
    let name_node = tool.require("name")?;
    let name = name_node.string()?;
    if name.is_empty() {
        return Err(name_node.invalid("String should have at least 1 character"));
    }
    let schema = tool.require("input_schema")?;
    schema.object()?;
    if tool.opt_bool("strict")? == Some(true) {
        warn_once(
            ignored,
            not_honoured(
                "tools.strict".to_string(),
                "cannot be enforced across providers",
            ),
        );
    }
    Ok(ToolDefinition {
        name: name.to_string(),
        description: tool.opt_string("description")?.map(str::to_string),
        parameters: schema.value().clone(),
        cache: cache_control(&tool)?,
    })
}

fn tool_choice(node: &Node<'_>, ignored: &mut Vec<Warning>) -> Result<ToolChoice, Error> {
    let choice = node.object()?;
    if choice.opt_bool("disable_parallel_tool_use")? == Some(true) {
        ignored.push(not_honoured(
            choice.path_of("disable_parallel_tool_use"),
            "cannot be enforced across providers",
        ));
    }
    let kind = choice.require("type")?;
    Ok(match kind.string()? {
        "auto" => ToolChoice::Auto,
        "any" => ToolChoice::Required,
        "none" => ToolChoice::None,
        "tool" => ToolChoice::Tool {
            name: choice.require("name")?.string()?.to_string(),
        },
        other => return Err(kind.not_one_of(other, &["auto", "any", "tool", "none"])),
    })
}

/// `output_format`, or `output_config.format` (whose `effort` is not honoured).
fn response_format(
    root: &Object<'_>,
    ignored: &mut Vec<Warning>,
) -> Result<Option<ResponseFormat>, Error> {
    let format = match root.get("output_format") {
        Some(format) => format,
        None => {
            let Some(config) = root.get("output_config") else {
                return Ok(None);
            };
            let config = config.object()?;
            if config.has("effort") {
                ignored.push(not_honoured(
                    config.path_of("effort"),
                    "is not supported by this proxy",
                ));
            }
            match config.get("format") {
                Some(format) => format,
                None => return Ok(None),
            }
        }
    };
    let format = format.object()?;
    let kind = format.require("type")?;
    match kind.string()? {
        "json_schema" => {
            let schema = format.require("schema")?;
            schema.object()?;
            Ok(Some(ResponseFormat::JsonSchema {
                name: "response".to_string(),
                schema: schema.value().clone(),
                strict: true,
            }))
        }
        other => Err(kind.not_one_of(other, &["json_schema"])),
    }
}

// ------------------------------------------------------------------------------ encoding

/// A whole message for `response`. The id is the upstream's (or `msg_<created>` when it gave
/// none: set `response.id` first for a unique one).
pub fn encode_response(response: &Response, model_echo: &str, created_unix_s: u64) -> String {
    let content = response
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text, .. } if text.is_empty() => None,
            ContentPart::Text { text, .. } => Some(ContentBlockParam::Text {
                text,
                cache_control: None,
            }),
            ContentPart::Reasoning { text, signature } => Some(ContentBlockParam::Thinking {
                thinking: text,
                signature: signature.as_deref().unwrap_or(""),
            }),
            ContentPart::ToolCall {
                id,
                name,
                arguments,
                ..
            } => Some(ContentBlockParam::ToolUse {
                id,
                name,
                input: object_or_empty(arguments),
            }),
            // Responses hold no images or tool results.
            ContentPart::Image { .. } | ContentPart::ToolResult { .. } => None,
        })
        .collect();
    let fallback_id;
    let id = match &response.id {
        Some(id) => id.as_str(),
        None => {
            fallback_id = format!("msg_{created_unix_s}");
            &fallback_id
        }
    };
    let message = MessageOut {
        id,
        kind: "message",
        role: "assistant",
        model: model_echo,
        content,
        stop_reason: Some(stop_reason(&response.finish_reason)),
        stop_sequence: None,
        usage: usage_out(&response.usage),
    };
    to_json(&message)
}

fn object_or_empty(arguments: &Value) -> Cow<'_, Value> {
    match arguments {
        Value::Object(_) => Cow::Borrowed(arguments),
        _ => Cow::Owned(Value::Object(Default::default())),
    }
}

/// The unified finish as a `stop_reason`, keeping the two Anthropic values that say more than
/// the unified kind.
fn stop_reason(reason: &FinishReason) -> &'static str {
    match (reason.unified, reason.raw.as_deref()) {
        (FinishKind::Stop, Some("stop_sequence")) => "stop_sequence",
        (FinishKind::Length, Some("model_context_window_exceeded")) => {
            "model_context_window_exceeded"
        }
        (FinishKind::Stop | FinishKind::Other, _) => "end_turn",
        (FinishKind::Length, _) => "max_tokens",
        (FinishKind::ToolCalls, _) => "tool_use",
        (FinishKind::ContentFilter, _) => "refusal",
        (FinishKind::Pause, _) => "pause_turn",
    }
}

/// Both cache-write TTLs, `None` when neither was reported.
fn cache_writes(usage: &Usage) -> Option<u64> {
    match (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) {
        (None, None) => None,
        (five, hour) => Some(five.unwrap_or(0) + hour.unwrap_or(0)),
    }
}

/// The TTL split, sent when the 1-hour share is known (without it, the total counts as
/// 5-minute writes, which is what a reader assumes).
fn cache_split(usage: &Usage) -> Option<CacheCreationOut> {
    usage.cache_write_1h_tokens.map(|hour| CacheCreationOut {
        ephemeral_5m_input_tokens: usage.cache_write_5m_tokens.unwrap_or(0),
        ephemeral_1h_input_tokens: hour,
    })
}

fn usage_out(usage: &Usage) -> UsageOut {
    UsageOut {
        input_tokens: usage.input_tokens.unwrap_or(0),
        cache_creation_input_tokens: cache_writes(usage),
        cache_read_input_tokens: usage.cache_read_tokens,
        cache_creation: cache_split(usage),
        output_tokens: usage.output_tokens.unwrap_or(0),
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("the wire types serialise infallibly (string keys only)")
}

/// Unified stream events -> Messages API server-sent events (`event: X\ndata: {...}\n\n`).
///
/// `message_start` is written with the first content (or at the end), carrying the usage known
/// by then; each text, thinking or tool-use run becomes one content block, closed when the next
/// begins; the end is `message_delta` (stop reason, cumulative usage) and `message_stop`. After
/// the end, or after [`StreamEncoder::error`], events are ignored.
///
/// Tool-call fragments must arrive call after call, as every upstream sends them; a fragment
/// for a call whose block is already closed cannot be framed, and ends the stream with an
/// error event rather than wrong arguments.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    id: String,
    created: u64,
    started: bool,
    /// `message_stop` or an error was written.
    closed: bool,
    usage: Usage,
    /// The index the next content block gets.
    next_block: u32,
    open: Option<OpenBlock>,
    /// By tool-call index: whether the call's block was opened.
    call_blocks: Vec<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Text(u32),
    Thinking(u32),
    ToolUse {
        block: u32,
        call: u32,
        /// Some `input_json_delta` was written.
        streamed: bool,
    },
}

impl OpenBlock {
    fn index(self) -> u32 {
        match self {
            OpenBlock::Text(i) | OpenBlock::Thinking(i) => i,
            OpenBlock::ToolUse { block, .. } => block,
        }
    }
}

impl StreamEncoder {
    /// `include_usage` is accepted for symmetry and has no effect: Anthropic streams always
    /// carry usage. `id` names the message; when empty, the upstream's id from the `Start`
    /// event is used (`msg_<created>` without one).
    pub fn new(
        model_echo: impl Into<String>,
        created_unix_s: u64,
        include_usage: bool,
        id: impl Into<String>,
    ) -> Self {
        let _ = include_usage;
        StreamEncoder {
            model: model_echo.into(),
            id: id.into(),
            created: created_unix_s,
            started: false,
            closed: false,
            usage: Usage::default(),
            next_block: 0,
            open: None,
            call_blocks: Vec::new(),
        }
    }

    pub fn event(&mut self, event: &StreamEvent, out: &mut String) {
        if self.closed {
            return;
        }
        match event {
            StreamEvent::Start { id, .. } => {
                if let (true, Some(id)) = (self.id.is_empty(), id) {
                    self.id.clone_from(id);
                }
            }
            StreamEvent::Usage { usage } => self.usage.merge(usage),
            StreamEvent::TextDelta { text } => {
                if !text.is_empty() {
                    let index = self.text_block(out);
                    self.delta(index, BlockDeltaOut::Text { text }, out);
                }
            }
            StreamEvent::ReasoningDelta { text } => {
                if !text.is_empty() {
                    let index = self.thinking_block(out);
                    self.delta(index, BlockDeltaOut::Thinking { thinking: text }, out);
                }
            }
            StreamEvent::ReasoningSignature { signature } => {
                let index = self.thinking_block(out);
                self.delta(index, BlockDeltaOut::Signature { signature }, out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.start_call(*index, id, name, out);
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
            } => self.end_call(*index, id, name, arguments, out),
            StreamEvent::Finish { reason, usage } => {
                self.usage.merge(usage);
                self.ensure_started(out);
                self.close_block(out);
                let writes = cache_writes(&self.usage);
                self.write(
                    &StreamEventOut::MessageDelta {
                        delta: MessageDeltaOut {
                            stop_reason: Some(stop_reason(reason)),
                            stop_sequence: None,
                        },
                        usage: DeltaUsageOut {
                            output_tokens: self.usage.output_tokens.unwrap_or(0),
                            input_tokens: self.usage.input_tokens,
                            cache_creation_input_tokens: writes,
                            cache_read_input_tokens: self.usage.cache_read_tokens,
                            cache_creation: cache_split(&self.usage),
                        },
                    },
                    out,
                );
                self.write(&StreamEventOut::MessageStop, out);
                self.closed = true;
            }
        }
    }

    /// Ends the stream with an `error` event, so that clients see a failed stream (the SDK
    /// throws on it), never a clean end.
    pub fn error(&mut self, error: &Error, out: &mut String) {
        if self.closed {
            return;
        }
        let (_, body) = encode_error(error);
        out.push_str("event: error\ndata: ");
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
            self.id = format!("msg_{}", self.created);
        }
        let start = StreamEventOut::MessageStart {
            message: MessageOut {
                id: &self.id,
                kind: "message",
                role: "assistant",
                model: &self.model,
                content: Vec::new(),
                stop_reason: None,
                stop_sequence: None,
                usage: usage_out(&self.usage),
            },
        };
        push_event(&start, out);
    }

    /// The open block if `is_wanted` says it fits, else a new one opened with `open`.
    fn block(
        &mut self,
        out: &mut String,
        is_wanted: impl Fn(OpenBlock) -> bool,
        open: impl FnOnce(u32) -> (OpenBlock, ContentBlockParam<'static>),
    ) -> u32 {
        self.ensure_started(out);
        if let Some(block) = self.open.filter(|b| is_wanted(*b)) {
            return block.index();
        }
        self.close_block(out);
        let index = self.next_block;
        self.next_block += 1;
        let (block, content_block) = open(index);
        self.write(
            &StreamEventOut::ContentBlockStart {
                index,
                content_block,
            },
            out,
        );
        self.open = Some(block);
        index
    }

    fn text_block(&mut self, out: &mut String) -> u32 {
        self.block(
            out,
            |o| matches!(o, OpenBlock::Text(_)),
            |i| {
                let start = ContentBlockParam::Text {
                    text: "",
                    cache_control: None,
                };
                (OpenBlock::Text(i), start)
            },
        )
    }

    fn thinking_block(&mut self, out: &mut String) -> u32 {
        self.block(
            out,
            |o| matches!(o, OpenBlock::Thinking(_)),
            |i| {
                (
                    OpenBlock::Thinking(i),
                    ContentBlockParam::Thinking {
                        thinking: "",
                        signature: "",
                    },
                )
            },
        )
    }

    fn close_block(&mut self, out: &mut String) {
        if let Some(block) = self.open.take() {
            self.write(
                &StreamEventOut::ContentBlockStop {
                    index: block.index(),
                },
                out,
            );
        }
    }

    fn start_call(&mut self, call: u32, id: &str, name: &str, out: &mut String) {
        self.ensure_started(out);
        self.close_block(out);
        let block = self.next_block;
        self.next_block += 1;
        self.write(
            &StreamEventOut::ContentBlockStart {
                index: block,
                content_block: ContentBlockParam::ToolUse {
                    id,
                    name,
                    input: Cow::Owned(Value::Object(Default::default())),
                },
            },
            out,
        );
        self.open = Some(OpenBlock::ToolUse {
            block,
            call,
            streamed: false,
        });
        let slot = call as usize;
        if self.call_blocks.len() <= slot {
            self.call_blocks.resize(slot + 1, false);
        }
        self.call_blocks[slot] = true;
    }

    fn call_arguments(&mut self, call: u32, piece: &str, out: &mut String) {
        match &mut self.open {
            Some(OpenBlock::ToolUse {
                block,
                call: open_call,
                streamed,
            }) if *open_call == call => {
                *streamed = true;
                let index = *block;
                self.delta(
                    index,
                    BlockDeltaOut::InputJson {
                        partial_json: piece,
                    },
                    out,
                );
            }
            _ => self.error(
                &Error::new(
                    ErrorKind::InvalidResponse,
                    format!(
                        "arguments of tool call {call} arrived after another content block \
                         started; the Anthropic stream format cannot carry interleaved tool calls"
                    ),
                ),
                out,
            ),
        }
    }

    fn end_call(&mut self, call: u32, id: &str, name: &str, arguments: &Value, out: &mut String) {
        let opened = self
            .call_blocks
            .get(call as usize)
            .copied()
            .unwrap_or(false);
        if !opened {
            self.start_call(call, id, name, out);
        }
        match self.open {
            Some(OpenBlock::ToolUse {
                call: open_call,
                streamed,
                ..
            }) if open_call == call => {
                // Arguments that were never streamed go out whole; `{}` is the block's start.
                let empty = arguments.as_object().is_none_or(|o| o.is_empty());
                if !streamed && !empty {
                    self.call_arguments(call, &arguments.to_string(), out);
                }
                self.close_block(out);
            }
            // Its block was closed when the next one began.
            _ => {}
        }
    }

    fn delta(&self, index: u32, delta: BlockDeltaOut<'_>, out: &mut String) {
        self.write(&StreamEventOut::ContentBlockDelta { index, delta }, out);
    }

    fn write(&self, event: &StreamEventOut<'_>, out: &mut String) {
        push_event(event, out);
    }
}

fn push_event(event: &StreamEventOut<'_>, out: &mut String) {
    let name = match event {
        StreamEventOut::MessageStart { .. } => "message_start",
        StreamEventOut::ContentBlockStart { .. } => "content_block_start",
        StreamEventOut::ContentBlockDelta { .. } => "content_block_delta",
        StreamEventOut::ContentBlockStop { .. } => "content_block_stop",
        StreamEventOut::MessageDelta { .. } => "message_delta",
        StreamEventOut::MessageStop => "message_stop",
    };
    out.push_str("event: ");
    out.push_str(name);
    out.push_str("\ndata: ");
    out.push_str(&to_json(event));
    out.push_str("\n\n");
}

// -------------------------------------------------------------------------------- errors

/// The status and `{"type":"error","error":{...}}` body for `error` (see the module's table).
pub fn encode_error(error: &Error) -> (u16, String) {
    let kept = kept_upstream_status(error, Provider::Anthropic);
    let (default_status, default_type) = classify(error);
    let status = kept.unwrap_or(default_status);
    let own_type = error.provider_code().filter(|_| {
        error.provider() == Some(Provider::Anthropic) && !is_upstream_auth_failure(error)
    });
    let kind = match (own_type, kept) {
        // An Anthropic upstream's own type travels as it is.
        (Some(own), _) => own,
        (None, Some(413)) => "request_too_large",
        (None, Some(429)) => "rate_limit_error",
        _ => default_type,
    };
    let message = redact_secrets(error.message());
    let raw_output = error.raw_output().map(redact_secrets);
    let body = ErrorOut {
        kind: "error",
        error: ErrorDetailOut {
            kind,
            message: &message,
            raw_output: raw_output.as_deref(),
        },
        request_id: error.request_id(),
    };
    (status, to_json(&body))
}

fn classify(error: &Error) -> (u16, &'static str) {
    const INVALID: &str = "invalid_request_error";
    const API: &str = "api_error";
    match error.kind() {
        ErrorKind::InvalidRequest | ErrorKind::ContextLength | ErrorKind::ContentFiltered => {
            (400, INVALID)
        }
        ErrorKind::Authentication if is_upstream_auth_failure(error) => (502, API),
        ErrorKind::Authentication => (401, "authentication_error"),
        ErrorKind::Permission => (403, "permission_error"),
        ErrorKind::NotFound => (404, "not_found_error"),
        ErrorKind::RateLimited => (429, "rate_limit_error"),
        ErrorKind::QuotaExceeded | ErrorKind::BudgetExceeded => (402, "billing_error"),
        ErrorKind::Overloaded => (529, "overloaded_error"),
        ErrorKind::CircuitOpen => (503, "overloaded_error"),
        ErrorKind::ServerError | ErrorKind::Config => (500, API),
        ErrorKind::Timeout => (504, "timeout_error"),
        ErrorKind::Network
        | ErrorKind::TruncatedStream
        | ErrorKind::InvalidResponse
        | ErrorKind::InvalidOutput => (502, API),
        ErrorKind::Cancelled => (499, INVALID),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hour_writes_are_split_and_five_minute_ones_alone_are_a_total() {
        let mut usage = Usage {
            input_tokens: Some(3),
            cache_write_5m_tokens: Some(100),
            ..Usage::default()
        };
        let out = usage_out(&usage);
        assert_eq!(
            (
                out.cache_creation_input_tokens,
                out.cache_creation.is_none()
            ),
            (Some(100), true)
        );
        usage.cache_write_1h_tokens = Some(50);
        let split = usage_out(&usage).cache_creation.unwrap();
        assert_eq!(
            (
                split.ephemeral_5m_input_tokens,
                split.ephemeral_1h_input_tokens
            ),
            (100, 50)
        );
        assert_eq!(usage_out(&usage).cache_creation_input_tokens, Some(150));
        assert_eq!(cache_writes(&Usage::default()), None);
    }

    #[test]
    fn stop_reasons_keep_the_anthropic_values_that_say_more() {
        let reason = |unified, raw: &str| FinishReason::new(unified, raw);
        assert_eq!(
            stop_reason(&reason(FinishKind::Stop, "stop_sequence")),
            "stop_sequence"
        );
        // The structured-output tool: raw `tool_use`, unified stop.
        assert_eq!(
            stop_reason(&reason(FinishKind::Stop, "tool_use")),
            "end_turn"
        );
        assert_eq!(stop_reason(&reason(FinishKind::Stop, "stop")), "end_turn");
        assert_eq!(
            stop_reason(&reason(FinishKind::Length, "MAX_TOKENS")),
            "max_tokens"
        );
        assert_eq!(
            stop_reason(&reason(FinishKind::ContentFilter, "SAFETY")),
            "refusal"
        );
        assert_eq!(stop_reason(&reason(FinishKind::Other, "OTHER")), "end_turn");
        assert_eq!(
            stop_reason(&reason(FinishKind::Pause, "pause_turn")),
            "pause_turn"
        );
    }
}
