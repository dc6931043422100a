//! The unified stream events every provider's stream decoder produces, and an assembler that
//! folds them into a [`Response`] (so a stream and a whole response can be compared directly).
use serde::Serialize;
use serde_json::Value;

use super::model::{ContentPart, FinishKind, FinishReason, Provider, Response, Usage, Warning};

/// One unified stream event. Tool calls are identified by `index`, their position among the
/// tool calls of this response (providers number blocks differently; this is stable).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum StreamEvent {
    /// The provider accepted the request and started answering.
    #[serde(rename_all = "camelCase")]
    Start {
        id: Option<String>,
        model: Option<String>,
    },
    TextDelta {
        text: String,
    },
    ReasoningDelta {
        text: String,
    },
    /// Anthropic's thinking signature, needed to send the reasoning back on a later turn.
    ReasoningSignature {
        signature: String,
    },
    ToolCallStart {
        index: u32,
        id: String,
        name: String,
    },
    /// A fragment of the arguments' JSON text.
    #[serde(rename_all = "camelCase")]
    ToolCallDelta {
        index: u32,
        arguments_delta: String,
    },
    /// The call is complete and its arguments parsed.
    ToolCallEnd {
        index: u32,
        id: String,
        name: String,
        arguments: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// The cumulative usage so far (sent whenever the provider reports it).
    Usage {
        usage: Usage,
    },
    /// The terminal event of a complete stream.
    Finish {
        reason: FinishReason,
        usage: Usage,
    },
}

/// Folds stream events into a response, the way `chat()` would have returned it.
#[derive(Debug)]
pub struct ResponseAssembler {
    provider: Provider,
    id: Option<String>,
    model: String,
    content: Vec<ContentPart>,
    usage: Usage,
    finish: Option<FinishReason>,
    request_id: Option<String>,
    warnings: Vec<Warning>,
}

impl ResponseAssembler {
    pub fn new(provider: Provider, requested_model: &str) -> Self {
        ResponseAssembler {
            provider,
            id: None,
            model: requested_model.to_string(),
            content: Vec::new(),
            usage: Usage::default(),
            finish: None,
            request_id: None,
            warnings: Vec::new(),
        }
    }

    pub fn set_request_id(&mut self, id: Option<String>) {
        self.request_id = id;
    }

    pub fn add_warnings(&mut self, warnings: &[Warning]) {
        self.warnings.extend_from_slice(warnings);
    }

    /// The text delivered so far.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|p| match p {
                ContentPart::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    pub fn push(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::Start { id, model } => {
                self.id.clone_from(id);
                if let Some(model) = model {
                    self.model.clone_from(model);
                }
            }
            StreamEvent::TextDelta { text } => match self.content.last_mut() {
                Some(ContentPart::Text { text: last, .. }) => last.push_str(text),
                _ => self.content.push(ContentPart::text(text.clone())),
            },
            StreamEvent::ReasoningDelta { text } => match self.content.last_mut() {
                Some(ContentPart::Reasoning { text: last, .. }) => last.push_str(text),
                _ => self.content.push(ContentPart::Reasoning {
                    text: text.clone(),
                    signature: None,
                }),
            },
            StreamEvent::ReasoningSignature { signature } => {
                if let Some(ContentPart::Reasoning {
                    signature: slot, ..
                }) = self.content.last_mut()
                {
                    *slot = Some(signature.clone());
                }
            }
            StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallDelta { .. } => {}
            StreamEvent::ToolCallEnd {
                id,
                name,
                arguments,
                signature,
                ..
            } => self.content.push(ContentPart::ToolCall {
                id: id.clone(),
                name: name.clone(),
                arguments: arguments.clone(),
                signature: signature.clone(),
            }),
            StreamEvent::Usage { usage } => self.usage.merge(usage),
            StreamEvent::Finish { reason, usage } => {
                self.usage.merge(usage);
                self.finish = Some(reason.clone());
            }
        }
    }

    /// Whether the terminal `Finish` event was seen.
    pub fn is_finished(&self) -> bool {
        self.finish.is_some()
    }

    pub fn into_response(self) -> Response {
        Response {
            id: self.id,
            provider: self.provider,
            model: self.model,
            content: self.content,
            finish_reason: self.finish.unwrap_or(FinishReason {
                unified: FinishKind::Other,
                raw: None,
            }),
            usage: self.usage,
            request_id: self.request_id,
            warnings: self.warnings,
        }
    }
}

/// Appends the JSON of the events a stream sends most (deltas and cumulative usage), exactly as
/// serde writes them, and returns true; returns false for the other events. Written by hand
/// because serde's tagged-enum path and its String per event cost more than decoding the event.
pub fn push_frequent_event_json(out: &mut String, event: &StreamEvent) -> bool {
    match event {
        StreamEvent::TextDelta { text } => {
            out.push_str(r#"{"type":"text-delta","text":"#);
            push_json_string(out, text);
        }
        StreamEvent::ReasoningDelta { text } => {
            out.push_str(r#"{"type":"reasoning-delta","text":"#);
            push_json_string(out, text);
        }
        StreamEvent::ToolCallDelta {
            index,
            arguments_delta,
        } => {
            out.push_str(r#"{"type":"tool-call-delta","index":"#);
            push_json_number(out, Some(u64::from(*index)));
            out.push_str(r#","argumentsDelta":"#);
            push_json_string(out, arguments_delta);
        }
        StreamEvent::Usage { usage } => {
            out.push_str(r#"{"type":"usage","usage":{"inputTokens":"#);
            push_json_number(out, usage.input_tokens);
            out.push_str(r#","cacheReadTokens":"#);
            push_json_number(out, usage.cache_read_tokens);
            out.push_str(r#","cacheWrite5mTokens":"#);
            push_json_number(out, usage.cache_write_5m_tokens);
            out.push_str(r#","cacheWrite1hTokens":"#);
            push_json_number(out, usage.cache_write_1h_tokens);
            out.push_str(r#","outputTokens":"#);
            push_json_number(out, usage.output_tokens);
            out.push_str(r#","reasoningTokens":"#);
            push_json_number(out, usage.reasoning_tokens);
            out.push('}');
        }
        _ => return false,
    }
    out.push('}');
    true
}

/// Appends a count, or `null` when it is unknown.
fn push_json_number(out: &mut String, value: Option<u64>) {
    let Some(mut value) = value else {
        out.push_str("null");
        return;
    };
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

/// Appends `text` as a JSON string literal, escaped exactly as serde_json escapes it (quote,
/// backslash and control characters; `\u00XX` for controls without a short form).
pub fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[plain_from..at]);
        plain_from = at + 1;
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        } else {
            out.push_str(short);
        }
    }
    out.push_str(&text[plain_from..]);
    out.push('"');
}

/// Folds the `Usage` events of one batch (events delivered together) into one, at the place of
/// the last: each is a running total, so the merged one says what the last said, plus any
/// count only an earlier one reported (Anthropic sends input and output counts apart). Gemini
/// reports usage with every chunk; this halves the events a long Gemini stream hands to JS.
pub fn coalesce_usage(events: &mut Vec<StreamEvent>) {
    let Some(last) = events
        .iter()
        .rposition(|e| matches!(e, StreamEvent::Usage { .. }))
    else {
        return;
    };
    let mut merged = Usage::default();
    for event in &events[..=last] {
        if let StreamEvent::Usage { usage } = event {
            merged.merge(usage);
        }
    }
    events[last] = StreamEvent::Usage { usage: merged };
    let mut index = 0;
    events.retain(|e| {
        index += 1;
        index - 1 == last || !matches!(e, StreamEvent::Usage { .. })
    });
}

#[cfg(test)]
mod tests {
    use super::{push_frequent_event_json, push_json_string, StreamEvent};
    use crate::core::model::Usage;

    #[test]
    fn json_strings_are_escaped_exactly_like_serde_json() {
        let mut every_control: String = (0u8..0x20).map(char::from).collect();
        every_control.push_str("\"\\/\u{7f}é 😀 plain");
        for text in [
            "",
            "plain",
            "\"",
            "a\\b",
            "line\nnext\r\t",
            &every_control,
            "ends\u{1f}",
        ] {
            let mut out = String::from("x");
            push_json_string(&mut out, text);
            assert_eq!(out[1..], serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn frequent_events_are_written_exactly_like_serde_json() {
        let usage = Usage {
            input_tokens: Some(0),
            cache_read_tokens: None,
            cache_write_5m_tokens: Some(7),
            cache_write_1h_tokens: None,
            output_tokens: Some(u64::MAX),
            reasoning_tokens: Some(1234567890),
        };
        let frequent = [
            StreamEvent::TextDelta {
                text: "Hi \"there\"\n".into(),
            },
            StreamEvent::ReasoningDelta {
                text: "\u{1}é".into(),
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                arguments_delta: "{\"a\":".into(),
            },
            StreamEvent::ToolCallDelta {
                index: u32::MAX,
                arguments_delta: String::new(),
            },
            StreamEvent::Usage { usage },
            StreamEvent::Usage {
                usage: Usage::default(),
            },
        ];
        for event in &frequent {
            let mut out = String::new();
            assert!(push_frequent_event_json(&mut out, event));
            assert_eq!(out, serde_json::to_string(event).unwrap());
        }
        let start = StreamEvent::Start {
            id: None,
            model: None,
        };
        let mut out = String::new();
        assert!(!push_frequent_event_json(&mut out, &start));
        assert!(out.is_empty());
    }

    #[test]
    fn usage_events_of_a_batch_fold_into_the_last_keeping_every_count() {
        use super::coalesce_usage;
        let usage = |input: Option<u64>, output: Option<u64>| StreamEvent::Usage {
            usage: Usage {
                input_tokens: input,
                output_tokens: output,
                ..Usage::default()
            },
        };
        let text = |t: &str| StreamEvent::TextDelta { text: t.into() };
        let mut events = vec![
            usage(Some(12), None),
            text("a"),
            usage(None, Some(1)),
            text("b"),
            usage(None, Some(2)),
            text("c"),
        ];
        coalesce_usage(&mut events);
        assert_eq!(
            events,
            vec![text("a"), text("b"), usage(Some(12), Some(2)), text("c")]
        );
        let mut none = vec![text("a")];
        coalesce_usage(&mut none);
        assert_eq!(none, vec![text("a")]);
    }
}
