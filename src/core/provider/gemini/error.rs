//! Gemini error bodies (`{"error": google.rpc.Status}`) -> classified [`Error`]s.
//!
//! The `status` string (`RESOURCE_EXHAUSTED`, `INVALID_ARGUMENT`, ...) decides first, refined
//! by the structured details (`QuotaFailure`, `ErrorInfo`) and, where Gemini offers nothing
//! structured, by its documented message wording; the HTTP status decides when the body says
//! nothing usable.
use serde::Deserialize;

use crate::core::error::{Error, ErrorKind, RetryAfter, TimeoutKind};
use crate::core::http::Headers;
use crate::core::model::Provider;

use super::wire::{ErrorBody, ErrorDetail, Status};

/// How many characters of an unreadable body go into the message.
const BODY_SNIPPET_CHARS: usize = 200;

pub fn decode_error(status: u16, headers: &Headers, body: &[u8]) -> Error {
    let request_id = headers.get("x-request-id").map(str::to_string);
    let parsed = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .and_then(ErrorBody::into_status);
    let error = match parsed {
        Some(rpc) => classify(Some(status), &rpc),
        None => unreadable(status, body),
    };
    let error = if error.retry_after().is_none() {
        error.with_retry_after(RetryAfter::from_headers(headers))
    } else {
        error
    };
    error.with_request_id(request_id)
}

/// Classifies a `google.rpc.Status` (from an error answer, or from an error chunk inside a
/// stream, where `http_status` is `None` and its `code` stands in for it).
pub(super) fn classify(http_status: Option<u16>, rpc: &Status) -> Error {
    let status = http_status.or_else(|| {
        rpc.code
            .as_ref()
            .and_then(|c| c.as_u64())
            .and_then(|c| u16::try_from(c).ok())
    });
    let details = Details::read(rpc);
    let message = rpc
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let kind = kind_of(
        status,
        rpc.status.as_deref(),
        &details,
        message.unwrap_or(""),
    );
    let message = match message {
        Some(message) => message.to_string(),
        None => {
            let said: Vec<String> = [status.map(|s| s.to_string()), rpc.status.clone()]
                .into_iter()
                .flatten()
                .collect();
            if said.is_empty() {
                "gemini answered an error without a message".to_string()
            } else {
                format!("gemini answered {} without a message", said.join(" "))
            }
        }
    };
    let mut error = new_error(kind, message).with_provider(Provider::Gemini);
    if let Some(status) = status {
        error = error.with_status(status);
    }
    if let Some(code) = &rpc.status {
        error = error.with_provider_code(code.clone());
    }
    error.with_retry_after(details.retry_delay)
}

/// The prompt itself was blocked (`promptFeedback.blockReason`, no candidates).
pub(super) fn blocked(reason: &str) -> Error {
    Error::new(
        ErrorKind::ContentFiltered,
        format!("gemini blocked the prompt (blockReason {reason})"),
    )
    .with_provider(Provider::Gemini)
    .with_provider_code(reason)
}

/// A body that is not a Gemini error: the status's usual kind and the body's first characters.
fn unreadable(status: u16, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        let mut snippet: String = text.chars().take(BODY_SNIPPET_CHARS).collect();
        if snippet.len() < text.len() {
            snippet.push_str("...");
        }
        format!("HTTP {status}: {snippet}")
    };
    new_error(ErrorKind::from_status(status), message)
        .with_provider(Provider::Gemini)
        .with_status(status)
}

/// An error of `kind`; a timeout reported by the provider is an upstream timeout.
fn new_error(kind: ErrorKind, message: String) -> Error {
    if kind == ErrorKind::Timeout {
        Error::timeout(TimeoutKind::Upstream, message)
    } else {
        Error::new(kind, message)
    }
}

/// What the `details` of a status say that matters here.
#[derive(Debug, Default)]
struct Details {
    retry_delay: Option<RetryAfter>,
    /// `ErrorInfo.reason`s, e.g. `API_KEY_INVALID`.
    reasons: Vec<String>,
    /// A `QuotaFailure` violation names a per-day quota.
    daily_quota: bool,
}

impl Details {
    fn read(rpc: &Status) -> Details {
        let mut details = Details::default();
        let parsed = rpc
            .details
            .iter()
            .filter_map(|d| ErrorDetail::deserialize(d).ok());
        for detail in parsed {
            let kind = detail.type_url.rsplit('/').next().unwrap_or_default();
            match kind {
                "google.rpc.RetryInfo" => {
                    let delay = detail.retry_delay.as_deref();
                    details.retry_delay = details
                        .retry_delay
                        .or_else(|| delay.and_then(RetryAfter::from_duration_str));
                }
                "google.rpc.QuotaFailure" => {
                    details.daily_quota |= detail.violations.iter().any(|v| {
                        [&v.quota_id, &v.quota_metric]
                            .into_iter()
                            .flatten()
                            .any(|name| names_a_day(&name.to_ascii_lowercase()))
                    });
                }
                "google.rpc.ErrorInfo" => details.reasons.extend(detail.reason),
                _ => {}
            }
        }
        details
    }
}

fn kind_of(
    http_status: Option<u16>,
    rpc_status: Option<&str>,
    details: &Details,
    message: &str,
) -> ErrorKind {
    if details.reasons.iter().any(|r| r == "API_KEY_INVALID") {
        return ErrorKind::Authentication;
    }
    let lower = message.to_ascii_lowercase();
    match rpc_status {
        Some("RESOURCE_EXHAUSTED") => {
            if details.daily_quota || is_exhausted_until_someone_acts(&lower) {
                ErrorKind::QuotaExceeded
            } else {
                ErrorKind::RateLimited
            }
        }
        Some("INVALID_ARGUMENT") => {
            if lower.contains("token count") && lower.contains("exceeds the maximum") {
                ErrorKind::ContextLength
            } else {
                ErrorKind::InvalidRequest
            }
        }
        Some("FAILED_PRECONDITION") => {
            if lower.contains("billing") {
                ErrorKind::QuotaExceeded
            } else {
                ErrorKind::InvalidRequest
            }
        }
        Some("UNAUTHENTICATED") => ErrorKind::Authentication,
        Some("PERMISSION_DENIED") => ErrorKind::Permission,
        Some("NOT_FOUND") => ErrorKind::NotFound,
        Some("INTERNAL" | "UNKNOWN") => ErrorKind::ServerError,
        Some("UNAVAILABLE") => ErrorKind::Overloaded,
        Some("DEADLINE_EXCEEDED") => ErrorKind::Timeout,
        _ => http_status.map_or(ErrorKind::ServerError, ErrorKind::from_status),
    }
}

/// A quota or metric name (lowercased) that counts per day, e.g.
/// `GenerateRequestsPerDayPerProjectPerModel-FreeTier`.
fn names_a_day(name: &str) -> bool {
    name.contains("perday") || name.contains("per_day") || name.contains("per day")
}

/// A `RESOURCE_EXHAUSTED` message (lowercased) saying that waiting seconds will not help: a
/// daily quota, a spending cap, or prepaid credits used up. Every free-tier 429 mentions "quota"
/// and "billing details", so those words alone do not count.
fn is_exhausted_until_someone_acts(message: &str) -> bool {
    let daily =
        names_a_day(message) || message.contains("daily") || message.contains("for the day");
    let quota =
        message.contains("quota") || message.contains("billing") || message.contains("limit");
    (daily && quota)
        || message.contains("spending cap")
        || message.contains("spend cap")
        || message.contains("credits are depleted")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_for(status: u16, body: serde_json::Value) -> Error {
        decode_error(status, &Headers::new(), body.to_string().as_bytes())
    }

    fn rpc(
        code: u16,
        status: &str,
        message: &str,
        details: serde_json::Value,
    ) -> serde_json::Value {
        json!({"error": {"code": code, "status": status, "message": message, "details": details}})
    }

    #[test]
    fn status_strings_map_to_kinds() {
        for (code, status, kind) in [
            (429, "RESOURCE_EXHAUSTED", ErrorKind::RateLimited),
            (400, "INVALID_ARGUMENT", ErrorKind::InvalidRequest),
            (400, "FAILED_PRECONDITION", ErrorKind::InvalidRequest),
            (401, "UNAUTHENTICATED", ErrorKind::Authentication),
            (403, "PERMISSION_DENIED", ErrorKind::Permission),
            (404, "NOT_FOUND", ErrorKind::NotFound),
            (500, "INTERNAL", ErrorKind::ServerError),
            (500, "UNKNOWN", ErrorKind::ServerError),
            (503, "UNAVAILABLE", ErrorKind::Overloaded),
            (504, "DEADLINE_EXCEEDED", ErrorKind::Timeout),
        ] {
            let e = error_for(code, rpc(code, status, "m", json!([])));
            assert_eq!(e.kind(), kind, "{status}");
            assert_eq!(e.provider_code(), Some(status));
            assert_eq!(e.status(), Some(code));
            assert_eq!(e.provider(), Some(Provider::Gemini));
        }
    }

    #[test]
    fn the_status_string_wins_over_the_http_status() {
        // A 500 whose body says UNAVAILABLE is an overload, not a generic server error.
        let e = error_for(
            500,
            rpc(503, "UNAVAILABLE", "The model is overloaded.", json!([])),
        );
        assert_eq!(e.kind(), ErrorKind::Overloaded);
        assert_eq!(e.status(), Some(500));
    }

    #[test]
    fn upstream_deadline_is_an_upstream_timeout() {
        let e = error_for(
            504,
            rpc(
                504,
                "DEADLINE_EXCEEDED",
                "Deadline expired before operation could complete.",
                json!([]),
            ),
        );
        assert_eq!(e.timeout_kind(), Some(TimeoutKind::Upstream));
        // And from the HTTP status alone.
        let e = decode_error(504, &Headers::new(), b"<html>gateway timeout</html>");
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(e.timeout_kind(), Some(TimeoutKind::Upstream));
    }

    #[test]
    fn api_key_invalid_is_authentication() {
        let details = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]);
        let e = error_for(
            400,
            rpc(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                details,
            ),
        );
        assert_eq!(e.kind(), ErrorKind::Authentication);
        assert_eq!(e.provider_code(), Some("INVALID_ARGUMENT"));
    }

    #[test]
    fn input_token_count_over_the_maximum_is_context_length() {
        let e = error_for(
            400,
            rpc(400, "INVALID_ARGUMENT", "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).", json!([])),
        );
        assert_eq!(e.kind(), ErrorKind::ContextLength);
    }

    #[test]
    fn billing_precondition_is_quota() {
        let e = error_for(
            400,
            rpc(400, "FAILED_PRECONDITION", "Gemini API free tier is not available in your country. Please enable billing on your project in Google AI Studio.", json!([])),
        );
        assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
        let e = error_for(
            400,
            rpc(
                400,
                "FAILED_PRECONDITION",
                "User location is not supported for the API use.",
                json!([]),
            ),
        );
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn per_day_quota_from_details_or_message() {
        let violation = |id: &str| json!([{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": id}]}]);
        let msg = "You exceeded your current quota, please check your plan and billing details.";
        let e = error_for(
            429,
            rpc(
                429,
                "RESOURCE_EXHAUSTED",
                msg,
                violation("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
            ),
        );
        assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
        let e = error_for(
            429,
            rpc(
                429,
                "RESOURCE_EXHAUSTED",
                msg,
                violation("GenerateRequestsPerMinutePerProjectPerModel-FreeTier"),
            ),
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        let e = error_for(
            429,
            rpc(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for quota metric 'Generate Content API requests per day'.",
                json!([]),
            ),
        );
        assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
        let e = error_for(
            429,
            rpc(
                429,
                "RESOURCE_EXHAUSTED",
                "Your project has exceeded its spending cap.",
                json!([]),
            ),
        );
        assert_eq!(e.kind(), ErrorKind::QuotaExceeded);
        let e = error_for(
            429,
            rpc(
                429,
                "RESOURCE_EXHAUSTED",
                "Resource has been exhausted (e.g. check quota).",
                json!([]),
            ),
        );
        assert_eq!(e.kind(), ErrorKind::RateLimited);
    }

    #[test]
    fn retry_delay_beats_headers_and_headers_are_the_fallback() {
        let headers: Headers = [("retry-after", "7")].into_iter().collect();
        let details =
            json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "32s"}]);
        let body = rpc(429, "RESOURCE_EXHAUSTED", "m", details).to_string();
        let e = decode_error(429, &headers, body.as_bytes());
        assert_eq!(e.retry_after(), Some(RetryAfter::Millis(32_000)));
        let body = rpc(429, "RESOURCE_EXHAUSTED", "m", json!([])).to_string();
        let e = decode_error(429, &headers, body.as_bytes());
        assert_eq!(e.retry_after(), Some(RetryAfter::Millis(7_000)));
    }

    #[test]
    fn odd_details_are_skipped_not_fatal() {
        let details = json!([42, "x", {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": 5}, {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}]);
        let e = error_for(429, rpc(429, "RESOURCE_EXHAUSTED", "slow down", details));
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.message(), "slow down");
        assert_eq!(e.retry_after(), Some(RetryAfter::Millis(2_000)));
    }

    #[test]
    fn array_bodies_are_read_too() {
        let body = json!([{"error": {"code": 404, "message": "models/nope is not found", "status": "NOT_FOUND"}}]);
        let e = error_for(404, body);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.message(), "models/nope is not found");
    }

    #[test]
    fn unreadable_bodies_keep_status_kind_and_a_bounded_snippet() {
        let body = format!("<html>{}</html>", "x".repeat(500));
        let headers: Headers = [("x-request-id", "abc"), ("retry-after", "3")]
            .into_iter()
            .collect();
        let e = decode_error(502, &headers, body.as_bytes());
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert_eq!(e.status(), Some(502));
        assert_eq!(e.provider_code(), None);
        assert_eq!(e.request_id(), Some("abc"));
        assert_eq!(e.retry_after(), Some(RetryAfter::Millis(3_000)));
        assert!(
            e.message().starts_with("HTTP 502: <html>xxx"),
            "{}",
            e.message()
        );
        assert_eq!(e.message().len(), "HTTP 502: ".len() + 200 + "...".len());
        let e = decode_error(429, &Headers::new(), b"");
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(e.message(), "HTTP 429 with an empty body");
        let e = decode_error(400, &Headers::new(), &[0xff, 0xfe, b'{']);
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn a_body_without_status_string_falls_back_to_the_http_status() {
        let e = error_for(403, json!({"error": {"code": 403, "message": "nope"}}));
        assert_eq!(e.kind(), ErrorKind::Permission);
        assert_eq!(e.provider_code(), None);
        let e = error_for(503, json!({"error": {}}));
        assert_eq!(e.kind(), ErrorKind::Overloaded);
        assert_eq!(e.message(), "gemini answered 503 without a message");
    }

    #[test]
    fn in_stream_errors_take_their_status_from_the_code() {
        let status: Status = serde_json::from_value(json!({"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"})).unwrap();
        let e = classify(None, &status);
        assert_eq!(e.kind(), ErrorKind::Overloaded);
        assert_eq!(e.status(), Some(503));
        let status: Status = serde_json::from_value(json!({"message": "boom"})).unwrap();
        let e = classify(None, &status);
        assert_eq!(e.kind(), ErrorKind::ServerError);
        assert_eq!(e.status(), None);
    }
}
