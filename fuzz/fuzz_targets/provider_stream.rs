//! Fuzzes each provider's stream decoder behind the SSE decoder: any bytes, cut anywhere, must
//! decode without panicking, and chunking must not change the events or the outcome.
//!
//! Input layout: byte 0 picks the provider, byte 1 seeds the chunk cuts, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_edge::core::event::StreamEvent;
use llm_edge::core::model::Provider;
use llm_edge::core::provider::StreamParser;

fn run<'a>(provider: Provider, chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<StreamEvent>, Option<String>) {
    let mut parser = StreamParser::new(provider);
    let mut events = Vec::new();
    for chunk in chunks {
        if let Err(e) = parser.feed(chunk, &mut events) {
            return (events, Some(e.kind().to_string()));
        }
    }
    let outcome = parser.finish(&mut events).err().map(|e| e.kind().to_string());
    (events, outcome)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let provider = Provider::ALL[data[0] as usize % 3];
    let seed = data[1] as usize;
    let body = &data[2..];
    let whole = run(provider, [body]);
    let mut chunks = Vec::new();
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = (1 + (seed + i * 7) % 23).min(rest.len());
        chunks.push(&rest[..n]);
        rest = &rest[n..];
        i += 1;
    }
    let chunked = run(provider, chunks);
    assert_eq!(whole, chunked);
});
