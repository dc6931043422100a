//! Wire types of the Anthropic Messages API (serde), private to this adapter.
//!
//! Request types borrow from the unified [`Request`](crate::core::model::Request) so that large
//! payloads (base64 images, schemas) are serialised without being copied. Response types are
//! lenient: every field is optional or defaulted and unknown block, delta and event types map
//! to an `Other` variant, so additions to the API never break decoding.
use std::borrow::Cow;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::core::model::{CacheTtl, Usage};

// ---------------------------------------------------------------------------------- request

/// The body of `POST /v1/messages`.
#[derive(Debug, Serialize)]
pub(super) struct MessagesRequest<'a> {
    pub model: &'a str,
    pub max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<System<'a>>,
    pub messages: Vec<MessageParam<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata<'a>>,
}

/// `system`: a plain string, or text blocks when some carry `cache_control`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum System<'a> {
    Text(String),
    Blocks(Vec<ContentBlockParam<'a>>),
}

#[derive(Debug, Serialize)]
pub(super) struct MessageParam<'a> {
    pub role: &'static str,
    pub content: Vec<ContentBlockParam<'a>>,
}

/// A content block sent in `system` or `messages[].content`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentBlockParam<'a> {
    Text {
        text: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    Image {
        source: ImageSource<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: Cow<'a, Value>,
    },
    ToolResult {
        tool_use_id: &'a str,
        /// Omitted when empty (the API rejects empty text).
        #[serde(skip_serializing_if = "str::is_empty")]
        content: &'a str,
        /// Only sent when true (the API's default is false).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<CacheControl>,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
}

impl ContentBlockParam<'_> {
    /// The block's `cache_control` slot, for the blocks that can carry one.
    pub fn cache_control_mut(&mut self) -> Option<&mut Option<CacheControl>> {
        match self {
            ContentBlockParam::Text { cache_control, .. }
            | ContentBlockParam::Image { cache_control, .. }
            | ContentBlockParam::ToolResult { cache_control, .. } => Some(cache_control),
            ContentBlockParam::ToolUse { .. } | ContentBlockParam::Thinking { .. } => None,
        }
    }
}

/// `{"type":"base64","media_type":...,"data":...}`.
#[derive(Debug, Serialize)]
pub(super) struct ImageSource<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub media_type: &'a str,
    pub data: &'a str,
}

/// A prompt-cache breakpoint: `{"type":"ephemeral"}` (5 minutes, the API's default) or
/// `{"type":"ephemeral","ttl":"1h"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CacheControl(pub CacheTtl);

impl Serialize for CacheControl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let one_hour = self.0 == CacheTtl::OneHour;
        let mut map = serializer.serialize_map(Some(if one_hour { 2 } else { 1 }))?;
        map.serialize_entry("type", "ephemeral")?;
        if one_hour {
            map.serialize_entry("ttl", "1h")?;
        }
        map.end()
    }
}

#[derive(Debug, Serialize)]
pub(super) struct Tool<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    pub input_schema: Cow<'a, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<CacheControl>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ToolChoice<'a> {
    Auto,
    Any,
    Tool { name: &'a str },
    None,
}

#[derive(Debug, Serialize)]
pub(super) struct Metadata<'a> {
    pub user_id: &'a str,
}

// --------------------------------------------------------------------------------- response

/// A whole Messages API response (also the `message` of a stream's `message_start`).
#[derive(Debug, Deserialize)]
pub(super) struct MessageResponse {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub content: Vec<ContentBlock>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// A response content block. `redacted_thinking`, server tool blocks and future types are
/// `Other` and ignored.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ContentBlock {
    Text {
        #[serde(default)]
        text: String,
    },
    ToolUse {
        #[serde(default)]
        id: String,
        #[serde(default)]
        name: String,
        /// `Null` when absent; callers read that as `{}`.
        #[serde(default)]
        input: Value,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: Option<String>,
    },
    #[serde(other)]
    Other,
}

/// `usage` of a response, `message_start` or `message_delta`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct WireUsage {
    #[serde(default)]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    pub cache_creation: Option<CacheCreation>,
}

/// The split of cache writes by TTL.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CacheCreation {
    #[serde(default)]
    pub ephemeral_5m_input_tokens: Option<u64>,
    #[serde(default)]
    pub ephemeral_1h_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Overlays the counts this report carries onto `usage` (reports are cumulative; fields
    /// the report lacks keep their earlier value, and nothing is invented).
    ///
    /// Cache writes come from the `cache_creation` TTL split when it is present. Otherwise
    /// `cache_creation_input_tokens` is the total: the share already known to be 1-hour writes
    /// is kept and the rest counts as 5-minute writes (the API's default TTL).
    pub fn apply_to(&self, usage: &mut Usage) {
        let split = self.cache_creation.as_ref().filter(|c| {
            c.ephemeral_5m_input_tokens.is_some() || c.ephemeral_1h_input_tokens.is_some()
        });
        let mut writes = Usage::default();
        match (split, self.cache_creation_input_tokens) {
            (Some(split), _) => {
                writes.cache_write_5m_tokens = split.ephemeral_5m_input_tokens;
                writes.cache_write_1h_tokens = split.ephemeral_1h_input_tokens;
            }
            (None, Some(total)) => {
                let one_hour = usage.cache_write_1h_tokens.unwrap_or(0);
                writes.cache_write_5m_tokens = Some(total.saturating_sub(one_hour));
            }
            (None, None) => {}
        }
        usage.merge(&Usage {
            input_tokens: self.input_tokens,
            cache_read_tokens: self.cache_read_input_tokens,
            output_tokens: self.output_tokens,
            ..writes
        });
    }
}

/// One server-sent event's `data`, discriminated by its `type` (equal to the SSE event name).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum StreamPayload {
    MessageStart {
        message: MessageResponse,
    },
    ContentBlockStart {
        index: u32,
        content_block: ContentBlock,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        #[serde(default)]
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    MessageStop,
    Error {
        #[serde(default)]
        error: Option<ErrorDetail>,
        #[serde(default)]
        request_id: Option<String>,
    },
    /// `ping` and any event type this adapter does not know.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum BlockDelta {
    TextDelta {
        #[serde(default)]
        text: String,
    },
    InputJsonDelta {
        #[serde(default)]
        partial_json: String,
    },
    ThinkingDelta {
        #[serde(default)]
        thinking: String,
    },
    SignatureDelta {
        #[serde(default)]
        signature: String,
    },
    /// `citations_delta` and future delta types.
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
}

// ----------------------------------------------------------------------------------- errors

/// `{"type":"error","error":{"type":T,"message":M},"request_id":"req_..."}`.
#[derive(Debug, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub error: Option<ErrorDetail>,
    #[serde(default)]
    pub request_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorDetail {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

// ------------------------------------------------------------- server direction (inbound)
//
// What the proxy answers to Anthropic-format clients: a message, its stream events and error
// bodies. Response content blocks reuse [`ContentBlockParam`] (same shapes); see `inbound`.

/// A whole message, and the `message` of `message_start`.
#[derive(Debug, Serialize)]
pub(super) struct MessageOut<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: &'a str,
    pub content: Vec<ContentBlockParam<'a>>,
    pub stop_reason: Option<&'a str>,
    pub stop_sequence: Option<&'a str>,
    pub usage: UsageOut,
}

/// A message's `usage`: `input_tokens` and `output_tokens` are required numbers, the cache
/// counts nullable.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct UsageOut {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreationOut>,
    pub output_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct CacheCreationOut {
    pub ephemeral_5m_input_tokens: u64,
    pub ephemeral_1h_input_tokens: u64,
}

/// `message_delta`'s cumulative usage: `output_tokens` required, the rest nullable.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct DeltaUsageOut {
    pub output_tokens: u64,
    pub input_tokens: Option<u64>,
    pub cache_creation_input_tokens: Option<u64>,
    pub cache_read_input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreationOut>,
}

/// One stream event's `data` (the SSE event name is its `type`).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum StreamEventOut<'a> {
    MessageStart {
        message: MessageOut<'a>,
    },
    ContentBlockStart {
        index: u32,
        content_block: ContentBlockParam<'a>,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDeltaOut<'a>,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDeltaOut<'a>,
        usage: DeltaUsageOut,
    },
    MessageStop,
}

/// A `content_block_delta`'s `delta`, tagged `text_delta`, `thinking_delta`, ...
#[derive(Debug, Serialize)]
#[serde(tag = "type")]
pub(super) enum BlockDeltaOut<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Debug, Serialize)]
pub(super) struct MessageDeltaOut<'a> {
    pub stop_reason: Option<&'a str>,
    pub stop_sequence: Option<&'a str>,
}

/// `{"type":"error","error":{"type","message"},"request_id"}`, as an answer body or the data
/// of an `error` stream event.
#[derive(Debug, Serialize)]
pub(super) struct ErrorOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: ErrorDetailOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(super) struct ErrorDetailOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub message: &'a str,
    /// An `invalid_output` error's answer text, which failed the JSON schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_output: Option<&'a str>,
}
