//! Structured output: a call whose `responseFormat` is a JSON schema gets its answer checked
//! against that schema ([`crate::core::schema`]). On a mismatch the model is asked once to
//! repair it (its answer and the validation errors are appended to the conversation, sent to
//! the target that answered); if the repaired answer fails too, the call fails with an
//! `invalid_output` error carrying the raw text. One retry only: a model that misreads a schema
//! twice rarely gets it right a third time, and each retry is billed.
use serde_json::Value;

use crate::core::error::{Error, ErrorKind};
use crate::core::model::{ContentPart, Message, Request, ResponseFormat, Role, Usage};
use crate::core::policy::{Attempt, AttemptOutcome};
use crate::core::runtime::{Clock, Transport};
use crate::core::schema::{check_schema, describe_errors, validate};

use super::{CallOptions, ChatOutcome, Client};

/// A structured answer: the call's outcome and the parsed, schema-valid object.
#[derive(Debug, Clone, PartialEq)]
pub struct StructuredOutcome {
    /// The answer that passed. After a repair, its `attempts` are both calls' (the rejected
    /// answer's attempt is a failed one, `invalid_output`, with its usage) and its
    /// `total_cost` both calls' costs (each call also has its own usage record).
    pub outcome: ChatOutcome,
    pub object: Value,
    /// The first answer failed the schema and the repair passed.
    pub repaired: bool,
}

/// Why an answer is not the schema's document, as a list the model can act on.
fn mismatch(schema: &Value, text: &str) -> Result<Value, String> {
    let value = parse_answer(text).map_err(|e| format!("- the answer is not valid JSON: {e}"))?;
    validate(schema, &value).map_err(|errors| describe_errors(&errors))?;
    Ok(value)
}

/// Whether `text` is a JSON answer that matches `schema`.
pub(super) fn matches_schema(schema: &Value, text: &str) -> bool {
    mismatch(schema, text).is_ok()
}

/// The answer as JSON. Models sometimes wrap a document in a Markdown code fence despite the
/// instructions; the fence is not part of the answer.
fn parse_answer(text: &str) -> Result<Value, serde_json::Error> {
    let trimmed = text.trim();
    let unfenced = trimmed
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
        .map(|inner| inner.trim_start_matches("json").trim());
    serde_json::from_str(unfenced.unwrap_or(trimmed))
}

fn repair_prompt(errors: &str) -> String {
    format!(
        "Your answer does not match the required JSON schema:\n{errors}\nReply with only the \
         corrected JSON document."
    )
}

/// An answer the schema rejected did not serve the call: its attempt becomes a failed one
/// carrying the answer's usage, so that whoever bills the attempts (the proxy, a usage record)
/// counts it like any other failed attempt.
fn reject_answer(attempts: &mut [Attempt], usage: Usage, errors: &str) {
    let served = attempts
        .iter_mut()
        .rev()
        .find(|a| matches!(a.outcome, AttemptOutcome::Succeeded));
    if let Some(attempt) = served {
        attempt.outcome = AttemptOutcome::Failed {
            error: Error::new(
                ErrorKind::InvalidOutput,
                format!("the answer does not match the JSON schema:\n{errors}"),
            ),
        };
        attempt.usage = Some(usage);
    }
}

fn text_message(role: Role, text: String) -> Message {
    Message {
        role,
        content: vec![ContentPart::Text { text, cache: None }],
    }
}

/// A streamed answer held to its request's JSON schema: the text is collected as it arrives
/// and checked when the stream finishes. A stream cannot be repaired: its text has already
/// reached the caller, so a mismatch is an `invalid_output` error at once.
#[derive(Debug)]
pub(super) struct StreamedAnswer {
    schema: Value,
    text: String,
}

impl StreamedAnswer {
    /// `None` when the request asks for no JSON schema; an `invalid_request` error, before
    /// anything is sent, for a schema outside the supported subset.
    pub(super) fn for_request(request: &Request) -> Result<Option<Self>, Error> {
        let Some(ResponseFormat::JsonSchema { schema, .. }) = &request.response_format else {
            return Ok(None);
        };
        check_schema(schema)?;
        Ok(Some(StreamedAnswer {
            schema: schema.clone(),
            text: String::new(),
        }))
    }

    pub(super) fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// The parsed object, or an `invalid_output` error carrying the raw text.
    pub(super) fn finish(&mut self) -> Result<Value, Error> {
        mismatch(&self.schema, &self.text).map_err(|errors| {
            Error::new(
                ErrorKind::InvalidOutput,
                format!(
                    "the streamed answer does not match the JSON schema (a stream is not \
                     repaired: its text was already delivered):\n{errors}"
                ),
            )
            .with_raw_output(std::mem::take(&mut self.text))
        })
    }
}

impl<T: Transport, C: Clock> Client<T, C> {
    /// Sends a request whose `responseFormat` is `json_schema` and returns the parsed object.
    ///
    /// The schema is checked before anything is sent (`invalid_request`, provider code
    /// `invalid_json_schema`, for a schema outside the supported subset). A first answer that
    /// does not match is repaired once on the target that gave it, fallback off; a second
    /// mismatch is an `invalid_output` error whose [`Error::raw_output`] is the repaired
    /// answer's text and whose attempts are both calls'.
    pub async fn chat_structured(
        &self,
        request: &Request,
        options: &CallOptions,
    ) -> Result<StructuredOutcome, Error> {
        let Some(ResponseFormat::JsonSchema { schema, .. }) = &request.response_format else {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "structured output needs responseFormat { type: \"json_schema\", schema }",
            ));
        };
        check_schema(schema)?;
        let first = self.chat(request, options).await?;
        let first_text = first.response.text();
        let errors = match mismatch(schema, &first_text) {
            Ok(object) => {
                return Ok(StructuredOutcome {
                    outcome: first,
                    object,
                    repaired: false,
                })
            }
            Err(errors) => errors,
        };
        let mut repair = request.clone();
        repair.model.clone_from(&first.target);
        repair.complexity = None;
        repair
            .messages
            .push(text_message(Role::Assistant, first_text));
        repair
            .messages
            .push(text_message(Role::User, repair_prompt(&errors)));
        let mut repair_options = options.clone();
        repair_options.policy.fallback = Some(Vec::new());
        let mut earlier_attempts = first.attempts;
        reject_answer(&mut earlier_attempts, first.response.usage, &errors);
        let earlier_cost = first.total_cost;
        let joined = |mut attempts: Vec<_>| {
            let mut all = earlier_attempts.clone();
            all.append(&mut attempts);
            all
        };
        let mut second = match self.chat(&repair, &repair_options).await {
            Ok(second) => second,
            Err(error) => {
                let attempts = joined(error.attempts().to_vec());
                return Err(error.with_attempts(attempts));
            }
        };
        second.attempts = joined(std::mem::take(&mut second.attempts));
        second.total_cost = match (earlier_cost, second.total_cost) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        let second_text = second.response.text();
        match mismatch(schema, &second_text) {
            Ok(object) => Ok(StructuredOutcome {
                outcome: second,
                object,
                repaired: true,
            }),
            Err(errors) => {
                let mut attempts = second.attempts;
                reject_answer(&mut attempts, second.response.usage, &errors);
                Err(Error::new(
                    ErrorKind::InvalidOutput,
                    format!(
                        "the answer does not match the JSON schema, even after one repair \
                         attempt:\n{errors}"
                    ),
                )
                .with_provider(second.response.provider)
                .with_usage(second.response.usage)
                .with_attempts(attempts)
                .with_raw_output(second_text))
            }
        }
    }
}
