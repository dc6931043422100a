//! Model prices as data: the built-in table (`data/prices.json`, dated), user overrides (in
//! that format or LiteLLM's), and model lookup by id, provider-qualified id, alias or dated
//! snapshot. Prices are integers (picodollars per token) so that costs add up exactly; see
//! [`crate::core::cost`] for the arithmetic.
use std::collections::HashMap;
use std::sync::OnceLock;

use super::error::Error;
use super::model::{Provider, Warning};

mod entry;

pub use entry::{PriceEntry, PriceOverrides, TierEntry};

/// A price per token in picodollars (10^-12 USD), which is the same number as micro-dollars
/// per million tokens: $3.00/M is `Rate(3_000_000)`, $0.075/M is `Rate(75_000)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Rate(pub u64);

impl Rate {
    /// Converts a USD-per-million-tokens figure, rounded to the micro-dollar per million (exact
    /// for any price written with at most six decimals). `None` if negative, not finite, or
    /// above $1M per million tokens.
    pub fn from_usd_per_million(usd: f64) -> Option<Rate> {
        (usd.is_finite() && (0.0..=1e6).contains(&usd)).then(|| Rate((usd * 1e6).round() as u64))
    }

    /// Converts a USD-per-token figure (LiteLLM's unit), rounded like
    /// [`Rate::from_usd_per_million`].
    pub fn from_usd_per_token(usd: f64) -> Option<Rate> {
        Rate::from_usd_per_million(usd * 1e6)
    }

    pub fn usd_per_million(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// This rate times `ratio`, rounded half up to the picodollar per token (exact whenever the
    /// product is a whole number, as it is for every built-in price and a 0.5 batch discount).
    pub fn scaled(self, ratio: Ratio) -> Rate {
        let scaled = (u128::from(self.0) * u128::from(ratio.0) + u128::from(Ratio::ONE.0 / 2))
            / u128::from(Ratio::ONE.0);
        Rate(scaled as u64)
    }
}

/// A multiplier in parts per million (`Ratio(500_000)` is 0.5), so that discounts stay
/// integer arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio(pub u32);

impl Ratio {
    pub const ONE: Ratio = Ratio(1_000_000);

    /// From a decimal multiplier in `(0, 1]`, rounded to the part per million.
    pub fn from_f64(value: f64) -> Option<Ratio> {
        (value.is_finite() && value > 0.0 && value <= 1.0)
            .then(|| Ratio((value * 1e6).round() as u32))
            .filter(|r| r.0 > 0)
    }

    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 1e6
    }
}

/// The prices of one tier: uncached input, output (reasoning included) and the cache classes a
/// provider has (`None` where it has no such price).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rates {
    pub input: Rate,
    pub output: Rate,
    pub cache_read: Option<Rate>,
    pub cache_write_5m: Option<Rate>,
    pub cache_write_1h: Option<Rate>,
}

impl Rates {
    pub fn scaled(&self, ratio: Ratio) -> Rates {
        Rates {
            input: self.input.scaled(ratio),
            output: self.output.scaled(ratio),
            cache_read: self.cache_read.map(|r| r.scaled(ratio)),
            cache_write_5m: self.cache_write_5m.map(|r| r.scaled(ratio)),
            cache_write_1h: self.cache_write_1h.map(|r| r.scaled(ratio)),
        }
    }
}

/// Prices that apply to the whole request once its total input (uncached + cache reads + cache
/// writes) exceeds `above_input_tokens` (Gemini 2.5 Pro, Sonnet 4/4.5 above 200K).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LongPromptTier {
    pub above_input_tokens: u64,
    pub rates: Rates,
}

/// Everything known about one model's price and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPrice {
    /// The canonical id (`claude-haiku-4-5`), without provider prefix.
    pub id: String,
    pub provider: Provider,
    /// Other names resolving to this entry (exact matches only).
    pub aliases: Vec<String>,
    pub rates: Rates,
    pub long_prompt_tiers: Vec<LongPromptTier>,
    /// The batch-API price as a multiplier of every rate; `None` if the model has no batch price.
    pub batch_multiplier: Option<Ratio>,
    pub context_window: Option<u64>,
    pub max_output_tokens: Option<u64>,
    pub notes: Option<String>,
}

impl ModelPrice {
    /// The rates for a request with `total_input_tokens` of input, and the threshold of the
    /// long-prompt tier applied (`None` for the base prices). At exactly the threshold the base
    /// prices apply: tiers are "above N".
    pub fn rates_for_input(&self, total_input_tokens: u64) -> (Rates, Option<u64>) {
        self.long_prompt_tiers
            .iter()
            .filter(|tier| total_input_tokens > tier.above_input_tokens)
            .max_by_key(|tier| tier.above_input_tokens)
            .map_or((self.rates, None), |tier| {
                (tier.rates, Some(tier.above_input_tokens))
            })
    }

    /// `provider/id`.
    pub fn qualified_id(&self) -> String {
        format!("{}/{}", self.provider, self.id)
    }
}

/// A set of model prices with lookup. [`PriceTable::builtin`] is the table shipped with the
/// crate; clone it and [`PriceTable::apply`] overrides to customise.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    /// When the prices were last checked against the providers' pages (`YYYY-MM-DD`).
    pub checked: Option<String>,
    models: Vec<ModelPrice>,
    /// `(provider, id or alias)` -> index into `models`.
    index: HashMap<(Provider, String), usize>,
}

static BUILTIN: OnceLock<PriceTable> = OnceLock::new();

impl PriceTable {
    /// The built-in table, parsed once on first use.
    pub fn builtin() -> &'static PriceTable {
        BUILTIN.get_or_init(|| {
            PriceTable::from_json_str(include_str!("../../../data/prices.json"))
                .expect("data/prices.json is valid (checked by the pricing tests)")
        })
    }

    /// Parses a table in the format of `data/prices.json`:
    /// `{ "checked": "YYYY-MM-DD", "models": { id: entry } }`.
    pub fn from_json_str(json: &str) -> Result<PriceTable, Error> {
        let file: entry::TableFile = serde_json::from_str(json)
            .map_err(|e| entry::config_error(format!("price table: {e}")))?;
        let overrides = PriceOverrides::from_map(file.models)?;
        if let Some(key) = overrides.skipped.first() {
            return Err(entry::config_error(format!(
                "price table: `{key}` is not an Anthropic, OpenAI or Gemini model priced per token"
            )));
        }
        let mut table = PriceTable {
            checked: file.checked,
            ..PriceTable::default()
        };
        table.apply(overrides);
        Ok(table)
    }

    /// This table with `overrides` applied, and the warnings about entries skipped.
    pub fn with_overrides(&self, overrides: PriceOverrides) -> (PriceTable, Vec<Warning>) {
        let mut table = self.clone();
        let warnings = table.apply(overrides);
        (table, warnings)
    }

    /// Adds or replaces entries. A replaced entry is replaced whole (its aliases included), so a
    /// partial override never mixes old and new prices. Returns one warning naming the entries
    /// that were skipped (another provider's, or not priced per token).
    pub fn apply(&mut self, overrides: PriceOverrides) -> Vec<Warning> {
        for price in overrides.models {
            self.insert(price);
        }
        let mut warnings = Vec::new();
        if !overrides.skipped.is_empty() {
            const SHOWN: usize = 5;
            let mut names = overrides.skipped[..overrides.skipped.len().min(SHOWN)].join(", ");
            if overrides.skipped.len() > SHOWN {
                names.push_str(&format!(" and {} more", overrides.skipped.len() - SHOWN));
            }
            warnings.push(Warning {
                setting: "prices".to_string(),
                message: format!(
                    "{} price entries skipped (not an Anthropic, OpenAI or Gemini model \
                     priced per token): {names}",
                    overrides.skipped.len()
                ),
            });
        }
        warnings
    }

    fn insert(&mut self, price: ModelPrice) {
        if let Some(&old) = self.index.get(&(price.provider, price.id.clone())) {
            if self.models[old].id == price.id {
                self.index.retain(|_, i| *i != old);
                self.models[old] = price;
                self.index_model(old);
                return;
            }
        }
        self.models.push(price);
        self.index_model(self.models.len() - 1);
    }

    /// Indexes a model's id and aliases; an id wins over another entry's alias.
    fn index_model(&mut self, i: usize) {
        let model = &self.models[i];
        for alias in &model.aliases {
            self.index
                .entry((model.provider, alias.clone()))
                .or_insert(i);
        }
        self.index.insert((model.provider, model.id.clone()), i);
    }

    pub fn models(&self) -> &[ModelPrice] {
        &self.models
    }

    /// Finds the price of `model`: `id`, `provider/id`, an alias, or a dated snapshot of a known
    /// id (`claude-haiku-4-5-20251001`, `gpt-4o-2024-08-06`: the longest known id followed by
    /// `-YYYYMMDD`, `-YYYY-MM-DD` or `-MMDD`). Nothing looser: an unknown model is `None`, and a
    /// bare name known under two providers is ambiguous, so `None` too.
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        let model = model.trim();
        let qualifier = model
            .split_once('/')
            .and_then(|(prefix, rest)| Some((Provider::from_name(prefix)?, rest)));
        let (providers, name): (&[Provider], &str) = match &qualifier {
            Some((provider, rest)) => (std::slice::from_ref(provider), rest),
            None => (&Provider::ALL, model),
        };
        // Gemini resource names: `models/gemini-2.5-flash`.
        let name = name.strip_prefix("models/").unwrap_or(name);
        let unique = |found: Vec<usize>| match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        let exact: Vec<usize> = providers
            .iter()
            .filter_map(|p| self.index.get(&(*p, name.to_string())).copied())
            .collect();
        if !exact.is_empty() {
            return unique(exact).map(|i| &self.models[i]);
        }
        let dated: Vec<usize> = providers
            .iter()
            .filter_map(|p| self.lookup_dated(*p, name))
            .collect();
        unique(dated).map(|i| &self.models[i])
    }

    fn lookup_dated(&self, provider: Provider, name: &str) -> Option<usize> {
        name.match_indices('-')
            .map(|(at, _)| at)
            .filter(|&at| is_date_suffix(&name[at + 1..]))
            .filter_map(|at| {
                let known = self.index.get(&(provider, name[..at].to_string()))?;
                Some((at, *known))
            })
            .max_by_key(|(at, _)| *at)
            .map(|(_, i)| i)
    }

    /// [`PriceTable::lookup`], or the warning to show when the model is unknown.
    pub fn lookup_or_warn(&self, model: &str) -> Result<&ModelPrice, Warning> {
        self.lookup(model).ok_or_else(|| Warning {
            setting: "model".to_string(),
            message: format!(
                "no price known for model `{model}`: cost not computed (add it with price overrides)"
            ),
        })
    }
}

/// `YYYYMMDD`, `YYYY-MM-DD` or `MMDD` with a plausible month and day.
fn is_date_suffix(s: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let month_day = |m: &str, d: &str| {
        let (m, d): (u32, u32) = (m.parse().unwrap_or(0), d.parse().unwrap_or(0));
        (1..=12).contains(&m) && (1..=31).contains(&d)
    };
    let year = |y: &str| y.starts_with("20");
    match s.len() {
        8 if digits(s) => year(&s[..4]) && month_day(&s[4..6], &s[6..]),
        10 if s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' => {
            digits(&s[..4])
                && digits(&s[5..7])
                && digits(&s[8..])
                && year(&s[..4])
                && month_day(&s[5..7], &s[8..])
        }
        4 if digits(s) => month_day(&s[..2], &s[2..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_is_dated() {
        let table = PriceTable::builtin();
        assert_eq!(table.checked.as_deref(), Some("2026-11-27"));
        assert!(table.models().len() >= 19);
        for model in table.models() {
            assert!(
                model.rates.input.0 > 0 && model.rates.output.0 > 0,
                "{}",
                model.id
            );
            assert!(model.max_output_tokens.is_some(), "{}", model.id);
            assert!(model.context_window.is_some(), "{}", model.id);
            assert!(model.batch_multiplier.is_some(), "{}", model.id);
        }
        let haiku = table.lookup("claude-haiku-4-5").unwrap();
        assert_eq!(haiku.rates.input, Rate(1_000_000));
        assert_eq!(haiku.rates.cache_write_1h, Some(Rate(2_000_000)));
        assert_eq!(
            table.lookup("gpt-4o-mini").unwrap().rates.cache_read,
            Some(Rate(75_000))
        );
    }

    #[test]
    fn a_table_file_accepts_only_models_it_can_price() {
        let table = PriceTable::from_json_str(
            r#"{ "checked": "2026-01-01", "models": { "gpt-x": { "input": 1, "output": 2 } } }"#,
        )
        .unwrap();
        assert_eq!(
            table.lookup("openai/gpt-x").unwrap().rates.output,
            Rate(2_000_000)
        );
        let err = PriceTable::from_json_str(
            r#"{ "models": { "azure/gpt-x": { "litellm_provider": "azure",
                 "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6 } } }"#,
        )
        .unwrap_err();
        assert!(err.message().contains("azure/gpt-x"), "{err}");
        assert!(PriceTable::from_json_str("{}").is_err());
    }

    #[test]
    fn lookup_by_id_qualified_id_alias_and_dated_snapshot() {
        let table = PriceTable::builtin();
        let id = |m: &str| table.lookup(m).map(|p| p.qualified_id());
        assert_eq!(
            id("anthropic/claude-haiku-4-5").as_deref(),
            Some("anthropic/claude-haiku-4-5")
        );
        assert_eq!(
            id("claude-haiku-4-5-20251001").as_deref(),
            Some("anthropic/claude-haiku-4-5")
        );
        assert_eq!(
            id("claude-3-5-haiku-latest").as_deref(),
            Some("anthropic/claude-3-5-haiku")
        );
        assert_eq!(
            id("claude-3-5-haiku-20241022").as_deref(),
            Some("anthropic/claude-3-5-haiku")
        );
        assert_eq!(id("gpt-4o-2024-08-06").as_deref(), Some("openai/gpt-4o"));
        // The longest known prefix: not gpt-4o followed by "mini-...".
        assert_eq!(
            id("gpt-4o-mini-2024-07-18").as_deref(),
            Some("openai/gpt-4o-mini")
        );
        assert_eq!(id("gpt-4.1-0414").as_deref(), Some("openai/gpt-4.1"));
        assert_eq!(
            id("gemini/gemini-2.5-pro").as_deref(),
            Some("gemini/gemini-2.5-pro")
        );
        assert_eq!(
            id("google/gemini-2.5-flash").as_deref(),
            Some("gemini/gemini-2.5-flash")
        );
        assert_eq!(
            id("models/gemini-2.5-flash-lite").as_deref(),
            Some("gemini/gemini-2.5-flash-lite")
        );
    }

    #[test]
    fn lookup_never_guesses() {
        let table = PriceTable::builtin();
        for model in [
            "gpt-4o-turbo",                   // a suffix that is not a date
            "gpt-4o-2024-13-06",              // not a valid month
            "gemini-2.5-flash-preview-05-20", // a preview is not a dated snapshot
            "claude-haiku-4",                 // a prefix of a known id
            "openai/claude-haiku-4-5",        // known, but under another provider
            "llama-3.1-70b",
            "",
        ] {
            assert!(table.lookup(model).is_none(), "{model}");
        }
        let warning = table.lookup_or_warn("llama-3.1-70b").unwrap_err();
        assert_eq!(warning.setting, "model");
        assert!(warning.message.contains("llama-3.1-70b"));
    }

    #[test]
    fn tiers_apply_strictly_above_the_threshold() {
        let pro = PriceTable::builtin().lookup("gemini-2.5-pro").unwrap();
        assert_eq!(pro.rates_for_input(200_000), (pro.rates, None));
        let (rates, tier) = pro.rates_for_input(200_001);
        assert_eq!(tier, Some(200_000));
        assert_eq!(rates.input, Rate(2_500_000));
        assert_eq!(rates.cache_read, Some(Rate(250_000)));
    }

    #[test]
    fn rates_convert_and_scale_exactly() {
        assert_eq!(Rate::from_usd_per_million(0.075), Some(Rate(75_000)));
        assert_eq!(Rate::from_usd_per_million(22.5), Some(Rate(22_500_000)));
        assert_eq!(Rate::from_usd_per_token(1.25e-7), Some(Rate(125_000)));
        assert_eq!(Rate::from_usd_per_token(3e-6), Some(Rate(3_000_000)));
        assert_eq!(Rate::from_usd_per_million(-1.0), None);
        assert_eq!(Rate::from_usd_per_million(f64::NAN), None);
        let half = Ratio::from_f64(0.5).unwrap();
        assert_eq!(Rate(5_000).scaled(half), Rate(2_500));
        assert_eq!(Rate(75_000).scaled(half), Rate(37_500));
        assert_eq!(Rate(3).scaled(half), Rate(2)); // 1.5 rounds half up
        assert_eq!(Ratio::from_f64(0.0), None);
        assert_eq!(Ratio::from_f64(1.5), None);
    }

    #[test]
    fn date_suffixes() {
        for ok in ["20251001", "2024-08-06", "0613", "1231"] {
            assert!(is_date_suffix(ok), "{ok}");
        }
        for bad in [
            "2025100",
            "19991231",
            "2024-8-06",
            "1301",
            "0000",
            "mini",
            "latest",
            "v2",
        ] {
            assert!(!is_date_suffix(bad), "{bad}");
        }
    }
}
