//! Fuzzes the SSE decoder: feeding a stream in arbitrary chunks must give exactly what feeding
//! it whole gives (events, error, what `finish` returns, retry time), and no event's data may
//! exceed the size limit.
//!
//! Input layout: byte 0 picks the size limit, byte 1 seeds the chunk cuts, the rest is the
//! stream. Run with `cargo +nightly fuzz run sse_decoder` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_edge::core::sse::{SseDecoder, SseError, SseEvent, DEFAULT_MAX_EVENT_BYTES};

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<SseEvent>,
    error: Option<SseError>,
    finished: Option<SseEvent>,
    retry_ms: Option<u64>,
}

fn decode<'a>(limit: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut decoder = SseDecoder::with_max_event_bytes(limit);
    let mut events = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(e) = decoder.feed_into(chunk, &mut events) {
            error = Some(e);
            // Poisoned: every later feed returns the same error.
            assert_eq!(decoder.feed(b"data: x\n\n").err(), error);
            break;
        }
    }
    Outcome {
        events,
        error,
        finished: decoder.finish(),
        retry_ms: decoder.retry_ms(),
    }
}

/// Cuts `stream` into chunks of 1 to 32 bytes, with empty chunks here and there, all derived
/// from the stream's own bytes mixed with `seed`.
fn chunks(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    let mut i = 0usize;
    while !rest.is_empty() {
        let x = stream[i % stream.len()].wrapping_mul(31) ^ seed ^ (i as u8);
        if x & 0x80 != 0 {
            // An empty chunk must change nothing (e.g. between the CR and LF of a CRLF).
            out.push(&rest[..0]);
        }
        let len = 1 + usize::from(x % 32);
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        out.push(chunk);
        rest = tail;
        i += 1;
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let [limit_byte, seed, stream @ ..] = input else {
        return;
    };
    // Mostly small limits, so the size checks run; sometimes the default.
    let limit = match limit_byte {
        0xFF => DEFAULT_MAX_EVENT_BYTES,
        n => usize::from(*n),
    };

    let whole = decode(limit, [stream]);
    let chunked = decode(limit, chunks(stream, *seed));
    assert_eq!(whole, chunked, "chunking changed the outcome");
    let bytewise = decode(limit, stream.chunks(1));
    assert_eq!(
        whole, bytewise,
        "byte-at-a-time feeding changed the outcome"
    );

    for event in whole.events.iter().chain(&whole.finished) {
        assert!(
            event.data.len() <= limit,
            "event data of {} bytes exceeds the {limit}-byte limit",
            event.data.len()
        );
    }
});
