//! Proxy configuration, read once from environment bindings (vars and secrets: `.dev.vars`
//! locally, `wrangler secret put` in production). Keys never come from `wrangler.toml`.
use std::collections::HashMap;

use serde::Deserialize;

use crate::core::error::{Error, ErrorKind};
use crate::core::model::{ModelRef, Provider};
use crate::core::provider::ProviderConfig;
use crate::core::screen::{ScreenMode, DEFAULT_MAX_INPUT_CHARS};

/// Limits used when the environment does not set them.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
pub const DEFAULT_MAX_TOKENS_CAP: u32 = 8192;

/// One provider's upstream: its keys (a second one allows rotation without downtime) and URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub provider: Provider,
    pub keys: Vec<String>,
    pub base_url: Option<String>,
}

impl Upstream {
    /// The adapter configuration using key number `key_index` (0 = primary).
    pub fn provider_config(&self, key_index: usize) -> ProviderConfig {
        ProviderConfig {
            api_key: self.keys.get(key_index).cloned(),
            base_url: self.base_url.clone(),
            headers: Default::default(),
        }
    }
}

/// What one client token may do (the `CLIENTS` secret maps tokens to these).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientSpec {
    pub name: String,
    pub daily_budget_usd: f64,
    pub requests_per_minute: u32,
    pub tokens_per_minute: u64,
    /// `"*"` (any model, `auto` included), `"auto"`, or `provider/model` names.
    pub models: Vec<String>,
    /// Prompt-injection screening of this client's requests: `off` (default), `flag` (reported
    /// in the usage record) or `block` (refused with a 400).
    #[serde(default)]
    pub screening: ScreenMode,
}

impl ClientSpec {
    pub fn allows_any_model(&self) -> bool {
        self.models.iter().any(|m| m == "*")
    }

    /// Whether this client may call `model` (as written in the request: a route such as `auto`,
    /// `provider/model` or a bare name, compared on the canonical `provider/model` spelling).
    pub fn allows(&self, model: &str) -> bool {
        if self.allows_any_model() {
            return true;
        }
        let wanted = canonical(model);
        self.models
            .iter()
            .any(|allowed| canonical(allowed) == wanted)
    }
}

fn canonical(model: &str) -> String {
    ModelRef::parse(model)
        .map(|m| m.qualified())
        .unwrap_or_else(|_| model.trim().to_string())
}

/// Which browser origins may call the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// No browser access (no CORS headers at all).
    None,
    Any,
    List(Vec<String>),
}

impl AllowedOrigins {
    fn parse(value: Option<&str>) -> AllowedOrigins {
        match value.map(str::trim) {
            None | Some("") => AllowedOrigins::None,
            Some("*") => AllowedOrigins::Any,
            Some(list) => AllowedOrigins::List(
                list.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_string())
                    .filter(|o| !o.is_empty())
                    .collect(),
            ),
        }
    }

    pub fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::None => false,
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o == origin.trim_end_matches('/')),
        }
    }
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub upstreams: Vec<Upstream>,
    pub clients: HashMap<String, ClientSpec>,
    pub allowed_origins: AllowedOrigins,
    pub max_body_bytes: usize,
    pub max_tokens_cap: u32,
    /// `MAX_INPUT_CHARS`: the most characters of user text and tool results a request may
    /// carry (after invisible characters are stripped); more is a 400 in the route's format.
    pub max_input_chars: usize,
    /// POSTed a JSON alert when a client crosses a budget threshold.
    pub alert_webhook: Option<String>,
    /// The raw `POLICY` JSON (retry, fallback, breaker, hedge, timeouts, routing), parsed by the
    /// policy layer.
    pub policy_json: Option<String>,
}

impl GatewayConfig {
    /// Reads the configuration through `lookup` (the Worker's env: vars and secrets alike),
    /// validating everything once with errors that name the setting.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<GatewayConfig, Error> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let upstreams = Provider::ALL
            .iter()
            .map(|&provider| {
                let prefix = provider.as_str().to_ascii_uppercase();
                let keys = [format!("{prefix}_API_KEY"), format!("{prefix}_API_KEY_2")]
                    .iter()
                    .filter_map(|name| get(name))
                    .collect();
                let base_url = get(&format!("{prefix}_BASE_URL"));
                if let Some(url) = &base_url {
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        return Err(config_error(format!(
                            "{prefix}_BASE_URL must be an http(s) URL, got `{url}`"
                        )));
                    }
                }
                Ok(Upstream {
                    provider,
                    keys,
                    base_url,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let clients: HashMap<String, ClientSpec> = match get("CLIENTS") {
            None => HashMap::new(),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                config_error(format!(
                    "CLIENTS is not a valid JSON map of token to client: {e}"
                ))
            })?,
        };
        for (token, client) in &clients {
            if token.len() < 8 {
                return Err(config_error(format!(
                    "CLIENTS: the token of `{}` is shorter than 8 characters",
                    client.name
                )));
            }
            if !(client.daily_budget_usd.is_finite() && client.daily_budget_usd >= 0.0) {
                return Err(config_error(format!(
                    "CLIENTS: `{}` has an invalid dailyBudgetUsd",
                    client.name
                )));
            }
            if client.models.is_empty() {
                return Err(config_error(format!(
                    "CLIENTS: `{}` may use no model (models is empty)",
                    client.name
                )));
            }
        }
        let number = |name: &str, default: u64| -> Result<u64, Error> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    config_error(format!("{name} must be a positive integer, got `{v}`"))
                }),
            }
        };
        Ok(GatewayConfig {
            upstreams,
            clients,
            allowed_origins: AllowedOrigins::parse(get("ALLOWED_ORIGINS").as_deref()),
            max_body_bytes: number("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES as u64)? as usize,
            max_tokens_cap: number("MAX_TOKENS_CAP", DEFAULT_MAX_TOKENS_CAP as u64)?
                .min(u32::MAX as u64) as u32,
            max_input_chars: number("MAX_INPUT_CHARS", DEFAULT_MAX_INPUT_CHARS as u64)? as usize,
            alert_webhook: get("BUDGET_ALERT_WEBHOOK"),
            policy_json: get("POLICY"),
        })
    }

    pub fn upstream(&self, provider: Provider) -> &Upstream {
        self.upstreams
            .iter()
            .find(|u| u.provider == provider)
            .expect("one upstream per provider")
    }

    /// Providers with at least one key (the ones the proxy can serve).
    pub fn configured_providers(&self) -> impl Iterator<Item = Provider> + '_ {
        self.upstreams
            .iter()
            .filter(|u| !u.keys.is_empty())
            .map(|u| u.provider)
    }
}

fn config_error(message: String) -> Error {
    Error::new(ErrorKind::Config, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_keys_rotation_urls_clients_and_limits() {
        let config = GatewayConfig::from_env(env(&[
            ("ANTHROPIC_API_KEY", "sk-ant-1"),
            ("ANTHROPIC_API_KEY_2", "sk-ant-2"),
            ("OPENAI_API_KEY", "sk-oa"),
            ("GEMINI_BASE_URL", "http://127.0.0.1:9/"),
            ("CLIENTS", r#"{"token-abcdef": {"name":"web","dailyBudgetUsd":5,"requestsPerMinute":60,"tokensPerMinute":100000,"models":["auto","anthropic/claude-haiku-4-5"]}}"#),
            ("ALLOWED_ORIGINS", "https://a.example, https://b.example/"),
            ("MAX_BODY_BYTES", "65536"),
        ]))
        .unwrap();
        assert_eq!(
            config.upstream(Provider::Anthropic).keys,
            vec!["sk-ant-1", "sk-ant-2"]
        );
        assert_eq!(
            config
                .upstream(Provider::Anthropic)
                .provider_config(1)
                .api_key
                .as_deref(),
            Some("sk-ant-2")
        );
        assert_eq!(
            config.upstream(Provider::Gemini).base_url.as_deref(),
            Some("http://127.0.0.1:9/")
        );
        assert_eq!(
            config.configured_providers().collect::<Vec<_>>(),
            vec![Provider::Anthropic, Provider::OpenAi]
        );
        let client = &config.clients["token-abcdef"];
        assert!(client.allows("auto"));
        assert!(client.allows("claude-haiku-4-5"));
        assert!(!client.allows("anthropic/claude-opus-4-6"));
        assert!(config.allowed_origins.allows("https://b.example"));
        assert!(!config.allowed_origins.allows("https://c.example"));
        assert_eq!(config.max_body_bytes, 65536);
        assert_eq!(config.max_tokens_cap, DEFAULT_MAX_TOKENS_CAP);
    }

    #[test]
    fn star_allows_every_model_including_auto() {
        let client = ClientSpec {
            name: "x".into(),
            daily_budget_usd: 1.0,
            requests_per_minute: 1,
            tokens_per_minute: 1,
            models: vec!["*".into()],
            screening: ScreenMode::Off,
        };
        assert!(
            client.allows("auto")
                && client.allows("gpt-4o")
                && client.allows("gemini/gemini-2.5-pro")
        );
    }

    #[test]
    fn invalid_settings_are_config_errors_naming_the_setting() {
        for (pairs, needle) in [
            (vec![("CLIENTS", "{not json")], "CLIENTS"),
            (
                vec![(
                    "CLIENTS",
                    r#"{"short": {"name":"a","dailyBudgetUsd":1,"requestsPerMinute":1,"tokensPerMinute":1,"models":["*"]}}"#,
                )],
                "shorter than 8",
            ),
            (
                vec![(
                    "CLIENTS",
                    r#"{"long-token": {"name":"a","dailyBudgetUsd":-1,"requestsPerMinute":1,"tokensPerMinute":1,"models":["*"]}}"#,
                )],
                "dailyBudgetUsd",
            ),
            (
                vec![(
                    "CLIENTS",
                    r#"{"long-token": {"name":"a","dailyBudgetUsd":1,"requestsPerMinute":1,"tokensPerMinute":1,"models":[]}}"#,
                )],
                "models is empty",
            ),
            (
                vec![(
                    "CLIENTS",
                    r#"{"long-token": {"name":"a","dailyBudget":1,"requestsPerMinute":1,"tokensPerMinute":1,"models":["*"]}}"#,
                )],
                "dailyBudget",
            ),
            (vec![("MAX_BODY_BYTES", "lots")], "MAX_BODY_BYTES"),
            (vec![("OPENAI_BASE_URL", "ftp://x")], "OPENAI_BASE_URL"),
        ] {
            let error = GatewayConfig::from_env(env(&pairs)).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Config);
            assert!(
                error.message().contains(needle),
                "{} should mention {needle}",
                error.message()
            );
        }
    }

    #[test]
    fn origins_none_any_and_list() {
        assert!(!AllowedOrigins::parse(None).allows("https://a"));
        assert!(AllowedOrigins::parse(Some("*")).allows("https://anything"));
        assert!(AllowedOrigins::parse(Some("https://a")).allows("https://a/"));
    }
}
