//! What both wasm faces (the npm package and the Worker proxy) need from the JS host: `fetch`
//! as the core's Transport and `Date.now()`/`setTimeout` as its Clock.
mod fetch;

#[cfg(feature = "proxy")]
pub(crate) use fetch::{network_error, read_chunk};
#[cfg(feature = "proxy")]
pub use fetch::{AbortOnDrop, FetchBody};
pub use fetch::{FetchTransport, JsClock};

/// A map keyed by an id or a hash (a stream's or a timer's number, a client key): SipHash,
/// which the wasm runs on every lookup of the isolate's tables, buys nothing for such keys.
pub(crate) type IdMap<K, V> =
    std::collections::HashMap<K, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Fibonacci hashing of one integer key.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, key: u32) {
        self.write_u64(u64::from(key));
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}
