//! The proxy's per-isolate state, built once from the environment: configuration, the core
//! clients (one per provider key, for rotation), the router and the price table. Circuit
//! breakers live in the core clients, so they are shared by every request of the isolate.
use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use worker::Env;

use crate::core::client::{Client, ClientConfig, Timeouts};
use crate::core::error::{Error, ErrorKind};
use crate::core::gateway::config::GatewayConfig;
use crate::core::model::Provider;
use crate::core::policy::PolicyConfig;
use crate::core::pricing::{PriceOverrides, PriceTable};
use crate::core::route::{Router, RouterConfig};
use crate::core::screen::HygieneConfig;
use crate::web::{FetchTransport, JsClock};

pub type CoreClient = Client<FetchTransport, JsClock>;

pub struct Gateway {
    pub config: GatewayConfig,
    /// `clients[k]` uses key number `k` of every provider (0 = primary, 1 = rotation key).
    pub clients: Vec<CoreClient>,
    pub router: Router,
    pub prices: PriceTable,
}

/// The `POLICY` setting: the reliability policy, deadlines and routing.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PolicySetting {
    #[serde(default)]
    routing: Option<RouterConfig>,
    timeout_ms: Option<u64>,
    first_token_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
}

thread_local! {
    static GATEWAY: RefCell<Option<Rc<Gateway>>> = const { RefCell::new(None) };
}

fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
}

/// The isolate's gateway, built on first use (environment bindings only change on deploy,
/// which starts new isolates).
pub fn gateway(env: &Env) -> Result<Rc<Gateway>, Error> {
    if let Some(existing) = GATEWAY.with(|g| g.borrow().clone()) {
        return Ok(existing);
    }
    let built = Rc::new(build(env)?);
    GATEWAY.with(|g| *g.borrow_mut() = Some(built.clone()));
    Ok(built)
}

fn build(env: &Env) -> Result<Gateway, Error> {
    let config = GatewayConfig::from_env(|name| lookup(env, name))?;
    let policy_json = config.policy_json.as_deref().unwrap_or("{}");
    let policy: PolicyConfig = serde_json::from_str(policy_json)
        .map_err(|e| Error::new(ErrorKind::Config, format!("POLICY is not valid: {e}")))?;
    let setting: PolicySetting = serde_json::from_str(policy_json)
        .map_err(|e| Error::new(ErrorKind::Config, format!("POLICY is not valid: {e}")))?;
    let defaults = Timeouts::default();
    let timeouts = Timeouts {
        total_ms: setting.timeout_ms.or(defaults.total_ms),
        first_token_ms: setting.first_token_timeout_ms.or(defaults.first_token_ms),
        idle_ms: setting.idle_timeout_ms.or(defaults.idle_ms),
    };
    let key_slots = config
        .upstreams
        .iter()
        .map(|u| u.keys.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let clients = (0..key_slots)
        .map(|slot| {
            let provider = |p: Provider| {
                let upstream = config.upstream(p);
                (!upstream.keys.is_empty())
                    .then(|| upstream.provider_config(slot.min(upstream.keys.len() - 1)))
            };
            let client_config = ClientConfig {
                anthropic: provider(Provider::Anthropic),
                openai: provider(Provider::OpenAi),
                gemini: provider(Provider::Gemini),
                timeouts,
                policy: policy.clone(),
                // The plan applies hygiene with the proxy's own cap (`MAX_INPUT_CHARS`).
                hygiene: HygieneConfig {
                    strip: false,
                    max_input_chars: None,
                },
                ..ClientConfig::default()
            };
            Client::new(FetchTransport, JsClock, client_config)
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let router = Router::new(setting.routing.unwrap_or_default())?;
    let mut prices = PriceTable::builtin().clone();
    if let Some(json) = lookup(env, "PRICES") {
        let overrides = PriceOverrides::from_json_str(&json)
            .map_err(|e| Error::new(ErrorKind::Config, format!("PRICES: {}", e.message())))?;
        prices.apply(overrides);
    }
    Ok(Gateway {
        config,
        clients,
        router,
        prices,
    })
}
