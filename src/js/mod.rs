//! The wasm-bindgen face: a thin layer that turns JSON from the npm package's JavaScript into
//! core calls over `fetch`. Values cross the boundary as JSON text: the engines' native
//! `JSON.parse`/`JSON.stringify` are fast, and reusing serde_json keeps the wasm small.
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::core::client::{CallOptions, ChatStream, Client, ClientConfig, Timeouts};
use crate::core::error::{Error, ErrorKind};
use crate::core::event::StreamEvent;
use crate::core::http::Headers;
use crate::core::model::{FinishKind, Provider, Request, Response, ToolCall, Usage, Warning};
use crate::core::provider::ProviderConfig;
use crate::core::runtime::{select, Either};

mod cancel;


use cancel::Cancel;
use crate::web::{FetchTransport, JsClock};

type CoreClient = Client<FetchTransport, JsClock>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ProviderOptions {
    api_key: Option<String>,
    base_url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl From<ProviderOptions> for ProviderConfig {
    fn from(o: ProviderOptions) -> Self {
        ProviderConfig {
            api_key: o.api_key,
            base_url: o.base_url,
            headers: o.headers.into_iter().collect(),
        }
    }
}

#[derive(Deserialize, Default)]
struct ProvidersOptions {
    anthropic: Option<ProviderOptions>,
    openai: Option<ProviderOptions>,
    gemini: Option<ProviderOptions>,
}

/// Deadline settings as spelled in JS; `null` disables one, absent keeps the default.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TimeoutOptions {
    #[serde(default, deserialize_with = "present")]
    timeout_ms: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    first_token_timeout_ms: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    idle_timeout_ms: Option<Option<u64>>,
}

/// Distinguishes `"key": null` (Some(None)) from an absent key (None).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u64>>, D::Error> {
    Option::<u64>::deserialize(d).map(Some)
}

impl TimeoutOptions {
    fn is_empty(&self) -> bool {
        self.timeout_ms.is_none()
            && self.first_token_timeout_ms.is_none()
            && self.idle_timeout_ms.is_none()
    }

    fn apply(&self, base: Timeouts) -> Timeouts {
        Timeouts {
            total_ms: self.timeout_ms.unwrap_or(base.total_ms),
            first_token_ms: self.first_token_timeout_ms.unwrap_or(base.first_token_ms),
            idle_ms: self.idle_timeout_ms.unwrap_or(base.idle_ms),
        }
    }
}

#[derive(Deserialize)]
struct ProvidersField {
    #[serde(default)]
    providers: ProvidersOptions,
}

/// The per-call settings that sit beside the request's fields in the same JS object. Read by
/// a second pass over the JSON rather than `#[serde(flatten)]`, whose buffering doubles the
/// deserialisation code in the wasm.
#[derive(Deserialize)]
struct CallExtras {
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The response as JS sees it: the core response plus derived conveniences.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsResponse<'a> {
    text: String,
    tool_calls: Vec<ToolCall>,
    finish_reason: FinishKind,
    raw_finish_reason: Option<&'a str>,
    usage: &'a Usage,
    provider: Provider,
    model: &'a str,
    id: Option<&'a str>,
    request_id: Option<&'a str>,
    warnings: &'a [Warning],
    content: &'a [crate::core::model::ContentPart],
}

/// The error as JS sees it; `index.js` turns it into an `LlmEdgeError`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsError<'a> {
    llm_edge_error: bool,
    #[serde(flatten)]
    error: &'a Error,
    retryable: bool,
    retry_after_ms: Option<u64>,
}

fn error_to_js(error: &Error) -> JsValue {
    let retry_after_ms = error
        .retry_after()
        .map(|r| r.wait_ms(js_sys::Date::now() as u64));
    let js = JsError {
        llm_edge_error: true,
        error,
        retryable: error.is_retryable(),
        retry_after_ms,
    };
    JsValue::from_str(&serde_json::to_string(&js).unwrap_or_default())
}

fn parse_json<'a, T: Deserialize<'a>>(json: &'a str, what: &str) -> Result<T, JsValue> {
    serde_json::from_str(json).map_err(|e| {
        error_to_js(&Error::new(
            ErrorKind::InvalidRequest,
            format!("invalid {what}: {e}"),
        ))
    })
}

/// The core client, driven from `index.js`.
#[wasm_bindgen]
pub struct WasmClient {
    client: CoreClient,
}

#[wasm_bindgen]
impl WasmClient {
    #[wasm_bindgen(constructor)]
    pub fn new(options_json: &str) -> Result<WasmClient, JsValue> {
        let ProvidersField { providers } = parse_json(options_json, "client options")?;
        let timeouts: TimeoutOptions = parse_json(options_json, "client options")?;
        let config = ClientConfig {
            anthropic: providers.anthropic.map(Into::into),
            openai: providers.openai.map(Into::into),
            gemini: providers.gemini.map(Into::into),
            timeouts: timeouts.apply(Timeouts::default()),
            ..ClientConfig::default()
        };
        Ok(WasmClient {
            client: Client::new(FetchTransport, JsClock, config).map_err(|e| error_to_js(&e))?,
        })
    }

    /// Starts a whole-response call; await `result()` on the returned handle.
    pub fn chat(&self, call_json: &str) -> Result<WasmCall, JsValue> {
        let (request, options) = self.parse_call(call_json)?;
        Ok(WasmCall {
            client: self.client.clone(),
            request: Some((request, options)),
            cancel: Cancel::default(),
        })
    }

    /// Starts a streamed call; pull batches of events with `next()`.
    pub fn stream(&self, call_json: &str) -> Result<WasmStream, JsValue> {
        let (request, options) = self.parse_call(call_json)?;
        Ok(WasmStream {
            stream: Rc::new(RefCell::new(Some(self.client.stream(request, options)))),
            cancel: Cancel::default(),
        })
    }
}

impl WasmClient {
    fn parse_call(&self, call_json: &str) -> Result<(Request, CallOptions), JsValue> {
        let request: Request = parse_json(call_json, "request")?;
        let extras: CallExtras = parse_json(call_json, "request")?;
        let timeouts: TimeoutOptions = parse_json(call_json, "request")?;
        let options = CallOptions {
            headers: extras.headers.into_iter().collect::<Headers>(),
            timeouts: (!timeouts.is_empty()).then(|| timeouts.apply(self.client.config().timeouts)),
            ..CallOptions::default()
        };
        Ok((request, options))
    }
}

fn cancelled_error() -> Error {
    Error::new(ErrorKind::Cancelled, "the call was aborted by the caller")
}

/// One whole-response call in flight.
#[wasm_bindgen]
pub struct WasmCall {
    client: CoreClient,
    request: Option<(Request, CallOptions)>,
    cancel: Cancel,
}

#[wasm_bindgen]
impl WasmCall {
    /// Resolves with the response JSON, or rejects with an error JSON.
    pub fn result(&mut self) -> js_sys::Promise {
        let client = self.client.clone();
        let cancel = self.cancel.clone();
        let request = self.request.take();
        wasm_bindgen_futures::future_to_promise(async move {
            let (request, options) = request.ok_or_else(|| {
                error_to_js(&Error::new(
                    ErrorKind::Config,
                    "result() may be called only once",
                ))
            })?;
            if cancel.is_cancelled() {
                return Err(error_to_js(&cancelled_error()));
            }
            match select(client.chat(&request, &options), cancel.cancelled()).await {
                Either::Left(Ok(outcome)) => {
                    Ok(JsValue::from_str(&response_json(&outcome.response)))
                }
                Either::Left(Err(error)) => Err(error_to_js(&error)),
                Either::Right(()) => Err(error_to_js(&cancelled_error())),
            }
        })
    }

    /// Aborts the call: the pending fetch is cancelled and `result()` rejects with `cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }
}

fn response_json(response: &Response) -> String {
    let js = JsResponse {
        text: response.text(),
        tool_calls: response.tool_calls(),
        finish_reason: response.finish_reason.unified,
        raw_finish_reason: response.finish_reason.raw.as_deref(),
        usage: &response.usage,
        provider: response.provider,
        model: &response.model,
        id: response.id.as_deref(),
        request_id: response.request_id.as_deref(),
        warnings: &response.warnings,
        content: &response.content,
    };
    serde_json::to_string(&js).unwrap_or_default()
}

/// A streamed call in flight.
#[wasm_bindgen]
pub struct WasmStream {
    stream: Rc<RefCell<Option<ChatStream<FetchTransport, JsClock>>>>,
    cancel: Cancel,
}

/// One stream event as JS sees it (`finish` flattens the reason like the response does).
#[derive(Serialize)]
#[serde(untagged)]
enum JsEvent<'a> {
    Finish {
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(rename = "finishReason")]
        finish_reason: FinishKind,
        #[serde(rename = "rawFinishReason")]
        raw_finish_reason: Option<&'a str>,
        usage: &'a Usage,
    },
    Other(&'a StreamEvent),
}

#[wasm_bindgen]
impl WasmStream {
    /// Resolves with a JSON array of the events available now (at least one), or `undefined`
    /// when the stream has ended. Rejects with an error JSON when the stream fails; events
    /// decoded before the failure are delivered first. Batching events per network chunk
    /// keeps the crossings between JS and wasm few.
    pub fn next(&self) -> js_sys::Promise {
        let slot = self.stream.clone();
        let cancel = self.cancel.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            // After a cancel the stream is gone: the first next() reports it, later ones end.
            let Some(mut stream) = slot.borrow_mut().take() else {
                return match cancel.take_unreported() {
                    true => Err(error_to_js(&cancelled_error())),
                    false => Ok(JsValue::UNDEFINED),
                };
            };
            if cancel.take_unreported() {
                return Err(error_to_js(&cancelled_error()));
            }
            let first = match select(stream.next(), cancel.cancelled()).await {
                Either::Left(item) => item,
                // The stream is dropped here, which aborts its fetch.
                Either::Right(()) => {
                    cancel.take_unreported();
                    return Err(error_to_js(&cancelled_error()));
                }
            };
            let mut json = String::from("[");
            let mut ended = false;
            match first {
                None => return Ok(JsValue::UNDEFINED),
                Some(Err(error)) => return Err(error_to_js(&error)),
                Some(Ok(event)) => {
                    ended |= push_event(&mut json, &event);
                    // Drain what is already decoded without waiting on the network.
                    while let Some(event) = stream.next_ready() {
                        ended |= push_event(&mut json, &event);
                    }
                }
            }
            json.push(']');
            if !ended {
                *slot.borrow_mut() = Some(stream);
            }
            Ok(JsValue::from_str(&json))
        })
    }

    /// Stops the stream: the fetch is aborted and a pending `next()` rejects with `cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
        self.stream.borrow_mut().take();
    }
}

/// Appends one event to a JSON array under construction; true for the terminal event.
fn push_event(json: &mut String, event: &StreamEvent) -> bool {
    if json.len() > 1 {
        json.push(',');
    }
    let (js, finished) = match event {
        StreamEvent::Finish { reason, usage } => (
            JsEvent::Finish {
                kind: "finish",
                finish_reason: reason.unified,
                raw_finish_reason: reason.raw.as_deref(),
                usage,
            },
            true,
        ),
        other => (JsEvent::Other(other), false),
    };
    json.push_str(&serde_json::to_string(&js).unwrap_or_default());
    finished
}
