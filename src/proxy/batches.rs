//! Batch routes, so a browser or a backend without provider keys can use the providers' batch
//! APIs (half price) through the proxy:
//! - `POST /v1/llm-edge/batches` `{ requests: [{ customId, request }] }` (unified requests);
//! - `GET /v1/llm-edge/batches/{provider}/{id}`: the status;
//! - `GET /v1/llm-edge/batches/{provider}/{id}/results`: results mapped by custom id, costed at
//!   batch prices.
//!
//! Billing: a batch is charged to the client's daily budget at submission, at its worst case
//! (every request's input estimate plus its `maxTokens` of output, at batch prices). That never
//! overspends and never counts a batch twice, however often its results are read.
use serde::Deserialize;
use worker::{Env, Headers, Response, Result};

use super::gateway::Gateway;
use super::handler::{admit, limits_config};
use super::respond;
use crate::core::batch::{self, BatchRequest};
use crate::core::cost::estimate_cost;
use crate::core::error::{Error, ErrorKind};
use crate::core::gateway::config::ClientSpec;
use crate::core::gateway::format::ApiFormat;
use crate::core::model::{ModelRef, Provider};
use crate::web::FetchTransport;

#[derive(Deserialize)]
struct SubmitBody {
    requests: Vec<BatchRequest>,
}

const FORMAT: ApiFormat = ApiFormat::OpenAi;

pub async fn submit(
    body: &[u8],
    env: &Env,
    gw: &Gateway,
    token: &str,
    client: &ClientSpec,
    headers: Headers,
) -> Result<Response> {
    let parsed: SubmitBody = match serde_json::from_slice(body) {
        Ok(parsed) => parsed,
        Err(e) => {
            let error = Error::new(ErrorKind::InvalidRequest, format!("invalid batch: {e}"))
                .with_provider_code("param:requests");
            return respond::error(FORMAT, &error, headers);
        }
    };
    let mut requests = parsed.requests;
    let mut provider = None;
    let mut worst_pico: u64 = 0;
    for (i, item) in requests.iter_mut().enumerate() {
        let checked = check_item(gw, client, item, &mut provider);
        match checked {
            Ok(pico) => worst_pico = worst_pico.saturating_add(pico),
            Err(error) => {
                let error = Error::new(error.kind(), format!("requests[{i}]: {}", error.message()));
                return respond::error(FORMAT, &error, headers);
            }
        }
    }
    let Some(provider) = provider else {
        return respond::error(
            FORMAT,
            &Error::new(
                ErrorKind::InvalidRequest,
                "a batch needs at least one request",
            ),
            headers,
        );
    };
    let estimated_tokens = requests
        .iter()
        .map(|r| r.request.max_tokens.unwrap_or(0) as u64)
        .sum();
    // A batch is admitted alone: its worst case is many calls', and it settles at once.
    let settlement = match admit(
        env,
        token,
        limits_config(client),
        worst_pico,
        estimated_tokens,
        true,
    )
    .await
    {
        Ok(settlement) => settlement,
        Err(error) => return respond::error(FORMAT, &error, headers),
    };
    let config = gw.config.upstream(provider).provider_config(0);
    match batch::submit(&FetchTransport, provider, &config, &requests).await {
        Ok(status) => {
            settlement
                .settle(gw, worst_pico, estimated_tokens, true)
                .await;
            respond::json(200, serde_json::to_string(&status)?, headers)
        }
        Err(error) => {
            settlement.settle(gw, 0, 0, false).await;
            respond::error(FORMAT, &error, headers)
        }
    }
}

/// Checks one request (permission, a single provider, a known price) and returns its worst
/// case at batch prices.
fn check_item(
    gw: &Gateway,
    client: &ClientSpec,
    item: &mut BatchRequest,
    provider: &mut Option<Provider>,
) -> std::result::Result<u64, Error> {
    if !client.allows(&item.request.model) {
        return Err(Error::new(
            ErrorKind::Permission,
            format!(
                "model `{}` is not allowed for this client",
                item.request.model
            ),
        ));
    }
    let model = ModelRef::parse(&item.request.model)?;
    if *provider.get_or_insert(model.provider) != model.provider {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            "all requests of a batch must go to the same provider",
        ));
    }
    if gw.config.upstream(model.provider).keys.is_empty() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("this proxy has no {} key", model.provider),
        ));
    }
    let price = gw.prices.lookup(&model.qualified()).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidRequest,
            format!("model `{}` has no known price", model.qualified()),
        )
    })?;
    let cap = gw.config.max_tokens_cap;
    let max_tokens = item.request.max_tokens.unwrap_or(cap).min(cap);
    item.request.max_tokens = Some(max_tokens);
    let estimate = estimate_cost(&item.request, price, model.provider);
    let full = estimate.max.unwrap_or(estimate.expected).0;
    let multiplier = price.batch_multiplier.map_or(1_000_000, |r| r.0 as u128);
    Ok(u64::try_from(full * multiplier / 1_000_000).unwrap_or(u64::MAX))
}

/// `GET /v1/llm-edge/batches/{provider}/{id}[/results]`.
pub async fn read(
    path: &str,
    gw: &Gateway,
    client: &ClientSpec,
    headers: Headers,
) -> Result<Response> {
    let rest = path.trim_start_matches("/v1/llm-edge/batches/");
    let parts: Vec<&str> = rest.split('/').collect();
    let (provider, id, want_results) = match parts.as_slice() {
        [provider, id] => (*provider, *id, false),
        [provider, id, "results"] => (*provider, *id, true),
        _ => {
            return respond::error_with_status(
                FORMAT,
                &Error::new(ErrorKind::NotFound, format!("no route {path}")),
                404,
                headers,
            )
        }
    };
    let Some(provider) = Provider::from_name(provider) else {
        return respond::error_with_status(
            FORMAT,
            &Error::new(
                ErrorKind::NotFound,
                format!("unknown provider `{provider}`"),
            ),
            404,
            headers,
        );
    };
    if !client.allows_any_model()
        && !client
            .models
            .iter()
            .any(|m| m.starts_with(provider.as_str()))
    {
        return respond::error(
            FORMAT,
            &Error::new(
                ErrorKind::Permission,
                format!("this client may not use {provider}"),
            ),
            headers,
        );
    }
    let config = gw.config.upstream(provider).provider_config(0);
    let status = match batch::status(&FetchTransport, provider, &config, id).await {
        Ok(status) => status,
        Err(error) => return respond::error(FORMAT, &error, headers),
    };
    if !want_results {
        return respond::json(200, serde_json::to_string(&status)?, headers);
    }
    if !status.state.is_terminal() {
        let error = Error::new(
            ErrorKind::InvalidRequest,
            format!("batch {id} has not ended yet ({:?})", status.state),
        );
        return respond::error_with_status(FORMAT, &error, 409, headers);
    }
    match batch::results(&FetchTransport, &config, &status, &gw.prices).await {
        Ok(results) => respond::json(200, serde_json::to_string(&results)?, headers),
        Err(error) => respond::error(FORMAT, &error, headers),
    }
}
