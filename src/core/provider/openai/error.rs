//! OpenAI error answers -> classified [`Error`]s.
//!
//! The body is `{"error":{"message","type","param","code"}}`. The kind comes from the error's
//! `code`, then its `type`, then the HTTP status; the provider code kept on the error is `code`
//! when present, else `type`. The same classification serves error objects found inside a
//! stream (or in a 2xx body of a compatible server), where there is no status to fall back on.
use serde_json::Value;

use super::wire::{ApiError, ErrorEnvelope};
use crate::core::error::{Error, ErrorKind, RetryAfter, TimeoutKind};
use crate::core::http::Headers;
use crate::core::model::Provider;

/// How much of an unreadable body goes into the message.
const BODY_EXCERPT_CHARS: usize = 200;

/// Classifies an error answer. Never fails and never panics.
pub fn decode_error(status: u16, headers: &Headers, body: &[u8]) -> Error {
    let parsed = serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .and_then(|envelope| envelope.error)
        .map(|error| api_error(&error));
    let error = match parsed {
        Some(api) => from_api_error(&api, Some(status)),
        None => {
            let kind = ErrorKind::from_status(status);
            new_error(kind, unreadable_message(status, body))
        }
    };
    error
        .with_status(status)
        .with_request_id(request_id(headers))
        .with_retry_after(RetryAfter::from_headers(headers))
        .with_provider(Provider::OpenAi)
}

/// The `x-request-id` header.
pub(super) fn request_id(headers: &Headers) -> Option<String> {
    headers.get("x-request-id").map(str::to_string)
}

/// Classifies the value of an `"error"` field met where no HTTP status applies (inside a
/// stream, or in a 2xx body). Provider is set; status, request id and usage are the caller's.
pub fn from_error_value(error: &Value) -> Error {
    from_api_error(&api_error(error), None).with_provider(Provider::OpenAi)
}

/// The `"error"` value as an [`ApiError`]: an object normally, a bare string on some servers.
fn api_error(error: &Value) -> ApiError {
    match error {
        Value::String(message) => ApiError {
            message: Some(message.clone()),
            ..ApiError::default()
        },
        other => serde_json::from_value(other.clone()).unwrap_or_default(),
    }
}

fn from_api_error(api: &ApiError, status: Option<u16>) -> Error {
    let code = api.code.as_ref().and_then(|code| match code {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let kind_name = api.kind.as_deref().filter(|t| !t.is_empty());
    let kind = classify(code.as_deref(), kind_name, status);
    let message = match api.message.as_deref().map(str::trim) {
        Some(message) if !message.is_empty() => message.to_string(),
        _ => match (code.as_deref().or(kind_name), status) {
            (Some(code), _) => format!("OpenAI returned the error `{code}` without a message"),
            (None, Some(status)) => {
                format!("HTTP {status}: OpenAI returned an error without a message")
            }
            (None, None) => "OpenAI returned an error without a message".to_string(),
        },
    };
    let mut error = new_error(kind, message);
    if let Some(provider_code) = code.as_deref().or(kind_name) {
        error = error.with_provider_code(provider_code);
    }
    error
}

/// An error of `kind`; a timeout the provider reported is an upstream one.
fn new_error(kind: ErrorKind, message: String) -> Error {
    match kind {
        ErrorKind::Timeout => Error::timeout(TimeoutKind::Upstream, message),
        kind => Error::new(kind, message),
    }
}

/// What an error code or type means, when it says more than the status.
fn kind_of_code(name: &str) -> Option<ErrorKind> {
    Some(match name {
        "insufficient_quota" | "billing_hard_limit_reached" | "billing_not_active" => {
            ErrorKind::QuotaExceeded
        }
        "rate_limit_exceeded" => ErrorKind::RateLimited,
        "context_length_exceeded" => ErrorKind::ContextLength,
        "content_filter" | "content_policy_violation" => ErrorKind::ContentFiltered,
        "model_not_found" => ErrorKind::NotFound,
        "invalid_api_key" => ErrorKind::Authentication,
        "server_error" => ErrorKind::ServerError,
        _ => return None,
    })
}

/// By `code`, then `type`, then status. Without a status (in a stream), a few generic types
/// still say something; anything else there is taken for a server-side failure.
fn classify(code: Option<&str>, kind: Option<&str>, status: Option<u16>) -> ErrorKind {
    let by_name = code
        .and_then(kind_of_code)
        .or_else(|| kind.and_then(kind_of_code));
    match (by_name, status) {
        // `server_error` is generic: a 503 (overloaded) or 504 (timeout) says more.
        (Some(ErrorKind::ServerError), Some(status)) => match ErrorKind::from_status(status) {
            more @ (ErrorKind::Overloaded | ErrorKind::Timeout) => more,
            _ => ErrorKind::ServerError,
        },
        (Some(kind), _) => kind,
        (None, Some(status)) => ErrorKind::from_status(status),
        (None, None) => match kind {
            Some("invalid_request_error") => ErrorKind::InvalidRequest,
            Some("requests" | "tokens") => ErrorKind::RateLimited,
            _ => ErrorKind::ServerError,
        },
    }
}

/// A message for a body that is not an OpenAI error object: the status and the body's start.
fn unreadable_message(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return format!("HTTP {status} with an empty body");
    }
    let excerpt: String = text.chars().take(BODY_EXCERPT_CHARS).collect();
    let ellipsis = if text.chars().nth(BODY_EXCERPT_CHARS).is_some() {
        "..."
    } else {
        ""
    };
    format!("HTTP {status} with a body that is not an OpenAI error: {excerpt}{ellipsis}")
}
