//! Adapter for the Anthropic Messages API (`POST /v1/messages`); see `super` for the file
//! layout shared by every provider.
//!
//! Anthropic-specific choices a reader should know:
//! - `max_tokens` is required by the API: a request without one is sent with
//!   [`DEFAULT_MAX_TOKENS`].
//! - Anthropic has no JSON mode: `ResponseFormat::Json` / `JsonSchema` are sent as a forced tool
//!   named [`STRUCTURED_OUTPUT_TOOL`] whose input schema is the requested schema. Decoding turns
//!   that tool's input back into *text* content (whole and streamed), so callers see a JSON
//!   answer and never a tool call.
//! - Prompt-cache markers become `cache_control` blocks; at most [`MAX_CACHE_BREAKPOINTS`] are
//!   sent (the last ones in prompt order), with a warning when more were marked.
pub mod decode;
pub mod encode;
pub mod error;
pub mod inbound;
pub mod stream;
pub(super) mod stream_chunk;
mod wire;

/// The official endpoint, used when the configuration names no base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` header value this adapter speaks.
pub const API_VERSION: &str = "2023-06-01";

/// `max_tokens` sent when the request does not set one: the Messages API requires the field,
/// and 4096 is an output length every current Claude model accepts.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The reserved tool name that carries structured output (JSON mode) on Anthropic. A tool call
/// with this name in a response is decoded as text holding the JSON of its input.
pub const STRUCTURED_OUTPUT_TOOL: &str = "llm_edge_structured_output";

/// Anthropic accepts at most this many `cache_control` breakpoints in one request.
pub const MAX_CACHE_BREAKPOINTS: usize = 4;

/// The header carrying Anthropic's request id.
pub(crate) const REQUEST_ID_HEADER: &str = "request-id";
