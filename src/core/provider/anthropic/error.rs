//! Anthropic error answers -> classified [`Error`]s.
//!
//! The body is `{"type":"error","error":{"type":T,"message":M},"request_id":"req_..."}`; the
//! error type decides the kind (with two refinements read from the message: a prompt that is
//! too long is a context-length error, and a spend or credit limit is a quota error, not a
//! transient rate limit). Without a readable body the HTTP status decides.
use super::wire::{ErrorBody, ErrorDetail};
use super::REQUEST_ID_HEADER;
use crate::core::error::{Error, ErrorKind, RetryAfter, TimeoutKind};
use crate::core::http::Headers;
use crate::core::model::Provider;

/// How much of an unreadable body goes into the error message.
const BODY_SNIPPET_CHARS: usize = 200;

/// Classifies an error answer. Never panics and never fails.
pub fn decode_error(status: u16, headers: &Headers, body: &[u8]) -> Error {
    let header_request_id = headers.get(REQUEST_ID_HEADER).map(str::to_string);
    let retry_after = RetryAfter::from_headers(headers);
    let parsed = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(|b| b.error.map(|e| (e, b.request_id)));
    let error = match parsed {
        Some((detail, body_request_id)) => from_detail(&detail, Some(status))
            .with_request_id(header_request_id.or(body_request_id)),
        None => Error::new(
            ErrorKind::from_status(status),
            unreadable_message(status, body),
        )
        .with_request_id(header_request_id),
    };
    error
        .with_provider(Provider::Anthropic)
        .with_status(status)
        .with_retry_after(retry_after)
}

/// Classifies an error envelope met without an HTTP status (the `error` of a Message Batches
/// `errored` result): `None` if `envelope` has no `error` object.
pub fn decode_error_envelope(envelope: &serde_json::Value) -> Option<Error> {
    let body: ErrorBody = serde::Deserialize::deserialize(envelope).ok()?;
    Some(from_detail(&body.error?, None).with_request_id(body.request_id))
}

/// Classifies an error object, from an error answer (`status` known) or from an `error` event
/// inside a stream (`status` `None`: the HTTP status was 200). Sets kind, message, provider and
/// provider code; the caller adds status, request id, retry-after and usage.
pub(super) fn from_detail(detail: &ErrorDetail, status: Option<u16>) -> Error {
    let kind_name = detail.kind.as_deref().unwrap_or("");
    let message = detail.message.as_deref().unwrap_or("").trim();
    let kind = classify(kind_name, message, status);
    let message = if message.is_empty() {
        match (kind_name, status) {
            ("", Some(status)) => format!("HTTP {status} without an error message"),
            ("", None) => "error event without an error message".to_string(),
            (name, _) => name.to_string(),
        }
    } else {
        message.to_string()
    };
    let error = match kind {
        ErrorKind::Timeout => Error::timeout(TimeoutKind::Upstream, message),
        kind => Error::new(kind, message),
    };
    let error = error.with_provider(Provider::Anthropic);
    match detail.kind.as_deref() {
        Some(code) if !code.is_empty() => error.with_provider_code(code),
        _ => error,
    }
}

fn classify(kind_name: &str, message: &str, status: Option<u16>) -> ErrorKind {
    match kind_name {
        "invalid_request_error" if is_context_length(message) => ErrorKind::ContextLength,
        "invalid_request_error" | "rate_limit_error" if is_spend_limit(kind_name, message) => {
            ErrorKind::QuotaExceeded
        }
        "invalid_request_error" => ErrorKind::InvalidRequest,
        "authentication_error" => ErrorKind::Authentication,
        "billing_error" => ErrorKind::QuotaExceeded,
        "permission_error" => ErrorKind::Permission,
        "not_found_error" => ErrorKind::NotFound,
        "request_too_large" => ErrorKind::InvalidRequest,
        "rate_limit_error" => ErrorKind::RateLimited,
        "api_error" => ErrorKind::ServerError,
        "overloaded_error" => ErrorKind::Overloaded,
        "timeout_error" => ErrorKind::Timeout,
        _ if is_spend_limit(kind_name, message) => ErrorKind::QuotaExceeded,
        // An unknown type: the status decides; an unknown error inside a 200 stream is
        // treated as a server-side failure.
        _ => status.map_or(ErrorKind::ServerError, ErrorKind::from_status),
    }
}

/// "prompt is too long: 210000 tokens > 200000 maximum", or the variant that counts
/// `max_tokens` in ("input length and `max_tokens` exceed context limit: ...").
fn is_context_length(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    message.contains("prompt is too long")
        || message.contains("exceed context limit")
        || message.contains("context window")
}

/// A spend cap, usage limit or exhausted credit: retrying will not help until someone acts.
fn is_spend_limit(kind_name: &str, message: &str) -> bool {
    const MARKER: &str = "enforced_spend_limit_reached";
    let message = message.to_ascii_lowercase();
    kind_name.contains(MARKER)
        || message.contains(MARKER)
        || message.contains("spend limit")
        || message.contains("spending limit")
        || message.contains("usage limit")
        || message.contains("credit balance")
}

fn unreadable_message(status: u16, body: &[u8]) -> String {
    match snippet(body) {
        None => format!("HTTP {status} with an empty body"),
        Some(snippet) => format!("HTTP {status} with an unreadable error body: {snippet}"),
    }
}

/// The first [`BODY_SNIPPET_CHARS`] characters of a body (with `...` when cut), `None` when
/// the body is empty or blank.
pub(super) fn snippet(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut snippet: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
    if text.chars().nth(BODY_SNIPPET_CHARS).is_some() {
        snippet.push_str("...");
    }
    Some(snippet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(kind: &str, message: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "type": "error",
            "error": { "type": kind, "message": message },
            "request_id": "req_011CUbody"
        }))
        .unwrap()
    }

    fn kind_of(status: u16, kind: &str, message: &str) -> ErrorKind {
        decode_error(status, &Headers::new(), &body(kind, message)).kind()
    }

    #[test]
    fn each_error_type_maps_to_its_kind() {
        for (status, kind, expected) in [
            (400, "invalid_request_error", ErrorKind::InvalidRequest),
            (401, "authentication_error", ErrorKind::Authentication),
            (402, "billing_error", ErrorKind::QuotaExceeded),
            (403, "permission_error", ErrorKind::Permission),
            (404, "not_found_error", ErrorKind::NotFound),
            (413, "request_too_large", ErrorKind::InvalidRequest),
            (429, "rate_limit_error", ErrorKind::RateLimited),
            (500, "api_error", ErrorKind::ServerError),
            (529, "overloaded_error", ErrorKind::Overloaded),
            (504, "timeout_error", ErrorKind::Timeout),
        ] {
            assert_eq!(
                kind_of(status, kind, "something went wrong"),
                expected,
                "{kind}"
            );
        }
    }

    #[test]
    fn the_type_wins_over_the_status() {
        // A proxy answering 500 with an overloaded body is still overloaded.
        assert_eq!(
            kind_of(500, "overloaded_error", "Overloaded"),
            ErrorKind::Overloaded
        );
        assert_eq!(
            kind_of(400, "rate_limit_error", "slow down"),
            ErrorKind::RateLimited
        );
    }

    #[test]
    fn unknown_types_fall_back_to_the_status() {
        assert_eq!(kind_of(503, "brand_new_error", "x"), ErrorKind::Overloaded);
        assert_eq!(
            kind_of(418, "brand_new_error", "x"),
            ErrorKind::InvalidResponse
        );
        let error = decode_error(409, &Headers::new(), &body("conflict_error", "x"));
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert_eq!(error.provider_code(), Some("conflict_error"));
    }

    #[test]
    fn timeouts_are_upstream_timeouts() {
        let error = decode_error(
            504,
            &Headers::new(),
            &body("timeout_error", "Request timed out"),
        );
        assert_eq!(error.kind(), ErrorKind::Timeout);
        assert_eq!(error.timeout_kind(), Some(TimeoutKind::Upstream));
        assert!(error.is_retryable());
    }

    #[test]
    fn prompt_too_long_is_a_context_length_error() {
        for message in [
            "prompt is too long: 210000 tokens > 200000 maximum",
            "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, \
             decrease input length or `max_tokens` and try again",
        ] {
            assert_eq!(
                kind_of(400, "invalid_request_error", message),
                ErrorKind::ContextLength
            );
        }
        assert_eq!(
            kind_of(
                400,
                "invalid_request_error",
                "messages: text content blocks must be non-empty"
            ),
            ErrorKind::InvalidRequest
        );
    }

    #[test]
    fn spend_limits_and_credit_are_quota_not_rate_limits() {
        for (status, kind, message) in [
            (429, "rate_limit_error", "enforced_spend_limit_reached"),
            (
                429,
                "rate_limit_error",
                "Your organization reached its monthly spend limit.",
            ),
            (
                429,
                "rate_limit_error",
                "You have reached your specified API usage limits. You will regain access on \
                 2026-02-01 at 00:00 UTC.",
            ),
            (
                400,
                "invalid_request_error",
                "Your credit balance is too low to access the Anthropic API. Please go to Plans \
                 & Billing to upgrade or purchase credits.",
            ),
            (429, "enforced_spend_limit_reached", "Spend limit reached"),
        ] {
            let error = decode_error(status, &Headers::new(), &body(kind, message));
            assert_eq!(error.kind(), ErrorKind::QuotaExceeded, "{message}");
            assert!(!error.is_retryable());
        }
        assert_eq!(
            kind_of(
                429,
                "rate_limit_error",
                "This request would exceed the rate limit for your organization of 50,000 \
                 input tokens per minute."
            ),
            ErrorKind::RateLimited
        );
    }

    #[test]
    fn request_id_prefers_the_header_then_the_body() {
        let headers: Headers = [("Request-Id", "req_011CUheader")].into_iter().collect();
        let error = decode_error(400, &headers, &body("invalid_request_error", "bad"));
        assert_eq!(error.request_id(), Some("req_011CUheader"));
        let error = decode_error(400, &Headers::new(), &body("invalid_request_error", "bad"));
        assert_eq!(error.request_id(), Some("req_011CUbody"));
    }

    #[test]
    fn unreadable_bodies_keep_the_status_kind_and_a_bounded_snippet() {
        let html = format!("<html><body>{}</body></html>", "x".repeat(500));
        let headers: Headers = [
            ("request-id", "req_1"),
            ("retry-after", "3"),
            ("x-secret", "s3cr3t"),
        ]
        .into_iter()
        .collect();
        let error = decode_error(502, &headers, html.as_bytes());
        assert_eq!(error.kind(), ErrorKind::ServerError);
        assert_eq!(error.status(), Some(502));
        assert_eq!(error.provider(), Some(Provider::Anthropic));
        assert_eq!(error.request_id(), Some("req_1"));
        assert_eq!(error.retry_after(), Some(RetryAfter::Millis(3000)));
        assert_eq!(error.provider_code(), None);
        let snippet: String = html.chars().take(200).collect();
        assert_eq!(
            error.message(),
            format!("HTTP 502 with an unreadable error body: {snippet}...")
        );
        assert!(!error.message().contains("s3cr3t"));

        let error = decode_error(529, &Headers::new(), b"");
        assert_eq!(error.kind(), ErrorKind::Overloaded);
        assert_eq!(error.message(), "HTTP 529 with an empty body");

        // Valid JSON without an error object, and invalid UTF-8, are unreadable too.
        let error = decode_error(401, &Headers::new(), br#"{"detail":"nope"}"#);
        assert_eq!(error.kind(), ErrorKind::Authentication);
        let error = decode_error(500, &Headers::new(), &[0xff, 0xfe, b'x']);
        assert_eq!(error.kind(), ErrorKind::ServerError);
    }

    #[test]
    fn errors_always_name_the_provider() {
        assert_eq!(
            decode_error(500, &Headers::new(), b"oops").provider(),
            Some(Provider::Anthropic)
        );
        assert_eq!(
            decode_error(500, &Headers::new(), &body("api_error", "x")).provider(),
            Some(Provider::Anthropic)
        );
    }

    #[test]
    fn a_missing_message_is_replaced_by_the_type() {
        let error = decode_error(
            529,
            &Headers::new(),
            br#"{"type":"error","error":{"type":"overloaded_error"}}"#,
        );
        assert_eq!(error.kind(), ErrorKind::Overloaded);
        assert_eq!(error.message(), "overloaded_error");
    }
}
