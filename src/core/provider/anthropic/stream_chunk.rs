//! The common stream event read without serde (see `core::json_reader`): a
//! `content_block_delta` carrying text, thinking, a signature or a tool call's JSON fragment,
//! nearly every event of a stream. Other events, rare by comparison, return `None` and are
//! read by serde.
use super::wire::{BlockDelta, StreamPayload};
use crate::core::json_reader::{JsonReader, SeenFields};

/// Reads `data` as serde would read it into a [`StreamPayload::ContentBlockDelta`].
pub(super) fn read_block_delta(data: &str) -> Option<StreamPayload> {
    let mut reader = JsonReader::new(data);
    let (mut kind, mut index, mut delta) = (None, None, None);
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "type" => {
            seen.first(0)?;
            kind = Some(reader.string()?);
            Some(())
        }
        "index" => {
            seen.first(1)?;
            index = Some(reader.nullable_u32()??);
            Some(())
        }
        "delta" => {
            seen.first(2)?;
            delta = Some(read_delta(reader)?);
            Some(())
        }
        _ => reader.skip(),
    })?;
    reader.end()?;
    (kind? == "content_block_delta").then_some(())?;
    Some(StreamPayload::ContentBlockDelta {
        index: index?,
        delta: delta?,
    })
}

/// A delta of a known type; the field its type names is read (`""` when absent, as serde's
/// default), the others skipped as serde ignores them.
fn read_delta(reader: &mut JsonReader) -> Option<BlockDelta> {
    const FIELDS: [&str; 4] = ["text", "partial_json", "thinking", "signature"];
    let mut kind = None;
    let mut values: [Option<String>; 4] = Default::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| {
        if key == "type" {
            seen.first(0)?;
            kind = Some(reader.string()?);
            return Some(());
        }
        match FIELDS.iter().position(|field| *field == key) {
            Some(at) => {
                seen.first(1 + at as u32)?;
                values[at] = Some(reader.string()?.into());
                Some(())
            }
            None => reader.skip(),
        }
    })?;
    let [text, partial_json, thinking, signature] = values;
    Some(match &*kind? {
        "text_delta" => BlockDelta::TextDelta {
            text: text.unwrap_or_default(),
        },
        "input_json_delta" => BlockDelta::InputJsonDelta {
            partial_json: partial_json.unwrap_or_default(),
        },
        "thinking_delta" => BlockDelta::ThinkingDelta {
            thinking: thinking.unwrap_or_default(),
        },
        "signature_delta" => BlockDelta::SignatureDelta {
            signature: signature.unwrap_or_default(),
        },
        _ => return None,
    })
}

/// Panics if this reader reads `data` other than serde does (the `stream_chunks` fuzz target).
#[cfg(fuzzing)]
pub(in crate::core::provider) fn check_against_serde(data: &str) {
    crate::core::json_reader::tests_support::assert_reads_like_serde::<super::wire::StreamPayload>(
        data,
        read_block_delta(data),
    );
}

#[cfg(test)]
mod tests {
    use super::read_block_delta;
    use crate::core::json_reader::tests_support::{
        agrees_with_serde, serde_reading, stream_fixture_data,
    };
    use crate::core::provider::anthropic::wire::StreamPayload;

    #[test]
    fn agrees_with_serde_on_fixtures_and_their_mutations() {
        let read = |data: &str| read_block_delta(data).map(|p| format!("{p:?}"));
        let read_by_fast_path = agrees_with_serde(
            &stream_fixture_data("anthropic"),
            read,
            serde_reading::<StreamPayload>,
        );
        assert!(read_by_fast_path > 10, "{read_by_fast_path}");
    }

    #[test]
    fn reads_every_delta_type_and_leaves_the_rest_to_serde() {
        let delta = |inner: &str| {
            let data = format!(r#"{{"type":"content_block_delta","index":1,"delta":{inner}}}"#);
            read_block_delta(&data).map(|p| format!("{p:?}"))
        };
        assert!(delta(r#"{"type":"text_delta","text":"a"}"#)
            .unwrap()
            .contains("TextDelta"));
        assert!(delta(r#"{"partial_json":"{","type":"input_json_delta"}"#)
            .unwrap()
            .contains("InputJsonDelta"));
        assert!(delta(r#"{"type":"thinking_delta","thinking":"t"}"#).is_some());
        assert!(delta(r#"{"type":"signature_delta","signature":"s"}"#).is_some());
        assert!(delta(r#"{"type":"citations_delta","citation":{}}"#).is_none());
        assert!(read_block_delta(r#"{"type":"message_stop"}"#).is_none());
        assert!(read_block_delta(
            r#"{"type":"content_block_delta","delta":{"type":"text_delta"}}"#
        )
        .is_none());
    }
}
