//! Fuzzes each provider's whole-response and error decoders: any body with any status must give
//! a response or a classified error, never a panic.
//!
//! Input layout: byte 0 picks the provider, byte 1 the status, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_edge::core::http::{Headers, HttpResponse};
use llm_edge::core::model::Provider;
use llm_edge::core::provider;

const STATUSES: [u16; 10] = [200, 400, 401, 403, 404, 408, 429, 500, 503, 529];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let provider = Provider::ALL[data[0] as usize % 3];
    let status = STATUSES[data[1] as usize % STATUSES.len()];
    let mut headers = Headers::new();
    headers.set("retry-after", String::from_utf8_lossy(&data[2..data.len().min(12)]).into_owned());
    let response = HttpResponse { status, headers, body: data[2..].to_vec() };
    match provider::decode(provider, &response) {
        Ok(_) => assert_eq!(status, 200),
        Err(error) => {
            if status != 200 {
                assert_eq!(error.status(), Some(status));
            }
            assert_eq!(error.provider(), Some(provider));
        }
    }
});
