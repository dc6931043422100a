//! The pure-Rust core: no wasm, no JS, no I/O. The faces (`js`, `proxy`) hand it a transport
//! and a clock; everything here is tested natively with fakes.
pub mod client;
pub mod error;
pub mod event;
pub mod http;
pub mod model;
pub mod provider;
pub mod runtime;
pub mod sse;
