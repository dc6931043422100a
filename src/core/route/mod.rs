//! Model routing by complexity: `model: "auto"` (or a named route) becomes a concrete model.
//!
//! A request is scored from explainable signals (length, code, reasoning and analysis words,
//! constraints and steps, conversation depth, tools, requested output size; see
//! [`signals`]), the score picks a tier (simple / standard / complex), and the route maps
//! the tier to a model. Then, in order:
//! 1. an explicit `complexity` on the request replaces the score's tier;
//! 2. otherwise a pinned conversation stays on its model (prompt cache kept warm);
//! 3. if the model cannot serve the request (tools, JSON schema, context window, max output,
//!    from the capabilities the caller passes in), the next tier up that can is taken, or as a
//!    last resort the nearest one down, and the reason says so; a pin yields to this too;
//! 4. a custom hook, if set, sees the decision and may replace it;
//! 5. the conversation is pinned to the final model.
//!
//! Routing allocates only the lowercased copy of the searched text, the decision's strings,
//! and a new conversation's pin.
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::error::{Error, ErrorKind};
use super::model::{ContentPart, ModelRef, Request, ResponseFormat};

pub mod config;
mod pins;
pub mod signals;

pub use config::{
    CodeBlockSignal, ConstraintSignal, DepthSignal, KeywordSignal, LengthSignal, OutputSignal,
    PinningConfig, RouterConfig, SignalKind, Thresholds, TierModels, ToolSignal, AUTO_ROUTE,
    TUTORIAL_KEYWORDS,
};
pub use pins::{Pin, SessionPins};
pub use signals::Signals;

use config::config_error;
use signals::{estimate_input_tokens, measure, round2, FirstHits, Lexicon};

/// How capable a model a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Simple,
    Standard,
    Complex,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Simple, Tier::Standard, Tier::Complex];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Simple => "simple",
            Tier::Standard => "standard",
            Tier::Complex => "complex",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a model can serve, as far as routing cares. Comes from the model table built
/// elsewhere; the router only reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelCapabilities {
    /// Input plus output tokens.
    pub context_window: u32,
    pub max_output: u32,
    pub tools: bool,
    pub json_schema: bool,
}

/// Looks up a model's capabilities by its `provider/model` name. `None` means unknown, and an
/// unknown model is assumed able to serve: routing never blocks on missing data (the provider
/// still rejects what it cannot do).
pub trait CapabilityLookup {
    fn capabilities(&self, model: &str) -> Option<ModelCapabilities>;
}

impl<F: Fn(&str) -> Option<ModelCapabilities>> CapabilityLookup for F {
    fn capabilities(&self, model: &str) -> Option<ModelCapabilities> {
        self(model)
    }
}

impl CapabilityLookup for HashMap<String, ModelCapabilities> {
    fn capabilities(&self, model: &str) -> Option<ModelCapabilities> {
        self.get(model).copied()
    }
}

impl CapabilityLookup for BTreeMap<String, ModelCapabilities> {
    fn capabilities(&self, model: &str) -> Option<ModelCapabilities> {
        self.get(model).copied()
    }
}

/// No capability data: every model is assumed able to serve.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssumeCapable;

impl CapabilityLookup for AssumeCapable {
    fn capabilities(&self, _model: &str) -> Option<ModelCapabilities> {
        None
    }
}

/// The outcome of routing, for responses and events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteDecision {
    pub tier: Tier,
    /// `provider/model`.
    pub model: String,
    /// Why, in one line: the deciding rule, the main signals, and any move between tiers.
    #[serde(default)]
    pub reason: String,
    /// The complexity score (the sum of the signals' points).
    #[serde(default)]
    pub score: f64,
    #[serde(default)]
    pub signals: Signals,
}

/// A custom router: given the request and the built-in decision, returns a replacement or
/// `None` to keep it. The replacement has the last word (it is not re-checked against model
/// capabilities); its model must resolve to a provider.
pub type RouteHook = Box<dyn Fn(&Request, &RouteDecision) -> Option<RouteDecision>>;

struct CompiledRoute {
    name: String,
    /// Qualified model names, indexed by tier.
    models: [String; 3],
}

/// The complexity router: a validated configuration, its compiled keyword index, and the
/// session pins. Single-threaded like the rest of the core (the pins sit in a `RefCell`).
pub struct Router {
    config: RouterConfig,
    routes: Vec<CompiledRoute>,
    lexicon: Lexicon,
    pins: Option<RefCell<SessionPins>>,
    hook: Option<RouteHook>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("config", &self.config)
            .field("pins", &self.pins)
            .field("hook", &self.hook.is_some())
            .finish()
    }
}

impl Router {
    /// Validates `config` (errors are [`ErrorKind::Config`]) and prepares it for routing.
    pub fn new(config: RouterConfig) -> Result<Router, Error> {
        config.validate()?;
        let compile = |name: &str, models: &TierModels| -> Result<CompiledRoute, Error> {
            let qualified = |tier: Tier| -> Result<String, Error> {
                Ok(ModelRef::parse(models.get(tier))?.qualified())
            };
            Ok(CompiledRoute {
                name: name.to_string(),
                models: [
                    qualified(Tier::Simple)?,
                    qualified(Tier::Standard)?,
                    qualified(Tier::Complex)?,
                ],
            })
        };
        let mut routes = vec![compile(AUTO_ROUTE, &config.tiers)?];
        for (name, models) in &config.routes {
            routes.push(compile(name, models)?);
        }
        let pins = config.pinning.enabled.then(|| {
            RefCell::new(SessionPins::new(
                config.pinning.capacity as usize,
                config.pinning.ttl_ms,
            ))
        });
        Ok(Router {
            lexicon: Lexicon::new(&config),
            routes,
            pins,
            hook: None,
            config,
        })
    }

    /// Sets the custom router consulted after the built-in decision.
    pub fn with_hook(mut self, hook: RouteHook) -> Router {
        self.hook = Some(hook);
        self
    }

    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// Whether `model` names a route of this router (rather than a model).
    pub fn handles(&self, model: &str) -> bool {
        self.route_index(model).is_some()
    }

    fn route_index(&self, model: &str) -> Option<usize> {
        let model = model.trim();
        self.routes.iter().position(|r| r.name == model)
    }

    /// The score and signals of a request, without pins, capabilities or hook.
    pub fn score(&self, request: &Request) -> (f64, Signals) {
        let (signals, _) = measure(&self.config, &self.lexicon, request);
        (round2(signals.score()), signals)
    }

    /// Chooses the model for `request`, whose `model` must name a route (see [`handles`]).
    /// `now_ms` is the caller's clock, used only for session pins.
    ///
    /// [`handles`]: Router::handles
    pub fn route(
        &self,
        request: &Request,
        capabilities: &dyn CapabilityLookup,
        now_ms: u64,
    ) -> Result<RouteDecision, Error> {
        let route_index = self.route_index(&request.model).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("`{}` is not a route of this router", request.model),
            )
        })?;
        let route = &self.routes[route_index];
        let (signals, first_hits) = measure(&self.config, &self.lexicon, request);
        let score = round2(signals.score());
        let by_score = self.config.thresholds.tier_for(score);
        let needs = Needs::of(request);
        let conversation = self
            .pins
            .as_ref()
            .and(request.metadata.conversation_id.as_deref());

        let mut reason = String::new();
        let mut wanted = by_score;
        let mut pinned_model = None;
        if let Some(requested) = request.complexity {
            wanted = requested;
            let _ = write!(
                reason,
                "complexity \"{requested}\" requested (score {score} would pick {by_score})"
            );
        } else if let (Some(pins), Some(conversation)) = (&self.pins, conversation) {
            let mut pins = pins.borrow_mut();
            if let Some(pin) = pins
                .get(conversation, now_ms)
                .filter(|pin| pin.route == route_index)
            {
                match needs.unmet(capabilities.capabilities(&pin.model)) {
                    None => {
                        let _ = write!(
                            reason,
                            "pinned: conversation stays on {} to keep its prompt cache warm \
                             (score {score} would pick {by_score})",
                            pin.model
                        );
                        pinned_model = Some((pin.model.clone(), pin.tier));
                    }
                    Some(unmet) => {
                        let _ = write!(
                            reason,
                            "pinned model {} cannot serve this request ({unmet}), so the \
                             conversation moves; ",
                            pin.model
                        );
                    }
                }
            }
        }

        let (tier, model) = match pinned_model {
            Some(pinned) => (pinned.1, pinned.0),
            None => {
                if request.complexity.is_none() {
                    self.explain_score(&mut reason, score, by_score, &signals, &first_hits);
                }
                let tier = self.serving_tier(route, wanted, &needs, capabilities, &mut reason)?;
                (tier, route.models[tier.index()].clone())
            }
        };
        let mut decision = RouteDecision {
            tier,
            model,
            reason,
            score,
            signals,
        };

        if let Some(hook) = &self.hook {
            if let Some(mut custom) = hook(request, &decision) {
                custom.model = ModelRef::parse(&custom.model)
                    .map_err(|e| {
                        config_error(format!(
                            "the custom router chose model `{}`: {}",
                            custom.model,
                            e.message()
                        ))
                    })?
                    .qualified();
                if custom.reason.is_empty() {
                    custom.reason = "custom router".to_string();
                }
                decision = custom;
            }
        }

        if let (Some(pins), Some(conversation)) = (&self.pins, conversation) {
            pins.borrow_mut().put(
                conversation,
                route_index,
                &decision.model,
                decision.tier,
                now_ms,
            );
        }
        Ok(decision)
    }

    /// "complex by score 6.2 (reasoningWords 5 "trade-offs", constraints 0.8 "must", length 0.4)":
    /// the three signals that weighed most, with the first word that triggered each.
    fn explain_score(
        &self,
        reason: &mut String,
        score: f64,
        tier: Tier,
        signals: &Signals,
        first_hits: &FirstHits,
    ) {
        let _ = write!(reason, "{tier} by score {score}");
        let mut top: [Option<(SignalKind, f64)>; 3] = [None; 3];
        for kind in SignalKind::ALL {
            let points = signals.points(kind);
            if points == 0.0 {
                continue;
            }
            let weight = points.abs();
            if let Some(slot) = top
                .iter()
                .position(|t| t.is_none_or(|(_, p)| weight > p.abs()))
            {
                top[slot..].rotate_right(1);
                top[slot] = Some((kind, points));
            }
        }
        let mut first = true;
        for (kind, points) in top.into_iter().flatten() {
            reason.push_str(if first { " (" } else { ", " });
            first = false;
            let _ = write!(reason, "{} {points}", kind.as_str());
            if let Some(id) = first_hits.get(kind) {
                let _ = write!(reason, " \"{}\"", self.lexicon.pattern_text(id));
            }
        }
        reason.push_str(if first { " (no signal)" } else { ")" });
    }

    /// The tier that serves the request: `wanted` if its model can, else the nearest one up,
    /// else the nearest one down. Each move is appended to `reason`.
    fn serving_tier(
        &self,
        route: &CompiledRoute,
        wanted: Tier,
        needs: &Needs,
        capabilities: &dyn CapabilityLookup,
        reason: &mut String,
    ) -> Result<Tier, Error> {
        let up = Tier::ALL.into_iter().filter(|t| *t >= wanted);
        let down = Tier::ALL.into_iter().rev().filter(|t| *t < wanted);
        let mut refused: [Option<Unmet>; 3] = [None; 3];
        for tier in up.chain(down) {
            let model = &route.models[tier.index()];
            match needs.unmet(capabilities.capabilities(model)) {
                Some(unmet) => refused[tier.index()] = Some(unmet),
                None => {
                    if tier != wanted {
                        let direction = if tier > wanted { "up" } else { "down" };
                        let _ = write!(reason, "; moved {direction} to {tier}:");
                        for skipped in Tier::ALL {
                            if let Some(unmet) = refused[skipped.index()] {
                                let _ = write!(
                                    reason,
                                    " {} cannot serve it ({unmet});",
                                    route.models[skipped.index()]
                                );
                            }
                        }
                        reason.pop();
                    }
                    return Ok(tier);
                }
            }
        }
        let only_size = refused
            .iter()
            .flatten()
            .all(|u| matches!(u, Unmet::Context { .. } | Unmet::Output { .. }));
        let mut message = format!("no model of route `{}` can serve this request:", route.name);
        for tier in Tier::ALL {
            if let Some(unmet) = refused[tier.index()] {
                let _ = write!(message, " {} ({unmet});", route.models[tier.index()]);
            }
        }
        message.pop();
        let kind = if only_size {
            ErrorKind::ContextLength
        } else {
            ErrorKind::InvalidRequest
        };
        Err(Error::new(kind, message))
    }
}

/// What the request needs from a model.
struct Needs {
    tools: bool,
    json_schema: bool,
    /// Estimated input plus `maxTokens`.
    context_tokens: u64,
    max_output: Option<u32>,
}

impl Needs {
    fn of(request: &Request) -> Needs {
        let tool_traffic = request.messages.iter().any(|m| {
            m.content.iter().any(|p| {
                matches!(
                    p,
                    ContentPart::ToolCall { .. } | ContentPart::ToolResult { .. }
                )
            })
        });
        Needs {
            tools: !request.tools.is_empty() || tool_traffic,
            json_schema: matches!(
                request.response_format,
                Some(ResponseFormat::JsonSchema { .. })
            ),
            context_tokens: estimate_input_tokens(request) + request.max_tokens.unwrap_or(0) as u64,
            max_output: request.max_tokens,
        }
    }

    /// Why a model with `capabilities` cannot serve, if it cannot (unknown models can).
    fn unmet(&self, capabilities: Option<ModelCapabilities>) -> Option<Unmet> {
        let caps = capabilities?;
        if self.tools && !caps.tools {
            return Some(Unmet::Tools);
        }
        if self.json_schema && !caps.json_schema {
            return Some(Unmet::JsonSchema);
        }
        if let Some(needed) = self.max_output.filter(|&n| n > caps.max_output) {
            return Some(Unmet::Output {
                needed,
                max: caps.max_output,
            });
        }
        if self.context_tokens > caps.context_window as u64 {
            return Some(Unmet::Context {
                needed: self.context_tokens,
                window: caps.context_window,
            });
        }
        None
    }
}

#[derive(Debug, Clone, Copy)]
enum Unmet {
    Tools,
    JsonSchema,
    Context { needed: u64, window: u32 },
    Output { needed: u32, max: u32 },
}

impl std::fmt::Display for Unmet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unmet::Tools => f.write_str("no tool use"),
            Unmet::JsonSchema => f.write_str("no JSON schema output"),
            Unmet::Context { needed, window } => write!(
                f,
                "context window {window} tokens, the request needs about {needed}"
            ),
            Unmet::Output { needed, max } => {
                write!(f, "max output {max} tokens, maxTokens is {needed}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{Message, ToolDefinition};
    use serde_json::json;

    const HAIKU: &str = "anthropic/claude-haiku-4-5";
    const SONNET: &str = "anthropic/claude-sonnet-4-6";
    const OPUS: &str = "anthropic/claude-opus-4-6";

    fn router() -> Router {
        Router::new(RouterConfig::default()).unwrap()
    }

    fn ask(text: &str) -> Request {
        Request::new("auto", vec![Message::user(text)])
    }

    fn in_conversation(mut request: Request, id: &str) -> Request {
        request.metadata.conversation_id = Some(id.into());
        request
    }

    fn caps(context_window: u32, tools: bool, json_schema: bool) -> ModelCapabilities {
        ModelCapabilities {
            context_window,
            max_output: 64_000,
            tools,
            json_schema,
        }
    }

    const HARD: &str = "Design a multi-region rate limiter. Analyse the trade-offs of token \
                        bucket vs sliding window, the consistency model and failure modes, and \
                        prove the bound on over-admission.";

    #[test]
    fn scores_pick_tiers_and_the_reason_names_the_signals() {
        let r = router();
        let d = r.route(&ask("hi there!"), &AssumeCapable, 0).unwrap();
        assert_eq!((d.tier, d.model.as_str()), (Tier::Simple, HAIKU));
        assert!(d.reason.starts_with("simple by score"), "{}", d.reason);

        let d = r.route(&ask(HARD), &AssumeCapable, 0).unwrap();
        assert_eq!((d.tier, d.model.as_str()), (Tier::Complex, OPUS));
        assert!(d.score >= 5.0, "{d:?}");
        assert!(
            d.reason
                .contains("proofWords 5 \"prove\", reasoningWords 5 \"design a\""),
            "{}",
            d.reason
        );
        assert_eq!(d.score, round2(d.signals.score()));
    }

    #[test]
    fn the_decision_serialises_in_camel_case() {
        let d = router().route(&ask(HARD), &AssumeCapable, 0).unwrap();
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["tier"], "complex");
        assert_eq!(json["model"], OPUS);
        assert!(json["signals"]["reasoningWords"].as_f64().unwrap() > 0.0);
        assert!(json["signals"].get("requestedOutputTokens").is_some());
        let back: RouteDecision = serde_json::from_value(json).unwrap();
        assert_eq!(back, d);
        let minimal: RouteDecision =
            serde_json::from_value(json!({ "tier": "simple", "model": HAIKU })).unwrap();
        assert_eq!(minimal.reason, "");
    }

    #[test]
    fn an_explicit_complexity_overrides_the_score() {
        let r = router();
        let mut request = ask("hi");
        request.complexity = Some(Tier::Complex);
        let d = r.route(&request, &AssumeCapable, 0).unwrap();
        assert_eq!((d.tier, d.model.as_str()), (Tier::Complex, OPUS));
        assert!(
            d.reason.starts_with("complexity \"complex\" requested"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn named_routes_use_their_own_tier_models() {
        let config = RouterConfig::from_value(json!({
            "routes": { "auto-openai": { "simple": "openai/gpt-4.1-mini",
                                         "standard": "gpt-4.1", "complex": "o3" } }
        }))
        .unwrap();
        let r = Router::new(config).unwrap();
        assert!(r.handles("auto") && r.handles("auto-openai") && !r.handles("gpt-4.1"));
        let mut request = ask("hello");
        request.model = "auto-openai".into();
        let d = r.route(&request, &AssumeCapable, 0).unwrap();
        assert_eq!(d.model, "openai/gpt-4.1-mini");
        request.model = "openai/gpt-4.1".into();
        let err = r.route(&request, &AssumeCapable, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn a_model_without_a_needed_capability_moves_the_request_up() {
        let r = router();
        let mut request = ask("What's the weather in Lisbon?");
        request.tools.push(ToolDefinition {
            name: "get_weather".into(),
            description: None,
            parameters: json!({ "type": "object" }),
            cache: None,
        });
        let lookup = |model: &str| match model {
            HAIKU => Some(caps(200_000, false, true)),
            _ => Some(caps(200_000, true, true)),
        };
        let d = r.route(&request, &lookup, 0).unwrap();
        assert_eq!((d.tier, d.model.as_str()), (Tier::Standard, SONNET));
        assert!(
            d.reason.ends_with(
                "; moved up to standard: anthropic/claude-haiku-4-5 cannot serve it (no tool use)"
            ),
            "{}",
            d.reason
        );
    }

    #[test]
    fn context_and_output_needs_are_checked_against_each_tier() {
        let r = router();
        let mut lookup = HashMap::new();
        lookup.insert(HAIKU.to_string(), caps(200_000, true, true));
        lookup.insert(SONNET.to_string(), caps(1_000_000, true, true));
        lookup.insert(OPUS.to_string(), caps(200_000, true, true));

        // ~300k tokens of text asked of the simple tier: only the 1M-token model fits.
        let long = "word ".repeat(240_000);
        let mut request = ask(&long);
        request.complexity = Some(Tier::Simple);
        let d = r.route(&request, &lookup, 0).unwrap();
        assert_eq!(d.model, SONNET);
        assert!(
            d.reason.ends_with(
                "; moved up to standard: anthropic/claude-haiku-4-5 cannot serve it \
                 (context window 200000 tokens, the request needs about 300000)"
            ),
            "{}",
            d.reason
        );

        // A complex request that only the standard model can hold moves *down*.
        let d = r
            .route(&ask(&format!("{HARD}\n{long}")), &lookup, 0)
            .unwrap();
        assert_eq!((d.tier, d.model.as_str()), (Tier::Standard, SONNET));
        assert!(d.reason.contains("moved down to standard"), "{}", d.reason);

        // maxTokens beyond every model's max output: a context-length error naming each.
        let mut request = ask("hi");
        request.max_tokens = Some(100_000);
        let err = r.route(&request, &lookup, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ContextLength);
        assert!(err.message().contains("route `auto`"), "{}", err.message());
        assert!(err.message().contains(OPUS), "{}", err.message());

        // A JSON schema nobody supports is an invalid request, not a size problem.
        let mut request = ask("hi");
        request.response_format = Some(ResponseFormat::JsonSchema {
            name: "x".into(),
            schema: json!({}),
            strict: true,
        });
        let none = |_: &str| Some(caps(200_000, true, false));
        let err = r.route(&request, &none, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(
            err.message().contains("no JSON schema output"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn unknown_models_are_assumed_capable() {
        let r = router();
        let mut request = ask("hi");
        request.max_tokens = Some(1_000_000);
        request.complexity = Some(Tier::Simple);
        let d = r.route(&request, &|_: &str| None, 0).unwrap();
        assert_eq!(d.model, HAIKU);
        assert!(!d.reason.contains("moved"), "{}", d.reason);
    }

    #[test]
    fn a_conversation_stays_on_its_first_model() {
        let r = router();
        let first = r
            .route(&in_conversation(ask("hi!"), "c1"), &AssumeCapable, 1_000)
            .unwrap();
        assert_eq!(first.model, HAIKU);
        let later = r
            .route(&in_conversation(ask(HARD), "c1"), &AssumeCapable, 2_000)
            .unwrap();
        assert_eq!((later.tier, later.model.as_str()), (Tier::Simple, HAIKU));
        assert!(later.reason.starts_with("pinned:"), "{}", later.reason);
        assert!(
            later.reason.contains("would pick complex"),
            "{}",
            later.reason
        );
        assert!(later.score >= 5.0, "the score is still reported");

        // Another conversation is routed on its own merits.
        let other = r
            .route(&in_conversation(ask(HARD), "c2"), &AssumeCapable, 2_000)
            .unwrap();
        assert_eq!(other.model, OPUS);
    }

    #[test]
    fn a_pin_expires_after_the_ttl() {
        let config = RouterConfig {
            pinning: PinningConfig {
                enabled: true,
                capacity: 10,
                ttl_ms: 60_000,
            },
            ..RouterConfig::default()
        };
        let r = Router::new(config).unwrap();
        r.route(&in_conversation(ask("hi"), "c"), &AssumeCapable, 0)
            .unwrap();
        let d = r
            .route(&in_conversation(ask(HARD), "c"), &AssumeCapable, 59_999)
            .unwrap();
        assert_eq!(d.model, HAIKU, "still pinned (and the pin refreshed)");
        let d = r
            .route(&in_conversation(ask(HARD), "c"), &AssumeCapable, 119_998)
            .unwrap();
        assert_eq!(d.model, HAIKU, "the last use refreshed the pin");
        let d = r
            .route(&in_conversation(ask(HARD), "c"), &AssumeCapable, 200_000)
            .unwrap();
        assert_eq!(d.model, OPUS, "expired: routed afresh");
    }

    #[test]
    fn a_capability_constraint_breaks_the_pin_and_repins() {
        let r = router();
        r.route(&in_conversation(ask("hi"), "c"), &AssumeCapable, 0)
            .unwrap();
        let lookup = |model: &str| {
            Some(if model == HAIKU {
                caps(1_000, true, true)
            } else {
                caps(200_000, true, true)
            })
        };
        let long = in_conversation(ask(&"word ".repeat(2_000)), "c");
        let d = r.route(&long, &lookup, 1).unwrap();
        assert_eq!(d.model, SONNET);
        assert!(
            d.reason.starts_with(
                "pinned model anthropic/claude-haiku-4-5 cannot serve this request \
                 (context window 1000 tokens"
            ),
            "{}",
            d.reason
        );
        let next = r
            .route(&in_conversation(ask("thanks"), "c"), &lookup, 2)
            .unwrap();
        assert_eq!(next.model, SONNET, "re-pinned to the model that served it");
    }

    #[test]
    fn an_explicit_complexity_beats_the_pin_and_repins() {
        let r = router();
        r.route(&in_conversation(ask("hi"), "c"), &AssumeCapable, 0)
            .unwrap();
        let mut request = in_conversation(ask("now the hard part"), "c");
        request.complexity = Some(Tier::Complex);
        assert_eq!(r.route(&request, &AssumeCapable, 1).unwrap().model, OPUS);
        let d = r
            .route(&in_conversation(ask("ok"), "c"), &AssumeCapable, 2)
            .unwrap();
        assert_eq!((d.tier, d.model.as_str()), (Tier::Complex, OPUS));
    }

    #[test]
    fn pinning_can_be_disabled_and_pins_are_per_route() {
        let config = RouterConfig {
            pinning: PinningConfig {
                enabled: false,
                ..PinningConfig::default()
            },
            ..RouterConfig::default()
        };
        let r = Router::new(config).unwrap();
        r.route(&in_conversation(ask("hi"), "c"), &AssumeCapable, 0)
            .unwrap();
        let d = r
            .route(&in_conversation(ask(HARD), "c"), &AssumeCapable, 1)
            .unwrap();
        assert_eq!(d.model, OPUS);

        let mut config = RouterConfig::default();
        config.routes.insert(
            "cheap".into(),
            TierModels {
                simple: "openai/gpt-4.1-nano".into(),
                standard: "openai/gpt-4.1-mini".into(),
                complex: "openai/gpt-4.1".into(),
            },
        );
        let r = Router::new(config).unwrap();
        r.route(&in_conversation(ask("hi"), "c"), &AssumeCapable, 0)
            .unwrap();
        let mut request = in_conversation(ask(HARD), "c");
        request.model = "cheap".into();
        assert_eq!(
            r.route(&request, &AssumeCapable, 1).unwrap().model,
            "openai/gpt-4.1"
        );
    }

    #[test]
    fn the_custom_hook_sees_the_decision_and_may_replace_it() {
        let r = router().with_hook(Box::new(|request: &Request, decision: &RouteDecision| {
            let vip = request.metadata.end_user_id.as_deref() == Some("vip");
            vip.then(|| RouteDecision {
                tier: Tier::Complex,
                model: "claude-opus-4-6".into(),
                reason: String::new(),
                ..decision.clone()
            })
        }));
        let mut request = in_conversation(ask("hi"), "c");
        assert_eq!(r.route(&request, &AssumeCapable, 0).unwrap().model, HAIKU);
        let mut request2 = in_conversation(ask("hi"), "c2");
        request2.metadata.end_user_id = Some("vip".into());
        let d = r.route(&request2, &AssumeCapable, 0).unwrap();
        assert_eq!(
            (d.model.as_str(), d.reason.as_str()),
            (OPUS, "custom router")
        );
        // The hook's choice is pinned like any other.
        request.metadata.conversation_id = Some("c2".into());
        let d = r.route(&request, &AssumeCapable, 1).unwrap();
        assert_eq!(d.model, OPUS);
        assert!(d.reason.starts_with("pinned:"), "{}", d.reason);
    }

    #[test]
    fn a_hook_choosing_an_unknown_model_is_a_config_error() {
        let r = router().with_hook(Box::new(|_: &Request, d: &RouteDecision| {
            Some(RouteDecision {
                model: "mystery-model".into(),
                ..d.clone()
            })
        }));
        let err = r.route(&ask("hi"), &AssumeCapable, 0).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.message().contains("mystery-model"), "{}", err.message());
    }

    #[test]
    fn the_tutorial_router_routes_on_length_and_keywords_only() {
        let config = RouterConfig::length_and_keywords(200, TUTORIAL_KEYWORDS, Tier::Standard);
        let r = Router::new(config).unwrap();
        let tier = |text: &str| r.route(&ask(text), &AssumeCapable, 0).unwrap().tier;
        assert_eq!(tier("Prove that sqrt(2) is irrational."), Tier::Simple);
        assert_eq!(tier("Please explain recursion."), Tier::Standard);
        assert_eq!(tier(&"a".repeat(199)), Tier::Simple);
        assert_eq!(tier(&"a".repeat(200)), Tier::Standard);
        assert_eq!(tier(HARD), Tier::Standard, "never complex");
    }
}
