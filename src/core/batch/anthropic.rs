//! Anthropic Message Batches: `POST /v1/messages/batches` with `{requests:[{custom_id, params}]}`
//! (params = the Messages body a live call sends), `GET /v1/messages/batches/{id}`,
//! `POST /v1/messages/batches/{id}/cancel`, and the results JSONL at `results_url`: one line
//! `{custom_id, result:{type: succeeded|errored|canceled|expired, message?, error?}}` per request.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    check_size, encode_bodies, invalid_response, rfc3339_field, unreadable_result, BatchCounts,
    BatchOutcome, BatchRequest, BatchResult, BatchState, BatchStatus, Encoded, ResultsLocation,
};
use crate::core::error::Error;
use crate::core::http::{HttpRequest, HttpResponse};
use crate::core::model::Provider;
use crate::core::pricing::PriceTable;
use crate::core::provider::anthropic::{error::decode_error_envelope, DEFAULT_BASE_URL};
use crate::core::provider::{self, ProviderConfig};

const PROVIDER: Provider = Provider::Anthropic;

/// Requests in one batch.
pub const MAX_REQUESTS: usize = 100_000;
/// Bytes of the create body ("256 MB", read as decimal megabytes to stay on the safe side).
pub const MAX_BODY_BYTES: usize = 256_000_000;
/// Longest custom id.
pub const MAX_CUSTOM_ID_CHARS: usize = 64;

/// Anthropic custom ids are 1-64 characters of `[a-zA-Z0-9_-]`.
pub fn is_valid_custom_id(id: &str) -> bool {
    (1..=MAX_CUSTOM_ID_CHARS).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[derive(Serialize)]
struct CreateBatch<'a> {
    requests: Vec<CreateItem<'a>>,
}

#[derive(Serialize)]
struct CreateItem<'a> {
    custom_id: &'a str,
    params: Value,
}

/// `POST {base}/v1/messages/batches`: validates, encodes every request with the Messages
/// adapter (non-streaming) and checks the size limit.
pub fn create_request(
    config: &ProviderConfig,
    requests: &[BatchRequest],
) -> Result<Encoded<HttpRequest>, Error> {
    let bodies = encode_bodies(PROVIDER, config, requests)?;
    let body = CreateBatch {
        requests: requests
            .iter()
            .zip(bodies.value)
            .map(|(item, params)| CreateItem {
                custom_id: &item.custom_id,
                params,
            })
            .collect(),
    };
    let body = serde_json::to_string(&body).expect("JSON values serialise");
    check_size(PROVIDER, "body", body.len(), MAX_BODY_BYTES)?;
    let url = format!("{}/v1/messages/batches", base_url(config));
    Ok(Encoded {
        value: super::post_json(PROVIDER, config, url, body),
        warnings: bodies.warnings,
    })
}

fn base_url(config: &ProviderConfig) -> &str {
    config.base_url_or(DEFAULT_BASE_URL)
}

pub(super) fn batch_url(config: &ProviderConfig, id: &str) -> String {
    format!("{}/v1/messages/batches/{id}", base_url(config))
}

/// The results document: the batch's `results_url` when it is on the configured host, else the
/// documented path under the configured base. The API key goes with the request, so it is
/// never sent to a host the caller did not configure.
pub(super) fn results_url(config: &ProviderConfig, id: &str, reported: &str) -> String {
    match (origin(base_url(config)), origin(reported)) {
        (Some(configured), Some(reported_origin))
            if configured.eq_ignore_ascii_case(reported_origin) =>
        {
            reported.to_string()
        }
        _ => format!("{}/results", batch_url(config, id)),
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn origin(url: &str) -> Option<&str> {
    let authority = url.find("://")? + 3;
    let end = url[authority..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |at| authority + at);
    Some(&url[..end])
}

#[derive(Deserialize)]
struct MessageBatch {
    id: String,
    processing_status: String,
    #[serde(default)]
    request_counts: RequestCounts,
    #[serde(default)]
    results_url: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    ended_at: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    cancel_initiated_at: Option<String>,
}

#[derive(Default, Deserialize)]
struct RequestCounts {
    processing: Option<u64>,
    succeeded: Option<u64>,
    errored: Option<u64>,
    canceled: Option<u64>,
    expired: Option<u64>,
}

/// A `message_batch` object -> [`BatchStatus`].
pub(super) fn decode_status(body: &[u8]) -> Result<BatchStatus, Error> {
    let batch: MessageBatch = serde_json::from_slice(body).map_err(|e| {
        invalid_response(PROVIDER, format!("the answer is not a message batch: {e}"))
    })?;
    let state = match batch.processing_status.as_str() {
        "in_progress" => BatchState::InProgress,
        "canceling" => BatchState::Cancelling,
        // Anthropic has no separate terminal state for a cancelled batch.
        "ended" if batch.cancel_initiated_at.is_some() => BatchState::Cancelled,
        "ended" => BatchState::Ended,
        other => {
            return Err(invalid_response(
                PROVIDER,
                format!(
                    "unknown processing_status `{other}` of batch `{}`",
                    batch.id
                ),
            ))
        }
    };
    let c = &batch.request_counts;
    let classes = [c.processing, c.succeeded, c.errored, c.canceled, c.expired];
    // Anthropic documents that the classes always add up to the batch's size.
    let total = classes.iter().try_fold(0u64, |sum, n| n.map(|n| sum + n));
    Ok(BatchStatus {
        provider: PROVIDER,
        state,
        provider_state: batch.processing_status.clone(),
        counts: BatchCounts {
            processing: c.processing,
            succeeded: c.succeeded,
            errored: c.errored,
            canceled: c.canceled,
            expired: c.expired,
            total,
        },
        results_location: batch.results_url.map(|url| ResultsLocation::Url { url }),
        created_at: rfc3339_field(PROVIDER, "created_at", batch.created_at.as_deref())?,
        ended_at: rfc3339_field(PROVIDER, "ended_at", batch.ended_at.as_deref())?,
        expires_at: rfc3339_field(PROVIDER, "expires_at", batch.expires_at.as_deref())?,
        issues: Vec::new(),
        warnings: Vec::new(),
        id: batch.id,
    })
}

#[derive(Deserialize)]
struct ResultLine {
    result: ItemResult,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ItemResult {
    Succeeded {
        message: Value,
    },
    /// An error envelope `{type:"error", error:{type, message}, request_id?}`.
    Errored {
        error: Value,
    },
    Canceled,
    Expired,
}

/// One results line (its `custom_id` already read) -> [`BatchResult`]: the message through the
/// Messages adapter's decoder, the error through its error classifier.
pub(super) fn decode_result(custom_id: String, line: &Value, prices: &PriceTable) -> BatchResult {
    let result = match ResultLine::deserialize(line) {
        Ok(line) => line.result,
        Err(e) => return unreadable_result(PROVIDER, custom_id, format!("unreadable result: {e}")),
    };
    match result {
        ItemResult::Succeeded { message } => {
            let response = HttpResponse {
                status: 200,
                headers: Default::default(),
                body: serde_json::to_vec(&message).expect("JSON values serialise"),
            };
            match provider::decode(PROVIDER, &response) {
                Ok(response) => BatchResult::priced(custom_id, response, prices),
                Err(error) => BatchResult::new(custom_id, BatchOutcome::Errored { error }),
            }
        }
        ItemResult::Errored { error } => match decode_error_envelope(&error) {
            Some(error) => BatchResult::new(custom_id, BatchOutcome::Errored { error }),
            None => unreadable_result(
                PROVIDER,
                custom_id,
                format!("an errored result without a readable error: {error}"),
            ),
        },
        ItemResult::Canceled => BatchResult::new(custom_id, BatchOutcome::Canceled),
        ItemResult::Expired => BatchResult::new(custom_id, BatchOutcome::Expired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_follow_the_documented_pattern() {
        assert!(is_valid_custom_id("req-1_A"));
        assert!(is_valid_custom_id(&"a".repeat(64)));
        for bad in ["", "a b", "é", "a.b", "a/b"] {
            assert!(!is_valid_custom_id(bad), "{bad}");
        }
        assert!(!is_valid_custom_id(&"a".repeat(65)));
    }

    #[test]
    fn results_are_read_from_the_configured_host_only() {
        let config = ProviderConfig {
            base_url: Some("http://127.0.0.1:4010/".into()),
            ..ProviderConfig::default()
        };
        let local = "http://127.0.0.1:4010/v1/messages/batches/b1/results";
        assert_eq!(results_url(&config, "b1", local), local);
        assert_eq!(
            results_url(
                &config,
                "b1",
                "https://evil.example/v1/messages/batches/b1/results"
            ),
            local
        );
        // Same host, another port: another origin.
        assert_eq!(
            results_url(&config, "b1", "http://127.0.0.1:9999/anything"),
            local
        );
        let official = ProviderConfig::default();
        let url = "https://api.anthropic.com/v1/messages/batches/b1/results";
        assert_eq!(results_url(&official, "b1", url), url);
    }
}
