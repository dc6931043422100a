//! The provider-neutral request and response. Serialised field names are camelCase because
//! this is also the shape the npm package accepts and returns.
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::error::{Error, ErrorKind};
use super::route::Tier;

/// The three supported provider APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Anthropic,
    #[serde(rename = "openai")]
    OpenAi,
    Gemini,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Anthropic, Provider::OpenAi, Provider::Gemini];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::Gemini => "gemini",
        }
    }

    pub fn from_name(name: &str) -> Option<Provider> {
        match name {
            "anthropic" => Some(Provider::Anthropic),
            "openai" => Some(Provider::OpenAi),
            "gemini" | "google" => Some(Provider::Gemini),
            _ => None,
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved model: which API serves it, and the name that API knows it by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelRef {
    pub provider: Provider,
    pub name: String,
}

impl ModelRef {
    /// Resolves `provider/model`, or a bare name by its well-known prefix
    /// (`claude-` -> Anthropic, `gpt-`/`o1`/`o3`/`o4`/`chatgpt-` -> OpenAI, `gemini-` -> Gemini).
    pub fn parse(spec: &str) -> Result<ModelRef, Error> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(Error::new(ErrorKind::InvalidRequest, "model is empty"));
        }
        if let Some((prefix, name)) = spec.split_once('/') {
            if let Some(provider) = Provider::from_name(prefix) {
                if name.is_empty() {
                    return Err(Error::new(
                        ErrorKind::InvalidRequest,
                        format!("model `{spec}` names a provider but no model"),
                    ));
                }
                return Ok(ModelRef {
                    provider,
                    name: name.to_string(),
                });
            }
        }
        let provider = if spec.starts_with("claude-") {
            Provider::Anthropic
        } else if spec.starts_with("gpt-")
            || spec.starts_with("chatgpt-")
            || ["o1", "o3", "o4"]
                .iter()
                .any(|p| spec == *p || spec.starts_with(&format!("{p}-")))
        {
            Provider::OpenAi
        } else if spec.starts_with("gemini-") {
            Provider::Gemini
        } else {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "cannot tell which provider serves model `{spec}`: write it as \
                     `anthropic/{spec}`, `openai/{spec}` or `gemini/{spec}`"
                ),
            ));
        };
        Ok(ModelRef {
            provider,
            name: spec.to_string(),
        })
    }

    /// `provider/name`, the canonical spelling.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.provider, self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// Prompt-cache lifetime of a marked block (Anthropic `cache_control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CacheTtl {
    #[serde(rename = "5m")]
    FiveMinutes,
    #[serde(rename = "1h")]
    OneHour,
}

/// One piece of message content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ContentPart {
    #[serde(rename_all = "camelCase")]
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache: Option<CacheTtl>,
    },
    /// Base64 image data with its media type (e.g. `image/png`).
    #[serde(rename_all = "camelCase")]
    Image {
        media_type: String,
        data: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache: Option<CacheTtl>,
    },
    /// A call the assistant made. `signature` carries Gemini's `thoughtSignature`, which must be
    /// sent back unchanged on the next turn.
    #[serde(rename_all = "camelCase")]
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// The result of a tool call, sent back by the user turn.
    #[serde(rename_all = "camelCase")]
    ToolResult {
        call_id: String,
        /// The tool's name: Gemini matches results by name, not id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        content: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache: Option<CacheTtl>,
    },
    /// Model reasoning ("thinking"); `signature` is Anthropic's opaque thinking signature.
    #[serde(rename_all = "camelCase")]
    Reasoning {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
}

impl ContentPart {
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text {
            text: text.into(),
            cache: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    /// A plain string is accepted as one text part.
    #[serde(deserialize_with = "string_or_parts")]
    pub content: Vec<ContentPart>,
}

impl Message {
    pub fn user(text: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: vec![ContentPart::text(text)],
        }
    }

    pub fn assistant(text: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: vec![ContentPart::text(text)],
        }
    }
}

fn string_or_parts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ContentPart>, D::Error> {
    d.deserialize_any(StringOrList {
        one: ContentPart::text,
        null_is_empty: false,
    })
}

/// Reads a string as the one item `one` makes of it, or a list of items (and null as no items
/// when `null_is_empty`). A visitor rather than an untagged enum: the enum buffers the value in
/// serde's `Content` and compiles every item's reader a second time over that buffer (18.9 KB
/// of wasm for `ContentPart`).
struct StringOrList<T> {
    one: fn(String) -> T,
    null_is_empty: bool,
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for StringOrList<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string or a list")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Vec<T>, E> {
        Ok(vec![(self.one)(text.to_string())])
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<Vec<T>, E> {
        Ok(vec![(self.one)(text)])
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(items)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
        match self.null_is_empty {
            true => Ok(Vec::new()),
            false => Err(E::invalid_type(serde::de::Unexpected::Unit, &self)),
        }
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
        self.visit_unit()
    }
}

/// One block of the system prompt; several blocks let a stable prefix carry a cache marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemBlock {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheTtl>,
}

fn string_or_system_blocks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<SystemBlock>, D::Error> {
    d.deserialize_any(StringOrList {
        one: |text| SystemBlock { text, cache: None },
        null_is_empty: true,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments (an object schema).
    pub parameters: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheTtl>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool may be called.
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Tool { name: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    /// Any JSON object.
    Json,
    #[serde(rename_all = "camelCase")]
    JsonSchema {
        #[serde(default = "default_schema_name")]
        name: String,
        schema: Value,
        #[serde(default = "default_true")]
        strict: bool,
    },
}

fn default_schema_name() -> String {
    "response".to_string()
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Groups the calls of one conversation (session pinning, usage records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// The application's end user, forwarded where the provider accepts it (abuse monitoring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user_id: Option<String>,
}

/// A provider-neutral chat request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// `provider/model`, a bare model name, or a route such as `auto`.
    pub model: String,
    #[serde(default, deserialize_with = "string_or_system_blocks")]
    pub system: Vec<SystemBlock>,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Anthropic and Gemini only; a warning elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: Metadata,
    /// For a route such as `auto`: the tier to use instead of the one the complexity score
    /// would pick (`"simple" | "standard" | "complex"`). Ignored for a concrete model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complexity: Option<Tier>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl Request {
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Request {
            model: model.into(),
            system: Vec::new(),
            messages,
            max_tokens: None,
            temperature: None,
            top_p: None,
            top_k: None,
            stop: Vec::new(),
            tools: Vec::new(),
            tool_choice: None,
            response_format: None,
            metadata: Metadata::default(),
            complexity: None,
        }
    }

    /// The system prompt as one string (blocks joined by blank lines).
    pub fn system_text(&self) -> Option<String> {
        if self.system.is_empty() {
            return None;
        }
        Some(
            self.system
                .iter()
                .map(|b| b.text.as_str())
                .collect::<Vec<_>>()
                .join("\n\n"),
        )
    }
}

/// Why generation stopped: a unified kind plus the provider's own word for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishReason {
    pub unified: FinishKind,
    /// The provider's raw value (`end_turn`, `length`, `MAX_TOKENS`, ...), when it gave one.
    pub raw: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinishKind {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    /// The provider paused a long turn (Anthropic `pause_turn`); the caller may continue it.
    Pause,
    Other,
}

impl FinishReason {
    pub fn new(unified: FinishKind, raw: impl Into<String>) -> Self {
        FinishReason {
            unified,
            raw: Some(raw.into()),
        }
    }
}

/// Token usage with every billing class kept apart. `None` means the provider did not say;
/// zeros are never invented.
///
/// `input_tokens` counts only *uncached* input: Anthropic reports it that way, while OpenAI and
/// Gemini include cached tokens in their prompt count, so their adapters subtract. Output
/// includes reasoning tokens (all three bill them as output); `reasoning_tokens` says how many
/// of them were reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub cache_read_tokens: Option<u64>,
    pub cache_write_5m_tokens: Option<u64>,
    pub cache_write_1h_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
}

impl Usage {
    /// All input tokens: uncached + cache reads + cache writes. `None` if nothing was reported.
    pub fn total_input_tokens(&self) -> Option<u64> {
        sum_known(&[
            self.input_tokens,
            self.cache_read_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
        ])
    }

    pub fn total_tokens(&self) -> Option<u64> {
        sum_known(&[self.total_input_tokens(), self.output_tokens])
    }

    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }

    /// Overlays the fields `later` reports onto `self` (providers send cumulative counts, and
    /// some send input counts and output counts in different events).
    pub fn merge(&mut self, later: &Usage) {
        fn take(slot: &mut Option<u64>, value: Option<u64>) {
            if value.is_some() {
                *slot = value;
            }
        }
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.cache_read_tokens, later.cache_read_tokens);
        take(&mut self.cache_write_5m_tokens, later.cache_write_5m_tokens);
        take(&mut self.cache_write_1h_tokens, later.cache_write_1h_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        take(&mut self.reasoning_tokens, later.reasoning_tokens);
    }
}

fn sum_known(values: &[Option<u64>]) -> Option<u64> {
    values.iter().flatten().copied().reduce(|a, b| a + b)
}

/// A setting the chosen provider cannot honour. Never dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    /// The request setting concerned, in the unified request's spelling (e.g. `topK`).
    pub setting: String,
    pub message: String,
}

impl Warning {
    pub fn unsupported(provider: Provider, setting: &str) -> Self {
        Warning {
            setting: setting.to_string(),
            message: format!("{provider} does not support `{setting}`; it was not sent"),
        }
    }
}

/// A tool call taken from a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

/// A provider-neutral response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// The provider's message/response id.
    pub id: Option<String>,
    pub provider: Provider,
    /// The model the provider says answered (may be a dated version of the requested alias).
    pub model: String,
    pub content: Vec<ContentPart>,
    pub finish_reason: FinishReason,
    pub usage: Usage,
    /// The provider's request id (`request-id` / `x-request-id` header), for support tickets.
    pub request_id: Option<String>,
    pub warnings: Vec<Warning>,
}

impl Response {
    /// The concatenated text parts.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|part| match part {
                ContentPart::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn tool_calls(&self) -> Vec<ToolCall> {
        self.content
            .iter()
            .filter_map(|part| match part {
                ContentPart::ToolCall {
                    id,
                    name,
                    arguments,
                    ..
                } => Some(ToolCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: arguments.clone(),
                }),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_model_names_resolve_to_their_provider() {
        let m = ModelRef::parse("anthropic/claude-haiku-4-5").unwrap();
        assert_eq!(
            (m.provider, m.name.as_str()),
            (Provider::Anthropic, "claude-haiku-4-5")
        );
        let m = ModelRef::parse("openai/my-fine-tune").unwrap();
        assert_eq!(
            (m.provider, m.name.as_str()),
            (Provider::OpenAi, "my-fine-tune")
        );
        let m = ModelRef::parse("gemini/gemini-2.5-flash").unwrap();
        assert_eq!(m.qualified(), "gemini/gemini-2.5-flash");
    }

    #[test]
    fn bare_model_names_resolve_by_prefix() {
        for (spec, provider) in [
            ("claude-sonnet-4-6", Provider::Anthropic),
            ("gpt-4o-mini", Provider::OpenAi),
            ("o1", Provider::OpenAi),
            ("o3-mini", Provider::OpenAi),
            ("o4-mini", Provider::OpenAi),
            ("gemini-2.5-pro", Provider::Gemini),
        ] {
            let m = ModelRef::parse(spec).unwrap();
            assert_eq!(m.provider, provider, "{spec}");
            assert_eq!(m.name, spec);
        }
    }

    #[test]
    fn unknown_or_empty_model_names_are_invalid_requests() {
        for spec in ["", "llama-3", "o1x", "anthropic/", "mistral/large"] {
            let err = ModelRef::parse(spec).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{spec}");
        }
    }

    #[test]
    fn request_accepts_string_content_and_string_system() {
        let req: Request = serde_json::from_value(serde_json::json!({
            "model": "auto",
            "system": "Be brief.",
            "messages": [{ "role": "user", "content": "Hi" },
                         { "role": "assistant", "content": [{ "type": "text", "text": "Hello" }] }],
            "maxTokens": 64,
            "toolChoice": { "type": "tool", "name": "lookup" },
            "responseFormat": { "type": "json_schema", "schema": { "type": "object" } },
            "metadata": { "conversationId": "c1" }
        }))
        .unwrap();
        assert_eq!(req.system_text().as_deref(), Some("Be brief."));
        assert_eq!(req.messages[0], Message::user("Hi"));
        assert_eq!(req.messages[1], Message::assistant("Hello"));
        assert_eq!(req.max_tokens, Some(64));
        assert_eq!(
            req.tool_choice,
            Some(ToolChoice::Tool {
                name: "lookup".into()
            })
        );
        assert!(matches!(
            req.response_format,
            Some(ResponseFormat::JsonSchema { ref name, strict: true, .. }) if name == "response"
        ));
        assert_eq!(req.metadata.conversation_id.as_deref(), Some("c1"));
    }

    #[test]
    fn content_and_system_read_strings_lists_and_only_system_reads_null() {
        // From text (the npm package's path) as from a Value: both must agree.
        let text = r#"{"model":"auto","system":[{"text":"A"},{"text":"B","cache":"5m"}],
            "messages":[{"role":"user","content":[{"type":"text","text":"x"},
                                                   {"type":"image","mediaType":"image/png","data":"AA=="}]}]}"#;
        let from_text: Request = serde_json::from_str(text).unwrap();
        let from_value: Request =
            serde_json::from_value(serde_json::from_str::<Value>(text).unwrap()).unwrap();
        assert_eq!(from_text, from_value);
        assert_eq!(from_text.system.len(), 2);
        assert_eq!(from_text.system[1].cache, Some(CacheTtl::FiveMinutes));
        assert_eq!(from_text.messages[0].content.len(), 2);

        let no_system: Request =
            serde_json::from_str(r#"{"model":"auto","system":null,"messages":[]}"#).unwrap();
        assert!(no_system.system.is_empty());
        for content in [
            "null",
            "3",
            "{\"type\":\"text\",\"text\":\"x\"}",
            "[{\"type\":\"nope\"}]",
        ] {
            let json =
                format!(r#"{{"model":"auto","messages":[{{"role":"user","content":{content}}}]}}"#);
            assert!(serde_json::from_str::<Request>(&json).is_err(), "{content}");
        }
    }

    #[test]
    fn usage_totals_count_only_what_was_reported() {
        assert_eq!(Usage::default().total_input_tokens(), None);
        let u = Usage {
            input_tokens: Some(10),
            cache_read_tokens: Some(100),
            cache_write_5m_tokens: Some(5),
            output_tokens: Some(7),
            ..Usage::default()
        };
        assert_eq!(u.total_input_tokens(), Some(115));
        assert_eq!(u.total_tokens(), Some(122));
    }

    #[test]
    fn usage_merge_keeps_earlier_fields_the_later_event_omits() {
        let mut u = Usage {
            input_tokens: Some(25),
            output_tokens: Some(1),
            ..Usage::default()
        };
        u.merge(&Usage {
            output_tokens: Some(15),
            ..Usage::default()
        });
        assert_eq!(u.input_tokens, Some(25));
        assert_eq!(u.output_tokens, Some(15));
    }
}
