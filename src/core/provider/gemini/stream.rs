//! Gemini `streamGenerateContent?alt=sse` -> unified [`StreamEvent`]s.
//!
//! Every `data:` payload is a whole `GenerateContentResponse` holding the next piece of the
//! answer. Function calls arrive whole, never in fragments. `usageMetadata` is cumulative on
//! every chunk. There is no `[DONE]`: the chunk carrying `finishReason` marks a complete answer,
//! and since usage may still follow it, the `Finish` event is emitted when the body ends
//! ([`StreamDecoder::finish`]); a body that ends without a `finishReason` was truncated. After
//! the `finishReason` chunk only the usage of later chunks is read.
use crate::core::error::{Error, ErrorKind};
use crate::core::event::StreamEvent;
use crate::core::model::{Provider, Usage};
use crate::core::sse::SseEvent;

use super::decode::{
    finish_reason, invalid_response, prompt_blocked, tool_arguments, tool_call_id, usage,
};
use super::error::classify;
use super::stream_chunk::read_chunk;
use super::wire::GenerateContentResponse;

#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    /// The latest cumulative usage.
    usage: Usage,
    /// Function calls seen so far: the next call's index.
    tool_calls: u32,
    /// The raw `finishReason` of the terminal chunk, once it arrived.
    finish_reason: Option<String>,
    /// `Finish` was emitted: nothing more to do.
    finished: bool,
}

impl StreamDecoder {
    pub fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        // `alt=sse` sends unnamed events only; anything else is not ours to read.
        if self.finished || event.event != "message" || event.data.trim().is_empty() {
            return Ok(());
        }
        let after_terminal = self.finish_reason.is_some();
        let read = match read_chunk(&event.data) {
            Some(chunk) => Ok(chunk),
            None => serde_json::from_str::<GenerateContentResponse>(&event.data),
        };
        let chunk = match read {
            Ok(chunk) => chunk,
            Err(_) if after_terminal => return Ok(()),
            Err(e) => {
                return Err(invalid_response(format!(
                    "a gemini stream chunk is not valid JSON: {e}"
                ))
                .with_usage(self.usage));
            }
        };
        let usage_changed = self.take_usage(&chunk);
        if after_terminal {
            self.push_usage(usage_changed, out);
            return Ok(());
        }
        if let Some(rpc) = &chunk.error {
            return Err(classify(None, rpc).with_usage(self.usage));
        }
        if let Some(error) = prompt_blocked(&chunk) {
            return Err(error.with_usage(self.usage));
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: chunk.response_id.clone(),
                model: chunk.model_version.clone(),
            });
        }
        if let Some(candidate) = chunk.candidates.first() {
            for part in candidate.content.iter().flat_map(|c| &c.parts) {
                if let Some(call) = &part.function_call {
                    let index = self.tool_calls;
                    self.tool_calls += 1;
                    let id = tool_call_id(call, index);
                    let arguments = tool_arguments(call);
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id: id.clone(),
                        name: call.name.clone(),
                    });
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments_delta: arguments.to_string(),
                    });
                    out.push(StreamEvent::ToolCallEnd {
                        index,
                        id,
                        name: call.name.clone(),
                        arguments,
                        signature: part.thought_signature.clone(),
                    });
                    continue;
                }
                let text = part.text.as_deref().unwrap_or_default();
                if part.thought {
                    if !text.is_empty() {
                        out.push(StreamEvent::ReasoningDelta {
                            text: text.to_string(),
                        });
                    }
                    if let Some(signature) = &part.thought_signature {
                        out.push(StreamEvent::ReasoningSignature {
                            signature: signature.clone(),
                        });
                    }
                } else if !text.is_empty() {
                    out.push(StreamEvent::TextDelta {
                        text: text.to_string(),
                    });
                }
            }
            self.finish_reason.clone_from(&candidate.finish_reason);
        }
        self.push_usage(usage_changed, out);
        Ok(())
    }

    pub fn finish(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        let Some(raw) = &self.finish_reason else {
            return Err(Error::new(
                ErrorKind::TruncatedStream,
                "the gemini stream ended before a chunk with a finishReason",
            )
            .with_provider(Provider::Gemini)
            .with_usage(self.usage));
        };
        out.push(StreamEvent::Finish {
            reason: finish_reason(Some(raw), self.tool_calls > 0),
            usage: self.usage,
        });
        self.finished = true;
        Ok(())
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Keeps the chunk's cumulative usage; whether it differs from the last one.
    fn take_usage(&mut self, chunk: &GenerateContentResponse) -> bool {
        match chunk.usage_metadata.as_ref().map(usage) {
            Some(latest) if latest != self.usage => {
                self.usage = latest;
                true
            }
            _ => false,
        }
    }

    fn push_usage(&self, changed: bool, out: &mut Vec<StreamEvent>) {
        if changed {
            out.push(StreamEvent::Usage { usage: self.usage });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{FinishKind, FinishReason};
    use serde_json::json;

    fn data(value: serde_json::Value) -> SseEvent {
        SseEvent {
            event: "message".into(),
            data: value.to_string(),
            id: None,
        }
    }

    fn text_chunk(text: &str, finish: Option<&str>, candidates_tokens: u64) -> SseEvent {
        let mut candidate =
            json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
        if let Some(finish) = finish {
            candidate["finishReason"] = json!(finish);
        }
        data(json!({"candidates": [candidate],
            "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": candidates_tokens, "totalTokenCount": 9 + candidates_tokens},
            "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"}))
    }

    #[test]
    fn start_text_usage_then_finish_at_the_end_of_the_body() {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        d.on_event(&text_chunk("Hel", None, 1), &mut out).unwrap();
        d.on_event(&text_chunk("lo", Some("STOP"), 2), &mut out)
            .unwrap();
        let usage = |o| Usage {
            input_tokens: Some(9),
            output_tokens: Some(o),
            ..Usage::default()
        };
        assert_eq!(
            out,
            [
                StreamEvent::Start {
                    id: Some("resp-1".into()),
                    model: Some("gemini-2.5-flash".into())
                },
                StreamEvent::TextDelta { text: "Hel".into() },
                StreamEvent::Usage { usage: usage(1) },
                StreamEvent::TextDelta { text: "lo".into() },
                StreamEvent::Usage { usage: usage(2) },
            ]
        );
        out.clear();
        d.finish(&mut out).unwrap();
        assert_eq!(
            out,
            [StreamEvent::Finish {
                reason: FinishReason::new(FinishKind::Stop, "STOP"),
                usage: usage(2)
            }]
        );
        // Finish is emitted once; later events are ignored.
        out.clear();
        d.on_event(&text_chunk("more", None, 3), &mut out).unwrap();
        d.finish(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn unchanged_usage_is_not_repeated_and_usage_after_the_terminal_chunk_still_counts() {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        d.on_event(&text_chunk("a", None, 1), &mut out).unwrap();
        d.on_event(&text_chunk("b", Some("STOP"), 1), &mut out)
            .unwrap();
        assert_eq!(
            out.iter()
                .filter(|e| matches!(e, StreamEvent::Usage { .. }))
                .count(),
            1
        );
        out.clear();
        // Content after the terminal chunk is ignored, its usage is not.
        d.on_event(&text_chunk("ignored", None, 5), &mut out)
            .unwrap();
        d.on_event(
            &SseEvent {
                event: "message".into(),
                data: "{oops".into(),
                id: None,
            },
            &mut out,
        )
        .unwrap();
        let usage = Usage {
            input_tokens: Some(9),
            output_tokens: Some(5),
            ..Usage::default()
        };
        assert_eq!(out, [StreamEvent::Usage { usage }]);
        out.clear();
        d.finish(&mut out).unwrap();
        assert_eq!(
            out,
            [StreamEvent::Finish {
                reason: FinishReason::new(FinishKind::Stop, "STOP"),
                usage
            }]
        );
    }

    #[test]
    fn a_function_call_arrives_whole() {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        d.on_event(
            &data(json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "sig"}
            ]}, "finishReason": "STOP"}], "responseId": "r"})),
            &mut out,
        )
        .unwrap();
        d.finish(&mut out).unwrap();
        assert_eq!(
            out,
            [
                StreamEvent::Start {
                    id: Some("r".into()),
                    model: None
                },
                StreamEvent::ToolCallStart {
                    index: 0,
                    id: "call_0".into(),
                    name: "get_weather".into()
                },
                StreamEvent::ToolCallDelta {
                    index: 0,
                    arguments_delta: r#"{"city":"Paris"}"#.into()
                },
                StreamEvent::ToolCallEnd {
                    index: 0,
                    id: "call_0".into(),
                    name: "get_weather".into(),
                    arguments: json!({"city": "Paris"}),
                    signature: Some("sig".into()),
                },
                StreamEvent::Finish {
                    reason: FinishReason::new(FinishKind::ToolCalls, "STOP"),
                    usage: Usage::default()
                },
            ]
        );
    }

    #[test]
    fn errors_blocks_bad_json_and_truncation_carry_the_usage_so_far() {
        let usage = Usage {
            input_tokens: Some(9),
            output_tokens: Some(1),
            ..Usage::default()
        };
        let started = || {
            let mut d = StreamDecoder::default();
            d.on_event(&text_chunk("Hel", None, 1), &mut Vec::new())
                .unwrap();
            d
        };
        let error = data(
            json!({"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}),
        );
        let e = started().on_event(&error, &mut Vec::new()).unwrap_err();
        assert_eq!(
            (e.kind(), e.status(), e.provider_code()),
            (ErrorKind::ServerError, Some(500), Some("INTERNAL"))
        );
        assert_eq!(e.usage(), Some(&usage));

        let block = data(json!({"promptFeedback": {"blockReason": "SAFETY"}}));
        let e = StreamDecoder::default()
            .on_event(&block, &mut Vec::new())
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.provider_code()),
            (ErrorKind::ContentFiltered, Some("SAFETY"))
        );

        let bad = SseEvent {
            event: "message".into(),
            data: "{\"candidates\": [".into(),
            id: None,
        };
        let e = started().on_event(&bad, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert_eq!(e.usage(), Some(&usage));

        let e = started().finish(&mut Vec::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TruncatedStream);
        assert_eq!(e.provider(), Some(Provider::Gemini));
        assert_eq!(e.usage(), Some(&usage));
        // An empty body is truncated too.
        assert_eq!(
            StreamDecoder::default()
                .finish(&mut Vec::new())
                .unwrap_err()
                .kind(),
            ErrorKind::TruncatedStream
        );
    }

    #[test]
    fn named_and_empty_events_are_ignored() {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        d.on_event(
            &SseEvent {
                event: "ping".into(),
                data: "{}".into(),
                id: None,
            },
            &mut out,
        )
        .unwrap();
        d.on_event(
            &SseEvent {
                event: "message".into(),
                data: " ".into(),
                id: None,
            },
            &mut out,
        )
        .unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn thought_parts_become_reasoning_with_their_signature() {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        d.on_event(
            &data(
                json!({"candidates": [{"content": {"role": "model", "parts": [
                    {"text": "**Thinking**", "thought": true, "thoughtSignature": "ts"},
                    {"text": "", "thoughtSignature": "dropped"}
                ]}}]}),
            ),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out[1..],
            [
                StreamEvent::ReasoningDelta {
                    text: "**Thinking**".into()
                },
                StreamEvent::ReasoningSignature {
                    signature: "ts".into()
                },
            ]
        );
    }
}
