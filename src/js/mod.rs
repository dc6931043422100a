//! The wasm-bindgen face: a thin layer that turns JSON from the npm package's JavaScript into
//! core calls over `fetch`. Values cross the boundary as JSON text: the engines' native
//! `JSON.parse`/`JSON.stringify` are fast, and reusing serde_json keeps the wasm small.
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::core::client::{CallOptions, ChatOutcome, ChatStream, Client, ClientConfig, Timeouts};
use crate::core::error::{Error, ErrorKind};
use crate::core::event::StreamEvent;
use crate::core::http::Headers;
use crate::core::model::{FinishKind, Provider, Request, ToolCall, Usage, Warning};
use crate::core::policy::{
    Attempt, CircuitBreakerConfig, EventHook, PolicyConfig, PolicyEvent, PolicyOverrides,
};
use crate::core::provider::ProviderConfig;
use crate::core::runtime::{select, Either};

mod cancel;

use crate::web::{FetchTransport, JsClock};
use cancel::Cancel;

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
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
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

/// The options only a client has. Its other policy settings are read as [`PolicyOverrides`] of
/// the defaults, sharing one parser with the calls' (each parser costs wasm size).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientFields {
    #[serde(default)]
    providers: ProvidersOptions,
    /// `null` disables circuit breaking.
    #[serde(default, deserialize_with = "present")]
    circuit_breaker: Option<Option<CircuitBreakerConfig>>,
}

/// The per-call settings that sit beside the request's fields in the same JS object. Read by
/// a second pass over the JSON rather than `#[serde(flatten)]`, whose buffering doubles the
/// deserialisation code in the wasm.
#[derive(Deserialize)]
struct CallExtras {
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// The response as JS sees it: the core response plus derived conveniences, the target that
/// served it and every attempt of the call.
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
    target: &'a str,
    attempts: &'a [Attempt],
}

/// The error as JS sees it; `core.js` turns it into an `LlmEdgeError`.
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

/// Parses JSON from `core.js`; a failure is an error of `kind` (`config` for options,
/// `invalid_request` for the request itself).
fn parse_json<'a, T: Deserialize<'a>>(
    json: &'a str,
    what: &str,
    kind: ErrorKind,
) -> Result<T, JsValue> {
    serde_json::from_str(json)
        .map_err(|e| error_to_js(&Error::new(kind, format!("invalid {what}: {e}"))))
}

/// The `onEvent` callback as the core's hook: each event crosses as JSON text. `call1` catches
/// whatever the callback throws, so a failing hook cannot break the call it observes (`core.js`
/// reports the exception).
fn event_hook(callback: js_sys::Function) -> EventHook {
    Rc::new(move |event: &PolicyEvent| {
        if let Ok(json) = serde_json::to_string(event) {
            let _ = callback.call1(&JsValue::UNDEFINED, &JsValue::from_str(&json));
        }
    })
}

/// The core client, driven from `index.js`.
#[wasm_bindgen]
pub struct WasmClient {
    client: CoreClient,
}

#[wasm_bindgen]
impl WasmClient {
    /// `on_event` receives every policy event as JSON text.
    #[wasm_bindgen(constructor)]
    pub fn new(
        options_json: &str,
        on_event: Option<js_sys::Function>,
    ) -> Result<WasmClient, JsValue> {
        const WHAT: &str = "client options";
        let fields: ClientFields = parse_json(options_json, WHAT, ErrorKind::Config)?;
        let timeouts: TimeoutOptions = parse_json(options_json, WHAT, ErrorKind::Config)?;
        let policy: PolicyOverrides = parse_json(options_json, WHAT, ErrorKind::Config)?;
        let mut policy = PolicyConfig::default()
            .merged(&policy)
            .map_err(|e| error_to_js(&e))?;
        if let Some(breaker) = fields.circuit_breaker {
            policy.circuit_breaker = breaker;
        }
        let providers = fields.providers;
        let config = ClientConfig {
            anthropic: providers.anthropic.map(Into::into),
            openai: providers.openai.map(Into::into),
            gemini: providers.gemini.map(Into::into),
            timeouts: timeouts.apply(Timeouts::default()),
            policy,
            on_event: on_event.map(event_hook),
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
    /// The request and its per-call options. Invalid options are `config` errors thrown here,
    /// at the call site, for streams as for whole responses.
    fn parse_call(&self, call_json: &str) -> Result<(Request, CallOptions), JsValue> {
        const WHAT: &str = "call options";
        let request: Request = parse_json(call_json, "request", ErrorKind::InvalidRequest)?;
        let extras: CallExtras = parse_json(call_json, WHAT, ErrorKind::Config)?;
        let timeouts: TimeoutOptions = parse_json(call_json, WHAT, ErrorKind::Config)?;
        let policy: PolicyOverrides = parse_json(call_json, WHAT, ErrorKind::Config)?;
        let config = self.client.config();
        let timeouts = (!timeouts.is_empty()).then(|| timeouts.apply(config.timeouts));
        let checked = match &timeouts {
            Some(timeouts) => timeouts.validate(),
            None => Ok(()),
        };
        checked
            .and_then(|()| config.policy.merged(&policy).map(drop))
            .map_err(|e| error_to_js(&e))?;
        let options = CallOptions {
            headers: extras.headers.into_iter().collect::<Headers>(),
            timeouts,
            policy,
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
                Either::Left(Ok(outcome)) => Ok(JsValue::from_str(&response_json(&outcome))),
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

fn response_json(outcome: &ChatOutcome) -> String {
    let response = &outcome.response;
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
        target: &outcome.target,
        attempts: &outcome.attempts,
    };
    serde_json::to_string(&js).unwrap_or_default()
}

/// A streamed call in flight.
#[wasm_bindgen]
pub struct WasmStream {
    stream: Rc<RefCell<Option<CoreStream>>>,
    cancel: Cancel,
}

/// One stream event as JS sees it: `finish` flattens the reason like the response does, and
/// tells which target served the stream and every attempt of the call.
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
        target: Option<&'a str>,
        attempts: &'a [Attempt],
    },
    Other(&'a StreamEvent),
}

type CoreStream = ChatStream<FetchTransport, JsClock>;

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
                    ended |= push_event(&mut json, &event, &stream);
                    // Drain what is already decoded without waiting on the network.
                    while let Some(event) = stream.next_ready() {
                        ended |= push_event(&mut json, &event, &stream);
                    }
                }
            }
            json.push(']');
            if !ended {
                *slot.borrow_mut() = Some(stream);
            } else if let Either::Right(()) =
                select(read_to_end(&mut stream), cancel.cancelled()).await
            {
                cancel.take_unreported();
                return Err(error_to_js(&cancelled_error()));
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

/// After the terminal event, reads the body to its end before the `finish` event reaches the
/// caller: the core reports the call's `outcome` when the body ends, so the caller's `onEvent`
/// has it by then, and the connection closes cleanly instead of being aborted. Providers end
/// the body right after the terminal event; the call's total and idle deadlines, when set,
/// bound the wait for one that does not.
async fn read_to_end(stream: &mut CoreStream) {
    while let Some(Ok(_)) = stream.next().await {}
}

/// Appends one event to a JSON array under construction; true for the terminal event.
fn push_event(json: &mut String, event: &StreamEvent, stream: &CoreStream) -> bool {
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
                target: stream.target(),
                attempts: stream.attempts(),
            },
            true,
        ),
        other => (JsEvent::Other(other), false),
    };
    json.push_str(&serde_json::to_string(&js).unwrap_or_default());
    finished
}
