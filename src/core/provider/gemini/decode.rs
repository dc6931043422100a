//! A whole Gemini `GenerateContentResponse` -> unified [`Response`], plus the mappings the
//! stream decoder shares (finish reason, usage, tool call ids).
use serde_json::{json, Value};

use crate::core::error::{Error, ErrorKind};
use crate::core::http::HttpResponse;
use crate::core::model::{ContentPart, FinishKind, FinishReason, Provider, Response, Usage};

use super::error::{blocked, classify};
use super::wire::{GenerateContentResponse, ResponseFunctionCall, UsageMetadata};

/// `model` is `modelVersion`, or empty when Gemini left it out: a response does not name the
/// model that was asked for, and the caller (the client) fills that in.
pub fn decode(response: &HttpResponse) -> Result<Response, Error> {
    let request_id = response.headers.get("x-request-id").map(str::to_string);
    let wire: GenerateContentResponse = serde_json::from_slice(&response.body).map_err(|e| {
        invalid_response(format!("the gemini response is not valid JSON: {e}"))
            .with_request_id(request_id.clone())
    })?;
    if let Some(rpc) = &wire.error {
        // A success status with an error body: the body's own code says more.
        return Err(classify(None, rpc).with_request_id(request_id));
    }
    if let Some(error) = prompt_blocked(&wire) {
        return Err(error.with_request_id(request_id));
    }
    let Some(candidate) = wire.candidates.first() else {
        return Err(
            invalid_response("the gemini response has no candidates and no block reason")
                .with_request_id(request_id),
        );
    };

    let mut content: Vec<ContentPart> = Vec::new();
    let mut calls = 0u32;
    for part in candidate.content.iter().flat_map(|c| &c.parts) {
        if let Some(call) = &part.function_call {
            content.push(ContentPart::ToolCall {
                id: tool_call_id(call, calls),
                name: call.name.clone(),
                arguments: tool_arguments(call),
                signature: part.thought_signature.clone(),
            });
            calls += 1;
            continue;
        }
        let text = part.text.as_deref().unwrap_or_default();
        if part.thought {
            // Adjacent thought parts are one reasoning block, as a stream assembles them.
            if !text.is_empty() {
                match content.last_mut() {
                    Some(ContentPart::Reasoning { text: last, .. }) => last.push_str(text),
                    _ => content.push(ContentPart::Reasoning {
                        text: text.to_string(),
                        signature: None,
                    }),
                }
            }
            if let (
                Some(signature),
                Some(ContentPart::Reasoning {
                    signature: slot, ..
                }),
            ) = (&part.thought_signature, content.last_mut())
            {
                *slot = Some(signature.clone());
            }
        } else if !text.is_empty() {
            match content.last_mut() {
                Some(ContentPart::Text { text: last, .. }) => last.push_str(text),
                _ => content.push(ContentPart::text(text)),
            }
        }
    }

    Ok(Response {
        id: wire.response_id,
        provider: Provider::Gemini,
        model: wire.model_version.unwrap_or_default(),
        content,
        finish_reason: finish_reason(candidate.finish_reason.as_deref(), calls > 0),
        usage: wire.usage_metadata.as_ref().map(usage).unwrap_or_default(),
        request_id,
        warnings: Vec::new(),
    })
}

pub(super) fn invalid_response(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidResponse, message).with_provider(Provider::Gemini)
}

/// The prompt was refused outright: a block reason and no candidates.
pub(super) fn prompt_blocked(response: &GenerateContentResponse) -> Option<Error> {
    let reason = response.prompt_feedback.as_ref()?.block_reason.as_deref()?;
    response.candidates.is_empty().then(|| blocked(reason))
}

/// Gemini has no call ids (unless a part carries one): calls are numbered `call_{n}` in the
/// order they appear in the response.
pub(super) fn tool_call_id(call: &ResponseFunctionCall, n: u32) -> String {
    match &call.id {
        Some(id) if !id.is_empty() => id.clone(),
        _ => format!("call_{n}"),
    }
}

/// The call's `args`; `{}` when Gemini sent none.
pub(super) fn tool_arguments(call: &ResponseFunctionCall) -> Value {
    match &call.args {
        None | Some(Value::Null) => json!({}),
        Some(args) => args.clone(),
    }
}

/// `STOP` is `ToolCalls` when the response called a function (Gemini has no separate reason).
pub(super) fn finish_reason(raw: Option<&str>, called_tools: bool) -> FinishReason {
    let Some(raw) = raw else {
        return FinishReason {
            unified: FinishKind::Other,
            raw: None,
        };
    };
    let unified = match raw {
        "STOP" if called_tools => FinishKind::ToolCalls,
        "STOP" => FinishKind::Stop,
        "MAX_TOKENS" => FinishKind::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishKind::ContentFilter
        }
        _ => FinishKind::Other,
    };
    FinishReason::new(unified, raw)
}

/// `promptTokenCount` includes the cached tokens, so uncached input is the difference;
/// `thoughtsTokenCount` is billed as output but reported apart from `candidatesTokenCount`.
pub(super) fn usage(meta: &UsageMetadata) -> Usage {
    let cached = meta.cached_content_token_count;
    let output = match (meta.candidates_token_count, meta.thoughts_token_count) {
        (None, None) => None,
        (candidates, thoughts) => Some(candidates.unwrap_or(0) + thoughts.unwrap_or(0)),
    };
    Usage {
        input_tokens: meta
            .prompt_token_count
            .map(|prompt| prompt.saturating_sub(cached.unwrap_or(0))),
        cache_read_tokens: cached,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        output_tokens: output,
        reasoning_tokens: meta.thoughts_token_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::http::Headers;

    fn decode_json(body: Value) -> Result<Response, Error> {
        decode(&HttpResponse {
            status: 200,
            headers: Headers::new(),
            body: body.to_string().into_bytes(),
        })
    }

    fn meta(
        prompt: Option<u64>,
        cached: Option<u64>,
        candidates: Option<u64>,
        thoughts: Option<u64>,
    ) -> UsageMetadata {
        UsageMetadata {
            prompt_token_count: prompt,
            cached_content_token_count: cached,
            candidates_token_count: candidates,
            thoughts_token_count: thoughts,
        }
    }

    #[test]
    fn usage_subtracts_cache_and_adds_thoughts_to_output() {
        let u = usage(&meta(Some(4120), Some(3968), Some(52), Some(310)));
        assert_eq!(u.input_tokens, Some(152));
        assert_eq!(u.cache_read_tokens, Some(3968));
        assert_eq!(u.output_tokens, Some(362));
        assert_eq!(u.reasoning_tokens, Some(310));
        assert_eq!(
            (u.cache_write_5m_tokens, u.cache_write_1h_tokens),
            (None, None)
        );

        let u = usage(&meta(Some(9), None, None, Some(4)));
        assert_eq!(
            (
                u.input_tokens,
                u.cache_read_tokens,
                u.output_tokens,
                u.reasoning_tokens
            ),
            (Some(9), None, Some(4), Some(4))
        );
        let u = usage(&meta(Some(9), None, Some(3), None));
        assert_eq!((u.output_tokens, u.reasoning_tokens), (Some(3), None));
        assert_eq!(usage(&meta(None, None, None, None)), Usage::default());
        // A cache count above the prompt count never underflows.
        assert_eq!(
            usage(&meta(Some(5), Some(8), None, None)).input_tokens,
            Some(0)
        );
    }

    #[test]
    fn finish_reasons() {
        for (raw, calls, unified) in [
            ("STOP", false, FinishKind::Stop),
            ("STOP", true, FinishKind::ToolCalls),
            ("MAX_TOKENS", true, FinishKind::Length),
            ("SAFETY", false, FinishKind::ContentFilter),
            ("RECITATION", false, FinishKind::ContentFilter),
            ("BLOCKLIST", false, FinishKind::ContentFilter),
            ("PROHIBITED_CONTENT", false, FinishKind::ContentFilter),
            ("SPII", false, FinishKind::ContentFilter),
            ("IMAGE_SAFETY", false, FinishKind::ContentFilter),
            ("MALFORMED_FUNCTION_CALL", false, FinishKind::Other),
            ("OTHER", false, FinishKind::Other),
            ("SOMETHING_NEW", false, FinishKind::Other),
        ] {
            assert_eq!(
                finish_reason(Some(raw), calls),
                FinishReason::new(unified, raw),
                "{raw}"
            );
        }
        assert_eq!(
            finish_reason(None, false),
            FinishReason {
                unified: FinishKind::Other,
                raw: None
            }
        );
    }

    #[test]
    fn function_calls_number_from_zero_and_keep_given_ids_and_signatures() {
        let r = decode_json(
            json!({"candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"name": "a", "args": {"x": 1}}, "thoughtSignature": "sig-a"},
            {"functionCall": {"id": "fc-7", "name": "b"}},
            {"functionCall": {"name": "c", "args": null}}
        ]}, "finishReason": "STOP"}]}),
        )
        .unwrap();
        assert_eq!(
            r.content,
            [
                ContentPart::ToolCall {
                    id: "call_0".into(),
                    name: "a".into(),
                    arguments: json!({"x": 1}),
                    signature: Some("sig-a".into())
                },
                ContentPart::ToolCall {
                    id: "fc-7".into(),
                    name: "b".into(),
                    arguments: json!({}),
                    signature: None
                },
                ContentPart::ToolCall {
                    id: "call_2".into(),
                    name: "c".into(),
                    arguments: json!({}),
                    signature: None
                },
            ]
        );
        assert_eq!(
            r.finish_reason,
            FinishReason::new(FinishKind::ToolCalls, "STOP")
        );
        assert_eq!(r.model, "");
        assert_eq!(r.id, None);
        assert_eq!(r.usage, Usage::default());
    }

    #[test]
    fn adjacent_parts_of_a_kind_merge_and_empty_text_is_skipped() {
        let r = decode_json(
            json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "Think ", "thought": true},
            {"text": "more.", "thought": true, "thoughtSignature": "t-sig"},
            {"text": "Hello, "},
            {"text": ""},
            {"text": "world."},
            {"text": "", "thoughtSignature": "text-sig"},
            {"executableCode": {"language": "PYTHON", "code": "print(1)"}}
        ]}, "finishReason": "STOP"}], "modelVersion": "gemini-2.5-flash", "responseId": "r-1"}),
        )
        .unwrap();
        assert_eq!(
            r.content,
            [
                ContentPart::Reasoning {
                    text: "Think more.".into(),
                    signature: Some("t-sig".into())
                },
                ContentPart::text("Hello, world."),
            ]
        );
        assert_eq!(r.finish_reason, FinishReason::new(FinishKind::Stop, "STOP"));
        assert_eq!(
            (r.id.as_deref(), r.model.as_str()),
            (Some("r-1"), "gemini-2.5-flash")
        );
    }

    #[test]
    fn max_tokens_spent_on_thoughts_gives_no_content() {
        let r = decode_json(json!({"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS", "index": 0}],
            "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 111, "thoughtsTokenCount": 99}}))
        .unwrap();
        assert!(r.content.is_empty());
        assert_eq!(
            r.finish_reason,
            FinishReason::new(FinishKind::Length, "MAX_TOKENS")
        );
        assert_eq!(r.usage.output_tokens, Some(99));
    }

    #[test]
    fn blocked_prompt_missing_candidates_and_bad_json() {
        let e = decode_json(json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 7}})).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ContentFiltered);
        assert_eq!(e.provider_code(), Some("PROHIBITED_CONTENT"));
        assert!(e.message().contains("PROHIBITED_CONTENT"));
        let e = decode_json(json!({"usageMetadata": {"promptTokenCount": 7}})).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        let e = decode(&HttpResponse {
            status: 200,
            headers: Headers::new(),
            body: b"{not json".to_vec(),
        })
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert_eq!(e.provider(), Some(Provider::Gemini));
    }

    #[test]
    fn an_error_body_with_a_success_status_is_still_an_error() {
        let e = decode_json(json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}})).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Overloaded);
        assert_eq!(e.status(), Some(503));
    }
}
