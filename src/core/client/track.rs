//! The bookkeeping of one call, as a guard: it holds the call's budget reservation, its lead
//! of a cache flight and its usage record, and however the call ends (answered, failed, or
//! dropped by its caller) it settles the reservation at what was consumed, hands the flight on,
//! and emits exactly one record. Dropping it unfinished is a cancellation: nothing the call
//! consumed goes unrecorded and nothing stays reserved.
use std::cell::Cell;
use std::rc::Rc;

use crate::core::budget::Reservation;
use crate::core::cache::{is_cacheable, CacheKey};
use crate::core::cost::{CostBreakdown, Picodollars};
use crate::core::error::Error;
use crate::core::event::{ResponseAssembler, StreamEvent};
use crate::core::model::{ModelRef, Request, Response, ResponseFormat, Usage, Warning};
use crate::core::policy::Attempt;
use crate::core::route::RouteDecision;
use crate::core::screen::{PartChanges, ScreenOutcome};
use crate::core::usage::{CacheStatus, Cost, Fallback, Outcome, UsageRecord};

use super::costs::{CostLayer, CostTally};
use super::flight::SharedAnswer;

/// What a finished call cost, for its outcome.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Settled {
    pub cost: Option<CostBreakdown>,
    pub total: Option<Picodollars>,
    /// The call's own warnings (cost, budget, prompt caching), to add to the response's.
    pub warnings: Vec<Warning>,
}

/// How a call ended.
pub(super) struct Ending<'e> {
    pub outcome: Outcome,
    /// `provider/model` that served; for a failure, the last target tried.
    pub target: Option<&'e str>,
    pub attempts: &'e [Attempt],
    pub tally: CostTally,
}

/// A stream committed to its serving attempt, costed from what it received however it ends.
struct LiveStream {
    target: ModelRef,
    request: Rc<Request>,
    /// What the provider said answered (`Start`), for pricing a dated snapshot.
    answered: Option<String>,
    usage: Usage,
    /// Text, reasoning and tool-call arguments decoded so far.
    delivered: String,
    /// The answer being assembled, when the response cache will store it.
    assembler: Option<ResponseAssembler>,
    /// Attempts before the serving one that consumed tokens.
    others: CostTally,
}

pub(super) struct CallTrack<'a> {
    costs: Rc<CostLayer>,
    now: Box<dyn Fn() -> u64 + 'a>,
    record: UsageRecord,
    first_target: Option<String>,
    route: Option<RouteDecision>,
    warnings: Vec<Warning>,
    cache: CacheStatus,
    /// The cache flight this call leads.
    flight: Option<CacheKey>,
    reservation: Option<Reservation>,
    abandoned_attempt_pico: u64,
    started: Cell<u32>,
    ended: Cell<u32>,
    live: Option<LiveStream>,
    done: bool,
    /// The request's JSON schema: an answer that does not match it is never cached, so a
    /// repeated call is repaired afresh rather than served the rejected answer.
    schema: Option<serde_json::Value>,
}

impl<'a> CallTrack<'a> {
    pub fn new(costs: Rc<CostLayer>, now: Box<dyn Fn() -> u64 + 'a>, request: &Request) -> Self {
        let started = now();
        let mut record = UsageRecord::new(started, request.model.clone(), Outcome::Ok);
        record.request_id = Some(costs.next_call_id(started));
        record.conversation_id = request.metadata.conversation_id.clone();
        record.end_user_id = request.metadata.end_user_id.clone();
        CallTrack {
            costs,
            now,
            record,
            first_target: None,
            route: None,
            warnings: Vec::new(),
            cache: CacheStatus::Off,
            flight: None,
            reservation: None,
            abandoned_attempt_pico: 0,
            started: Cell::new(0),
            ended: Cell::new(0),
            live: None,
            done: false,
            schema: match &request.response_format {
                Some(ResponseFormat::JsonSchema { schema, .. }) => Some(schema.clone()),
                _ => None,
            },
        }
    }

    pub fn now_ms(&self) -> u64 {
        (self.now)()
    }

    pub fn started_ms(&self) -> u64 {
        self.record.time_ms
    }

    pub fn route(&self) -> Option<&RouteDecision> {
        self.route.as_ref()
    }

    pub fn cache_status(&self) -> CacheStatus {
        self.cache
    }

    /// The call is resolved: its route, first target, and what a dropped attempt costs.
    pub fn prepared(
        &mut self,
        route: Option<RouteDecision>,
        first_target: &str,
        abandoned_attempt_pico: u64,
        warnings: Vec<Warning>,
    ) {
        if let Some(decision) = &route {
            self.record.route = Some(serde_json::json!({
                "tier": decision.tier,
                "model": decision.model,
                "reason": decision.reason,
                "score": decision.score,
            }));
        }
        self.route = route;
        self.note_target(first_target);
        self.first_target = Some(first_target.to_string());
        self.abandoned_attempt_pico = abandoned_attempt_pico;
        self.warnings.extend(warnings);
    }

    fn note_target(&mut self, target: &str) {
        if let Ok(model) = ModelRef::parse(target) {
            self.record.provider = Some(model.provider);
            self.record.model = Some(model.name);
        }
    }

    /// Input hygiene changed the request: what it removed goes in the record.
    pub fn sanitized(&mut self, changes: &[PartChanges]) {
        self.record.sanitized = serde_json::to_value(changes).ok();
    }

    /// Input screening flagged (or blocked) the request: its verdict goes in the record.
    pub fn screened(&mut self, outcome: &ScreenOutcome) {
        self.record.screening = serde_json::to_value(outcome).ok();
    }

    /// The response cache is consulted for this call.
    pub fn cached(&mut self) {
        self.cache = CacheStatus::Miss;
    }

    /// This call makes the upstream call for `key`; identical calls wait for it.
    pub fn lead(&mut self, key: CacheKey) {
        self.flight = Some(key);
    }

    pub fn reserve(&mut self, worst_case_pico: u64) -> Result<(), Error> {
        let reservation = self.costs.reserve(worst_case_pico, self.now_ms())?;
        self.reservation = Some(reservation);
        Ok(())
    }

    /// An attempt was launched; it is billed as abandoned if the call is dropped before
    /// [`attempt_ended`](Self::attempt_ended).
    pub fn attempt_started(&self) {
        self.started.set(self.started.get() + 1);
    }

    pub fn attempt_ended(&self) {
        self.ended.set(self.ended.get() + 1);
    }

    /// The provider's details of a whole answer, for the record.
    pub fn note_response(&mut self, response: &Response) {
        let record = &mut self.record;
        record.response_model = Some(response.model.clone());
        record.response_id.clone_from(&response.id);
        record.provider_request_id.clone_from(&response.request_id);
        record.finish_reason = Some(response.finish_reason.clone());
        record.warnings.extend(response.warnings.iter().cloned());
    }

    /// Shares the leader's answer with its followers; a fresh, complete answer is stored.
    pub fn share(&mut self, response: &Response, stale: bool) {
        let (Some(key), Some(cache)) = (self.flight.take(), self.costs.cache.as_ref()) else {
            return;
        };
        let fits_schema = self
            .schema
            .as_ref()
            .is_none_or(|schema| super::structured::matches_schema(schema, &response.text()));
        if !stale && fits_schema && is_cacheable(response) {
            cache.store(key, response.clone(), self.now_ms());
        }
        cache.complete(
            key,
            Ok(SharedAnswer {
                response: response.clone(),
                stale,
            }),
        );
    }

    /// Shares a failure with the followers, who would meet the same one.
    pub fn share_error(&mut self, error: &Error) {
        if let (Some(key), Some(cache)) = (self.flight.take(), self.costs.cache.as_ref()) {
            cache.complete(key, Err(error.clone()));
        }
    }

    /// The call ends without an answer to share (a stream cut after its content was
    /// delivered): the next follower makes its own call.
    fn hand_flight_on(&mut self) {
        if let (Some(key), Some(cache)) = (self.flight.take(), self.costs.cache.as_ref()) {
            cache.abandon(key);
        }
    }

    /// An entry past its TTL, within the stale-if-error window, for a call that failed.
    pub fn stale_answer(&self) -> Option<Response> {
        let key = self.flight?;
        self.costs.cache.as_ref()?.stale(key, self.now_ms())
    }

    /// The answer came from the cache (`Hit`, `Coalesced` or `Stale`).
    pub fn answered_from_cache(&mut self, status: CacheStatus, response: &Response) {
        self.cache = status;
        self.note_response(response);
    }

    /// A replayed stream's first content is ready now.
    pub fn first_content(&mut self) {
        let elapsed = self.now_ms().saturating_sub(self.started_ms());
        self.record.time_to_first_token_ms.get_or_insert(elapsed);
    }

    pub fn warn(&mut self, warning: Warning) {
        self.warnings.push(warning);
    }

    /// A stream produced its first content on `target` and is committed to it.
    pub fn commit(
        &mut self,
        target: &str,
        request: Rc<Request>,
        attempts: &[Attempt],
        provider_request_id: Option<&str>,
        warnings: &[Warning],
    ) {
        let now = self.now_ms();
        self.record.time_to_first_token_ms = Some(now.saturating_sub(self.started_ms()));
        self.count_attempts(Some(target), attempts);
        self.note_target(target);
        self.record.provider_request_id = provider_request_id.map(str::to_string);
        self.record.warnings.extend(warnings.iter().cloned());
        let Ok(model) = ModelRef::parse(target) else {
            return;
        };
        let assembler = self.flight.is_some().then(|| {
            let mut assembler = ResponseAssembler::new(model.provider, &model.name);
            assembler.set_request_id(provider_request_id.map(str::to_string));
            assembler.add_warnings(warnings);
            assembler
        });
        self.live = Some(LiveStream {
            target: model,
            request,
            answered: None,
            usage: Usage::default(),
            delivered: String::new(),
            assembler,
            others: self.costs.tally_attempts(attempts),
        });
    }

    /// Events a committed stream decoded (delivered or about to be), and its usage so far.
    pub fn observe(&mut self, events: &[StreamEvent], usage: Usage) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        live.usage = usage;
        for event in events {
            match event {
                StreamEvent::Start { id, model } => {
                    live.answered.clone_from(model);
                    self.record.response_id.clone_from(id);
                    self.record.response_model.clone_from(model);
                }
                StreamEvent::TextDelta { text } | StreamEvent::ReasoningDelta { text } => {
                    live.delivered.push_str(text)
                }
                StreamEvent::ToolCallStart { name, .. } => live.delivered.push_str(name),
                StreamEvent::ToolCallDelta {
                    arguments_delta, ..
                } => live.delivered.push_str(arguments_delta),
                StreamEvent::Finish { reason, .. } => {
                    self.record.finish_reason = Some(reason.clone())
                }
                _ => {}
            }
            if let Some(assembler) = live.assembler.as_mut() {
                assembler.push(event);
            }
        }
    }

    /// The committed stream ended cleanly: priced from its final usage (estimated if it
    /// reported none), shared with the followers, settled.
    pub fn stream_finished(&mut self, attempts: &[Attempt]) -> Settled {
        self.settle_whole_stream(attempts, Outcome::Ok)
    }

    /// A stream that finished with an answer its JSON schema rejects: billed in full like a
    /// finished stream, recorded with the error's outcome, and never cached.
    pub fn stream_rejected(&mut self, error: &Error, attempts: &[Attempt]) -> Settled {
        self.settle_whole_stream(attempts, Outcome::from_error(error))
    }

    fn settle_whole_stream(&mut self, attempts: &[Attempt], outcome: Outcome) -> Settled {
        let Some(live) = self.live.take() else {
            return self.finish(Ending {
                outcome,
                target: None,
                attempts,
                tally: CostTally::default(),
            });
        };
        let mut tally = live.others.clone();
        let target = live.target.qualified();
        let usage = live.usage;
        let report = match usage.input_tokens.is_some() || usage.output_tokens.is_some() {
            true => self.costs.price(&target, live.answered.as_deref(), &usage),
            false => {
                self.costs
                    .price_interrupted(&live.target, &live.request, &usage, &live.delivered)
            }
        };
        tally.add(report, &usage, true);
        match live.assembler {
            Some(assembler) if outcome == Outcome::Ok => {
                self.share(&assembler.into_response(), false)
            }
            _ => self.hand_flight_on(),
        }
        self.finish(Ending {
            outcome,
            target: Some(&target),
            attempts,
            tally,
        })
    }

    /// The committed stream broke: priced from what it received, the flight handed on.
    pub fn stream_failed(&mut self, error: &Error, attempts: &[Attempt]) -> Settled {
        self.hand_flight_on();
        let tally = self.interrupted_tally();
        self.finish(Ending {
            outcome: Outcome::from_error(error),
            target: None,
            attempts,
            tally,
        })
    }

    fn interrupted_tally(&mut self) -> CostTally {
        let Some(live) = self.live.take() else {
            return CostTally::default();
        };
        let mut tally = live.others;
        let report =
            self.costs
                .price_interrupted(&live.target, &live.request, &live.usage, &live.delivered);
        tally.add(report, &live.usage, true);
        tally
    }

    fn count_attempts(&mut self, target: Option<&str>, attempts: &[Attempt]) {
        let sent: Vec<&Attempt> = attempts.iter().filter(|a| a.is_sent()).collect();
        if sent.is_empty() {
            return;
        }
        self.record.attempts = sent.len() as u32;
        let to = target.or(sent.last().map(|a| a.target.as_str()));
        if let (Some(from), Some(to)) = (&self.first_target, to) {
            if from != to {
                self.record.fallback = Some(Fallback {
                    from: from.clone(),
                    to: to.to_string(),
                });
            }
        }
    }

    /// Settles the reservation at what the call consumed, completes the record and emits it.
    pub fn finish(&mut self, ending: Ending<'_>) -> Settled {
        self.done = true;
        let now = self.now_ms();
        let Ending {
            outcome,
            target,
            attempts,
            mut tally,
        } = ending;
        if let Some(reservation) = self.reservation.take() {
            self.costs.settle(reservation, tally.known_pico(), now);
        }
        let mut warnings = std::mem::take(&mut self.warnings);
        for warning in tally.warnings.drain(..) {
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
        let last_tried = attempts
            .iter()
            .rev()
            .find(|a| a.is_sent())
            .map(|a| a.target.as_str());
        if let Some(target) = target.or(last_tried) {
            self.note_target(target);
        }
        self.count_attempts(target, attempts);
        let record = &mut self.record;
        record.cache = self.cache;
        record.stale = self.cache == CacheStatus::Stale;
        record.usage = tally.usage;
        record.cost = tally
            .total()
            .map(|total| Cost::new(u64::try_from(total.0).unwrap_or(u64::MAX), tally.estimated));
        record.outcome = outcome;
        record.latency_ms = Some(now.saturating_sub(record.time_ms));
        record.warnings.extend(warnings.iter().cloned());
        self.costs.emit(&self.record);
        Settled {
            total: tally.total(),
            cost: tally.served,
            warnings,
        }
    }
}

impl Drop for CallTrack<'_> {
    /// The caller dropped the call: what it consumed is settled (a committed stream from what
    /// it received; attempts in flight at their estimate), and the record says `cancelled`.
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.hand_flight_on();
        let mut tally = self.interrupted_tally();
        let in_flight = self.started.get().saturating_sub(self.ended.get());
        tally.add_abandoned(in_flight, self.abandoned_attempt_pico);
        if self.record.attempts == 0 {
            self.record.attempts = self.started.get();
        }
        self.finish(Ending {
            outcome: Outcome::Cancelled,
            target: None,
            attempts: &[],
            tally,
        });
    }
}
