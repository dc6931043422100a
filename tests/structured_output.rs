//! Structured output in the client: the schema is checked before sending, the answer is
//! validated, a mismatch is repaired once on the target that answered, and a second mismatch
//! is an `invalid_output` error carrying the raw text. OpenAI answers carry the document as
//! content text; Anthropic's forced structured-output tool is decoded to the same text.
mod support;

use llm_edge::core::client::CallOptions;
use llm_edge::core::error::ErrorKind;
use llm_edge::core::event::StreamEvent;
use llm_edge::core::model::{Request, ResponseFormat};
use llm_edge::core::policy::AttemptOutcome;
use serde_json::{json, Value};
use support::*;

const GPT: &str = "openai/gpt-4o-mini";
const CLAUDE: &str = "anthropic/claude-haiku-4-5";

fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "city": { "type": "string" },
            "celsius": { "type": "integer" }
        },
        "required": ["city", "celsius"],
        "additionalProperties": false
    })
}

fn structured(model: &str, schema: Value) -> Request {
    let mut request = request(model);
    request.response_format = Some(ResponseFormat::JsonSchema {
        name: "weather".into(),
        schema,
        strict: true,
    });
    request
}

/// An OpenAI chat completion whose content is `text`, with 10 input and 5 output tokens.
fn openai_answer(text: &str) -> Reply {
    Reply::ok(
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
            "choices": [{ "index": 0, "finish_reason": "stop",
                          "message": { "role": "assistant", "content": text } }],
            "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 }
        })
        .to_string(),
    )
}

/// An Anthropic answer through the forced structured-output tool, with input `document`.
fn anthropic_tool_answer(document: Value) -> Reply {
    Reply::ok(
        json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
            "content": [{ "type": "tool_use", "id": "toolu_1", "name": "llm_edge_structured_output",
                          "input": document }],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": { "input_tokens": 10, "output_tokens": 5 }
        })
        .to_string(),
    )
}

fn run_structured(
    h: &Harness,
    request: Request,
) -> Result<llm_edge::core::client::StructuredOutcome, llm_edge::core::error::Error> {
    run(
        &h.clock,
        h.client.chat_structured(&request, &CallOptions::default()),
    )
}

#[test]
fn a_valid_answer_is_parsed_without_a_repair() {
    let h = harness(|_| {});
    h.transport
        .script(GPT, [openai_answer(r#"{"city":"Paris","celsius":18}"#)]);
    let done = run_structured(&h, structured(GPT, schema())).unwrap();
    assert_eq!(done.object, json!({ "city": "Paris", "celsius": 18 }));
    assert!(!done.repaired);
    assert_eq!(h.transport.exchanges().len(), 1);
}

#[test]
fn a_fenced_document_is_read_without_its_fence() {
    let h = harness(|_| {});
    h.transport.script(
        GPT,
        [openai_answer(
            "```json\n{\"city\":\"Oslo\",\"celsius\":-3}\n```",
        )],
    );
    let done = run_structured(&h, structured(GPT, schema())).unwrap();
    assert_eq!(done.object, json!({ "city": "Oslo", "celsius": -3 }));
}

#[test]
fn a_mismatch_is_repaired_once_with_the_validation_errors() {
    let h = harness(|_| {});
    h.transport.script(
        GPT,
        [
            openai_answer(r#"{"city":"Paris","celsius":"warm"}"#),
            openai_answer(r#"{"city":"Paris","celsius":18}"#),
        ],
    );
    let done = run_structured(&h, structured(GPT, schema())).unwrap();
    assert!(done.repaired);
    assert_eq!(done.object["celsius"], json!(18));
    let exchanges = h.transport.exchanges();
    assert_eq!(exchanges.len(), 2);
    let messages = exchanges[1].body()["messages"].clone();
    let messages = messages.as_array().unwrap();
    // The original user turn, the model's answer, then the repair request naming the error.
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(
        messages[1]["content"],
        r#"{"city":"Paris","celsius":"warm"}"#
    );
    let repair = messages[2]["content"].as_str().unwrap();
    assert!(repair.contains("/celsius"), "{repair}");
    assert!(repair.contains("integer"), "{repair}");
    // Both calls' attempts are the outcome's; gpt-4o-mini bills $0.15/$0.60 per MTok, so each
    // call costs 10 × 0.15 + 5 × 0.60 = 4.5 micro-dollars: 9 in all.
    assert_eq!(done.outcome.attempts.len(), 2);
    assert_eq!(done.outcome.total_cost.unwrap().micro_usd(), 9);
    // The rejected answer's attempt did not serve the call: it is failed, with its usage, so
    // that billing by attempts (the proxy's) counts it.
    let rejected = &done.outcome.attempts[0];
    assert!(
        matches!(&rejected.outcome, AttemptOutcome::Failed { error } if error.kind() == ErrorKind::InvalidOutput),
        "{rejected:?}"
    );
    assert_eq!(rejected.usage.and_then(|u| u.output_tokens), Some(5));
    assert_eq!(done.outcome.attempts[1].outcome, AttemptOutcome::Succeeded);
}

#[test]
fn an_answer_that_fails_the_schema_is_never_cached() {
    let h = harness(|c| {
        c.costs.cache = Some(llm_edge::core::client::CacheOptions {
            ttl_ms: 60_000,
            ..Default::default()
        })
    });
    let invalid = r#"{"city":"Paris","celsius":"warm"}"#;
    h.transport.script(
        GPT,
        [
            openai_answer(invalid),
            openai_answer(invalid),
            openai_answer(r#"{"city":"Paris","celsius":18}"#),
        ],
    );
    // Two mismatches: invalid_output, and neither rejected answer enters the cache...
    let failed = run_structured(&h, structured(GPT, schema())).unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::InvalidOutput);
    // ...so asking again reaches the provider, whose fresh answer can match.
    let done = run_structured(&h, structured(GPT, schema())).unwrap();
    assert!(!done.repaired);
    assert_eq!(done.object["celsius"], json!(18));
    assert_eq!(h.transport.exchanges().len(), 3);
    // A matching answer is cached as usual: the third call costs no request.
    let cached = run_structured(&h, structured(GPT, schema())).unwrap();
    assert_eq!(cached.object["celsius"], json!(18));
    assert_eq!(h.transport.exchanges().len(), 3);
}

#[test]
fn a_second_mismatch_is_invalid_output_with_the_raw_text() {
    let h = harness(|_| {});
    h.transport.script(
        GPT,
        [
            openai_answer("not json at all"),
            openai_answer(r#"{"city":"Paris"}"#),
        ],
    );
    let error = run_structured(&h, structured(GPT, schema())).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidOutput);
    assert_eq!(error.raw_output(), Some(r#"{"city":"Paris"}"#));
    assert!(error.message().contains("celsius"), "{}", error.message());
    assert_eq!(error.attempts().len(), 2);
    // Neither answer served the call; both are billed through their attempts.
    for attempt in error.attempts() {
        assert!(
            matches!(attempt.outcome, AttemptOutcome::Failed { .. }) && attempt.usage.is_some(),
            "{attempt:?}"
        );
    }
    // The first answer was not JSON: the repair request says so.
    let repair = h.transport.exchanges()[1].body()["messages"][2]["content"].clone();
    assert!(
        repair.as_str().unwrap().contains("not valid JSON"),
        "{repair}"
    );
}

#[test]
fn the_repair_goes_to_the_target_that_answered_without_fallback() {
    let h = harness(|_| {});
    h.transport.script(
        CLAUDE,
        [
            anthropic_tool_answer(json!({ "city": "Paris" })),
            Reply::status(
                529,
                r#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#,
            ),
        ],
    );
    let mut options = CallOptions::default();
    options.policy.retry = Some(serde_json::from_value(json!({ "maxRetries": 0 })).unwrap());
    options.policy.fallback = Some(vec![serde_json::from_value(json!(GPT)).unwrap()]);
    let request = structured(CLAUDE, schema());
    let error = run(&h.clock, h.client.chat_structured(&request, &options)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Overloaded);
    assert_eq!(
        h.transport.targets(),
        vec![CLAUDE.to_string(), CLAUDE.to_string()]
    );
}

#[test]
fn an_unsupported_schema_fails_before_sending() {
    let h = harness(|_| {});
    let bad =
        json!({ "type": "object", "properties": { "a": { "type": "string", "pattern": "x" } } });
    let error = run_structured(&h, structured(GPT, bad)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!(error.provider_code(), Some("invalid_json_schema"));
    assert!(h.transport.exchanges().is_empty());
}

/// An OpenAI stream whose content arrives in `pieces`, with usage (10 in, 5 out) at the end.
fn openai_stream(pieces: &[&str]) -> Reply {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                    "model": "gpt-4o-mini",
                    "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] })
        )
    };
    let mut sse = chunk(json!({ "role": "assistant", "content": "" }), Value::Null);
    for piece in pieces {
        sse.push_str(&chunk(json!({ "content": piece }), Value::Null));
    }
    sse.push_str(&chunk(json!({}), json!("stop")));
    sse.push_str(&format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                "model": "gpt-4o-mini", "choices": [],
                "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 } })
    ));
    Reply::sse(&sse)
}

fn costs_with_usage_log(config: &mut llm_edge::core::client::ClientConfig) -> UsageLog {
    let log = UsageLog::default();
    config.on_usage = Some(log.hook());
    log
}

#[derive(Default, Clone)]
struct UsageLog(std::rc::Rc<std::cell::RefCell<Vec<llm_edge::core::usage::UsageRecord>>>);

impl UsageLog {
    fn hook(&self) -> llm_edge::core::client::UsageHook {
        let log = self.clone();
        std::rc::Rc::new(move |record: &llm_edge::core::usage::UsageRecord| {
            log.0.borrow_mut().push(record.clone())
        })
    }
}

#[test]
fn a_structured_stream_that_matches_finishes_with_the_parsed_object() {
    let h = harness(|_| {});
    h.transport.script(
        GPT,
        [openai_stream(&[
            r#"{"city":"#,
            r#""Paris","celsius""#,
            ":18}",
        ])],
    );
    let (streamed, stream) = h.stream_with(structured(GPT, schema()), CallOptions::default());
    assert!(streamed.error.is_none(), "{:?}", streamed.error);
    assert!(matches!(
        streamed.events.last(),
        Some(StreamEvent::Finish { .. })
    ));
    assert_eq!(
        stream.object(),
        Some(&json!({ "city": "Paris", "celsius": 18 }))
    );
}

#[test]
fn a_structured_stream_that_mismatches_ends_in_invalid_output_billed_and_recorded() {
    let mut log = UsageLog::default();
    let h = harness(|config| log = costs_with_usage_log(config));
    h.transport
        .script(GPT, [openai_stream(&[r#"{"city":"#, r#""Paris"}"#])]);
    let (streamed, stream) = h.stream_with(structured(GPT, schema()), CallOptions::default());
    // The text was delivered, then the error instead of `Finish`; no repair was attempted.
    assert_eq!(streamed.text(), r#"{"city":"Paris"}"#);
    assert!(!streamed
        .events
        .iter()
        .any(|e| matches!(e, StreamEvent::Finish { .. })));
    let error = streamed.error.expect("invalid_output");
    assert_eq!(error.kind(), ErrorKind::InvalidOutput);
    assert_eq!(error.raw_output(), Some(r#"{"city":"Paris"}"#));
    assert!(error.message().contains("celsius"), "{}", error.message());
    assert_eq!(error.usage().and_then(|u| u.output_tokens), Some(5));
    assert_eq!(h.transport.exchanges().len(), 1);
    assert_eq!(stream.object(), None);
    // Billed in full from the final usage (10 × 0.15 + 5 × 0.60 = 4.5 µ$), not estimated.
    let cost = stream.cost().expect("priced");
    assert!(!cost.estimated);
    assert_eq!(stream.total_cost().unwrap().0, 4_500_000);
    let records = log.0.borrow();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome.as_str(), "invalid_output");
    assert_eq!(records[0].usage.output_tokens, Some(5));
}

#[test]
fn a_structured_stream_with_an_unsupported_schema_fails_before_sending() {
    let h = harness(|_| {});
    let bad = json!({ "type": "string", "pattern": "^[a-z]+$" });
    let (streamed, _) = h.stream_with(structured(GPT, bad), CallOptions::default());
    let error = streamed.error.expect("refused");
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert!(h.transport.exchanges().is_empty());
}
