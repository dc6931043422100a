//! The client, generic over the host's [`Transport`] and [`Clock`]: it resolves a call's
//! targets (the requested model, then the fallbacks), runs attempts through the reliability
//! policies ([`crate::core::policy`]), and decodes whole or streamed answers under the
//! configured deadlines.
//!
//! Every call is first screened for prompt injection when screening is on (`block` refuses
//! it there, `flag` reports it), then cleaned by input hygiene (invisible characters stripped,
//! an over-long input refused: [`HygieneConfig`]), then goes through the cost layer, in this
//! order:
//! 1. a route (`model: "auto"`, or a named route) is resolved to a model by the router, with
//!    capabilities from the price table; the decision is in the outcome and a `route` event;
//! 2. `cacheSystemPrompt` marks the system prompt for Anthropic prompt caching;
//! 3. the per-request cap rejects the call (`budget_exceeded`) or lowers its `maxTokens`;
//! 4. the response cache (opt-in) answers a repeated request, or makes it wait for an
//!    identical one in flight (single-flight);
//! 5. the daily budget reserves the call's worst case, refusing it when that would pass the
//!    budget;
//! 6. the attempts run (retries, fallback, hedging);
//! 7. everything the attempts consumed is priced (failed and abandoned ones included), the
//!    reservation is settled at that cost (alerts fire as thresholds are crossed), a stale
//!    cache entry may answer a call every target failed, and one usage record is emitted.
//!
//! A call's bookkeeping is a guard ([`track`]): a caller that drops a call or a stream midway
//! still gets what was consumed settled and recorded, and the budget released.
use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use serde::Serialize;

use super::budget::Spend;
use super::cache::{replay_events, CacheKey, CacheStats};
use super::cost::{
    estimate_cost, project_monthly_cost, CostBreakdown, CostEstimate, MonthlyProjection,
    MonthlyUsagePlan, Picodollars,
};
use super::error::{Error, ErrorKind, TimeoutKind};
use super::event::StreamEvent;
use super::http::{Headers, HttpResponse};
use super::model::{ModelRef, Provider, Request, Response, Usage, Warning};
use super::policy::call::{
    AttemptLimits, AttemptProgress, Call, CallPlan, PlannedTarget, Reporter,
};
use super::policy::{
    counts_as_failure, Attempt, AttemptOutcome, Breakers, CircuitState, EventHook, PolicyConfig,
    PolicyEvent, PolicyOverrides,
};
use super::pricing::PriceTable;
use super::provider::{self, ProviderConfig, StreamParser};
use super::route::RouteDecision;
use super::runtime::{with_deadline, Clock, ResponseBody, ResponseHead, Transport};
use super::screen::{apply_hygiene, screen_request, HygieneConfig, ScreenConfig, ScreenMode};
use super::usage::{CacheStatus, Outcome};

mod costs;
mod flight;
mod structured;
mod track;

use costs::{mark_system_prompt, CostHooks, CostLayer, CostTally};
pub use costs::{
    min_cacheable_tokens, AlertHook, BudgetOptions, CacheOptions, CostConfig, RouterHook, UsageHook,
};
use flight::{FlightResult, Joined};
use structured::StreamedAnswer;
pub use structured::StructuredOutcome;
use track::{CallTrack, Ending, Settled};

/// Text characters per `text-delta` when a cached answer is replayed as a stream: small
/// enough that a UI still renders it progressively.
const REPLAY_CHUNK_CHARS: usize = 64;

/// Deadlines of one call, in milliseconds; `None` disables one. Each cancels the attempt it
/// fires in (dropping its request) and is a `timeout` error naming which one fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole call: all attempts, backoff waits and fallbacks included. When it passes,
    /// the call ends.
    pub total_ms: Option<u64>,
    /// From sending an attempt to its first content (for a whole response: to its headers).
    /// Per attempt: a first-token timeout is retried and falls back like other failures.
    pub first_token_ms: Option<u64>,
    /// Silence allowed between two chunks of a stream; per attempt, like `first_token_ms`.
    pub idle_ms: Option<u64>,
}

impl Default for Timeouts {
    /// 30 s total, as the providers' own SDK guidance suggests for interactive calls; the
    /// per-chunk deadlines are off unless configured.
    fn default() -> Self {
        Timeouts {
            total_ms: Some(30_000),
            first_token_ms: None,
            idle_ms: None,
        }
    }
}

impl Timeouts {
    /// A deadline of zero would fail every call: disable it with `None` instead.
    pub fn validate(&self) -> Result<(), Error> {
        let named = [
            ("timeoutMs", self.total_ms),
            ("firstTokenTimeoutMs", self.first_token_ms),
            ("idleTimeoutMs", self.idle_ms),
        ];
        match named.iter().find(|(_, value)| *value == Some(0)) {
            Some((name, _)) => Err(Error::new(
                ErrorKind::Config,
                format!("{name} must be at least 1 ms (null disables it)"),
            )),
            None => Ok(()),
        }
    }
}

/// Per-call settings that are not part of the provider-neutral request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallOptions {
    /// Extra HTTP headers for this call (after the provider's configured ones).
    pub headers: Headers,
    /// Overrides the client's deadlines for this call.
    pub timeouts: Option<Timeouts>,
    /// Overrides the client's retry, fallback and hedging settings for this call.
    pub policy: PolicyOverrides,
    /// `Some(false)` keeps this call away from the response cache (neither read nor stored);
    /// otherwise the client's cache, if configured, is used.
    pub cache: Option<bool>,
    /// Overrides the client's `cacheSystemPrompt` for this call.
    pub cache_system_prompt: Option<bool>,
    /// Overrides the client's input screening for this call.
    pub screening: Option<ScreenConfig>,
}

#[derive(Clone, Default)]
pub struct ClientConfig {
    pub anthropic: Option<ProviderConfig>,
    pub openai: Option<ProviderConfig>,
    pub gemini: Option<ProviderConfig>,
    pub timeouts: Timeouts,
    /// Retry, fallback, circuit breaker and hedging settings.
    pub policy: PolicyConfig,
    /// Receives every policy event of every call (attempts, retries, fallbacks, breaker
    /// changes, hedges, routes, outcomes), synchronously.
    pub on_event: Option<EventHook>,
    /// Routing, prices, budget, response cache and prompt caching.
    pub costs: CostConfig,
    /// Receives one usage record per call (`onUsage`).
    pub on_usage: Option<UsageHook>,
    /// Receives each daily-budget alert once (`onAlert`).
    pub on_alert: Option<AlertHook>,
    /// A custom router consulted after the built-in decision for routed calls.
    pub router: Option<RouterHook>,
    /// Prompt-injection screening of user content and tool results (off by default).
    pub screening: ScreenConfig,
    /// Always-safe input hygiene: invisible characters stripped, input length capped.
    pub hygiene: HygieneConfig,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("anthropic", &self.anthropic)
            .field("openai", &self.openai)
            .field("gemini", &self.gemini)
            .field("timeouts", &self.timeouts)
            .field("policy", &self.policy)
            .field("on_event", &self.on_event.as_ref().map(|_| "<hook>"))
            .field("costs", &self.costs)
            .field("on_usage", &self.on_usage.as_ref().map(|_| "<hook>"))
            .field("on_alert", &self.on_alert.as_ref().map(|_| "<hook>"))
            .field("router", &self.router.as_ref().map(|_| "<hook>"))
            .field("screening", &self.screening)
            .field("hygiene", &self.hygiene)
            .finish()
    }
}

impl ClientConfig {
    pub fn provider(&self, provider: Provider) -> Option<&ProviderConfig> {
        match provider {
            Provider::Anthropic => self.anthropic.as_ref(),
            Provider::OpenAi => self.openai.as_ref(),
            Provider::Gemini => self.gemini.as_ref(),
        }
    }

    /// Checks the deadlines, the policy, the cost settings, screening and hygiene.
    pub fn validate(&self) -> Result<(), Error> {
        self.timeouts.validate()?;
        self.policy.validate()?;
        self.screening.validate()?;
        self.hygiene.validate()?;
        self.costs.validate()
    }
}

/// A whole response, with the target that served it, every attempt of the call, and what
/// the call cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatOutcome {
    /// The answer; its `warnings` include the call's own (an unknown price, a `maxTokens`
    /// lowered by the budget, a prompt too short to cache, a stale answer).
    pub response: Response,
    /// `provider/model` of the target that served the call (the call's first target for an
    /// answer from the cache).
    pub target: String,
    /// The upstream attempts (none when the cache answered).
    pub attempts: Vec<Attempt>,
    /// The serving answer's cost by billing class: `None` when its model has no known price
    /// (a warning says so), all zeros when the cache answered.
    pub cost: Option<CostBreakdown>,
    /// The whole call's cost in USD: `cost` plus what attempts that failed or were abandoned
    /// had consumed. `None` when some of that could not be priced.
    #[serde(rename = "costUsd")]
    pub total_cost: Option<Picodollars>,
    /// The router's decision when the request named a route.
    pub route: Option<RouteDecision>,
    /// Whether the response cache answered (`hit`, `coalesced`, `stale`), was asked (`miss`)
    /// or is not used (`off`).
    pub cache: CacheStatus,
    /// Answered from an expired cache entry because every target failed.
    pub stale: bool,
}

struct Shared<T, C> {
    transport: T,
    clock: C,
    config: ClientConfig,
    breakers: Breakers,
    costs: Rc<CostLayer>,
}

/// A call resolved before anything is sent: routed, marked for prompt caching, within the
/// per-request cap, with its cache key and what the daily budget must reserve for it.
struct Prepared<'r> {
    request: Cow<'r, Request>,
    plan: CallPlan,
    cache_key: Option<CacheKey>,
    worst_case_pico: u64,
}

/// An answer the response cache gave, and how.
struct FromCache {
    response: Response,
    status: CacheStatus,
}

/// A client shared by all calls; cloning is cheap, and clones share the circuit breakers.
pub struct Client<T, C> {
    shared: Rc<Shared<T, C>>,
}

impl<T, C> Clone for Client<T, C> {
    fn clone(&self) -> Self {
        Client {
            shared: self.shared.clone(),
        }
    }
}

impl<T: Transport, C: Clock> Client<T, C> {
    /// Fails with a `config` error when a setting is invalid.
    pub fn new(transport: T, clock: C, config: ClientConfig) -> Result<Self, Error> {
        config.validate()?;
        let hooks = CostHooks {
            on_usage: config.on_usage.clone(),
            on_alert: config.on_alert.clone(),
            router: config.router.clone(),
        };
        let costs = Rc::new(CostLayer::new(&config.costs, hooks)?);
        Ok(Client {
            shared: Rc::new(Shared {
                transport,
                clock,
                breakers: Breakers::new(config.policy.circuit_breaker.clone()),
                config,
                costs,
            }),
        })
    }

    pub fn clock(&self) -> &C {
        &self.shared.clock
    }

    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// The circuit state of a target (`provider/model`); closed if it was never called.
    pub fn circuit_state(&self, target: &str) -> CircuitState {
        self.shared.breakers.state(target)
    }

    /// The prices the client bills with: the built-in table with the configured overrides.
    pub fn prices(&self) -> &PriceTable {
        &self.shared.costs.prices
    }

    /// Warnings about the configuration, such as price entries that were skipped.
    pub fn config_warnings(&self) -> &[Warning] {
        &self.shared.costs.config_warnings
    }

    /// Today's spend (UTC day), what calls in flight hold reserved, and the daily budget.
    pub fn spend(&self) -> Spend {
        self.shared.costs.spend(self.shared.clock.now_ms())
    }

    /// Forgets today's spend and delivered alerts; calls in flight keep their reservations.
    pub fn reset_spend(&self) {
        self.shared.costs.reset_spend(self.shared.clock.now_ms());
    }

    /// The response cache's counters; `None` when the client has no cache.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.shared.costs.cache.as_ref().map(|cache| cache.stats())
    }

    /// What `request` would cost, before sending it: its input estimated offline, its output
    /// both expected and at worst (`maxTokens`, or what the provider would be allowed). A route
    /// is resolved as a call would resolve it, without pinning the conversation. Fails with a
    /// `config` error when the model has no known price.
    pub fn estimate_cost(&self, request: &Request) -> Result<CostEstimate, Error> {
        let costs = &self.shared.costs;
        let mut request = Cow::Borrowed(request);
        if costs.router.handles(&request.model) {
            // An estimate must not pin the conversation to a model.
            let mut probe = request.clone().into_owned();
            probe.metadata.conversation_id = None;
            if let Some(decision) = costs.route(&probe, self.shared.clock.now_ms())? {
                request.to_mut().model = decision.model;
            }
        }
        let model = ModelRef::parse(&request.model)?;
        if model.provider == Provider::Anthropic {
            if costs.cache_system_prompt {
                // A warning here only says the prompt stays unmarked, as the call would.
                let _ = mark_system_prompt(&mut request, &model);
            }
            if request.max_tokens.is_none() {
                request.to_mut().max_tokens = Some(provider::anthropic::DEFAULT_MAX_TOKENS);
            }
        }
        let price = costs
            .prices
            .lookup_or_warn(&model.qualified())
            .map_err(|unknown| Error::new(ErrorKind::Config, unknown.message))?;
        Ok(estimate_cost(&request, price, model.provider))
    }

    /// A month's cost (requests/day × 30 × tokens × price) at the client's prices.
    pub fn project_monthly_cost(
        &self,
        plan: &MonthlyUsagePlan,
    ) -> Result<MonthlyProjection, Error> {
        project_monthly_cost(&self.shared.costs.prices, plan)
    }

    /// Sends one request and returns the whole response, retrying and falling back as the
    /// policies say, within the budget, from the cache when it can.
    ///
    /// Dropping the returned future cancels the call: the budget reservation is settled at
    /// the expected cost of each attempt still in flight (a provider finishes and bills a
    /// whole response even when its caller went away), flagged as estimated, and the usage
    /// record says `cancelled`.
    pub async fn chat(
        &self,
        request: &Request,
        options: &CallOptions,
    ) -> Result<ChatOutcome, Error> {
        let shared = &*self.shared;
        let reporter = Reporter::new(shared.config.on_event.clone(), shared.clock.now_ms());
        let mut track = CallTrack::new(
            shared.costs.clone(),
            Box::new(|| shared.clock.now_ms()),
            request,
        );
        let prepared = match self.prepare(
            Cow::Borrowed(request),
            options,
            false,
            &reporter,
            &mut track,
        ) {
            Ok(prepared) => prepared,
            Err(error) => return Err(refused(&reporter, &mut track, error)),
        };
        let first_target = prepared.plan.targets[0].key.clone();
        if let Some(key) = prepared.cache_key {
            match self.join_flight(&mut track, key, &prepared.plan).await {
                Ok(None) => {}
                Ok(Some(cached)) => {
                    let (response, settled) = answer_from_cache(
                        &reporter,
                        &mut track,
                        cached,
                        &first_target,
                        &[],
                        CostTally::default(),
                    );
                    return Ok(outcome_from_cache(
                        response,
                        first_target,
                        Vec::new(),
                        settled,
                        &track,
                    ));
                }
                Err(error) => return Err(refused(&reporter, &mut track, error)),
            }
        }
        if let Err(error) = track.reserve(prepared.worst_case_pico) {
            track.share_error(&error);
            return Err(refused(&reporter, &mut track, error));
        }
        let request = &*prepared.request;
        let result = Call::new(&shared.clock, &shared.breakers, &reporter, &prepared.plan)
            .run(|target, limits, _| {
                track.attempt_started();
                let track = &track;
                async move {
                    let result = chat_attempt(shared, request, target, limits).await;
                    track.attempt_ended();
                    result
                }
            })
            .await;
        let now = shared.clock.now_ms();
        match result {
            Ok(served) => {
                reporter.succeeded(now, &served.target, &served.attempts);
                let mut response = served.value;
                track.note_response(&response);
                let mut tally = shared.costs.tally_attempts(&served.attempts);
                let report =
                    shared
                        .costs
                        .price(&served.target, Some(&response.model), &response.usage);
                tally.add(report, &response.usage, true);
                track.share(&response, false);
                let settled = track.finish(Ending {
                    outcome: Outcome::Ok,
                    target: Some(&served.target),
                    attempts: &served.attempts,
                    tally,
                });
                response.warnings.extend(settled.warnings);
                Ok(ChatOutcome {
                    response,
                    target: served.target,
                    attempts: served.attempts,
                    cost: settled.cost,
                    total_cost: settled.total,
                    route: track.route().cloned(),
                    cache: track.cache_status(),
                    stale: false,
                })
            }
            Err(error) => {
                reporter.failed(now, &error);
                let tally = shared.costs.tally_attempts(error.attempts());
                if let Some(stale) = stale_answer(&mut track, &error) {
                    let attempts = error.attempts().to_vec();
                    let (response, settled) = answer_from_cache(
                        &reporter,
                        &mut track,
                        stale,
                        &first_target,
                        &attempts,
                        tally,
                    );
                    return Ok(outcome_from_cache(
                        response,
                        first_target,
                        attempts,
                        settled,
                        &track,
                    ));
                }
                track.share_error(&error);
                track.finish(Ending {
                    outcome: Outcome::from_error(&error),
                    target: None,
                    attempts: error.attempts(),
                    tally,
                });
                Err(error)
            }
        }
    }

    /// Starts a streamed call. Nothing is sent until the first [`ChatStream::next`].
    pub fn stream(&self, request: Request, options: CallOptions) -> ChatStream<T, C> {
        ChatStream {
            client: self.clone(),
            call: Some(Box::new((request, options))),
            state: StreamState::NotStarted,
            pending: VecDeque::new(),
            failure: None,
            warnings: Vec::new(),
            provider: None,
            request_id: None,
            usage: Usage::default(),
            target: None,
            attempts: Vec::new(),
            record: 0,
            served_since_ms: 0,
            reporter: None,
            track: None,
            cost: None,
            total_cost: None,
            route: None,
            cache: CacheStatus::Off,
            structured: None,
            object: None,
        }
    }

    /// Routes the call, plans its targets, marks its system prompt for prompt caching, applies
    /// the per-request cap and computes its cache key. Nothing is reserved or sent yet.
    fn prepare<'r>(
        &self,
        request: Cow<'r, Request>,
        options: &CallOptions,
        streaming: bool,
        reporter: &Reporter,
        track: &mut CallTrack<'_>,
    ) -> Result<Prepared<'r>, Error> {
        let costs = &self.shared.costs;
        let mut request = request;
        self.screen(&request, options, reporter, track)?;
        let changes = apply_hygiene(&mut request, &self.shared.config.hygiene)?;
        if !changes.is_empty() {
            track.sanitized(&changes);
            reporter.emit(|| PolicyEvent::Sanitized { changes });
        }
        let route = costs.route(&request, track.now_ms())?;
        if let Some(decision) = &route {
            reporter.emit(|| PolicyEvent::Route {
                requested: request.model.clone(),
                decision: decision.clone(),
            });
            request.to_mut().model = decision.model.clone();
        }
        let plan = self.plan(&request, options)?;
        let mut warnings = Vec::new();
        if options
            .cache_system_prompt
            .unwrap_or(costs.cache_system_prompt)
        {
            let anthropic = plan
                .targets
                .iter()
                .find(|t| t.model.provider == Provider::Anthropic);
            if let Some(target) = anthropic {
                warnings.extend(mark_system_prompt(&mut request, &target.model));
            }
        }
        let budget = costs.check_budget(&mut request, &plan, streaming);
        let abandoned = budget.as_ref().map_or(0, |b| b.abandoned_attempt_pico);
        let budget = match budget {
            Ok(mut budget) => {
                warnings.append(&mut budget.warnings);
                Ok(budget)
            }
            Err(error) => Err(error),
        };
        track.prepared(route, &plan.targets[0].key, abandoned, warnings);
        let budget = budget?;
        let cache_key = match (&costs.cache, options.cache) {
            (Some(_), None | Some(true)) => {
                track.cached();
                Some(CacheKey::for_request(&request, &plan.targets[0].model)?)
            }
            _ => None,
        };
        Ok(Prepared {
            request,
            plan,
            cache_key,
            worst_case_pico: budget.worst_case_pico,
        })
    }

    /// Input screening, before anything else: a blocked request fails here (`invalid_request`,
    /// provider code `prompt_injection_detected`) and a flagged one is reported in an event and
    /// its usage record.
    fn screen(
        &self,
        request: &Request,
        options: &CallOptions,
        reporter: &Reporter,
        track: &mut CallTrack<'_>,
    ) -> Result<(), Error> {
        let config = match &options.screening {
            Some(config) => {
                config.validate()?;
                config
            }
            None => &self.shared.config.screening,
        };
        if config.mode == ScreenMode::Off {
            return Ok(());
        }
        let outcome = screen_request(request, config);
        if !outcome.is_flagged() {
            return Ok(());
        }
        track.screened(&outcome);
        if let Some(blocked) = outcome.error() {
            return Err(blocked);
        }
        reporter.emit(|| PolicyEvent::Screened { screening: outcome });
        Ok(())
    }

    /// Asks the response cache: `Some` when it (or an identical call in flight) answered,
    /// `None` when this call leads and must make the upstream call itself.
    async fn join_flight(
        &self,
        track: &mut CallTrack<'_>,
        key: CacheKey,
        plan: &CallPlan,
    ) -> Result<Option<FromCache>, Error> {
        let shared = &*self.shared;
        let Some(cache) = shared.costs.cache.as_ref() else {
            return Ok(None);
        };
        let wait = match cache.join(key, shared.clock.now_ms()) {
            Joined::Hit(response) => {
                return Ok(Some(FromCache {
                    response: *response,
                    status: CacheStatus::Hit,
                }))
            }
            Joined::Lead => {
                track.lead(key);
                return Ok(None);
            }
            Joined::Follow(wait) => wait,
        };
        let deadline = plan
            .timeouts
            .total_ms
            .map(|ms| track.started_ms().saturating_add(ms));
        match with_deadline(&shared.clock, deadline, wait).await {
            Some(FlightResult::Lead) => {
                track.lead(key);
                Ok(None)
            }
            Some(FlightResult::Answer(Ok(answer))) => Ok(Some(FromCache {
                status: match answer.stale {
                    true => CacheStatus::Stale,
                    false => CacheStatus::Coalesced,
                },
                response: answer.response.clone(),
            })),
            Some(FlightResult::Answer(Err(error))) => Err(error),
            None => Err(Error::timeout(
                TimeoutKind::Total,
                format!(
                    "the call's total deadline ({} ms) passed while it waited for an identical \
                     request in flight",
                    plan.timeouts.total_ms.unwrap_or_default()
                ),
            )),
        }
    }

    /// Resolves the call's policy and targets: the requested model, then each fallback target
    /// not already listed.
    fn plan(&self, request: &Request, options: &CallOptions) -> Result<CallPlan, Error> {
        let config = &self.shared.config;
        let policy = config.policy.merged(&options.policy)?;
        let timeouts = match options.timeouts {
            Some(timeouts) => {
                timeouts.validate()?;
                timeouts
            }
            None => config.timeouts,
        };
        let requested = ModelRef::parse(&request.model)?;
        let mut targets = vec![self.target(requested, None, options)];
        for (position, fallback) in policy.fallback.iter().enumerate() {
            let model = fallback.resolve(position)?;
            if targets.iter().all(|t| t.model != model) {
                let overrides = fallback.has_overrides().then(|| fallback.clone());
                targets.push(self.target(model, overrides, options));
            }
        }
        Ok(CallPlan {
            policy,
            timeouts,
            targets,
        })
    }

    fn target(
        &self,
        model: ModelRef,
        overrides: Option<super::policy::FallbackTarget>,
        options: &CallOptions,
    ) -> PlannedTarget {
        let provider_config = self.shared.config.provider(model.provider).map(|config| {
            let mut config = config.clone();
            for (name, value) in options.headers.iter() {
                config.headers.set(name, value);
            }
            config
        });
        PlannedTarget {
            key: model.qualified(),
            model,
            overrides,
            provider_config,
        }
    }
}

/// The provider configuration of an admitted target (the policy loop skips the others).
fn provider_config(target: &PlannedTarget) -> Result<&ProviderConfig, Error> {
    target.provider_config.as_ref().ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            format!("{} is not configured", target.model.provider),
        )
    })
}

/// Names the provider on an error that does not say (e.g. a transport failure).
fn from_provider(error: Error, provider: Provider) -> Error {
    if error.provider().is_some() {
        error
    } else {
        error.with_provider(provider)
    }
}

/// Ends a call refused before anything was sent (a route, the budget, a shared failure).
fn refused(reporter: &Reporter, track: &mut CallTrack<'_>, error: Error) -> Error {
    reporter.failed(track.now_ms(), &error);
    track.finish(Ending {
        outcome: Outcome::from_error(&error),
        target: None,
        attempts: &[],
        tally: CostTally::default(),
    });
    error
}

/// Stale-if-error: an expired entry answers a call that every target failed, if the client
/// allows it (`cache.staleIfErrorMs`). Identical calls waiting for this one get it too.
fn stale_answer(track: &mut CallTrack<'_>, error: &Error) -> Option<FromCache> {
    if error.kind() == ErrorKind::Cancelled {
        return None;
    }
    let response = track.stale_answer()?;
    track.share(&response, true);
    track.warn(Warning {
        setting: "cache".to_string(),
        message: format!(
            "the call failed ({}): answered from the response cache past its TTL \
             (cache.staleIfErrorMs)",
            error.kind()
        ),
    });
    Some(FromCache {
        response,
        status: CacheStatus::Stale,
    })
}

/// Ends a call the cache answered: the answer cost nothing; `tally` holds what failed
/// attempts consumed before a stale answer.
fn answer_from_cache(
    reporter: &Reporter,
    track: &mut CallTrack<'_>,
    cached: FromCache,
    target: &str,
    attempts: &[Attempt],
    mut tally: CostTally,
) -> (Response, Settled) {
    let FromCache {
        mut response,
        status,
    } = cached;
    if status != CacheStatus::Stale {
        reporter.succeeded(track.now_ms(), target, attempts);
    }
    track.answered_from_cache(status, &response);
    tally.serve_free(target);
    let settled = track.finish(Ending {
        outcome: Outcome::Ok,
        target: Some(target),
        attempts,
        tally,
    });
    response.warnings.extend(settled.warnings.iter().cloned());
    (response, settled)
}

fn outcome_from_cache(
    response: Response,
    target: String,
    attempts: Vec<Attempt>,
    settled: Settled,
    track: &CallTrack<'_>,
) -> ChatOutcome {
    ChatOutcome {
        response,
        target,
        attempts,
        cost: settled.cost,
        total_cost: settled.total,
        route: track.route().cloned(),
        cache: track.cache_status(),
        stale: track.cache_status() == CacheStatus::Stale,
    }
}

/// One whole-response attempt.
async fn chat_attempt<T: Transport, C: Clock>(
    shared: &Shared<T, C>,
    request: &Request,
    target: &PlannedTarget,
    limits: AttemptLimits,
) -> Result<Response, Error> {
    let provider = target.model.provider;
    let clock = &shared.clock;
    let (
        ResponseHead {
            status,
            headers,
            mut body,
        },
        warnings,
    ) = send_attempt(shared, request, target, &limits, false).await?;
    let bytes = limits
        .within(clock, limits.total(), body.read_to_end())
        .await
        .and_then(|read| read)
        .map_err(|e| from_provider(e, provider))?;
    let http = HttpResponse {
        status,
        headers,
        body: bytes,
    };
    let mut response = provider::decode(provider, &http)?;
    if response.model.is_empty() {
        response.model = target.model.name.clone();
    }
    if response.request_id.is_none() {
        response.request_id = provider::request_id(provider, &http.headers);
    }
    response.warnings.extend(warnings);
    Ok(response)
}

/// Encodes the request for the target's provider and sends it, within the time allowed before
/// content; the answer's head, and the encoder's warnings (settings the provider cannot honour).
async fn send_attempt<T: Transport, C: Clock>(
    shared: &Shared<T, C>,
    request: &Request,
    target: &PlannedTarget,
    limits: &AttemptLimits,
    stream: bool,
) -> Result<(ResponseHead<T::Body>, Vec<Warning>), Error> {
    let provider = target.model.provider;
    let encoded = provider::encode(
        provider,
        &target.model.name,
        &target.request(request),
        provider_config(target)?,
        stream,
    )?;
    let head = limits
        .within(
            &shared.clock,
            limits.before_content(),
            shared.transport.send(encoded.http),
        )
        .await
        .and_then(|sent| sent)
        .map_err(|e| from_provider(e, provider))?;
    Ok((head, encoded.warnings))
}

/// A stream attempt that produced its first content, or ended cleanly without any.
struct Connection<B> {
    body: B,
    /// Boxed: the decoder state is large.
    parser: Box<StreamParser>,
    /// The events up to and including the first content, held back until the attempt won.
    buffered: Vec<StreamEvent>,
    ended: bool,
    warnings: Vec<Warning>,
    request_id: Option<String>,
    limits: AttemptLimits,
}

/// Content is what commits a stream to its attempt: after it, a failure is the caller's.
fn is_content(event: &StreamEvent) -> bool {
    matches!(
        event,
        StreamEvent::TextDelta { .. }
            | StreamEvent::ReasoningDelta { .. }
            | StreamEvent::ToolCallStart { .. }
    )
}

/// One stream attempt, up to its first content. Everything before that (`Start`, `Usage`)
/// is buffered, so a failure here is invisible to the caller and can be retried elsewhere.
async fn stream_attempt<T: Transport, C: Clock>(
    shared: &Shared<T, C>,
    request: &Request,
    target: &PlannedTarget,
    limits: AttemptLimits,
    progress: Rc<AttemptProgress>,
) -> Result<Connection<T::Body>, Error> {
    let provider = target.model.provider;
    let clock = &shared.clock;
    let (
        ResponseHead {
            status,
            headers,
            mut body,
        },
        warnings,
    ) = send_attempt(shared, request, target, &limits, true).await?;
    let request_id = provider::request_id(provider, &headers);
    if !(200..300).contains(&status) {
        let bytes = limits
            .within(clock, limits.before_content(), body.read_to_end())
            .await
            .and_then(|read| read)
            .map_err(|e| from_provider(e, provider))?;
        return Err(provider::decode_error(provider, status, &headers, &bytes));
    }
    let mut parser = Box::new(StreamParser::new(provider));
    let mut buffered = Vec::new();
    loop {
        let deadline = limits.next_chunk(clock.now_ms(), true);
        let chunk = limits
            .within(clock, deadline, body.next_chunk())
            .await
            .and_then(|read| read)
            .map_err(|e| from_provider(e, provider).with_usage(parser.usage()))?;
        let seen = buffered.len();
        let ended = match chunk {
            Some(bytes) => parser.feed(&bytes, &mut buffered).map(|()| false),
            None => parser.finish(&mut buffered).map(|()| true),
        }?;
        progress.report_usage(parser.usage());
        if ended || buffered[seen..].iter().any(is_content) {
            return Ok(Connection {
                body,
                parser,
                buffered,
                ended,
                warnings,
                request_id,
                limits,
            });
        }
    }
}

/// The connect phase's result: the winning attempt and the call's record so far.
struct Committed<B> {
    connection: Connection<B>,
    target: String,
    attempts: Vec<Attempt>,
    record: usize,
    started_ms: u64,
    reporter: Reporter,
    track: CallTrack<'static>,
}

/// An answer from the response cache, replayed as a stream. Its bookkeeping is finished.
struct Replayed {
    response: Response,
    target: String,
    attempts: Vec<Attempt>,
    settled: Settled,
    route: Option<RouteDecision>,
    cache: CacheStatus,
}

enum Connected<B> {
    Live(Box<Committed<B>>),
    Replay(Box<Replayed>),
}

type Connecting<B> = Pin<Box<dyn Future<Output = Result<Connected<B>, Error>>>>;

/// Runs a stream's attempts until one has produced content (or the cache answered). Owns
/// everything it uses, so that the stream can keep it across `next()` calls; dropping it drops
/// the call's guard, which settles and records what the attempts consumed.
fn connect<T, C>(
    client: Client<T, C>,
    request: Request,
    options: CallOptions,
) -> Connecting<T::Body>
where
    T: Transport + 'static,
    T::Body: 'static,
    C: Clock + 'static,
{
    Box::pin(async move {
        let shared = &*client.shared;
        let reporter = Reporter::new(shared.config.on_event.clone(), shared.clock.now_ms());
        let timer = client.clone();
        let mut track = CallTrack::new(
            shared.costs.clone(),
            Box::new(move || timer.shared.clock.now_ms()),
            &request,
        );
        let prepared =
            match client.prepare(Cow::Owned(request), &options, true, &reporter, &mut track) {
                Ok(prepared) => prepared,
                Err(error) => return Err(refused(&reporter, &mut track, error)),
            };
        let Prepared {
            request,
            plan,
            cache_key,
            worst_case_pico,
        } = prepared;
        let request = Rc::new(request.into_owned());
        let first_target = plan.targets[0].key.clone();
        let replay = |track: &mut CallTrack<'static>,
                      cached: FromCache,
                      attempts: Vec<Attempt>,
                      tally: CostTally| {
            track.first_content();
            let (response, settled) =
                answer_from_cache(&reporter, track, cached, &first_target, &attempts, tally);
            Connected::Replay(Box::new(Replayed {
                response,
                target: first_target.clone(),
                attempts,
                settled,
                route: track.route().cloned(),
                cache: track.cache_status(),
            }))
        };
        if let Some(key) = cache_key {
            match client.join_flight(&mut track, key, &plan).await {
                Ok(None) => {}
                Ok(Some(cached)) => {
                    return Ok(replay(&mut track, cached, Vec::new(), CostTally::default()))
                }
                Err(error) => return Err(refused(&reporter, &mut track, error)),
            }
        }
        if let Err(error) = track.reserve(worst_case_pico) {
            track.share_error(&error);
            return Err(refused(&reporter, &mut track, error));
        }
        let result = Call::new(&shared.clock, &shared.breakers, &reporter, &plan)
            .run(|target, limits, progress| {
                track.attempt_started();
                let (track, request) = (&track, &*request);
                async move {
                    let result = stream_attempt(shared, request, target, limits, progress).await;
                    track.attempt_ended();
                    result
                }
            })
            .await;
        match result {
            Ok(served) => {
                let connection = served.value;
                track.commit(
                    &served.target,
                    request.clone(),
                    &served.attempts,
                    connection.request_id.as_deref(),
                    &connection.warnings,
                );
                Ok(Connected::Live(Box::new(Committed {
                    connection,
                    target: served.target,
                    attempts: served.attempts,
                    record: served.record,
                    started_ms: served.started_ms,
                    reporter,
                    track,
                })))
            }
            Err(error) => {
                reporter.failed(shared.clock.now_ms(), &error);
                let tally = shared.costs.tally_attempts(error.attempts());
                if let Some(stale) = stale_answer(&mut track, &error) {
                    return Ok(replay(&mut track, stale, error.attempts().to_vec(), tally));
                }
                track.share_error(&error);
                track.finish(Ending {
                    outcome: Outcome::from_error(&error),
                    target: None,
                    attempts: error.attempts(),
                    tally,
                });
                Err(error)
            }
        }
    })
}

enum StreamState<B> {
    NotStarted,
    /// Attempts are running; nothing has reached the caller yet.
    Connecting(Connecting<B>),
    /// Committed to one attempt: its events go to the caller, and a failure ends the stream.
    Reading {
        body: B,
        parser: Box<StreamParser>,
        limits: AttemptLimits,
    },
    /// Committed, with the body handed to the caller, who pushes its chunks (push mode).
    Pushed {
        parser: Box<StreamParser>,
        limits: AttemptLimits,
        /// When the last chunk arrived (for the idle timeout; only kept when one is set).
        last_chunk_ms: u64,
    },
    Done,
}

/// A streamed call: pull events with [`ChatStream::next`]. Dropping it cancels the request.
///
/// Until the first content (text, reasoning or a tool call) arrives, attempts are retried and
/// fall back invisibly: the caller sees one clean stream from the target that served it. After
/// that, a failure ends the stream with an error carrying the usage so far, and is not retried.
///
/// However it ends, the stream is costed and its budget reservation settled: from its final
/// usage when it finishes; from the usage received, or else from the text decoded so far
/// (flagged estimated), when it fails or is dropped. An answer from the response cache is
/// replayed as the events a live stream would have produced.
pub struct ChatStream<T: Transport, C> {
    client: Client<T, C>,
    /// The request and options, until the stream starts.
    call: Option<Box<(Request, CallOptions)>>,
    state: StreamState<T::Body>,
    pending: VecDeque<StreamEvent>,
    /// An error to hand out once the events decoded before it have been delivered.
    failure: Option<Error>,
    warnings: Vec<Warning>,
    provider: Option<Provider>,
    request_id: Option<String>,
    usage: Usage,
    target: Option<String>,
    attempts: Vec<Attempt>,
    /// The serving attempt's position in `attempts`, and when it was sent.
    record: usize,
    served_since_ms: u64,
    reporter: Option<Reporter>,
    /// The call's bookkeeping, while the committed stream is read.
    track: Option<CallTrack<'static>>,
    cost: Option<CostBreakdown>,
    total_cost: Option<Picodollars>,
    route: Option<RouteDecision>,
    cache: CacheStatus,
    /// The answer's text, collected when the request asks for a JSON schema.
    structured: Option<StreamedAnswer>,
    /// The parsed answer, once a structured stream finished and matched its schema.
    object: Option<serde_json::Value>,
}

impl<T: Transport, C: Clock> ChatStream<T, C> {
    /// With a JSON-schema `responseFormat`: the parsed answer, once the stream has finished
    /// and the answer matched the schema (a mismatch ends the stream with `invalid_output`).
    pub fn object(&self) -> Option<&serde_json::Value> {
        self.object.as_ref()
    }

    /// Warnings about settings the provider could not honour (known once a target served).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The provider of the target that served the stream.
    pub fn provider(&self) -> Option<Provider> {
        self.provider
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The usage received so far (for billing a stream that ended early).
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// `provider/model` of the target that served the stream, once one did.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The call's attempts: complete once the stream has ended (or failed).
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// An event that is already decoded, without waiting on the network.
    pub fn next_ready(&mut self) -> Option<StreamEvent> {
        self.pending.pop_front()
    }

    /// The serving answer's cost by billing class, once the stream has ended (finished,
    /// failed or answered from the cache); `estimated` when it was cut short. `None` before
    /// that, or when the model has no known price (a warning says so).
    pub fn cost(&self) -> Option<&CostBreakdown> {
        self.cost.as_ref()
    }

    /// The whole call's cost once the stream has ended: [`cost`](Self::cost) plus what
    /// attempts that failed or lost a hedge race consumed.
    pub fn total_cost(&self) -> Option<Picodollars> {
        self.total_cost
    }

    /// The router's decision, once the stream started, when the request named a route.
    pub fn route(&self) -> Option<&RouteDecision> {
        self.route.as_ref()
    }

    /// Whether the response cache answered this stream (`hit`, `coalesced`, `stale`).
    pub fn cache_status(&self) -> CacheStatus {
        self.cache
    }

    /// Answered from an expired cache entry because every target failed.
    pub fn is_stale(&self) -> bool {
        self.cache == CacheStatus::Stale
    }

    fn settled(&mut self, settled: Settled) {
        self.cost = settled.cost;
        self.total_cost = settled.total;
        self.warnings.extend(settled.warnings);
    }
}

impl<T, C> ChatStream<T, C>
where
    T: Transport + 'static,
    T::Body: 'static,
    C: Clock + 'static,
{
    /// The next event; `None` after the `Finish` event or after an error was returned.
    ///
    /// Dropping a pending `next()` before the stream has committed to a target is safe: the
    /// attempts keep their state and the next call resumes them. After that, a dropped `next()`
    /// may lose the chunk it was reading (the transport's read is cancelled).
    pub async fn next(&mut self) -> Option<Result<StreamEvent, Error>> {
        loop {
            if let Some(event) = self.next_ready() {
                return Some(Ok(event));
            }
            if let Some(error) = self.failure.take() {
                return Some(Err(error));
            }
            match self.advance().await {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(error) => self.fail(error),
            }
        }
    }

    /// Ends the stream with `error`, handed out after the events decoded before it.
    fn fail(&mut self, error: Error) {
        // Dropping the state drops the body, which cancels the request.
        self.state = StreamState::Done;
        if self.attempts.is_empty() {
            self.attempts = error.attempts().to_vec();
        }
        self.failure = Some(error);
    }

    /// Push mode, for a host that can read the body more cheaply than one future per chunk
    /// (a JS `TransformStream` fed by the runtime's own pipe): once the stream has committed
    /// (after the first [`next`](Self::next) returned an event), hands over the serving
    /// attempt's body. The caller then reads it and reports what it read with
    /// [`push_chunk`](Self::push_chunk), [`push_end`](Self::push_end) or
    /// [`push_failure`](Self::push_failure), enforces [`push_deadline_ms`](Self::push_deadline_ms)
    /// with [`push_check_deadline`](Self::push_check_deadline), and takes the events with
    /// [`next_pushed`](Self::next_pushed); `next` must not be called again. Dropping the body
    /// cancels the request, as before. `None` when there is no body to read: the stream has
    /// not committed, or it has ended and everything left is already decoded.
    pub fn take_body(&mut self) -> Option<T::Body> {
        if !matches!(self.state, StreamState::Reading { .. }) {
            return None;
        }
        let StreamState::Reading {
            body,
            parser,
            limits,
        } = std::mem::replace(&mut self.state, StreamState::Done)
        else {
            unreachable!("checked above")
        };
        self.state = StreamState::Pushed {
            parser,
            limits,
            last_chunk_ms: self.client.shared.clock.now_ms(),
        };
        Some(body)
    }

    /// Push mode: a chunk of the body arrived. Its events (and a failure, if it broke the
    /// stream) come out of [`next_pushed`](Self::next_pushed).
    pub fn push_chunk(&mut self, chunk: &[u8]) {
        if let StreamState::Pushed {
            limits,
            last_chunk_ms,
            ..
        } = &mut self.state
        {
            if limits.timeouts.idle_ms.is_some() {
                *last_chunk_ms = self.client.shared.clock.now_ms();
            }
        }
        self.push(Ok(Some(chunk)));
    }

    /// Push mode: the body ended cleanly.
    pub fn push_end(&mut self) {
        self.push(Ok(None));
    }

    /// Push mode: reading the body failed (a `Network` error when the connection broke).
    pub fn push_failure(&mut self, error: Error) {
        self.push(Err(error));
    }

    /// Push mode: the time (the clock's) by which the next chunk must arrive, when a total or
    /// idle timeout applies.
    pub fn push_deadline_ms(&self) -> Option<u64> {
        match &self.state {
            StreamState::Pushed {
                limits,
                last_chunk_ms,
                ..
            } => limits.next_chunk(*last_chunk_ms, false).map(|d| d.at_ms),
            _ => None,
        }
    }

    /// Push mode: fails the stream with its timeout error when its deadline has passed (the
    /// caller then drops the body); `true` if it did.
    pub fn push_check_deadline(&mut self) -> bool {
        let StreamState::Pushed {
            limits,
            last_chunk_ms,
            ..
        } = &self.state
        else {
            return false;
        };
        let Some(deadline) = limits.next_chunk(*last_chunk_ms, false) else {
            return false;
        };
        if self.client.shared.clock.now_ms() < deadline.at_ms {
            return false;
        }
        let error = limits.expired(deadline);
        self.push(Err(error));
        true
    }

    /// Push mode: the next event already decoded, then the failure that ended the stream,
    /// if one did; `None` when nothing is pending (until more is pushed, or for good once the
    /// stream has ended).
    pub fn next_pushed(&mut self) -> Option<Result<StreamEvent, Error>> {
        if let Some(event) = self.next_ready() {
            return Some(Ok(event));
        }
        self.failure.take().map(Err)
    }

    fn push(&mut self, chunk: Result<Option<&[u8]>, Error>) {
        if !matches!(self.state, StreamState::Pushed { .. }) {
            return;
        }
        if let Err(error) = self.absorb(chunk) {
            self.fail(error);
        }
    }

    /// Moves the stream on; `Ok(false)` when it has ended.
    async fn advance(&mut self) -> Result<bool, Error> {
        match &mut self.state {
            StreamState::NotStarted => {
                let Some(call) = self.call.take() else {
                    return Ok(false);
                };
                let (request, options) = *call;
                self.structured = StreamedAnswer::for_request(&request)?;
                self.state =
                    StreamState::Connecting(connect(self.client.clone(), request, options));
                Ok(true)
            }
            StreamState::Connecting(connecting) => {
                match connecting.as_mut().await? {
                    Connected::Live(committed) => self.commit(*committed),
                    Connected::Replay(replayed) => self.replay(*replayed),
                }
                Ok(true)
            }
            StreamState::Reading { .. } => self.read().await,
            // The caller reads the body in push mode; `next` has nothing to wait on.
            StreamState::Pushed { .. } | StreamState::Done => Ok(false),
        }
    }

    fn commit(&mut self, committed: Committed<T::Body>) {
        let Committed {
            connection,
            target,
            attempts,
            record,
            started_ms,
            reporter,
            mut track,
        } = committed;
        self.provider = Some(connection.parser.provider());
        self.warnings = connection.warnings;
        self.request_id = connection.request_id;
        self.usage = connection.parser.usage();
        track.observe(&connection.buffered, self.usage);
        self.attempts = attempts;
        self.record = record;
        self.served_since_ms = started_ms;
        self.route = track.route().cloned();
        self.cache = track.cache_status();
        if let Some(rejected) = self.take_in(connection.buffered) {
            self.track = Some(track);
            self.reporter = Some(reporter);
            self.target = Some(target);
            self.failure = Some(self.reject(rejected));
            return;
        }
        if connection.ended {
            reporter.succeeded(self.client.shared.clock.now_ms(), &target, &self.attempts);
            let settled = track.stream_finished(&self.attempts);
            self.settled(settled);
            self.state = StreamState::Done;
        } else {
            self.state = StreamState::Reading {
                body: connection.body,
                parser: connection.parser,
                limits: connection.limits,
            };
            self.track = Some(track);
        }
        self.target = Some(target);
        self.reporter = Some(reporter);
    }

    /// Queues decoded events for the caller. With a JSON schema, the text is collected and the
    /// `Finish` event is held to the schema: a match keeps the parsed object, a mismatch is
    /// returned instead of `Finish` (nothing follows `Finish`).
    fn take_in(&mut self, events: Vec<StreamEvent>) -> Option<Error> {
        let Some(answer) = self.structured.as_mut() else {
            self.pending.extend(events);
            return None;
        };
        for event in events {
            match &event {
                StreamEvent::TextDelta { text } => answer.push(text),
                StreamEvent::Finish { .. } => match answer.finish() {
                    Ok(object) => self.object = Some(object),
                    Err(error) => return Some(error),
                },
                _ => {}
            }
            self.pending.push_back(event);
        }
        None
    }

    /// Ends a stream whose finished answer failed its schema: the serving attempt did serve
    /// (its text was delivered), the call is billed in full and recorded as `invalid_output`,
    /// and the answer is not cached.
    fn reject(&mut self, error: Error) -> Error {
        self.state = StreamState::Done;
        let mut error = error
            .with_usage(self.usage)
            .with_attempts(self.attempts.clone());
        if let Some(provider) = self.provider {
            error = from_provider(error, provider);
        }
        if let Some(reporter) = &self.reporter {
            reporter.failed(self.client.shared.clock.now_ms(), &error);
        }
        if let Some(mut track) = self.track.take() {
            let settled = track.stream_rejected(&error, &self.attempts);
            self.settled(settled);
        }
        error
    }

    /// The cache answered: its answer becomes the events a live stream would have produced.
    fn replay(&mut self, replayed: Replayed) {
        let Replayed {
            response,
            target,
            attempts,
            settled,
            route,
            cache,
        } = replayed;
        self.provider = Some(response.provider);
        self.request_id.clone_from(&response.request_id);
        self.usage = response.usage;
        self.warnings.clone_from(&response.warnings);
        self.attempts = attempts;
        self.target = Some(target);
        self.route = route;
        self.cache = cache;
        self.cost = settled.cost;
        self.total_cost = settled.total;
        self.state = StreamState::Done;
        if let Some(rejected) = self.take_in(replay_events(&response, REPLAY_CHUNK_CHARS)) {
            self.failure = Some(self.reject(rejected));
        }
    }

    /// Reads the committed attempt's next chunk.
    async fn read(&mut self) -> Result<bool, Error> {
        let StreamState::Reading { body, limits, .. } = &mut self.state else {
            return Ok(false);
        };
        let clock = &self.client.shared.clock;
        let deadline = limits.next_chunk(clock.now_ms(), false);
        match limits.within(clock, deadline, body.next_chunk()).await {
            Ok(Ok(chunk)) => self.absorb(Ok(chunk.as_deref())),
            Ok(Err(error)) | Err(error) => self.absorb(Err(error)),
        }
    }

    /// Decodes what reading the committed body gave (a chunk, its end, or a failure to read
    /// it); `Ok(false)` once the stream has ended.
    fn absorb(&mut self, chunk: Result<Option<&[u8]>, Error>) -> Result<bool, Error> {
        let (StreamState::Reading { parser, .. } | StreamState::Pushed { parser, .. }) =
            &mut self.state
        else {
            return Ok(false);
        };
        let mut events = Vec::new();
        let result = match chunk {
            Ok(Some(bytes)) => parser.feed(bytes, &mut events).map(|()| true),
            Ok(None) => parser.finish(&mut events).map(|()| false),
            Err(error) => Err(error.with_usage(parser.usage())),
        };
        let provider = parser.provider();
        self.usage = parser.usage();
        if let Some(track) = self.track.as_mut() {
            track.observe(&events, self.usage);
        }
        // Events decoded before a failure still reach the caller, then the error.
        if let Some(rejected) = self.take_in(events) {
            return Err(self.reject(rejected));
        }
        match result {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.state = StreamState::Done;
                if let (Some(reporter), Some(target)) = (&self.reporter, &self.target) {
                    reporter.succeeded(self.client.shared.clock.now_ms(), target, &self.attempts);
                }
                if let Some(mut track) = self.track.take() {
                    let settled = track.stream_finished(&self.attempts);
                    self.settled(settled);
                }
                Ok(!self.pending.is_empty())
            }
            Err(error) => Err(self.failed_after_commit(from_provider(error, provider))),
        }
    }

    /// A committed stream broke: the serving attempt is recorded as failed (its usage so far
    /// included), the breaker hears of it, and the error carries the attempts.
    fn failed_after_commit(&mut self, error: Error) -> Error {
        let now = self.client.shared.clock.now_ms();
        let duration_ms = now.saturating_sub(self.served_since_ms);
        let number = self.attempts[..=self.record]
            .iter()
            .filter(|a| a.is_sent())
            .count() as u32;
        let attempt = &mut self.attempts[self.record];
        attempt.duration_ms = duration_ms;
        attempt.usage = error.usage().copied();
        attempt.outcome = AttemptOutcome::Failed {
            error: error.clone(),
        };
        let target = attempt.target.clone();
        if let Some(reporter) = &self.reporter {
            reporter.emit(|| PolicyEvent::AttemptFailed {
                attempt: number,
                target: target.clone(),
                error: error.clone(),
                duration_ms,
            });
            let breakers = &self.client.shared.breakers;
            reporter.transition(breakers.observe(&target, counts_as_failure(&error), now));
        }
        let error = error.with_attempts(self.attempts.clone());
        if let Some(reporter) = &self.reporter {
            reporter.failed(now, &error);
        }
        if let Some(mut track) = self.track.take() {
            let settled = track.stream_failed(&error, &self.attempts);
            self.settled(settled);
        }
        error
    }
}
