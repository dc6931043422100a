//! Helpers shared by the server-face tests (`tests/inbound_*.rs`): recorded fixtures, whole and
//! streamed answers decoded in the client direction, and the comparison of two answers.
use std::path::PathBuf;

use llm_edge::core::error::Error;
use llm_edge::core::event::{ResponseAssembler, StreamEvent};
use llm_edge::core::http::{Headers, HttpResponse};
use llm_edge::core::model::{Provider, Response};
use llm_edge::core::provider::StreamParser;

/// A recorded fixture's bytes (`tests/fixtures/<provider>/<name>`).
pub fn fixture_bytes(provider: &str, name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(provider)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The success fixtures of a provider (`<case>.json` / `<case>.sse`, errors and broken streams
/// left out).
pub fn cases(provider: &str, extension: &str) -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(provider);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(extension))
        .filter(|name| {
            !name.starts_with("error_")
                && !name.starts_with("truncated")
                && !name.starts_with("in_stream")
        })
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{provider}: {names:?}");
    names
}

pub fn success(body: &[u8]) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: Headers::new(),
        body: body.to_vec(),
    }
}

/// Parses a whole SSE body: the events, and how it ended.
pub fn parse_stream(provider: Provider, bytes: &[u8]) -> (Vec<StreamEvent>, Result<(), Error>) {
    let mut parser = StreamParser::new(provider);
    let mut events = Vec::new();
    let result = parser
        .feed(bytes, &mut events)
        .and_then(|()| parser.finish(&mut events));
    (events, result)
}

/// Folds a finished stream's events into the response `chat()` would have returned.
pub fn assemble(provider: Provider, events: &[StreamEvent]) -> Response {
    let mut assembler = ResponseAssembler::new(provider, "m");
    for event in events {
        assembler.push(event);
    }
    assert!(assembler.is_finished());
    assembler.into_response()
}

/// Two answers are the same when their content, finish and usage are.
pub fn assert_same_answer(got: &Response, expected: &Response, case: &str) {
    assert_eq!(got.content, expected.content, "{case}");
    assert_eq!(
        got.finish_reason.unified, expected.finish_reason.unified,
        "{case}"
    );
    assert_eq!(got.usage, expected.usage, "{case}");
}
