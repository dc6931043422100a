//! Streamed calls: the first content is awaited before answering (so a call that fails on
//! every target is an HTTP error in the route's format, not a 200 with an error inside), then
//! events are encoded as they arrive, without buffering. However the stream ends (finished,
//! failed mid-way, which the client sees as an error event in the route's format, timed out,
//! or cancelled because the client went away) its usage is settled and logged once.
//!
//! After the first event no Rust future runs per chunk: each upstream `read()` resolves into
//! one synchronous wasm callback (the core decodes the chunk in push mode, its events are
//! encoded in the route's format) that writes one chunk into workerd's
//! `IdentityTransformStream`, whose readable side workerd sends to the client natively, and
//! starts the next read (after the writer's `ready` when the client is slower than the
//! upstream). A future per read and a promise per pulled write cost ~1.6x as much CPU per
//! event, a `TransformStream` fed by `pipeTo` ~1.4x (bench/README.md). The
//! writer's `closed` rejecting means the client went away; a rejected read, that the upstream
//! broke. The call's deadlines run on one timer per deadline, not per chunk.
//!
//! The callbacks are the isolate's, made once: each stream gets them bound to its id (a native
//! `bind`, not five wasm-bindgen closures per stream), and one that fires after its stream is
//! over (a `closed` or `cancel` settling late) finds nothing to do, where a dropped closure
//! would throw an `Error` with its stack trace.
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    ReadableStream, ReadableStreamDefaultReader, WritableStream, WritableStreamDefaultWriter,
};
use worker::{Context, Headers, Response, ResponseBody, Result};

use super::gateway::{CoreClient, Gateway};
use super::handler::{
    attempts_cost_pico, client_for, cost_pico, fallback_of, log_record, run_after_call, tokens_of,
    Settlement,
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
use crate::web::{
    network_error, read_chunk, AbortOnDrop, FetchBody, FetchTransport, IdMap, JsClock,
};
use wasm_bindgen_futures::JsFuture;

type CoreStream = ChatStream<FetchTransport, JsClock>;

#[wasm_bindgen]
extern "C" {
    /// workerd's byte stream: what is written to its writable side, workerd sends from its
    /// readable side natively.
    #[wasm_bindgen(extends = js_sys::Object)]
    type IdentityTransformStream;
    #[wasm_bindgen(constructor, catch)]
    fn new() -> std::result::Result<IdentityTransformStream, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &IdentityTransformStream) -> ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &IdentityTransformStream) -> WritableStream;

    /// A promise, for `then` with the loop's functions (js-sys's `then` takes closures).
    #[wasm_bindgen(extends = js_sys::Object)]
    type Thenable;
    #[wasm_bindgen(method, js_name = then)]
    fn then_with(this: &Thenable, resolved: &Function, rejected: &Function) -> Promise;

    /// A function, for `bind` with a stream's id (js-sys's `bind1` is generic over its
    /// argument types).
    #[wasm_bindgen(extends = Function)]
    type Bindable;
    /// `f.bind(undefined, id)`: the isolate's callback `f` for the stream `id`.
    #[wasm_bindgen(method, js_name = bind)]
    fn bind_id(this: &Bindable, this_arg: &JsValue, id: u32) -> Function;
}

/// `promise.then(resolved, rejected)`.
fn on_settled(promise: &Promise, resolved: &Function, rejected: &Function) {
    let _ = promise
        .unchecked_ref::<Thenable>()
        .then_with(resolved, rejected);
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

/// The read loop's callbacks for one stream: the isolate's, bound to the stream's id.
struct Callbacks {
    on_read: Function,
    on_read_error: Function,
    on_ready: Function,
    ignore: Function,
}

/// One streamed answer: the core's stream in push mode, the upstream reader, the client's
/// writer, and what the client was sent.
struct Session {
    stream: CoreStream,
    encoder: StreamEncoder,
    /// Encoded text not yet written (one buffer, reused for every chunk).
    out: String,
    delivered_text: String,
    usage: Usage,
    first_content_ms: Option<u64>,
    /// Set once the stream has ended: whether it finished, and its outcome.
    ended: Option<(bool, Outcome)>,
    /// Wakes the task that settles the call once the stream has ended.
    waker: Option<Waker>,
    upstream: Option<ReadableStreamDefaultReader>,
    /// Whether the upstream body was read to its end or cancelled (its fetch is then over,
    /// with nothing left to abort).
    upstream_released: bool,
    /// Whether a read of the upstream is pending.
    reading: bool,
    /// The upstream of an answer that is complete, whose end is still to be read (see
    /// `read_leftover`).
    leftover: Option<ReadableStreamDefaultReader>,
    writer: Option<WritableStreamDefaultWriter>,
    callbacks: Option<Callbacks>,
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
                    // A structured answer its schema rejected came complete: bill its usage.
                    let finished = error.kind() == ErrorKind::InvalidOutput;
                    self.end(finished, Outcome::from_error(&error));
                }
                None => break,
            }
        }
    }

    /// Writes what was encoded as one chunk; once the stream has ended, closes the body, stops
    /// reading the upstream and wakes the settlement. Otherwise reads on.
    fn send(&mut self) {
        let (Some(writer), Some(callbacks)) = (&self.writer, &self.callbacks) else {
            return;
        };
        if !self.out.is_empty() {
            let chunk = Uint8Array::from(self.out.as_bytes());
            self.out.clear();
            // Fails only when the client has gone, which `closed` reports.
            let written = writer.write_with_chunk(&chunk);
            on_settled(&written, &callbacks.ignore, &callbacks.ignore);
        }
        if self.ended.is_none() {
            // Read on now, or once the client has taken what was written.
            match writer.desired_size() {
                Ok(Some(room)) if room > 0.0 => self.read_next(),
                _ => {
                    on_settled(&writer.ready(), &callbacks.on_ready, &callbacks.ignore);
                }
            }
            return;
        }
        on_settled(&writer.close(), &callbacks.ignore, &callbacks.ignore);
        self.stop();
    }

    fn read_next(&mut self) {
        if let (Some(upstream), Some(callbacks)) = (&self.upstream, &self.callbacks) {
            self.reading = true;
            on_settled(
                &upstream.read(),
                &callbacks.on_read,
                &callbacks.on_read_error,
            );
        }
    }

    /// The stream has ended: the upstream of a complete answer is left to `read_leftover`,
    /// any other is cancelled (the client went away, the upstream broke or took too long),
    /// and the settlement is woken.
    fn stop(&mut self) {
        if let Some(upstream) = self.upstream.take() {
            let complete = matches!(self.ended, Some((true, _)));
            if self.upstream_released {
                // read to its end: nothing to cancel
            } else if complete && !self.reading {
                self.leftover = Some(upstream);
            } else {
                if let Some(callbacks) = &self.callbacks {
                    on_settled(&upstream.cancel(), &callbacks.ignore, &callbacks.ignore);
                }
                self.upstream_released = true;
            }
        }
        self.writer = None;
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// A read resolved: the next chunk, or the end of the body.
    fn on_read(&mut self, result: &JsValue) {
        self.reading = false;
        if self.ended.is_some() {
            return;
        }
        match read_chunk(result) {
            Some(chunk) => {
                self.stream.push_chunk(&chunk);
                self.drain();
            }
            None => {
                self.upstream_released = true;
                self.stream.push_end();
                self.drain();
                // The upstream closed without a terminal event and without an error: as when
                // pulling.
                self.end(true, Outcome::Ok);
            }
        }
        self.send();
    }

    /// The upstream broke (or, with `None`, the client went away).
    fn end_early(&mut self, error: Option<Error>) {
        if self.ended.is_some() {
            return;
        }
        match error {
            Some(error) => {
                self.stream.push_failure(error);
                self.drain();
                self.send();
            }
            None => {
                self.end(false, Outcome::Cancelled);
                self.stop();
            }
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

/// The isolate's read-loop callbacks, each taking the stream's id first. Made once and kept for
/// the isolate's life.
struct LoopFunctions {
    on_read: Function,
    on_read_error: Function,
    on_ready: Function,
    on_closed_error: Function,
    ignore: Function,
}

thread_local! {
    /// The isolate's open streams, by id, for the callbacks.
    static SESSIONS: RefCell<IdMap<u32, Rc<RefCell<Session>>>> = RefCell::new(IdMap::default());
    static NEXT_ID: Cell<u32> = const { Cell::new(0) };
    static LOOP_FUNCTIONS: LoopFunctions = LoopFunctions::new();
}

impl LoopFunctions {
    fn new() -> Self {
        // A callback that finds its stream gone does nothing.
        let hook = |f: fn(&mut Session, JsValue)| {
            Closure::<dyn FnMut(u32, JsValue)>::new(move |id: u32, value: JsValue| {
                let session = SESSIONS.with(|s| s.borrow().get(&id).cloned());
                if let Some(session) = session {
                    f(&mut session.borrow_mut(), value)
                }
            })
            .into_js_value()
            .unchecked_into::<Function>()
        };
        LoopFunctions {
            on_read: hook(|s, result| s.on_read(&result)),
            on_read_error: hook(|s, reason| {
                s.reading = false;
                s.end_early(Some(network_error(
                    "the connection broke while reading the body",
                    reason,
                )))
            }),
            on_ready: hook(|s, _| {
                if s.ended.is_none() {
                    s.read_next();
                }
            }),
            on_closed_error: hook(|s, _| s.end_early(None)),
            ignore: Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {})
                .into_js_value()
                .unchecked_into::<Function>(),
        }
    }
}

/// Registers the stream and starts its loop: what was encoded so far is written at once, then
/// the upstream is read. Returns the id to `unregister` once the call is over.
fn start_loop(session: &Rc<RefCell<Session>>, writer: &WritableStreamDefaultWriter) -> u32 {
    let id = NEXT_ID.with(|next| {
        let id = next.get();
        next.set(id.wrapping_add(1));
        id
    });
    SESSIONS.with(|s| s.borrow_mut().insert(id, session.clone()));
    let (callbacks, on_closed_error) = LOOP_FUNCTIONS.with(|f| {
        let bound = |function: &Function| {
            function
                .unchecked_ref::<Bindable>()
                .bind_id(&JsValue::UNDEFINED, id)
        };
        let callbacks = Callbacks {
            on_read: bound(&f.on_read),
            on_read_error: bound(&f.on_read_error),
            on_ready: bound(&f.on_ready),
            ignore: f.ignore.clone(),
        };
        (callbacks, bound(&f.on_closed_error))
    });
    let mut s = session.borrow_mut();
    on_settled(&writer.closed(), &callbacks.ignore, &on_closed_error);
    s.callbacks = Some(callbacks);
    s.send();
    id
}

/// The stream's call is over: callbacks that still fire for it find nothing.
fn unregister(id: u32) {
    SESSIONS.with(|s| s.borrow_mut().remove(&id));
}

/// Waits for the stream to end, enforcing the call's deadlines meanwhile (one timer per
/// deadline, not per chunk).
async fn watch(session: &RefCell<Session>) {
    loop {
        let deadline = session.borrow().stream.push_deadline_ms();
        let ended = poll_fn(|cx| {
            let mut s = session.borrow_mut();
            if s.ended.is_some() {
                return Poll::Ready(());
            }
            s.waker = Some(cx.waker().clone());
            Poll::Pending
        });
        if with_deadline(&JsClock, deadline, ended).await.is_some() {
            return;
        }
        let mut s = session.borrow_mut();
        if s.ended.is_none() && s.stream.push_check_deadline() {
            s.drain();
            s.send();
        }
    }
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
            run_after_call(&ctx, async move {
                settlement.settle(&gw2, consumed, 0, consumed > 0).await
            });
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
    let upstream = chat_stream.take_body().and_then(FetchBody::into_reader);
    let mut session = Session {
        encoder: format.stream_encoder(&model_echo, now_s, include_usage, ""),
        stream: chat_stream,
        out: String::new(),
        delivered_text: String::new(),
        usage: Usage::default(),
        first_content_ms: None,
        ended: None,
        waker: None,
        upstream: None,
        upstream_released: false,
        reading: false,
        leftover: None,
        writer: None,
        callbacks: None,
    };
    session.encode(&first);
    session.drain();

    let (upstream, mut abort) = match upstream {
        Some(upstream) if session.ended.is_none() => upstream,
        // Everything is decoded already: a short answer, or one replayed from the cache.
        leftover => {
            session.end(true, Outcome::Ok);
            let body = std::mem::take(&mut session.out).into_bytes();
            let ending = session.take_ending();
            run_after_call(&ctx, async move {
                settle(gw, plan, settlement, record, ending).await;
                if let Some((reader, abort)) = leftover {
                    read_leftover(reader, abort).await;
                }
            });
            return Ok(respond::bytes(200, body, headers));
        }
    };
    let body = IdentityTransformStream::new()?;
    let writer = body.writable().get_writer()?;
    session.upstream = Some(upstream);
    session.writer = Some(writer.clone());
    let session = Rc::new(RefCell::new(session));
    let id = start_loop(&session, &writer);
    ctx.wait_until(async move {
        watch(&session).await;
        let (leftover, released, ending) = {
            let mut s = session.borrow_mut();
            (s.leftover.take(), s.upstream_released, s.take_ending())
        };
        settle(gw, plan, settlement, record, ending).await;
        match leftover {
            Some(reader) => read_leftover(reader, abort).await,
            // Read to its end or cancelled: nothing to abort. (Otherwise dropping the guard
            // aborts the fetch, which ends a read still pending.)
            None if released => abort.disarm(),
            None => drop(abort),
        }
        unregister(id);
    });
    Ok(Response::from_body(ResponseBody::Stream(body.readable()))?.with_headers(headers))
}

/// How much of an upstream is read after its answer is complete before giving up on it.
const LEFTOVER_LIMIT_BYTES: usize = 16 * 1024;
const LEFTOVER_WAIT_MS: u64 = 1_000;

/// Reads the rest of an upstream body whose answer is complete (usually only its end), so
/// that workerd keeps the connection for the next call: a cancelled body closes it, and a new
/// connection cost ~270 µs more CPU per call in a JS Worker reading the same stream. Past
/// `LEFTOVER_LIMIT_BYTES` or `LEFTOVER_WAIT_MS`, dropping the guard aborts the fetch.
async fn read_leftover(reader: ReadableStreamDefaultReader, mut abort: AbortOnDrop) {
    let mut budget = LEFTOVER_LIMIT_BYTES;
    let read_to_end = async {
        loop {
            match JsFuture::from(reader.read()).await {
                Ok(result) => match read_chunk(&result) {
                    None => return true,
                    Some(chunk) if chunk.len() <= budget => budget -= chunk.len(),
                    Some(_) => return false,
                },
                // The connection broke: the fetch is over.
                Err(_) => return true,
            }
        }
    };
    let deadline = js_sys::Date::now() as u64 + LEFTOVER_WAIT_MS;
    if with_deadline(&JsClock, Some(deadline), read_to_end).await == Some(true) {
        abort.disarm();
    }
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
