//! Streamed calls: the first content is awaited before answering (so a call that fails on
//! every target is an HTTP error in the route's format, not a 200 with an error inside), then
//! events are encoded as they arrive, without buffering. However the stream ends (finished,
//! failed, or dropped because the client went away) its usage is settled and logged once.
use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use futures_util::stream;
use worker::{Context, Headers, Response, Result};

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
use crate::core::usage::{Cost, Outcome, UsageRecord};
use crate::web::{FetchTransport, JsClock};

type CoreStream = ChatStream<FetchTransport, JsClock>;

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

/// A one-shot cell: the stream writes how it ended, the settlement task waits for it.
#[derive(Default)]
struct EndingCell {
    ending: Option<Ending>,
    waker: Option<Waker>,
}

struct StreamState {
    stream: CoreStream,
    encoder: StreamEncoder,
    first: Option<StreamEvent>,
    done: bool,
    delivered_text: String,
    usage: Usage,
    first_content_ms: Option<u64>,
    cell: Rc<RefCell<EndingCell>>,
}

impl StreamState {
    fn end(&mut self, finished: bool, outcome: Outcome) {
        self.done = true;
        let mut cell = self.cell.borrow_mut();
        if cell.ending.is_some() {
            return;
        }
        let mut usage = self.usage;
        usage.merge(&self.stream.usage());
        cell.ending = Some(Ending {
            usage,
            delivered_text: std::mem::take(&mut self.delivered_text),
            attempts: self.stream.attempts().to_vec(),
            target: self.stream.target().map(str::to_string),
            finished,
            outcome,
            first_content_ms: self.first_content_ms,
        });
        if let Some(waker) = cell.waker.take() {
            waker.wake();
        }
    }

    fn encode(&mut self, event: &StreamEvent, out: &mut String) {
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
        self.encoder.event(event, out);
        if matches!(event, StreamEvent::Finish { .. }) {
            self.end(true, Outcome::Ok);
        }
    }

    /// The next piece of the body: at least one event's worth of SSE text, or `None` at the end.
    async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let mut out = String::new();
        if let Some(first) = self.first.take() {
            self.encode(&first, &mut out);
        }
        while out.is_empty() && !self.done {
            match self.stream.next().await {
                Some(Ok(event)) => self.encode(&event, &mut out),
                Some(Err(error)) => {
                    self.encoder.error(&error, &mut out);
                    // A structured answer its schema rejected came complete: bill its usage.
                    let finished = error.kind() == ErrorKind::InvalidOutput;
                    self.end(finished, Outcome::from_error(&error));
                }
                None => self.end(true, Outcome::Ok),
            }
        }
        // Whatever else is already decoded goes out in the same chunk.
        while !self.done {
            let Some(event) = self.stream.next_ready() else {
                break;
            };
            self.encode(&event, &mut out);
        }
        (!out.is_empty()).then(|| out.into_bytes())
    }
}

impl Drop for StreamState {
    /// The client went away mid-stream: what was consumed is still billed.
    fn drop(&mut self) {
        if !self.done {
            self.end(false, Outcome::Cancelled);
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
            ctx.wait_until(async move { settlement.settle(&gw2, consumed, 0, consumed > 0).await });
            return respond::error(format, &error, headers);
        }
    };

    let now_s = js_sys::Date::now() as u64 / 1000;
    let cell = Rc::new(RefCell::new(EndingCell::default()));
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
    let state = StreamState {
        encoder: format.stream_encoder(&model_echo, now_s, include_usage, ""),
        stream: chat_stream,
        first: Some(first),
        done: false,
        delivered_text: String::new(),
        usage: Usage::default(),
        first_content_ms: None,
        cell: cell.clone(),
    };

    // Settle and log once the stream has ended, however it ended.
    ctx.wait_until(async move {
        let ending = poll_fn(|cx| {
            let mut cell = cell.borrow_mut();
            match cell.ending.take() {
                Some(ending) => Poll::Ready(ending),
                None => {
                    cell.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await;
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
    });

    let body = stream::unfold(state, |mut state| async move {
        let chunk = state.next_chunk().await?;
        Some((Ok::<Vec<u8>, worker::Error>(chunk), state))
    });
    Ok(Response::from_stream(body)?.with_headers(headers))
}
