//! The cost layer inside the client: every call is routed, priced, budgeted, cached and
//! recorded. Money is checked in picodollars, exactly: prices are per million tokens
//! (`data/prices.json`), so haiku 4.5 at $1/$5 bills 1_000_000 and 5_000_000 picodollars per
//! input and output token.
mod support;

use std::cell::RefCell;
use std::rc::Rc;

use llm_edge::core::budget::Alert;
use llm_edge::core::client::{BudgetOptions, CacheOptions, CallOptions, ClientConfig};
use llm_edge::core::cost::{cost_of_interrupted, MonthlyUsagePlan, Picodollars};
use llm_edge::core::error::{ErrorKind, RetryAfter};
use llm_edge::core::event::StreamEvent;
use llm_edge::core::model::{Message, Provider, Request, SystemBlock};
use llm_edge::core::policy::{AttemptOutcome, FallbackTarget, HedgeConfig};
use llm_edge::core::pricing::{PriceOverrides, PriceTable};
use llm_edge::core::route::{RouteDecision, Tier};
use llm_edge::core::runtime::Clock;
use llm_edge::core::usage::{CacheStatus, Outcome, UsageRecord};
use serde_json::json;
use support::*;

const SONNET: &str = "anthropic/claude-sonnet-4-6";
const OPUS: &str = "anthropic/claude-opus-4-6";
/// Picodollars per input and output token of claude-haiku-4-5.
const HAIKU_IN: u64 = 1_000_000;
const HAIKU_OUT: u64 = 5_000_000;
const DAY_MS: u64 = 86_400_000;

/// What the client's hooks received.
#[derive(Clone, Default)]
struct Log {
    records: Rc<RefCell<Vec<UsageRecord>>>,
    alerts: Rc<RefCell<Vec<Alert>>>,
}

impl Log {
    fn install(&self, config: &mut ClientConfig) {
        let records = self.records.clone();
        config.on_usage = Some(Rc::new(move |r: &UsageRecord| {
            records.borrow_mut().push(r.clone())
        }));
        let alerts = self.alerts.clone();
        config.on_alert = Some(Rc::new(move |a: &Alert| {
            alerts.borrow_mut().push(a.clone())
        }));
    }

    fn records(&self) -> Vec<UsageRecord> {
        self.records.borrow().clone()
    }

    fn last(&self) -> UsageRecord {
        self.records
            .borrow()
            .last()
            .cloned()
            .expect("a usage record")
    }

    fn thresholds(&self) -> Vec<f64> {
        self.alerts.borrow().iter().map(|a| a.threshold).collect()
    }
}

fn costed(configure: impl FnOnce(&mut ClientConfig)) -> (Harness, Log) {
    let log = Log::default();
    let h = harness(|c| {
        log.install(c);
        configure(c);
    });
    (h, log)
}

fn daily(usd: f64) -> impl FnOnce(&mut ClientConfig) {
    move |c| {
        c.costs.budget = Some(BudgetOptions {
            daily_usd: Some(usd),
            ..BudgetOptions::default()
        })
    }
}

fn cache(ttl_ms: u64, stale_if_error_ms: u64) -> Option<CacheOptions> {
    Some(CacheOptions {
        ttl_ms,
        stale_if_error_ms,
        ..CacheOptions::default()
    })
}

/// An Anthropic Messages answer with chosen usage, shaped like `anthropic/text.json`.
fn claude_answer(model: &str, input: u64, output: u64) -> Reply {
    Reply::ok(
        json!({
            "id": "msg_01A", "type": "message", "role": "assistant", "model": model,
            "content": [{ "type": "text", "text": "Done." }],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": { "input_tokens": input, "cache_creation_input_tokens": 0,
                       "cache_read_input_tokens": 0, "output_tokens": output }
        })
        .to_string(),
    )
}

fn pico(amount: Option<Picodollars>) -> u128 {
    amount.expect("a known cost").0
}

fn ask(model: &str, text: &str) -> Request {
    let mut request = Request::new(model, vec![Message::user(text)]);
    request.max_tokens = Some(256);
    request
}

fn in_conversation(mut request: Request, id: &str) -> Request {
    request.metadata.conversation_id = Some(id.to_string());
    request
}

const HARD: &str = "Design a multi-region rate limiter. Analyse the trade-offs of token \
                    bucket vs sliding window, the consistency model and failure modes, and \
                    prove the bound on over-admission.";

// ---------------------------------------------------------------------------------------
// Costs

#[test]
fn every_answer_is_priced_from_its_normalised_usage() {
    let (h, log) = costed(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json")]);
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    h.transport
        .script(GEMINI, [fixture_reply("gemini", "text.json")]);
    // haiku 4.5 ($1/$5): 14 in, 18 out. gpt-4o ($2.50/$10): 19 in, 10 out. gemini 2.5 flash
    // ($0.30/$2.50): 9 in, 27 out.
    let expected = [
        (CLAUDE, 14 * 1_000_000 + 18 * 5_000_000),
        (GPT, 19 * 2_500_000 + 10 * 10_000_000),
        (GEMINI, 9 * 300_000 + 27 * 2_500_000),
    ];
    for (model, total) in expected {
        let outcome = h.chat(model).unwrap();
        let cost = outcome.cost.as_ref().unwrap();
        assert_eq!(cost.total, Picodollars(total), "{model}");
        assert_eq!(cost.model, model);
        assert!(!cost.estimated);
        assert_eq!(pico(outcome.total_cost), total);
        assert_eq!(outcome.cache, CacheStatus::Off);
        assert_eq!(outcome.route, None);
        let json = serde_json::to_value(&outcome).unwrap();
        assert_eq!(json["costUsd"].as_f64(), Some(total as f64 / 1e12));
        assert_eq!(json["cost"]["totalUsd"].as_f64(), Some(total as f64 / 1e12));
    }
    let records = log.records();
    assert_eq!(records.len(), 3);
    let claude = &records[0];
    assert_eq!(claude.provider, Some(Provider::Anthropic));
    assert_eq!(claude.model.as_deref(), Some("claude-haiku-4-5"));
    assert_eq!(claude.requested_model, CLAUDE);
    assert_eq!(
        claude.response_model.as_deref(),
        Some("claude-sonnet-4-5-20250929")
    );
    assert_eq!(
        (claude.usage.input_tokens, claude.usage.output_tokens),
        (Some(14), Some(18))
    );
    assert_eq!(claude.usage.cache_read_tokens, Some(0));
    let cost = claude.cost.unwrap();
    assert_eq!((cost.pico, cost.estimated), (104_000_000, false));
    assert_eq!(claude.attempts, 1);
    assert_eq!(claude.outcome, Outcome::Ok);
    assert_eq!(claude.cache, CacheStatus::Off);
    assert_eq!(claude.latency_ms, Some(0));
    assert_eq!(claude.time_to_first_token_ms, None, "streams only");
    assert_eq!(
        claude.finish_reason.as_ref().unwrap().raw.as_deref(),
        Some("end_turn")
    );
    assert!(claude
        .request_id
        .as_deref()
        .unwrap()
        .starts_with("llm-edge-"));
    assert_ne!(records[0].request_id, records[1].request_id);
    assert_eq!(records[1].usage.input_tokens, Some(19));
    assert_eq!(records[2].provider, Some(Provider::Gemini));
}

#[test]
fn cache_reads_and_writes_are_priced_class_by_class() {
    let (h, _) = costed(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "cached_usage.json")]);
    let cost = h.chat(CLAUDE).unwrap().cost.unwrap();
    // 21 uncached at $1, 10240 read at $0.10, 512 written for 5 min at $1.25 and 1024 for
    // an hour at $2, 19 out at $5 (per million).
    assert_eq!(cost.input, Picodollars(21 * 1_000_000));
    assert_eq!(cost.cache_read, Picodollars(10_240 * 100_000));
    assert_eq!(cost.cache_write_5m, Picodollars(512 * 1_250_000));
    assert_eq!(cost.cache_write_1h, Picodollars(1_024 * 2_000_000));
    assert_eq!(cost.output, Picodollars(19 * 5_000_000));
    assert_eq!(cost.total, Picodollars(3_828_000_000));
}

#[test]
fn an_unknown_model_costs_nothing_known_and_says_so() {
    let model = "anthropic/claude-experimental";
    let (h, log) = costed(|_| {});
    h.transport
        .script(model, [claude_answer("claude-experimental", 14, 18)]);
    let outcome = h.chat(model).unwrap();
    assert_eq!(outcome.cost, None);
    assert_eq!(outcome.total_cost, None);
    let warning = outcome
        .response
        .warnings
        .iter()
        .find(|w| w.setting == "model")
        .expect("a warning about the price");
    assert!(
        warning.message.contains("claude-experimental"),
        "{warning:?}"
    );
    let record = log.last();
    assert_eq!(record.cost, None, "never a guess presented as fact");
    assert_eq!(
        record.usage.output_tokens,
        Some(18),
        "the usage is still logged"
    );
    assert!(record.warnings.contains(warning));
    assert_eq!(
        serde_json::to_value(&outcome).unwrap()["costUsd"],
        json!(null)
    );
}

#[test]
fn price_overrides_price_a_model_the_table_lacks() {
    let model = "anthropic/claude-experimental";
    let (h, log) = costed(|c| {
        c.costs.prices = Some(
            PriceOverrides::from_value(json!({ model: { "input": 2, "output": 4 } })).unwrap(),
        );
    });
    h.transport
        .script(model, [claude_answer("claude-experimental", 14, 18)]);
    let outcome = h.chat(model).unwrap();
    assert_eq!(pico(outcome.total_cost), 14 * 2_000_000 + 18 * 4_000_000);
    assert!(outcome.response.warnings.is_empty());
    assert_eq!(log.last().cost.unwrap().pico, 100_000_000);
    assert!(h.client.prices().lookup(model).is_some());
}

#[test]
fn a_failed_attempt_that_reported_usage_is_billed_with_the_answer() {
    let (h, log) = costed(|_| {});
    // The first stream breaks right after `message_start` (14 in, 1 out reported), before any
    // content; the retry answers in full (14 in, 18 out).
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.sse")
                .first_pieces(1)
                .then_fail(0),
            fixture_reply("anthropic", "text.sse"),
        ],
    );
    let (streamed, stream) = h.stream(CLAUDE);
    assert!(streamed.error.is_none());
    assert_eq!(stream.attempts()[0].usage.unwrap().input_tokens, Some(14));
    let served = 14 * HAIKU_IN + 18 * HAIKU_OUT;
    let failed = 14 * HAIKU_IN + HAIKU_OUT;
    assert_eq!(stream.cost().unwrap().total, Picodollars(served.into()));
    assert_eq!(pico(stream.total_cost()), u128::from(served + failed));
    let record = log.last();
    assert_eq!(record.cost.unwrap().pico, served + failed);
    assert_eq!(record.attempts, 2);
    assert_eq!(
        (record.usage.input_tokens, record.usage.output_tokens),
        (Some(28), Some(19)),
        "the record adds up every attempt's tokens"
    );
}

#[test]
fn a_hedge_race_loser_is_billed_for_what_it_reported() {
    let (h, log) = costed(|c| {
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
        c.policy.hedge = Some(HedgeConfig { after_ms: 200 });
    });
    // Claude says `message_start` at once, then is slow to write; the hedge on gpt-4o wins.
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.sse").pause_before(1, 5_000)],
    );
    h.transport
        .script(GPT, [fixture_reply("openai", "text.sse")]);
    let (streamed, stream) = h.stream(CLAUDE);
    assert!(streamed.error.is_none());
    assert_eq!(stream.target(), Some(GPT));
    assert_eq!(stream.attempts()[0].outcome, AttemptOutcome::Abandoned);
    let served: u64 = 19 * 2_500_000 + 10 * 10_000_000;
    let loser = 14 * HAIKU_IN + HAIKU_OUT;
    assert_eq!(stream.cost().unwrap().total, Picodollars(served.into()));
    assert_eq!(pico(stream.total_cost()), u128::from(served + loser));
    assert_eq!(log.last().cost.unwrap().pico, served + loser);
}

#[test]
fn a_stream_cut_midway_is_costed_from_what_it_received_and_flagged_estimated() {
    let (h, log) = costed(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "truncated.sse")]);
    let (streamed, stream) = h.stream(CLAUDE);
    assert_eq!(
        streamed.error.as_ref().unwrap().kind(),
        ErrorKind::TruncatedStream
    );
    // Reported: 25 in and a stale 1 out; the text delivered says more was generated.
    let usage = stream.usage();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (Some(25), Some(1))
    );
    let price = PriceTable::builtin().lookup(CLAUDE).unwrap();
    let expected = cost_of_interrupted(
        &usage,
        &streamed.text(),
        &request(CLAUDE),
        price,
        Provider::Anthropic,
        false,
    );
    assert!(expected.estimated);
    let cost = stream.cost().unwrap();
    assert!(cost.estimated);
    assert_eq!(cost.total, expected.total);
    assert!(cost.output > Picodollars(u128::from(HAIKU_OUT)), "{cost:?}");
    let record = log.last();
    assert_eq!(record.outcome, Outcome::Error("truncated_stream".into()));
    assert_eq!(record.cost.unwrap().pico as u128, expected.total.0);
    assert!(record.cost.unwrap().estimated);
    assert_eq!(
        record.usage.output_tokens,
        Some(1),
        "counts are never invented"
    );
}

#[test]
fn a_finished_stream_is_priced_from_its_final_usage() {
    let (h, log) = costed(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.sse").every(100)]);
    let (streamed, stream) = h.stream(CLAUDE);
    assert!(streamed.error.is_none());
    assert_eq!(
        stream.cost().unwrap().total,
        Picodollars((14 * HAIKU_IN + 18 * HAIKU_OUT).into())
    );
    assert!(!stream.cost().unwrap().estimated);
    let record = log.last();
    // The first content (`Bonjour !`) is the fourth event, 100 ms apart.
    assert_eq!(record.time_to_first_token_ms, Some(400));
    assert_eq!(record.latency_ms, Some(h.clock.elapsed_ms()));
    assert_eq!(
        record.response_id.as_deref(),
        Some("msg_01XFDUDYJgAACzvnptvVoYEL")
    );
    assert_eq!(
        record.finish_reason.unwrap().raw.as_deref(),
        Some("end_turn")
    );
}

// ---------------------------------------------------------------------------------------
// Routing

#[test]
fn auto_is_routed_before_the_attempts_and_the_decision_is_reported() {
    let (h, log) = costed(|_| {});
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json")]);
    let outcome = h
        .chat_with(ask("auto", "hi there!"), CallOptions::default())
        .unwrap();
    let route = outcome.route.as_ref().unwrap();
    assert_eq!((route.tier, route.model.as_str()), (Tier::Simple, CLAUDE));
    assert!(
        route.reason.starts_with("simple by score"),
        "{}",
        route.reason
    );
    assert_eq!(outcome.target, CLAUDE);
    assert_eq!(
        pico(outcome.total_cost),
        104_000_000,
        "priced as the routed model"
    );
    let types = h.events.types();
    assert_eq!(&types[..2], ["route", "attempt-start"]);
    let event = &h.events.of_type("route")[0];
    assert_eq!(event["requested"], "auto");
    assert_eq!(event["decision"]["model"], CLAUDE);
    assert_eq!(event["decision"]["tier"], "simple");
    let json = serde_json::to_value(&outcome).unwrap();
    assert_eq!(json["route"]["tier"], "simple");
    let record = log.last();
    assert_eq!(record.requested_model, "auto");
    assert_eq!(record.model.as_deref(), Some("claude-haiku-4-5"));
    let logged = record.route.unwrap();
    assert_eq!(
        (&logged["tier"], &logged["model"]),
        (&json!("simple"), &json!(CLAUDE))
    );
    assert_eq!(logged["reason"], json!(route.reason));
}

#[test]
fn an_explicit_complexity_overrides_the_score() {
    let (h, _) = costed(|_| {});
    h.transport
        .script(OPUS, [fixture_reply("anthropic", "text.json")]);
    let mut request = ask("auto", "hi there!");
    request.complexity = Some(Tier::Complex);
    let outcome = h.chat_with(request, CallOptions::default()).unwrap();
    let route = outcome.route.unwrap();
    assert_eq!((route.tier, route.model.as_str()), (Tier::Complex, OPUS));
    assert!(route.reason.contains("complexity"), "{}", route.reason);
    assert_eq!(h.transport.targets(), [OPUS]);
    // Opus 4.6 at $5/$25.
    assert_eq!(pico(outcome.total_cost), 14 * 5_000_000 + 18 * 25_000_000);
}

#[test]
fn a_conversation_stays_on_its_model_to_keep_the_prompt_cache_warm() {
    let (h, _) = costed(|_| {});
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.json"),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    h.transport
        .script(OPUS, [fixture_reply("anthropic", "text.json")]);
    let options = CallOptions::default();
    let first = h
        .chat_with(
            in_conversation(ask("auto", "hi there!"), "c1"),
            options.clone(),
        )
        .unwrap();
    assert_eq!(first.route.unwrap().model, CLAUDE);
    let pinned = h
        .chat_with(in_conversation(ask("auto", HARD), "c1"), options.clone())
        .unwrap();
    let route = pinned.route.unwrap();
    assert_eq!(route.model, CLAUDE);
    assert!(route.reason.starts_with("pinned"), "{}", route.reason);
    let elsewhere = h
        .chat_with(in_conversation(ask("auto", HARD), "c2"), options)
        .unwrap();
    assert_eq!(elsewhere.route.unwrap().model, OPUS);
    assert_eq!(h.transport.targets(), [CLAUDE, CLAUDE, OPUS]);
}

#[test]
fn capabilities_from_the_price_table_move_a_request_up() {
    let (h, _) = costed(|_| {});
    h.transport
        .script(OPUS, [fixture_reply("anthropic", "text.json")]);
    // Haiku and Sonnet write at most 64000 tokens, Opus 4.6 128000.
    let mut request = ask("auto", "hi there!");
    request.max_tokens = Some(100_000);
    let route = h
        .chat_with(request, CallOptions::default())
        .unwrap()
        .route
        .unwrap();
    assert_eq!((route.tier, route.model.as_str()), (Tier::Complex, OPUS));
    assert!(route.reason.contains("moved up"), "{}", route.reason);
}

#[test]
fn a_custom_router_has_the_last_word() {
    let (h, _) = costed(|c| {
        c.router = Some(Rc::new(|request: &Request, decision: &RouteDecision| {
            (request.messages.len() == 1).then(|| RouteDecision {
                model: GPT.to_string(),
                reason: "team policy: OpenAI for one-shot questions".to_string(),
                ..decision.clone()
            })
        }));
    });
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    let outcome = h
        .chat_with(ask("auto", "hi there!"), CallOptions::default())
        .unwrap();
    assert_eq!(outcome.target, GPT);
    assert_eq!(
        outcome.route.unwrap().reason,
        "team policy: OpenAI for one-shot questions"
    );
}

#[test]
fn fallback_targets_still_follow_the_routed_model() {
    let (h, log) = costed(|c| {
        c.policy.retry.max_retries = 0;
        c.policy.fallback = vec![FallbackTarget::new(GPT)];
    });
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "error_529.json")]);
    h.transport
        .script(GPT, [fixture_reply("openai", "text.json")]);
    let outcome = h
        .chat_with(ask("auto", "hi there!"), CallOptions::default())
        .unwrap();
    assert_eq!(outcome.route.as_ref().unwrap().model, CLAUDE);
    assert_eq!(outcome.target, GPT);
    assert_eq!(h.transport.targets(), [CLAUDE, GPT]);
    let record = log.last();
    let fallback = record.fallback.unwrap();
    assert_eq!(
        (fallback.from.as_str(), fallback.to.as_str()),
        (CLAUDE, GPT)
    );
    assert_eq!(record.model.as_deref(), Some("gpt-4o"));
    assert_eq!(record.attempts, 2);
}

// ---------------------------------------------------------------------------------------
// Budget

#[test]
fn the_per_request_cap_refuses_before_anything_is_sent() {
    let (h, log) = costed(|c| {
        c.costs.budget = Some(BudgetOptions {
            per_request_usd: Some(0.0001),
            ..BudgetOptions::default()
        })
    });
    // "Hi" with maxTokens 256 on haiku could cost about $0.0013.
    let error = h.chat(CLAUDE).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BudgetExceeded);
    assert!(error.message().contains("per-request cap"), "{error}");
    assert!(h.transport.exchanges().is_empty());
    let record = log.last();
    assert_eq!(record.outcome, Outcome::Error("budget_exceeded".into()));
    assert_eq!(record.attempts, 0);
    assert_eq!(record.cost.unwrap().pico, 0);
    assert_eq!(h.events.types(), ["outcome"]);
}

#[test]
fn the_per_request_cap_can_lower_max_tokens_instead() {
    let (h, log) = costed(|c| {
        c.costs.budget = Some(BudgetOptions {
            per_request: serde_json::from_value(json!({ "maxUsd": 0.0001, "onExceed": "clamp" }))
                .unwrap(),
            ..BudgetOptions::default()
        })
    });
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json")]);
    let estimate = h.client.estimate_cost(&request(CLAUDE)).unwrap();
    let input_pico = estimate.input_tokens * HAIKU_IN;
    let fits = (100_000_000 - input_pico) / HAIKU_OUT;
    let outcome = h.chat(CLAUDE).unwrap();
    assert_eq!(h.transport.exchanges()[0].body()["max_tokens"], json!(fits));
    assert!(fits < 256);
    let warning = outcome
        .response
        .warnings
        .iter()
        .find(|w| w.setting == "maxTokens")
        .expect("the clamp is reported");
    assert!(
        warning.message.contains(&format!("from 256 to {fits}")),
        "{warning:?}"
    );
    assert!(log.last().warnings.contains(warning));
}

#[test]
fn a_burst_of_parallel_calls_reserves_within_the_daily_budget() {
    // $0.01 a day. Each call may cost at most its input estimate plus 200 output tokens
    // (about $0.001), so nine fit in flight together and the tenth is refused.
    let (h, log) = costed(daily(0.01));
    let answers = (0..9).map(|_| claude_answer("claude-haiku-4-5", 8, 190).after(100));
    h.transport.script(CLAUDE, answers);
    let mut request = request(CLAUDE);
    request.max_tokens = Some(200);
    let options = CallOptions::default();
    let calls = (0..30).map(|_| h.client.chat(&request, &options)).collect();
    let outcomes = run(&h.clock, join_all(calls));
    let served = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(served, 9);
    assert_eq!(
        h.transport.exchanges().len(),
        9,
        "refused calls send nothing"
    );
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refused.kind(), ErrorKind::BudgetExceeded);
        assert!(refused.message().contains("would be exceeded"), "{refused}");
    }
    let spend = h.client.spend();
    let cost = 8 * HAIKU_IN + 190 * HAIKU_OUT;
    assert_eq!(spend.today_pico, 9 * cost);
    assert!(spend.today_pico <= spend.daily_pico.unwrap());
    assert_eq!(spend.reserved_pico, 0);
    assert_eq!(log.records().len(), 30, "one record per call");
    assert_eq!(log.thresholds(), [0.5, 0.8]);
}

#[test]
fn many_staggered_parallel_calls_never_overspend_and_alerts_fire_once_each() {
    let (h, log) = costed(daily(0.01));
    let cost = 8 * HAIKU_IN + 190 * HAIKU_OUT;
    let answers = (0..30).map(|_| claude_answer("claude-haiku-4-5", 8, 190).after(100));
    h.transport.script(CLAUDE, answers);
    let mut request = request(CLAUDE);
    request.max_tokens = Some(200);
    let options = CallOptions::default();
    let client = &h.client;
    let clock = &h.clock;
    // One call every 40 ms, each answered 100 ms after it was sent: about three in flight.
    let calls = (0..30u64)
        .map(|i| {
            let (request, options) = (&request, &options);
            async move {
                clock.sleep(i * 40).await;
                let before = client.spend();
                assert!(before.today_pico + before.reserved_pico <= before.daily_pico.unwrap());
                client.chat(request, options).await
            }
        })
        .collect();
    let outcomes = run(&h.clock, join_all(calls));
    let served = outcomes.iter().filter(|o| o.is_ok()).count() as u64;
    let spend = h.client.spend();
    assert_eq!(spend.today_pico, served * cost);
    assert!(spend.today_pico <= spend.daily_pico.unwrap(), "{spend:?}");
    assert_eq!(spend.reserved_pico, 0);
    // $0.01 holds ten answers at $0.00095800, once nothing else is reserved.
    assert_eq!(served, 10);
    assert_eq!(h.transport.exchanges().len() as u64, served);
    let records = log.records();
    assert_eq!(records.len(), 30);
    let logged: u64 = records.iter().filter_map(|r| r.cost).map(|c| c.pico).sum();
    assert_eq!(logged, spend.today_pico);
    assert_eq!(
        log.thresholds(),
        [0.5, 0.8],
        "each alert once; 100% is never reached"
    );
}

#[test]
fn the_budget_stops_hard_at_100_percent_until_the_next_utc_day() {
    let (h, log) = costed(daily(0.002));
    // The provider counts far more input than estimated (1700 tokens): an overrun the
    // reservation could not foresee, settled at its real cost.
    h.transport.script(
        CLAUDE,
        [
            claude_answer("claude-haiku-4-5", 1_700, 100),
            claude_answer("claude-haiku-4-5", 10, 10),
            claude_answer("claude-haiku-4-5", 10, 10),
        ],
    );
    h.chat(CLAUDE).unwrap();
    assert_eq!(
        h.client.spend().today_pico,
        1_700 * HAIKU_IN + 100 * HAIKU_OUT
    );
    assert_eq!(log.thresholds(), [0.5, 0.8, 1.0]);
    let alert = &log.alerts.borrow()[2];
    assert_eq!(
        (alert.spent_pico, alert.budget_pico),
        (2_200_000_000, 2_000_000_000)
    );

    let error = h.chat(CLAUDE).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BudgetExceeded);
    assert!(error.message().contains("used up"), "{error}");
    let midnight = (h.clock.now_ms() / DAY_MS + 1) * DAY_MS;
    assert_eq!(error.retry_after(), Some(RetryAfter::At(midnight)));
    assert_eq!(h.transport.exchanges().len(), 1);
    assert_eq!(log.thresholds().len(), 3, "no alert fires twice");

    h.clock.advance(midnight - h.clock.now_ms());
    h.chat(CLAUDE).unwrap();
    assert_eq!(h.client.spend().today_pico, 10 * HAIKU_IN + 10 * HAIKU_OUT);

    // Resetting forgets the day's spend and alerts.
    h.client.reset_spend();
    assert_eq!(h.client.spend().today_pico, 0);
    h.chat(CLAUDE).unwrap();
    assert_eq!(h.transport.exchanges().len(), 3);
}

#[test]
fn a_dropped_stream_settles_its_reservation_at_what_it_received() {
    let (h, log) = costed(daily(1.0));
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.sse").every(100)]);
    let mut stream = h.client.stream(request(CLAUDE), CallOptions::default());
    let first_text = run(&h.clock, async {
        loop {
            match stream.next().await {
                Some(Ok(StreamEvent::TextDelta { text })) => break text,
                Some(Ok(_)) => continue,
                other => panic!("{other:?}"),
            }
        }
    });
    assert_eq!(first_text, "Bonjour !");
    let held = h.client.spend();
    let estimate = h.client.estimate_cost(&request(CLAUDE)).unwrap();
    assert_eq!(held.reserved_pico as u128, estimate.max.unwrap().0);
    let usage = stream.usage();
    drop(stream);

    let price = PriceTable::builtin().lookup(CLAUDE).unwrap();
    let expected = cost_of_interrupted(
        &usage,
        &first_text,
        &request(CLAUDE),
        price,
        Provider::Anthropic,
        false,
    );
    let spend = h.client.spend();
    assert_eq!(spend.reserved_pico, 0, "nothing stays reserved");
    assert_eq!(spend.today_pico as u128, expected.total.0);
    assert_eq!(
        h.transport.exchanges()[0].fate(),
        Fate::Dropped { at_ms: 400 },
        "the request is aborted"
    );
    let record = log.last();
    assert_eq!(record.outcome, Outcome::Cancelled);
    let cost = record.cost.unwrap();
    assert!(cost.estimated);
    assert_eq!(cost.pico as u128, expected.total.0);
    assert_eq!(record.time_to_first_token_ms, Some(400));
    assert_eq!(record.usage.input_tokens, Some(14));
    assert_eq!(log.records().len(), 1);
}

#[test]
fn a_dropped_chat_settles_at_its_expected_cost() {
    let (h, log) = costed(daily(1.0));
    h.transport.script(
        CLAUDE,
        [fixture_reply("anthropic", "text.json").after(1_000)],
    );
    // maxTokens 1000: the worst case is reserved, the expected 500 tokens are settled.
    let mut request = request(CLAUDE);
    request.max_tokens = Some(1_000);
    let options = CallOptions::default();
    let estimate = h.client.estimate_cost(&request).unwrap();
    assert!(estimate.expected < estimate.max.unwrap());
    let mut task = Task::new(&h.clock, h.client.chat(&request, &options));
    assert!(!task.run_for(50));
    assert_eq!(
        h.client.spend().reserved_pico as u128,
        estimate.max.unwrap().0
    );
    drop(task);
    let spend = h.client.spend();
    assert_eq!(spend.reserved_pico, 0);
    // The provider finishes and bills a whole response its caller abandoned.
    assert_eq!(spend.today_pico as u128, estimate.expected.0);
    let record = log.last();
    assert_eq!(record.outcome, Outcome::Cancelled);
    assert!(record.cost.unwrap().estimated);
    assert_eq!(record.attempts, 1);
    assert_eq!(record.usage.input_tokens, None, "counts are never invented");
    assert!(matches!(
        h.transport.exchanges()[0].fate(),
        Fate::Dropped { .. }
    ));
}

#[test]
fn a_stream_dropped_before_it_started_costs_nothing() {
    let (h, log) = costed(daily(1.0));
    let stream = h.client.stream(request(CLAUDE), CallOptions::default());
    drop(stream);
    assert!(log.records().is_empty(), "nothing was called");
    assert_eq!(h.client.spend().today_pico, 0);
}

// ---------------------------------------------------------------------------------------
// Response cache

#[test]
fn a_repeated_request_is_answered_by_the_cache_for_nothing() {
    let (h, log) = costed(|c| c.costs.cache = cache(60_000, 0));
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.json"),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    let first = h.chat(CLAUDE).unwrap();
    assert_eq!(first.cache, CacheStatus::Miss);
    let second = h.chat(CLAUDE).unwrap();
    assert_eq!(second.cache, CacheStatus::Hit);
    assert_eq!(second.response.text(), first.response.text());
    assert_eq!(second.cost.as_ref().unwrap().total, Picodollars::ZERO);
    assert_eq!(second.total_cost, Some(Picodollars::ZERO));
    assert!(second.attempts.is_empty());
    assert_eq!(h.transport.exchanges().len(), 1);
    let records = log.records();
    assert_eq!(
        (records[0].cache, records[0].cost.unwrap().pico),
        (CacheStatus::Miss, 104_000_000)
    );
    assert_eq!(
        (
            records[1].cache,
            records[1].cost.unwrap().pico,
            records[1].attempts
        ),
        (CacheStatus::Hit, 0, 0)
    );
    assert_eq!(records[1].usage.input_tokens, None, "nothing was consumed");

    // Past its TTL the entry no longer answers.
    h.clock.advance(60_000);
    assert_eq!(h.chat(CLAUDE).unwrap().cache, CacheStatus::Miss);
    assert_eq!(h.transport.exchanges().len(), 2);
    let stats = h.client.cache_stats().unwrap();
    assert_eq!((stats.hits, stats.misses), (1, 2));
}

#[test]
fn a_call_can_stay_away_from_the_cache() {
    let (h, _) = costed(|c| c.costs.cache = cache(60_000, 0));
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.json"),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    let bypass = CallOptions {
        cache: Some(false),
        ..CallOptions::default()
    };
    h.chat(CLAUDE).unwrap();
    let outcome = h.chat_with(request(CLAUDE), bypass).unwrap();
    assert_eq!(outcome.cache, CacheStatus::Off);
    assert_eq!(h.transport.exchanges().len(), 2);
}

#[test]
fn a_cached_answer_replays_as_a_stream_and_a_stream_fills_the_cache() {
    let (h, log) = costed(|c| c.costs.cache = cache(60_000, 0));
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.sse")]);
    let (live, stream) = h.stream(CLAUDE);
    assert_eq!(stream.cache_status(), CacheStatus::Miss);
    let chat = h.chat(CLAUDE).unwrap();
    assert_eq!(chat.cache, CacheStatus::Hit);
    assert_eq!(chat.response.text(), live.text());

    let (replayed, stream) = h.stream(CLAUDE);
    assert!(replayed.error.is_none());
    assert_eq!(replayed.text(), live.text());
    assert!(matches!(replayed.events[0], StreamEvent::Start { .. }));
    assert!(matches!(
        replayed.events.last(),
        Some(StreamEvent::Finish { .. })
    ));
    assert_eq!(stream.cache_status(), CacheStatus::Hit);
    assert_eq!(stream.total_cost(), Some(Picodollars::ZERO));
    assert_eq!(h.transport.exchanges().len(), 1);
    let record = log.last();
    assert_eq!(record.cache, CacheStatus::Hit);
    assert_eq!(record.time_to_first_token_ms, Some(0));
}

#[test]
fn identical_calls_in_flight_together_share_one_upstream_request() {
    let (h, log) = costed(|c| c.costs.cache = cache(60_000, 0));
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json").after(100)]);
    let request = request(CLAUDE);
    let options = CallOptions::default();
    let calls = (0..5).map(|_| h.client.chat(&request, &options)).collect();
    let outcomes: Vec<_> = run(&h.clock, join_all(calls))
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(h.transport.exchanges().len(), 1);
    assert_eq!(h.clock.elapsed_ms(), 100);
    let statuses: Vec<CacheStatus> = outcomes.iter().map(|o| o.cache).collect();
    assert_eq!(
        statuses,
        [
            CacheStatus::Miss,
            CacheStatus::Coalesced,
            CacheStatus::Coalesced,
            CacheStatus::Coalesced,
            CacheStatus::Coalesced
        ]
    );
    assert!(outcomes
        .iter()
        .all(|o| o.response.text() == outcomes[0].response.text()));
    assert_eq!(pico(outcomes[0].total_cost), 104_000_000);
    assert!(outcomes[1..]
        .iter()
        .all(|o| o.total_cost == Some(Picodollars::ZERO)));
    assert_eq!(h.client.cache_stats().unwrap().coalesced, 4);
    let logged: u64 = log.records().iter().map(|r| r.cost.unwrap().pico).sum();
    assert_eq!((log.records().len(), logged), (5, 104_000_000));
}

#[test]
fn a_chat_can_follow_a_stream_in_flight() {
    let (h, _) = costed(|c| c.costs.cache = cache(60_000, 0));
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.sse").every(50)]);
    let request = request(CLAUDE);
    let options = CallOptions::default();
    let mut stream = h.client.stream(request.clone(), options.clone());
    let (streamed, chat) = run(
        &h.clock,
        join(drain(&mut stream), h.client.chat(&request, &options)),
    );
    let chat = chat.unwrap();
    assert_eq!(h.transport.exchanges().len(), 1);
    assert_eq!(stream.cache_status(), CacheStatus::Miss);
    assert_eq!(chat.cache, CacheStatus::Coalesced);
    assert_eq!(chat.response.text(), streamed.text());
    assert_eq!(chat.response.usage, stream.usage());
}

#[test]
fn followers_of_a_stream_cut_midway_make_their_own_call() {
    let (h, _) = costed(|c| c.costs.cache = cache(60_000, 0));
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "truncated.sse").every(50),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    let request = request(CLAUDE);
    let options = CallOptions::default();
    let mut stream = h.client.stream(request.clone(), options.clone());
    let (streamed, chat) = run(
        &h.clock,
        join(drain(&mut stream), h.client.chat(&request, &options)),
    );
    assert_eq!(
        streamed.error.unwrap().kind(),
        ErrorKind::TruncatedStream,
        "the caller of the cut stream sees the error"
    );
    let chat = chat.unwrap();
    assert_eq!(
        chat.cache,
        CacheStatus::Miss,
        "the follower led a second flight"
    );
    assert_eq!(chat.attempts.len(), 1);
    assert_eq!(h.transport.exchanges().len(), 2);
}

#[test]
fn a_follower_makes_the_call_itself_when_the_leader_is_dropped() {
    let (h, log) = costed(|c| c.costs.cache = cache(60_000, 0));
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.json").after(100),
            fixture_reply("anthropic", "text.json").after(100),
        ],
    );
    let request = request(CLAUDE);
    let options = CallOptions::default();
    let mut leader = Task::new(&h.clock, h.client.chat(&request, &options));
    let mut follower = Task::new(&h.clock, h.client.chat(&request, &options));
    assert!(!leader.run_until_stalled());
    assert!(!follower.run_until_stalled());
    assert_eq!(h.transport.exchanges().len(), 1, "the follower waits");
    drop(leader);
    let outcome = follower.finish().unwrap();
    assert_eq!(outcome.cache, CacheStatus::Miss, "it led the second flight");
    let exchanges = h.transport.exchanges();
    assert_eq!(exchanges.len(), 2);
    assert!(matches!(exchanges[0].fate(), Fate::Dropped { .. }));
    let outcomes: Vec<Outcome> = log.records().into_iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [Outcome::Cancelled, Outcome::Ok]);
}

#[test]
fn a_stale_entry_answers_when_every_target_failed_if_allowed() {
    let (h, log) = costed(|c| {
        c.costs.cache = cache(1_000, 60_000);
        c.policy.retry.max_retries = 0;
    });
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.json"),
            fixture_reply("anthropic", "error_500.json"),
            fixture_reply("anthropic", "error_500.json"),
            fixture_reply("anthropic", "error_500.json"),
        ],
    );
    let fresh = h.chat(CLAUDE).unwrap();
    h.clock.advance(5_000);
    let stale = h.chat(CLAUDE).unwrap();
    assert!(stale.stale);
    assert_eq!(stale.cache, CacheStatus::Stale);
    assert_eq!(stale.response.text(), fresh.response.text());
    assert_eq!(stale.attempts.len(), 1);
    assert!(stale.attempts[0].error().is_some());
    assert_eq!(stale.total_cost, Some(Picodollars::ZERO));
    assert!(stale.response.warnings.iter().any(|w| w.setting == "cache"));
    let json = serde_json::to_value(&stale).unwrap();
    assert_eq!(json["stale"], true);
    let record = log.last();
    assert_eq!(
        (record.cache, &record.outcome),
        (CacheStatus::Stale, &Outcome::Ok)
    );
    assert_eq!(record.attempts, 1);

    // A stream is answered the same way.
    let (replayed, stream) = h.stream(CLAUDE);
    assert!(replayed.error.is_none());
    assert_eq!(replayed.text(), fresh.response.text());
    assert!(stream.is_stale());

    // Past the stale-if-error window the error stands.
    h.clock.advance(60_000);
    let error = h.chat(CLAUDE).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ServerError);
    assert_eq!(log.last().outcome, Outcome::Error("server_error".into()));
}

#[test]
fn without_stale_if_error_a_failure_is_not_hidden() {
    let (h, _) = costed(|c| {
        c.costs.cache = cache(1_000, 0);
        c.policy.retry.max_retries = 0;
    });
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.json"),
            fixture_reply("anthropic", "error_500.json"),
        ],
    );
    h.chat(CLAUDE).unwrap();
    h.clock.advance(5_000);
    assert_eq!(h.chat(CLAUDE).unwrap_err().kind(), ErrorKind::ServerError);
}

// ---------------------------------------------------------------------------------------
// Prompt caching

/// A system prompt of about 1,700 tokens: enough for Sonnet 4.6 (1024), too short for
/// Haiku 4.5 (4096).
fn long_system_prompt() -> Vec<SystemBlock> {
    let text = "You answer questions about the Acme router product line, politely. ".repeat(150);
    vec![SystemBlock { text, cache: None }]
}

#[test]
fn cache_system_prompt_marks_a_prompt_long_enough_to_cache() {
    let (h, log) = costed(|c| c.costs.cache_system_prompt = true);
    h.transport.script(
        SONNET,
        [
            fixture_reply("anthropic", "text.json"),
            fixture_reply("anthropic", "text.json"),
        ],
    );
    h.transport
        .script(CLAUDE, [fixture_reply("anthropic", "text.json")]);
    let mut request = request(SONNET);
    request.system = long_system_prompt();
    let outcome = h
        .chat_with(request.clone(), CallOptions::default())
        .unwrap();
    assert!(outcome.response.warnings.is_empty());
    let body = h.transport.exchanges()[0].body();
    assert_eq!(
        body["system"].as_array().unwrap().last().unwrap()["cache_control"],
        json!({ "type": "ephemeral" })
    );

    // Haiku 4.5 caches 4096 tokens at least: the same prompt stays unmarked, with a warning.
    request.model = CLAUDE.to_string();
    let outcome = h
        .chat_with(request.clone(), CallOptions::default())
        .unwrap();
    assert!(h.transport.exchanges()[1].body()["system"].is_string());
    let warning = outcome
        .response
        .warnings
        .iter()
        .find(|w| w.setting == "cacheSystemPrompt")
        .expect("a warning");
    assert!(warning.message.contains("4096"), "{warning:?}");
    assert!(log.last().warnings.contains(warning));

    // A call can turn it off.
    request.model = SONNET.to_string();
    let off = CallOptions {
        cache_system_prompt: Some(false),
        ..CallOptions::default()
    };
    h.chat_with(request, off).unwrap();
    assert!(h.transport.exchanges()[2].body()["system"].is_string());
}

#[test]
fn a_call_can_ask_for_prompt_caching_itself() {
    let (h, _) = costed(|_| {});
    h.transport
        .script(SONNET, [fixture_reply("anthropic", "text.json")]);
    let mut request = request(SONNET);
    request.system = long_system_prompt();
    let on = CallOptions {
        cache_system_prompt: Some(true),
        ..CallOptions::default()
    };
    h.chat_with(request, on).unwrap();
    let body = h.transport.exchanges()[0].body();
    assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
}

// ---------------------------------------------------------------------------------------
// Usage log, estimates, projections

#[test]
fn every_call_leaves_exactly_one_usage_record() {
    let (h, log) = costed(|c| {
        c.costs.cache = cache(60_000, 0);
        c.costs.budget = Some(BudgetOptions {
            per_request_usd: Some(0.01),
            ..BudgetOptions::default()
        });
    });
    h.transport.script(
        CLAUDE,
        [
            fixture_reply("anthropic", "text.json"),
            fixture_reply("anthropic", "error_401.json"),
            fixture_reply("anthropic", "text.json").after(1_000),
        ],
    );
    h.chat(CLAUDE).unwrap();
    h.chat(CLAUDE).unwrap(); // a cache hit
    let mut other = request(CLAUDE);
    other.temperature = Some(0.5);
    h.chat_with(other.clone(), CallOptions::default())
        .unwrap_err(); // authentication
    let mut huge = request(CLAUDE);
    huge.max_tokens = Some(60_000);
    h.chat_with(huge, CallOptions::default()).unwrap_err(); // over the cap
    let options = CallOptions::default();
    other.temperature = Some(0.7);
    let mut cancelled = Task::new(&h.clock, h.client.chat(&other, &options));
    assert!(!cancelled.run_for(10));
    drop(cancelled);

    let outcomes: Vec<(Outcome, CacheStatus)> = log
        .records()
        .into_iter()
        .map(|r| (r.outcome, r.cache))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Outcome::Ok, CacheStatus::Miss),
            (Outcome::Ok, CacheStatus::Hit),
            (Outcome::Error("authentication".into()), CacheStatus::Miss),
            (Outcome::Error("budget_exceeded".into()), CacheStatus::Off),
            (Outcome::Cancelled, CacheStatus::Miss),
        ]
    );
    let json = serde_json::to_value(log.last()).unwrap();
    assert_eq!(json["outcome"], "cancelled");
    assert_eq!(json["cost"]["estimated"], true);
}

#[test]
fn estimates_and_projections_use_the_clients_prices() {
    let (h, _) = costed(|_| {});
    let request = ask("auto", "hi there!");
    let estimate = h.client.estimate_cost(&request).unwrap();
    assert_eq!(estimate.model, CLAUDE);
    assert_eq!(estimate.output_tokens_max, Some(256));
    let input = u128::from(estimate.input_tokens * HAIKU_IN);
    assert_eq!(estimate.max.unwrap().0, input + 256 * u128::from(HAIKU_OUT));
    assert_eq!(estimate.expected.0, input + 256 * u128::from(HAIKU_OUT));
    let json = serde_json::to_value(&estimate).unwrap();
    for key in ["inputTokens", "outputTokensMax", "usdExpected", "usdMax"] {
        assert!(json.get(key).is_some(), "{key}");
    }
    // Anthropic gets the adapter's default maxTokens when the request names none.
    let mut open = request.clone();
    open.max_tokens = None;
    assert_eq!(
        h.client.estimate_cost(&open).unwrap().output_tokens_max,
        Some(4096)
    );
    // An estimate does not pin a conversation.
    let pinned = in_conversation(request, "c9");
    h.client.estimate_cost(&pinned).unwrap();
    h.transport
        .script(OPUS, [fixture_reply("anthropic", "text.json")]);
    let hard = h
        .chat_with(
            in_conversation(ask("auto", HARD), "c9"),
            CallOptions::default(),
        )
        .unwrap();
    assert_eq!(hard.route.unwrap().model, OPUS);

    let unknown = h
        .client
        .estimate_cost(&ask("anthropic/claude-experimental", "hi"))
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Config);

    let projection = h
        .client
        .project_monthly_cost(&MonthlyUsagePlan {
            requests_per_day: 1_000,
            model: Some(CLAUDE.to_string()),
            mix: None,
            avg_input_tokens: 1_000,
            avg_output_tokens: 200,
            batch: false,
        })
        .unwrap();
    // 1000/day × 30 days × (1000 × $1 + 200 × $5) per million = $60.
    assert_eq!(projection.total, Some(Picodollars(60 * 1_000_000_000_000)));
}

#[test]
fn a_budget_needs_a_bound_on_the_output_it_pays_for() {
    // A custom price without an output limit, and a request without maxTokens.
    let model = "openai/my-fine-tune";
    let (h, _) = costed(|c| {
        c.costs.prices = Some(
            PriceOverrides::from_value(json!({ model: { "input": 2, "output": 4 } })).unwrap(),
        );
        daily(1.0)(c);
    });
    let mut request = request(model);
    request.max_tokens = None;
    let error = h.chat_with(request, CallOptions::default()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BudgetExceeded);
    assert!(error.message().contains("set maxTokens"), "{error}");
    assert!(h.transport.exchanges().is_empty());
}
