//! Messages API server-sent events -> unified [`StreamEvent`]s.
//!
//! The stream is `message_start`, then per content block `content_block_start`,
//! `content_block_delta`s and `content_block_stop` (blocks are identified by their `index`),
//! then `message_delta` (stop reason, cumulative usage) and the terminal `message_stop`.
//! `ping` and unknown event types are ignored; an `error` event fails the stream; a body that
//! ends before `message_stop` is a truncated stream.
use serde_json::Value;

use super::decode::{finish_reason, object_or_empty, structured_output_text};
use super::stream_chunk::read_block_delta;
use super::wire::{BlockDelta, ContentBlock, StreamPayload};
use super::{error, STRUCTURED_OUTPUT_TOOL};
use crate::core::error::{Error, ErrorKind};
use crate::core::event::StreamEvent;
use crate::core::model::{Provider, Usage};
use crate::core::sse::SseEvent;

#[derive(Debug, Default)]
pub struct StreamDecoder {
    /// `Start` was emitted.
    started: bool,
    /// `message_stop` arrived and `Finish` was emitted: later events are ignored.
    finished: bool,
    usage: Usage,
    stop_reason: Option<String>,
    /// Open content blocks, by the wire `index` (a handful at most).
    blocks: Vec<(u32, Block)>,
    /// Tool calls started so far (the next call's unified index).
    tool_calls: u32,
    /// A structured-output tool block was seen.
    structured_output: bool,
}

#[derive(Debug)]
enum Block {
    Text,
    Thinking {
        /// A `ReasoningDelta` was emitted for this block (so a signature has a part to join).
        emitted: bool,
    },
    ToolUse {
        /// The unified tool-call index.
        index: u32,
        id: String,
        name: String,
        /// The `input_json_delta` fragments joined.
        arguments: String,
        /// The `input` of `content_block_start` (normally `{}`), used when no fragment came.
        initial: Value,
    },
    /// The structured-output tool: its input is the answer's text.
    StructuredOutput {
        streamed: bool,
        initial: Value,
    },
    Other,
}

impl StreamDecoder {
    pub fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let payload = match read_block_delta(data) {
            Some(payload) => payload,
            None => serde_json::from_str::<StreamPayload>(data).map_err(|e| {
                self.fail(
                    ErrorKind::InvalidResponse,
                    format!("cannot decode the stream's `{}` event: {e}", event.event),
                )
            })?,
        };
        match payload {
            StreamPayload::MessageStart { message } => {
                if !self.started {
                    self.started = true;
                    out.push(StreamEvent::Start {
                        id: message.id,
                        model: message.model,
                    });
                }
                if let Some(reason) = message.stop_reason {
                    self.stop_reason = Some(reason);
                }
                if let Some(usage) = message.usage {
                    usage.apply_to(&mut self.usage);
                    out.push(StreamEvent::Usage { usage: self.usage });
                }
            }
            StreamPayload::ContentBlockStart {
                index,
                content_block,
            } => {
                self.ensure_started(out);
                let block = self.start_block(content_block, out);
                match self.blocks.iter_mut().find(|(i, _)| *i == index) {
                    Some(slot) => slot.1 = block,
                    None => self.blocks.push((index, block)),
                }
            }
            StreamPayload::ContentBlockDelta { index, delta } => {
                self.ensure_started(out);
                self.delta(index, delta, out)?;
            }
            StreamPayload::ContentBlockStop { index } => {
                if let Some(position) = self.blocks.iter().position(|(i, _)| *i == index) {
                    let (_, block) = self.blocks.remove(position);
                    self.stop_block(block, out)?;
                }
            }
            StreamPayload::MessageDelta { delta, usage } => {
                self.ensure_started(out);
                if let Some(reason) = delta.stop_reason {
                    self.stop_reason = Some(reason);
                }
                if let Some(usage) = usage {
                    usage.apply_to(&mut self.usage);
                    out.push(StreamEvent::Usage { usage: self.usage });
                }
            }
            StreamPayload::MessageStop => {
                self.ensure_started(out);
                // Blocks the server never closed are complete now.
                for (_, block) in std::mem::take(&mut self.blocks) {
                    self.stop_block(block, out)?;
                }
                let structured_only = self.structured_output && self.tool_calls == 0;
                out.push(StreamEvent::Finish {
                    reason: finish_reason(self.stop_reason.take(), structured_only),
                    usage: self.usage,
                });
                self.finished = true;
            }
            StreamPayload::Error { error, request_id } => {
                return Err(error::from_detail(&error.unwrap_or_default(), None)
                    .with_request_id(request_id)
                    .with_usage(self.usage));
            }
            StreamPayload::Other => {}
        }
        Ok(())
    }

    pub fn finish(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        Err(self.fail(
            ErrorKind::TruncatedStream,
            "the stream ended before `message_stop`: the response is incomplete".to_string(),
        ))
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    fn fail(&self, kind: ErrorKind, message: String) -> Error {
        Error::new(kind, message)
            .with_provider(Provider::Anthropic)
            .with_usage(self.usage)
    }

    /// Content before `message_start` (some compatible servers skip it) still opens the stream.
    fn ensure_started(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: None,
                model: None,
            });
        }
    }

    fn start_block(&mut self, block: ContentBlock, out: &mut Vec<StreamEvent>) -> Block {
        match block {
            ContentBlock::Text { text } => {
                if !text.is_empty() {
                    out.push(StreamEvent::TextDelta { text });
                }
                Block::Text
            }
            ContentBlock::Thinking {
                thinking,
                signature,
            } => {
                let emitted = !thinking.is_empty();
                if emitted {
                    out.push(StreamEvent::ReasoningDelta { text: thinking });
                }
                let mut block = Block::Thinking { emitted };
                if let Some(signature) = signature.filter(|s| !s.is_empty()) {
                    push_signature(&mut block, signature, out);
                }
                block
            }
            ContentBlock::ToolUse { input, name, .. } if name == STRUCTURED_OUTPUT_TOOL => {
                self.structured_output = true;
                Block::StructuredOutput {
                    streamed: false,
                    initial: input,
                }
            }
            ContentBlock::ToolUse { id, name, input } => {
                let index = self.tool_calls;
                self.tool_calls += 1;
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: id.clone(),
                    name: name.clone(),
                });
                Block::ToolUse {
                    index,
                    id,
                    name,
                    arguments: String::new(),
                    initial: input,
                }
            }
            ContentBlock::Other => Block::Other,
        }
    }

    fn delta(
        &mut self,
        index: u32,
        delta: BlockDelta,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        let block = self
            .blocks
            .iter_mut()
            .find(|(i, _)| *i == index)
            .map(|(_, block)| block);
        match delta {
            BlockDelta::TextDelta { text } => {
                if !text.is_empty() {
                    out.push(StreamEvent::TextDelta { text });
                }
            }
            BlockDelta::ThinkingDelta { thinking } => {
                if let Some(Block::Thinking { emitted }) = block {
                    *emitted = true;
                }
                out.push(StreamEvent::ReasoningDelta { text: thinking });
            }
            BlockDelta::SignatureDelta { signature } => match block {
                Some(block) => push_signature(block, signature, out),
                None => out.push(StreamEvent::ReasoningSignature { signature }),
            },
            BlockDelta::InputJsonDelta { partial_json } => match block {
                Some(Block::ToolUse { index, arguments, .. }) => {
                    if !partial_json.is_empty() {
                        arguments.push_str(&partial_json);
                        out.push(StreamEvent::ToolCallDelta { index: *index, arguments_delta: partial_json });
                    }
                }
                Some(Block::StructuredOutput { streamed, .. }) => {
                    if !partial_json.is_empty() {
                        *streamed = true;
                        out.push(StreamEvent::TextDelta { text: partial_json });
                    }
                }
                _ => {
                    return Err(self.fail(
                        ErrorKind::InvalidResponse,
                        format!("input_json_delta for content block {index}, which is not an open tool_use block"),
                    ))
                }
            },
            BlockDelta::Other => {}
        }
        Ok(())
    }

    fn stop_block(&self, block: Block, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        match block {
            Block::ToolUse {
                index,
                id,
                name,
                arguments,
                initial,
            } => {
                let arguments = if arguments.trim().is_empty() {
                    object_or_empty(initial)
                } else {
                    serde_json::from_str(&arguments).map_err(|e| {
                        self.fail(
                            ErrorKind::InvalidResponse,
                            format!("the arguments of tool call `{name}` (id `{id}`) are not valid JSON: {e}"),
                        )
                    })?
                };
                out.push(StreamEvent::ToolCallEnd {
                    index,
                    id,
                    name,
                    arguments,
                    signature: None,
                });
            }
            Block::StructuredOutput {
                streamed: false,
                initial,
            } => {
                out.push(StreamEvent::TextDelta {
                    text: structured_output_text(&initial),
                });
            }
            Block::StructuredOutput { streamed: true, .. }
            | Block::Text
            | Block::Thinking { .. }
            | Block::Other => {}
        }
        Ok(())
    }
}

/// A signature joins the reasoning part of its block; a block whose text was empty first
/// opens that part with an empty delta.
fn push_signature(block: &mut Block, signature: String, out: &mut Vec<StreamEvent>) {
    if let Block::Thinking { emitted } = block {
        if !*emitted {
            *emitted = true;
            out.push(StreamEvent::ReasoningDelta {
                text: String::new(),
            });
        }
    }
    out.push(StreamEvent::ReasoningSignature { signature });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::model::{FinishKind, FinishReason};

    /// Feeds `data` payloads (the SSE event name is taken from their `type`).
    fn run(decoder: &mut StreamDecoder, payloads: &[Value]) -> Result<Vec<StreamEvent>, Error> {
        let mut out = Vec::new();
        for payload in payloads {
            let event = SseEvent {
                event: payload["type"].as_str().unwrap_or("message").to_string(),
                data: payload.to_string(),
                id: None,
            };
            decoder.on_event(&event, &mut out)?;
        }
        Ok(out)
    }

    fn start(usage: Value) -> Value {
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
               "content": [], "model": "claude-haiku-4-5", "stop_reason": null, "usage": usage}})
    }

    #[test]
    fn compatible_servers_reporting_input_and_cache_counts_only_in_message_delta() {
        let mut d = StreamDecoder::default();
        let events = run(
            &mut d,
            &[
                start(json!({"output_tokens": 1})),
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                       "usage": {"input_tokens": 40, "cache_read_input_tokens": 2000,
                                 "cache_creation_input_tokens": 300, "output_tokens": 9}}),
                json!({"type": "message_stop"}),
            ],
        )
        .unwrap();
        let expected = Usage {
            input_tokens: Some(40),
            cache_read_tokens: Some(2000),
            cache_write_5m_tokens: Some(300),
            cache_write_1h_tokens: None,
            output_tokens: Some(9),
            reasoning_tokens: None,
        };
        assert_eq!(
            events,
            vec![
                StreamEvent::Start {
                    id: Some("msg_1".into()),
                    model: Some("claude-haiku-4-5".into())
                },
                StreamEvent::Usage {
                    usage: Usage {
                        output_tokens: Some(1),
                        ..Usage::default()
                    }
                },
                StreamEvent::Usage { usage: expected },
                StreamEvent::Finish {
                    reason: FinishReason::new(FinishKind::Stop, "end_turn"),
                    usage: expected
                },
            ]
        );
        assert_eq!(d.usage(), expected);
    }

    #[test]
    fn a_cache_write_total_in_message_delta_keeps_the_known_ttl_split() {
        let mut d = StreamDecoder::default();
        run(
            &mut d,
            &[
                start(json!({"input_tokens": 3, "cache_creation_input_tokens": 1500,
                             "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1000}})),
                json!({"type": "message_delta", "delta": {}, "usage": {"cache_creation_input_tokens": 1500, "output_tokens": 7}}),
            ],
        )
        .unwrap();
        assert_eq!(d.usage().cache_write_5m_tokens, Some(500));
        assert_eq!(d.usage().cache_write_1h_tokens, Some(1000));
        assert_eq!(d.usage().output_tokens, Some(7));
    }

    #[test]
    fn ping_unknown_events_and_events_after_message_stop_are_ignored() {
        let mut d = StreamDecoder::default();
        let events = run(
            &mut d,
            &[
                json!({"type": "ping"}),
                json!({"type": "brand_new_event", "whatever": [1, 2]}),
                start(json!({"input_tokens": 1})),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "future_block"}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "future_delta", "x": 1}}),
                json!({"type": "content_block_stop", "index": 0}),
                json!({"type": "message_stop"}),
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "late"}}),
                json!({"type": "error", "error": {"type": "api_error", "message": "late"}}),
            ],
        )
        .unwrap();
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(matches!(events[2], StreamEvent::Finish { .. }));
        let mut out = Vec::new();
        d.finish(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn content_without_message_start_still_starts_the_stream() {
        let mut d = StreamDecoder::default();
        let events = run(
            &mut d,
            &[json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": "Hi"}})],
        )
        .unwrap();
        assert_eq!(
            events,
            vec![
                StreamEvent::Start {
                    id: None,
                    model: None
                },
                StreamEvent::TextDelta { text: "Hi".into() }
            ]
        );
    }

    #[test]
    fn an_unsigned_empty_thinking_block_opens_its_part_before_the_signature() {
        let mut d = StreamDecoder::default();
        let events = run(
            &mut d,
            &[
                start(json!({})),
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "Sig=="}}),
            ],
        )
        .unwrap();
        assert_eq!(
            events[2..],
            [
                StreamEvent::ReasoningDelta {
                    text: String::new()
                },
                StreamEvent::ReasoningSignature {
                    signature: "Sig==".into()
                }
            ]
        );
    }

    #[test]
    fn tool_arguments_that_are_not_json_name_the_tool() {
        let mut d = StreamDecoder::default();
        let err = run(
            &mut d,
            &[
                start(json!({"input_tokens": 10})),
                json!({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}}),
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}),
                json!({"type": "content_block_stop", "index": 0}),
            ],
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.message().contains("`get_weather`"), "{}", err.message());
        assert_eq!(err.provider(), Some(Provider::Anthropic));
        assert_eq!(err.usage().and_then(|u| u.input_tokens), Some(10));
    }

    #[test]
    fn input_json_for_a_block_that_is_not_a_tool_is_an_invalid_response() {
        let mut d = StreamDecoder::default();
        let err = run(
            &mut d,
            &[json!({"type": "content_block_delta", "index": 3, "delta": {"type": "input_json_delta", "partial_json": "{}"}})],
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    }

    #[test]
    fn a_tool_input_given_whole_at_block_start_is_used() {
        let mut d = StreamDecoder::default();
        let events = run(
            &mut d,
            &[
                json!({"type": "content_block_start", "index": 0,
                       "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}}),
                json!({"type": "content_block_stop", "index": 0}),
            ],
        )
        .unwrap();
        assert_eq!(
            events[2],
            StreamEvent::ToolCallEnd {
                index: 0,
                id: "toolu_1".into(),
                name: "f".into(),
                arguments: json!({"a": 1}),
                signature: None
            }
        );
    }

    #[test]
    fn data_that_is_not_json_is_an_invalid_response() {
        let mut d = StreamDecoder::default();
        let mut out = Vec::new();
        let event = SseEvent {
            event: "message_start".into(),
            data: "{not json".into(),
            id: None,
        };
        let err = d.on_event(&event, &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(err.message().contains("message_start"));
    }

    #[test]
    fn an_in_stream_error_of_unknown_type_is_a_server_error_with_its_request_id() {
        let mut d = StreamDecoder::default();
        let err = run(
            &mut d,
            &[json!({"type": "error", "error": {"type": "mystery_error", "message": "?"}, "request_id": "req_7"})],
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ServerError);
        assert_eq!(err.provider_code(), Some("mystery_error"));
        assert_eq!(err.request_id(), Some("req_7"));
        assert_eq!(err.status(), None);
    }

    #[test]
    fn finish_without_message_stop_is_truncated() {
        let mut d = StreamDecoder::default();
        run(
            &mut d,
            &[start(json!({"input_tokens": 12, "output_tokens": 1}))],
        )
        .unwrap();
        let err = d.finish(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TruncatedStream);
        assert_eq!(err.usage().and_then(|u| u.input_tokens), Some(12));
    }
}
