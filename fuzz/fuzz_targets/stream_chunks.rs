//! Fuzzes the serde-free readers of the common stream chunks (`core::json_reader` and each
//! provider's `stream_chunk`): whatever they read from any text, serde must read to the same
//! value; they may refuse anything (serde then reads it).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        llm_edge::core::provider::check_chunk_readers(text);
    }
});
