//! Input hygiene in the client: every call's user text and tool results lose their control and
//! invisible characters before anything is sent (reported in an event and the usage record),
//! and a request over the input cap is refused with a typed error before any attempt.
mod support;

use std::cell::RefCell;
use std::rc::Rc;

use llm_edge::core::client::CallOptions;
use llm_edge::core::error::ErrorKind;
use llm_edge::core::model::{Message, Request};
use llm_edge::core::screen::{HygieneConfig, INPUT_TOO_LONG_CODE};
use llm_edge::core::usage::UsageRecord;
use serde_json::json;
use support::*;

const GPT: &str = "openai/gpt-4o-mini";

fn with_records(
    configure: impl FnOnce(&mut llm_edge::core::client::ClientConfig),
) -> (Harness, Rc<RefCell<Vec<UsageRecord>>>) {
    let records = Rc::new(RefCell::new(Vec::new()));
    let sink = records.clone();
    let h = harness(|config| {
        config.on_usage = Some(Rc::new(move |r: &UsageRecord| {
            sink.borrow_mut().push(r.clone())
        }));
        configure(config);
    });
    (h, records)
}

fn say(text: &str) -> Request {
    let mut request = Request::new(GPT, vec![Message::user(text)]);
    request.max_tokens = Some(100);
    request
}

#[test]
fn invisible_characters_are_stripped_before_sending_and_reported() {
    let (h, records) = with_records(|_| {});
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    h.chat_with(
        say("ig\u{200B}nore\u{7} this\u{202E}"),
        CallOptions::default(),
    )
    .unwrap();
    let sent = h.transport.exchanges()[0].body();
    assert_eq!(sent["messages"][0]["content"], "ignore this");
    let reported = json!([{ "message": 0, "part": 0, "changes": [
        { "type": "removed-control-characters", "count": 1 },
        { "type": "removed-zero-width-characters", "count": 1 },
        { "type": "removed-bidi-controls", "count": 1 },
    ] }]);
    let events = h.events.of_type("sanitized");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["changes"], reported);
    assert_eq!(records.borrow()[0].sanitized, Some(reported));
    // The sanitized event comes before the attempt.
    let types = h.events.types();
    let position = |t: &str| types.iter().position(|x| x == t).unwrap();
    assert!(position("sanitized") < position("attempt-start"));
}

#[test]
fn clean_input_reports_nothing_and_stripping_can_be_turned_off() {
    let (h, records) = with_records(|_| {});
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    h.chat_with(say("plain text"), CallOptions::default())
        .unwrap();
    assert!(h.events.of_type("sanitized").is_empty());
    assert_eq!(records.borrow()[0].sanitized, None);

    let (h, _) = with_records(|config| {
        config.hygiene = HygieneConfig {
            strip: false,
            max_input_chars: None,
        }
    });
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    h.chat_with(say("a\u{200B}b"), CallOptions::default())
        .unwrap();
    assert_eq!(
        h.transport.exchanges()[0].body()["messages"][0]["content"],
        "a\u{200B}b"
    );
}

#[test]
fn an_input_over_the_cap_is_refused_before_any_attempt_for_chat_and_stream() {
    let (h, records) = with_records(|config| {
        config.hygiene.max_input_chars = Some(10);
    });
    for streamed in [false, true] {
        let request = say("eleven char");
        let error = if streamed {
            h.stream_with(request, CallOptions::default())
                .0
                .error
                .unwrap()
        } else {
            h.chat_with(request, CallOptions::default()).unwrap_err()
        };
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert_eq!(error.provider_code(), Some(INPUT_TOO_LONG_CODE));
        assert!(
            error.message().contains("11 characters"),
            "{}",
            error.message()
        );
    }
    assert!(h.transport.exchanges().is_empty());
    {
        let records = records.borrow();
        assert_eq!(records.len(), 2);
        assert!(records
            .iter()
            .all(|r| r.outcome.as_str() == "invalid_request"));
    }
    // Exactly at the cap, after stripping, is accepted.
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    h.chat_with(say("ten\u{200B} chars!"), CallOptions::default())
        .unwrap();
}

#[test]
fn a_zero_cap_is_a_config_error() {
    let mut config = llm_edge::core::client::ClientConfig::default();
    config.hygiene.max_input_chars = Some(0);
    assert_eq!(config.validate().unwrap_err().kind(), ErrorKind::Config);
}
