//! The cost layer every call of a client goes through: routing (`model: "auto"`), prompt-cache
//! markers, the per-request cap and the daily budget, the response cache, pricing of everything
//! an attempt consumed, and the usage record. The pieces are in [`crate::core::route`],
//! [`crate::core::pricing`], [`crate::core::cost`], [`crate::core::budget`],
//! [`crate::core::cache`] and [`crate::core::usage`]; this module holds their per-client state
//! and the decisions that join them.
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::core::budget::{
    Alert, Budget, BudgetConfig, RequestCapConfig, RequestEstimate, Reservation, Spend,
};
use crate::core::cache::{CacheConfig, ResponseCache};
use crate::core::cost::{
    cost_for_model, cost_of_interrupted, estimate_cost, CostBreakdown, CostReport, Picodollars,
};
use crate::core::error::{Error, ErrorKind};
use crate::core::model::{CacheTtl, ModelRef, Provider, Request, Usage, Warning};
use crate::core::policy::call::CallPlan;
use crate::core::policy::{Attempt, AttemptOutcome};
use crate::core::pricing::{PriceOverrides, PriceTable};
use crate::core::provider::anthropic::DEFAULT_MAX_TOKENS as ANTHROPIC_DEFAULT_MAX_TOKENS;
use crate::core::route::{ModelCapabilities, RouteDecision, Router, RouterConfig};
use crate::core::tokens::estimate_request_tokens;
use crate::core::usage::UsageRecord;

use super::flight::CacheLayer;

/// Receives one [`UsageRecord`] per call (success, error, cancellation or cache hit),
/// synchronously, when the call ends.
pub type UsageHook = Rc<dyn Fn(&UsageRecord)>;

/// Receives each daily-budget alert once, when a settled call crosses its threshold.
pub type AlertHook = Rc<dyn Fn(&Alert)>;

/// A custom router: sees the request and the built-in decision, and returns a replacement or
/// `None` to keep it (see [`crate::core::route::RouteHook`]).
pub type RouterHook = Rc<dyn Fn(&Request, &RouteDecision) -> Option<RouteDecision>>;

/// The cost-control settings of a client. In JS these keys sit beside `providers`:
///
/// ```text
/// budget:  { dailyUsd: 5, perRequestUsd: 0.25, alertThresholds: [0.5, 0.8, 1] }
/// routing: { tiers: { simple: "anthropic/claude-haiku-4-5", standard: ..., complex: ... } }
/// prices:  { "openai/my-fine-tune": { input: 3, output: 12 }, ...LiteLLM entries too }
/// cache:   { ttlMs: 60000, maxEntries: 500, staleIfErrorMs: 3600000 }
/// cacheSystemPrompt: true
/// ```
///
/// Every key is optional: without `budget` spend is tracked with no limit, without `routing`
/// the default tiers serve `model: "auto"`, without `cache` nothing is cached. The hooks
/// (`onUsage`, `onAlert`, a custom router) are functions, so they are fields of
/// [`super::ClientConfig`] rather than of this data.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CostConfig {
    pub budget: Option<BudgetOptions>,
    pub routing: Option<RouterConfig>,
    /// Added to (or replacing entries of) the built-in price table.
    pub prices: Option<PriceOverrides>,
    /// The response cache; absent means off.
    pub cache: Option<CacheOptions>,
    /// Marks the system prompt for Anthropic prompt caching (a call may override it).
    pub cache_system_prompt: bool,
}

/// `budget`: the daily budget and the per-request cap. `perRequestUsd` is shorthand for
/// `perRequest.maxUsd`; `perRequest` also takes `maxTokens` and `onExceed: "reject" | "clamp"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct BudgetOptions {
    pub daily_usd: Option<f64>,
    pub per_request_usd: Option<f64>,
    pub per_request: RequestCapConfig,
    pub alert_thresholds: Vec<f64>,
    pub reservation_ttl_ms: u64,
}

impl Default for BudgetOptions {
    fn default() -> Self {
        let defaults = BudgetConfig::default();
        BudgetOptions {
            daily_usd: defaults.daily_usd,
            per_request_usd: None,
            per_request: defaults.per_request,
            alert_thresholds: defaults.alert_thresholds,
            reservation_ttl_ms: defaults.reservation_ttl_ms,
        }
    }
}

impl BudgetOptions {
    pub fn to_budget_config(&self) -> Result<BudgetConfig, Error> {
        let mut per_request = self.per_request.clone();
        match (self.per_request_usd, per_request.max_usd) {
            (Some(a), Some(b)) if a != b => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "budget.perRequestUsd ({a}) and budget.perRequest.maxUsd ({b}) disagree: \
                         give one"
                    ),
                ))
            }
            (Some(usd), _) => per_request.max_usd = Some(usd),
            _ => {}
        }
        Ok(BudgetConfig {
            per_request,
            daily_usd: self.daily_usd,
            alert_thresholds: self.alert_thresholds.clone(),
            reservation_ttl_ms: self.reservation_ttl_ms,
        })
    }
}

/// `cache`: the response cache ([`CacheConfig`]) and how long past its TTL an entry may still
/// answer when every target failed (`staleIfErrorMs`, 0 = never).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CacheOptions {
    pub ttl_ms: u64,
    pub max_entries: u64,
    pub max_bytes: u64,
    pub stale_if_error_ms: u64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        let defaults = CacheConfig::default();
        CacheOptions {
            ttl_ms: defaults.ttl_ms,
            max_entries: defaults.max_entries,
            max_bytes: defaults.max_bytes,
            stale_if_error_ms: 0,
        }
    }
}

impl CacheOptions {
    pub fn cache_config(&self) -> CacheConfig {
        CacheConfig {
            ttl_ms: self.ttl_ms,
            max_entries: self.max_entries,
            max_bytes: self.max_bytes,
        }
    }
}

/// The hooks of the cost layer, taken from the client configuration.
#[derive(Clone, Default)]
pub(super) struct CostHooks {
    pub on_usage: Option<UsageHook>,
    pub on_alert: Option<AlertHook>,
    pub router: Option<RouterHook>,
}

/// Per-client state of the cost layer, shared by all calls (and by the guards of calls still
/// running).
pub(super) struct CostLayer {
    pub prices: PriceTable,
    /// Warnings about the configuration (price entries skipped).
    pub config_warnings: Vec<Warning>,
    pub router: Router,
    budget: RefCell<Budget>,
    /// A daily budget or a per-request cap is set: prices are then needed before sending.
    limited: bool,
    pub cache: Option<CacheLayer>,
    pub cache_system_prompt: bool,
    on_usage: Option<UsageHook>,
    on_alert: Option<AlertHook>,
    calls: Cell<u64>,
}

/// What the budget decided about a call before it is sent.
#[derive(Debug, Default)]
pub(super) struct BudgetPlan {
    /// What to reserve: the dearest target's worst case (the two dearest when hedging, which
    /// runs two attempts at once).
    pub worst_case_pico: u64,
    /// What a call dropped while an attempt is in flight is settled at, per attempt: for a
    /// whole response its expected cost (the provider finishes and bills it), for a stream its
    /// input (the provider stops generating when the stream is cancelled).
    pub abandoned_attempt_pico: u64,
    pub warnings: Vec<Warning>,
}

/// A target's estimate, as the budget needs it.
#[derive(Debug, Clone, Copy)]
struct TargetEstimate {
    input_tokens: u64,
    input_pico: u64,
    output_pico_per_token: u64,
    /// What the provider will be asked for at most; `None` when nothing bounds it.
    max_output_tokens: Option<u64>,
    expected_output_tokens: u64,
}

impl TargetEstimate {
    fn worst_case_pico(&self) -> Option<u64> {
        let max = self.max_output_tokens?;
        Some(
            self.output_pico_per_token
                .saturating_mul(max)
                .saturating_add(self.input_pico),
        )
    }

    fn expected_pico(&self) -> u64 {
        self.output_pico_per_token
            .saturating_mul(self.expected_output_tokens)
            .saturating_add(self.input_pico)
    }
}

fn pico_u64(amount: Picodollars) -> u64 {
    u64::try_from(amount.0).unwrap_or(u64::MAX)
}

fn warning(setting: &str, message: String) -> Warning {
    Warning {
        setting: setting.to_string(),
        message,
    }
}

/// What a model can serve, from its price entry. Every current Anthropic, OpenAI and Gemini
/// chat model calls tools and follows a JSON schema, so only the sizes come from the table.
pub(super) fn capabilities(prices: &PriceTable, model: &str) -> Option<ModelCapabilities> {
    let price = prices.lookup(model)?;
    let size = |v: Option<u64>| v.map_or(u32::MAX, |v| u32::try_from(v).unwrap_or(u32::MAX));
    Some(ModelCapabilities {
        context_window: size(price.context_window),
        max_output: size(price.max_output_tokens),
        tools: true,
        json_schema: true,
    })
}

/// The shortest prefix Anthropic caches for a model, per its prompt-caching documentation
/// (early 2026): 4096 tokens for Opus 4.5/4.6 and Haiku 4.5, 2048 for Haiku 3/3.5, 1024 for
/// the others (Sonnet 3.7 to 4.6, Opus 4/4.1). A shorter marked prefix is simply not cached.
pub fn min_cacheable_tokens(model: &str) -> u64 {
    const LONGER: [(&str, u64); 5] = [
        ("claude-opus-4-6", 4096),
        ("claude-opus-4-5", 4096),
        ("claude-haiku-4-5", 4096),
        ("claude-3-5-haiku", 2048),
        ("claude-3-haiku", 2048),
    ];
    LONGER
        .iter()
        .find(|(prefix, _)| model.starts_with(prefix))
        .map_or(1024, |(_, tokens)| *tokens)
}

/// `cacheSystemPrompt`: puts a 5-minute cache marker on the last system block, when the prefix
/// it closes (tools and system prompt) is long enough for `anthropic` (the call's first
/// Anthropic target) to cache. Markers only matter to Anthropic: OpenAI and Gemini cache
/// prefixes by themselves and their adapters ignore markers. An existing marker on the last
/// block is kept.
pub(super) fn mark_system_prompt(
    request: &mut Cow<'_, Request>,
    anthropic: &ModelRef,
) -> Option<Warning> {
    let last = request.system.last()?;
    if last.cache.is_some() {
        return None;
    }
    let prefix = Request {
        system: request.system.clone(),
        tools: request.tools.clone(),
        ..Request::new(request.model.clone(), Vec::new())
    };
    let tokens = estimate_request_tokens(&prefix, Provider::Anthropic).input_tokens;
    let minimum = min_cacheable_tokens(&anthropic.name);
    if tokens < minimum {
        return Some(warning(
            "cacheSystemPrompt",
            format!(
                "the system prompt (about {tokens} tokens with the tools) is shorter than the \
                 {minimum} tokens {} caches at least: it was not marked for caching",
                anthropic.qualified()
            ),
        ));
    }
    if let Some(block) = request.to_mut().system.last_mut() {
        block.cache = Some(CacheTtl::FiveMinutes);
    }
    None
}

impl CostConfig {
    /// Checks every setting once; the errors name the offending key as spelled in JS.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(routing) = &self.routing {
            routing.validate()?;
        }
        if let Some(budget) = &self.budget {
            Budget::new(&budget.to_budget_config()?)?;
        }
        if let Some(cache) = &self.cache {
            cache.cache_config().validate()?;
        }
        Ok(())
    }
}

impl CostLayer {
    pub fn new(config: &CostConfig, hooks: CostHooks) -> Result<CostLayer, Error> {
        let mut prices = PriceTable::builtin().clone();
        let config_warnings = match &config.prices {
            Some(overrides) => prices.apply(overrides.clone()),
            None => Vec::new(),
        };
        let mut router = Router::new(config.routing.clone().unwrap_or_default())?;
        if let Some(hook) = hooks.router {
            router = router.with_hook(Box::new(move |request, decision| hook(request, decision)));
        }
        let budget_config = config
            .budget
            .as_ref()
            .map(BudgetOptions::to_budget_config)
            .transpose()?
            .unwrap_or_default();
        let limited = budget_config.daily_usd.is_some()
            || budget_config.per_request.max_usd.is_some()
            || budget_config.per_request.max_tokens.is_some();
        let cache = match &config.cache {
            Some(options) => Some(CacheLayer::new(
                ResponseCache::new(&options.cache_config())?,
                options.stale_if_error_ms,
            )),
            None => None,
        };
        Ok(CostLayer {
            prices,
            config_warnings,
            router,
            budget: RefCell::new(Budget::new(&budget_config)?),
            limited,
            cache,
            cache_system_prompt: config.cache_system_prompt,
            on_usage: hooks.on_usage,
            on_alert: hooks.on_alert,
            calls: Cell::new(0),
        })
    }

    /// An id for a call's usage record: the call's start time and the client's call count.
    pub fn next_call_id(&self, now_ms: u64) -> String {
        let n = self.calls.get() + 1;
        self.calls.set(n);
        format!("llm-edge-{now_ms:x}-{n}")
    }

    /// The router's decision when `request.model` names a route, `None` for a model.
    pub fn route(&self, request: &Request, now_ms: u64) -> Result<Option<RouteDecision>, Error> {
        if !self.router.handles(&request.model) {
            return Ok(None);
        }
        let lookup = |model: &str| capabilities(&self.prices, model);
        self.router.route(request, &lookup, now_ms).map(Some)
    }

    fn estimate_for(&self, request: &Request, model: &ModelRef) -> Option<TargetEstimate> {
        let price = self.prices.lookup(&model.qualified())?;
        let estimate = estimate_cost(request, price, model.provider);
        let (rates, _) = price.rates_for_input(estimate.input_tokens);
        let output = rates.output.0;
        // The estimate's input cost, taken back out of its expected total.
        let expected_output = u128::from(estimate.output_tokens_expected) * u128::from(output);
        let input = estimate.expected.0.saturating_sub(expected_output);
        // What is actually sent: the Anthropic adapter fills in its own default.
        let max_output_tokens = request.max_tokens.map(u64::from).or(match model.provider {
            Provider::Anthropic => Some(u64::from(ANTHROPIC_DEFAULT_MAX_TOKENS)),
            _ => price.max_output_tokens,
        });
        Some(TargetEstimate {
            input_tokens: estimate.input_tokens,
            input_pico: pico_u64(Picodollars(input)),
            output_pico_per_token: output,
            max_output_tokens,
            expected_output_tokens: estimate.output_tokens_expected,
        })
    }

    /// The per-request cap (rejecting the call or lowering its `maxTokens`) and the worst
    /// case to reserve, before anything is sent.
    pub fn check_budget(
        &self,
        request: &mut Cow<'_, Request>,
        plan: &CallPlan,
        streaming: bool,
    ) -> Result<BudgetPlan, Error> {
        let mut outcome = BudgetPlan::default();
        let primary = &plan.targets[0];
        let mut primary_estimate = self.estimate_for(&primary.request(request), &primary.model);
        match primary_estimate {
            None if self.limited => outcome.warnings.push(warning(
                "budget",
                format!(
                    "no price known for `{}`: this call cannot be checked against the budget \
                     and its cost is not counted (add the model with price overrides)",
                    primary.key
                ),
            )),
            None => {}
            Some(estimate) => {
                if let Some(clamped) = self.apply_cap(estimate, primary.key.as_str())? {
                    let asked = request.max_tokens;
                    request.to_mut().max_tokens = Some(clamped);
                    primary_estimate = Some(TargetEstimate {
                        max_output_tokens: Some(u64::from(clamped)),
                        ..estimate
                    });
                    outcome.warnings.push(warning(
                        "maxTokens",
                        format!(
                            "maxTokens lowered from {} to {clamped} to keep the worst case \
                             within budget.perRequest",
                            asked.map_or("the default".to_string(), |n| n.to_string())
                        ),
                    ));
                }
            }
        }
        outcome.abandoned_attempt_pico = primary_estimate.map_or(0, |e| match streaming {
            true => e.input_pico,
            false => e.expected_pico(),
        });
        if !self.limited {
            return Ok(outcome);
        }
        let mut worst: Vec<u64> = plan
            .targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.provider_config.is_some())
            .filter_map(|(i, t)| match i {
                0 => primary_estimate,
                _ => self.estimate_for(&t.request(request), &t.model),
            })
            .filter_map(|e| e.worst_case_pico())
            .collect();
        worst.sort_unstable_by(|a, b| b.cmp(a));
        let racing = if plan.policy.hedge.is_some() { 2 } else { 1 };
        outcome.worst_case_pico = worst
            .iter()
            .take(racing)
            .fold(0u64, |sum, w| sum.saturating_add(*w));
        Ok(outcome)
    }

    /// Checks the cap against the primary target's estimate; `Some(n)` when `maxTokens` must
    /// be lowered to `n`.
    fn apply_cap(&self, estimate: TargetEstimate, target: &str) -> Result<Option<u32>, Error> {
        let Some(max_output_tokens) = estimate.max_output_tokens else {
            if self.limited {
                return Err(Error::new(
                    ErrorKind::BudgetExceeded,
                    format!(
                        "the worst-case cost of this call cannot be bounded: neither the \
                         request nor the price of `{target}` gives a maximum output; set \
                         maxTokens"
                    ),
                ));
            }
            return Ok(None);
        };
        let decision = self.budget.borrow().cap.check(&RequestEstimate {
            input_tokens: estimate.input_tokens,
            input_cost_pico: estimate.input_pico,
            output_pico_per_token: estimate.output_pico_per_token,
            max_output_tokens,
        })?;
        Ok(decision
            .clamped
            .then(|| u32::try_from(decision.max_output_tokens).unwrap_or(u32::MAX)))
    }

    pub fn reserve(&self, worst_case_pico: u64, now_ms: u64) -> Result<Reservation, Error> {
        self.budget
            .borrow_mut()
            .ledger
            .reserve(worst_case_pico, now_ms)
    }

    /// Settles a reservation at what the call cost and delivers the alerts it crossed (after
    /// releasing the ledger, so that a hook may read the spend).
    pub fn settle(&self, reservation: Reservation, actual_pico: u64, now_ms: u64) {
        let alerts = self
            .budget
            .borrow_mut()
            .ledger
            .settle(reservation, actual_pico, now_ms);
        if let Some(hook) = &self.on_alert {
            for alert in &alerts {
                hook(alert);
            }
        }
    }

    pub fn spend(&self, now_ms: u64) -> Spend {
        self.budget.borrow().ledger.spend(now_ms)
    }

    pub fn reset_spend(&self, now_ms: u64) {
        self.budget.borrow_mut().ledger.reset(now_ms);
    }

    pub fn emit(&self, record: &UsageRecord) {
        if let Some(hook) = &self.on_usage {
            hook(record);
        }
    }

    /// Prices what `target` (`provider/model`) reported; when the target has no price, the
    /// model the provider says answered is tried (a dated snapshot of a known one).
    pub fn price(&self, target: &str, answered: Option<&str>, usage: &Usage) -> CostReport {
        let known = |model: &str| self.prices.lookup(model).is_some();
        let model = match (known(target), answered) {
            (false, Some(answered)) => {
                let provider = target.split_once('/').map_or("", |(p, _)| p);
                let qualified = format!("{provider}/{answered}");
                if known(&qualified) {
                    qualified
                } else {
                    target.to_string()
                }
            }
            _ => target.to_string(),
        };
        cost_for_model(&self.prices, &model, usage, false)
    }

    /// The cost of attempts that did not serve the call (failed, or abandoned by hedging)
    /// but reported usage: billing never drops consumed tokens.
    pub fn tally_attempts(&self, attempts: &[Attempt]) -> CostTally {
        let mut tally = CostTally::default();
        for attempt in attempts {
            let spent = matches!(
                attempt.outcome,
                AttemptOutcome::Failed { .. } | AttemptOutcome::Abandoned
            );
            if let (true, Some(usage)) = (spent, &attempt.usage) {
                tally.add(self.price(&attempt.target, None, usage), usage, false);
            }
        }
        tally
    }

    /// The cost of a stream that did not finish (or finished without usage): from the usage
    /// received, or estimated from the request and the text delivered (flagged).
    pub fn price_interrupted(
        &self,
        target: &ModelRef,
        request: &Request,
        received: &Usage,
        delivered: &str,
    ) -> CostReport {
        match self.prices.lookup_or_warn(&target.qualified()) {
            Err(unknown) => CostReport {
                cost: None,
                warnings: vec![unknown],
            },
            Ok(price) => {
                let mut cost = cost_of_interrupted(
                    received,
                    delivered,
                    request,
                    price,
                    target.provider,
                    false,
                );
                CostReport {
                    warnings: std::mem::take(&mut cost.warnings),
                    cost: Some(cost),
                }
            }
        }
    }
}

/// The cost of one call, added up from every attempt that consumed tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct CostTally {
    /// The serving answer's breakdown (all zeros for an answer from the cache).
    pub served: Option<CostBreakdown>,
    known: Picodollars,
    /// Some consumed usage could not be priced: the total is not known.
    unknown: bool,
    pub estimated: bool,
    /// Every token the call consumed, summed over its attempts.
    pub usage: Usage,
    pub warnings: Vec<Warning>,
}

impl CostTally {
    /// The whole call's cost; `None` when part of it could not be priced.
    pub fn total(&self) -> Option<Picodollars> {
        (!self.unknown).then_some(self.known)
    }

    /// What the budget is settled at: everything that could be priced.
    pub fn known_pico(&self) -> u64 {
        pico_u64(self.known)
    }

    pub fn add(&mut self, report: CostReport, usage: &Usage, serving: bool) {
        add_usage(&mut self.usage, usage);
        match &report.cost {
            Some(cost) => {
                self.known = self.known + cost.total;
                self.estimated |= cost.estimated;
            }
            None => self.unknown = true,
        }
        for warning in report.warnings {
            self.warn(warning);
        }
        if serving {
            self.served = report.cost;
        }
    }

    /// An answer that cost nothing: served from the cache.
    pub fn serve_free(&mut self, model: &str) {
        self.served = Some(CostBreakdown {
            model: model.to_string(),
            total: Picodollars::ZERO,
            input: Picodollars::ZERO,
            cache_read: Picodollars::ZERO,
            cache_write_5m: Picodollars::ZERO,
            cache_write_1h: Picodollars::ZERO,
            output: Picodollars::ZERO,
            long_prompt_tier_above: None,
            batch: false,
            estimated: false,
            warnings: Vec::new(),
        });
    }

    /// Attempts abandoned in flight by a dropped call, at their estimated cost.
    pub fn add_abandoned(&mut self, attempts: u32, pico_each: u64) {
        if attempts > 0 {
            let pico = u128::from(pico_each) * u128::from(attempts);
            self.known = self.known + Picodollars(pico);
            self.estimated = true;
        }
    }

    pub fn warn(&mut self, warning: Warning) {
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }
}

/// Adds `more` to `total` class by class; a class stays `None` while neither reported it.
pub(super) fn add_usage(total: &mut Usage, more: &Usage) {
    fn add(slot: &mut Option<u64>, more: Option<u64>) {
        if let Some(more) = more {
            *slot = Some(slot.unwrap_or(0) + more);
        }
    }
    add(&mut total.input_tokens, more.input_tokens);
    add(&mut total.cache_read_tokens, more.cache_read_tokens);
    add(&mut total.cache_write_5m_tokens, more.cache_write_5m_tokens);
    add(&mut total.cache_write_1h_tokens, more.cache_write_1h_tokens);
    add(&mut total.output_tokens, more.output_tokens);
    add(&mut total.reasoning_tokens, more.reasoning_tokens);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_js_options_parse_with_the_contract_names() {
        let config: CostConfig = serde_json::from_value(json!({
            "providers": { "anthropic": {} },
            "budget": { "dailyUsd": 5, "perRequestUsd": 0.25, "alertThresholds": [0.5, 0.8, 1] },
            "routing": { "tiers": { "simple": "anthropic/claude-haiku-4-5",
                                    "standard": "anthropic/claude-sonnet-4-6",
                                    "complex": "anthropic/claude-opus-4-6" } },
            "prices": { "openai/my-tune": { "input": 3, "output": 12 } },
            "cache": { "ttlMs": 60000, "maxEntries": 500, "staleIfErrorMs": 3600000 },
            "cacheSystemPrompt": true
        }))
        .unwrap();
        let budget = config.budget.as_ref().unwrap().to_budget_config().unwrap();
        assert_eq!(budget.daily_usd, Some(5.0));
        assert_eq!(budget.per_request.max_usd, Some(0.25));
        let cache = config.cache.as_ref().unwrap();
        assert_eq!((cache.ttl_ms, cache.max_entries), (60_000, 500));
        assert_eq!(cache.max_bytes, CacheConfig::default().max_bytes);
        assert_eq!(cache.stale_if_error_ms, 3_600_000);
        assert!(config.cache_system_prompt);
        let layer = CostLayer::new(&config, CostHooks::default()).unwrap();
        assert!(layer.prices.lookup("openai/my-tune").is_some());

        let empty: CostConfig = serde_json::from_value(json!({})).unwrap();
        assert_eq!(empty, CostConfig::default());
    }

    #[test]
    fn typos_and_contradictions_are_config_errors() {
        assert!(serde_json::from_value::<CostConfig>(json!({ "budget": { "daily": 5 } })).is_err());
        assert!(serde_json::from_value::<CostConfig>(json!({ "cache": { "ttl": 5 } })).is_err());
        let both: BudgetOptions = serde_json::from_value(
            json!({ "perRequestUsd": 0.25, "perRequest": { "maxUsd": 0.5 } }),
        )
        .unwrap();
        assert_eq!(
            both.to_budget_config().unwrap_err().kind(),
            ErrorKind::Config
        );
        let zero_ttl = CostConfig {
            cache: Some(CacheOptions {
                ttl_ms: 0,
                ..CacheOptions::default()
            }),
            ..CostConfig::default()
        };
        let error = CostLayer::new(&zero_ttl, CostHooks::default())
            .err()
            .unwrap();
        assert_eq!(error.kind(), ErrorKind::Config);
    }

    #[test]
    fn minimum_cacheable_lengths_follow_the_model() {
        assert_eq!(min_cacheable_tokens("claude-sonnet-4-6"), 1024);
        assert_eq!(min_cacheable_tokens("claude-haiku-4-5-20251001"), 4096);
        assert_eq!(min_cacheable_tokens("claude-3-5-haiku-latest"), 2048);
        assert_eq!(min_cacheable_tokens("claude-opus-4-6"), 4096);
        assert_eq!(min_cacheable_tokens("claude-opus-4-1"), 1024);
    }

    #[test]
    fn usage_adds_class_by_class_without_inventing_counts() {
        let mut total = Usage::default();
        add_usage(
            &mut total,
            &Usage {
                input_tokens: Some(10),
                output_tokens: Some(2),
                ..Usage::default()
            },
        );
        add_usage(
            &mut total,
            &Usage {
                input_tokens: Some(5),
                cache_read_tokens: Some(7),
                ..Usage::default()
            },
        );
        assert_eq!(total.input_tokens, Some(15));
        assert_eq!(total.cache_read_tokens, Some(7));
        assert_eq!(total.output_tokens, Some(2));
        assert_eq!(total.cache_write_5m_tokens, None);
    }
}
