//! Batch processing (`core::batch`): the bodies sent (JSON, JSONL lines, multipart bytes), the
//! status and results documents of both providers decoded from `tests/fixtures/batch/`, costs at
//! batch prices, input validation, and a whole submit -> poll -> results round trip per
//! provider through a transport that answers a script in order.
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use llm_edge::core::batch::{
    self, anthropic, multipart, openai, BatchCounts, BatchIssue, BatchOutcome, BatchRequest,
    BatchResult, BatchState, BatchStatus, BatchWarning, ResultsLocation,
};
use llm_edge::core::cost::Picodollars;
use llm_edge::core::error::{Error, ErrorKind};
use llm_edge::core::http::{Headers, HttpRequest, HttpResponse, Method};
use llm_edge::core::model::{
    ContentPart, FinishKind, FinishReason, Message, Provider, Request, ToolDefinition, Usage,
};
use llm_edge::core::pricing::PriceTable;
use llm_edge::core::provider::ProviderConfig;
use llm_edge::core::runtime::{ResponseBody, ResponseHead, Transport};
use serde_json::{json, Value};

const ANTHROPIC_BATCH: &str = "msgbatch_013Zva2CMHLNnXjNJJKqJ2EF";
const BASE: &str = "http://127.0.0.1:4010";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/batch/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn config(key: &str) -> ProviderConfig {
    ProviderConfig {
        api_key: Some(key.to_string()),
        base_url: Some(BASE.to_string()),
        ..ProviderConfig::default()
    }
}

fn ok(body: Vec<u8>) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: Headers::new(),
        body,
    }
}

fn user(model: &str, text: &str) -> Request {
    let mut request = Request::new(model, vec![Message::user(text)]);
    request.max_tokens = Some(256);
    request
}

/// Two requests: plain text with a system prompt, and one with a tool and a setting OpenAI
/// cannot honour (`topK`, a warning there).
fn two_requests(model: &str) -> Vec<BatchRequest> {
    let mut summary = user(model, "Summarise the report.");
    summary.system = vec![llm_edge::core::model::SystemBlock {
        text: "Be brief.".into(),
        cache: None,
    }];
    summary.temperature = Some(0.2);
    let mut weather = user(model, "Weather in Paris?");
    weather.tools = vec![ToolDefinition {
        name: "get_weather".into(),
        description: Some("Current weather".into()),
        parameters: json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
        cache: None,
    }];
    weather.top_k = Some(5);
    vec![
        BatchRequest::new("summary-1", summary),
        BatchRequest::new("weather-2", weather),
    ]
}

// ---------------------------------------------------------------------------------- encoding

#[test]
fn anthropic_create_body_wraps_each_messages_body_under_its_custom_id() {
    let encoded =
        anthropic::create_request(&config("sk-ant-1"), &two_requests("claude-haiku-4-5")).unwrap();
    let http = encoded.value;
    assert_eq!(http.method, Method::Post);
    assert_eq!(http.url, format!("{BASE}/v1/messages/batches"));
    assert_eq!(http.headers.get("x-api-key"), Some("sk-ant-1"));
    assert_eq!(http.headers.get("anthropic-version"), Some("2023-06-01"));
    assert_eq!(http.headers.get("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(http.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"requests": [
            {"custom_id": "summary-1", "params": {
                "model": "claude-haiku-4-5", "max_tokens": 256, "temperature": 0.2,
                "system": "Be brief.",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Summarise the report."}]}]
            }},
            {"custom_id": "weather-2", "params": {
                "model": "claude-haiku-4-5", "max_tokens": 256, "top_k": 5,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}],
                "tools": [{"name": "get_weather", "description": "Current weather",
                           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
            }}
        ]})
    );
    assert_eq!(encoded.warnings, vec![]);
}

#[test]
fn openai_input_file_is_one_chat_completions_line_per_request() {
    let encoded = openai::input_file(&config("sk-1"), &two_requests("gpt-4o-mini")).unwrap();
    assert!(encoded.value.ends_with('\n'));
    let lines: Vec<Value> = encoded
        .value
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            json!({"custom_id": "summary-1", "method": "POST", "url": "/v1/chat/completions", "body": {
                "model": "gpt-4o-mini", "max_completion_tokens": 256, "temperature": 0.2,
                "messages": [{"role": "system", "content": "Be brief."},
                             {"role": "user", "content": "Summarise the report."}]
            }}),
            json!({"custom_id": "weather-2", "method": "POST", "url": "/v1/chat/completions", "body": {
                "model": "gpt-4o-mini", "max_completion_tokens": 256,
                "messages": [{"role": "user", "content": "Weather in Paris?"}],
                "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
            }}),
        ]
    );
    // The adapter's warning about `topK` is kept, under the request it concerns.
    assert_eq!(
        encoded.warnings,
        vec![BatchWarning {
            custom_id: "weather-2".into(),
            setting: "topK".into(),
            message: "openai does not support `topK`; it was not sent".into(),
        }]
    );
}

#[test]
fn openai_upload_is_multipart_with_purpose_then_the_jsonl_file() {
    let jsonl = "{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"}\n";
    let http = openai::upload_request(&config("sk-1"), jsonl, "test-boundary");
    assert_eq!(http.method, Method::Post);
    assert_eq!(http.url, format!("{BASE}/v1/files"));
    assert_eq!(http.headers.get("authorization"), Some("Bearer sk-1"));
    assert_eq!(
        http.headers.get("content-type"),
        Some("multipart/form-data; boundary=test-boundary")
    );
    let expected = concat!(
        "--test-boundary\r\n",
        "Content-Disposition: form-data; name=\"purpose\"\r\n",
        "\r\n",
        "batch\r\n",
        "--test-boundary\r\n",
        "Content-Disposition: form-data; name=\"file\"; filename=\"llm-edge-batch.jsonl\"\r\n",
        "Content-Type: application/jsonl\r\n",
        "\r\n",
        "{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"}\n\r\n",
        "--test-boundary--\r\n",
    );
    assert_eq!(
        http.body.as_deref().unwrap().as_bytes(),
        expected.as_bytes()
    );
}

#[test]
fn a_prompt_containing_the_boundary_changes_the_boundary() {
    let requests = vec![BatchRequest::new(
        "a",
        user(
            "gpt-4o-mini",
            &format!("quote --{}", multipart::DEFAULT_BOUNDARY),
        ),
    )];
    let file = openai::input_file(&config("sk-1"), &requests).unwrap();
    let http = openai::upload_request(&config("sk-1"), &file.value, multipart::DEFAULT_BOUNDARY);
    let boundary = format!("{}-1", multipart::DEFAULT_BOUNDARY);
    assert_eq!(
        http.headers.get("content-type").unwrap(),
        format!("multipart/form-data; boundary={boundary}")
    );
    // Exactly the three delimiters of two parts frame the body.
    assert_eq!(
        http.body
            .unwrap()
            .matches(&format!("\r\n--{boundary}"))
            .count(),
        2
    );
}

#[test]
fn openai_create_status_and_cancel_requests() {
    let create = openai::create_request(&config("sk-1"), "file-abc123").unwrap();
    assert_eq!(create.url, format!("{BASE}/v1/batches"));
    assert_eq!(create.headers.get("content-type"), Some("application/json"));
    assert_eq!(
        serde_json::from_str::<Value>(create.body.as_deref().unwrap()).unwrap(),
        json!({"input_file_id": "file-abc123", "endpoint": "/v1/chat/completions", "completion_window": "24h"})
    );
    let poll = batch::status_request(Provider::OpenAi, &config("sk-1"), "batch_abc123").unwrap();
    assert_eq!(
        (poll.method, poll.url.as_str(), poll.body.as_deref()),
        (
            Method::Get,
            "http://127.0.0.1:4010/v1/batches/batch_abc123",
            None
        )
    );
    assert_eq!(poll.headers.get("authorization"), Some("Bearer sk-1"));
    let cancel = batch::cancel_request(Provider::Anthropic, &config("k"), ANTHROPIC_BATCH).unwrap();
    assert_eq!(
        (cancel.method, cancel.url),
        (
            Method::Post,
            format!("{BASE}/v1/messages/batches/{ANTHROPIC_BATCH}/cancel")
        )
    );
    assert_eq!(cancel.headers.get("x-api-key"), Some("k"));
    // Without a base URL, the official endpoints.
    let official =
        batch::status_request(Provider::OpenAi, &ProviderConfig::default(), "b").unwrap();
    assert_eq!(official.url, "https://api.openai.com/v1/batches/b");
    assert_eq!(official.headers.get("authorization"), None);
}

#[test]
fn extra_headers_go_on_every_batch_call() {
    let mut config = config("sk-1");
    config.headers.set("openai-organization", "org-1");
    let poll = batch::status_request(Provider::OpenAi, &config, "batch_1").unwrap();
    assert_eq!(poll.headers.get("openai-organization"), Some("org-1"));
    let upload = openai::upload_request(&config, "{}\n", "b");
    assert_eq!(upload.headers.get("openai-organization"), Some("org-1"));
}

// -------------------------------------------------------------------------------- validation

fn validation_error(provider: Provider, requests: &[BatchRequest]) -> Error {
    let error = batch::validate(provider, requests).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error}");
    assert_eq!(error.provider(), Some(provider));
    error
}

#[test]
fn invalid_batches_are_refused_with_the_offending_request_named() {
    let haiku = |id: &str| BatchRequest::new(id, user("claude-haiku-4-5", "Hi"));
    let gpt = |id: &str| BatchRequest::new(id, user("gpt-4o-mini", "Hi"));

    let e = validation_error(Provider::Anthropic, &[]);
    assert!(e.message().contains("at least one request"), "{e}");

    let e = validation_error(Provider::Anthropic, &[haiku("a"), haiku("b"), haiku("a")]);
    assert!(
        e.message()
            .contains("requests[2]: custom id `a` is already used by requests[0]"),
        "{e}"
    );

    let e = validation_error(Provider::OpenAi, &[gpt("")]);
    assert!(
        e.message().contains("requests[0]: custom id is empty"),
        "{e}"
    );

    for bad in ["has space", "dots.not.allowed", &"x".repeat(65)] {
        let e = validation_error(Provider::Anthropic, &[haiku(bad)]);
        assert!(e.message().contains("[a-zA-Z0-9_-]"), "{e}");
    }
    // OpenAI takes any non-empty id.
    batch::validate(Provider::OpenAi, &[gpt("has space.and/slash")]).unwrap();

    let e = validation_error(Provider::Anthropic, &[haiku("a"), gpt("b")]);
    assert!(
        e.message().contains(
            "request `b`: model `gpt-4o-mini` is served by openai, but the batch goes to anthropic"
        ),
        "{e}"
    );
    let e = validation_error(
        Provider::OpenAi,
        &[BatchRequest::new("a", user("auto", "Hi"))],
    );
    assert!(
        e.message()
            .starts_with("request `a`: cannot tell which provider"),
        "{e}"
    );

    let e = validation_error(
        Provider::Gemini,
        &[BatchRequest::new("a", user("gemini-2.5-flash", "Hi"))],
    );
    assert!(e.message().contains("not gemini"), "{e}");
}

#[test]
fn request_count_limits_per_provider() {
    let many = |model: &str, n: usize| -> Vec<BatchRequest> {
        (0..n)
            .map(|i| BatchRequest::new(format!("r{i}"), user(model, "Hi")))
            .collect()
    };
    assert_eq!(anthropic::MAX_REQUESTS, 100_000);
    assert_eq!(openai::MAX_REQUESTS, 50_000);
    assert_eq!(anthropic::MAX_BODY_BYTES, 256_000_000);
    assert_eq!(openai::MAX_FILE_BYTES, 200_000_000);
    batch::validate(Provider::OpenAi, &many("gpt-4o-mini", 50_000)).unwrap();
    let e = validation_error(Provider::OpenAi, &many("gpt-4o-mini", 50_001));
    assert!(
        e.message()
            .contains("at most 50000 requests; this one has 50001"),
        "{e}"
    );
    let e = validation_error(Provider::Anthropic, &many("claude-haiku-4-5", 100_001));
    assert!(e.message().contains("at most 100000"), "{e}");
}

#[test]
fn encoder_errors_name_the_request() {
    // An assistant turn cannot carry a tool result: the adapter refuses, the batch says where.
    let mut bad = user("claude-haiku-4-5", "Hi");
    bad.messages.push(Message {
        role: llm_edge::core::model::Role::Assistant,
        content: vec![ContentPart::ToolResult {
            call_id: "c1".into(),
            name: None,
            content: "x".into(),
            is_error: false,
            cache: None,
        }],
    });
    let requests = vec![
        BatchRequest::new("fine", user("claude-haiku-4-5", "Hi")),
        BatchRequest::new("broken", bad),
    ];
    let error = anthropic::create_request(&config("k"), &requests).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert!(error.message().starts_with("request `broken`: "), "{error}");
}

#[test]
fn ids_put_into_urls_are_checked() {
    for id in ["../v1/files/file-1/content", "a/b", "a?b=c", ""] {
        let e = batch::status_request(Provider::Anthropic, &config("k"), id).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{id}");
    }
    assert!(openai::create_request(&config("k"), "file/../x").is_err());
}

// ------------------------------------------------------------------------------ status

fn anthropic_status(name: &str) -> BatchStatus {
    batch::decode_status(Provider::Anthropic, &ok(fixture(name))).unwrap()
}

fn openai_status(name: &str) -> BatchStatus {
    batch::decode_status(Provider::OpenAi, &ok(fixture(name))).unwrap()
}

fn counts(values: [Option<u64>; 6]) -> BatchCounts {
    let [processing, succeeded, errored, canceled, expired, total] = values;
    BatchCounts {
        processing,
        succeeded,
        errored,
        canceled,
        expired,
        total,
    }
}

#[test]
fn anthropic_status_documents() {
    let created = anthropic_status("anthropic_created.json");
    assert_eq!(
        created,
        BatchStatus {
            id: ANTHROPIC_BATCH.into(),
            provider: Provider::Anthropic,
            state: BatchState::InProgress,
            provider_state: "in_progress".into(),
            counts: counts([Some(5), Some(0), Some(0), Some(0), Some(0), Some(5)]),
            results_location: None,
            created_at: Some(1_727_203_044_100),
            ended_at: None,
            expires_at: Some(1_727_289_444_100),
            issues: vec![],
            warnings: vec![],
        }
    );

    let ended = anthropic_status("anthropic_ended.json");
    assert_eq!(ended.state, BatchState::Ended);
    assert!(ended.state.is_terminal());
    assert_eq!(
        ended.counts,
        counts([Some(0), Some(2), Some(1), Some(1), Some(1), Some(5)])
    );
    assert_eq!(
        ended.results_location,
        Some(ResultsLocation::Url {
            url: format!("https://api.anthropic.com/v1/messages/batches/{ANTHROPIC_BATCH}/results")
        })
    );
    assert_eq!(ended.ended_at, Some(1_727_204_531_500));

    let canceling = anthropic_status("anthropic_canceling.json");
    assert_eq!(canceling.state, BatchState::Cancelling);
    assert!(!canceling.state.is_terminal());

    // Anthropic ends a cancelled batch as `ended`; the initiated cancellation tells it apart.
    let canceled = anthropic_status("anthropic_canceled.json");
    assert_eq!(
        (canceled.state, canceled.provider_state.as_str()),
        (BatchState::Cancelled, "ended")
    );
    assert_eq!(canceled.created_at, Some(1_727_203_044_000));
    assert_eq!(canceled.ended_at, Some(1_727_203_500_000));
}

#[test]
fn openai_status_documents() {
    let validating = openai_status("openai_validating.json");
    assert_eq!(
        (validating.state, validating.provider_state.as_str()),
        (BatchState::Validating, "validating")
    );
    assert_eq!(validating.created_at, Some(1_727_203_044_000));
    assert_eq!(validating.expires_at, Some(1_727_289_444_000));

    let running = openai_status("openai_in_progress.json");
    assert_eq!(running.state, BatchState::InProgress);
    // OpenAI does not count canceled or expired requests apart.
    assert_eq!(
        running.counts,
        counts([Some(3), Some(2), Some(0), None, None, Some(5)])
    );
    assert_eq!((running.results_location, running.ended_at), (None, None));

    let done = openai_status("openai_completed.json");
    assert_eq!(
        done,
        BatchStatus {
            id: "batch_abc123".into(),
            provider: Provider::OpenAi,
            state: BatchState::Ended,
            provider_state: "completed".into(),
            counts: counts([Some(0), Some(2), Some(3), None, None, Some(5)]),
            results_location: Some(ResultsLocation::Files {
                output_file_id: Some("file-out456".into()),
                error_file_id: Some("file-err789".into()),
            }),
            created_at: Some(1_727_203_044_000),
            ended_at: Some(1_727_206_644_000),
            expires_at: Some(1_727_289_444_000),
            issues: vec![],
            warnings: vec![],
        }
    );

    let failed = openai_status("openai_failed.json");
    assert_eq!(failed.state, BatchState::Failed);
    assert_eq!(failed.ended_at, Some(1_727_203_046_000));
    assert_eq!(
        failed.issues,
        vec![
            BatchIssue {
                code: Some("invalid_json_line".into()),
                message: "This line is not parseable as valid JSON.".into(),
                line: Some(2),
                param: None,
            },
            BatchIssue {
                code: Some("missing_required_parameter".into()),
                message: "Missing 'custom_id'.".into(),
                line: Some(3),
                param: Some("custom_id".into()),
            },
        ]
    );
    // A failed batch has nothing to read, and says why.
    let e = batch::results_requests(&config("k"), &failed).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(
        e.message()
            .contains("it is failed (This line is not parseable as valid JSON.)"),
        "{e}"
    );
}

#[test]
fn malformed_status_documents_are_invalid_responses() {
    let cases: [(Provider, Value); 4] = [
        (
            Provider::Anthropic,
            json!({"id": "b", "processing_status": "paused"}),
        ),
        (
            Provider::Anthropic,
            json!({"id": "b", "processing_status": "ended", "created_at": "yesterday"}),
        ),
        (Provider::OpenAi, json!({"id": "b", "status": "queued"})),
        (Provider::OpenAi, json!({"status": "completed"})),
    ];
    for (provider, body) in cases {
        let e = batch::decode_status(provider, &ok(body.to_string().into_bytes())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}");
        assert_eq!(e.provider(), Some(provider));
    }
}

#[test]
fn error_answers_are_classified_by_the_provider_adapter() {
    let answer = HttpResponse {
        status: 404,
        headers: [("request-id", "req_404")].into_iter().collect(),
        body: br#"{"type":"error","error":{"type":"not_found_error","message":"No batch found with id msgbatch_x"}}"#.to_vec(),
    };
    let e = batch::decode_status(Provider::Anthropic, &answer).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.status(), Some(404));
    assert_eq!(e.provider_code(), Some("not_found_error"));
    assert_eq!(e.request_id(), Some("req_404"));
}

#[test]
fn status_round_trips_through_its_camel_case_json() {
    let mut status = openai_status("openai_completed.json");
    status.warnings = vec![BatchWarning {
        custom_id: "a".into(),
        setting: "topK".into(),
        message: "m".into(),
    }];
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(
        json,
        json!({
            "id": "batch_abc123", "provider": "openai", "state": "ended", "providerState": "completed",
            "counts": {"processing": 0, "succeeded": 2, "errored": 3, "canceled": null, "expired": null, "total": 5},
            "resultsLocation": {"type": "files", "outputFileId": "file-out456", "errorFileId": "file-err789"},
            "createdAt": 1727203044000u64, "endedAt": 1727206644000u64, "expiresAt": 1727289444000u64,
            "warnings": [{"customId": "a", "setting": "topK", "message": "m"}]
        })
    );
    let back: BatchStatus = serde_json::from_value(json).unwrap();
    assert_eq!(back, status);
    let anthropic_json = serde_json::to_value(anthropic_status("anthropic_ended.json")).unwrap();
    assert_eq!(anthropic_json["resultsLocation"]["type"], "url");
}

// ------------------------------------------------------------------------------ results

fn by_id<'a>(results: &'a [BatchResult], id: &str) -> &'a BatchResult {
    results
        .iter()
        .find(|r| r.custom_id == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

fn picodollars(result: &BatchResult) -> Picodollars {
    let cost = result.cost.as_ref().expect("a cost");
    assert!(cost.batch);
    cost.total
}

#[test]
fn anthropic_results_map_every_outcome_with_batch_costs() {
    let results = batch::decode_results(
        Provider::Anthropic,
        &fixture("anthropic_results.jsonl"),
        PriceTable::builtin(),
    )
    .unwrap();
    let ids: Vec<&str> = results.iter().map(|r| r.custom_id.as_str()).collect();
    assert_eq!(ids, ["summary-1", "bad-3", "weather-2", "late-4", "late-5"]);

    let summary = by_id(&results, "summary-1");
    let response = summary.response().unwrap();
    assert_eq!(response.text(), "Revenue grew 12% year on year.");
    assert_eq!(response.id.as_deref(), Some("msg_01FqfsLoHwgeFbguDgpz48m7"));
    assert_eq!(response.model, "claude-haiku-4-5-20251001");
    assert_eq!(
        response.finish_reason,
        FinishReason::new(FinishKind::Stop, "end_turn")
    );
    assert_eq!(
        response.usage,
        Usage {
            input_tokens: Some(1200),
            cache_read_tokens: Some(30_000),
            cache_write_5m_tokens: Some(2000),
            cache_write_1h_tokens: Some(0),
            output_tokens: Some(800),
            reasoning_tokens: None,
        }
    );
    // Haiku 4.5 at batch prices (50%): input $0.50/M, cache read $0.05/M, 5-minute write
    // $0.625/M, output $2.50/M. 1200 x 0.50 + 30000 x 0.05 + 2000 x 0.625 + 800 x 2.50
    // = 600 + 1500 + 1250 + 2000 = 5350 micro-dollars.
    let cost = summary.cost.as_ref().unwrap();
    assert_eq!(cost.model, "anthropic/claude-haiku-4-5");
    assert_eq!(cost.input, Picodollars(600_000_000));
    assert_eq!(cost.cache_read, Picodollars(1_500_000_000));
    assert_eq!(cost.cache_write_5m, Picodollars(1_250_000_000));
    assert_eq!(cost.output, Picodollars(2_000_000_000));
    assert_eq!(cost.total, Picodollars(5_350_000_000));
    assert_eq!(cost.total.micro_usd(), 5350);
    assert!(summary.warnings.is_empty());

    // 25 x 0.50 + 15 x 2.50 = 12.5 + 37.5 = 50 micro-dollars.
    let weather = by_id(&results, "weather-2");
    let response = weather.response().unwrap();
    assert_eq!(response.finish_reason.unified, FinishKind::ToolCalls);
    assert_eq!(response.tool_calls()[0].arguments, json!({"city": "Paris"}));
    assert_eq!(picodollars(weather), Picodollars(50_000_000));

    let bad = by_id(&results, "bad-3").error().unwrap();
    assert_eq!(bad.kind(), ErrorKind::InvalidRequest);
    assert_eq!(bad.provider(), Some(Provider::Anthropic));
    assert_eq!(bad.provider_code(), Some("invalid_request_error"));
    assert_eq!(bad.message(), "messages.0.content: Field required");
    assert_eq!(bad.request_id(), Some("req_011CUbatch3kq1V7G2xqzR"));
    assert_eq!(
        bad.status(),
        None,
        "a batch item has no HTTP status of its own"
    );
    assert_eq!(by_id(&results, "bad-3").cost, None);

    assert_eq!(by_id(&results, "late-4").outcome, BatchOutcome::Canceled);
    assert_eq!(by_id(&results, "late-5").outcome, BatchOutcome::Expired);
}

#[test]
fn openai_output_and_error_files_map_every_outcome_with_batch_costs() {
    let prices = PriceTable::builtin();
    let output =
        batch::decode_results(Provider::OpenAi, &fixture("openai_output.jsonl"), prices).unwrap();
    let errors =
        batch::decode_results(Provider::OpenAi, &fixture("openai_errors.jsonl"), prices).unwrap();

    let summary = by_id(&output, "summary-1");
    let response = summary.response().unwrap();
    assert_eq!(response.text(), "Revenue grew 12% year on year.");
    assert_eq!(response.request_id.as_deref(), Some("req_c187b3f1a2"));
    assert_eq!(
        response.usage.input_tokens,
        Some(1024),
        "prompt minus cached"
    );
    assert_eq!(response.usage.cache_read_tokens, Some(1024));
    assert_eq!(response.usage.output_tokens, Some(300));
    // gpt-4o-mini at batch prices (50%): input $0.075/M, cached $0.0375/M, output $0.30/M.
    // 1024 x 0.075 + 1024 x 0.0375 + 300 x 0.30 = 76.8 + 38.4 + 90 = 205.2 micro-dollars.
    let cost = summary.cost.as_ref().unwrap();
    assert_eq!(cost.model, "openai/gpt-4o-mini");
    assert_eq!(cost.input, Picodollars(76_800_000));
    assert_eq!(cost.cache_read, Picodollars(38_400_000));
    assert_eq!(cost.output, Picodollars(90_000_000));
    assert_eq!(cost.total, Picodollars(205_200_000));
    assert_eq!(cost.total.micro_usd(), 205);

    // 50 x 0.075 + 20 x 0.30 = 3.75 + 6 = 9.75 micro-dollars.
    let weather = by_id(&output, "weather-2");
    assert_eq!(
        weather.response().unwrap().tool_calls()[0].name,
        "get_weather"
    );
    assert_eq!(picodollars(weather), Picodollars(9_750_000));

    let bad = by_id(&errors, "bad-3");
    let error = bad.error().unwrap();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.provider_code(), Some("empty_array"));
    assert_eq!(error.request_id(), Some("req_9a8b7c6d5e"));
    assert!(error
        .message()
        .starts_with("Invalid 'messages': empty array."));
    assert_eq!(bad.cost, None);

    assert_eq!(by_id(&errors, "late-4").outcome, BatchOutcome::Canceled);
    assert_eq!(by_id(&errors, "late-5").outcome, BatchOutcome::Expired);
}

#[test]
fn unreadable_lines_fail_alone_unless_they_lose_their_custom_id() {
    let jsonl = concat!(
        r#"{"custom_id":"odd","result":{"type":"postponed"}}"#,
        "\n",
        r#"{"custom_id":"fine","result":{"type":"expired"}}"#,
        "\n",
    );
    let results =
        batch::decode_results(Provider::Anthropic, jsonl.as_bytes(), PriceTable::builtin())
            .unwrap();
    let odd = results[0].error().unwrap();
    assert_eq!(odd.kind(), ErrorKind::InvalidResponse);
    assert!(odd.message().contains("postponed"), "{odd}");
    assert_eq!(results[1].outcome, BatchOutcome::Expired);

    // A succeeded body the adapter cannot read is that request's error.
    let jsonl = r#"{"custom_id":"x","response":{"status_code":200,"body":{"choices":"nope"}},"error":null}"#;
    let results =
        batch::decode_results(Provider::OpenAi, jsonl.as_bytes(), PriceTable::builtin()).unwrap();
    assert_eq!(
        results[0].error().unwrap().kind(),
        ErrorKind::InvalidResponse
    );

    for bad in ["{\"result\":{\"type\":\"expired\"}}\n", "not json\n"] {
        let e = batch::decode_results(Provider::Anthropic, bad.as_bytes(), PriceTable::builtin())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert!(e.message().contains("line 1"), "{e}");
    }
}

#[test]
fn a_model_without_a_price_has_no_cost_and_says_so() {
    let jsonl = r#"{"custom_id":"x","result":{"type":"succeeded","message":{"id":"m","type":"message","role":"assistant","model":"claude-unreleased-9","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":3,"output_tokens":1}}}}"#;
    let results =
        batch::decode_results(Provider::Anthropic, jsonl.as_bytes(), PriceTable::builtin())
            .unwrap();
    assert_eq!(results[0].cost, None);
    assert!(results[0].warnings[0].message.contains("no price known"));
}

#[test]
fn results_serialise_for_the_faces() {
    let results = batch::decode_results(
        Provider::Anthropic,
        &fixture("anthropic_results.jsonl"),
        PriceTable::builtin(),
    )
    .unwrap();
    let json = serde_json::to_value(&results).unwrap();
    assert_eq!(json[0]["customId"], "summary-1");
    assert_eq!(json[0]["outcome"]["type"], "succeeded");
    assert_eq!(json[0]["outcome"]["response"]["usage"]["outputTokens"], 800);
    assert_eq!(json[0]["cost"]["totalUsd"], 0.00535);
    assert_eq!(json[0]["cost"]["batch"], true);
    assert_eq!(json[1]["outcome"]["type"], "errored");
    assert_eq!(json[1]["outcome"]["error"]["kind"], "invalid_request");
    assert_eq!(json[1]["cost"], Value::Null);
    assert_eq!(json[3]["outcome"], json!({"type": "canceled"}));
    assert_eq!(json[4]["outcome"], json!({"type": "expired"}));
}

// ------------------------------------------------------------------- through a transport

/// Answers each request with the next scripted reply, in order, the body in two chunks; keeps
/// every request it received.
#[derive(Clone, Default)]
struct SequenceTransport(Rc<RefCell<Sequence>>);

#[derive(Default)]
struct Sequence {
    replies: VecDeque<Result<HttpResponse, Error>>,
    sent: Vec<HttpRequest>,
}

impl SequenceTransport {
    fn reply(&self, status: u16, body: Vec<u8>) -> &Self {
        self.0.borrow_mut().replies.push_back(Ok(HttpResponse {
            status,
            headers: [("content-type", "application/json")].into_iter().collect(),
            body,
        }));
        self
    }

    fn fail(&self, error: Error) -> &Self {
        self.0.borrow_mut().replies.push_back(Err(error));
        self
    }

    fn sent(&self) -> Vec<HttpRequest> {
        self.0.borrow().sent.clone()
    }

    fn unanswered(&self) -> usize {
        self.0.borrow().replies.len()
    }
}

struct Chunks(VecDeque<Vec<u8>>);

impl ResponseBody for Chunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.0.pop_front())
    }
}

impl Transport for SequenceTransport {
    type Body = Chunks;

    async fn send(&self, request: HttpRequest) -> Result<ResponseHead<Chunks>, Error> {
        let mut sequence = self.0.borrow_mut();
        sequence.sent.push(request.clone());
        let response = sequence.replies.pop_front().unwrap_or_else(|| {
            panic!(
                "no reply scripted for {} {}",
                request.method.as_str(),
                request.url
            )
        })?;
        let half = response.body.len() / 2;
        let chunks = [&response.body[..half], &response.body[half..]]
            .into_iter()
            .filter(|c| !c.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        Ok(ResponseHead {
            status: response.status,
            headers: response.headers,
            body: Chunks(chunks),
        })
    }
}

/// Runs a future that never waits (the sequence transport answers at once).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the future waited on nothing"),
    }
}

fn calls(transport: &SequenceTransport) -> Vec<(Method, String)> {
    transport
        .sent()
        .into_iter()
        .map(|r| (r.method, r.url))
        .collect()
}

#[test]
fn anthropic_round_trip_submit_poll_results() {
    let transport = SequenceTransport::default();
    let config = config("sk-ant-1");
    let mut ended: Value = serde_json::from_slice(&fixture("anthropic_ended.json")).unwrap();
    // As the mock answers: the results URL is on the configured host.
    ended["results_url"] = json!(format!(
        "{BASE}/v1/messages/batches/{ANTHROPIC_BATCH}/results"
    ));
    transport
        .reply(200, fixture("anthropic_created.json"))
        .reply(200, fixture("anthropic_created.json"))
        .reply(200, ended.to_string().into_bytes())
        .reply(200, fixture("anthropic_results.jsonl"));

    let requests = two_requests("anthropic/claude-haiku-4-5");
    let submitted = now(batch::submit(
        &transport,
        Provider::Anthropic,
        &config,
        &requests,
    ))
    .unwrap();
    assert_eq!(submitted.state, BatchState::InProgress);
    let body: Value = serde_json::from_str(transport.sent()[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(body["requests"][1]["custom_id"], "weather-2");
    assert_eq!(body["requests"][1]["params"]["model"], "claude-haiku-4-5");

    let poll = now(batch::status(
        &transport,
        Provider::Anthropic,
        &config,
        &submitted.id,
    ))
    .unwrap();
    assert_eq!(poll.state, BatchState::InProgress);
    assert!(
        batch::results_requests(&config, &poll).is_err(),
        "no results before the end"
    );
    let poll = now(batch::status(
        &transport,
        Provider::Anthropic,
        &config,
        &submitted.id,
    ))
    .unwrap();
    assert_eq!(poll.state, BatchState::Ended);

    let results = now(batch::results(
        &transport,
        &config,
        &poll,
        PriceTable::builtin(),
    ))
    .unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(
        picodollars(by_id(&results, "weather-2")),
        Picodollars(50_000_000)
    );

    let batch_url = format!("{BASE}/v1/messages/batches/{ANTHROPIC_BATCH}");
    assert_eq!(
        calls(&transport),
        vec![
            (Method::Post, format!("{BASE}/v1/messages/batches")),
            (Method::Get, batch_url.clone()),
            (Method::Get, batch_url.clone()),
            (Method::Get, format!("{batch_url}/results")),
        ]
    );
    for request in transport.sent() {
        assert_eq!(request.headers.get("x-api-key"), Some("sk-ant-1"));
        assert_eq!(request.headers.get("anthropic-version"), Some("2023-06-01"));
    }
    assert_eq!(transport.unanswered(), 0);
}

#[test]
fn openai_round_trip_upload_create_poll_results() {
    let transport = SequenceTransport::default();
    let config = config("sk-1");
    transport
        .reply(200, fixture("openai_file.json"))
        .reply(200, fixture("openai_validating.json"))
        .reply(200, fixture("openai_in_progress.json"))
        .reply(200, fixture("openai_completed.json"))
        .reply(200, fixture("openai_output.jsonl"))
        .reply(200, fixture("openai_errors.jsonl"));

    let requests = two_requests("gpt-4o-mini");
    let submitted = now(batch::submit(
        &transport,
        Provider::OpenAi,
        &config,
        &requests,
    ))
    .unwrap();
    assert_eq!(submitted.state, BatchState::Validating);
    assert_eq!(
        submitted.warnings.len(),
        1,
        "the topK warning reaches the caller"
    );
    let sent = transport.sent();
    let upload = sent[0].body.as_deref().unwrap();
    let jsonl = openai::input_file(&config, &requests).unwrap().value;
    assert!(
        upload.contains(&format!("\r\n\r\n{jsonl}\r\n--")),
        "the file part is the JSONL"
    );
    assert_eq!(
        serde_json::from_str::<Value>(sent[1].body.as_deref().unwrap()).unwrap()["input_file_id"],
        "file-abc123"
    );

    let poll = now(batch::status(
        &transport,
        Provider::OpenAi,
        &config,
        &submitted.id,
    ))
    .unwrap();
    assert_eq!(poll.state, BatchState::InProgress);
    let poll = now(batch::status(
        &transport,
        Provider::OpenAi,
        &config,
        &submitted.id,
    ))
    .unwrap();
    assert_eq!(poll.state, BatchState::Ended);

    let results = now(batch::results(
        &transport,
        &config,
        &poll,
        PriceTable::builtin(),
    ))
    .unwrap();
    let ids: Vec<&str> = results.iter().map(|r| r.custom_id.as_str()).collect();
    assert_eq!(ids, ["summary-1", "weather-2", "bad-3", "late-4", "late-5"]);
    assert_eq!(
        picodollars(by_id(&results, "summary-1")),
        Picodollars(205_200_000)
    );

    assert_eq!(
        calls(&transport),
        vec![
            (Method::Post, format!("{BASE}/v1/files")),
            (Method::Post, format!("{BASE}/v1/batches")),
            (Method::Get, format!("{BASE}/v1/batches/batch_abc123")),
            (Method::Get, format!("{BASE}/v1/batches/batch_abc123")),
            (Method::Get, format!("{BASE}/v1/files/file-out456/content")),
            (Method::Get, format!("{BASE}/v1/files/file-err789/content")),
        ]
    );
    for request in transport.sent() {
        assert_eq!(request.headers.get("authorization"), Some("Bearer sk-1"));
    }
}

#[test]
fn failures_along_the_way_are_typed() {
    let config = config("sk-1");
    let requests = two_requests("gpt-4o-mini");

    // The upload is refused: nothing else is sent.
    let transport = SequenceTransport::default();
    transport.reply(
        401,
        br#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#.to_vec(),
    );
    let e = now(batch::submit(
        &transport,
        Provider::OpenAi,
        &config,
        &requests,
    ))
    .unwrap_err();
    assert_eq!(
        (e.kind(), e.status()),
        (ErrorKind::Authentication, Some(401))
    );
    assert_eq!(transport.sent().len(), 1);

    // The create is refused after the upload: the error says the file was left.
    let transport = SequenceTransport::default();
    transport.reply(200, fixture("openai_file.json")).reply(
        429,
        br#"{"error":{"message":"Enqueued token limit reached.","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#.to_vec(),
    );
    let e = now(batch::submit(
        &transport,
        Provider::OpenAi,
        &config,
        &requests,
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert!(
        e.message().contains("`file-abc123` was left in place"),
        "{e}"
    );

    // A network failure keeps its kind and gains the provider.
    let transport = SequenceTransport::default();
    transport.fail(Error::new(ErrorKind::Network, "connection reset"));
    let e = now(batch::status(
        &transport,
        Provider::Anthropic,
        &config,
        "msgbatch_1",
    ))
    .unwrap_err();
    assert_eq!(
        (e.kind(), e.provider()),
        (ErrorKind::Network, Some(Provider::Anthropic))
    );

    // Invalid input is refused before anything is sent.
    let transport = SequenceTransport::default();
    let e = now(batch::submit(
        &transport,
        Provider::Anthropic,
        &config,
        &requests,
    ))
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(transport.sent().is_empty());
}
