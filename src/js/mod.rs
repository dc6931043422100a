//! The wasm-bindgen face: a thin layer that turns JSON from the npm package's JavaScript into
//! core calls over `fetch`. Values cross the boundary as JSON text: the engines' native
//! `JSON.parse`/`JSON.stringify` are fast, and reusing serde_json keeps the wasm small.
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::core::batch::{self, BatchRequest, BatchStatus};
use crate::core::budget::Alert;
use crate::core::client::{
    AlertHook, CallOptions, ChatOutcome, ChatStream, Client, ClientConfig, CostConfig, RouterHook,
    Timeouts, UsageHook,
};
use crate::core::cost::{CostBreakdown, MonthlyUsagePlan, Picodollars};
use crate::core::error::{Error, ErrorKind};
use crate::core::event::{coalesce_usage, push_frequent_event_json, StreamEvent};
use crate::core::http::Headers;
use crate::core::model::{
    FinishKind, ModelRef, Provider, Request, ResponseFormat, ToolCall, Usage, Warning,
};
use crate::core::policy::{
    Attempt, CircuitBreakerConfig, EventHook, PolicyConfig, PolicyEvent, PolicyOverrides,
};
use crate::core::provider::ProviderConfig;
use crate::core::route::RouteDecision;
use crate::core::runtime::{select, Either};
use crate::core::screen::{HygieneConfig, ScreenConfig};
use crate::core::usage::{CacheStatus, UsageRecord};

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
    #[serde(default)]
    screening: ScreenConfig,
    #[serde(default)]
    hygiene: HygieneConfig,
}

/// The per-call settings that sit beside the request's fields in the same JS object. Read by
/// a second pass over the JSON rather than `#[serde(flatten)]`, whose buffering doubles the
/// deserialisation code in the wasm.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallExtras {
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// `false` keeps the call away from the response cache.
    cache: Option<bool>,
    cache_system_prompt: Option<bool>,
    screening: Option<ScreenConfig>,
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
    cost: Option<&'a CostBreakdown>,
    cost_usd: Option<Picodollars>,
    route: Option<&'a RouteDecision>,
    cache: CacheStatus,
    stale: bool,
    /// The parsed answer of a `json_schema` call.
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<&'a serde_json::Value>,
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

/// The `onUsage` callback: each usage record as JSON text (exceptions are reported by `core.js`).
fn usage_hook(callback: js_sys::Function) -> UsageHook {
    Rc::new(move |record: &UsageRecord| {
        if let Ok(json) = serde_json::to_string(record) {
            let _ = callback.call1(&JsValue::UNDEFINED, &JsValue::from_str(&json));
        }
    })
}

/// The `budget.onAlert` callback: each alert as JSON text.
fn alert_hook(callback: js_sys::Function) -> AlertHook {
    Rc::new(move |alert: &Alert| {
        if let Ok(json) = serde_json::to_string(alert) {
            let _ = callback.call1(&JsValue::UNDEFINED, &JsValue::from_str(&json));
        }
    })
}

/// The custom router: called with the request and the built-in decision as JSON text, it
/// returns a replacement decision as JSON text, or `undefined` to keep the built-in one.
/// `core.js` completes a partial replacement from the built-in decision and catches what the
/// user's function throws; a reply that does not parse keeps the built-in decision.
fn router_hook(callback: js_sys::Function) -> RouterHook {
    Rc::new(move |request: &Request, decision: &RouteDecision| {
        let request = serde_json::to_string(request).ok()?;
        let decision = serde_json::to_string(decision).ok()?;
        let reply = callback
            .call2(
                &JsValue::UNDEFINED,
                &JsValue::from_str(&request),
                &JsValue::from_str(&decision),
            )
            .ok()?;
        serde_json::from_str(&reply.as_string()?).ok()
    })
}

/// The JS functions of the client options, which JSON cannot carry.
#[wasm_bindgen]
#[derive(Default)]
pub struct WasmHooks {
    on_event: Option<js_sys::Function>,
    on_usage: Option<js_sys::Function>,
    on_alert: Option<js_sys::Function>,
    router: Option<js_sys::Function>,
}

#[wasm_bindgen]
impl WasmHooks {
    #[wasm_bindgen(constructor)]
    pub fn new(
        on_event: Option<js_sys::Function>,
        on_usage: Option<js_sys::Function>,
        on_alert: Option<js_sys::Function>,
        router: Option<js_sys::Function>,
    ) -> WasmHooks {
        WasmHooks {
            on_event,
            on_usage,
            on_alert,
            router,
        }
    }
}

/// The core client, driven from `index.js`.
#[wasm_bindgen]
pub struct WasmClient {
    client: CoreClient,
}

#[wasm_bindgen]
impl WasmClient {
    /// `hooks` are the JS callbacks; each receives its values as JSON text.
    #[wasm_bindgen(constructor)]
    pub fn new(options_json: &str, hooks: WasmHooks) -> Result<WasmClient, JsValue> {
        const WHAT: &str = "client options";
        let fields: ClientFields = parse_json(options_json, WHAT, ErrorKind::Config)?;
        let costs: CostConfig = parse_json(options_json, WHAT, ErrorKind::Config)?;
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
            on_event: hooks.on_event.map(event_hook),
            costs,
            on_usage: hooks.on_usage.map(usage_hook),
            on_alert: hooks.on_alert.map(alert_hook),
            router: hooks.router.map(router_hook),
            screening: fields.screening,
            hygiene: fields.hygiene,
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

    /// What a request would cost, before sending it, as JSON (`CostEstimate`).
    #[wasm_bindgen(js_name = estimateCost)]
    pub fn estimate_cost(&self, request_json: &str) -> Result<String, JsValue> {
        let request: Request = parse_json(request_json, "request", ErrorKind::InvalidRequest)?;
        let estimate = self
            .client
            .estimate_cost(&request)
            .map_err(|e| error_to_js(&e))?;
        Ok(serde_json::to_string(&estimate).unwrap_or_default())
    }

    /// A month's cost at the client's prices, as JSON (`MonthlyProjection`).
    #[wasm_bindgen(js_name = projectMonthlyCost)]
    pub fn project_monthly_cost(&self, plan_json: &str) -> Result<String, JsValue> {
        let plan: MonthlyUsagePlan = parse_json(plan_json, "plan", ErrorKind::InvalidRequest)?;
        let projection = self
            .client
            .project_monthly_cost(&plan)
            .map_err(|e| error_to_js(&e))?;
        Ok(serde_json::to_string(&projection).unwrap_or_default())
    }

    /// Today's spend as JSON (`Spend`).
    pub fn spend(&self) -> String {
        serde_json::to_string(&self.client.spend()).unwrap_or_default()
    }

    #[wasm_bindgen(js_name = resetSpend)]
    pub fn reset_spend(&self) {
        self.client.reset_spend();
    }

    /// The response cache's counters as JSON, or `null` without a cache.
    #[wasm_bindgen(js_name = cacheStats)]
    pub fn cache_stats(&self) -> String {
        serde_json::to_string(&self.client.cache_stats()).unwrap_or_default()
    }

    /// Warnings about the configuration (skipped price entries) as a JSON array.
    #[wasm_bindgen(js_name = configWarnings)]
    pub fn config_warnings(&self) -> String {
        serde_json::to_string(self.client.config_warnings()).unwrap_or_default()
    }

    /// Submits `[{ customId, request }]` as one batch on the provider of their models; resolves
    /// with the batch status JSON.
    #[wasm_bindgen(js_name = batchSubmit)]
    pub fn batch_submit(&self, requests_json: &str) -> Result<js_sys::Promise, JsValue> {
        let requests: Vec<BatchRequest> =
            parse_json(requests_json, "batch requests", ErrorKind::InvalidRequest)?;
        let provider = batch_provider(&requests).map_err(|e| error_to_js(&e))?;
        let client = self.client.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let config = provider_settings(&client, provider)?;
            let status = batch::submit(&FetchTransport, provider, &config, &requests).await;
            status_json(status)
        }))
    }

    /// Polls a batch (`cancel`: asks the provider to cancel it first).
    #[wasm_bindgen(js_name = batchStatus)]
    pub fn batch_status(&self, provider: &str, id: &str, cancel: bool) -> js_sys::Promise {
        let client = self.client.clone();
        let (provider, id) = (provider.to_string(), id.to_string());
        wasm_bindgen_futures::future_to_promise(async move {
            let provider = parse_provider(&provider)?;
            let config = provider_settings(&client, provider)?;
            let status = match cancel {
                true => batch::cancel(&FetchTransport, provider, &config, &id).await,
                false => batch::status(&FetchTransport, provider, &config, &id).await,
            };
            status_json(status)
        })
    }

    /// Reads a finished batch's results, priced at batch rates, as a JSON array.
    #[wasm_bindgen(js_name = batchResults)]
    pub fn batch_results(&self, status_json: &str) -> Result<js_sys::Promise, JsValue> {
        let status: BatchStatus =
            parse_json(status_json, "batch status", ErrorKind::InvalidRequest)?;
        let client = self.client.clone();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let config = provider_settings(&client, status.provider)?;
            let results = batch::results(&FetchTransport, &config, &status, client.prices())
                .await
                .map_err(|e| error_to_js(&e))?;
            Ok(JsValue::from_str(
                &serde_json::to_string(&results).unwrap_or_default(),
            ))
        }))
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

/// The one provider of a batch's requests (a batch goes to one provider's batch API).
fn batch_provider(requests: &[BatchRequest]) -> Result<Provider, Error> {
    let mut provider = None;
    for item in requests {
        let model = ModelRef::parse(&item.request.model)?;
        if provider.is_some_and(|p| p != model.provider) {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "a batch goes to one provider: submit each provider's requests separately",
            ));
        }
        provider = Some(model.provider);
    }
    provider.ok_or_else(|| Error::new(ErrorKind::InvalidRequest, "a batch needs requests"))
}

fn parse_provider(name: &str) -> Result<Provider, JsValue> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
        error_to_js(&Error::new(
            ErrorKind::InvalidRequest,
            format!("unknown provider `{name}`"),
        ))
    })
}

fn provider_settings(client: &CoreClient, provider: Provider) -> Result<ProviderConfig, JsValue> {
    client.config().provider(provider).cloned().ok_or_else(|| {
        error_to_js(&Error::new(
            ErrorKind::Config,
            format!("{provider} is not configured"),
        ))
    })
}

fn status_json(status: Result<BatchStatus, Error>) -> Result<JsValue, JsValue> {
    let status = status.map_err(|e| error_to_js(&e))?;
    Ok(JsValue::from_str(
        &serde_json::to_string(&status).unwrap_or_default(),
    ))
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
            cache: extras.cache,
            cache_system_prompt: extras.cache_system_prompt,
            screening: extras.screening,
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
            let structured = matches!(
                request.response_format,
                Some(ResponseFormat::JsonSchema { .. })
            );
            if structured {
                let call = client.chat_structured(&request, &options);
                return match select(call, cancel.cancelled()).await {
                    Either::Left(Ok(done)) => Ok(JsValue::from_str(&response_json(
                        &done.outcome,
                        Some(&done.object),
                    ))),
                    Either::Left(Err(error)) => Err(error_to_js(&error)),
                    Either::Right(()) => Err(error_to_js(&cancelled_error())),
                };
            }
            match select(client.chat(&request, &options), cancel.cancelled()).await {
                Either::Left(Ok(outcome)) => Ok(JsValue::from_str(&response_json(&outcome, None))),
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

fn response_json(outcome: &ChatOutcome, object: Option<&serde_json::Value>) -> String {
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
        cost: outcome.cost.as_ref(),
        cost_usd: outcome.total_cost,
        route: outcome.route.as_ref(),
        cache: outcome.cache,
        stale: outcome.stale,
        object,
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
        cost: Option<&'a CostBreakdown>,
        #[serde(rename = "costUsd")]
        cost_usd: Option<Picodollars>,
        route: Option<&'a RouteDecision>,
        cache: CacheStatus,
        stale: bool,
        /// A JSON-schema stream's parsed answer (a mismatch is an error instead of `finish`).
        #[serde(skip_serializing_if = "Option::is_none")]
        object: Option<&'a serde_json::Value>,
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
            let mut events = match first {
                None => return Ok(JsValue::UNDEFINED),
                Some(Err(error)) => return Err(error_to_js(&error)),
                Some(Ok(event)) => vec![event],
            };
            // Drain what is already decoded without waiting on the network.
            while let Some(event) = stream.next_ready() {
                events.push(event);
            }
            coalesce_usage(&mut events);
            let ended = events
                .iter()
                .any(|event| matches!(event, StreamEvent::Finish { .. }));
            if !ended {
                *slot.borrow_mut() = Some(stream);
                return Ok(JsValue::from_str(&events_json(&events, None)));
            }
            // The call is costed when its body ends: read it before the `finish` event is
            // written, so that the event carries the cost.
            if let Either::Right(()) = select(read_to_end(&mut stream), cancel.cancelled()).await {
                cancel.take_unreported();
                return Err(error_to_js(&cancelled_error()));
            }
            Ok(JsValue::from_str(&events_json(&events, Some(&stream))))
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

/// A batch of events as a JSON array; `stream` (once ended) completes the `finish` event. The
/// deltas and usage updates, nearly every event of a stream, are written by hand into the one
/// buffer: serde's per-event string cost more than the decoding of the event.
fn events_json(events: &[StreamEvent], stream: Option<&CoreStream>) -> String {
    let mut json = String::with_capacity(64 * events.len() + 2);
    json.push('[');
    for event in events {
        if json.len() > 1 {
            json.push(',');
        }
        if push_frequent_event_json(&mut json, event) {
            continue;
        }
        let js = match (event, stream) {
            (StreamEvent::Finish { reason, usage }, Some(stream)) => JsEvent::Finish {
                kind: "finish",
                finish_reason: reason.unified,
                raw_finish_reason: reason.raw.as_deref(),
                usage,
                target: stream.target(),
                attempts: stream.attempts(),
                cost: stream.cost(),
                cost_usd: stream.total_cost(),
                route: stream.route(),
                cache: stream.cache_status(),
                stale: stream.is_stale(),
                object: stream.object(),
            },
            (other, _) => JsEvent::Other(other),
        };
        json.push_str(&serde_json::to_string(&js).unwrap_or_default());
    }
    json.push(']');
    json
}
