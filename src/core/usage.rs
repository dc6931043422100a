//! Usage records: one per call, for the caller's `onUsage` hook, the proxy's logs and
//! OpenTelemetry export. A record states what happened and never invents a count: token
//! classes the provider did not report stay `null`, and a cost that had to be estimated says
//! so.
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};

use super::budget::pico_to_usd;
use super::error::{Error, ErrorKind};
use super::model::{FinishReason, Provider, Usage, Warning};

/// How a call ended: `"ok"`, `"cancelled"`, or the error kind (`"rate_limited"`,
/// `"budget_exceeded"`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Cancelled,
    /// The error kind's snake_case name.
    Error(String),
}

impl Outcome {
    pub fn from_error(error: &Error) -> Outcome {
        match error.kind() {
            ErrorKind::Cancelled => Outcome::Cancelled,
            kind => Outcome::Error(kind.as_str().to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Cancelled => "cancelled",
            Outcome::Error(kind) => kind,
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Outcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(d)?.as_str() {
            "ok" => Outcome::Ok,
            "cancelled" => Outcome::Cancelled,
            kind => Outcome::Error(kind.to_string()),
        })
    }
}

/// Whether and how the response cache answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheStatus {
    /// Caching is off for this call.
    #[default]
    Off,
    Miss,
    Hit,
    /// An expired entry served because the upstream call failed (stale-if-error).
    Stale,
    /// The answer of an identical request that was in flight.
    Coalesced,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Off => "off",
            CacheStatus::Miss => "miss",
            CacheStatus::Hit => "hit",
            CacheStatus::Stale => "stale",
            CacheStatus::Coalesced => "coalesced",
        }
    }
}

/// A fallback taken: from the first target to the one that answered (`provider/model`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub from: String,
    pub to: String,
}

/// What the call cost. `pico` is exact; `usd` is the same amount as a float for display.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    pub usd: f64,
    pub pico: u64,
    /// Computed from an estimate (the provider never reported usage, e.g. a stream that was
    /// cut before its usage chunk), not from reported counts.
    pub estimated: bool,
}

impl Cost {
    pub fn new(pico: u64, estimated: bool) -> Cost {
        Cost {
            usd: pico_to_usd(pico),
            pico,
            estimated,
        }
    }
}

/// One call, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRecord {
    /// When the call started, Unix milliseconds.
    pub time_ms: u64,
    /// llm-edge's id for the call.
    pub request_id: Option<String>,
    /// The proxy's client (API key owner).
    pub client_id: Option<String>,
    pub end_user_id: Option<String>,
    pub conversation_id: Option<String>,
    /// The model as the caller wrote it (`auto`, `anthropic/claude-haiku-4-5`, ...).
    pub requested_model: String,
    /// The provider called; `None` if the call failed before one was chosen.
    pub provider: Option<Provider>,
    /// The model name sent to the provider.
    pub model: Option<String>,
    /// The model the provider says answered (may be a dated version).
    pub response_model: Option<String>,
    /// The provider's id for the response (`msg_...`, `chatcmpl-...`).
    pub response_id: Option<String>,
    /// The provider's request id header, for support tickets.
    pub provider_request_id: Option<String>,
    /// The router's decision, `{ tier, model, reason }`, when a route was used.
    pub route: Option<Value>,
    pub usage: Usage,
    pub finish_reason: Option<FinishReason>,
    /// From the start of the call to its end (all attempts).
    pub latency_ms: Option<u64>,
    /// From the start of the call to the first content (streams).
    pub time_to_first_token_ms: Option<u64>,
    /// Upstream attempts made (0 when the cache answered or the call was refused first).
    pub attempts: u32,
    pub fallback: Option<Fallback>,
    pub cache: CacheStatus,
    /// Answered from an expired cache entry because every target failed (`cache` is `stale`).
    #[serde(default)]
    pub stale: bool,
    /// `None` when the model has no known price.
    pub cost: Option<Cost>,
    pub outcome: Outcome,
    /// What content screening found, if it ran and found something.
    pub screening: Option<Value>,
    /// What input hygiene removed, per message part (`[{message, part, changes}]`), if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitized: Option<Value>,
    /// Everything the call warned about: settings a provider could not honour, a price that
    /// is unknown, a `maxTokens` lowered by the budget, a prompt too short to cache.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl UsageRecord {
    /// A record with nothing known yet beyond the start time, the requested model and the
    /// outcome.
    pub fn new(time_ms: u64, requested_model: impl Into<String>, outcome: Outcome) -> Self {
        UsageRecord {
            time_ms,
            request_id: None,
            client_id: None,
            end_user_id: None,
            conversation_id: None,
            requested_model: requested_model.into(),
            provider: None,
            model: None,
            response_model: None,
            response_id: None,
            provider_request_id: None,
            route: None,
            usage: Usage::default(),
            finish_reason: None,
            latency_ms: None,
            time_to_first_token_ms: None,
            attempts: 0,
            fallback: None,
            cache: CacheStatus::Off,
            stale: false,
            cost: None,
            outcome,
            screening: None,
            sanitized: None,
            warnings: Vec::new(),
        }
    }
}

/// The `gen_ai.provider.name` value for a provider (Gemini's API at
/// generativelanguage.googleapis.com is `gcp.gemini`).
fn otel_provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Anthropic => "anthropic",
        Provider::OpenAi => "openai",
        Provider::Gemini => "gcp.gemini",
    }
}

/// The record as OpenTelemetry span attributes, following the GenAI semantic conventions of
/// the open-telemetry/semantic-conventions registry as of early 2026 (after PR #3163, which
/// added `gen_ai.usage.cache_read.input_tokens` / `cache_creation.input_tokens` and made
/// `gen_ai.usage.input_tokens` include cached tokens, and PR #3383, which added
/// `gen_ai.usage.reasoning.output_tokens`). `gen_ai.system`, deprecated in favour of
/// `gen_ai.provider.name` (v1.37), is emitted too for backends that still key on it.
/// Everything else is under `llm_edge.*`. Attributes whose value is unknown are left out.
///
/// The end user's id is not exported (telemetry backends are rarely the place for it).
pub fn to_otel_attributes(record: &UsageRecord) -> Vec<(String, Value)> {
    let mut attrs: Vec<(String, Value)> = Vec::new();
    let mut put = |name: &str, value: Value| attrs.push((name.to_string(), value));

    put("gen_ai.operation.name", json!("chat"));
    if let Some(provider) = record.provider {
        put("gen_ai.provider.name", json!(otel_provider_name(provider)));
        put("gen_ai.system", json!(otel_provider_name(provider)));
    }
    put(
        "gen_ai.request.model",
        json!(record.model.as_deref().unwrap_or(&record.requested_model)),
    );
    if let Some(model) = &record.response_model {
        put("gen_ai.response.model", json!(model));
    }
    if let Some(id) = &record.response_id {
        put("gen_ai.response.id", json!(id));
    }
    if let Some(reason) = &record.finish_reason {
        // The provider's own word when it gave one, as other instrumentations report it.
        let name = match &reason.raw {
            Some(raw) => raw.clone(),
            None => serde_json::to_value(reason.unified)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        };
        put("gen_ai.response.finish_reasons", json!([name]));
    }
    if let Some(id) = &record.conversation_id {
        put("gen_ai.conversation.id", json!(id));
    }

    let usage = &record.usage;
    let cache_writes = match (usage.cache_write_5m_tokens, usage.cache_write_1h_tokens) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    for (name, value) in [
        // All input, cached included, as the convention requires.
        ("gen_ai.usage.input_tokens", usage.total_input_tokens()),
        ("gen_ai.usage.output_tokens", usage.output_tokens),
        (
            "gen_ai.usage.cache_read.input_tokens",
            usage.cache_read_tokens,
        ),
        ("gen_ai.usage.cache_creation.input_tokens", cache_writes),
        (
            "gen_ai.usage.reasoning.output_tokens",
            usage.reasoning_tokens,
        ),
        ("llm_edge.usage.uncached_input_tokens", usage.input_tokens),
        (
            "llm_edge.usage.cache_write_5m_tokens",
            usage.cache_write_5m_tokens,
        ),
        (
            "llm_edge.usage.cache_write_1h_tokens",
            usage.cache_write_1h_tokens,
        ),
    ] {
        if let Some(count) = value {
            put(name, json!(count));
        }
    }

    if record.outcome != Outcome::Ok {
        put("error.type", json!(record.outcome.as_str()));
    }
    put("llm_edge.outcome", json!(record.outcome.as_str()));
    if let Some(id) = &record.request_id {
        put("llm_edge.request.id", json!(id));
    }
    if let Some(id) = &record.provider_request_id {
        put("llm_edge.provider_request.id", json!(id));
    }
    if let Some(id) = &record.client_id {
        put("llm_edge.client.id", json!(id));
    }
    if let Some(cost) = &record.cost {
        put("llm_edge.cost.usd", json!(cost.usd));
        put("llm_edge.cost.picodollars", json!(cost.pico));
        put("llm_edge.cost.estimated", json!(cost.estimated));
    }
    put("llm_edge.attempts", json!(record.attempts));
    put("llm_edge.cache", json!(record.cache.as_str()));
    if let Some(fallback) = &record.fallback {
        put("llm_edge.fallback.from", json!(fallback.from));
        put("llm_edge.fallback.to", json!(fallback.to));
    }
    if let Some(ms) = record.latency_ms {
        put("llm_edge.latency_ms", json!(ms));
    }
    if let Some(ms) = record.time_to_first_token_ms {
        put("llm_edge.time_to_first_token_ms", json!(ms));
    }
    match &record.route {
        Some(Value::Object(route)) => {
            for field in ["tier", "model", "reason"] {
                if let Some(value) = route.get(field).filter(|v| !v.is_null()) {
                    put(&format!("llm_edge.route.{field}"), otel_scalar(value));
                }
            }
        }
        Some(other) if !other.is_null() => put("llm_edge.route", otel_scalar(other)),
        _ => {}
    }
    attrs
}

/// OpenTelemetry attribute values are scalars or arrays of scalars: anything else is sent as
/// its JSON text.
fn otel_scalar(value: &Value) -> Value {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => value.clone(),
        other => Value::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::FinishKind;

    fn record() -> UsageRecord {
        let mut r = UsageRecord::new(1_795_780_800_000, "auto", Outcome::Ok);
        r.request_id = Some("req_1".into());
        r.client_id = Some("team-a".into());
        r.end_user_id = Some("user-9".into());
        r.conversation_id = Some("conv-1".into());
        r.provider = Some(Provider::Anthropic);
        r.model = Some("claude-haiku-4-5".into());
        r.response_model = Some("claude-haiku-4-5-20251001".into());
        r.response_id = Some("msg_1".into());
        r.route = Some(
            json!({ "tier": "small", "model": "anthropic/claude-haiku-4-5", "reason": "short prompt" }),
        );
        r.usage = Usage {
            input_tokens: Some(10),
            cache_read_tokens: Some(1_000),
            cache_write_5m_tokens: Some(50),
            output_tokens: Some(20),
            ..Usage::default()
        };
        r.finish_reason = Some(FinishReason::new(FinishKind::Stop, "end_turn"));
        r.latency_ms = Some(812);
        r.time_to_first_token_ms = Some(240);
        r.attempts = 2;
        r.fallback = Some(Fallback {
            from: "openai/gpt-4o-mini".into(),
            to: "anthropic/claude-haiku-4-5".into(),
        });
        r.cache = CacheStatus::Miss;
        r.cost = Some(Cost::new(32_500_000, false));
        r
    }

    fn attr<'a>(attrs: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
        attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    #[test]
    fn record_serialises_camel_case_and_round_trips() {
        let r = record();
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["timeMs"], 1_795_780_800_000u64);
        assert_eq!(json["requestedModel"], "auto");
        assert_eq!(json["usage"]["cacheReadTokens"], 1_000);
        assert_eq!(json["usage"]["reasoningTokens"], Value::Null);
        assert_eq!(json["timeToFirstTokenMs"], 240);
        assert_eq!(
            json["fallback"],
            json!({ "from": "openai/gpt-4o-mini", "to": "anthropic/claude-haiku-4-5" })
        );
        assert_eq!(json["cache"], "miss");
        assert_eq!(
            json["cost"],
            json!({ "usd": 3.25e-5, "pico": 32_500_000, "estimated": false })
        );
        assert_eq!(json["outcome"], "ok");
        let back: UsageRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn outcome_is_ok_cancelled_or_the_error_kind() {
        let limited = Error::new(ErrorKind::RateLimited, "slow down");
        assert_eq!(
            Outcome::from_error(&limited),
            Outcome::Error("rate_limited".into())
        );
        let cancelled = Error::new(ErrorKind::Cancelled, "aborted");
        assert_eq!(Outcome::from_error(&cancelled), Outcome::Cancelled);
        assert_eq!(
            serde_json::to_value(Outcome::Cancelled).unwrap(),
            "cancelled"
        );
        let parsed: Outcome = serde_json::from_value(json!("budget_exceeded")).unwrap();
        assert_eq!(parsed, Outcome::Error("budget_exceeded".into()));
    }

    #[test]
    fn otel_attributes_follow_the_gen_ai_conventions() {
        let attrs = to_otel_attributes(&record());
        let expect = [
            ("gen_ai.operation.name", json!("chat")),
            ("gen_ai.provider.name", json!("anthropic")),
            ("gen_ai.system", json!("anthropic")),
            ("gen_ai.request.model", json!("claude-haiku-4-5")),
            ("gen_ai.response.model", json!("claude-haiku-4-5-20251001")),
            ("gen_ai.response.id", json!("msg_1")),
            ("gen_ai.response.finish_reasons", json!(["end_turn"])),
            ("gen_ai.conversation.id", json!("conv-1")),
            // 10 uncached + 1000 read + 50 written.
            ("gen_ai.usage.input_tokens", json!(1_060)),
            ("gen_ai.usage.output_tokens", json!(20)),
            ("gen_ai.usage.cache_read.input_tokens", json!(1_000)),
            ("gen_ai.usage.cache_creation.input_tokens", json!(50)),
            ("llm_edge.usage.uncached_input_tokens", json!(10)),
            ("llm_edge.usage.cache_write_5m_tokens", json!(50)),
            ("llm_edge.outcome", json!("ok")),
            ("llm_edge.request.id", json!("req_1")),
            ("llm_edge.client.id", json!("team-a")),
            ("llm_edge.cost.usd", json!(3.25e-5)),
            ("llm_edge.cost.picodollars", json!(32_500_000)),
            ("llm_edge.cost.estimated", json!(false)),
            ("llm_edge.attempts", json!(2)),
            ("llm_edge.cache", json!("miss")),
            ("llm_edge.fallback.from", json!("openai/gpt-4o-mini")),
            ("llm_edge.fallback.to", json!("anthropic/claude-haiku-4-5")),
            ("llm_edge.latency_ms", json!(812)),
            ("llm_edge.time_to_first_token_ms", json!(240)),
            ("llm_edge.route.tier", json!("small")),
            ("llm_edge.route.model", json!("anthropic/claude-haiku-4-5")),
            ("llm_edge.route.reason", json!("short prompt")),
        ];
        for (name, value) in &expect {
            assert_eq!(attr(&attrs, name), Some(value), "{name}");
        }
        assert_eq!(attrs.len(), expect.len(), "{attrs:?}");
        // Not reported, so not exported; the end user stays out of telemetry.
        assert_eq!(attr(&attrs, "gen_ai.usage.reasoning.output_tokens"), None);
        assert_eq!(attr(&attrs, "error.type"), None);
        assert!(!attrs.iter().any(|(_, v)| v == "user-9"));
    }

    #[test]
    fn otel_attributes_of_a_failed_call_carry_the_error_type_and_no_invented_counts() {
        let mut r = UsageRecord::new(0, "gemini-2.5-flash", Outcome::Error("overloaded".into()));
        r.provider = Some(Provider::Gemini);
        r.route = Some(json!("pinned"));
        let attrs = to_otel_attributes(&r);
        assert_eq!(
            attr(&attrs, "gen_ai.provider.name"),
            Some(&json!("gcp.gemini"))
        );
        assert_eq!(
            attr(&attrs, "gen_ai.request.model"),
            Some(&json!("gemini-2.5-flash"))
        );
        assert_eq!(attr(&attrs, "error.type"), Some(&json!("overloaded")));
        assert_eq!(attr(&attrs, "llm_edge.route"), Some(&json!("pinned")));
        assert!(attrs.iter().all(|(n, _)| !n.starts_with("gen_ai.usage.")));
        assert_eq!(attr(&attrs, "llm_edge.cost.usd"), None);
    }
}
