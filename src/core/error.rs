//! One error type for everything that can go wrong, classified so that policies (retry,
//! fallback, breaker) and callers decide from the kind, never from message text.
use serde::{Deserialize, Serialize};

use super::http::Headers;
use super::model::{Provider, Usage};
use super::policy::Attempt;
use super::sse::SseError;

/// What went wrong, in categories a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A transient rate limit (429); retry after the server's wait.
    RateLimited,
    /// A quota, billing or spend-cap limit: retrying will not help until someone acts.
    QuotaExceeded,
    /// The provider is overloaded (Anthropic 529 `overloaded_error`, 503 `UNAVAILABLE`).
    Overloaded,
    /// Any other 5xx.
    ServerError,
    /// The request never got an HTTP answer (DNS, connection reset, fetch failure).
    Network,
    Authentication,
    Permission,
    InvalidRequest,
    NotFound,
    /// The prompt (plus max tokens) does not fit the model's context window.
    ContextLength,
    /// The provider refused or blocked the content.
    ContentFiltered,
    /// A deadline passed; [`Error::timeout`] says which one.
    Timeout,
    /// A stream ended without its terminal marker.
    TruncatedStream,
    /// The provider answered something that is not its documented format.
    InvalidResponse,
    /// The model's output does not satisfy the requested schema.
    InvalidOutput,
    BudgetExceeded,
    /// The caller aborted.
    Cancelled,
    /// The client or proxy configuration is invalid.
    Config,
    /// Nothing was sent: the circuit breaker of every target that could serve the call is
    /// open (too many recent failures). `retry_after` says when the first one will admit a
    /// probe again.
    CircuitOpen,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExceeded => "quota_exceeded",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::ServerError => "server_error",
            ErrorKind::Network => "network",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Permission => "permission",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::ContextLength => "context_length",
            ErrorKind::ContentFiltered => "content_filtered",
            ErrorKind::Timeout => "timeout",
            ErrorKind::TruncatedStream => "truncated_stream",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::InvalidOutput => "invalid_output",
            ErrorKind::BudgetExceeded => "budget_exceeded",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Config => "config",
            ErrorKind::CircuitOpen => "circuit_open",
        }
    }

    /// The usual kind for an HTTP status when the body says nothing more specific.
    pub fn from_status(status: u16) -> ErrorKind {
        match status {
            400 | 409 | 422 => ErrorKind::InvalidRequest,
            401 => ErrorKind::Authentication,
            402 => ErrorKind::QuotaExceeded,
            403 => ErrorKind::Permission,
            404 => ErrorKind::NotFound,
            408 | 504 => ErrorKind::Timeout,
            413 => ErrorKind::ContextLength,
            429 => ErrorKind::RateLimited,
            503 | 529 => ErrorKind::Overloaded,
            500..=599 => ErrorKind::ServerError,
            _ => ErrorKind::InvalidResponse,
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which deadline fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutKind {
    /// The whole call's deadline.
    Total,
    /// No content arrived in time after the request was sent.
    FirstToken,
    /// A stream went silent between chunks for too long.
    Idle,
    /// The provider itself reported a timeout (408, 504).
    Upstream,
}

/// The server's requested wait before retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RetryAfter {
    /// A relative wait (`retry-after: 12`, `retry-after-ms`, Gemini `RetryInfo.retryDelay`).
    Millis(u64),
    /// An absolute time (`retry-after: <HTTP-date>`), in Unix milliseconds.
    At(u64),
}

impl RetryAfter {
    /// The wait from `now_unix_ms`, never negative.
    pub fn wait_ms(self, now_unix_ms: u64) -> u64 {
        match self {
            RetryAfter::Millis(ms) => ms,
            RetryAfter::At(at) => at.saturating_sub(now_unix_ms),
        }
    }

    /// Reads `retry-after-ms` (preferred: more precise) or `retry-after` (seconds or HTTP-date).
    pub fn from_headers(headers: &Headers) -> Option<RetryAfter> {
        if let Some(ms) = headers
            .get("retry-after-ms")
            .and_then(|v| v.trim().parse::<f64>().ok())
        {
            if ms.is_finite() && ms >= 0.0 {
                return Some(RetryAfter::Millis(ms.ceil() as u64));
            }
        }
        let value = headers.get("retry-after")?.trim();
        if let Ok(secs) = value.parse::<f64>() {
            return (secs.is_finite() && secs >= 0.0)
                .then(|| RetryAfter::Millis((secs * 1000.0).ceil() as u64));
        }
        parse_http_date(value).map(RetryAfter::At)
    }

    /// Parses a protobuf Duration in JSON form such as `"32s"` or `"1.5s"` (Gemini RetryInfo).
    pub fn from_duration_str(value: &str) -> Option<RetryAfter> {
        let secs: f64 = value.trim().strip_suffix('s')?.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| RetryAfter::Millis((secs * 1000.0).ceil() as u64))
    }
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 section 5.6.7), the only
/// HTTP-date form senders may generate, into Unix milliseconds.
pub fn parse_http_date(value: &str) -> Option<u64> {
    let rest = value.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days as u64) * 86_400 + h * 3600 + m * 60 + s) * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDetails {
    kind: ErrorKind,
    message: String,
    provider: Option<Provider>,
    status: Option<u16>,
    /// The provider's own error type or code (`overloaded_error`, `insufficient_quota`, ...).
    provider_code: Option<String>,
    request_id: Option<String>,
    retry_after: Option<RetryAfter>,
    timeout: Option<TimeoutKind>,
    /// Usage known when a stream failed midway, so that what was consumed is still billed.
    usage: Option<Usage>,
    /// Every attempt of the call that ended with this error, in order (set by the client's
    /// policy loop; empty for errors that never reached it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attempts: Vec<Attempt>,
    /// The model's answer as received, for `invalid_output` (structured output that did not
    /// match its schema): the caller may still want to log or salvage it.
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_output: Option<String>,
}

/// The one error type of llm-edge. Boxed so that `Result<T, Error>` stays small.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Error(Box<ErrorDetails>);

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error(Box::new(ErrorDetails {
            kind,
            message: message.into(),
            provider: None,
            status: None,
            provider_code: None,
            request_id: None,
            retry_after: None,
            timeout: None,
            usage: None,
            attempts: Vec::new(),
            raw_output: None,
        }))
    }

    pub fn timeout(which: TimeoutKind, message: impl Into<String>) -> Self {
        let mut error = Error::new(ErrorKind::Timeout, message);
        error.0.timeout = Some(which);
        error
    }

    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.0.provider = Some(provider);
        self
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.0.status = Some(status);
        self
    }

    pub fn with_provider_code(mut self, code: impl Into<String>) -> Self {
        self.0.provider_code = Some(code.into());
        self
    }

    pub fn with_request_id(mut self, id: Option<String>) -> Self {
        self.0.request_id = id;
        self
    }

    pub fn with_retry_after(mut self, retry_after: Option<RetryAfter>) -> Self {
        self.0.retry_after = retry_after;
        self
    }

    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.0.usage = (!usage.is_empty()).then_some(usage);
        self
    }

    /// Replaces the message (the policy loop rewrites it to tell the story of all attempts).
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.0.message = message.into();
        self
    }

    pub fn with_attempts(mut self, attempts: Vec<Attempt>) -> Self {
        self.0.attempts = attempts;
        self
    }

    pub fn with_raw_output(mut self, text: impl Into<String>) -> Self {
        self.0.raw_output = Some(text.into());
        self
    }

    /// The model's answer, for an `invalid_output` error.
    pub fn raw_output(&self) -> Option<&str> {
        self.0.raw_output.as_deref()
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    pub fn provider(&self) -> Option<Provider> {
        self.0.provider
    }

    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    pub fn provider_code(&self) -> Option<&str> {
        self.0.provider_code.as_deref()
    }

    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.0.retry_after
    }

    pub fn timeout_kind(&self) -> Option<TimeoutKind> {
        self.0.timeout
    }

    pub fn usage(&self) -> Option<&Usage> {
        self.0.usage.as_ref()
    }

    /// The attempts of the call that ended with this error (targets, errors, waits), in order.
    pub fn attempts(&self) -> &[Attempt] {
        &self.0.attempts
    }

    /// Worth trying again on the same target: transient rate limits, overload, 5xx, network
    /// failures, per-attempt timeouts, and streams that broke (the policy layer additionally
    /// refuses once content has reached the caller). An open circuit is worth trying again
    /// after its `retry_after`.
    pub fn is_retryable(&self) -> bool {
        match self.kind() {
            ErrorKind::RateLimited
            | ErrorKind::CircuitOpen
            | ErrorKind::Overloaded
            | ErrorKind::ServerError
            | ErrorKind::Network
            | ErrorKind::TruncatedStream
            | ErrorKind::InvalidResponse => true,
            ErrorKind::Timeout => self.timeout_kind() != Some(TimeoutKind::Total),
            _ => false,
        }
    }

    pub fn is_rate_limited(&self) -> bool {
        self.kind() == ErrorKind::RateLimited
    }

    pub fn is_quota_exceeded(&self) -> bool {
        self.kind() == ErrorKind::QuotaExceeded
    }

    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// A problem with the request itself: retrying or another provider will not fix it.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::InvalidRequest | ErrorKind::ContextLength | ErrorKind::ContentFiltered
        )
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = &self.0;
        if let Some(provider) = d.provider {
            write!(f, "{provider} ")?;
        }
        if let Some(status) = d.status {
            write!(f, "{status} ")?;
        }
        write!(f, "{}: {}", d.kind, d.message)?;
        if let Some(id) = &d.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<SseError> for Error {
    fn from(e: SseError) -> Self {
        Error::new(ErrorKind::InvalidResponse, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| (*n, v.to_string())).collect()
    }

    #[test]
    fn retry_after_seconds_ms_and_http_date() {
        assert_eq!(
            RetryAfter::from_headers(&headers(&[("Retry-After", "12")])),
            Some(RetryAfter::Millis(12_000))
        );
        assert_eq!(
            RetryAfter::from_headers(&headers(&[
                ("retry-after", "1"),
                ("retry-after-ms", "250.5")
            ])),
            Some(RetryAfter::Millis(251))
        );
        let at = RetryAfter::from_headers(&headers(&[(
            "retry-after",
            "Sun, 06 Nov 1994 08:49:37 GMT",
        )]));
        assert_eq!(at, Some(RetryAfter::At(784_111_777_000)));
        assert_eq!(at.unwrap().wait_ms(784_111_770_000), 7_000);
        assert_eq!(at.unwrap().wait_ms(784_111_780_000), 0);
        assert_eq!(
            RetryAfter::from_headers(&headers(&[("retry-after", "soon")])),
            None
        );
        assert_eq!(
            RetryAfter::from_headers(&headers(&[("retry-after", "-3")])),
            None
        );
        assert_eq!(RetryAfter::from_headers(&Headers::new()), None);
    }

    #[test]
    fn http_date_parser_handles_leap_years_and_rejects_junk() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Thu, 29 Feb 2024 12:00:00 GMT"),
            Some(1_709_208_000_000)
        );
        assert_eq!(
            parse_http_date("Fri, 27 Nov 2026 17:40:12 GMT"),
            Some(1_795_801_212_000)
        );
        assert_eq!(parse_http_date("Fri, 27 Nov 2026 17:40:12 UTC"), None);
        assert_eq!(parse_http_date("Fri, 32 Nov 2026 17:40:12 GMT"), None);
        assert_eq!(parse_http_date("27 Nov 2026"), None);
    }

    #[test]
    fn gemini_duration_strings() {
        assert_eq!(
            RetryAfter::from_duration_str("32s"),
            Some(RetryAfter::Millis(32_000))
        );
        assert_eq!(
            RetryAfter::from_duration_str("1.5s"),
            Some(RetryAfter::Millis(1_500))
        );
        assert_eq!(RetryAfter::from_duration_str("32"), None);
    }

    #[test]
    fn retryability_by_kind() {
        assert!(Error::new(ErrorKind::RateLimited, "").is_retryable());
        assert!(Error::new(ErrorKind::Overloaded, "").is_retryable());
        assert!(Error::new(ErrorKind::Network, "").is_retryable());
        assert!(Error::new(ErrorKind::CircuitOpen, "").is_retryable());
        assert!(Error::timeout(TimeoutKind::Idle, "").is_retryable());
        assert!(!Error::timeout(TimeoutKind::Total, "").is_retryable());
        assert!(!Error::new(ErrorKind::QuotaExceeded, "").is_retryable());
        assert!(!Error::new(ErrorKind::InvalidRequest, "").is_retryable());
        assert!(!Error::new(ErrorKind::Authentication, "").is_retryable());
        assert!(!Error::new(ErrorKind::Cancelled, "").is_retryable());
    }

    #[test]
    fn status_classification() {
        assert_eq!(ErrorKind::from_status(529), ErrorKind::Overloaded);
        assert_eq!(ErrorKind::from_status(503), ErrorKind::Overloaded);
        assert_eq!(ErrorKind::from_status(502), ErrorKind::ServerError);
        assert_eq!(ErrorKind::from_status(408), ErrorKind::Timeout);
        assert_eq!(ErrorKind::from_status(402), ErrorKind::QuotaExceeded);
    }

    #[test]
    fn display_names_provider_status_kind_and_request_id() {
        let e = Error::new(ErrorKind::Overloaded, "Overloaded")
            .with_provider(Provider::Anthropic)
            .with_status(529)
            .with_request_id(Some("req_1".into()));
        assert_eq!(
            e.to_string(),
            "anthropic 529 overloaded: Overloaded (request id req_1)"
        );
    }
}
