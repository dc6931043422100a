//! The Chat Completions stream (`data: {chunk}` ... `data: [DONE]`) -> unified stream events.
//!
//! - The first chunk that identifies the completion emits `Start`.
//! - `delta.content` and `delta.refusal` become `TextDelta` (a refusal also makes the finish
//!   `ContentFilter`); `delta.reasoning_content` (compatible servers) becomes `ReasoningDelta`.
//! - Tool calls stream as fragments joined by their `index`: the first fragment carries the id
//!   and name (`ToolCallStart`), later ones pieces of the arguments (`ToolCallDelta`). When the
//!   `finish_reason` arrives every open call ends (`ToolCallEnd`, arguments parsed).
//! - The usage chunk (`"choices": []`, sent because the request asks for `include_usage`)
//!   becomes a `Usage` event.
//! - `data: [DONE]` is the terminal marker: it emits `Finish`. A body that ends without it is
//!   truncated, even when a `finish_reason` was seen.
use serde_json::Value;

use super::decode::{finish_reason, map_usage, parse_arguments};
use super::error::from_error_value;
use super::stream_chunk::read_chunk;
use super::wire::{ChatCompletion, WireMessage, WireToolCall};
use crate::core::error::{Error, ErrorKind};
use crate::core::event::StreamEvent;
use crate::core::model::{Provider, Usage};
use crate::core::sse::SseEvent;

const DONE: &str = "[DONE]";

#[derive(Debug, Default)]
pub struct StreamDecoder {
    started: bool,
    /// `[DONE]` was seen: later events are ignored.
    done: bool,
    /// Tool calls in order of appearance; a call's unified index is its position here.
    calls: Vec<OpenCall>,
    /// The last `finish_reason` received.
    finish_raw: Option<String>,
    /// A refusal was streamed: the finish is `ContentFilter`.
    refused: bool,
    usage: Usage,
}

/// A tool call being streamed.
#[derive(Debug)]
struct OpenCall {
    /// The provider's `index` for it, when given.
    key: Option<u32>,
    id: String,
    name: String,
    arguments: String,
    ended: bool,
}

impl StreamDecoder {
    pub fn on_event(&mut self, event: &SseEvent, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        let data = event.data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == DONE {
            self.end_calls(out)?;
            self.done = true;
            out.push(StreamEvent::Finish {
                reason: finish_reason(self.finish_raw.as_deref(), self.refused),
                usage: self.usage,
            });
            return Ok(());
        }
        let chunk = match read_chunk(data, !self.started) {
            Some(chunk) => chunk,
            None => serde_json::from_str::<ChatCompletion>(data).map_err(|e| {
                self.fail(
                    ErrorKind::InvalidResponse,
                    format!("a stream chunk is not valid JSON: {e}"),
                )
            })?,
        };
        if let Some(error) = &chunk.error {
            return Err(from_error_value(error).with_usage(self.usage));
        }

        let id = chunk.id.filter(|id| !id.is_empty());
        let model = chunk.model.filter(|model| !model.is_empty());
        // Azure's first chunk (prompt filter results) has empty ids and no choices: wait for one
        // that says something.
        if !self.started
            && (id.is_some()
                || model.is_some()
                || !chunk.choices.is_empty()
                || chunk.usage.is_some())
        {
            self.started = true;
            out.push(StreamEvent::Start { id, model });
        }

        for choice in chunk
            .choices
            .into_iter()
            .filter(|c| c.index.unwrap_or(0) == 0)
        {
            if let Some(delta) = choice.delta {
                self.on_delta(delta, out)?;
            }
            if let Some(reason) = choice.finish_reason {
                self.end_calls(out)?;
                self.finish_raw = Some(reason);
            }
        }

        if let Some(usage) = &chunk.usage {
            let usage = map_usage(usage);
            if !usage.is_empty() {
                self.usage.merge(&usage);
                out.push(StreamEvent::Usage { usage: self.usage });
            }
        }
        Ok(())
    }

    pub fn finish(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        let detail = match &self.finish_raw {
            Some(reason) => format!(" (after finish_reason `{reason}`)"),
            None => String::new(),
        };
        Err(self.fail(
            ErrorKind::TruncatedStream,
            format!("the OpenAI stream ended without its terminal `data: [DONE]`{detail}"),
        ))
    }

    pub fn usage(&self) -> Usage {
        self.usage
    }

    fn on_delta(&mut self, delta: WireMessage, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if let Some(text) = delta.reasoning_content.filter(|t| !t.is_empty()) {
            out.push(StreamEvent::ReasoningDelta { text });
        }
        if let Some(text) = delta.content.map(|c| c.text()).filter(|t| !t.is_empty()) {
            out.push(StreamEvent::TextDelta { text });
        }
        if let Some(text) = delta.refusal.filter(|t| !t.is_empty()) {
            self.refused = true;
            out.push(StreamEvent::TextDelta { text });
        }
        for fragment in delta.tool_calls {
            self.on_tool_fragment(fragment, out)?;
        }
        Ok(())
    }

    fn on_tool_fragment(
        &mut self,
        fragment: WireToolCall,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        let function = fragment.function.unwrap_or_default();
        let id = fragment.id.filter(|id| !id.is_empty());
        // Join by `index`; servers that leave it out start a call with each new id.
        let found = match fragment.index {
            Some(key) => self.calls.iter().position(|c| c.key == Some(key)),
            None => match &id {
                Some(id) => self.calls.iter().position(|c| c.id == *id),
                None => self.calls.len().checked_sub(1),
            },
        };
        let at = match found {
            Some(at) => at,
            None => {
                let Some(name) = function.name.filter(|n| !n.is_empty()) else {
                    let index = fragment.index.map(|i| format!(" {i}")).unwrap_or_default();
                    return Err(self.fail(
                        ErrorKind::InvalidResponse,
                        format!("a fragment of tool call{index} arrived before the call's name"),
                    ));
                };
                let id = id.unwrap_or_default();
                out.push(StreamEvent::ToolCallStart {
                    index: self.calls.len() as u32,
                    id: id.clone(),
                    name: name.clone(),
                });
                self.calls.push(OpenCall {
                    key: fragment.index,
                    id,
                    name,
                    arguments: String::new(),
                    ended: false,
                });
                self.calls.len() - 1
            }
        };
        let piece = match function.arguments {
            Some(Value::String(piece)) => piece,
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        if piece.is_empty() {
            return Ok(());
        }
        if self.calls[at].ended {
            let name = self.calls[at].name.clone();
            return Err(self.fail(
                ErrorKind::InvalidResponse,
                format!("arguments of the call to tool `{name}` arrived after the call ended"),
            ));
        }
        self.calls[at].arguments.push_str(&piece);
        out.push(StreamEvent::ToolCallDelta {
            index: at as u32,
            arguments_delta: piece,
        });
        Ok(())
    }

    /// Ends every open tool call, in index order, with its arguments parsed.
    fn end_calls(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let usage = self.usage;
        for (index, call) in self.calls.iter_mut().enumerate() {
            if call.ended {
                continue;
            }
            let arguments =
                parse_arguments(&call.name, &call.arguments).map_err(|e| e.with_usage(usage))?;
            call.ended = true;
            out.push(StreamEvent::ToolCallEnd {
                index: index as u32,
                id: call.id.clone(),
                name: call.name.clone(),
                arguments,
                signature: None,
            });
        }
        Ok(())
    }

    fn fail(&self, kind: ErrorKind, message: String) -> Error {
        Error::new(kind, message)
            .with_provider(Provider::OpenAi)
            .with_usage(self.usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{FinishKind, FinishReason};

    fn data(data: &str) -> SseEvent {
        SseEvent {
            event: "message".to_string(),
            data: data.to_string(),
            id: None,
        }
    }

    const USAGE: &str = r#"{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":32}}}"#;

    fn seen() -> Usage {
        Usage {
            input_tokens: Some(8),
            cache_read_tokens: Some(32),
            output_tokens: Some(2),
            ..Usage::default()
        }
    }

    #[test]
    fn delta_content_is_read_as_a_string_or_as_text_parts() {
        let mut decoder = StreamDecoder::default();
        let mut out = Vec::new();
        for chunk in [
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":"Hel"}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":[{"type":"text","text":"lo"},{"type":"x"}]}}]}"#,
            r#"{"id":"c","choices":[{"index":0,"delta":{"content":null}}]}"#,
        ] {
            decoder.on_event(&data(chunk), &mut out).unwrap();
        }
        let text: String = out
            .iter()
            .filter_map(|event| match event {
                StreamEvent::TextDelta { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(text, "Hello");
        let number = r#"{"id":"c","choices":[{"index":0,"delta":{"content":3}}]}"#;
        let err = decoder.on_event(&data(number), &mut out).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    }

    // The decoder itself attaches the usage (StreamParser would add it too, hiding a miss).
    #[test]
    fn its_own_errors_carry_the_usage_seen() {
        let mut decoder = StreamDecoder::default();
        let mut out = Vec::new();
        decoder.on_event(&data(USAGE), &mut out).unwrap();
        assert_eq!(decoder.usage(), seen());
        assert_eq!(out.last(), Some(&StreamEvent::Usage { usage: seen() }));

        let error =
            r#"{"error":{"message":"boom","type":"server_error","param":null,"code":null}}"#;
        let err = decoder.on_event(&data(error), &mut out).unwrap_err();
        assert_eq!(
            (err.kind(), err.usage()),
            (ErrorKind::ServerError, Some(&seen()))
        );
        assert_eq!(err.provider(), Some(Provider::OpenAi));

        let err = decoder.on_event(&data("{oops"), &mut out).unwrap_err();
        assert_eq!(
            (err.kind(), err.usage()),
            (ErrorKind::InvalidResponse, Some(&seen()))
        );

        let err = decoder.finish(&mut out).unwrap_err();
        assert_eq!(
            (err.kind(), err.usage()),
            (ErrorKind::TruncatedStream, Some(&seen()))
        );
    }

    #[test]
    fn done_finishes_once_and_finish_then_succeeds() {
        let mut decoder = StreamDecoder::default();
        let mut out = Vec::new();
        decoder.on_event(&data(USAGE), &mut out).unwrap();
        decoder.on_event(&data("[DONE]"), &mut out).unwrap();
        decoder.on_event(&data("[DONE]"), &mut out).unwrap();
        decoder.finish(&mut out).unwrap();
        let finishes: Vec<_> = out
            .iter()
            .filter(|e| matches!(e, StreamEvent::Finish { .. }))
            .collect();
        assert_eq!(
            finishes,
            [&StreamEvent::Finish {
                reason: FinishReason {
                    unified: FinishKind::Other,
                    raw: None
                },
                usage: seen()
            }]
        );
    }
}
