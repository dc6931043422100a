//! The two formats a price entry comes in, detected per entry: this crate's (camelCase, USD per
//! million tokens, as in `data/prices.json`) and LiteLLM's `model_prices_and_context_window.json`
//! (snake_case, USD per token).
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{LongPromptTier, ModelPrice, Rate, Rates, Ratio};
use crate::core::error::{Error, ErrorKind};
use crate::core::model::{ModelRef, Provider};

pub(super) fn config_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, message)
}

#[derive(Deserialize)]
pub(super) struct TableFile {
    pub checked: Option<String>,
    pub models: Map<String, Value>,
}

/// One model in this crate's format. Prices are USD per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PriceEntry {
    /// Required unless the key is `provider/model` or the name has a known prefix
    /// (`claude-`, `gpt-`, `gemini-`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Provider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub input: f64,
    pub output: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    #[serde(
        default,
        rename = "cacheWrite5m",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_5m: Option<f64>,
    #[serde(
        default,
        rename = "cacheWrite1h",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_1h: Option<f64>,
    /// Batch price as a multiple of every other price (e.g. 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_multiplier: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub long_prompt_tiers: Vec<TierEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Prices for a whole request whose total input exceeds `above_input_tokens`. Cache prices left
/// out are those of the base tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierEntry {
    pub above_input_tokens: u64,
    pub input: f64,
    pub output: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<f64>,
    #[serde(
        default,
        rename = "cacheWrite5m",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_5m: Option<f64>,
    #[serde(
        default,
        rename = "cacheWrite1h",
        skip_serializing_if = "Option::is_none"
    )]
    pub cache_write_1h: Option<f64>,
}

/// Price overrides: an object mapping a model id (bare or `provider/id`) to an entry in this
/// crate's format or in LiteLLM's, detected per entry. A whole LiteLLM price file is accepted:
/// entries for other providers (Azure, Bedrock, ...) or not priced per token are skipped and
/// reported as one warning by [`super::PriceTable::apply`].
///
/// Deserialise it from the JS face's `prices` option, or build it with
/// [`PriceOverrides::from_json_str`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceOverrides {
    pub(super) models: Vec<ModelPrice>,
    pub(super) skipped: Vec<String>,
}

impl PriceOverrides {
    pub fn from_json_str(json: &str) -> Result<PriceOverrides, Error> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| config_error(format!("price overrides: {e}")))?;
        PriceOverrides::from_value(value)
    }

    pub fn from_value(value: Value) -> Result<PriceOverrides, Error> {
        match value {
            Value::Object(map) => PriceOverrides::from_map(map),
            _ => Err(config_error(
                "price overrides must be an object mapping model ids to prices",
            )),
        }
    }

    pub(super) fn from_map(map: Map<String, Value>) -> Result<PriceOverrides, Error> {
        let mut overrides = PriceOverrides::default();
        for (key, value) in map {
            // LiteLLM's file documents its own schema under this key.
            if key == "sample_spec" {
                continue;
            }
            let Value::Object(fields) = value else {
                return Err(config_error(format!("price of `{key}` must be an object")));
            };
            match parse_entry(&key, fields)? {
                Some(price) => overrides.models.push(price),
                None => overrides.skipped.push(key),
            }
        }
        Ok(overrides)
    }

    pub fn models(&self) -> &[ModelPrice] {
        &self.models
    }

    /// Keys of entries that were skipped (another provider's model, or not priced per token).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

impl<'de> Deserialize<'de> for PriceOverrides {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Map::<String, Value>::deserialize(d)?;
        PriceOverrides::from_map(map).map_err(|e| serde::de::Error::custom(e.message()))
    }
}

/// Which format an entry is in: LiteLLM's keys are snake_case and priced per token; ours are
/// camelCase and priced per million.
fn is_litellm(fields: &Map<String, Value>) -> bool {
    fields.keys().any(|k| {
        k == "litellm_provider"
            || k.contains("cost_per_token")
            || k.contains("input_token_cost")
            || k == "max_input_tokens"
    })
}

fn is_ours(fields: &Map<String, Value>) -> bool {
    fields.contains_key("input") || fields.contains_key("output")
}

fn parse_entry(key: &str, fields: Map<String, Value>) -> Result<Option<ModelPrice>, Error> {
    match (is_litellm(&fields), is_ours(&fields)) {
        (true, true) => Err(config_error(format!(
            "price of `{key}` mixes LiteLLM fields (`input_cost_per_token`, ...) with this \
             crate's (`input`, `output`): use one format per entry"
        ))),
        (true, false) => parse_litellm(key, &fields),
        (false, true) => {
            let entry: PriceEntry = serde_json::from_value(Value::Object(fields))
                .map_err(|e| config_error(format!("price of `{key}`: {e}")))?;
            entry.into_model_price(key).map(Some)
        }
        (false, false) => Err(config_error(format!(
            "price of `{key}` is in no known format: give `input` and `output` in USD per \
             million tokens, or LiteLLM's `input_cost_per_token` and `output_cost_per_token`"
        ))),
    }
}

/// Splits `provider/id` keys; checks the provider against an explicit one; infers it from the
/// name's prefix as a last resort.
fn resolve_id(key: &str, explicit: Option<Provider>) -> Result<(Provider, String), Error> {
    let (qualifier, id) = match key.split_once('/') {
        Some((prefix, rest)) if Provider::from_name(prefix).is_some() => {
            (Provider::from_name(prefix), rest)
        }
        _ => (None, key),
    };
    if id.is_empty() {
        return Err(config_error(format!("price key `{key}` names no model")));
    }
    let provider = match (explicit, qualifier) {
        (Some(a), Some(b)) if a != b => {
            return Err(config_error(format!(
                "price of `{key}` says provider `{a}` but its key says `{b}`"
            )))
        }
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => {
            ModelRef::parse(id)
                .map_err(|_| {
                    config_error(format!(
                    "price of `{key}`: say which provider serves it (`provider`, or a key such \
                     as `openai/{key}`)"
                ))
                })?
                .provider
        }
    };
    Ok((provider, id.to_string()))
}

fn rate(key: &str, field: &str, usd_per_million: f64) -> Result<Rate, Error> {
    Rate::from_usd_per_million(usd_per_million).ok_or_else(|| {
        config_error(format!(
            "price of `{key}`: `{field}` must be a non-negative number of USD per million \
             tokens, got {usd_per_million}"
        ))
    })
}

fn optional_rate(key: &str, field: &str, value: Option<f64>) -> Result<Option<Rate>, Error> {
    value.map(|v| rate(key, field, v)).transpose()
}

impl PriceEntry {
    fn into_model_price(self, key: &str) -> Result<ModelPrice, Error> {
        let (provider, id) = resolve_id(key, self.provider)?;
        let rates = Rates {
            input: rate(key, "input", self.input)?,
            output: rate(key, "output", self.output)?,
            cache_read: optional_rate(key, "cacheRead", self.cache_read)?,
            cache_write_5m: optional_rate(key, "cacheWrite5m", self.cache_write_5m)?,
            cache_write_1h: optional_rate(key, "cacheWrite1h", self.cache_write_1h)?,
        };
        let mut long_prompt_tiers = self
            .long_prompt_tiers
            .iter()
            .map(|tier| {
                Ok(LongPromptTier {
                    above_input_tokens: tier.above_input_tokens,
                    rates: Rates {
                        input: rate(key, "longPromptTiers.input", tier.input)?,
                        output: rate(key, "longPromptTiers.output", tier.output)?,
                        cache_read: optional_rate(
                            key,
                            "longPromptTiers.cacheRead",
                            tier.cache_read,
                        )?
                        .or(rates.cache_read),
                        cache_write_5m: optional_rate(
                            key,
                            "longPromptTiers.cacheWrite5m",
                            tier.cache_write_5m,
                        )?
                        .or(rates.cache_write_5m),
                        cache_write_1h: optional_rate(
                            key,
                            "longPromptTiers.cacheWrite1h",
                            tier.cache_write_1h,
                        )?
                        .or(rates.cache_write_1h),
                    },
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        long_prompt_tiers.sort_by_key(|tier| tier.above_input_tokens);
        let batch_multiplier = self
            .batch_multiplier
            .map(|m| {
                Ratio::from_f64(m).ok_or_else(|| {
                    config_error(format!(
                        "price of `{key}`: `batchMultiplier` must be in (0, 1], got {m}"
                    ))
                })
            })
            .transpose()?;
        Ok(ModelPrice {
            id,
            provider,
            aliases: self.aliases,
            rates,
            long_prompt_tiers,
            batch_multiplier,
            context_window: self.context_window,
            max_output_tokens: self.max_output_tokens,
            notes: self.notes,
        })
    }
}

/// LiteLLM's price fields for one tier, keyed by the field name without its
/// `_above_<N>k_tokens` suffix.
const LITELLM_INPUT: &str = "input_cost_per_token";
const LITELLM_OUTPUT: &str = "output_cost_per_token";
const LITELLM_CACHE_READ: &str = "cache_read_input_token_cost";
const LITELLM_CACHE_WRITE_5M: &str = "cache_creation_input_token_cost";
const LITELLM_CACHE_WRITE_1H: &str = "cache_creation_input_token_cost_above_1hr";
/// Modes priced per input/output token; embeddings, images, audio etc. are skipped.
const LITELLM_TEXT_MODES: [&str; 3] = ["chat", "completion", "responses"];

/// Parses a LiteLLM entry; `Ok(None)` when it is not for a provider llm-edge speaks, or not a
/// text model priced per token.
fn parse_litellm(key: &str, fields: &Map<String, Value>) -> Result<Option<ModelPrice>, Error> {
    let provider = match fields.get("litellm_provider") {
        Some(Value::String(name)) => match name.as_str() {
            "anthropic" => Some(Provider::Anthropic),
            "openai" => Some(Provider::OpenAi),
            "gemini" => Some(Provider::Gemini),
            _ => return Ok(None),
        },
        _ => None,
    };
    if let Some(Value::String(mode)) = fields.get("mode") {
        if !LITELLM_TEXT_MODES.contains(&mode.as_str()) {
            return Ok(None);
        }
    }
    let number = |field: &str| -> Result<Option<f64>, Error> {
        match fields.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(config_error(format!(
                "price of `{key}`: `{field}` must be a number, got {other}"
            ))),
        }
    };
    let per_token = |field: &str, value: f64| -> Result<Rate, Error> {
        Rate::from_usd_per_token(value).ok_or_else(|| {
            config_error(format!(
                "price of `{key}`: `{field}` must be a non-negative USD-per-token number, got {value}"
            ))
        })
    };
    let (Some(input), Some(output)) = (number(LITELLM_INPUT)?, number(LITELLM_OUTPUT)?) else {
        return Ok(None);
    };
    let Ok((provider, id)) = resolve_id(key, provider) else {
        return Ok(None);
    };
    let optional = |field: &str| -> Result<Option<Rate>, Error> {
        number(field)?.map(|v| per_token(field, v)).transpose()
    };
    let rates = Rates {
        input: per_token(LITELLM_INPUT, input)?,
        output: per_token(LITELLM_OUTPUT, output)?,
        cache_read: optional(LITELLM_CACHE_READ)?,
        cache_write_5m: optional(LITELLM_CACHE_WRITE_5M)?,
        cache_write_1h: optional(LITELLM_CACHE_WRITE_1H)?,
    };

    // Tiers: `<field>_above_<N>k_tokens`; a field a tier leaves out keeps the base price.
    let mut thresholds: Vec<u64> = fields
        .keys()
        .filter_map(|k| tier_suffix(k).map(|(_, n)| n))
        .collect();
    thresholds.sort_unstable();
    thresholds.dedup();
    let mut long_prompt_tiers = Vec::new();
    for threshold in thresholds {
        let field = |base: &str| format!("{base}_above_{}k_tokens", threshold / 1000);
        let tier_rate = |base: &str, fallback: Rate| -> Result<Rate, Error> {
            Ok(optional(&field(base))?.unwrap_or(fallback))
        };
        let tier_optional = |base: &str, fallback: Option<Rate>| -> Result<Option<Rate>, Error> {
            Ok(optional(&field(base))?.or(fallback))
        };
        long_prompt_tiers.push(LongPromptTier {
            above_input_tokens: threshold,
            rates: Rates {
                input: tier_rate(LITELLM_INPUT, rates.input)?,
                output: tier_rate(LITELLM_OUTPUT, rates.output)?,
                cache_read: tier_optional(LITELLM_CACHE_READ, rates.cache_read)?,
                cache_write_5m: tier_optional(LITELLM_CACHE_WRITE_5M, rates.cache_write_5m)?,
                cache_write_1h: tier_optional(LITELLM_CACHE_WRITE_1H, rates.cache_write_1h)?,
            },
        });
    }

    // LiteLLM gives batch prices per class; llm-edge keeps one multiplier, so they must agree.
    let batch_ratio = |field: &str, base: Rate| -> Result<Option<Ratio>, Error> {
        let Some(batch) = optional(field)? else {
            return Ok(None);
        };
        if base.0 == 0 {
            return Ok(None);
        }
        let ppm = (u128::from(batch.0) * 1_000_000 + u128::from(base.0) / 2) / u128::from(base.0);
        Ok(Some(Ratio(ppm.min(u128::from(u32::MAX)) as u32)))
    };
    let batch_multiplier = match (
        batch_ratio("input_cost_per_token_batches", rates.input)?,
        batch_ratio("output_cost_per_token_batches", rates.output)?,
    ) {
        (Some(a), Some(b)) if a.0.abs_diff(b.0) > 1 => {
            return Err(config_error(format!(
                "price of `{key}`: input and output batch discounts differ ({} vs {}); \
                 give it in this crate's format with one `batchMultiplier`",
                a.as_f64(),
                b.as_f64()
            )))
        }
        (Some(a), _) | (None, Some(a)) => Some(a),
        (None, None) => None,
    };

    let limit = |field: &str| fields.get(field).and_then(Value::as_u64);
    Ok(Some(ModelPrice {
        id,
        provider,
        aliases: Vec::new(),
        rates,
        long_prompt_tiers,
        batch_multiplier,
        context_window: limit("max_input_tokens"),
        max_output_tokens: limit("max_output_tokens").or_else(|| limit("max_tokens")),
        notes: Some(
            "from a LiteLLM price entry (max_input_tokens taken as the context window)".into(),
        ),
    }))
}

/// `input_cost_per_token_above_200k_tokens` -> (`input_cost_per_token`, 200_000).
fn tier_suffix(key: &str) -> Option<(&str, u64)> {
    let rest = key.strip_suffix("k_tokens")?;
    let at = rest.rfind("_above_")?;
    let thousands: u64 = rest[at + "_above_".len()..].parse().ok()?;
    Some((&key[..at], thousands.checked_mul(1000)?))
}

#[cfg(test)]
mod tests {
    use super::super::PriceTable;
    use super::*;
    use serde_json::json;

    fn overrides(value: Value) -> Result<PriceOverrides, Error> {
        PriceOverrides::from_value(value)
    }

    #[test]
    fn our_format_adds_a_model_and_replaces_one_whole() {
        let o = overrides(json!({
            "my-fine-tune": { "provider": "openai", "input": 3.0, "output": 12.0, "cacheRead": 1.5,
                              "aliases": ["ft-v1"], "maxOutputTokens": 4096 },
            "anthropic/claude-haiku-4-5": { "input": 2.0, "output": 10.0 }
        }))
        .unwrap();
        let (table, warnings) = PriceTable::builtin().with_overrides(o);
        assert!(warnings.is_empty());
        let ft = table.lookup("ft-v1").unwrap();
        assert_eq!(
            (ft.id.as_str(), ft.provider),
            ("my-fine-tune", Provider::OpenAi)
        );
        assert_eq!(ft.rates.cache_read, Some(Rate(1_500_000)));
        let haiku = table.lookup("claude-haiku-4-5").unwrap();
        assert_eq!(haiku.rates.input, Rate(2_000_000));
        // Replaced whole: no cache prices, no batch price, and the old alias is gone.
        assert_eq!(haiku.rates.cache_read, None);
        assert_eq!(haiku.batch_multiplier, None);
        assert!(table.lookup("claude-haiku-4-5-20251001").is_some()); // dated-snapshot rule
        assert_eq!(
            PriceTable::builtin()
                .lookup("claude-haiku-4-5")
                .unwrap()
                .rates
                .input,
            Rate(1_000_000),
            "the built-in table is untouched"
        );
    }

    #[test]
    fn litellm_entries_are_detected_and_converted() {
        let o = overrides(json!({
            "sample_spec": { "max_tokens": "LEGACY", "input_cost_per_token": 0 },
            "claude-sonnet-4-5": {
                "litellm_provider": "anthropic", "mode": "chat",
                "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
                "cache_read_input_token_cost": 3e-07,
                "cache_creation_input_token_cost": 3.75e-06,
                "cache_creation_input_token_cost_above_1hr": 6e-06,
                "input_cost_per_token_above_200k_tokens": 6e-06,
                "output_cost_per_token_above_200k_tokens": 2.25e-05,
                "cache_read_input_token_cost_above_200k_tokens": 6e-07,
                "input_cost_per_token_batches": 1.5e-06, "output_cost_per_token_batches": 7.5e-06,
                "max_input_tokens": 200000, "max_output_tokens": 64000
            },
            "gemini/gemini-2.5-flash": {
                "litellm_provider": "gemini", "mode": "chat",
                "input_cost_per_token": 3e-07, "output_cost_per_token": 2.5e-06,
                "max_input_tokens": 1048576, "max_tokens": 65535
            },
            "azure/gpt-4o": { "litellm_provider": "azure", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05 },
            "text-embedding-3-small": { "litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 2e-08, "output_cost_per_token": 0 }
        }))
        .unwrap();
        assert_eq!(o.skipped(), ["azure/gpt-4o", "text-embedding-3-small"]);
        let sonnet = o
            .models()
            .iter()
            .find(|m| m.id == "claude-sonnet-4-5")
            .unwrap();
        assert_eq!(sonnet.provider, Provider::Anthropic);
        assert_eq!(
            sonnet.rates,
            Rates {
                input: Rate(3_000_000),
                output: Rate(15_000_000),
                cache_read: Some(Rate(300_000)),
                cache_write_5m: Some(Rate(3_750_000)),
                cache_write_1h: Some(Rate(6_000_000)),
            }
        );
        assert_eq!(sonnet.batch_multiplier, Some(Ratio(500_000)));
        assert_eq!(sonnet.long_prompt_tiers.len(), 1);
        let tier = sonnet.long_prompt_tiers[0];
        assert_eq!(tier.above_input_tokens, 200_000);
        assert_eq!(tier.rates.input, Rate(6_000_000));
        assert_eq!(tier.rates.output, Rate(22_500_000));
        assert_eq!(tier.rates.cache_read, Some(Rate(600_000)));
        // Not given for the tier: the base price.
        assert_eq!(tier.rates.cache_write_1h, Some(Rate(6_000_000)));
        assert_eq!(
            (sonnet.context_window, sonnet.max_output_tokens),
            (Some(200_000), Some(64_000))
        );

        let flash = o
            .models()
            .iter()
            .find(|m| m.id == "gemini-2.5-flash")
            .unwrap();
        assert_eq!(flash.provider, Provider::Gemini);
        assert_eq!(flash.max_output_tokens, Some(65_535));

        let (_, warnings) = PriceTable::builtin().with_overrides(o);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].message.starts_with("2 price entries skipped"));
    }

    #[test]
    fn malformed_entries_are_config_errors() {
        for (value, needle) in [
            (
                json!({ "x-model": { "input": 1, "output": 2 } }),
                "say which provider",
            ),
            (
                json!({ "gpt-x": { "input": -1, "output": 2 } }),
                "non-negative",
            ),
            (
                json!({ "gpt-x": { "input": 1, "output": 2, "cachedInput": 0.5 } }),
                "unknown field",
            ),
            (
                json!({ "gpt-x": { "input": 1, "input_cost_per_token": 1e-6 } }),
                "mixes",
            ),
            (json!({ "gpt-x": { "price": 1 } }), "no known format"),
            (json!({ "gpt-x": 3 }), "must be an object"),
            (
                json!({ "anthropic/gpt-x": { "provider": "openai", "input": 1, "output": 1 } }),
                "says provider",
            ),
            (
                json!({ "gpt-x": { "input": 1, "output": 2, "batchMultiplier": 2 } }),
                "(0, 1]",
            ),
            (
                json!({ "gpt-x": { "litellm_provider": "openai", "input_cost_per_token": "1",
                                 "output_cost_per_token": 1e-6 } }),
                "must be a number",
            ),
            (
                json!({ "gpt-x": { "litellm_provider": "openai", "input_cost_per_token": 1e-6,
                                 "output_cost_per_token": 2e-6, "input_cost_per_token_batches": 5e-7,
                                 "output_cost_per_token_batches": 2e-6 } }),
                "batch discounts differ",
            ),
            (json!([1, 2]), "must be an object"),
        ] {
            let err = overrides(value.clone()).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{value}");
            assert!(err.message().contains(needle), "{value}: {}", err.message());
        }
    }

    #[test]
    fn overrides_deserialise_with_serde() {
        let o: PriceOverrides =
            serde_json::from_str(r#"{ "gpt-4o": { "input": 2.0, "output": 8.0 } }"#).unwrap();
        assert_eq!(o.models()[0].rates.output, Rate(8_000_000));
        let err = serde_json::from_str::<PriceOverrides>(r#"{ "gpt-4o": { "input": 2.0 } }"#)
            .unwrap_err();
        assert!(err.to_string().contains("missing field `output`"), "{err}");
    }

    #[test]
    fn tier_suffixes() {
        assert_eq!(
            tier_suffix("input_cost_per_token_above_200k_tokens"),
            Some(("input_cost_per_token", 200_000))
        );
        assert_eq!(
            tier_suffix("cache_creation_input_token_cost_above_1hr_above_128k_tokens"),
            Some(("cache_creation_input_token_cost_above_1hr", 128_000))
        );
        assert_eq!(
            tier_suffix("cache_creation_input_token_cost_above_1hr"),
            None
        );
    }
}
