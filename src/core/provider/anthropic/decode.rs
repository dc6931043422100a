//! A whole Messages API response -> unified [`Response`].
use serde_json::Value;

use super::wire::{ContentBlock, MessageResponse};
use super::{error, REQUEST_ID_HEADER, STRUCTURED_OUTPUT_TOOL};
use crate::core::error::{Error, ErrorKind};
use crate::core::http::HttpResponse;
use crate::core::model::{ContentPart, FinishKind, FinishReason, Provider, Response, Usage};

/// Decodes a 2xx response. A body of `"type":"error"` (some proxies answer errors with 200) is
/// classified like an error answer.
pub fn decode(response: &HttpResponse) -> Result<Response, Error> {
    let request_id = response.headers.get(REQUEST_ID_HEADER).map(str::to_string);
    let message: MessageResponse = serde_json::from_slice(&response.body).map_err(|e| {
        let body = error::snippet(&response.body).unwrap_or_else(|| "(empty)".to_string());
        Error::new(
            ErrorKind::InvalidResponse,
            format!("the response is not a Messages API message ({e}); body: {body}"),
        )
        .with_provider(Provider::Anthropic)
        .with_status(response.status)
        .with_request_id(request_id.clone())
    })?;
    if message.kind.as_deref() == Some("error") {
        return Err(error::decode_error(
            response.status,
            &response.headers,
            &response.body,
        ));
    }

    let mut content = Vec::with_capacity(message.content.len());
    let mut tool_calls = 0usize;
    let mut structured_output = false;
    for block in message.content {
        match block {
            ContentBlock::Text { text } => push_text(&mut content, text),
            ContentBlock::ToolUse { input, name, .. } if name == STRUCTURED_OUTPUT_TOOL => {
                structured_output = true;
                push_text(&mut content, structured_output_text(&input));
            }
            ContentBlock::ToolUse { id, name, input } => {
                tool_calls += 1;
                content.push(ContentPart::ToolCall {
                    id,
                    name,
                    arguments: object_or_empty(input),
                    signature: None,
                });
            }
            ContentBlock::Thinking {
                thinking,
                signature,
            } => {
                let signature = signature.filter(|s| !s.is_empty());
                // An empty, unsigned block carries nothing (and a stream would not show it).
                if !thinking.is_empty() || signature.is_some() {
                    content.push(ContentPart::Reasoning {
                        text: thinking,
                        signature,
                    });
                }
            }
            ContentBlock::Other => {}
        }
    }

    let mut usage = Usage::default();
    if let Some(wire) = &message.usage {
        wire.apply_to(&mut usage);
    }
    Ok(Response {
        id: message.id,
        provider: Provider::Anthropic,
        model: message.model.unwrap_or_default(),
        content,
        finish_reason: finish_reason(message.stop_reason, structured_output && tool_calls == 0),
        usage,
        request_id,
        warnings: Vec::new(),
    })
}

/// Maps `stop_reason`. `structured_output_only`: the only tool used was the structured-output
/// tool, so `tool_use` means the answer is complete (`Stop`, the raw value stays `tool_use`).
pub(super) fn finish_reason(raw: Option<String>, structured_output_only: bool) -> FinishReason {
    let Some(raw) = raw else {
        return FinishReason {
            unified: FinishKind::Other,
            raw: None,
        };
    };
    let unified = match raw.as_str() {
        "end_turn" | "stop_sequence" => FinishKind::Stop,
        // `model_context_window_exceeded`: output stopped at the context window, not at
        // max_tokens, but it is the same situation for the caller.
        "max_tokens" | "model_context_window_exceeded" => FinishKind::Length,
        "tool_use" if structured_output_only => FinishKind::Stop,
        "tool_use" => FinishKind::ToolCalls,
        "refusal" => FinishKind::ContentFilter,
        "pause_turn" => FinishKind::Pause,
        _ => FinishKind::Other,
    };
    FinishReason {
        unified,
        raw: Some(raw),
    }
}

/// Appends text, joining it to a preceding text part: a stream's text deltas are assembled
/// into one part, so a whole response gives the same content.
fn push_text(content: &mut Vec<ContentPart>, text: String) {
    match content.last_mut() {
        Some(ContentPart::Text { text: last, .. }) => last.push_str(&text),
        _ => content.push(ContentPart::text(text)),
    }
}

/// A tool's input; absent (`null`) means no arguments.
pub(super) fn object_or_empty(input: Value) -> Value {
    if input.is_null() {
        Value::Object(Default::default())
    } else {
        input
    }
}

/// The JSON text of the structured-output tool's input.
pub(super) fn structured_output_text(input: &Value) -> String {
    if input.is_null() {
        "{}".to_string()
    } else {
        input.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::http::Headers;

    fn response(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: Headers::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn every_stop_reason_maps() {
        for (raw, unified) in [
            ("end_turn", FinishKind::Stop),
            ("stop_sequence", FinishKind::Stop),
            ("max_tokens", FinishKind::Length),
            ("model_context_window_exceeded", FinishKind::Length),
            ("tool_use", FinishKind::ToolCalls),
            ("refusal", FinishKind::ContentFilter),
            ("pause_turn", FinishKind::Pause),
            ("something_new", FinishKind::Other),
        ] {
            assert_eq!(
                finish_reason(Some(raw.to_string()), false),
                FinishReason::new(unified, raw)
            );
        }
        assert_eq!(
            finish_reason(Some("tool_use".into()), true),
            FinishReason::new(FinishKind::Stop, "tool_use")
        );
        assert_eq!(
            finish_reason(None, false),
            FinishReason {
                unified: FinishKind::Other,
                raw: None
            }
        );
    }

    #[test]
    fn unknown_blocks_and_redacted_thinking_are_ignored_and_minimal_bodies_decode() {
        let r = decode(&response(
            r#"{"type":"message","content":[{"type":"redacted_thinking","data":"EmwKAhgB"},
                {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}},
                {"type":"text","text":"Hi","citations":null}]}"#,
        ))
        .unwrap();
        assert_eq!(r.content, vec![ContentPart::text("Hi")]);
        assert_eq!(r.id, None);
        assert_eq!(r.model, "");
        assert_eq!(r.usage, Usage::default());
        assert_eq!(
            r.finish_reason,
            FinishReason {
                unified: FinishKind::Other,
                raw: None
            }
        );
    }

    #[test]
    fn adjacent_text_blocks_join_like_a_stream_would_and_empty_unsigned_thinking_is_dropped() {
        let r = decode(&response(
            r#"{"type":"message","content":[{"type":"thinking","thinking":""},
                {"type":"text","text":"According to the docs, "},
                {"type":"text","text":"the limit is 4.","citations":[{"type":"char_location"}]},
                {"type":"thinking","thinking":"","signature":"c2ln"}]}"#,
        ))
        .unwrap();
        assert_eq!(
            r.content,
            vec![
                ContentPart::text("According to the docs, the limit is 4."),
                ContentPart::Reasoning {
                    text: String::new(),
                    signature: Some("c2ln".into())
                },
            ]
        );
    }

    #[test]
    fn a_tool_use_without_input_has_empty_arguments() {
        let r = decode(&response(
            r#"{"type":"message","content":[{"type":"tool_use","id":"toolu_1","name":"now"}],"stop_reason":"tool_use"}"#,
        ))
        .unwrap();
        assert_eq!(r.tool_calls()[0].arguments, serde_json::json!({}));
        assert_eq!(r.finish_reason.unified, FinishKind::ToolCalls);
    }

    #[test]
    fn cache_creation_total_without_split_counts_as_five_minute_writes() {
        let r = decode(&response(
            r#"{"type":"message","content":[],"usage":{"input_tokens":5,"cache_creation_input_tokens":1500,"output_tokens":2}}"#,
        ))
        .unwrap();
        assert_eq!(
            r.usage,
            Usage {
                input_tokens: Some(5),
                cache_read_tokens: None,
                cache_write_5m_tokens: Some(1500),
                cache_write_1h_tokens: None,
                output_tokens: Some(2),
                reasoning_tokens: None,
            }
        );
    }

    #[test]
    fn an_error_body_in_a_200_is_classified() {
        let err = decode(&response(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Overloaded);
    }

    #[test]
    fn a_body_that_is_not_a_message_is_an_invalid_response() {
        let mut bad = response("<html>502 Bad Gateway</html>");
        bad.headers.set("request-id", "req_9");
        let err = decode(&bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert_eq!(err.provider(), Some(Provider::Anthropic));
        assert_eq!(err.request_id(), Some("req_9"));
        assert!(
            err.message().contains("<html>502 Bad Gateway</html>"),
            "{}",
            err.message()
        );
    }
}
