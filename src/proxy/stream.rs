//! Streamed calls: the first content is awaited before answering (so a call that fails on
//! every target is an HTTP error in the route's format, not a 200 with an error inside), then
//! events are encoded as they arrive, without buffering. However the stream ends (finished,
//! failed mid-way, which the client sees as an error event in the route's format, timed out,
//! or cancelled because the client went away) its usage is settled and logged once.
//!
//! After the first event the runtime drives the body, not Rust: the upstream `ReadableStream`
//! is piped by workerd into a `TransformStream` whose `transform` is one synchronous wasm call
//! per chunk (the core decodes the chunk in push mode, its events are encoded in the route's
//! format and enqueued as one chunk). Pulling each chunk through a future on either side (a
//! promise per read, a promise per write) cost about three times as much per event; see
//! bench/README.md. How the pipe ends tells how the stream ended: it resolves after `flush`
//! (the upstream finished); it rejects when the upstream broke (the source is then errored)
//! or when the client went away (the pipe then cancelled the source, which is closed).
use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    ReadableStream, ReadableStreamDefaultReader, StreamPipeOptions, TransformStream,
    TransformStreamDefaultController, Transformer,
};
use worker::{Context, Headers, Response, ResponseBody, Result};

use super::gateway::{CoreClient, Gateway};
use super::handler::{
    attempts_cost_pico, client_for, cost_pico, fallback_of, log_record, tokens_of, Settlement,
};
use super::respond;
use crate::core::client::{CallOptions, ChatStream};
use crate::core::cost::cost_of_interrupted;
use crate::core::error::{Error, ErrorKind};
use crate::core::event::StreamEvent;
use crate::core::gateway::format::{ApiFormat, StreamEncoder};
use crate::core::gateway::plan::Plan;
use crate::core::model::Usage;
use crate::core::policy::Attempt;
use crate::core::runtime::with_deadline;
use crate::core::usage::{Cost, Outcome, UsageRecord};
use crate::web::{AbortOnDrop, FetchBody, FetchTransport, JsClock};

type CoreStream = ChatStream<FetchTransport, JsClock>;

/// `stream.getReader()`, an error when it is locked (web-sys's binding would trap instead).
fn try_get_reader(stream: &ReadableStream) -> std::result::Result<JsValue, JsValue> {
    let get_reader: js_sys::Function =
        js_sys::Reflect::get(stream, &JsValue::from_str("getReader"))?.dyn_into()?;
    get_reader.call0(stream)
}

/// How a stream ended, as far as billing cares.
struct Ending {
    usage: Usage,
    delivered_text: String,
    attempts: Vec<Attempt>,
    target: Option<String>,
    /// Whether the provider's terminal event arrived (usage complete).
    finished: bool,
    outcome: Outcome,
    first_content_ms: Option<u64>,
}

/// One streamed answer: the core's stream in push mode and what the client was sent.
struct Session {
    stream: CoreStream,
    encoder: StreamEncoder,
    /// Encoded text not yet enqueued (one buffer, reused for every chunk).
    out: String,
    delivered_text: String,
    usage: Usage,
    first_content_ms: Option<u64>,
    /// Set once the stream has ended: whether it finished, and its outcome.
    ended: Option<(bool, Outcome)>,
    /// The response body's controller, once the transform started.
    controller: Option<TransformStreamDefaultController>,
}

impl Session {
    fn encode(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::TextDelta { text } => {
                self.delivered_text.push_str(text);
                self.first_content_ms
                    .get_or_insert_with(|| js_sys::Date::now() as u64);
            }
            StreamEvent::Usage { usage } => self.usage.merge(usage),
            StreamEvent::Finish { usage, .. } => self.usage.merge(usage),
            _ => {}
        }
        self.encoder.event(event, &mut self.out);
        if matches!(event, StreamEvent::Finish { .. }) {
            self.end(true, Outcome::Ok);
        }
    }

    fn end(&mut self, finished: bool, outcome: Outcome) {
        self.ended.get_or_insert((finished, outcome));
    }

    /// Encodes everything the core has decoded, and the error that ended the stream, if one did.
    fn drain(&mut self) {
        while self.ended.is_none() {
            match self.stream.next_pushed() {
                Some(Ok(event)) => self.encode(&event),
                Some(Err(error)) => {
                    self.encoder.error(&error, &mut self.out);
                    self.end(false, Outcome::from_error(&error));
                }
                None => break,
            }
        }
    }

    /// Enqueues what was encoded as one chunk, and closes the body once the stream has ended.
    fn send(&mut self, controller: &TransformStreamDefaultController) {
        if !self.out.is_empty() {
            let chunk = Uint8Array::from(self.out.as_bytes());
            self.out.clear();
            // Fails only when the client has gone; the pipe's end then says so.
            let _ = controller.enqueue_with_chunk(&chunk);
        }
        if self.ended.is_some() {
            // Closes the body; the pipe then cancels the upstream.
            controller.terminate();
        }
    }

    /// The upstream broke, timed out or the client went away; no-op once the stream has ended.
    fn end_early(&mut self, error: Option<Error>) {
        if self.ended.is_some() {
            return;
        }
        match error {
            Some(error) => {
                self.stream.push_failure(error);
                self.drain();
                if let Some(controller) = self.controller.clone() {
                    self.send(&controller);
                }
            }
            None => self.end(false, Outcome::Cancelled),
        }
    }

    /// How the stream ended (once it has; a stream that was never told otherwise finished).
    fn take_ending(&mut self) -> Ending {
        let (finished, outcome) = self.ended.clone().unwrap_or((true, Outcome::Ok));
        let mut usage = self.usage;
        usage.merge(&self.stream.usage());
        Ending {
            usage,
            delivered_text: std::mem::take(&mut self.delivered_text),
            attempts: self.stream.attempts().to_vec(),
            target: self.stream.target().map(str::to_string),
            finished,
            outcome,
            first_content_ms: self.first_content_ms,
        }
    }
}

/// The transform's hooks. They live until the pipe is over (JS may call them until then).
struct Hooks {
    _start: Closure<dyn FnMut(TransformStreamDefaultController)>,
    _transform: Closure<dyn FnMut(JsValue, TransformStreamDefaultController)>,
    _flush: Closure<dyn FnMut(TransformStreamDefaultController)>,
}

/// The response body: a `TransformStream` decoding and re-encoding each chunk synchronously.
fn transform_stream(session: &Rc<RefCell<Session>>) -> Result<(TransformStream, Hooks)> {
    let on_start = session.clone();
    let start =
        Closure::<dyn FnMut(_)>::new(move |controller: TransformStreamDefaultController| {
            let mut session = on_start.borrow_mut();
            // The first event (and what came with it) goes out as soon as the body is read.
            session.send(&controller);
            session.controller = Some(controller);
        });
    let on_chunk = session.clone();
    let transform = Closure::<dyn FnMut(_, _)>::new(
        move |chunk: JsValue, controller: TransformStreamDefaultController| {
            let mut session = on_chunk.borrow_mut();
            if session.ended.is_some() {
                return;
            }
            let bytes = chunk.unchecked_into::<Uint8Array>().to_vec();
            session.stream.push_chunk(&bytes);
            session.drain();
            session.send(&controller);
        },
    );
    let on_flush = session.clone();
    let flush =
        Closure::<dyn FnMut(_)>::new(move |controller: TransformStreamDefaultController| {
            let mut session = on_flush.borrow_mut();
            if session.ended.is_some() {
                return;
            }
            session.stream.push_end();
            session.drain();
            // The upstream closed without a terminal event and without an error: as when pulling.
            session.end(true, Outcome::Ok);
            session.send(&controller);
        });
    let transformer = Transformer::new();
    transformer.set_start(start.as_ref().unchecked_ref());
    transformer.set_transform(transform.as_ref().unchecked_ref());
    transformer.set_flush(flush.as_ref().unchecked_ref());
    let stream = TransformStream::new_with_transformer(&transformer)?;
    let hooks = Hooks {
        _start: start,
        _transform: transform,
        _flush: flush,
    };
    Ok((stream, hooks))
}

/// Waits for the pipe to end, enforcing the call's deadlines meanwhile (one timer per
/// deadline, not per chunk), and records in the session how the stream ended.
async fn watch(
    session: &RefCell<Session>,
    pipe: JsFuture,
    upstream: ReadableStream,
    abort: AbortOnDrop,
) {
    let mut pipe = pipe;
    let mut abort = Some(abort);
    let piped = loop {
        let deadline = session.borrow().stream.push_deadline_ms();
        if let Some(piped) = with_deadline(&JsClock, deadline, &mut pipe).await {
            break piped;
        }
        let mut session = session.borrow_mut();
        if session.ended.is_none() && session.stream.push_check_deadline() {
            session.drain();
            if let Some(controller) = session.controller.clone() {
                session.send(&controller);
            }
            // Aborting the fetch errors the upstream, which ends the pipe.
            abort.take();
        }
    };
    if session.borrow().ended.is_some() {
        return;
    }
    // The upstream did not finish (that goes through `flush`), nor did a deadline pass: it
    // broke or the client went away. The pipe has released the upstream: errored means it
    // broke; closed, that the pipe cancelled it because the body was cancelled (workerd then
    // resolves the pipe rather than rejecting it).
    let broke = match try_get_reader(&upstream) {
        Ok(reader) => JsFuture::from(
            reader
                .unchecked_into::<ReadableStreamDefaultReader>()
                .closed(),
        )
        .await
        .is_err(),
        Err(_) => false,
    };
    let reason = piped.err().unwrap_or(JsValue::UNDEFINED);
    let error = broke.then(|| {
        let detail = reason
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| "unknown error".to_string());
        Error::new(
            ErrorKind::Network,
            format!("the connection broke while reading the body: {detail}"),
        )
    });
    session.borrow_mut().end_early(error);
}

async fn first_event(
    client: &CoreClient,
    plan: &Plan,
) -> (CoreStream, Option<std::result::Result<StreamEvent, Error>>) {
    let mut stream = client.stream(plan.request.clone(), CallOptions::default());
    let first = stream.next().await;
    (stream, first)
}

#[allow(clippy::too_many_arguments)]
pub async fn respond(
    gw: Rc<Gateway>,
    ctx: Context,
    plan: Plan,
    settlement: Settlement,
    mut record: UsageRecord,
    format: ApiFormat,
    model_echo: String,
    include_usage: bool,
    headers: Headers,
) -> Result<Response> {
    let started = record.time_ms;
    let (mut chat_stream, mut first) = first_event(&gw.clients[0], &plan).await;
    if matches!(&first, Some(Err(e)) if e.kind() == ErrorKind::Authentication) {
        if let Some(second) = client_for(&gw, 1) {
            (chat_stream, first) = first_event(second, &plan).await;
        }
    }
    let first = match first {
        Some(Ok(event)) => event,
        failure => {
            let error = match failure {
                Some(Err(error)) => error,
                _ => Error::new(
                    ErrorKind::InvalidResponse,
                    "the provider ended the stream without an event",
                ),
            };
            let consumed = attempts_cost_pico(&gw, error.attempts());
            record.outcome = Outcome::from_error(&error);
            record.attempts = error.attempts().len() as u32;
            record.latency_ms = Some((js_sys::Date::now() as u64).saturating_sub(started));
            record.cost = Some(Cost::new(consumed, false));
            log_record(&record);
            let gw2 = gw.clone();
            ctx.wait_until(async move { settlement.settle(&gw2, consumed, 0, consumed > 0).await });
            return respond::error(format, &error, headers);
        }
    };

    let now_s = js_sys::Date::now() as u64 / 1000;
    if let Some(provider) = chat_stream.provider() {
        headers.set("x-llm-edge-provider", provider.as_str())?;
    }
    if let Some(target) = chat_stream.target() {
        headers.set("x-llm-edge-model", target)?;
    }
    headers.set(
        "x-llm-edge-attempts",
        &chat_stream.attempts().len().max(1).to_string(),
    )?;
    headers.set("content-type", "text/event-stream; charset=utf-8")?;
    headers.set("cache-control", "no-cache")?;
    let upstream = chat_stream.take_body().and_then(FetchBody::into_stream);
    let mut session = Session {
        encoder: format.stream_encoder(&model_echo, now_s, include_usage, ""),
        stream: chat_stream,
        out: String::new(),
        delivered_text: String::new(),
        usage: Usage::default(),
        first_content_ms: None,
        ended: None,
        controller: None,
    };
    session.encode(&first);
    session.drain();

    let upstream = match upstream {
        Some(upstream) if session.ended.is_none() => upstream,
        // Everything is decoded already: a short answer, or one replayed from the cache.
        // (Dropping the upstream, if any, aborts its fetch.)
        _ => {
            session.end(true, Outcome::Ok);
            let body = std::mem::take(&mut session.out).into_bytes();
            let ending = session.take_ending();
            ctx.wait_until(settle(gw, plan, settlement, record, ending));
            return Ok(Response::from_bytes(body)?.with_headers(headers));
        }
    };
    let (upstream, abort) = upstream;
    let session = Rc::new(RefCell::new(session));
    let (transform, hooks) = transform_stream(&session)?;
    let options = StreamPipeOptions::new();
    // An upstream failure must not error the body: the error event still has to go out.
    options.set_prevent_abort(true);
    let pipe = JsFuture::from(upstream.pipe_to_with_options(&transform.writable(), &options));
    let body = transform.readable();
    ctx.wait_until(async move {
        watch(&session, pipe, upstream, abort).await;
        // The pipe is over: JS calls no hook any more.
        drop(hooks);
        let ending = session.borrow_mut().take_ending();
        settle(gw, plan, settlement, record, ending).await;
    });
    Ok(Response::from_body(ResponseBody::Stream(body))?.with_headers(headers))
}

/// Logs the call's record and settles it with the client's limits.
async fn settle(
    gw: Rc<Gateway>,
    plan: Plan,
    settlement: Settlement,
    mut record: UsageRecord,
    ending: Ending,
) {
    let started = record.time_ms;
    let target = ending
        .target
        .clone()
        .unwrap_or_else(|| plan.model.qualified());
    let price = gw.prices.lookup(&target);
    let (served, estimated) = match (ending.finished, price) {
        (true, _) => (cost_pico(&gw, &target, &ending.usage), false),
        (false, Some(price)) => {
            let cost = cost_of_interrupted(
                &ending.usage,
                &ending.delivered_text,
                &plan.request,
                price,
                plan.model.provider,
                false,
            );
            (
                Some(u64::try_from(cost.total.0).unwrap_or(u64::MAX)),
                cost.estimated,
            )
        }
        (false, None) => (None, false),
    };
    let total = served.unwrap_or(0) + attempts_cost_pico(&gw, &ending.attempts);
    record.provider = Some(plan.model.provider);
    record.model = Some(target.clone());
    record.usage = ending.usage;
    record.attempts = ending.attempts.len() as u32;
    record.fallback = fallback_of(&plan, &ending.attempts, Some(&target));
    record.latency_ms = Some((js_sys::Date::now() as u64).saturating_sub(started));
    record.time_to_first_token_ms = ending.first_content_ms.map(|t| t.saturating_sub(started));
    record.cost = served.map(|_| Cost::new(total, estimated));
    record.outcome = ending.outcome;
    log_record(&record);
    settlement
        .settle(&gw, total, tokens_of(&ending.usage), true)
        .await;
}
