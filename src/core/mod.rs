//! The pure-Rust core: no wasm, no JS, no I/O. The faces (`js`, `proxy`) hand it a transport
//! and a clock; everything here is tested natively with fakes.
pub mod batch;
pub mod budget;
pub mod cache;
pub mod client;
pub mod cost;
pub mod error;
pub mod event;
pub mod gateway;
pub mod http;
pub mod json_reader;
pub mod model;
pub mod policy;
pub mod pricing;
pub mod provider;
pub mod ratelimit;
pub mod route;
pub mod runtime;
pub mod schema;
pub mod screen;
pub mod sse;
pub mod tokens;
pub mod usage;
