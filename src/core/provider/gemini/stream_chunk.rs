//! The common stream chunk read without serde (see `core::json_reader`): candidates of text
//! and thought parts, finish reasons, usage, prompt feedback. A chunk with a function call or
//! an `error`, or a malformed one, returns `None` and is read by serde.
use super::wire::{
    Candidate, CandidateContent, GenerateContentResponse, PromptFeedback, ResponsePart,
    UsageMetadata,
};
use crate::core::json_reader::{JsonReader, SeenFields};

/// Reads `data` as serde would read it into a [`GenerateContentResponse`].
pub(super) fn read_chunk(data: &str) -> Option<GenerateContentResponse> {
    let mut reader = JsonReader::new(data);
    let mut chunk = GenerateContentResponse::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "candidates" => {
            seen.first(0)?;
            reader.array(|reader| {
                chunk.candidates.push(read_candidate(reader)?);
                Some(())
            })
        }
        "promptFeedback" => {
            seen.first(1)?;
            if !reader.null() {
                let block_reason = reader.one_member("blockReason", |reader| {
                    Some(reader.nullable_string()?.map(String::from))
                })?;
                chunk.prompt_feedback = Some(PromptFeedback { block_reason });
            }
            Some(())
        }
        "usageMetadata" => {
            seen.first(2)?;
            if !reader.null() {
                chunk.usage_metadata = Some(read_usage(reader)?);
            }
            Some(())
        }
        "modelVersion" => {
            seen.first(3)?;
            chunk.model_version = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        "responseId" => {
            seen.first(4)?;
            chunk.response_id = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        "error" => {
            seen.first(5)?;
            reader.null().then_some(())
        }
        _ => reader.skip(),
    })?;
    reader.end()?;
    Some(chunk)
}

fn read_candidate(reader: &mut JsonReader) -> Option<Candidate> {
    let mut candidate = Candidate::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "content" => {
            seen.first(0)?;
            if !reader.null() {
                candidate.content = Some(read_content(reader)?);
            }
            Some(())
        }
        "finishReason" => {
            seen.first(1)?;
            candidate.finish_reason = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        _ => reader.skip(),
    })?;
    Some(candidate)
}

fn read_content(reader: &mut JsonReader) -> Option<CandidateContent> {
    let mut content = CandidateContent::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "parts" => {
            seen.first(0)?;
            reader.array(|reader| {
                content.parts.push(read_part(reader)?);
                Some(())
            })
        }
        _ => reader.skip(),
    })?;
    Some(content)
}

fn read_part(reader: &mut JsonReader) -> Option<ResponsePart> {
    let mut part = ResponsePart::default();
    let mut seen = SeenFields::default();
    reader.object(|reader, key| match key {
        "text" => {
            seen.first(0)?;
            part.text = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        "thought" => {
            seen.first(1)?;
            part.thought = reader.boolean()?;
            Some(())
        }
        "thoughtSignature" => {
            seen.first(2)?;
            part.thought_signature = reader.nullable_string()?.map(Into::into);
            Some(())
        }
        // Function calls come whole and rarely: serde reads them.
        "functionCall" => {
            seen.first(3)?;
            reader.null().then_some(())
        }
        _ => reader.skip(),
    })?;
    Some(part)
}

fn read_usage(reader: &mut JsonReader) -> Option<UsageMetadata> {
    const FIELDS: [&str; 4] = [
        "promptTokenCount",
        "cachedContentTokenCount",
        "candidatesTokenCount",
        "thoughtsTokenCount",
    ];
    let mut counts = [None; 4];
    let mut seen = SeenFields::default();
    reader.object(
        |reader, key| match FIELDS.iter().position(|field| *field == key) {
            Some(at) => {
                seen.first(at as u32)?;
                counts[at] = reader.nullable_unsigned()?;
                Some(())
            }
            None => reader.skip(),
        },
    )?;
    let [prompt_token_count, cached_content_token_count, candidates_token_count, thoughts_token_count] =
        counts;
    Some(UsageMetadata {
        prompt_token_count,
        cached_content_token_count,
        candidates_token_count,
        thoughts_token_count,
    })
}

/// Panics if this reader reads `data` other than serde does (the `stream_chunks` fuzz target).
#[cfg(fuzzing)]
pub(in crate::core::provider) fn check_against_serde(data: &str) {
    crate::core::json_reader::tests_support::assert_reads_like_serde::<
        super::wire::GenerateContentResponse,
    >(data, read_chunk(data));
}

#[cfg(test)]
mod tests {
    use super::read_chunk;
    use crate::core::json_reader::tests_support::{
        agrees_with_serde, serde_reading, stream_fixture_data,
    };
    use crate::core::provider::gemini::wire::GenerateContentResponse;

    #[test]
    fn agrees_with_serde_on_fixtures_and_their_mutations() {
        let read = |data: &str| read_chunk(data).map(|c| format!("{c:?}"));
        let read_by_fast_path = agrees_with_serde(
            &stream_fixture_data("gemini"),
            read,
            serde_reading::<GenerateContentResponse>,
        );
        assert!(read_by_fast_path > 10, "{read_by_fast_path}");
    }

    #[test]
    fn leaves_function_calls_and_errors_to_serde() {
        for data in [
            r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}}}]}}]}"#,
            r#"{"error":{"code":500,"message":"boom"}}"#,
            r#"{"candidates":null}"#,
        ] {
            assert!(read_chunk(data).is_none(), "{data}");
        }
    }
}
