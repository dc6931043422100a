//! Batch processing: many requests submitted as one job at batch prices (Anthropic Message
//! Batches, OpenAI Files + Batch API), polled for status, and read back as unified responses
//! mapped by the caller's custom ids.
//!
//! Two layers, like the adapters and the client:
//! - pure translators: requests -> provider bodies ([`anthropic::create_request`],
//!   [`openai::input_file`] + [`openai::upload_request`] + [`openai::create_request`]), status
//!   documents -> [`BatchStatus`] ([`decode_status`]), results JSONL -> [`BatchResult`]s
//!   ([`decode_results`]); each embedded message goes through the provider adapter's own decoder;
//! - async calls generic over [`Transport`] ([`submit`], [`status`], [`results`], [`cancel`]):
//!   whole-body reads, no I/O of their own, non-2xx answers classified by the adapter.
//!
//! Gemini has a batch API too, but it is not implemented here: a Gemini batch is an
//! `InvalidRequest` error.
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cost::{cost_for_model, CostBreakdown};
use super::error::{days_from_civil, Error, ErrorKind};
use super::http::{Headers, HttpRequest, HttpResponse, Method};
use super::model::{ModelRef, Provider, Request, Response, Warning};
use super::pricing::PriceTable;
use super::provider::{self, ProviderConfig};
use super::runtime::{ResponseBody, Transport};

pub mod anthropic;
pub mod multipart;
pub mod openai;

/// One request of a batch, named by the caller's id (results come back under it, in any order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    pub custom_id: String,
    pub request: Request,
}

impl BatchRequest {
    pub fn new(custom_id: impl Into<String>, request: Request) -> Self {
        BatchRequest {
            custom_id: custom_id.into(),
            request,
        }
    }
}

/// Where a batch is in its life, in one vocabulary for both providers. Anthropic has only
/// `in_progress`, `canceling` and `ended` (an ended batch whose cancellation was initiated is
/// [`BatchState::Cancelled`]); OpenAI's `completed` is [`BatchState::Ended`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    Validating,
    InProgress,
    Finalizing,
    Ended,
    Failed,
    Expired,
    Cancelling,
    Cancelled,
}

impl BatchState {
    /// Nothing will change any more: results (if any) can be read.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BatchState::Ended | BatchState::Failed | BatchState::Expired | BatchState::Cancelled
        )
    }
}

/// Requests per outcome. `None` where the provider does not count that class: OpenAI reports
/// only `total`, `completed` (succeeded) and `failed` (errored), so its canceled and expired
/// requests are not told apart, and `processing` is what is neither completed nor failed while
/// the batch runs (0 once it is over).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCounts {
    pub processing: Option<u64>,
    pub succeeded: Option<u64>,
    pub errored: Option<u64>,
    pub canceled: Option<u64>,
    pub expired: Option<u64>,
    pub total: Option<u64>,
}

/// Where the results of a finished batch are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ResultsLocation {
    /// Anthropic `results_url`: one JSONL document with every result.
    #[serde(rename_all = "camelCase")]
    Url { url: String },
    /// OpenAI: the 2xx answers in one file, the others in an error file (either may be absent).
    #[serde(rename_all = "camelCase")]
    Files {
        output_file_id: Option<String>,
        error_file_id: Option<String>,
    },
}

/// A problem the provider found with the batch as a whole (OpenAI `errors` of a `failed` batch:
/// input lines it could not accept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchIssue {
    pub code: Option<String>,
    pub message: String,
    /// 1-based line of the input file.
    pub line: Option<u64>,
    pub param: Option<String>,
}

/// A setting of one request that its provider cannot honour (from the adapter's encoder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchWarning {
    pub custom_id: String,
    pub setting: String,
    pub message: String,
}

/// A batch as the provider last described it. Serialisable both ways so that a face can hand
/// a status it returned earlier back to [`results`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchStatus {
    pub id: String,
    pub provider: Provider,
    pub state: BatchState,
    /// The provider's own word for the state (`in_progress`, `ended`, `completed`, ...).
    pub provider_state: String,
    pub counts: BatchCounts,
    /// Set once the batch has results to read.
    #[serde(default)]
    pub results_location: Option<ResultsLocation>,
    /// Unix milliseconds.
    #[serde(default)]
    pub created_at: Option<u64>,
    /// When processing ended (completed, failed, expired or cancelled), Unix milliseconds.
    #[serde(default)]
    pub ended_at: Option<u64>,
    /// When the provider will stop processing it, Unix milliseconds.
    #[serde(default)]
    pub expires_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<BatchIssue>,
    /// Only on the status [`submit`] returns: settings the providers could not honour.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<BatchWarning>,
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BatchOutcome {
    /// Boxed: a response is far larger than the other outcomes.
    Succeeded { response: Box<Response> },
    /// The provider's error for this request, classified like a live call's.
    Errored { error: Error },
    /// The batch was cancelled before this request ran.
    Canceled,
    /// The batch expired before this request ran.
    Expired,
}

/// One request's result, under the caller's custom id.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    pub custom_id: String,
    pub outcome: BatchOutcome,
    /// The cost at the model's batch prices; `None` unless the request succeeded with a priced
    /// model and reported usage.
    pub cost: Option<CostBreakdown>,
    /// Why the cost is missing or approximate (unknown model, no batch price, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl BatchResult {
    fn new(custom_id: String, outcome: BatchOutcome) -> Self {
        BatchResult {
            custom_id,
            outcome,
            cost: None,
            warnings: Vec::new(),
        }
    }

    /// A result with the cost of its response at batch prices.
    fn priced(custom_id: String, response: Response, prices: &PriceTable) -> Self {
        let model = format!("{}/{}", response.provider, response.model);
        let report = cost_for_model(prices, &model, &response.usage, true);
        BatchResult {
            custom_id,
            outcome: BatchOutcome::Succeeded {
                response: Box::new(response),
            },
            cost: report.cost,
            warnings: report.warnings,
        }
    }

    pub fn response(&self) -> Option<&Response> {
        match &self.outcome {
            BatchOutcome::Succeeded { response } => Some(response),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&Error> {
        match &self.outcome {
            BatchOutcome::Errored { error } => Some(error),
            _ => None,
        }
    }
}

/// The encoded batch input plus the settings the provider cannot honour.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded<T> {
    pub value: T,
    pub warnings: Vec<BatchWarning>,
}

fn invalid(provider: Provider, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidRequest, message).with_provider(provider)
}

fn invalid_response(provider: Provider, message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidResponse, message).with_provider(provider)
}

/// Refuses a provider without a batch implementation.
fn supported(provider: Provider) -> Result<(), Error> {
    match provider {
        Provider::Anthropic | Provider::OpenAi => Ok(()),
        Provider::Gemini => Err(invalid(
            provider,
            "batches are implemented for anthropic and openai, not gemini",
        )),
    }
}

/// The request limit of one batch on `provider`.
pub fn max_requests(provider: Provider) -> usize {
    match provider {
        Provider::OpenAi => openai::MAX_REQUESTS,
        _ => anthropic::MAX_REQUESTS,
    }
}

/// Checks what can be checked before encoding: at least one request and no more than the
/// provider takes, unique non-empty custom ids (Anthropic: 1-64 characters of
/// `[a-zA-Z0-9_-]`), and every model served by `provider`. Size limits are checked on the
/// encoded bytes by the encoders.
pub fn validate(provider: Provider, requests: &[BatchRequest]) -> Result<(), Error> {
    supported(provider)?;
    if requests.is_empty() {
        return Err(invalid(provider, "a batch needs at least one request"));
    }
    let limit = max_requests(provider);
    if requests.len() > limit {
        return Err(invalid(
            provider,
            format!(
                "a {provider} batch holds at most {limit} requests; this one has {}",
                requests.len()
            ),
        ));
    }
    let mut seen = std::collections::HashMap::with_capacity(requests.len());
    for (at, item) in requests.iter().enumerate() {
        let id = item.custom_id.as_str();
        if id.is_empty() {
            return Err(invalid(
                provider,
                format!("requests[{at}]: custom id is empty"),
            ));
        }
        if provider == Provider::Anthropic && !anthropic::is_valid_custom_id(id) {
            return Err(invalid(
                provider,
                format!(
                    "requests[{at}]: custom id `{id}` must be 1-64 characters of \
                     [a-zA-Z0-9_-] on anthropic"
                ),
            ));
        }
        if let Some(first) = seen.insert(id, at) {
            return Err(invalid(
                provider,
                format!("requests[{at}]: custom id `{id}` is already used by requests[{first}]"),
            ));
        }
        let model = resolve_model(provider, item)?;
        if model.provider != provider {
            return Err(invalid(
                provider,
                format!(
                    "request `{id}`: model `{}` is served by {}, but the batch goes to {provider}: \
                     every request of a batch goes to the same provider",
                    item.request.model, model.provider
                ),
            ));
        }
    }
    Ok(())
}

fn resolve_model(provider: Provider, item: &BatchRequest) -> Result<ModelRef, Error> {
    ModelRef::parse(&item.request.model).map_err(|e| {
        let message = format!("request `{}`: {}", item.custom_id, e.message());
        e.with_message(message).with_provider(provider)
    })
}

/// Validates `requests` and encodes each one's non-streaming body with the provider adapter
/// (the same body a live call sends), in order, with the adapter's warnings.
fn encode_bodies(
    provider: Provider,
    config: &ProviderConfig,
    requests: &[BatchRequest],
) -> Result<Encoded<Vec<Value>>, Error> {
    validate(provider, requests)?;
    let mut bodies = Vec::with_capacity(requests.len());
    let mut warnings = Vec::new();
    for item in requests {
        let model = resolve_model(provider, item)?;
        let in_context = |e: Error| {
            let message = format!("request `{}`: {}", item.custom_id, e.message());
            e.with_message(message)
        };
        let encoded = provider::encode(provider, &model.name, &item.request, config, false)
            .map_err(in_context)?;
        let body = encoded.http.body.as_deref().unwrap_or("null");
        let body: Value = serde_json::from_str(body).map_err(|e| {
            in_context(invalid(
                provider,
                format!("the encoded body is not JSON: {e}"),
            ))
        })?;
        bodies.push(body);
        warnings.extend(encoded.warnings.into_iter().map(|w| BatchWarning {
            custom_id: item.custom_id.clone(),
            setting: w.setting,
            message: w.message,
        }));
    }
    Ok(Encoded {
        value: bodies,
        warnings,
    })
}

/// Refuses an encoded batch over the provider's size limit.
fn check_size(provider: Provider, what: &str, bytes: usize, limit: usize) -> Result<(), Error> {
    if bytes > limit {
        return Err(invalid(
            provider,
            format!("the batch {what} is {bytes} bytes; {provider} accepts at most {limit}"),
        ));
    }
    Ok(())
}

/// A batch or file id goes into a URL path: only the characters provider ids use, so that an
/// id taken from a client cannot reach another path.
fn check_id(provider: Provider, what: &str, id: &str) -> Result<(), Error> {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if id.is_empty() || id.len() > 256 || !id.chars().all(safe) {
        return Err(invalid(
            provider,
            format!("`{id}` is not a valid {what} id: expected letters, digits, `_` and `-`"),
        ));
    }
    Ok(())
}

/// The auth and version headers of every batch call, then the configured extra headers.
fn headers(provider: Provider, config: &ProviderConfig, content_type: Option<&str>) -> Headers {
    let mut headers = Headers::new();
    if let Some(content_type) = content_type {
        headers.set("content-type", content_type);
    }
    match provider {
        Provider::Anthropic => {
            headers.set("anthropic-version", provider::anthropic::API_VERSION);
            if let Some(key) = &config.api_key {
                headers.set("x-api-key", key.as_str());
            }
        }
        _ => {
            if let Some(key) = &config.api_key {
                headers.set("authorization", format!("Bearer {key}"));
            }
        }
    }
    config.apply_extra_headers(&mut headers);
    headers
}

fn get(provider: Provider, config: &ProviderConfig, url: String) -> HttpRequest {
    HttpRequest {
        method: Method::Get,
        url,
        headers: headers(provider, config, None),
        body: None,
    }
}

fn post_json(
    provider: Provider,
    config: &ProviderConfig,
    url: String,
    body: String,
) -> HttpRequest {
    HttpRequest {
        method: Method::Post,
        url,
        headers: headers(provider, config, Some("application/json")),
        body: Some(body),
    }
}

/// `GET` the batch: its current status.
pub fn status_request(
    provider: Provider,
    config: &ProviderConfig,
    id: &str,
) -> Result<HttpRequest, Error> {
    supported(provider)?;
    check_id(provider, "batch", id)?;
    Ok(get(provider, config, batch_url(provider, config, id)))
}

/// `POST .../cancel`. Cancelling is asynchronous: the answer is a batch still `cancelling`;
/// requests already processed keep their results.
pub fn cancel_request(
    provider: Provider,
    config: &ProviderConfig,
    id: &str,
) -> Result<HttpRequest, Error> {
    supported(provider)?;
    check_id(provider, "batch", id)?;
    Ok(HttpRequest {
        method: Method::Post,
        url: format!("{}/cancel", batch_url(provider, config, id)),
        headers: headers(provider, config, None),
        body: None,
    })
}

fn batch_url(provider: Provider, config: &ProviderConfig, id: &str) -> String {
    match provider {
        Provider::Anthropic => anthropic::batch_url(config, id),
        _ => openai::batch_url(config, id),
    }
}

/// A status answer (of create, get or cancel) -> [`BatchStatus`]; a non-2xx answer is the
/// provider's classified error.
pub fn decode_status(provider: Provider, response: &HttpResponse) -> Result<BatchStatus, Error> {
    supported(provider)?;
    if !response.is_success() {
        return Err(error_answer(provider, response));
    }
    match provider {
        Provider::Anthropic => anthropic::decode_status(&response.body),
        _ => openai::decode_status(&response.body),
    }
    .map_err(|e| e.with_status(response.status))
}

fn error_answer(provider: Provider, response: &HttpResponse) -> Error {
    provider::decode_error(provider, response.status, &response.headers, &response.body)
}

/// The requests that fetch a finished batch's results: Anthropic's results document, or
/// OpenAI's output file then error file. An error if the batch has no results (yet).
pub fn results_requests(
    config: &ProviderConfig,
    status: &BatchStatus,
) -> Result<Vec<HttpRequest>, Error> {
    let provider = status.provider;
    supported(provider)?;
    check_id(provider, "batch", &status.id)?;
    let no_results = || {
        let mut message = format!(
            "batch `{}` has no results to read: it is {}",
            status.id, status.provider_state
        );
        if let Some(issue) = status.issues.first() {
            message.push_str(&format!(" ({})", issue.message));
        }
        invalid(provider, message)
    };
    match (&status.results_location, provider) {
        (Some(ResultsLocation::Url { url }), Provider::Anthropic) => Ok(vec![get(
            provider,
            config,
            anthropic::results_url(config, &status.id, url),
        )]),
        (
            Some(ResultsLocation::Files {
                output_file_id,
                error_file_id,
            }),
            Provider::OpenAi,
        ) => {
            let files: Vec<&String> = output_file_id.iter().chain(error_file_id).collect();
            if files.is_empty() {
                return Err(no_results());
            }
            files
                .into_iter()
                .map(|file| {
                    check_id(provider, "file", file)?;
                    Ok(get(
                        provider,
                        config,
                        openai::file_content_url(config, file),
                    ))
                })
                .collect()
        }
        (None, _) => Err(no_results()),
        (Some(_), _) => Err(invalid(
            provider,
            format!(
                "batch `{}`: the results location is not a {provider} one",
                status.id
            ),
        )),
    }
}

/// A results JSONL document -> one [`BatchResult`] per line, in the document's order, costs at
/// the batch prices of `prices`. A line the provider could not have written without a custom
/// id fails the whole document; any other unreadable line becomes that request's
/// `InvalidResponse` error.
pub fn decode_results(
    provider: Provider,
    jsonl: &[u8],
    prices: &PriceTable,
) -> Result<Vec<BatchResult>, Error> {
    supported(provider)?;
    let mut results = Vec::new();
    for (number, line) in jsonl_lines(jsonl) {
        let line: Value = serde_json::from_slice(line).map_err(|e| {
            invalid_response(provider, format!("results line {number} is not JSON: {e}"))
        })?;
        let Some(custom_id) = line.get("custom_id").and_then(Value::as_str) else {
            return Err(invalid_response(
                provider,
                format!("results line {number} has no custom_id"),
            ));
        };
        let custom_id = custom_id.to_string();
        results.push(match provider {
            Provider::Anthropic => anthropic::decode_result(custom_id, &line, prices),
            _ => openai::decode_result(custom_id, &line, prices),
        });
    }
    Ok(results)
}

/// The non-blank lines of a JSONL document with their 1-based numbers (`\n` or `\r\n` ends).
fn jsonl_lines(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(at, line)| (at + 1, line.strip_suffix(b"\r").unwrap_or(line)))
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
}

/// An unreadable result line for one request.
fn unreadable_result(provider: Provider, custom_id: String, why: String) -> BatchResult {
    BatchResult::new(
        custom_id,
        BatchOutcome::Errored {
            error: invalid_response(provider, why),
        },
    )
}

/// Parses an RFC 3339 date-time (`2024-09-24T18:37:24.100435Z`, `...+02:00`) into Unix
/// milliseconds (fractions below a millisecond are dropped).
fn parse_rfc3339_ms(value: &str) -> Option<u64> {
    let bytes = value.as_bytes();
    let number = |from, to| digits_at(value, from, to);
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if bytes.len() < 20
        || separators.iter().any(|&(at, sep)| bytes[at] != sep)
        || !matches!(bytes[10], b'T' | b't' | b' ')
    {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &value[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3: String = fraction[..digits.min(3)].chars().collect();
        millis = format!("{first3:0<3}").parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_seconds: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let (h, m) = (digits_at(rest, 1, 3)?, digits_at(rest, 4, 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60) as i64
        }
    };
    let days = days_from_civil(year as i64, month, day);
    let seconds = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset_seconds;
    u64::try_from(seconds).ok().map(|s| s * 1000 + millis)
}

/// The decimal number spelled by `text[from..to]`, digits only.
fn digits_at(text: &str, from: usize, to: usize) -> Option<u64> {
    let digits = text.get(from..to)?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok())?
}

/// An optional RFC 3339 field of a status document -> Unix milliseconds; a malformed value is
/// an `InvalidResponse` naming the field.
fn rfc3339_field(
    provider: Provider,
    field: &str,
    value: Option<&str>,
) -> Result<Option<u64>, Error> {
    value
        .map(|text| {
            parse_rfc3339_ms(text).ok_or_else(|| {
                invalid_response(
                    provider,
                    format!("`{field}` is not an RFC 3339 date-time: `{text}`"),
                )
            })
        })
        .transpose()
}

/// Sends `request` and reads the whole answer; a non-2xx answer is the provider's classified
/// error.
async fn exchange<T: Transport>(
    transport: &T,
    provider: Provider,
    request: HttpRequest,
) -> Result<HttpResponse, Error> {
    let with_provider = |e: Error| {
        if e.provider().is_none() {
            e.with_provider(provider)
        } else {
            e
        }
    };
    let mut head = transport.send(request).await.map_err(with_provider)?;
    let body = head.body.read_to_end().await.map_err(with_provider)?;
    let response = HttpResponse {
        status: head.status,
        headers: head.headers,
        body,
    };
    if !response.is_success() {
        return Err(error_answer(provider, &response));
    }
    Ok(response)
}

/// Submits `requests` as one batch on `provider` (OpenAI: uploads the JSONL input file, then
/// creates the batch). Returns the new batch's status, carrying the encoders' warnings.
pub async fn submit<T: Transport>(
    transport: &T,
    provider: Provider,
    config: &ProviderConfig,
    requests: &[BatchRequest],
) -> Result<BatchStatus, Error> {
    supported(provider)?;
    let (created, warnings) = match provider {
        Provider::Anthropic => {
            let create = anthropic::create_request(config, requests)?;
            let created = exchange(transport, provider, create.value).await?;
            (created, create.warnings)
        }
        _ => {
            let file = openai::input_file(config, requests)?;
            let upload = openai::upload_request(config, &file.value, multipart::DEFAULT_BOUNDARY);
            let uploaded = exchange(transport, provider, upload).await?;
            let file_id = openai::decode_file_id(&uploaded.body)?;
            let create = openai::create_request(config, &file_id)?;
            let created = exchange(transport, provider, create).await.map_err(|e| {
                let message = format!(
                    "{} (the uploaded input file `{file_id}` was left in place)",
                    e.message()
                );
                e.with_message(message)
            })?;
            (created, file.warnings)
        }
    };
    let mut status = decode_status(provider, &created)?;
    status.warnings = warnings;
    Ok(status)
}

/// Polls a batch.
pub async fn status<T: Transport>(
    transport: &T,
    provider: Provider,
    config: &ProviderConfig,
    id: &str,
) -> Result<BatchStatus, Error> {
    let request = status_request(provider, config, id)?;
    decode_status(provider, &exchange(transport, provider, request).await?)
}

/// Asks the provider to cancel a batch; returns its status (usually still `cancelling`).
pub async fn cancel<T: Transport>(
    transport: &T,
    provider: Provider,
    config: &ProviderConfig,
    id: &str,
) -> Result<BatchStatus, Error> {
    let request = cancel_request(provider, config, id)?;
    decode_status(provider, &exchange(transport, provider, request).await?)
}

/// Reads a finished batch's results (every results file), as unified responses with their costs
/// at the batch prices of `prices`, in the files' order: match them to requests by custom id.
pub async fn results<T: Transport>(
    transport: &T,
    config: &ProviderConfig,
    status: &BatchStatus,
    prices: &PriceTable,
) -> Result<Vec<BatchResult>, Error> {
    let mut all = Vec::new();
    for request in results_requests(config, status)? {
        let document = exchange(transport, status.provider, request).await?;
        all.extend(decode_results(status.provider, &document.body, prices)?);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_with_fractions_and_offsets() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-09-24T18:37:24.100435Z"),
            Some(1_727_203_044_100)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-09-24T18:37:24.1Z"),
            Some(1_727_203_044_100)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-09-24T20:37:24+02:00"),
            Some(1_727_203_044_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-09-24T17:07:24-01:30"),
            Some(1_727_203_044_000)
        );
        for bad in [
            "2024-09-24",
            "2024-09-24T18:37:24",
            "2024-13-24T18:37:24Z",
            "2024-09-24T18:37:24.Z",
            "2024-09-24T18:37:24+0200",
            "2024/09/24T18:37:24Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn jsonl_lines_skip_blanks_and_strip_crlf() {
        let lines: Vec<(usize, &[u8])> = jsonl_lines(b"{\"a\":1}\r\n\n  \n{\"b\":2}").collect();
        assert_eq!(lines, vec![(1, &b"{\"a\":1}"[..]), (4, &b"{\"b\":2}"[..])]);
    }

    #[test]
    fn ids_that_could_leave_their_path_are_refused() {
        for id in ["", "../files/x", "a/b", "a?b", "a b", "msgbatch_01%2F"] {
            assert!(check_id(Provider::OpenAi, "batch", id).is_err(), "{id}");
        }
        assert!(check_id(
            Provider::Anthropic,
            "batch",
            "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF"
        )
        .is_ok());
    }
}
