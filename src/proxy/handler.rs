//! Request handling: CORS, authentication, limits, then the call, answered in the route's own
//! format. Bad input is always a 4xx in that format, never a 500.
use std::cell::RefCell;
use std::rc::Rc;

use worker::{Context, Env, Headers, Method, Request, RequestInit, Response, Result, Stub};

use super::batches;
use super::gateway::{gateway, CoreClient, Gateway};
use super::respond;
use super::stream;
use crate::core::budget::Alert;
use crate::core::client::{CallOptions, ChatOutcome};
use crate::core::cost::cost_for_model;
use crate::core::error::{Error, ErrorKind};
use crate::core::gateway::access::{self, Cors};
use crate::core::gateway::config::ClientSpec;
use crate::core::gateway::format::ApiFormat;
use crate::core::gateway::limits::{
    ClientLimitsConfig, LeaseHolder, LeaseReport, LimitsCall, LimitsOutcome, LimitsReply,
    LocalAdmission, LEASE_WINDOW_MS,
};
use crate::core::gateway::plan::{plan, Plan};
use crate::core::model::{ResponseFormat, Usage};
use crate::core::policy::{Attempt, AttemptOutcome};
use crate::core::runtime::Clock;
use crate::core::usage::{Cost, Fallback, Outcome, UsageRecord};
use crate::web::{IdMap, JsClock};

/// How often an isolate reports what its open leases spent, so spend shows up soon.
const FLUSH_INTERVAL_MS: u64 = 1_000;
/// How long a flush timer runs at most: past the window of any lease open when it starts (a
/// `wait_until` lasts about 30 s after the response).
const FLUSH_TIMER_MS: u64 = LEASE_WINDOW_MS + 2 * FLUSH_INTERVAL_MS;

thread_local! {
    /// The isolate's leases, by client (see `core::gateway::limits`).
    static LEASES: RefCell<IdMap<u64, LeaseHolder>> = RefCell::new(IdMap::default());
}

fn with_leases<T>(key: u64, f: impl FnOnce(&mut LeaseHolder) -> T) -> T {
    LEASES.with(|leases| f(leases.borrow_mut().entry(key).or_default()))
}

/// The route a path belongs to, which decides the error format.
fn format_for_path(path: &str) -> ApiFormat {
    if path.starts_with("/v1/messages") {
        ApiFormat::Anthropic
    } else if path.starts_with("/v1beta/") {
        ApiFormat::Gemini
    } else {
        ApiFormat::OpenAi
    }
}

pub async fn handle(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let path = req.path();
    let format = format_for_path(&path);
    let gw = match gateway(&env) {
        Ok(gw) => gw,
        // A misconfigured proxy is the operator's problem: say what is wrong, never a secret.
        Err(error) => return respond::error(format, &error, Headers::new()),
    };
    let origin = req.headers().get("origin")?;
    let cors = access::cors(&gw.config.allowed_origins, origin.as_deref());
    if req.method() == Method::Options {
        return respond::preflight(&cors);
    }
    if cors == Cors::Refuse {
        let error = Error::new(
            ErrorKind::Permission,
            "this origin may not call the proxy (see ALLOWED_ORIGINS)",
        );
        return respond::error(format, &error, Headers::new());
    }
    let headers = respond::cors_headers(&cors)?;
    let method = req.method();
    let is_chat = path == "/v1/chat/completions"
        || path == "/v1/messages"
        || path.starts_with("/v1beta/models/");
    match (method, path.as_str()) {
        (Method::Get, "/health") => {
            let providers: Vec<&str> = gw
                .config
                .configured_providers()
                .map(|p| p.as_str())
                .collect();
            respond::json(
                200,
                serde_json::json!({ "status": "ok", "providers": providers }).to_string(),
                headers,
            )
        }
        (Method::Get, "/v1/models") => match authenticate(&req, &gw) {
            Ok((_, client)) => respond::json(200, models_list(&gw, &client), headers),
            Err(error) => respond::error(format, &error, headers),
        },
        (Method::Get, "/v1/llm-edge/spend") => match authenticate(&req, &gw) {
            Ok((token, client)) => {
                let key = client_key(&token);
                // This isolate's own reports go first, so its calls show at once.
                let reports = with_leases(key, |h| h.reports(js_sys::Date::now() as u64));
                let call = LimitsCall::Spend {
                    limits: limits_config(&client),
                    reports: reports.clone(),
                };
                let answer = call_limits(&limits_stub(&env, key)?, &call).await;
                with_leases(key, |h| match &answer {
                    Ok(_) => h.delivered(&reports),
                    Err(_) => h.undelivered(&reports),
                });
                match answer {
                    Ok(LimitsReply {
                        outcome: LimitsOutcome::Spend { spend },
                        alerts,
                    }) => {
                        deliver_alerts(&gw, alerts).await;
                        respond::json(200, serde_json::to_string(&spend)?, headers)
                    }
                    Ok(_) | Err(_) => respond::error(
                        format,
                        &Error::new(ErrorKind::ServerError, "the limits store did not answer"),
                        headers,
                    ),
                }
            }
            Err(error) => respond::error(format, &error, headers),
        },
        (Method::Post, _) if is_chat => chat(req, env, ctx, gw, format, headers).await,
        (Method::Post, "/v1/llm-edge/batches") => match authenticate(&req, &gw) {
            Ok((token, client)) => {
                let mut req = req;
                let body = req.bytes().await?;
                batches::submit(&body, &env, &gw, &token, &client, headers).await
            }
            Err(error) => respond::error(format, &error, headers),
        },
        (Method::Get, p) if p.starts_with("/v1/llm-edge/batches/") => match authenticate(&req, &gw)
        {
            Ok((_, client)) => batches::read(p, &gw, &client, headers).await,
            Err(error) => respond::error(format, &error, headers),
        },
        (_, _) if is_chat || path == "/v1/models" => {
            let error = Error::new(
                ErrorKind::InvalidRequest,
                format!("{} is not allowed on {path}", req.method()),
            );
            respond::error_with_status(format, &error, 405, headers)
        }
        _ => {
            let error = Error::new(ErrorKind::NotFound, format!("no route {path}"));
            respond::error_with_status(format, &error, 404, headers)
        }
    }
}

fn authenticate(req: &Request, gw: &Gateway) -> std::result::Result<(String, ClientSpec), Error> {
    let read = |name: &str| req.headers().get(name).ok().flatten();
    let values = [
        ("authorization", read("authorization")),
        ("x-api-key", read("x-api-key")),
        ("x-goog-api-key", read("x-goog-api-key")),
    ];
    let token = access::client_token(|name| {
        values
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    })
    .map(str::to_string)
    .ok_or_else(|| {
        Error::new(
            ErrorKind::Authentication,
            "missing client token: send it as `Authorization: Bearer <token>` or `x-api-key`",
        )
    })?;
    let client = access::find_client(&gw.config.clients, &token)
        .cloned()
        .ok_or_else(|| Error::new(ErrorKind::Authentication, "invalid client token"))?;
    Ok((token, client))
}

fn models_list(gw: &Gateway, client: &ClientSpec) -> String {
    let configured: Vec<_> = gw.config.configured_providers().collect();
    let mut ids: Vec<(String, &str)> = Vec::new();
    if client.allows("auto") && gw.router.handles("auto") {
        ids.push(("auto".to_string(), "llm-edge"));
    }
    for price in gw.prices.models() {
        let id = price.qualified_id();
        if configured.contains(&price.provider) && client.allows(&id) {
            ids.push((id, price.provider.as_str()));
        }
    }
    let data: Vec<_> = ids
        .into_iter()
        .map(|(id, owner)| serde_json::json!({ "id": id, "object": "model", "created": 0, "owned_by": owner }))
        .collect();
    serde_json::json!({ "object": "list", "data": data }).to_string()
}

/// A client's key: its token hashed (FNV-1a 64), so that the Durable Object's name and the
/// isolate's lease table do not reveal it.
pub fn client_key(token: &str) -> u64 {
    token.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub fn limits_stub(env: &Env, key: u64) -> Result<Stub> {
    env.durable_object("CLIENT_LIMITS")?
        .id_from_name(&format!("client-{key:016x}"))?
        .get_stub()
}

pub fn limits_config(client: &ClientSpec) -> ClientLimitsConfig {
    ClientLimitsConfig {
        daily_budget_usd: client.daily_budget_usd,
        requests_per_minute: client.requests_per_minute as u64,
        tokens_per_minute: client.tokens_per_minute,
    }
}

pub async fn call_limits(stub: &Stub, call: &LimitsCall) -> Result<LimitsReply> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_body(Some(serde_json::to_string(call)?.into()));
    let request = Request::new_with_init("https://client-limits/", &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    if response.status_code() != 200 {
        return Err(worker::Error::RustError(format!(
            "limits store answered {}",
            response.status_code()
        )));
    }
    response.json().await
}

/// Logs each budget alert and posts it to the webhook, if one is configured.
async fn deliver_alerts(gw: &Gateway, alerts: Vec<Alert>) {
    for alert in alerts {
        let line = serde_json::json!({ "type": "budget_alert", "alert": alert });
        worker::console_log!("{line}");
        if let Some(url) = &gw.config.alert_webhook {
            let mut init = RequestInit::new();
            init.with_method(Method::Post)
                .with_body(Some(line.to_string().into()));
            if let Ok(request) = Request::new_with_init(url, &init) {
                let _ = worker::Fetch::Request(request).send().await;
            }
        }
    }
}

/// Admits a call against the client's limits: under one of the isolate's leases when one has
/// room (no round trip), else with a new lease from the Durable Object, whose reply also takes
/// this isolate's pending reports. `single` asks for a lease for this call only.
pub async fn admit(
    env: &Env,
    token: &str,
    limits: ClientLimitsConfig,
    worst_case_pico: u64,
    estimated_tokens: u64,
    single: bool,
) -> std::result::Result<Settlement, Error> {
    let key = client_key(token);
    let now = js_sys::Date::now() as u64;
    let local = (!single)
        .then(|| with_leases(key, |h| h.admit(worst_case_pico, estimated_tokens, now)))
        .flatten();
    if let Some(admission) = local {
        return Ok(Settlement {
            env: env.clone(),
            key,
            limits,
            admission,
            alerts: Vec::new(),
        });
    }
    // Leases that cannot admit this call give back what they hold in the same round trip.
    let reports = with_leases(key, |h| {
        h.retire_all();
        h.reports(now)
    });
    let call = LimitsCall::Acquire {
        limits: limits.clone(),
        worst_case_pico,
        estimated_tokens,
        single,
        reports: reports.clone(),
    };
    let unanswered = || {
        Error::new(
            ErrorKind::ServerError,
            "the limits store did not answer; nothing was sent",
        )
    };
    let Ok(reply) = call_with_reports(env, key, &call, &reports).await else {
        return Err(unanswered());
    };
    if let Some(error) = reply.refusal_error() {
        return Err(error);
    }
    let LimitsOutcome::Granted { lease } = reply.outcome else {
        return Err(unanswered());
    };
    let admission = with_leases(key, |h| h.hold(lease, worst_case_pico, estimated_tokens));
    Ok(Settlement {
        env: env.clone(),
        key,
        limits,
        admission,
        alerts: reply.alerts,
    })
}

/// Sends the reports of a client's leases that say something new, and delivers the alerts.
async fn flush(env: &Env, gw: &Gateway, key: u64, limits: &ClientLimitsConfig, now_ms: u64) {
    let reports = with_leases(key, |h| h.reports(now_ms));
    if reports.is_empty() {
        return;
    }
    let call = LimitsCall::Report {
        limits: limits.clone(),
        reports: reports.clone(),
    };
    match call_with_reports(env, key, &call, &reports).await {
        Ok(reply) => deliver_alerts(gw, reply.alerts).await,
        Err(error) => {
            worker::console_error!("reporting spend to the limits store failed: {error}")
        }
    }
}

/// Calls the client's Durable Object with a call that carries lease `reports`, and records
/// whether they arrived (reports lost in a failed round trip are sent again).
async fn call_with_reports(
    env: &Env,
    key: u64,
    call: &LimitsCall,
    reports: &[LeaseReport],
) -> Result<LimitsReply> {
    let sent = match limits_stub(env, key) {
        Ok(stub) => call_limits(&stub, call).await,
        Err(error) => Err(error),
    };
    with_leases(key, |h| match &sent {
        Ok(_) => h.delivered(reports),
        Err(_) => h.undelivered(reports),
    });
    sent
}

/// What a call settles with the client's limits once it is over.
pub struct Settlement {
    env: Env,
    key: u64,
    limits: ClientLimitsConfig,
    admission: LocalAdmission,
    /// Alerts that came with the lease, delivered once the call is over.
    alerts: Vec<Alert>,
}

impl Settlement {
    /// Records the call's cost in its lease (nothing when it `consumed` nothing) and delivers
    /// any budget alert. A lease that is over is closed at once; open ones are reported every
    /// second by a flush timer that runs past their window, then closes them.
    pub async fn settle(self, gw: &Gateway, cost_pico: u64, tokens: u64, consumed: bool) {
        let Settlement {
            env,
            key,
            limits,
            admission,
            alerts,
        } = self;
        deliver_alerts(gw, alerts).await;
        let now = js_sys::Date::now() as u64;
        let close_now = with_leases(key, |h| {
            h.finish(&admission, cost_pico, tokens, consumed);
            h.has_lease_to_close(now)
        });
        if close_now {
            flush(&env, gw, key, &limits, now).await;
        }
        // An open lease must be flushed after its window ends even if no call comes after
        // this one: start a timer unless the latest one outlives the window.
        let now = js_sys::Date::now() as u64;
        let timer_until = with_leases(key, |h| {
            let needed = h.open_until_ms(now)? + FLUSH_INTERVAL_MS;
            if h.flush_timer_until_ms.is_some_and(|until| until >= needed) {
                return None;
            }
            let until = now + FLUSH_TIMER_MS;
            h.flush_timer_until_ms = Some(until);
            Some(until)
        });
        let Some(until) = timer_until else {
            return;
        };
        loop {
            JsClock.sleep(FLUSH_INTERVAL_MS).await;
            // The same instant for the flush and the check: a lease that the flush saw open
            // is still open for the check, so the timer does not stop before closing it.
            let now = js_sys::Date::now() as u64;
            flush(&env, gw, key, &limits, now).await;
            let done = with_leases(key, |h| {
                let done = now >= until || h.open_until_ms(now).is_none();
                // A later call must start its own timer once this one stops.
                if done && h.flush_timer_until_ms == Some(until) {
                    h.flush_timer_until_ms = None;
                }
                done
            });
            if done {
                break;
            }
        }
    }
}

/// The cost in picodollars of usage at a `provider/model`, and whether its price is known.
pub fn cost_pico(gw: &Gateway, model: &str, usage: &Usage) -> Option<u64> {
    let report = cost_for_model(&gw.prices, model, usage, false);
    report
        .cost
        .map(|c| u64::try_from(c.total.0).unwrap_or(u64::MAX))
}

/// What the attempts that did not serve the call consumed (hedge losers, failed streams).
pub fn attempts_cost_pico(gw: &Gateway, attempts: &[Attempt]) -> u64 {
    unserved_usage(attempts)
        .filter_map(|(a, u)| cost_pico(gw, &a.target, u))
        .sum()
}

/// The usage the attempts that did not serve the call reported (the serving attempt's usage
/// is the answer's).
fn unserved_usage(attempts: &[Attempt]) -> impl Iterator<Item = (&Attempt, &Usage)> {
    attempts
        .iter()
        .filter(|a| !matches!(a.outcome, AttemptOutcome::Succeeded))
        .filter_map(|a| a.usage.as_ref().map(|u| (a, u)))
}

/// The tokens of the attempts that did not serve the call (a rejected structured answer's
/// included), for the per-minute token limit.
fn attempts_tokens(attempts: &[Attempt]) -> u64 {
    unserved_usage(attempts).map(|(_, u)| tokens_of(u)).sum()
}

/// A whole answer. A request with a JSON schema (`response_format` json_schema, Anthropic
/// `output_format`, Gemini `responseJsonSchema`/`responseSchema`) goes through the core's
/// structured output: the answer is validated, a mismatch is repaired once, and a second
/// mismatch is an `invalid_output` error carrying the raw text. The rejected answer is a failed
/// attempt with its usage, so both calls are billed.
async fn whole_answer(
    client: &CoreClient,
    request: &crate::core::model::Request,
) -> std::result::Result<ChatOutcome, Error> {
    let options = CallOptions::default();
    match request.response_format {
        Some(ResponseFormat::JsonSchema { .. }) => client
            .chat_structured(request, &options)
            .await
            .map(|structured| structured.outcome),
        _ => client.chat(request, &options).await,
    }
}

pub fn tokens_of(usage: &Usage) -> u64 {
    usage.total_tokens().unwrap_or(0)
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
}

/// The structured log line of a call (its usage record), with no secret in it: one string
/// handed to `console.log` as it was serialised.
pub fn log_record(record: &UsageRecord) {
    if let Ok(line) = serde_json::to_string(record) {
        console_log(&line);
    }
}

pub fn fallback_of(plan: &Plan, attempts: &[Attempt], target: Option<&str>) -> Option<Fallback> {
    let first = plan.model.qualified();
    let to = target?.to_string();
    (!attempts.is_empty() && to != first).then_some(Fallback { from: first, to })
}

/// Runs `task`, the work after a call (settling it), as far as it goes at once, and hands it to
/// `waitUntil` only if it has to wait (a round trip to the limits store, the flush timer). A
/// call settled under an open lease is then over without a promise, a task and a `waitUntil`.
pub fn run_after_call(ctx: &Context, task: impl std::future::Future<Output = ()> + 'static) {
    let mut task = Box::pin(task);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if task.as_mut().poll(&mut cx).is_pending() {
        // Its task polls it again at once, and a future wakes the waker of its latest poll.
        ctx.wait_until(task);
    }
}

/// The client to use for an attempt with key `slot`, if the isolate has one.
pub fn client_for(gw: &Gateway, slot: usize) -> Option<&CoreClient> {
    gw.clients.get(slot)
}

async fn chat(
    mut req: Request,
    env: Env,
    ctx: Context,
    gw: Rc<Gateway>,
    format: ApiFormat,
    headers: Headers,
) -> Result<Response> {
    let started = js_sys::Date::now() as u64;
    let (token, client) = match authenticate(&req, &gw) {
        Ok(found) => found,
        Err(error) => return respond::error(format, &error, headers),
    };
    let too_large = || {
        Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "the request body is larger than this proxy's limit of {} bytes",
                gw.config.max_body_bytes
            ),
        )
    };
    let declared = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > gw.config.max_body_bytes) {
        return respond::error_with_status(format, &too_large(), 413, headers);
    }
    let body = req.bytes().await?;
    if body.len() > gw.config.max_body_bytes {
        return respond::error_with_status(format, &too_large(), 413, headers);
    }
    let url = req.url()?;
    let path_and_query = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let inbound = match format.decode_request(&path_and_query, &body) {
        Ok(inbound) => inbound,
        Err(error) => return respond::error(format, &error, headers),
    };
    let (stream, include_usage, model_echo) =
        (inbound.stream, inbound.include_usage, inbound.model.clone());
    let conversation = inbound.request.metadata.conversation_id.clone();
    let plan = match plan(
        &gw.config, &client, inbound, &gw.prices, &gw.router, started,
    ) {
        Ok(plan) => plan,
        Err(error) => return respond::error(format, &error, headers),
    };
    let limits = limits_config(&client);
    let settlement = match admit(
        &env,
        &token,
        limits,
        plan.worst_case_pico,
        plan.estimated_tokens,
        false,
    )
    .await
    {
        Ok(settlement) => settlement,
        Err(error) => return respond::error(format, &error, headers),
    };
    let mut record = UsageRecord::new(started, model_echo.clone(), Outcome::Ok);
    record.client_id = Some(client.name.clone());
    record.conversation_id = conversation;
    record.route = plan
        .route
        .as_ref()
        .and_then(|r| serde_json::to_value(r).ok());
    record.screening = plan
        .screening
        .as_ref()
        .and_then(|s| serde_json::to_value(s).ok());
    if !plan.sanitized.is_empty() {
        record.sanitized = serde_json::to_value(&plan.sanitized).ok();
    }
    if stream {
        return stream::respond(
            gw,
            ctx,
            plan,
            settlement,
            record,
            format,
            model_echo,
            include_usage,
            headers,
        )
        .await;
    }

    let mut result = whole_answer(&gw.clients[0], &plan.request).await;
    if matches!(&result, Err(e) if e.kind() == ErrorKind::Authentication) {
        // Key rotation: a second key serves while the first is being replaced.
        if let Some(second) = client_for(&gw, 1) {
            result = whole_answer(second, &plan.request).await;
        }
    }
    let now = js_sys::Date::now() as u64;
    record.latency_ms = Some(now.saturating_sub(started));
    match result {
        Ok(outcome) => {
            let response = &outcome.response;
            let served = cost_pico(&gw, &outcome.target, &response.usage);
            let total = served.unwrap_or(0) + attempts_cost_pico(&gw, &outcome.attempts);
            record.provider = Some(response.provider);
            record.model = Some(outcome.target.clone());
            record.response_model = Some(response.model.clone());
            record.response_id = response.id.clone();
            record.provider_request_id = response.request_id.clone();
            record.usage = response.usage;
            record.finish_reason = Some(response.finish_reason.clone());
            record.attempts = outcome.attempts.len() as u32;
            record.fallback = fallback_of(&plan, &outcome.attempts, Some(&outcome.target));
            record.cost = served.map(|_| Cost::new(total, false));
            headers.set("x-llm-edge-provider", response.provider.as_str())?;
            headers.set("x-llm-edge-model", &outcome.target)?;
            headers.set("x-llm-edge-attempts", &outcome.attempts.len().to_string())?;
            if served.is_some() {
                headers.set(
                    "x-llm-edge-cost-usd",
                    &format!("{:.9}", total as f64 / 1e12),
                )?;
            }
            if let Some(route) = &plan.route {
                headers.set(
                    "x-llm-edge-route",
                    &format!("{:?}", route.tier).to_lowercase(),
                )?;
            }
            let body = format.encode_response(response, &model_echo, now / 1000);
            let tokens = tokens_of(&response.usage) + attempts_tokens(&outcome.attempts);
            log_record(&record);
            let gw2 = gw.clone();
            run_after_call(&ctx, async move {
                settlement.settle(&gw2, total, tokens, true).await
            });
            respond::json(200, body, headers)
        }
        Err(error) => {
            let consumed = attempts_cost_pico(&gw, error.attempts());
            let tokens = attempts_tokens(error.attempts());
            record.outcome = Outcome::from_error(&error);
            record.attempts = error.attempts().len() as u32;
            record.cost = Some(Cost::new(consumed, false));
            log_record(&record);
            let gw2 = gw.clone();
            run_after_call(&ctx, async move {
                settlement
                    .settle(&gw2, consumed, tokens, consumed > 0 || tokens > 0)
                    .await
            });
            respond::error(format, &error, headers)
        }
    }
}
