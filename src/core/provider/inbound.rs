//! What the three server faces share (`<provider>/inbound.rs`: the proxy speaking a provider's
//! API to its clients): the decoded request, a JSON reader that names the offending field in
//! each API's own wording, and the small helpers of the response and error encoders.
//!
//! Request bodies are read from a [`serde_json::Value`] by hand rather than derived, so that
//! every schema error names its field the way the real API does (`messages[2].content` for
//! OpenAI, `messages.2.content` for Anthropic, `contents[0].parts[0]` for Gemini).
//!
//! A schema error is an [`ErrorKind::InvalidRequest`] with no provider and the provider code
//! `param:<path>` (see [`invalid_param`]): the OpenAI error encoder turns it into the `param`
//! field; the other two formats only have the message, which names the path too.
use std::borrow::Cow;
use std::fmt::Display;

use serde_json::{Map, Value};

use crate::core::error::{Error, ErrorKind};
use crate::core::model::{CacheTtl, Provider, Request, Warning};

/// A client's request, decoded from one of the three API formats.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundRequest {
    /// The request in unified form; `request.model` is [`InboundRequest::model`].
    pub request: Request,
    /// The client asked for a stream (OpenAI and Anthropic: the body's `stream`; Gemini: the
    /// `streamGenerateContent` method).
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`: whether the stream ends with a usage chunk.
    /// Always true for Anthropic and Gemini, whose streams always carry usage.
    pub include_usage: bool,
    /// The model as the client wrote it (`gpt-4o-mini`, `auto`, `anthropic/claude-sonnet-4-6`),
    /// to resolve into a route and to echo in the response.
    pub model: String,
    /// Fields the client sent that were accepted but are not honoured (penalties, seeds,
    /// safety settings, thinking budgets...). `setting` is the field's path in the client's
    /// format, e.g. `frequency_penalty` or `generationConfig.seed`.
    pub ignored: Vec<Warning>,
}

/// The prefix of the provider code that carries the offending field's path.
pub const PARAM_CODE_PREFIX: &str = "param:";

/// The path of the field a request-decoding error is about (`messages[2].content`), when the
/// error is one. Errors from upstream providers never match, whatever their code.
pub fn invalid_param(error: &Error) -> Option<&str> {
    if error.kind() != ErrorKind::InvalidRequest || error.provider().is_some() {
        return None;
    }
    error.provider_code()?.strip_prefix(PARAM_CODE_PREFIX)
}

/// Whose wording and path syntax errors use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Dialect {
    fn join_key(self, path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    }

    fn join_index(self, path: &str, index: usize) -> String {
        match self {
            Dialect::Anthropic => format!("{path}.{index}"),
            Dialect::OpenAi | Dialect::Gemini => format!("{path}[{index}]"),
        }
    }

    /// Parses a request body; anything but JSON is an invalid request.
    pub fn parse(self, body: &[u8]) -> Result<Value, Error> {
        serde_json::from_slice(body).map_err(|e| {
            let message = match self {
                Dialect::OpenAi => format!(
                    "We could not parse the JSON body of your request ({e}). The API expects a \
                     JSON object."
                ),
                Dialect::Anthropic => {
                    format!("There was an error parsing the body of your request: {e}")
                }
                Dialect::Gemini => format!("Invalid JSON payload received. {e}"),
            };
            Error::new(ErrorKind::InvalidRequest, message)
        })
    }

    /// An invalid-request error about `path`, carrying it as the provider code.
    fn error_at(self, path: &str, message: String) -> Error {
        let error = Error::new(ErrorKind::InvalidRequest, message);
        if path.is_empty() {
            error
        } else {
            error.with_provider_code(format!("{PARAM_CODE_PREFIX}{path}"))
        }
    }

    fn invalid(self, path: &str, detail: &str) -> Error {
        let message = match (self, path) {
            (Dialect::OpenAi, "") => format!("Invalid request body: {detail}."),
            (Dialect::OpenAi, path) => format!("Invalid '{path}': {detail}."),
            (Dialect::Anthropic, "") => format!("request body: {detail}"),
            (Dialect::Anthropic, path) => format!("{path}: {detail}"),
            (Dialect::Gemini, "") => format!("Invalid request body: {detail}"),
            (Dialect::Gemini, path) => format!("Invalid value at '{path}': {detail}"),
        };
        self.error_at(path, message)
    }

    fn wrong_type(self, path: &str, expected: &str, got: &str) -> Error {
        let message = match (self, path) {
            (Dialect::OpenAi, "") => {
                format!(
                    "Invalid type for the request body: expected {expected}, but got {got} \
                     instead."
                )
            }
            (Dialect::OpenAi, path) => {
                format!("Invalid type for '{path}': expected {expected}, but got {got} instead.")
            }
            _ => return self.invalid(path, &format!("expected {expected}, got {got}")),
        };
        self.error_at(path, message)
    }

    fn missing(self, path: &str) -> Error {
        let message = match self {
            Dialect::OpenAi => format!("Missing required parameter: '{path}'."),
            Dialect::Anthropic => format!("{path}: Field required"),
            Dialect::Gemini => format!("Invalid value at '{path}': the field is required"),
        };
        self.error_at(path, message)
    }
}

/// A value in the request body and where it sits.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    path: String,
    dialect: Dialect,
}

impl<'a> Node<'a> {
    pub fn root(value: &'a Value, dialect: Dialect) -> Self {
        Node {
            value,
            path: String::new(),
            dialect,
        }
    }

    pub fn value(&self) -> &'a Value {
        self.value
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of a field of this node (which need not exist), for errors and warnings.
    pub fn path_of(&self, key: &str) -> String {
        self.dialect.join_key(&self.path, key)
    }

    pub fn invalid(&self, detail: impl Display) -> Error {
        self.dialect.invalid(&self.path, &detail.to_string())
    }

    pub fn wrong_type(&self, expected: &str) -> Error {
        self.dialect
            .wrong_type(&self.path, expected, type_name(self.value))
    }

    /// `value` is not one of `allowed`.
    pub fn not_one_of(&self, value: &str, allowed: &[&str]) -> Error {
        let allowed: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
        self.invalid(format_args!(
            "expected one of {}, got '{value}'",
            allowed.join(", ")
        ))
    }

    pub fn object(&self) -> Result<Object<'a>, Error> {
        match self.value {
            Value::Object(map) => Ok(Object {
                node: self.clone(),
                map,
            }),
            _ => Err(self.wrong_type("an object")),
        }
    }

    pub fn array(&self) -> Result<Vec<Node<'a>>, Error> {
        match self.value {
            Value::Array(items) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, value)| Node {
                    value,
                    path: self.dialect.join_index(&self.path, i),
                    dialect: self.dialect,
                })
                .collect()),
            _ => Err(self.wrong_type("an array")),
        }
    }

    /// An array with at least one element.
    pub fn non_empty_array(&self) -> Result<Vec<Node<'a>>, Error> {
        let items = self.array()?;
        if items.is_empty() {
            return Err(self.invalid("empty array; expected at least one element"));
        }
        Ok(items)
    }

    pub fn string(&self) -> Result<&'a str, Error> {
        self.value
            .as_str()
            .ok_or_else(|| self.wrong_type("a string"))
    }

    pub fn boolean(&self) -> Result<bool, Error> {
        self.value
            .as_bool()
            .ok_or_else(|| self.wrong_type("a boolean"))
    }

    /// A whole number from `min` up to `u32::MAX` (`40.0` counts as whole, as protobuf JSON
    /// parsers take it).
    pub fn integer(&self, min: u32) -> Result<u32, Error> {
        let n = match self.value {
            Value::Number(number) => match number.as_i64() {
                Some(n) => n as f64,
                None => number.as_f64().unwrap_or(f64::NAN),
            },
            _ => f64::NAN,
        };
        if n.fract() != 0.0 || n.is_nan() {
            return Err(self.wrong_type("an integer"));
        }
        if n < f64::from(min) {
            return Err(self.invalid(format_args!(
                "integer below minimum value; expected a value >= {min}, got {n}"
            )));
        }
        if n > f64::from(u32::MAX) {
            return Err(self.invalid(format_args!(
                "integer above maximum value; expected a value <= {}, got {n}",
                u32::MAX
            )));
        }
        Ok(n as u32)
    }

    /// A number within `min..=max`.
    pub fn number(&self, min: f64, max: f64) -> Result<f64, Error> {
        let n = self
            .value
            .as_f64()
            .ok_or_else(|| self.wrong_type("a number"))?;
        if !(min..=max).contains(&n) {
            return Err(self.invalid(format_args!(
                "number out of range; expected a value from {min} to {max}, got {n}"
            )));
        }
        Ok(n)
    }

    /// A string, or an array of strings (OpenAI `stop`).
    pub fn strings(&self) -> Result<Vec<String>, Error> {
        match self.value {
            Value::String(one) => Ok(vec![one.clone()]),
            Value::Array(_) => self
                .array()?
                .iter()
                .map(|item| item.string().map(str::to_string))
                .collect(),
            _ => Err(self.wrong_type("a string or an array of strings")),
        }
    }
}

/// An object in the request body and where it sits. `null` fields read as absent, as all three
/// APIs treat them.
#[derive(Debug, Clone)]
pub(crate) struct Object<'a> {
    node: Node<'a>,
    map: &'a Map<String, Value>,
}

impl<'a> Object<'a> {
    pub fn path_of(&self, key: &str) -> String {
        self.node.path_of(key)
    }

    pub fn invalid(&self, detail: impl Display) -> Error {
        self.node.invalid(detail)
    }

    /// The field `key`, unless absent or `null`.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        let (key, value) = self.map.get_key_value(key)?;
        (!value.is_null()).then(|| Node {
            value,
            path: self.node.path_of(key),
            dialect: self.node.dialect,
        })
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn require(&self, key: &str) -> Result<Node<'a>, Error> {
        self.get(key).ok_or_else(|| self.missing(key))
    }

    pub fn missing(&self, key: &str) -> Error {
        let dialect = self.node.dialect;
        dialect.missing(&self.node.path_of(key))
    }

    pub fn opt_string(&self, key: &str) -> Result<Option<&'a str>, Error> {
        self.get(key).map(|n| n.string()).transpose()
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, Error> {
        self.get(key).map(|n| n.boolean()).transpose()
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Anthropic's `cache_control: {"type":"ephemeral","ttl":"5m"|"1h"}` on `object`, if any.
/// OpenAI-format clients may send it too (as LiteLLM and OpenRouter accept), so that prompt
/// caching reaches an Anthropic upstream whatever format the client speaks.
pub(crate) fn cache_control(object: &Object<'_>) -> Result<Option<CacheTtl>, Error> {
    let Some(node) = object.get("cache_control") else {
        return Ok(None);
    };
    let control = node.object()?;
    let kind = control.require("type")?;
    if kind.string()? != "ephemeral" {
        return Err(kind.not_one_of(kind.string()?, &["ephemeral"]));
    }
    match control.get("ttl") {
        None => Ok(Some(CacheTtl::FiveMinutes)),
        Some(ttl) => match ttl.string()? {
            "5m" => Ok(Some(CacheTtl::FiveMinutes)),
            "1h" => Ok(Some(CacheTtl::OneHour)),
            other => Err(ttl.not_one_of(other, &["5m", "1h"])),
        },
    }
}

/// A warning for a field that was read but has no effect.
pub(crate) fn not_honoured(setting: String, why: &str) -> Warning {
    let message = format!("`{setting}` {why}; it was ignored");
    Warning { setting, message }
}

/// Adds `warning` unless one for the same setting is there already.
pub(crate) fn warn_once(warnings: &mut Vec<Warning>, warning: Warning) {
    if !warnings.iter().any(|w| w.setting == warning.setting) {
        warnings.push(warning);
    }
}

/// Replaces what looks like a provider API key (`sk-...`, `sk-ant-...`, `AIza...`, including
/// OpenAI's masked echo `sk-proj-****wXyZ`) by `[redacted]`. Upstream error messages can quote
/// the proxy's own key, which its clients must never see.
pub(crate) fn redact_secrets(text: &str) -> Cow<'_, str> {
    const PREFIXES: [&str; 2] = ["sk-", "AIza"];
    const MIN_LEN: usize = 12;
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*');
    let mut out = String::new();
    let mut copied = 0;
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let boundary = text[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !is_key_char(c));
        if boundary && PREFIXES.iter().any(|p| rest.starts_with(p)) {
            let len = rest.find(|c: char| !is_key_char(c)).unwrap_or(rest.len());
            if len >= MIN_LEN {
                out.push_str(&text[copied..at]);
                out.push_str("[redacted]");
                copied = at + len;
                at = copied;
                continue;
            }
        }
        at += rest.chars().next().map_or(1, char::len_utf8);
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The upstream's HTTP status when it can reach the client unchanged: always when the upstream
/// speaks the route's own API (the client sees what that API answered), and from another
/// provider when the status means the same kind everywhere (a 422 stays 422, a 502 a 502; an
/// Anthropic 529 does not leave the Anthropic route). Never for errors of our own, nor for an
/// upstream that refused the proxy's key.
pub(crate) fn kept_upstream_status(error: &Error, route: Provider) -> Option<u16> {
    let provider = error.provider()?;
    let status = error.status()?;
    if !(400..=599).contains(&status) || is_upstream_auth_failure(error) {
        return None;
    }
    let same_meaning = ErrorKind::from_status(status) == error.kind() && status != 529;
    (provider == route || same_meaning).then_some(status)
}

/// An upstream rejected the proxy's own credentials: the client's are not at fault, so the
/// routes answer a gateway error instead of a 401 that would send the client after its key.
pub(crate) fn is_upstream_auth_failure(error: &Error) -> bool {
    error.kind() == ErrorKind::Authentication && error.provider().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_wording_follow_each_dialect() {
        let body = json!({"messages": [{"role": "user"}, {"content": 7}]});
        for (dialect, path, message) in [
            (
                Dialect::OpenAi,
                "messages[1].content",
                "Invalid type for 'messages[1].content': expected a string, but got an integer instead.",
            ),
            (
                Dialect::Anthropic,
                "messages.1.content",
                "messages.1.content: expected a string, got an integer",
            ),
            (
                Dialect::Gemini,
                "messages[1].content",
                "Invalid value at 'messages[1].content': expected a string, got an integer",
            ),
        ] {
            let root = Node::root(&body, dialect).object().unwrap();
            let messages = root.require("messages").unwrap().array().unwrap();
            let message_1 = messages[1].object().unwrap();
            let err = message_1.require("content").unwrap().string().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest);
            assert_eq!(err.message(), message);
            assert_eq!(invalid_param(&err), Some(path));
            let missing = messages[0].object().unwrap().require("content").unwrap_err();
            assert_eq!(invalid_param(&missing), Some(path.replace('1', "0").as_str()));
        }
    }

    #[test]
    fn integers_and_numbers_are_range_checked() {
        let body = json!({"a": -5, "b": 1.5, "c": 5_000_000_000u64, "d": 3, "e": 2.5, "f": 40.0});
        let root = Node::root(&body, Dialect::OpenAi).object().unwrap();
        let err = root.get("a").unwrap().integer(1).unwrap_err();
        assert!(err.message().contains(">= 1, got -5"), "{err}");
        let err = root.get("b").unwrap().integer(1).unwrap_err();
        assert!(err.message().contains("expected an integer"), "{err}");
        assert!(root.get("c").unwrap().integer(1).is_err());
        assert_eq!(root.get("d").unwrap().integer(1).unwrap(), 3);
        assert_eq!(root.get("f").unwrap().integer(1).unwrap(), 40);
        let err = root.get("e").unwrap().number(0.0, 2.0).unwrap_err();
        assert!(err.message().contains("from 0 to 2, got 2.5"), "{err}");
        assert_eq!(invalid_param(&err), Some("e"));
    }

    #[test]
    fn nulls_read_as_absent() {
        let body = json!({"a": null});
        let root = Node::root(&body, Dialect::Anthropic).object().unwrap();
        assert!(root.get("a").is_none());
        assert_eq!(
            root.require("a").unwrap_err().message(),
            "a: Field required"
        );
    }

    #[test]
    fn upstream_errors_carry_no_param() {
        let upstream = Error::new(ErrorKind::InvalidRequest, "x")
            .with_provider(Provider::OpenAi)
            .with_provider_code("param:messages");
        assert_eq!(invalid_param(&upstream), None);
    }

    #[test]
    fn keys_are_redacted_wherever_they_appear() {
        assert_eq!(
            redact_secrets("Incorrect API key provided: sk-proj-********wXyZ. See the docs."),
            "Incorrect API key provided: [redacted]. See the docs."
        );
        assert_eq!(
            redact_secrets("key AIzaSyD-abcdefghijklmnop_123 and sk-ant-api03-AbCdEf12345"),
            "key [redacted] and [redacted]"
        );
        // Short or embedded look-alikes stay.
        assert_eq!(
            redact_secrets("ask-me sk-1 task-sk-abcdefghijkl"),
            "ask-me sk-1 task-sk-abcdefghijkl"
        );
        assert!(matches!(redact_secrets("nothing here"), Cow::Borrowed(_)));
        assert_eq!(redact_secrets("é sk-abcdefghijklmnop é"), "é [redacted] é");
    }

    #[test]
    fn upstream_statuses_pass_on_their_own_route_or_when_they_mean_the_same() {
        let anthropic_quota = Error::new(ErrorKind::QuotaExceeded, "spend limit")
            .with_provider(Provider::Anthropic)
            .with_status(429);
        assert_eq!(
            kept_upstream_status(&anthropic_quota, Provider::Anthropic),
            Some(429)
        );
        assert_eq!(
            kept_upstream_status(&anthropic_quota, Provider::OpenAi),
            None
        );
        let overloaded = Error::new(ErrorKind::Overloaded, "Overloaded")
            .with_provider(Provider::Anthropic)
            .with_status(529);
        assert_eq!(
            kept_upstream_status(&overloaded, Provider::Anthropic),
            Some(529)
        );
        assert_eq!(kept_upstream_status(&overloaded, Provider::Gemini), None);
        let unprocessable = Error::new(ErrorKind::InvalidRequest, "x")
            .with_provider(Provider::OpenAi)
            .with_status(422);
        assert_eq!(
            kept_upstream_status(&unprocessable, Provider::Anthropic),
            Some(422)
        );
        let refused_key = Error::new(ErrorKind::Authentication, "invalid x-api-key")
            .with_provider(Provider::Anthropic)
            .with_status(401);
        assert_eq!(
            kept_upstream_status(&refused_key, Provider::Anthropic),
            None
        );
        let ours = Error::new(ErrorKind::RateLimited, "x").with_status(429);
        assert_eq!(kept_upstream_status(&ours, Provider::OpenAi), None);
    }
}
