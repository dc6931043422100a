//! Adapter for the Google Gemini API (`v1beta` `generateContent`, and
//! `streamGenerateContent?alt=sse` for streams); see `super` for the file layout shared by every
//! provider.
//!
//! Gemini specifics worth knowing:
//! - Gemini has no tool call ids: calls are named `call_{n}` in response order (a part's own
//!   `id` wins when present), and tool results are matched back by tool name, taken from the
//!   result or from the earlier call with the same id.
//! - A call's `thoughtSignature` travels in `ContentPart::ToolCall::signature` and is sent back
//!   unchanged. Thought summaries come out as reasoning but cannot be sent back (warning).
//! - A response does not name the requested model: `Response::model` is `modelVersion`, or
//!   empty when absent (the client fills in the requested model).
//! - A stream has no `[DONE]`: the chunk with a `finishReason` marks completion and `Finish` is
//!   emitted at the end of the body.
pub mod decode;
pub mod encode;
pub mod error;
pub mod inbound;
pub mod stream;
pub(super) mod stream_chunk;
mod wire;
