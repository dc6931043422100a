//! Wire types (serde) of the OpenAI Chat Completions API, private to this adapter.
//!
//! Requests borrow from the unified [`Request`](crate::core::model::Request). Responses, stream
//! chunks and error bodies are decoded leniently: every field is optional or defaulted, `null`
//! is accepted wherever a value may be missing, and unknown fields are ignored, so that
//! OpenAI-compatible servers that omit or add fields still decode.
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

// ------------------------------------------------------------------------------ request

#[derive(Debug, Serialize)]
pub(super) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<ChatMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(super) struct StreamOptions {
    pub include_usage: bool,
}

#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub(super) enum ChatMessage<'a> {
    System {
        content: String,
    },
    User {
        content: UserContent<'a>,
    },
    Assistant {
        /// `null` when the turn holds only tool calls (as the API expects).
        content: Option<AssistantContent<'a>>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCallOut<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: &'a str,
    },
}

/// A lone text part is sent as a plain string, anything else as an array of parts.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum UserContent<'a> {
    Text(&'a str),
    Parts(Vec<UserPart<'a>>),
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum UserPart<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: ImageUrl },
}

#[derive(Debug, Serialize)]
pub(super) struct ImageUrl {
    /// A `data:<media type>;base64,<data>` URL.
    pub url: String,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum AssistantContent<'a> {
    Text(&'a str),
    Parts(Vec<AssistantTextPart<'a>>),
}

#[derive(Debug, Serialize)]
pub(super) struct AssistantTextPart<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct ToolCallOut<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCallOut<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionCallOut<'a> {
    pub name: &'a str,
    /// The arguments as a JSON document in a string.
    pub arguments: String,
}

#[derive(Debug, Serialize)]
pub(super) struct Tool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionDefinition<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionDefinition<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    pub parameters: &'a Value,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum ToolChoice<'a> {
    /// `"auto"`, `"none"` or `"required"`.
    Mode(&'static str),
    Function {
        #[serde(rename = "type")]
        kind: &'static str,
        function: NamedFunction<'a>,
    },
}

#[derive(Debug, Serialize)]
pub(super) struct NamedFunction<'a> {
    pub name: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ResponseFormat<'a> {
    JsonObject,
    JsonSchema { json_schema: JsonSchema<'a> },
}

#[derive(Debug, Serialize)]
pub(super) struct JsonSchema<'a> {
    pub name: &'a str,
    pub schema: &'a Value,
    pub strict: bool,
}

// ----------------------------------------------------------------------------- response

/// `null` decodes like a missing field: to the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A whole `chat.completion`, and equally one `chat.completion.chunk` of a stream (the chunk
/// carries `delta` where the completion carries `message`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct ChatCompletion {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    /// Some OpenAI-compatible servers answer 200 (or put into a stream) an error object.
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Choice {
    /// Absent on some compatible servers; then it is the only choice.
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub message: Option<WireMessage>,
    #[serde(default)]
    pub delta: Option<WireMessage>,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// `choices[].message` of a completion or `choices[].delta` of a chunk.
#[derive(Debug, Default, Deserialize)]
pub(super) struct WireMessage {
    #[serde(default)]
    pub content: Option<WireContent>,
    #[serde(default)]
    pub refusal: Option<String>,
    /// Reasoning text of some OpenAI-compatible servers (DeepSeek, vLLM); OpenAI never sends it.
    #[serde(default)]
    pub reasoning_content: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub tool_calls: Vec<WireToolCall>,
}

/// Message content: OpenAI sends a string; a few compatible servers send text parts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum WireContent {
    Text(String),
    Parts(Vec<WireContentPart>),
}

impl WireContent {
    /// The text this content holds (text parts concatenated; other parts contribute nothing).
    pub fn text(self) -> String {
        match self {
            WireContent::Text(text) => text,
            WireContent::Parts(parts) => parts.into_iter().filter_map(|p| p.text).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct WireContentPart {
    #[serde(default)]
    pub text: Option<String>,
}

/// A whole tool call (in a completion) or a fragment of one (in a chunk).
#[derive(Debug, Default, Deserialize)]
pub(super) struct WireToolCall {
    /// Fragments only: which call of the response this fragment belongs to.
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<WireFunction>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct WireFunction {
    #[serde(default)]
    pub name: Option<String>,
    /// A JSON document in a string (OpenAI); a few compatible servers send the object itself.
    #[serde(default)]
    pub arguments: Option<Value>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(super) struct WireUsage {
    /// All prompt tokens, cached ones included.
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    /// All output tokens, reasoning ones included.
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    #[serde(default)]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(super) struct PromptTokensDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub(super) struct CompletionTokensDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

// -------------------------------------------------------------------------------- error

/// `{"error":{"message","type","param","code"}}`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ErrorEnvelope {
    #[serde(default)]
    pub error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ApiError {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// A string on OpenAI; a number on some compatible servers.
    #[serde(default)]
    pub code: Option<Value>,
}

// ------------------------------------------------------------- server direction (inbound)
//
// What the proxy answers to OpenAI-format clients: a `chat.completion`, its stream chunks and
// error bodies. Borrowed from the unified response; see `inbound`.

/// A whole `chat.completion`.
#[derive(Debug, Serialize)]
pub(super) struct CompletionOut<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub choices: [CompletionChoiceOut<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageOut>,
}

#[derive(Debug, Serialize)]
pub(super) struct CompletionChoiceOut<'a> {
    pub index: u32,
    pub message: CompletionMessageOut<'a>,
    pub logprobs: Option<()>,
    pub finish_reason: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct CompletionMessageOut<'a> {
    pub role: &'static str,
    /// `null` when the answer is only tool calls.
    pub content: Option<String>,
    pub refusal: Option<()>,
    /// Reasoning text, in the field OpenAI-compatible reasoning servers use (DeepSeek, vLLM);
    /// OpenAI's own SDK ignores it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallOut<'a>>,
    pub annotations: [(); 0],
}

/// `usage`. The three counts are required by the format; the details only appear when known.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct UsageOut {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetailsOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetailsOut>,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct PromptTokensDetailsOut {
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct CompletionTokensDetailsOut {
    pub reasoning_tokens: u64,
}

/// One `chat.completion.chunk`.
#[derive(Debug, Serialize)]
pub(super) struct ChunkOut<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    /// Empty in the final usage chunk.
    pub choices: Vec<ChunkChoiceOut<'a>>,
    /// Absent unless the client asked for `include_usage`; then `null` on every chunk but the
    /// usage chunk, as OpenAI sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<UsageOut>>,
}

#[derive(Debug, Serialize)]
pub(super) struct ChunkChoiceOut<'a> {
    pub index: u32,
    pub delta: DeltaOut<'a>,
    pub logprobs: Option<()>,
    pub finish_reason: Option<&'static str>,
}

#[derive(Debug, Default, Serialize)]
pub(super) struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallDeltaOut<'a>>,
}

/// A tool-call fragment: the first carries id, type and name, later ones argument pieces.
#[derive(Debug, Serialize)]
pub(super) struct ToolCallDeltaOut<'a> {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionDeltaOut<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionDeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

/// `{"error":{"message","type","param","code"}}`, as an answer body or a stream chunk.
#[derive(Debug, Serialize)]
pub(super) struct ErrorOut<'a> {
    pub error: ErrorDetailOut<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct ErrorDetailOut<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub param: Option<&'a str>,
    pub code: Option<&'a str>,
    /// An `invalid_output` error's answer text, which failed the JSON schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_output: Option<&'a str>,
}
