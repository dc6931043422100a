//! What a request costs, exactly: tokens × integer prices in picodollars, added up as integers;
//! USD as `f64` only for display. Also the cost estimate before a call, the cost of a stream that
//! was cut, and a monthly projection.
//!
//! Usage semantics (see [`Usage`]): `input_tokens` is *uncached* input for every provider (the
//! adapters subtract OpenAI's and Gemini's cached tokens from their prompt counts), and
//! `output_tokens` already includes reasoning / thinking tokens, so reasoning is never billed
//! twice. A long-prompt tier is chosen by the request's total input: uncached + cache reads +
//! cache writes.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use super::error::{Error, ErrorKind};
use super::model::{Provider, Request, Usage, Warning};
use super::pricing::{ModelPrice, PriceTable, Rate, Ratio};
use super::tokens::{estimate_request_tokens, estimate_text_tokens, RequestTokens};

/// An amount of money in picodollars (10^-12 USD): a token count times a [`Rate`] is exact.
/// Serialises as USD (`f64`) for the JS face.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Picodollars(pub u128);

impl Picodollars {
    pub const ZERO: Picodollars = Picodollars(0);
    const PER_USD: u128 = 1_000_000_000_000;

    pub fn cost(tokens: u64, rate: Rate) -> Picodollars {
        Picodollars(u128::from(tokens) * u128::from(rate.0))
    }

    /// USD for display; exact to well below a micro-dollar for any realistic amount.
    pub fn usd(self) -> f64 {
        self.0 as f64 / Self::PER_USD as f64
    }

    /// Whole micro-dollars, rounded half up.
    pub fn micro_usd(self) -> u128 {
        (self.0 + 500_000) / 1_000_000
    }

    pub fn checked_add(self, other: Picodollars) -> Option<Picodollars> {
        self.0.checked_add(other.0).map(Picodollars)
    }
}

impl std::ops::Add for Picodollars {
    type Output = Picodollars;
    fn add(self, other: Picodollars) -> Picodollars {
        Picodollars(self.0 + other.0)
    }
}

impl std::iter::Sum for Picodollars {
    fn sum<I: Iterator<Item = Picodollars>>(iter: I) -> Picodollars {
        iter.fold(Picodollars::ZERO, |a, b| a + b)
    }
}

/// `$0.0015`: exact decimal, trailing zeros trimmed.
impl std::fmt::Display for Picodollars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (whole, frac) = (self.0 / Self::PER_USD, self.0 % Self::PER_USD);
        if frac == 0 {
            return write!(f, "${whole}");
        }
        let digits = format!("{frac:012}");
        write!(f, "${whole}.{}", digits.trim_end_matches('0'))
    }
}

impl Serialize for Picodollars {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.usd())
    }
}

/// The cost of one request, per billing class. Reasoning is inside `output`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostBreakdown {
    /// The price entry used (`provider/id`).
    pub model: String,
    #[serde(rename = "totalUsd")]
    pub total: Picodollars,
    /// Uncached input.
    #[serde(rename = "inputUsd")]
    pub input: Picodollars,
    #[serde(rename = "cacheReadUsd")]
    pub cache_read: Picodollars,
    #[serde(rename = "cacheWrite5mUsd")]
    pub cache_write_5m: Picodollars,
    #[serde(rename = "cacheWrite1hUsd")]
    pub cache_write_1h: Picodollars,
    #[serde(rename = "outputUsd")]
    pub output: Picodollars,
    /// The threshold of the long-prompt tier that priced the request, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long_prompt_tier_above: Option<u64>,
    pub batch: bool,
    /// Some token count was estimated rather than reported (an interrupted stream).
    pub estimated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

impl CostBreakdown {
    pub fn total_usd(&self) -> f64 {
        self.total.usd()
    }
}

/// The cost of `usage` at `price`. Missing counts are zero when at least the input or the output
/// count is known; with neither the cost is unknown (`None`), never a guess.
///
/// With `batch`, every rate is multiplied by the model's batch multiplier (a warning, and full
/// price, if it has none). A cache class the model has no price for is billed at the input
/// price, with a warning.
pub fn cost_of(usage: &Usage, price: &ModelPrice, batch: bool) -> Option<CostBreakdown> {
    if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
        return None;
    }
    let count = |n: Option<u64>| n.unwrap_or(0);
    let total_input = usage.total_input_tokens().unwrap_or(0);
    let (mut rates, tier) = price.rates_for_input(total_input);
    let mut warnings = Vec::new();
    if batch {
        match price.batch_multiplier {
            Some(multiplier) => rates = rates.scaled(multiplier),
            None => warnings.push(warning(format!(
                "no batch price known for `{}`: billed at the standard price",
                price.qualified_id()
            ))),
        }
    }
    let mut class_cost = |tokens: u64, rate: Option<Rate>, class: &str| {
        if tokens > 0 && rate.is_none() {
            warnings.push(warning(format!(
                "no {class} price known for `{}`: billed at the input price",
                price.qualified_id()
            )));
        }
        Picodollars::cost(tokens, rate.unwrap_or(rates.input))
    };
    let cache_read = class_cost(
        count(usage.cache_read_tokens),
        rates.cache_read,
        "cache-read",
    );
    let cache_write_5m = class_cost(
        count(usage.cache_write_5m_tokens),
        rates.cache_write_5m,
        "5-minute cache-write",
    );
    let cache_write_1h = class_cost(
        count(usage.cache_write_1h_tokens),
        rates.cache_write_1h,
        "1-hour cache-write",
    );
    let input = Picodollars::cost(count(usage.input_tokens), rates.input);
    let output = Picodollars::cost(count(usage.output_tokens), rates.output);
    Some(CostBreakdown {
        model: price.qualified_id(),
        total: input + cache_read + cache_write_5m + cache_write_1h + output,
        input,
        cache_read,
        cache_write_5m,
        cache_write_1h,
        output,
        long_prompt_tier_above: tier,
        batch,
        estimated: false,
        warnings,
    })
}

fn warning(message: String) -> Warning {
    Warning {
        setting: "cost".to_string(),
        message,
    }
}

/// A response's cost for the JS face's `res.costUsd`: `cost` is `None` when the model has no
/// known price or the usage says nothing, and `warnings` says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostReport {
    pub cost: Option<CostBreakdown>,
    pub warnings: Vec<Warning>,
}

/// Looks `model` up in `table` and prices `usage`.
pub fn cost_for_model(table: &PriceTable, model: &str, usage: &Usage, batch: bool) -> CostReport {
    match table.lookup_or_warn(model) {
        Err(unknown) => CostReport {
            cost: None,
            warnings: vec![unknown],
        },
        Ok(price) => match cost_of(usage, price, batch) {
            Some(mut cost) => CostReport {
                warnings: std::mem::take(&mut cost.warnings),
                cost: Some(cost),
            },
            None => CostReport {
                cost: None,
                warnings: vec![warning(
                    "the provider reported no token counts: cost unknown".to_string(),
                )],
            },
        },
    }
}

/// Output length assumed for the expected cost when nothing says otherwise: an assumption about
/// a typical chat reply, not a measurement. The worst case uses `maxTokens` instead.
pub const TYPICAL_OUTPUT_TOKENS: u64 = 500;

/// A cost estimate before a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CostEstimate {
    pub model: String,
    pub input_tokens: u64,
    /// `min(outputTokensMax, TYPICAL_OUTPUT_TOKENS)`.
    pub output_tokens_expected: u64,
    /// The request's `maxTokens`, else the model's output limit; `None` if neither is known.
    pub output_tokens_max: Option<u64>,
    #[serde(rename = "usdExpected")]
    pub expected: Picodollars,
    /// Input plus `outputTokensMax` of output: what a budget should reserve.
    #[serde(rename = "usdMax")]
    pub max: Option<Picodollars>,
}

/// Estimates the cost of `request` at `price` with `family`'s token estimate, before the call.
/// Assumes a cache miss: tokens up to a cache marker are priced as cache writes when the model
/// has a write price (Anthropic), so the estimate errs on the dear side for cached prompts.
pub fn estimate_cost(request: &Request, price: &ModelPrice, family: Provider) -> CostEstimate {
    let tokens = estimate_request_tokens(request, family);
    let output_tokens_max = request
        .max_tokens
        .map(u64::from)
        .or(price.max_output_tokens);
    let output_tokens_expected =
        output_tokens_max.map_or(TYPICAL_OUTPUT_TOKENS, |max| max.min(TYPICAL_OUTPUT_TOKENS));
    let input_usage = estimated_input_usage(tokens, price);
    let priced = |output: u64| {
        let usage = Usage {
            output_tokens: Some(output),
            ..input_usage
        };
        cost_of(&usage, price, false).map_or(Picodollars::ZERO, |c| c.total)
    };
    CostEstimate {
        model: price.qualified_id(),
        input_tokens: tokens.input_tokens,
        output_tokens_expected,
        output_tokens_max,
        expected: priced(output_tokens_expected),
        max: output_tokens_max.map(priced),
    }
}

/// Splits an estimated input into the usage classes: marked prefixes as cache writes where the
/// model prices them, the rest uncached.
fn estimated_input_usage(tokens: RequestTokens, price: &ModelPrice) -> Usage {
    let write_1h = if price.rates.cache_write_1h.is_some() {
        tokens.cache_write_1h_tokens
    } else {
        0
    };
    let write_5m = if price.rates.cache_write_5m.is_some() {
        tokens.cache_write_5m_tokens
    } else {
        0
    };
    Usage {
        input_tokens: Some(tokens.input_tokens.saturating_sub(write_1h + write_5m)),
        cache_write_5m_tokens: (write_5m > 0).then_some(write_5m),
        cache_write_1h_tokens: (write_1h > 0).then_some(write_1h),
        ..Usage::default()
    }
}

/// The cost of a stream that was aborted or cut: from the usage received where it says enough,
/// else from estimates, flagged `estimated`.
///
/// - Input: the reported counts if any input class was reported, else the request's estimate.
/// - Output: the larger of the reported count and the estimate of `delivered_text` (all text,
///   reasoning and tool-call arguments the caller received). Reported counts may be stale
///   (Anthropic's `message_start` says 1 output token), so the estimate wins when larger.
pub fn cost_of_interrupted(
    received: &Usage,
    delivered_text: &str,
    request: &Request,
    price: &ModelPrice,
    family: Provider,
    batch: bool,
) -> CostBreakdown {
    let mut usage = *received;
    let mut estimated = false;
    if received.total_input_tokens().is_none() {
        let tokens = estimate_request_tokens(request, family);
        let input = estimated_input_usage(tokens, price);
        usage.input_tokens = input.input_tokens;
        usage.cache_write_5m_tokens = input.cache_write_5m_tokens;
        usage.cache_write_1h_tokens = input.cache_write_1h_tokens;
        estimated = true;
    }
    let delivered = estimate_text_tokens(delivered_text, family);
    if received
        .output_tokens
        .is_none_or(|reported| reported < delivered)
    {
        usage.output_tokens = Some(delivered);
        estimated = true;
    }
    let mut cost = cost_of(&usage, price, batch).expect("input and output are both set");
    cost.estimated = estimated;
    cost
}

/// Days in the projection's month.
pub const DAYS_PER_MONTH: u64 = 30;

/// The inputs of a monthly projection. Give `model` or `mix` (model -> share; shares are
/// weights, normalised by their sum, so `{a: 0.7, b: 0.3}` and `{a: 7, b: 3}` agree).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonthlyUsagePlan {
    pub requests_per_day: u64,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub mix: Option<BTreeMap<String, f64>>,
    pub avg_input_tokens: u64,
    pub avg_output_tokens: u64,
    /// Price at the batch rates.
    #[serde(default)]
    pub batch: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelMonthlyCost {
    pub model: String,
    /// This model's normalised share of the requests, in `[0, 1]`.
    pub share: f64,
    pub requests_per_month: f64,
    /// `None` when the model has no known price.
    #[serde(rename = "usd")]
    pub cost: Option<Picodollars>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthlyProjection {
    pub models: Vec<ModelMonthlyCost>,
    /// `None` if any model of the mix has no known price: a partial sum is not a total.
    #[serde(rename = "totalUsd")]
    pub total: Option<Picodollars>,
    pub warnings: Vec<Warning>,
}

/// requests/day × 30 × (avg input × input price + avg output × output price), per model of the
/// mix and in total. A planning figure: no caching, long-prompt tiers by the average input.
pub fn project_monthly_cost(
    table: &PriceTable,
    plan: &MonthlyUsagePlan,
) -> Result<MonthlyProjection, Error> {
    let invalid = |message: String| Error::new(ErrorKind::InvalidRequest, message);
    let mix: Vec<(String, f64)> = match (&plan.model, &plan.mix) {
        (Some(model), None) => vec![(model.clone(), 1.0)],
        (None, Some(mix)) if !mix.is_empty() => mix.iter().map(|(m, s)| (m.clone(), *s)).collect(),
        (Some(_), Some(_)) => return Err(invalid("give `model` or `mix`, not both".into())),
        _ => return Err(invalid("give `model` or a non-empty `mix`".into())),
    };
    if let Some((model, share)) = mix.iter().find(|(_, s)| !(s.is_finite() && *s > 0.0)) {
        return Err(invalid(format!(
            "share of `{model}` must be a positive number, got {share}"
        )));
    }
    let weight_sum: f64 = mix.iter().map(|(_, s)| s).sum();
    let monthly_requests = u128::from(plan.requests_per_day) * u128::from(DAYS_PER_MONTH);
    let usage = Usage {
        input_tokens: Some(plan.avg_input_tokens),
        output_tokens: Some(plan.avg_output_tokens),
        ..Usage::default()
    };

    let mut warnings = Vec::new();
    let mut models = Vec::new();
    for (model, weight) in mix {
        let share = weight / weight_sum;
        // The share in parts per million keeps the product integer (exact for one model).
        let share_ppm = u128::from(Ratio::from_f64(share).map_or(0, |r| r.0));
        let cost = match table.lookup_or_warn(&model) {
            Err(unknown) => {
                warnings.push(unknown);
                None
            }
            Ok(price) => {
                let mut per_request =
                    cost_of(&usage, price, plan.batch).expect("input and output are set");
                warnings.append(&mut per_request.warnings);
                let scaled = per_request
                    .total
                    .0
                    .checked_mul(monthly_requests)
                    .and_then(|v| v.checked_mul(share_ppm))
                    .ok_or_else(|| invalid("the projection overflows".into()))?;
                Some(Picodollars((scaled + 500_000) / 1_000_000))
            }
        };
        models.push(ModelMonthlyCost {
            model,
            share,
            requests_per_month: monthly_requests as f64 * share,
            cost,
        });
    }
    let total = models
        .iter()
        .map(|m| m.cost)
        .try_fold(Picodollars::ZERO, |sum, c| sum.checked_add(c?));
    Ok(MonthlyProjection {
        models,
        total,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picodollars_display_and_rounding() {
        assert_eq!(Picodollars(0).to_string(), "$0");
        assert_eq!(Picodollars(45_000_000_000_000).to_string(), "$45");
        assert_eq!(Picodollars(1_500_000_000).to_string(), "$0.0015");
        assert_eq!(Picodollars(525).to_string(), "$0.000000000525");
        assert_eq!(Picodollars(1_499_999).micro_usd(), 1);
        assert_eq!(Picodollars(1_500_000).micro_usd(), 2);
        assert_eq!(Picodollars(2_500_000_000_000).usd(), 2.5);
        assert_eq!(
            serde_json::to_string(&Picodollars(1_250_000_000)).unwrap(),
            "0.00125"
        );
    }

    #[test]
    fn cost_serialises_camel_case_usd() {
        let price = PriceTable::builtin().lookup("gpt-4o-mini").unwrap();
        let usage = Usage {
            input_tokens: Some(1_000_000),
            output_tokens: Some(1_000_000),
            ..Usage::default()
        };
        let json = serde_json::to_value(cost_of(&usage, price, false).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "model": "openai/gpt-4o-mini", "totalUsd": 0.75, "inputUsd": 0.15,
                "cacheReadUsd": 0.0, "cacheWrite5mUsd": 0.0, "cacheWrite1hUsd": 0.0,
                "outputUsd": 0.6, "batch": false, "estimated": false
            })
        );
    }

    #[test]
    fn a_usage_with_no_input_or_output_count_has_no_cost() {
        let price = PriceTable::builtin().lookup("claude-haiku-4-5").unwrap();
        let usage = Usage {
            cache_read_tokens: Some(100),
            ..Usage::default()
        };
        assert_eq!(cost_of(&usage, price, false), None);
        let report = cost_for_model(PriceTable::builtin(), "claude-haiku-4-5", &usage, false);
        assert_eq!(report.cost, None);
        assert!(report.warnings[0].message.contains("no token counts"));
    }

    #[test]
    fn estimates_price_a_marked_prefix_as_a_cache_write() {
        use crate::core::model::{CacheTtl, Message, SystemBlock};
        let mut request = Request::new("claude-haiku-4-5", vec![Message::user("Summarise.")]);
        request.system = vec![SystemBlock {
            text: "A long, stable reference document. ".repeat(50),
            cache: Some(CacheTtl::OneHour),
        }];
        request.max_tokens = Some(100);
        let price = PriceTable::builtin().lookup("claude-haiku-4-5").unwrap();
        let tokens = estimate_request_tokens(&request, Provider::Anthropic);
        assert!(tokens.cache_write_1h_tokens > 0);
        let est = estimate_cost(&request, price, Provider::Anthropic);
        // Prefix at the 1h write price ($2/M), the rest at input ($1/M), 100 output at $5/M.
        let expected = Picodollars::cost(tokens.cache_write_1h_tokens, Rate(2_000_000))
            + Picodollars::cost(
                tokens.input_tokens - tokens.cache_write_1h_tokens,
                Rate(1_000_000),
            )
            + Picodollars::cost(100, Rate(5_000_000));
        assert_eq!(est.expected, expected);
        assert_eq!(est.max, Some(expected));

        // OpenAI has no cache-write price: the same request is plain input there.
        let gpt = PriceTable::builtin().lookup("gpt-4o").unwrap();
        let tokens = estimate_request_tokens(&request, Provider::OpenAi);
        let est = estimate_cost(&request, gpt, Provider::OpenAi);
        assert_eq!(
            est.expected,
            Picodollars::cost(tokens.input_tokens, Rate(2_500_000))
                + Picodollars::cost(100, Rate(10_000_000))
        );
    }

    #[test]
    fn missing_prices_bill_at_input_with_a_warning() {
        let overrides = crate::core::pricing::PriceOverrides::from_json_str(
            r#"{ "openai/plain": { "input": 2, "output": 4 } }"#,
        )
        .unwrap();
        let (table, _) = PriceTable::builtin().with_overrides(overrides);
        let usage = Usage {
            input_tokens: Some(10),
            cache_read_tokens: Some(1_000),
            output_tokens: Some(1),
            ..Usage::default()
        };
        let report = cost_for_model(&table, "openai/plain", &usage, true);
        let cost = report.cost.unwrap();
        // 1010 input-priced tokens x $2/M + 1 x $4/M, no batch discount.
        assert_eq!(cost.total, Picodollars(1_010 * 2_000_000 + 4_000_000));
        assert_eq!(report.warnings.len(), 2, "{:?}", report.warnings);
        assert!(report.warnings[0].message.contains("batch"));
        assert!(report.warnings[1].message.contains("cache-read"));
    }
}
