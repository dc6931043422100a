//! A whole `chat.completion` -> unified [`Response`], plus the mappings the stream decoder
//! shares (usage, finish reason, tool arguments, text parts).
use serde_json::Value;

use super::error::{from_error_value, request_id};
use super::wire::{ChatCompletion, WireUsage};
use crate::core::error::{Error, ErrorKind};
use crate::core::http::HttpResponse;
use crate::core::model::{ContentPart, FinishKind, FinishReason, Provider, Response, Usage};

/// Decodes a 2xx answer of `POST /v1/chat/completions`.
pub fn decode(response: &HttpResponse) -> Result<Response, Error> {
    let request_id = request_id(&response.headers);
    let fail = |error: Error| {
        error
            .with_provider(Provider::OpenAi)
            .with_status(response.status)
            .with_request_id(request_id.clone())
    };
    let body: ChatCompletion = serde_json::from_slice(&response.body).map_err(|e| {
        fail(Error::new(
            ErrorKind::InvalidResponse,
            format!("the response is not a chat completion: {e}"),
        ))
    })?;
    if body.choices.is_empty() {
        return Err(fail(match &body.error {
            Some(error) => from_error_value(error),
            None => Error::new(ErrorKind::InvalidResponse, "the response has no choices"),
        }));
    }
    let mut choices = body.choices;
    let at = choices
        .iter()
        .position(|c| c.index.unwrap_or(0) == 0)
        .unwrap_or(0);
    let choice = choices.swap_remove(at);
    let message = choice.message.unwrap_or_default();

    let mut content = Vec::new();
    if let Some(reasoning) = message.reasoning_content.filter(|r| !r.is_empty()) {
        content.push(ContentPart::Reasoning {
            text: reasoning,
            signature: None,
        });
    }
    if let Some(text) = message.content.map(|c| c.text()) {
        push_text(&mut content, &text);
    }
    let refusal = message.refusal.filter(|r| !r.is_empty());
    if let Some(refusal) = &refusal {
        push_text(&mut content, refusal);
    }
    for call in message.tool_calls {
        let function = call.function.unwrap_or_default();
        let name = function.name.filter(|n| !n.is_empty()).ok_or_else(|| {
            fail(Error::new(
                ErrorKind::InvalidResponse,
                "a tool call in the response has no function name",
            ))
        })?;
        let arguments = match function.arguments {
            Some(Value::String(text)) => parse_arguments(&name, &text).map_err(fail)?,
            Some(Value::Null) | None => empty_arguments(),
            Some(value) => value,
        };
        content.push(ContentPart::ToolCall {
            id: call.id.unwrap_or_default(),
            name,
            arguments,
            signature: None,
        });
    }

    Ok(Response {
        id: body.id.filter(|id| !id.is_empty()),
        provider: Provider::OpenAi,
        model: body.model.unwrap_or_default(),
        content,
        finish_reason: finish_reason(choice.finish_reason.as_deref(), refusal.is_some()),
        usage: body.usage.as_ref().map(map_usage).unwrap_or_default(),
        request_id,
        warnings: Vec::new(),
    })
}

/// OpenAI's usage in unified terms: `prompt_tokens` includes the cached tokens, so they are
/// subtracted; `completion_tokens` already includes reasoning. OpenAI neither reports nor bills
/// cache writes, so those stay `None`.
pub(super) fn map_usage(usage: &WireUsage) -> Usage {
    let cached = usage.prompt_tokens_details.and_then(|d| d.cached_tokens);
    Usage {
        input_tokens: usage
            .prompt_tokens
            .map(|prompt| prompt.saturating_sub(cached.unwrap_or(0))),
        cache_read_tokens: cached,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        output_tokens: usage.completion_tokens,
        reasoning_tokens: usage
            .completion_tokens_details
            .and_then(|d| d.reasoning_tokens),
    }
}

/// Maps `finish_reason`; a refusal makes it `ContentFilter` whatever the raw value (`stop`).
pub(super) fn finish_reason(raw: Option<&str>, refused: bool) -> FinishReason {
    let unified = match raw {
        _ if refused => FinishKind::ContentFilter,
        Some("stop") => FinishKind::Stop,
        Some("length") => FinishKind::Length,
        Some("tool_calls" | "function_call") => FinishKind::ToolCalls,
        Some("content_filter") => FinishKind::ContentFilter,
        _ => FinishKind::Other,
    };
    FinishReason {
        unified,
        raw: raw.map(str::to_string),
    }
}

/// Parses a tool call's arguments; an empty string means no arguments (`{}`).
pub(super) fn parse_arguments(name: &str, text: &str) -> Result<Value, Error> {
    if text.trim().is_empty() {
        return Ok(empty_arguments());
    }
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidResponse,
            format!("the arguments of the call to tool `{name}` are not valid JSON: {e}"),
        )
        .with_provider(Provider::OpenAi)
    })
}

fn empty_arguments() -> Value {
    Value::Object(Default::default())
}

/// Appends text the way the stream assembler does: onto a text part that is last, else as a
/// new part. Empty text adds nothing.
fn push_text(content: &mut Vec<ContentPart>, text: &str) {
    if text.is_empty() {
        return;
    }
    match content.last_mut() {
        Some(ContentPart::Text { text: last, .. }) => last.push_str(text),
        _ => content.push(ContentPart::text(text)),
    }
}
