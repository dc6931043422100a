//! Adapter for the OpenAI Chat Completions API (`POST /v1/chat/completions`); see `super` for
//! the file layout shared by every provider. OpenAI-compatible servers are served too: the
//! decoders accept the fields some of them add or leave out.
pub mod decode;
pub mod encode;
pub mod error;
pub mod inbound;
pub mod stream;
pub(super) mod stream_chunk;
mod wire;
