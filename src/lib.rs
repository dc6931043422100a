//! llm-edge: one client for the Anthropic Messages API, OpenAI Chat Completions and Google
//! Gemini, shared by an npm package (the `js` face) and a Cloudflare Worker proxy (the `proxy`
//! face). Everything that decides behaviour lives in [`core`], which is pure Rust: it never
//! touches `fetch`, timers or the wall clock, so every rule is tested natively.
pub mod core;

#[cfg(any(feature = "js", feature = "proxy"))]
mod web;

#[cfg(feature = "js")]
pub mod js;

#[cfg(feature = "proxy")]
pub mod proxy;
