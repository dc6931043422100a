//! Who is calling and what they may do: the client token from the headers each API's SDKs
//! send, and CORS decisions.
use std::collections::HashMap;

use super::config::{AllowedOrigins, ClientSpec};

/// The client token from `Authorization: Bearer` (OpenAI style), `x-api-key` (Anthropic
/// style) or `x-goog-api-key` (Gemini style), in that order.
pub fn client_token<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Option<&'a str> {
    if let Some(auth) = header("authorization") {
        let auth = auth.trim();
        if let Some(token) = auth
            .strip_prefix("Bearer ")
            .or_else(|| auth.strip_prefix("bearer "))
        {
            let token = token.trim();
            if !token.is_empty() {
                return Some(token);
            }
        }
    }
    ["x-api-key", "x-goog-api-key"]
        .iter()
        .filter_map(|name| header(name))
        .map(str::trim)
        .find(|token| !token.is_empty())
}

/// Looks a token up in constant time per candidate, so response timing does not reveal how
/// much of a guessed token was right.
pub fn find_client<'c>(
    clients: &'c HashMap<String, ClientSpec>,
    token: &str,
) -> Option<&'c ClientSpec> {
    let mut found = None;
    for (candidate, spec) in clients {
        if constant_time_eq(candidate.as_bytes(), token.as_bytes()) {
            found = Some(spec);
        }
    }
    found
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The CORS verdict for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// Not a cross-origin browser request: no CORS headers.
    NotApplicable,
    /// Allowed: echo this origin.
    Allow(String),
    /// A browser request from an origin that is not allowed.
    Refuse,
}

pub fn cors(allowed: &AllowedOrigins, origin: Option<&str>) -> Cors {
    match origin {
        None => Cors::NotApplicable,
        Some(origin) if allowed.allows(origin) => Cors::Allow(origin.to_string()),
        Some(_) => Cors::Refuse,
    }
}

/// Headers a browser may send to the proxy (the SDKs' auth and version headers included).
pub const CORS_ALLOW_HEADERS: &str = "authorization, content-type, x-api-key, x-goog-api-key, \
     anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access, x-stainless-retry-count, \
     x-stainless-timeout, x-stainless-lang, x-stainless-package-version, x-stainless-os, x-stainless-arch, \
     x-stainless-runtime, x-stainless-runtime-version, x-stainless-helper-method";
pub const CORS_EXPOSE_HEADERS: &str =
    "x-llm-edge-provider, x-llm-edge-model, x-llm-edge-attempts, \
     x-llm-edge-cost-usd, x-llm-edge-route, x-request-id, request-id, retry-after";

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    #[test]
    fn token_from_each_sdk_style() {
        assert_eq!(
            client_token(headers(&[("authorization", "Bearer abc123")])),
            Some("abc123")
        );
        assert_eq!(
            client_token(headers(&[("x-api-key", "abc123")])),
            Some("abc123")
        );
        assert_eq!(
            client_token(headers(&[("x-goog-api-key", " abc123 ")])),
            Some("abc123")
        );
        assert_eq!(
            client_token(headers(&[("authorization", "Basic xyz")])),
            None
        );
        assert_eq!(
            client_token(headers(&[
                ("authorization", "Bearer "),
                ("x-api-key", "k2")
            ])),
            Some("k2")
        );
        assert_eq!(client_token(headers(&[])), None);
    }

    #[test]
    fn find_client_matches_whole_tokens_only() {
        let spec = ClientSpec {
            name: "a".into(),
            daily_budget_usd: 1.0,
            requests_per_minute: 1,
            tokens_per_minute: 1,
            models: vec!["*".into()],
            screening: Default::default(),
        };
        let clients = HashMap::from([("token-123456".to_string(), spec)]);
        assert!(find_client(&clients, "token-123456").is_some());
        assert!(find_client(&clients, "token-12345").is_none());
        assert!(find_client(&clients, "token-1234567").is_none());
    }

    #[test]
    fn cors_verdicts() {
        let allowed = AllowedOrigins::List(vec!["https://a.example".into()]);
        assert_eq!(cors(&allowed, None), Cors::NotApplicable);
        assert_eq!(
            cors(&allowed, Some("https://a.example")),
            Cors::Allow("https://a.example".into())
        );
        assert_eq!(cors(&allowed, Some("https://b.example")), Cors::Refuse);
        assert_eq!(
            cors(&AllowedOrigins::None, Some("https://a.example")),
            Cors::Refuse
        );
    }
}
