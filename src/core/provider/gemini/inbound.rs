//! The server direction: the proxy speaking the Gemini API (`v1beta` `generateContent` and
//! `streamGenerateContent?alt=sse`) to Gemini-format clients. A request decodes to the unified
//! request; a unified response, stream or error encodes back into Gemini's format.
//!
//! The model and whether to stream are in the URL, not the body: [`parse_path`] reads them and
//! [`decode_request_at`] decodes path and body together ([`decode_request`] reads a body alone,
//! leaving the model empty and `stream` false).
//!
//! Decoding:
//! - Field names are accepted in both spellings protobuf JSON allows (`systemInstruction` and
//!   `system_instruction`); errors name the spelling the client used.
//! - Gemini has no call ids: a `functionCall` without `id` is named `call_{n}`, counting calls
//!   from the start of the conversation, and a `functionResponse` without `id` answers the
//!   earliest unanswered call of the same name. Thought parts become reasoning; a function
//!   call's `thoughtSignature` is kept on the tool call.
//! - A `functionResponse.response` of the form `{"output": text}` or `{"content": text}` is
//!   that text, `{"error": ...}` a failed result; any other object is its JSON text.
//! - `parameters` and `responseSchema` use Gemini's OpenAPI subset (`"type": "OBJECT"`,
//!   `nullable`): they are converted to JSON Schema for the other providers;
//!   `parametersJsonSchema` and `responseJsonSchema` are JSON Schema already.
//! - Images must be inline (`inlineData`); `fileData` URIs, built-in tools (`googleSearch`,
//!   `codeExecution`...) and `cachedContent` are invalid requests naming the field.
//! - Safety settings, penalties, seeds, thinking configuration and the like are accepted and
//!   reported in `ignored`.
//!
//! Encoding:
//! - `finishReason`: STOP (also for tool calls), MAX_TOKENS, SAFETY, OTHER; a Gemini upstream's
//!   own value is kept when it says the same (RECITATION, BLOCKLIST, MALFORMED_FUNCTION_CALL...).
//! - `usageMetadata`: `promptTokenCount` is all input (cached and cache writes included),
//!   `cachedContentTokenCount` the cache reads, `candidatesTokenCount` the output without
//!   reasoning, `thoughtsTokenCount` the reasoning; counts not reported are left out, as Gemini
//!   leaves out what it does not count.
//! - Tool calls carry their id only when it is not the `call_{n}` name Gemini's own calls get.
//! - A stream is `data: {GenerateContentResponse}\r\n\r\n` chunks, one per piece of content,
//!   each with the usage known so far (a unified stream reports a chunk's usage after its
//!   content, so it shows on the next chunk); the last chunk carries the `finishReason` and the
//!   final usage.
//!
//! Errors (`encode_error`, and `StreamEncoder::error` as a chunk holding `error`):
//!
//! | kind | code | status |
//! |---|---|---|
//! | invalid request, context length, content filtered | 400 | `INVALID_ARGUMENT` |
//! | authentication (the proxy's own) | 401 | `UNAUTHENTICATED` |
//! | authentication (an upstream refused the proxy's key), server error, config, invalid output | 500 | `INTERNAL` |
//! | permission | 403 | `PERMISSION_DENIED` |
//! | not found | 404 | `NOT_FOUND` |
//! | rate limited, quota exceeded, budget exceeded | 429 | `RESOURCE_EXHAUSTED` (+ `RetryInfo`) |
//! | overloaded, circuit open, network, truncated stream, invalid response | 503 | `UNAVAILABLE` |
//! | timeout | 504 | `DEADLINE_EXCEEDED` |
//! | cancelled | 499 | `CANCELLED` |
//!
//! A Gemini upstream's error passes through as it answered (code and status); other providers'
//! statuses are not kept, since Google pairs each code with one status. Anything that looks
//! like an API key in a message is redacted.
use std::borrow::Cow;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::decode::finish_reason as decode_finish_reason;
use super::wire::{
    CandidateOut, ContentOut, ErrorOut, FunctionCallOut, PartOut, ResponseOut, RetryInfoOut,
    StatusOut, UsageMetadataOut,
};
use crate::core::error::{Error, ErrorKind, RetryAfter};
use crate::core::event::StreamEvent;
use crate::core::model::{
    ContentPart, FinishKind, FinishReason, Message, Provider, Request, Response, ResponseFormat,
    Role, SystemBlock, ToolChoice, ToolDefinition, Usage, Warning,
};
use crate::core::provider::inbound::{
    is_upstream_auth_failure, kept_upstream_status, not_honoured, redact_secrets, warn_once,
    Dialect, InboundRequest, Node, Object,
};

const DIALECT: Dialect = Dialect::Gemini;

/// `generationConfig` fields read but not honoured.
const GENERATION_NOT_HONOURED: [&str; 12] = [
    "presencePenalty",
    "frequencyPenalty",
    "seed",
    "responseLogprobs",
    "logprobs",
    "thinkingConfig",
    "mediaResolution",
    "speechConfig",
    "imageConfig",
    "enableEnhancedCivicAnswers",
    "routingConfig",
    "audioTimestamp",
];

/// Built-in tools the unified model has no place for.
const BUILT_IN_TOOLS: [&str; 10] = [
    "googleSearch",
    "googleSearchRetrieval",
    "codeExecution",
    "urlContext",
    "fileSearch",
    "googleMaps",
    "computerUse",
    "retrieval",
    "enterpriseWebSearch",
    "mcpServers",
];

// ---------------------------------------------------------------------------------- path

/// What a Gemini request path says: the model and whether to stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPath {
    /// Percent-decoded, as the client wrote it (`gemini-2.5-flash`, `anthropic/claude-...`).
    pub model: String,
    /// `streamGenerateContent` (with `alt=sse`) rather than `generateContent`.
    pub stream: bool,
}

/// Reads `.../models/{model}:generateContent` or `...:streamGenerateContent?alt=sse` (the query
/// may be included). A stream without `alt=sse` would be one JSON array, which this proxy does
/// not produce: that is an invalid request; another method is not found.
pub fn parse_path(path: &str) -> Result<CallPath, Error> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let not_found = || {
        Error::new(
            ErrorKind::NotFound,
            format!(
                "no Gemini method at `{path}`: expected \
                 `/v1beta/models/{{model}}:generateContent` or `:streamGenerateContent`"
            ),
        )
    };
    let rest = path
        .find("models/")
        .map(|at| &path[at + "models/".len()..])
        .ok_or_else(not_found)?;
    let (model, method) = rest.rsplit_once(':').ok_or_else(not_found)?;
    let model = percent_decode(model);
    if model.trim().is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            "the request path names no model",
        ));
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => {
            let sse = query
                .split('&')
                .any(|pair| pair.eq_ignore_ascii_case("alt=sse"));
            if !sse {
                return Err(Error::new(
                    ErrorKind::InvalidRequest,
                    "streamGenerateContent is served as server-sent events only: add `?alt=sse`",
                ));
            }
            true
        }
        _ => return Err(not_found()),
    };
    Ok(CallPath { model, stream })
}

/// `%XX` escapes decoded (a model may be written `anthropic%2Fclaude-...`); a malformed
/// escape is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) if hex(hi).is_some() && hex(lo).is_some() => {
                out.push((hex(hi).unwrap_or(0) * 16 + hex(lo).unwrap_or(0)) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ------------------------------------------------------------------------------ decoding

/// Decodes a request path and body together.
pub fn decode_request_at(path: &str, body: &[u8]) -> Result<InboundRequest, Error> {
    let call = parse_path(path)?;
    let mut inbound = decode_request(body)?;
    inbound.request.model.clone_from(&call.model);
    inbound.model = call.model;
    inbound.stream = call.stream;
    Ok(inbound)
}

/// Decodes a `GenerateContentRequest` body. The body names no model and no streaming: the
/// model is left empty and `stream` false (see [`decode_request_at`]).
pub fn decode_request(body: &[u8]) -> Result<InboundRequest, Error> {
    let value = DIALECT.parse(body)?;
    let root = Node::root(&value, DIALECT).object()?;
    let mut ignored = Vec::new();

    let contents = field(&root, "contents").ok_or_else(|| root.missing("contents"))?;
    let mut conversation = Conversation::default();
    for content in contents.non_empty_array()? {
        conversation.push(&content.object()?, &mut ignored)?;
    }

    let mut request = Request::new("", conversation.messages);
    if let Some(system) = field(&root, "systemInstruction") {
        request.system = system_blocks(&system)?;
    }
    if let Some(tools) = field(&root, "tools") {
        for tool in tools.array()? {
            read_tool(&tool.object()?, &mut request.tools, &mut ignored)?;
        }
    }
    if let Some(config) = field(&root, "toolConfig") {
        request.tool_choice = tool_choice(&config.object()?, &mut ignored)?;
    }
    if let Some(config) = field(&root, "generationConfig") {
        generation_config(&config.object()?, &mut request, &mut ignored)?;
    }
    if let Some(cached) = field(&root, "cachedContent") {
        return Err(cached.invalid(
            "cached contents are not supported by this proxy; send the content in the request",
        ));
    }
    for name in ["safetySettings", "labels"] {
        if let Some(node) = field(&root, name) {
            ignored.push(not_honoured(
                node.path().to_string(),
                "is not supported by this proxy",
            ));
        }
    }

    Ok(InboundRequest {
        request,
        stream: false,
        include_usage: true,
        model: String::new(),
        ignored,
    })
}

/// The field `camel`, or its snake_case spelling (protobuf JSON accepts both).
fn field<'a>(object: &Object<'a>, camel: &str) -> Option<Node<'a>> {
    object.get(camel).or_else(|| object.get(&snake_case(camel)))
}

fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn require<'a>(object: &Object<'a>, camel: &str) -> Result<Node<'a>, Error> {
    field(object, camel).ok_or_else(|| object.missing(camel))
}

/// `systemInstruction`: a `Content` of text parts, one unified block each.
fn system_blocks(node: &Node<'_>) -> Result<Vec<SystemBlock>, Error> {
    let content = node.object()?;
    require(&content, "parts")?
        .array()?
        .iter()
        .map(|part| {
            let part = part.object()?;
            match field(&part, "text") {
                Some(text) => Ok(SystemBlock {
                    text: text.string()?.to_string(),
                    cache: None,
                }),
                None => Err(part.invalid("system instruction parts must be text")),
            }
        })
        .collect()
}

/// The turns as they are read, with the calls seen so far (to pair responses with them).
#[derive(Default)]
struct Conversation {
    messages: Vec<Message>,
    /// Every function call so far: its id and name, and whether a response answered it.
    calls: Vec<(String, String, bool)>,
}

impl Conversation {
    fn push(&mut self, content: &Object<'_>, ignored: &mut Vec<Warning>) -> Result<(), Error> {
        let role = match content.get("role") {
            None => Role::User,
            Some(role) => match role.string()? {
                // `function` is the role older clients give function responses.
                "user" | "function" => Role::User,
                "model" => Role::Assistant,
                other => return Err(role.not_one_of(other, &["user", "model"])),
            },
        };
        let mut parts = Vec::new();
        for part in require(content, "parts")?.non_empty_array()? {
            parts.push(self.part(&part.object()?, role, ignored)?);
        }
        self.messages.push(Message {
            role,
            content: parts,
        });
        Ok(())
    }

    fn part(
        &mut self,
        part: &Object<'_>,
        role: Role,
        ignored: &mut Vec<Warning>,
    ) -> Result<ContentPart, Error> {
        let signature = field(part, "thoughtSignature")
            .map(|s| s.string().map(str::to_string))
            .transpose()?;
        let thought = part.opt_bool("thought")?.unwrap_or(false);
        if let Some(text) = field(part, "text") {
            let text = text.string()?.to_string();
            if thought {
                if role != Role::Assistant {
                    return Err(part.invalid("thought parts can only appear in model turns"));
                }
                return Ok(ContentPart::Reasoning { text, signature });
            }
            if signature.is_some() {
                warn_once(
                    ignored,
                    not_honoured(
                        "contents[].parts[].thoughtSignature".to_string(),
                        "on a text part cannot be carried (signatures are kept on function calls)",
                    ),
                );
            }
            return Ok(ContentPart::text(text));
        }
        if let Some(blob) = field(part, "inlineData") {
            let blob = blob.object()?;
            return Ok(ContentPart::Image {
                media_type: require(&blob, "mimeType")?.string()?.to_string(),
                data: require(&blob, "data")?.string()?.to_string(),
                cache: None,
            });
        }
        if let Some(call) = field(part, "functionCall") {
            if role != Role::Assistant {
                return Err(call.invalid("function calls can only appear in model turns"));
            }
            let call = call.object()?;
            let name = require(&call, "name")?.string()?.to_string();
            let arguments = match call.get("args") {
                Some(args) => {
                    args.object()?;
                    args.value().clone()
                }
                None => json!({}),
            };
            let id = match call.opt_string("id")? {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => format!("call_{}", self.calls.len()),
            };
            self.calls.push((id.clone(), name.clone(), false));
            return Ok(ContentPart::ToolCall {
                id,
                name,
                arguments,
                signature,
            });
        }
        if let Some(response) = field(part, "functionResponse") {
            if role != Role::User {
                return Err(response.invalid("function responses can only appear in user turns"));
            }
            let response = response.object()?;
            let name = require(&response, "name")?.string()?.to_string();
            let call_id = self.answer(response.opt_string("id")?, &name);
            let (content, is_error) = match response.get("response") {
                Some(value) => tool_result(value.value()),
                None => (String::new(), false),
            };
            return Ok(ContentPart::ToolResult {
                call_id,
                name: Some(name),
                content,
                is_error,
                cache: None,
            });
        }
        if let Some(file) = field(part, "fileData") {
            return Err(file.invalid(
                "file URIs are not supported by this proxy; send the data inline (inlineData)",
            ));
        }
        for unsupported in ["executableCode", "codeExecutionResult"] {
            if let Some(node) = field(part, unsupported) {
                return Err(node.invalid("code execution parts are not supported by this proxy"));
            }
        }
        Err(part.invalid("a part needs one of text, inlineData, functionCall or functionResponse"))
    }

    /// The call id a function response answers: its own, else the earliest unanswered call of
    /// that name, else a fresh one.
    fn answer(&mut self, id: Option<&str>, name: &str) -> String {
        if let Some(id) = id.filter(|id| !id.is_empty()) {
            if let Some(call) = self.calls.iter_mut().find(|c| c.0 == id) {
                call.2 = true;
            }
            return id.to_string();
        }
        match self
            .calls
            .iter_mut()
            .find(|(_, call_name, answered)| call_name == name && !answered)
        {
            Some(call) => {
                call.2 = true;
                call.0.clone()
            }
            None => format!("call_{}_{name}", self.calls.len()),
        }
    }
}

/// A `functionResponse.response` as result text: `{"output": text}` / `{"content": text}` is
/// the text, `{"error": ...}` a failure; anything else its JSON.
fn tool_result(response: &Value) -> (String, bool) {
    let text = |value: &Value| match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    match response.as_object().filter(|o| o.len() == 1) {
        Some(object) => match object.iter().next() {
            Some((key, value)) if key == "error" => (text(value), true),
            Some((key, Value::String(value))) if key == "output" || key == "content" => {
                (value.clone(), false)
            }
            _ => (response.to_string(), false),
        },
        None => (text(response), false),
    }
}

fn read_tool(
    tool: &Object<'_>,
    tools: &mut Vec<ToolDefinition>,
    ignored: &mut Vec<Warning>,
) -> Result<(), Error> {
    for built_in in BUILT_IN_TOOLS {
        if let Some(node) = field(tool, built_in) {
            return Err(node.invalid(
                "built-in tools are not supported by this proxy; only functionDeclarations are",
            ));
        }
    }
    let Some(declarations) = field(tool, "functionDeclarations") else {
        return Ok(());
    };
    for declaration in declarations.array()? {
        let declaration = declaration.object()?;
        let name_node = require(&declaration, "name")?;
        let name = name_node.string()?;
        if name.is_empty() {
            return Err(name_node.invalid("empty string; expected a function name"));
        }
        let parameters = match (
            field(&declaration, "parametersJsonSchema"),
            field(&declaration, "parameters"),
        ) {
            (Some(schema), _) => {
                schema.object()?;
                schema.value().clone()
            }
            (None, Some(schema)) => {
                schema.object()?;
                json_schema_from_openapi(schema.value())
            }
            (None, None) => json!({"type": "object", "properties": {}}),
        };
        for unused in ["response", "responseJsonSchema", "behavior"] {
            if field(&declaration, unused).is_some() {
                warn_once(
                    ignored,
                    not_honoured(
                        format!("tools[].functionDeclarations[].{unused}"),
                        "is not supported by this proxy",
                    ),
                );
            }
        }
        tools.push(ToolDefinition {
            name: name.to_string(),
            description: declaration.opt_string("description")?.map(str::to_string),
            parameters,
            cache: None,
        });
    }
    Ok(())
}

/// Gemini's OpenAPI-subset schema as JSON Schema: lowercase `type` names, `nullable` as a
/// `"null"` type, snake_case keywords in camelCase, Gemini-only `propertyOrdering` dropped.
fn json_schema_from_openapi(schema: &Value) -> Value {
    let Value::Object(fields) = schema else {
        return schema.clone();
    };
    let nullable = fields.get("nullable") == Some(&Value::Bool(true));
    let mut out = Map::new();
    for (key, value) in fields {
        let key = camel_case(key);
        let value = match key.as_str() {
            "nullable" | "propertyOrdering" => continue,
            "type" => match value {
                Value::String(name) => Value::String(name.to_ascii_lowercase()),
                other => other.clone(),
            },
            "properties" => match value {
                Value::Object(properties) => Value::Object(
                    properties
                        .iter()
                        .map(|(name, schema)| (name.clone(), json_schema_from_openapi(schema)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" => json_schema_from_openapi(value),
            "anyOf" => match value {
                Value::Array(options) => {
                    Value::Array(options.iter().map(json_schema_from_openapi).collect())
                }
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key, value);
    }
    if nullable {
        if let Some(Value::String(name)) = out.get("type").cloned() {
            out.insert("type".to_string(), json!([name, "null"]));
        }
    }
    Value::Object(out)
}

fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn tool_choice(
    config: &Object<'_>,
    ignored: &mut Vec<Warning>,
) -> Result<Option<ToolChoice>, Error> {
    if let Some(retrieval) = field(config, "retrievalConfig") {
        ignored.push(not_honoured(
            retrieval.path().to_string(),
            "is not supported by this proxy",
        ));
    }
    let Some(calling) = field(config, "functionCallingConfig") else {
        return Ok(None);
    };
    let calling = calling.object()?;
    let allowed: Vec<String> = match field(&calling, "allowedFunctionNames") {
        Some(names) => names.strings()?,
        None => Vec::new(),
    };
    let mode = match calling.get("mode") {
        Some(mode) => Some((mode.string()?, mode)),
        None => None,
    };
    let restricted = |ignored: &mut Vec<Warning>| {
        if !allowed.is_empty() {
            ignored.push(not_honoured(
                calling.path_of("allowedFunctionNames"),
                "can only name the one function that must be called",
            ));
        }
    };
    Ok(Some(match mode {
        None | Some(("AUTO" | "MODE_UNSPECIFIED", _)) => {
            restricted(ignored);
            ToolChoice::Auto
        }
        Some(("VALIDATED", node)) => {
            ignored.push(not_honoured(
                node.path().to_string(),
                "`VALIDATED` is served as `AUTO`",
            ));
            restricted(ignored);
            ToolChoice::Auto
        }
        Some(("NONE", _)) => ToolChoice::None,
        Some(("ANY", _)) => match allowed.as_slice() {
            [name] => ToolChoice::Tool { name: name.clone() },
            _ => {
                restricted(ignored);
                ToolChoice::Required
            }
        },
        Some((other, node)) => {
            return Err(node.not_one_of(other, &["AUTO", "ANY", "NONE", "VALIDATED"]))
        }
    }))
}

fn generation_config(
    config: &Object<'_>,
    request: &mut Request,
    ignored: &mut Vec<Warning>,
) -> Result<(), Error> {
    request.max_tokens = field(config, "maxOutputTokens")
        .map(|n| n.integer(1))
        .transpose()?;
    request.temperature = field(config, "temperature")
        .map(|n| n.number(0.0, 2.0))
        .transpose()?;
    request.top_p = field(config, "topP")
        .map(|n| n.number(0.0, 1.0))
        .transpose()?;
    request.top_k = field(config, "topK").map(|n| n.integer(0)).transpose()?;
    if let Some(stop) = field(config, "stopSequences") {
        request.stop = stop
            .array()?
            .iter()
            .map(|s| s.string().map(str::to_string))
            .collect::<Result<_, _>>()?;
    }
    if let Some(count) = field(config, "candidateCount") {
        if count.integer(1)? > 1 {
            return Err(count.invalid("only one candidate (candidateCount = 1) is supported"));
        }
    }
    let schema = match (
        field(config, "responseJsonSchema").or_else(|| config.get("_responseJsonSchema")),
        field(config, "responseSchema"),
    ) {
        (Some(schema), _) => {
            schema.object()?;
            Some(schema.value().clone())
        }
        (None, Some(schema)) => {
            schema.object()?;
            Some(json_schema_from_openapi(schema.value()))
        }
        (None, None) => None,
    };
    let mime = field(config, "responseMimeType")
        .map(|node| {
            let mime = node.string()?;
            match mime {
                "text/plain" | "application/json" => Ok(mime),
                other => Err(node.not_one_of(other, &["text/plain", "application/json"])),
            }
        })
        .transpose()?;
    request.response_format = match (mime, schema) {
        (_, Some(schema)) => Some(ResponseFormat::JsonSchema {
            name: "response".to_string(),
            schema,
            strict: true,
        }),
        (Some("application/json"), None) => Some(ResponseFormat::Json),
        (Some(_), None) => Some(ResponseFormat::Text),
        (None, None) => None,
    };
    if let Some(modalities) = field(config, "responseModalities") {
        if modalities.strings()? != ["TEXT"] {
            ignored.push(not_honoured(
                modalities.path().to_string(),
                "only text responses are supported",
            ));
        }
    }
    for name in GENERATION_NOT_HONOURED {
        if let Some(node) = field(config, name) {
            ignored.push(not_honoured(
                node.path().to_string(),
                "is not supported by this proxy",
            ));
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------ encoding

/// A whole `GenerateContentResponse` for `response`. Gemini responses carry no creation time:
/// `created_unix_s` is accepted for symmetry with the other faces.
pub fn encode_response(response: &Response, model_echo: &str, created_unix_s: u64) -> String {
    let _ = created_unix_s;
    let mut calls = 0u32;
    let parts = response
        .content
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text, .. } if text.is_empty() => None,
            ContentPart::Text { text, .. } => Some(PartOut {
                text: Some(text),
                ..PartOut::default()
            }),
            ContentPart::Reasoning { text, signature } => Some(PartOut {
                text: Some(text),
                thought: true,
                thought_signature: signature.as_deref(),
                ..PartOut::default()
            }),
            ContentPart::ToolCall {
                id,
                name,
                arguments,
                signature,
            } => {
                let part = call_part(calls, id, name, arguments, signature.as_deref());
                calls += 1;
                Some(part)
            }
            // Responses hold no images or tool results.
            ContentPart::Image { .. } | ContentPart::ToolResult { .. } => None,
        })
        .collect();
    let out = ResponseOut {
        candidates: [CandidateOut {
            content: ContentOut {
                parts,
                role: "model",
            },
            finish_reason: Some(finish_reason(&response.finish_reason)),
            index: 0,
        }],
        usage_metadata: usage_metadata(&response.usage),
        model_version: model_echo,
        response_id: response.id.as_deref(),
    };
    to_json(&out)
}

/// A function-call part; the id is left out when it is the `call_{n}` name the unified
/// decoder gives Gemini's id-less calls.
fn call_part<'a>(
    n: u32,
    id: &'a str,
    name: &'a str,
    arguments: &'a Value,
    signature: Option<&'a str>,
) -> PartOut<'a> {
    let generated = id.strip_prefix("call_") == Some(n.to_string().as_str());
    PartOut {
        function_call: Some(FunctionCallOut {
            id: (!id.is_empty() && !generated).then_some(id),
            name,
            args: if arguments.is_object() {
                Cow::Borrowed(arguments)
            } else {
                Cow::Owned(json!({}))
            },
        }),
        thought_signature: signature,
        ..PartOut::default()
    }
}

/// The unified finish as a `finishReason`; a Gemini upstream's own value (an uppercase enum
/// name) is kept when it means the same.
fn finish_reason(reason: &FinishReason) -> &str {
    if let Some(raw) = reason.raw.as_deref() {
        let gemini_name =
            !raw.is_empty() && raw.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        let called_tools = reason.unified == FinishKind::ToolCalls;
        if gemini_name && decode_finish_reason(Some(raw), called_tools).unified == reason.unified {
            return raw;
        }
    }
    match reason.unified {
        FinishKind::Stop | FinishKind::ToolCalls | FinishKind::Pause => "STOP",
        FinishKind::Length => "MAX_TOKENS",
        FinishKind::ContentFilter => "SAFETY",
        FinishKind::Other => "OTHER",
    }
}

fn usage_metadata(usage: &Usage) -> Option<UsageMetadataOut> {
    if usage.is_empty() {
        return None;
    }
    let prompt = usage.total_input_tokens();
    let thoughts = usage.reasoning_tokens;
    let candidates = usage
        .output_tokens
        .map(|output| output.saturating_sub(thoughts.unwrap_or(0)));
    let total = [prompt, candidates, thoughts]
        .into_iter()
        .flatten()
        .reduce(|a, b| a + b);
    Some(UsageMetadataOut {
        prompt_token_count: prompt,
        cached_content_token_count: usage.cache_read_tokens,
        candidates_token_count: candidates,
        thoughts_token_count: thoughts,
        total_token_count: total,
    })
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("the wire types serialise infallibly (string keys only)")
}

/// Unified stream events -> `data: {GenerateContentResponse}\r\n\r\n` chunks, as Google frames
/// `alt=sse` streams: one chunk per piece of content, each with the usage known so far, and a
/// last chunk with the `finishReason`. Function calls are sent whole when they end (Gemini
/// never streams arguments). After the end, or after [`StreamEncoder::error`], events are
/// ignored.
#[derive(Debug)]
pub struct StreamEncoder {
    model: String,
    id: String,
    closed: bool,
    usage: Usage,
    /// The usage the last chunk carried.
    sent_usage: Usage,
    /// Function calls sent so far.
    calls: u32,
}

impl StreamEncoder {
    /// `created_unix_s` and `include_usage` are accepted for symmetry: Gemini chunks carry no
    /// time and always carry usage. `id` is the `responseId`; when empty, the upstream's id
    /// from the `Start` event is used (none without one).
    pub fn new(
        model_echo: impl Into<String>,
        created_unix_s: u64,
        include_usage: bool,
        id: impl Into<String>,
    ) -> Self {
        let _ = (created_unix_s, include_usage);
        StreamEncoder {
            model: model_echo.into(),
            id: id.into(),
            closed: false,
            usage: Usage::default(),
            sent_usage: Usage::default(),
            calls: 0,
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
            StreamEvent::TextDelta { text } => {
                if !text.is_empty() {
                    let part = PartOut {
                        text: Some(text),
                        ..PartOut::default()
                    };
                    self.chunk(vec![part], None, out);
                }
            }
            StreamEvent::ReasoningDelta { text } => {
                if !text.is_empty() {
                    let part = PartOut {
                        text: Some(text),
                        thought: true,
                        ..PartOut::default()
                    };
                    self.chunk(vec![part], None, out);
                }
            }
            StreamEvent::ReasoningSignature { signature } => {
                let part = PartOut {
                    text: Some(""),
                    thought: true,
                    thought_signature: Some(signature),
                    ..PartOut::default()
                };
                self.chunk(vec![part], None, out);
            }
            StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallDelta { .. } => {}
            StreamEvent::ToolCallEnd {
                id,
                name,
                arguments,
                signature,
                ..
            } => {
                let part = call_part(self.calls, id, name, arguments, signature.as_deref());
                self.calls += 1;
                self.chunk(vec![part], None, out);
            }
            StreamEvent::Usage { usage } => self.usage.merge(usage),
            StreamEvent::Finish { reason, usage } => {
                self.usage.merge(usage);
                let part = PartOut {
                    text: Some(""),
                    ..PartOut::default()
                };
                self.chunk(vec![part], Some(finish_reason(reason)), out);
                self.closed = true;
            }
        }
    }

    /// Ends the stream with a chunk holding `error` (the `google.rpc.Status` of
    /// [`encode_error`]), so that clients see a failed stream, never a clean end. Usage that
    /// arrived after the last chunk goes out first, in a chunk of its own, so that what was
    /// consumed is known.
    pub fn error(&mut self, error: &Error, out: &mut String) {
        if self.closed {
            return;
        }
        if self.usage != self.sent_usage {
            let part = PartOut {
                text: Some(""),
                ..PartOut::default()
            };
            self.chunk(vec![part], None, out);
        }
        let (_, body) = encode_error(error);
        out.push_str("data: ");
        out.push_str(&body);
        out.push_str("\r\n\r\n");
        self.closed = true;
    }

    fn chunk(&mut self, parts: Vec<PartOut<'_>>, finish_reason: Option<&str>, out: &mut String) {
        self.sent_usage = self.usage;
        let chunk = ResponseOut {
            candidates: [CandidateOut {
                content: ContentOut {
                    parts,
                    role: "model",
                },
                finish_reason,
                index: 0,
            }],
            usage_metadata: usage_metadata(&self.usage),
            model_version: &self.model,
            response_id: (!self.id.is_empty()).then_some(self.id.as_str()),
        };
        out.push_str("data: ");
        out.push_str(&to_json(&chunk));
        out.push_str("\r\n\r\n");
    }
}

// -------------------------------------------------------------------------------- errors

/// The status and `{"error":{"code","message","status"}}` body for `error` (see the module's
/// table), with a `RetryInfo` detail when the wait is known.
pub fn encode_error(error: &Error) -> (u16, String) {
    let (default_code, default_status) = classify(error);
    // Google pairs each status with one code: only Gemini's own pairs are kept.
    let kept = Some(error)
        .filter(|e| e.provider() == Some(Provider::Gemini))
        .and_then(|e| kept_upstream_status(e, Provider::Gemini));
    let (code, status) = match (kept, error.provider_code()) {
        (Some(code), Some(status)) => (code, status),
        _ => (default_code, default_status),
    };
    let details = match error.retry_after() {
        Some(RetryAfter::Millis(ms)) if code == 429 || code == 503 => vec![RetryInfoOut {
            type_url: "type.googleapis.com/google.rpc.RetryInfo",
            retry_delay: duration_text(ms),
        }],
        _ => Vec::new(),
    };
    let message = redact_secrets(error.message());
    let raw_output = error.raw_output().map(redact_secrets);
    let body = ErrorOut {
        error: StatusOut {
            code,
            message: &message,
            status,
            details,
            raw_output: raw_output.as_deref(),
        },
    };
    (code, to_json(&body))
}

fn classify(error: &Error) -> (u16, &'static str) {
    const INTERNAL: (u16, &str) = (500, "INTERNAL");
    const UNAVAILABLE: (u16, &str) = (503, "UNAVAILABLE");
    match error.kind() {
        ErrorKind::InvalidRequest | ErrorKind::ContextLength | ErrorKind::ContentFiltered => {
            (400, "INVALID_ARGUMENT")
        }
        ErrorKind::Authentication if is_upstream_auth_failure(error) => INTERNAL,
        ErrorKind::Authentication => (401, "UNAUTHENTICATED"),
        ErrorKind::Permission => (403, "PERMISSION_DENIED"),
        ErrorKind::NotFound => (404, "NOT_FOUND"),
        ErrorKind::RateLimited | ErrorKind::QuotaExceeded | ErrorKind::BudgetExceeded => {
            (429, "RESOURCE_EXHAUSTED")
        }
        ErrorKind::Overloaded
        | ErrorKind::CircuitOpen
        | ErrorKind::Network
        | ErrorKind::TruncatedStream
        | ErrorKind::InvalidResponse => UNAVAILABLE,
        ErrorKind::ServerError | ErrorKind::Config | ErrorKind::InvalidOutput => INTERNAL,
        ErrorKind::Timeout => (504, "DEADLINE_EXCEEDED"),
        ErrorKind::Cancelled => (499, "CANCELLED"),
    }
}

/// A protobuf Duration in JSON form: `"32s"`, `"1.5s"`.
fn duration_text(ms: u64) -> String {
    let (secs, millis) = (ms / 1000, ms % 1000);
    if millis == 0 {
        return format!("{secs}s");
    }
    let fraction = format!("{millis:03}");
    format!("{secs}.{}s", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_schemas_become_json_schema() {
        let schema = json!({"type": "OBJECT", "propertyOrdering": ["a", "b"],
            "properties": {"a": {"type": "STRING", "nullable": true, "enum": ["X", "y"]},
                           "b": {"type": "ARRAY", "items": {"type": "INTEGER"}, "max_items": 3},
                           "c": {"anyOf": [{"type": "NUMBER"}, {"type": "BOOLEAN"}]}},
            "required": ["a"]});
        assert_eq!(
            json_schema_from_openapi(&schema),
            json!({"type": "object",
                "properties": {"a": {"type": ["string", "null"], "enum": ["X", "y"]},
                               "b": {"type": "array", "items": {"type": "integer"}, "maxItems": 3},
                               "c": {"anyOf": [{"type": "number"}, {"type": "boolean"}]}},
                "required": ["a"]})
        );
    }

    #[test]
    fn durations_in_protobuf_json_form() {
        assert_eq!(duration_text(32_000), "32s");
        assert_eq!(duration_text(1_500), "1.5s");
        assert_eq!(duration_text(250), "0.25s");
    }

    #[test]
    fn function_responses_as_result_text() {
        assert_eq!(
            tool_result(&json!({"output": "18°C"})),
            ("18°C".into(), false)
        );
        assert_eq!(tool_result(&json!({"content": "ok"})), ("ok".into(), false));
        assert_eq!(
            tool_result(&json!({"error": "timeout"})),
            ("timeout".into(), true)
        );
        assert_eq!(
            tool_result(&json!({"error": {"code": 7}})),
            (r#"{"code":7}"#.into(), true)
        );
        assert_eq!(
            tool_result(&json!({"temp": 18, "unit": "C"})),
            (r#"{"temp":18,"unit":"C"}"#.into(), false)
        );
        assert_eq!(tool_result(&json!("plain")), ("plain".into(), false));
    }

    #[test]
    fn paths_name_the_model_and_the_stream() {
        let call = parse_path("/v1beta/models/gemini-2.5-flash:generateContent").unwrap();
        assert_eq!(
            call,
            CallPath {
                model: "gemini-2.5-flash".into(),
                stream: false
            }
        );
        let call =
            parse_path("/v1beta/models/anthropic%2Fclaude-haiku-4-5:streamGenerateContent?alt=sse")
                .unwrap();
        assert_eq!(
            call,
            CallPath {
                model: "anthropic/claude-haiku-4-5".into(),
                stream: true
            }
        );
        let call = parse_path(
            "/gemini/v1beta/models/openai/gpt-4o-mini:streamGenerateContent?key=x&alt=sse",
        )
        .unwrap();
        assert_eq!(call.model, "openai/gpt-4o-mini");
        let err = parse_path("/v1beta/models/gemini-2.5-flash:streamGenerateContent").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.message().contains("alt=sse"), "{err}");
        let err = parse_path("/v1beta/models/gemini-2.5-flash:countTokens").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(
            parse_path("/v1beta/models/:generateContent")
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidRequest
        );
        assert_eq!(
            parse_path("/v1/chat/completions").unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}
