//! Building HTTP responses: the route's own error format, CORS headers, llm-edge headers.
use worker::{Headers, Response, Result};

use crate::core::error::{Error, ErrorKind};
use crate::core::gateway::access::{Cors, CORS_ALLOW_HEADERS, CORS_EXPOSE_HEADERS};
use crate::core::gateway::format::ApiFormat;

pub fn json(status: u16, body: String, headers: Headers) -> Result<Response> {
    headers.set("content-type", "application/json")?;
    Ok(bytes(status, body.into_bytes(), headers))
}

/// A response with a whole body and these headers (`Response::from_bytes` would first set an
/// `application/octet-stream` content type on headers that are then replaced).
pub fn bytes(status: u16, body: Vec<u8>, headers: Headers) -> Response {
    Response::builder()
        .with_status(status)
        .with_headers(headers)
        .fixed(body)
}

/// An error in the route's own format. Rate and budget refusals say when to come back, and
/// budget refusals and invalid structured output tell the official SDKs not to retry
/// (`x-should-retry: false`).
pub fn error(format: ApiFormat, error: &Error, headers: Headers) -> Result<Response> {
    let (status, body) = format.encode_error(error);
    if let Some(retry_after) = error.retry_after() {
        let now = js_sys::Date::now() as u64;
        let seconds = retry_after.wait_ms(now).div_ceil(1000).max(1);
        headers.set("retry-after", &seconds.to_string())?;
    }
    // A budget refusal does not refill in seconds; an invalid output already had the proxy's
    // one repair retry, and an SDK retry would bill the whole structured call again.
    if matches!(
        error.kind(),
        ErrorKind::BudgetExceeded | ErrorKind::InvalidOutput
    ) {
        headers.set("x-should-retry", "false")?;
    }
    json(status, body, headers)
}

/// The CORS headers of an allowed cross-origin request.
pub fn cors_headers(cors: &Cors) -> Result<Headers> {
    let headers = Headers::new();
    if let Cors::Allow(origin) = cors {
        headers.set("access-control-allow-origin", origin)?;
        headers.set("vary", "origin")?;
        headers.set("access-control-expose-headers", CORS_EXPOSE_HEADERS)?;
    }
    Ok(headers)
}

pub fn preflight(cors: &Cors) -> Result<Response> {
    match cors {
        Cors::Allow(_) => {
            let headers = cors_headers(cors)?;
            headers.set("access-control-allow-methods", "GET, POST, OPTIONS")?;
            headers.set("access-control-allow-headers", CORS_ALLOW_HEADERS)?;
            headers.set("access-control-max-age", "86400")?;
            Ok(Response::empty()?.with_status(204).with_headers(headers))
        }
        _ => Ok(Response::empty()?.with_status(403)),
    }
}

/// An error with a status the kind alone does not decide (413 body too large, 404, 405).
pub fn error_with_status(
    format: ApiFormat,
    error: &Error,
    status: u16,
    headers: Headers,
) -> Result<Response> {
    let (_, body) = format.encode_error(error);
    json(status, body, headers)
}
