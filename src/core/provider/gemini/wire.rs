//! Wire types (serde), private to this adapter: the parts of the Gemini `v1beta` REST API
//! (`GenerateContentRequest`, `GenerateContentResponse`, `google.rpc.Status`) that llm-edge
//! reads or writes. Request types borrow from the unified request; response types own their
//! data and default every field, so that unknown or missing fields never fail decoding.
use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

// ----------------------------------------------------------------------------- request

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateContentRequest<'a> {
    pub contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<SystemInstruction<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    #[serde(skip_serializing_if = "GenerationConfig::is_empty")]
    pub generation_config: GenerationConfig<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct Content<'a> {
    /// `user` or `model`.
    pub role: &'static str,
    pub parts: Vec<Part<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct SystemInstruction<'a> {
    pub parts: Vec<Part<'a>>,
}

/// One part of a turn: exactly one of the data fields is set (Gemini's `Part.data` oneof),
/// plus the `thoughtSignature` that must travel back with a function call.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Part<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Blob<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_response: Option<FunctionResponse<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Blob<'a> {
    pub mime_type: &'a str,
    pub data: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionCall<'a> {
    pub name: &'a str,
    pub args: Cow<'a, Value>,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionResponse<'a> {
    pub name: &'a str,
    pub response: Value,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerationConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_json_schema: Option<&'a Value>,
}

impl GenerationConfig<'_> {
    pub fn is_empty(&self) -> bool {
        self.max_output_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.top_k.is_none()
            && self.stop_sequences.is_empty()
            && self.response_mime_type.is_none()
            && self.response_json_schema.is_none()
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Tool<'a> {
    pub function_declarations: Vec<FunctionDeclaration<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FunctionDeclaration<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// Full JSON Schema: the older `parameters` field takes only an OpenAPI subset and rejects
    /// common keywords such as `additionalProperties`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters_json_schema: Option<&'a Value>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ToolConfig {
    pub function_calling_config: FunctionCallingConfig,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FunctionCallingConfig {
    /// `AUTO`, `ANY` or `NONE`.
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_function_names: Vec<String>,
}

// ----------------------------------------------------------------------------- response

/// A whole response, and also every chunk of an `alt=sse` stream.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct GenerateContentResponse {
    pub candidates: Vec<Candidate>,
    pub prompt_feedback: Option<PromptFeedback>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    /// Set instead of everything else when a stream fails midway.
    pub error: Option<Status>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Candidate {
    pub content: Option<CandidateContent>,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct CandidateContent {
    pub parts: Vec<ResponsePart>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct ResponsePart {
    pub text: Option<String>,
    /// The text is a thought summary, not answer text.
    pub thought: bool,
    pub thought_signature: Option<String>,
    pub function_call: Option<ResponseFunctionCall>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct ResponseFunctionCall {
    /// Absent on the Gemini API today (calls are matched by name and order).
    pub id: Option<String>,
    pub name: String,
    pub args: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct PromptFeedback {
    pub block_reason: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct UsageMetadata {
    /// Includes `cached_content_token_count`.
    pub prompt_token_count: Option<u64>,
    pub cached_content_token_count: Option<u64>,
    /// Excludes `thoughts_token_count`.
    pub candidates_token_count: Option<u64>,
    pub thoughts_token_count: Option<u64>,
}

// ----------------------------------------------------------------------------- errors

/// An error body: `{"error": Status}` (the `alt=sse` stream and plain calls), or an array of
/// those (what a stream without `alt=sse` answers).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ErrorBody {
    One { error: Status },
    Many(Vec<ErrorEnvelope>),
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorEnvelope {
    pub error: Status,
}

impl ErrorBody {
    pub fn into_status(self) -> Option<Status> {
        match self {
            ErrorBody::One { error } => Some(error),
            ErrorBody::Many(list) => list.into_iter().next().map(|e| e.error),
        }
    }
}

/// `google.rpc.Status` as JSON. `details` stay raw values: each is read on its own by its
/// `@type`, so one odd detail cannot make the whole error unreadable.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Status {
    pub code: Option<Value>,
    pub message: Option<String>,
    pub status: Option<String>,
    pub details: Vec<Value>,
}

/// The fields of the `google.rpc` detail types llm-edge reads (`RetryInfo.retryDelay`,
/// `QuotaFailure.violations`, `ErrorInfo.reason`); one struct for all since each detail
/// carries only its own.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct ErrorDetail {
    #[serde(rename = "@type")]
    pub type_url: String,
    pub retry_delay: Option<String>,
    pub violations: Vec<QuotaViolation>,
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct QuotaViolation {
    pub quota_id: Option<String>,
    pub quota_metric: Option<String>,
}

// ------------------------------------------------------------- server direction (inbound)
//
// What the proxy answers to Gemini-format clients: a `GenerateContentResponse` (whole, or one
// per stream chunk) and error bodies. Borrowed from the unified response; see `inbound`.

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResponseOut<'a> {
    pub candidates: [CandidateOut<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage_metadata: Option<UsageMetadataOut>,
    pub model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_id: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CandidateOut<'a> {
    pub content: ContentOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<&'a str>,
    pub index: u32,
}

#[derive(Debug, Serialize)]
pub(super) struct ContentOut<'a> {
    pub parts: Vec<PartOut<'a>>,
    pub role: &'static str,
}

/// A response part: text (a thought summary when `thought`), or a function call.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PartOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub thought: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCallOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionCallOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    pub name: &'a str,
    pub args: Cow<'a, Value>,
}

/// `usageMetadata`; counts the upstream did not report are left out, as Gemini leaves out
/// what it does not count.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UsageMetadataOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_token_count: Option<u64>,
}

/// `{"error": google.rpc.Status}`, as an answer body or a stream chunk.
#[derive(Debug, Serialize)]
pub(super) struct ErrorOut<'a> {
    pub error: StatusOut<'a>,
}

#[derive(Debug, Serialize)]
pub(super) struct StatusOut<'a> {
    pub code: u16,
    pub message: &'a str,
    pub status: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<RetryInfoOut>,
    /// An `invalid_output` error's answer text, which failed the JSON schema.
    #[serde(rename = "rawOutput", skip_serializing_if = "Option::is_none")]
    pub raw_output: Option<&'a str>,
}

/// `google.rpc.RetryInfo`: how long to wait, e.g. `"32s"`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RetryInfoOut {
    #[serde(rename = "@type")]
    pub type_url: &'static str,
    pub retry_delay: String,
}
