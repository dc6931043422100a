//! What both wasm faces (the npm package and the Worker proxy) need from the JS host: `fetch`
//! as the core's Transport and `Date.now()`/`setTimeout` as its Clock.
mod fetch;

#[cfg(feature = "proxy")]
pub(crate) use fetch::{network_error, read_result};
#[cfg(feature = "proxy")]
pub use fetch::{AbortOnDrop, FetchBody};
pub use fetch::{FetchTransport, JsClock};
