//! The common `chat.completion.chunk` read without serde (see `core::json_reader`): text,
//! refusal and reasoning deltas, tool-call fragments with string arguments, finish reasons and
//! the usage chunk. Anything else (content parts, an `error`, `message` instead of `delta`,
//! arguments sent as an object, a malformed chunk) returns `None` and is read by serde.
use serde_json::Value;

use super::wire::{
    ChatCompletion, Choice, CompletionTokensDetails, PromptTokensDetails, WireContent,
    WireFunction, WireMessage, WireToolCall, WireUsage,
};
use crate::core::json_reader::{JsonReader, SeenFields};

/// Reads `data` as serde would read it into a [`ChatCompletion`], except that `id` and `model`
/// are only kept `with_ids` (the stream needs them for its first event only).
pub(super) fn read_chunk(data: &str, with_ids: bool) -> Option<ChatCompletion> {
    let mut reader = JsonReader::new(data);
    let mut chunk = ChatCompletion::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "id" => {
            seen.first(0)?;
            let id = reader.nullable_string()?;
            chunk.id = id.filter(|_| with_ids).map(Into::into);
            Some(())
        }
        "model" => {
            seen.first(1)?;
            let model = reader.nullable_string()?;
            chunk.model = model.filter(|_| with_ids).map(Into::into);
            Some(())
        }
        "choices" => {
            seen.first(2)?;
            if reader.null() {
                return Some(());
            }
            reader.array(|reader| {
                chunk.choices.push(read_choice(reader)?);
                Some(())
            })
        }
        "usage" => {
            seen.first(3)?;
            if !reader.null() {
                chunk.usage = Some(read_usage(reader)?);
            }
            Some(())
        }
        // An error chunk is rare and worded by serde's reading of it.
        "error" => {
            seen.first(4)?;
            reader.null().then_some(())
        }
        _ => reader.skip(),
    })?;
    reader.end()?;
    Some(chunk)
}

fn read_choice(reader: &mut JsonReader) -> Option<Choice> {
    let mut choice = Choice::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "index" => {
            seen.first(0)?;
            choice.index = reader.nullable_u32()?;
            Some(())
        }
        "delta" => {
            seen.first(1)?;
            if !reader.null() {
                choice.delta = Some(read_delta(reader)?);
            }
            Some(())
        }
        "finish_reason" => {
            seen.first(2)?;
            choice.finish_reason = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        "message" => {
            seen.first(3)?;
            reader.null().then_some(())
        }
        _ => reader.skip(),
    })?;
    Some(choice)
}

fn read_delta(reader: &mut JsonReader) -> Option<WireMessage> {
    let mut delta = WireMessage::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "content" => {
            seen.first(0)?;
            let content = reader.nullable_string()?;
            delta.content = content.map(|text| WireContent::Text(text.into()));
            Some(())
        }
        "refusal" => {
            seen.first(1)?;
            delta.refusal = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        "reasoning_content" => {
            seen.first(2)?;
            delta.reasoning_content = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        "tool_calls" => {
            seen.first(3)?;
            if reader.null() {
                return Some(());
            }
            reader.array(|reader| {
                delta.tool_calls.push(read_tool_call(reader)?);
                Some(())
            })
        }
        _ => reader.skip(),
    })?;
    Some(delta)
}

fn read_tool_call(reader: &mut JsonReader) -> Option<WireToolCall> {
    let mut call = WireToolCall::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "index" => {
            seen.first(0)?;
            call.index = reader.nullable_u32()?;
            Some(())
        }
        "id" => {
            seen.first(1)?;
            call.id = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        "function" => {
            seen.first(2)?;
            if !reader.null() {
                call.function = Some(read_function(reader)?);
            }
            Some(())
        }
        _ => reader.skip(),
    })?;
    Some(call)
}

fn read_function(reader: &mut JsonReader) -> Option<WireFunction> {
    let mut function = WireFunction::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "name" => {
            seen.first(0)?;
            function.name = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        // A JSON document in a string; servers sending the object itself go through serde.
        "arguments" => {
            seen.first(1)?;
            function.arguments = reader
                .nullable_string()?
                .map(|text| Value::String(text.into()));
            Some(())
        }
        _ => reader.skip(),
    })?;
    Some(function)
}

fn read_usage(reader: &mut JsonReader) -> Option<WireUsage> {
    let mut usage = WireUsage::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "prompt_tokens" => {
            seen.first(0)?;
            usage.prompt_tokens = reader.nullable_unsigned()?;
            Some(())
        }
        "completion_tokens" => {
            seen.first(1)?;
            usage.completion_tokens = reader.nullable_unsigned()?;
            Some(())
        }
        "prompt_tokens_details" => {
            seen.first(2)?;
            if !reader.null() {
                let cached_tokens =
                    reader.one_member("cached_tokens", JsonReader::nullable_unsigned)?;
                usage.prompt_tokens_details = Some(PromptTokensDetails { cached_tokens });
            }
            Some(())
        }
        "completion_tokens_details" => {
            seen.first(3)?;
            if !reader.null() {
                let reasoning_tokens =
                    reader.one_member("reasoning_tokens", JsonReader::nullable_unsigned)?;
                usage.completion_tokens_details =
                    Some(CompletionTokensDetails { reasoning_tokens });
            }
            Some(())
        }
        _ => reader.skip(),
    })?;
    Some(usage)
}

/// Panics if this reader reads `data` other than serde does (the `stream_chunks` fuzz target).
#[cfg(fuzzing)]
pub(in crate::core::provider) fn check_against_serde(data: &str) {
    crate::core::json_reader::tests_support::assert_reads_like_serde::<super::wire::ChatCompletion>(
        data,
        read_chunk(data, true),
    );
}

#[cfg(test)]
mod tests {
    use super::read_chunk;
    use crate::core::json_reader::tests_support::{
        agrees_with_serde, serde_reading, stream_fixture_data,
    };
    use crate::core::provider::openai::wire::ChatCompletion;

    #[test]
    fn agrees_with_serde_on_fixtures_and_their_mutations() {
        let read = |data: &str| read_chunk(data, true).map(|c| format!("{c:?}"));
        let read_by_fast_path = agrees_with_serde(
            &stream_fixture_data("openai"),
            read,
            serde_reading::<ChatCompletion>,
        );
        // The fixtures' text chunks must take the fast path, or it speeds nothing up.
        assert!(read_by_fast_path > 10, "{read_by_fast_path}");
    }

    #[test]
    fn ids_are_kept_only_when_asked() {
        let data = r#"{"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#;
        let chunk = read_chunk(data, false).unwrap();
        assert_eq!((chunk.id, chunk.model), (None, None));
        let chunk = read_chunk(data, true).unwrap();
        assert_eq!(chunk.id.as_deref(), Some("c1"));
    }

    #[test]
    fn leaves_rare_shapes_to_serde() {
        for data in [
            r#"{"choices":[{"delta":{"content":[{"type":"text","text":"a"}]}}]}"#,
            r#"{"error":{"message":"boom"}}"#,
            r#"{"choices":[{"message":{"content":"a"}}]}"#,
            r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":{"a":1}}}]}}]}"#,
            r#"{"id":"a","id":"b"}"#,
        ] {
            assert!(read_chunk(data, true).is_none(), "{data}");
        }
    }
}
