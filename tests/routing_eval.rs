//! Measures the complexity router against a labelled prompt set
//! (`tests/fixtures/routing/prompts.json`): exact-tier agreement overall and per split, the
//! confusion matrix, under-routing (a cheaper tier than the label: the error that costs
//! quality) and over-routing, and the cost of a 1,000-requests/day mix against sending
//! everything to the standard tier. The same figures are given for the tutorial
//! length-and-keyword router, expressed as a configuration.
//!
//! The labels were written before the router was tuned. Only the `tune` split is shown
//! prompt by prompt; the `holdout` split is reported in aggregate only.
//!
//! Cost model (documented assumptions, no caching, no batch discount):
//! - each labelled prompt stands for an equal share of 1,000 requests a day;
//! - input tokens: the request's text (system, messages, tool calls and results, tool
//!   definitions as JSON) at 4 bytes per token, rounded up;
//! - output tokens: the prompt's `outputTokens`, the expected answer length written with the
//!   label, the same whichever model answers.
//!
//! Run `scripts/router-eval.sh` for the table.
use std::time::Instant;

use llm_edge::core::model::{ContentPart, Message, Request};
use llm_edge::core::route::{AssumeCapable, Router, RouterConfig, Tier, TUTORIAL_KEYWORDS};
use serde::Deserialize;
use serde_json::json;

/// List prices in USD per million tokens (input, output), from
/// /work/shared/reference/prices.md (Anthropic pricing page, 2026), for the default tier models.
const PRICES: [(&str, f64, f64); 3] = [
    ("anthropic/claude-haiku-4-5", 1.00, 5.00),
    ("anthropic/claude-sonnet-4-6", 3.00, 15.00),
    ("anthropic/claude-opus-4-6", 5.00, 25.00),
];

const REQUESTS_PER_DAY: f64 = 1000.0;

#[derive(Deserialize)]
struct Fixture {
    prompts: Vec<LabelledPrompt>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LabelledPrompt {
    id: String,
    split: Split,
    tier: Tier,
    #[allow(dead_code)]
    why: String,
    output_tokens: u64,
    request: Request,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Split {
    Tune,
    Holdout,
}

fn load() -> Vec<LabelledPrompt> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/routing/prompts.json"
    );
    let text = std::fs::read_to_string(path).expect("the labelled prompt set");
    serde_json::from_str::<Fixture>(&text)
        .expect("a valid prompt set")
        .prompts
}

fn input_tokens(request: &Request) -> u64 {
    let mut bytes: usize = request.system.iter().map(|b| b.text.len()).sum();
    for message in &request.messages {
        for part in &message.content {
            bytes += match part {
                ContentPart::Text { text, .. } | ContentPart::Reasoning { text, .. } => text.len(),
                ContentPart::ToolCall {
                    name, arguments, ..
                } => name.len() + arguments.to_string().len(),
                ContentPart::ToolResult { content, .. } => content.len(),
                ContentPart::Image { .. } => 0,
            };
        }
    }
    for tool in &request.tools {
        bytes += serde_json::to_string(tool).unwrap().len();
    }
    (bytes as u64).div_ceil(4)
}

fn cost_usd(tier: Tier, input: u64, output: u64) -> f64 {
    let (_, input_price, output_price) = PRICES[tier as usize];
    (input as f64 * input_price + output as f64 * output_price) / 1e6
}

/// The figures of one way of routing the set.
struct Measured {
    name: String,
    routed: Vec<Tier>,
    agreement: f64,
    tune_agreement: f64,
    holdout_agreement: f64,
    under: f64,
    over: f64,
    usd_per_day: f64,
    confusion: [[u32; 3]; 3],
}

fn measure(name: &str, prompts: &[LabelledPrompt], routed: Vec<Tier>) -> Measured {
    let share = |filter: &dyn Fn(&LabelledPrompt, Tier) -> bool, split: Option<Split>| {
        let pool: Vec<_> = prompts
            .iter()
            .zip(&routed)
            .filter(|(p, _)| split.is_none_or(|s| p.split == s))
            .collect();
        pool.iter().filter(|(p, t)| filter(p, **t)).count() as f64 / pool.len() as f64
    };
    let mut confusion = [[0; 3]; 3];
    let mut usd_per_request = 0.0;
    for (prompt, &tier) in prompts.iter().zip(&routed) {
        confusion[prompt.tier as usize][tier as usize] += 1;
        usd_per_request += cost_usd(tier, input_tokens(&prompt.request), prompt.output_tokens);
    }
    Measured {
        name: name.to_string(),
        agreement: share(&|p, t| p.tier == t, None),
        tune_agreement: share(&|p, t| p.tier == t, Some(Split::Tune)),
        holdout_agreement: share(&|p, t| p.tier == t, Some(Split::Holdout)),
        under: share(&|p, t| t < p.tier, None),
        over: share(&|p, t| t > p.tier, None),
        usd_per_day: usd_per_request / prompts.len() as f64 * REQUESTS_PER_DAY,
        confusion,
        routed,
    }
}

fn route_all(router: &Router, prompts: &[LabelledPrompt]) -> Vec<Tier> {
    prompts
        .iter()
        .map(|p| router.route(&p.request, &AssumeCapable, 0).unwrap().tier)
        .collect()
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn print_table(
    prompts: &[LabelledPrompt],
    rows: &[&Measured],
    all_standard: f64,
    all_complex: f64,
) {
    let count = |split: Split| prompts.iter().filter(|p| p.split == split).count();
    let label = |tier: Tier| prompts.iter().filter(|p| p.tier == tier).count();
    println!(
        "\nrouter eval: {} prompts ({} tune, {} holdout), labels {} simple / {} standard / {} complex",
        prompts.len(),
        count(Split::Tune),
        count(Split::Holdout),
        label(Tier::Simple),
        label(Tier::Standard),
        label(Tier::Complex)
    );
    println!(
        "| router | agreement | tune | holdout | under-routed | over-routed | USD/day, 1,000 req | saving vs all-standard | vs all-complex |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for m in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2} | {} | {} |",
            m.name,
            pct(m.agreement),
            pct(m.tune_agreement),
            pct(m.holdout_agreement),
            pct(m.under),
            pct(m.over),
            m.usd_per_day,
            pct(1.0 - m.usd_per_day / all_standard),
            pct(1.0 - m.usd_per_day / all_complex)
        );
    }
    for m in rows.iter().filter(|m| {
        m.agreement < 1.0 && m.confusion.iter().flatten().filter(|&&n| n > 0).count() > 3
    }) {
        println!(
            "\nconfusion, {} (rows: label; columns: routed simple, standard, complex)",
            m.name
        );
        for tier in Tier::ALL {
            let row = m.confusion[tier as usize];
            println!(
                "  {:>8}: {:>3} {:>3} {:>3}",
                tier.as_str(),
                row[0],
                row[1],
                row[2]
            );
        }
    }
}

#[test]
fn the_labelled_set_has_a_production_like_mix_and_a_holdout() {
    let prompts = load();
    assert!(prompts.len() >= 60, "{} prompts", prompts.len());
    let share = |tier: Tier| {
        prompts.iter().filter(|p| p.tier == tier).count() as f64 / prompts.len() as f64
    };
    assert!((0.40..=0.50).contains(&share(Tier::Simple)));
    assert!((0.30..=0.40).contains(&share(Tier::Standard)));
    assert!((0.15..=0.25).contains(&share(Tier::Complex)));
    let holdout = prompts.iter().filter(|p| p.split == Split::Holdout).count();
    assert!((18..=22).contains(&holdout), "{holdout} held out");
    let mut ids: Vec<_> = prompts.iter().map(|p| p.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), prompts.len(), "ids are unique");
    for p in &prompts {
        assert_eq!(p.request.model, "auto", "{}", p.id);
        assert!(p.output_tokens > 0, "{}", p.id);
    }
}

#[test]
fn the_tutorial_router_is_plain_configuration() {
    let from_json = RouterConfig::from_value(json!({
        "signals": ["length", "reasoningWords"],
        "length": { "points": 1.0, "shortChars": 200, "longChars": 200 },
        "reasoningWords": { "points": 1.0, "max": 1.0, "words": TUTORIAL_KEYWORDS },
        "thresholds": { "standard": 1.0, "complex": null }
    }))
    .unwrap();
    assert_eq!(
        from_json,
        RouterConfig::length_and_keywords(200, TUTORIAL_KEYWORDS, Tier::Standard)
    );
}

#[test]
fn routing_agrees_with_the_labels_and_saves_against_all_standard() {
    let prompts = load();
    let router = |config: RouterConfig| Router::new(config).unwrap();
    let default_router = router(RouterConfig::default());
    let mut no_complex = RouterConfig::default();
    no_complex.thresholds.complex = None;
    let tutorial = |expensive: Tier| {
        router(RouterConfig::length_and_keywords(
            200,
            TUTORIAL_KEYWORDS,
            expensive,
        ))
    };

    let complexity = measure(
        "complexity (default config)",
        &prompts,
        route_all(&default_router, &prompts),
    );
    let two_tier = measure(
        "complexity, complex tier off (`complex: null`)",
        &prompts,
        route_all(&router(no_complex), &prompts),
    );
    let tutorial_standard = measure(
        "tutorial: < 200 chars and no keyword, else standard",
        &prompts,
        route_all(&tutorial(Tier::Standard), &prompts),
    );
    let tutorial_complex = measure(
        "tutorial: < 200 chars and no keyword, else complex",
        &prompts,
        route_all(&tutorial(Tier::Complex), &prompts),
    );
    let all = |tier: Tier| vec![tier; prompts.len()];
    let all_standard = measure("all standard", &prompts, all(Tier::Standard));
    let all_complex = measure("all complex", &prompts, all(Tier::Complex));
    let labels = measure(
        "the labels (perfect routing)",
        &prompts,
        prompts.iter().map(|p| p.tier).collect(),
    );
    print_table(
        &prompts,
        &[
            &complexity,
            &two_tier,
            &tutorial_standard,
            &tutorial_complex,
            &all_standard,
            &all_complex,
            &labels,
        ],
        all_standard.usd_per_day,
        all_complex.usd_per_day,
    );

    let started = Instant::now();
    const ROUNDS: u32 = 20;
    for _ in 0..ROUNDS {
        route_all(&default_router, &prompts);
    }
    let micros_per_request =
        started.elapsed().as_secs_f64() * 1e6 / (ROUNDS as f64 * prompts.len() as f64);
    println!("\nrouting time: {micros_per_request:.1} µs per request (mean over the set, this build profile)");
    let document =
        "The committee reviewed the quarterly figures and noted the variance.\n".repeat(3000);
    let long_turn = Request::new(
        "auto",
        vec![Message::user(format!(
            "Summarise the key decisions.\n\n{document}"
        ))],
    );
    let started = Instant::now();
    for _ in 0..ROUNDS {
        default_router.route(&long_turn, &AssumeCapable, 0).unwrap();
    }
    let micros_long = started.elapsed().as_secs_f64() * 1e6 / ROUNDS as f64;
    println!(
        "routing time: {micros_long:.1} µs for a {} KB turn (a pasted document)",
        document.len() / 1000
    );

    let verbose = std::env::var_os("ROUTER_EVAL_VERBOSE").is_some();
    println!(
        "\ntune split, {}:",
        if verbose {
            "every prompt"
        } else {
            "prompts routed differently from their label"
        }
    );
    for (prompt, &tier) in prompts.iter().zip(&complexity.routed) {
        if prompt.split == Split::Tune && (verbose || tier != prompt.tier) {
            let d = default_router
                .route(&prompt.request, &AssumeCapable, 0)
                .unwrap();
            println!(
                "  {:<28} label {:<8} routed {:<8} {}",
                prompt.id,
                prompt.tier.as_str(),
                tier.as_str(),
                d.reason
            );
        }
    }

    // Floors a little under the measured figures, so that a regression fails. Measured:
    // agreement 88.6% (tune 94.0%, holdout 75.0%), under-routed 10.0%, over-routed 1.4%;
    // tutorial (else standard) 58.6% and 32.9% under-routed; cost against all-complex -20.4%
    // for the default config, against all-standard -8.2% with the complex tier off.
    assert!(
        complexity.agreement >= 0.85,
        "agreement {}",
        pct(complexity.agreement)
    );
    assert!(
        complexity.tune_agreement >= 0.90,
        "tune {}",
        pct(complexity.tune_agreement)
    );
    assert!(
        complexity.holdout_agreement >= 0.70,
        "holdout {}",
        pct(complexity.holdout_agreement)
    );
    assert!(
        complexity.under <= 0.12,
        "under-routed {}",
        pct(complexity.under)
    );
    assert!(
        complexity.over <= 0.05,
        "over-routed {}",
        pct(complexity.over)
    );
    assert!(complexity.agreement >= tutorial_standard.agreement + 0.25);
    assert!(complexity.under <= tutorial_standard.under / 3.0);
    let saving = |m: &Measured, baseline: &Measured| 1.0 - m.usd_per_day / baseline.usd_per_day;
    assert!(
        saving(&complexity, &all_complex) >= 0.17,
        "{}",
        pct(saving(&complexity, &all_complex))
    );
    assert!(
        saving(&two_tier, &all_standard) >= 0.06,
        "{}",
        pct(saving(&two_tier, &all_standard))
    );
    assert!(
        routing_is_fast(micros_per_request),
        "{micros_per_request:.1} µs per request"
    );
    assert!(
        routing_is_fast(micros_long),
        "{micros_long:.1} µs for a long turn"
    );
}

/// A generous bound (debug builds on a shared 2-core machine): it catches work that grows
/// with the whole prompt or the keyword count, not scheduling noise.
fn routing_is_fast(micros_per_request: f64) -> bool {
    micros_per_request < 2000.0
}
