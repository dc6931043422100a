//! OpenAI Batch API over Chat Completions: the requests become a JSONL input file (one
//! `{custom_id, method:"POST", url:"/v1/chat/completions", body}` line each, body = what a live
//! call sends), uploaded with `POST /v1/files` (multipart, `purpose=batch`); then
//! `POST /v1/batches {input_file_id, endpoint, completion_window:"24h"}`, polled with
//! `GET /v1/batches/{id}`; the results are the output file (2xx answers) and the error file
//! (the others), read with `GET /v1/files/{id}/content`: lines
//! `{id, custom_id, response:{status_code, request_id, body} | null, error:{code, message} | null}`.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::multipart::{FormData, Part};
use super::{
    check_id, check_size, encode_bodies, invalid_response, unreadable_result, BatchCounts,
    BatchIssue, BatchOutcome, BatchRequest, BatchResult, BatchState, BatchStatus, Encoded,
    ResultsLocation,
};
use crate::core::error::Error;
use crate::core::http::{Headers, HttpRequest, HttpResponse, Method};
use crate::core::model::Provider;
use crate::core::pricing::PriceTable;
use crate::core::provider::openai::encode::DEFAULT_BASE_URL;
use crate::core::provider::openai::error::from_error_value;
use crate::core::provider::{self, ProviderConfig};

const PROVIDER: Provider = Provider::OpenAi;

/// Lines in one input file.
pub const MAX_REQUESTS: usize = 50_000;
/// Bytes of the input file ("200 MB", read as decimal megabytes to stay on the safe side).
pub const MAX_FILE_BYTES: usize = 200_000_000;
/// The one endpoint every line of a batch addresses.
pub const ENDPOINT: &str = "/v1/chat/completions";
/// The only completion window OpenAI offers.
pub const COMPLETION_WINDOW: &str = "24h";
/// The file name the input file is uploaded under.
pub const INPUT_FILE_NAME: &str = "llm-edge-batch.jsonl";

#[derive(Serialize)]
struct InputLine<'a> {
    custom_id: &'a str,
    method: &'static str,
    url: &'static str,
    body: Value,
}

/// The JSONL input file (every line ends with `\n`): validates, encodes every request with the
/// Chat Completions adapter (non-streaming) and checks the size limit.
pub fn input_file(
    config: &ProviderConfig,
    requests: &[BatchRequest],
) -> Result<Encoded<String>, Error> {
    let bodies = encode_bodies(PROVIDER, config, requests)?;
    let mut jsonl = String::new();
    for (item, body) in requests.iter().zip(bodies.value) {
        let line = InputLine {
            custom_id: &item.custom_id,
            method: "POST",
            url: ENDPOINT,
            body,
        };
        jsonl.push_str(&serde_json::to_string(&line).expect("JSON values serialise"));
        jsonl.push('\n');
    }
    check_size(PROVIDER, "input file", jsonl.len(), MAX_FILE_BYTES)?;
    Ok(Encoded {
        value: jsonl,
        warnings: bodies.warnings,
    })
}

fn base_url(config: &ProviderConfig) -> &str {
    config.base_url_or(DEFAULT_BASE_URL)
}

/// `POST {base}/v1/files`: the input file as `multipart/form-data` (`purpose=batch`, then the
/// `file` part as `application/jsonl`). `boundary` is used as given unless it occurs in the
/// file (see [`FormData::new`]).
pub fn upload_request(config: &ProviderConfig, jsonl: &str, boundary: &str) -> HttpRequest {
    let form = FormData::new(
        boundary,
        &[
            Part::field("purpose", "batch"),
            Part::file("file", INPUT_FILE_NAME, "application/jsonl", jsonl),
        ],
    );
    let mut headers = super::headers(PROVIDER, config, Some(&form.content_type()));
    // The extra headers may not replace the multipart content type with the JSON default.
    headers.set("content-type", form.content_type());
    HttpRequest {
        method: Method::Post,
        url: format!("{}/v1/files", base_url(config)),
        headers,
        body: Some(form.body),
    }
}

#[derive(Deserialize)]
struct FileObject {
    id: String,
}

/// The id of the uploaded file, from the `file` object `POST /v1/files` answers.
pub fn decode_file_id(body: &[u8]) -> Result<String, Error> {
    let file: FileObject = serde_json::from_slice(body).map_err(|e| {
        invalid_response(
            PROVIDER,
            format!("the upload answer is not a file object: {e}"),
        )
    })?;
    check_id(PROVIDER, "file", &file.id)
        .map_err(|e| invalid_response(PROVIDER, e.message().to_string()))?;
    Ok(file.id)
}

#[derive(Serialize)]
struct CreateBatch<'a> {
    input_file_id: &'a str,
    endpoint: &'static str,
    completion_window: &'static str,
}

/// `POST {base}/v1/batches` for an uploaded input file.
pub fn create_request(config: &ProviderConfig, input_file_id: &str) -> Result<HttpRequest, Error> {
    check_id(PROVIDER, "file", input_file_id)?;
    let body = CreateBatch {
        input_file_id,
        endpoint: ENDPOINT,
        completion_window: COMPLETION_WINDOW,
    };
    let body = serde_json::to_string(&body).expect("plain strings serialise");
    let url = format!("{}/v1/batches", base_url(config));
    Ok(super::post_json(PROVIDER, config, url, body))
}

pub(super) fn batch_url(config: &ProviderConfig, id: &str) -> String {
    format!("{}/v1/batches/{id}", base_url(config))
}

pub(super) fn file_content_url(config: &ProviderConfig, file_id: &str) -> String {
    format!("{}/v1/files/{file_id}/content", base_url(config))
}

#[derive(Deserialize)]
struct Batch {
    id: String,
    status: String,
    #[serde(default)]
    request_counts: Option<RequestCounts>,
    #[serde(default)]
    output_file_id: Option<String>,
    #[serde(default)]
    error_file_id: Option<String>,
    #[serde(default)]
    errors: Option<Errors>,
    #[serde(default)]
    created_at: Option<u64>,
    #[serde(default)]
    expires_at: Option<u64>,
    #[serde(default)]
    completed_at: Option<u64>,
    #[serde(default)]
    failed_at: Option<u64>,
    #[serde(default)]
    expired_at: Option<u64>,
    #[serde(default)]
    cancelled_at: Option<u64>,
}

#[derive(Deserialize)]
struct RequestCounts {
    total: Option<u64>,
    completed: Option<u64>,
    failed: Option<u64>,
}

#[derive(Deserialize)]
struct Errors {
    #[serde(default)]
    data: Vec<WireIssue>,
}

#[derive(Deserialize)]
struct WireIssue {
    code: Option<String>,
    message: Option<String>,
    line: Option<u64>,
    param: Option<String>,
}

/// A `batch` object -> [`BatchStatus`].
pub(super) fn decode_status(body: &[u8]) -> Result<BatchStatus, Error> {
    let batch: Batch = serde_json::from_slice(body)
        .map_err(|e| invalid_response(PROVIDER, format!("the answer is not a batch: {e}")))?;
    let (state, ended_at) = match batch.status.as_str() {
        "validating" => (BatchState::Validating, None),
        "in_progress" => (BatchState::InProgress, None),
        "finalizing" => (BatchState::Finalizing, None),
        "completed" => (BatchState::Ended, batch.completed_at),
        "failed" => (BatchState::Failed, batch.failed_at),
        "expired" => (BatchState::Expired, batch.expired_at),
        "cancelling" => (BatchState::Cancelling, None),
        "cancelled" => (BatchState::Cancelled, batch.cancelled_at),
        other => {
            return Err(invalid_response(
                PROVIDER,
                format!("unknown status `{other}` of batch `{}`", batch.id),
            ))
        }
    };
    let counts = batch.request_counts.map_or(BatchCounts::default(), |c| {
        let unfinished = match (c.total, c.completed, c.failed) {
            _ if state.is_terminal() => Some(0),
            (Some(total), Some(completed), Some(failed)) => {
                Some(total.saturating_sub(completed + failed))
            }
            _ => None,
        };
        BatchCounts {
            processing: unfinished,
            succeeded: c.completed,
            errored: c.failed,
            canceled: None,
            expired: None,
            total: c.total,
        }
    });
    let results_location = (batch.output_file_id.is_some() || batch.error_file_id.is_some())
        .then_some(ResultsLocation::Files {
            output_file_id: batch.output_file_id,
            error_file_id: batch.error_file_id,
        });
    let issues = batch
        .errors
        .map(|errors| errors.data)
        .unwrap_or_default()
        .into_iter()
        .map(|issue| BatchIssue {
            message: issue
                .message
                .or_else(|| issue.code.clone())
                .unwrap_or_else(|| "no message".to_string()),
            code: issue.code,
            line: issue.line,
            param: issue.param,
        })
        .collect();
    Ok(BatchStatus {
        provider: PROVIDER,
        state,
        provider_state: batch.status,
        counts,
        results_location,
        created_at: unix_ms(batch.created_at),
        ended_at: unix_ms(ended_at),
        expires_at: unix_ms(batch.expires_at),
        issues,
        warnings: Vec::new(),
        id: batch.id,
    })
}

/// Unix seconds -> milliseconds.
fn unix_ms(seconds: Option<u64>) -> Option<u64> {
    seconds.and_then(|s| s.checked_mul(1000))
}

#[derive(Deserialize)]
struct OutputLine {
    #[serde(default)]
    response: Option<LineResponse>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct LineResponse {
    status_code: u16,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    body: Value,
}

/// One output or error file line (its `custom_id` already read) -> [`BatchResult`]: the
/// response through the Chat Completions adapter (a non-2xx one through its error
/// classifier, with the line's status and request id); a line without a response is expired,
/// cancelled, or an error without status.
pub(super) fn decode_result(custom_id: String, line: &Value, prices: &PriceTable) -> BatchResult {
    let line = match OutputLine::deserialize(line) {
        Ok(line) => line,
        Err(e) => return unreadable_result(PROVIDER, custom_id, format!("unreadable result: {e}")),
    };
    match (line.response, line.error) {
        (Some(answer), _) => {
            let mut headers = Headers::new();
            if let Some(id) = answer.request_id {
                headers.set("x-request-id", id);
            }
            let body = match answer.body {
                Value::String(text) => text.into_bytes(),
                other => serde_json::to_vec(&other).expect("JSON values serialise"),
            };
            let response = HttpResponse {
                status: answer.status_code,
                headers,
                body,
            };
            match provider::decode(PROVIDER, &response) {
                Ok(response) => BatchResult::priced(custom_id, response, prices),
                Err(error) => BatchResult::new(custom_id, BatchOutcome::Errored { error }),
            }
        }
        (None, Some(error)) => {
            let outcome = match error.get("code").and_then(Value::as_str) {
                Some("batch_expired") => BatchOutcome::Expired,
                Some("batch_cancelled") => BatchOutcome::Canceled,
                _ => BatchOutcome::Errored {
                    error: from_error_value(&error),
                },
            };
            BatchResult::new(custom_id, outcome)
        }
        (None, None) => unreadable_result(
            PROVIDER,
            custom_id,
            "a result line with neither a response nor an error".to_string(),
        ),
    }
}
