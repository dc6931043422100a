//! Hand-computed cost vectors over the built-in price table, and the accuracy of the offline
//! token estimator against real tokenizers.
//!
//! Every vector states its computation in USD per million tokens (`$/M`); the expected totals
//! are exact decimals, compared to the picodollar.
use llm_edge::core::cost::{
    cost_for_model, cost_of, cost_of_interrupted, estimate_cost, project_monthly_cost,
    MonthlyUsagePlan, Picodollars,
};
use llm_edge::core::model::{Message, Provider, Request, Usage};
use llm_edge::core::pricing::{ModelPrice, PriceTable};
use llm_edge::core::tokens::estimate_text_tokens;

/// An exact decimal USD amount, e.g. `usd("0.007225")`.
fn usd(decimal: &str) -> Picodollars {
    let (whole, frac) = decimal.split_once('.').unwrap_or((decimal, ""));
    assert!(
        frac.len() <= 12,
        "more precision than a picodollar: {decimal}"
    );
    let frac = format!("{frac:0<12}");
    Picodollars(whole.parse::<u128>().unwrap() * 1_000_000_000_000 + frac.parse::<u128>().unwrap())
}

fn price(model: &str) -> &'static ModelPrice {
    PriceTable::builtin()
        .lookup(model)
        .unwrap_or_else(|| panic!("no price for {model}"))
}

/// Usage in the unified semantics: `input` is uncached.
fn usage(input: u64, cache_read: u64, write_5m: u64, write_1h: u64, output: u64) -> Usage {
    Usage {
        input_tokens: Some(input),
        cache_read_tokens: Some(cache_read),
        cache_write_5m_tokens: Some(write_5m),
        cache_write_1h_tokens: Some(write_1h),
        output_tokens: Some(output),
        reasoning_tokens: None,
    }
}

struct Vector {
    name: &'static str,
    model: &'static str,
    usage: Usage,
    batch: bool,
    expected_usd: &'static str,
    /// The long-prompt tier expected to apply.
    tier: Option<u64>,
}

#[test]
fn hand_computed_cost_vectors() {
    let vectors = [
        // ---- Anthropic: input excludes cache tokens; reads and 5m/1h writes priced apart.
        Vector {
            name: "haiku 4.5, plain",
            model: "claude-haiku-4-5",
            // 1000 x $1/M = 0.001; 500 x $5/M = 0.0025; total 0.0035
            usage: usage(1_000, 0, 0, 0, 500),
            batch: false,
            expected_usd: "0.0035",
            tier: None,
        },
        Vector {
            name: "haiku 4.5, every cache class",
            model: "anthropic/claude-haiku-4-5",
            // 25 x $1/M = 0.000025; read 12000 x $0.10/M = 0.0012; 5m 2000 x $1.25/M = 0.0025;
            // 1h 1000 x $2/M = 0.002; out 300 x $5/M = 0.0015; total 0.007225
            usage: usage(25, 12_000, 2_000, 1_000, 300),
            batch: false,
            expected_usd: "0.007225",
            tier: None,
        },
        Vector {
            name: "haiku 4.5, every cache class, batch (cache tokens discounted too)",
            model: "claude-haiku-4-5",
            // 0.007225 x 0.5 = 0.0036125
            usage: usage(25, 12_000, 2_000, 1_000, 300),
            batch: true,
            expected_usd: "0.0036125",
            tier: None,
        },
        Vector {
            name: "haiku 4.5 dated snapshot, reasoning inside output",
            model: "claude-haiku-4-5-20251001",
            // 100 x $1/M = 0.0001; 2000 output (1500 of them thinking) x $5/M = 0.01; total 0.0101
            usage: Usage {
                reasoning_tokens: Some(1_500),
                ..usage(100, 0, 0, 0, 2_000)
            },
            batch: false,
            expected_usd: "0.0101",
            tier: None,
        },
        Vector {
            name: "sonnet 4.5, total input exactly 200K: base prices",
            model: "claude-sonnet-4-5",
            // total input 150000 + 40000 + 10000 = 200000, not above 200K.
            // 150000 x $3/M = 0.45; read 40000 x $0.30/M = 0.012; 5m 10000 x $3.75/M = 0.0375;
            // out 1000 x $15/M = 0.015; total 0.5145
            usage: usage(150_000, 40_000, 10_000, 0, 1_000),
            batch: false,
            expected_usd: "0.5145",
            tier: None,
        },
        Vector {
            name: "sonnet 4.5, total input 200001: the whole request at the long-prompt tier",
            model: "claude-sonnet-4-5",
            // 150001 x $6/M = 0.900006; read 40000 x $0.60/M = 0.024; 5m 10000 x $7.50/M = 0.075;
            // out 1000 x $22.50/M = 0.0225; total 1.021506
            usage: usage(150_001, 40_000, 10_000, 0, 1_000),
            batch: false,
            expected_usd: "1.021506",
            tier: Some(200_000),
        },
        Vector {
            name: "sonnet 4.5, tier chosen by total input although uncached input is small",
            model: "claude-sonnet-4-5",
            // total 1000 + 199001 = 200001 > 200K.
            // 1000 x $6/M = 0.006; read 199001 x $0.60/M = 0.1194006; out 100 x $22.50/M = 0.00225;
            // total 0.1276506
            usage: usage(1_000, 199_001, 0, 0, 100),
            batch: false,
            expected_usd: "0.1276506",
            tier: Some(200_000),
        },
        Vector {
            name: "sonnet 4.5, long-prompt tier and batch",
            model: "claude-sonnet-4-5",
            // tier $6/$22.50, halved: 250000 x $3/M = 0.75; 2000 x $11.25/M = 0.0225; total 0.7725
            usage: usage(250_000, 0, 0, 0, 2_000),
            batch: true,
            expected_usd: "0.7725",
            tier: Some(200_000),
        },
        Vector {
            name: "sonnet 4 dated snapshot, 1h cache write just above the tier",
            model: "claude-sonnet-4-20250514",
            // total 1 + 200000 = 200001 > 200K. 1 x $6/M = 0.000006; 1h 200000 x $12/M = 2.4;
            // out 0; total 2.400006
            usage: usage(1, 0, 0, 200_000, 0),
            batch: false,
            expected_usd: "2.400006",
            tier: Some(200_000),
        },
        Vector {
            name: "opus 4.1, 1-hour cache write",
            model: "claude-opus-4-1",
            // 2000 x $15/M = 0.03; 1h 50000 x $30/M = 1.5; out 1000 x $75/M = 0.075; total 1.605
            usage: usage(2_000, 0, 0, 50_000, 1_000),
            batch: false,
            expected_usd: "1.605",
            tier: None,
        },
        Vector {
            name: "opus 4.5 dated snapshot",
            model: "claude-opus-4-5-20251101",
            // 10 x $5/M = 0.00005; 10 x $25/M = 0.00025; total 0.0003
            usage: usage(10, 0, 0, 0, 10),
            batch: false,
            expected_usd: "0.0003",
            tier: None,
        },
        Vector {
            name: "claude 3 haiku, a million each way",
            model: "claude-3-haiku",
            // $0.25 + $1.25 = 1.5
            usage: usage(1_000_000, 0, 0, 0, 1_000_000),
            batch: false,
            expected_usd: "1.5",
            tier: None,
        },
        Vector {
            name: "claude 3.5 haiku dated snapshot, read and 5m write",
            model: "claude-3-5-haiku-20241022",
            // 100 x $0.80/M = 0.00008; read 1000 x $0.08/M = 0.00008; 5m 1000 x $1/M = 0.001;
            // out 50 x $4/M = 0.0002; total 0.00136
            usage: usage(100, 1_000, 1_000, 0, 50),
            batch: false,
            expected_usd: "0.00136",
            tier: None,
        },
        // ---- OpenAI: prompt_tokens includes cached_tokens; the adapter subtracts them, so a
        // response with prompt_tokens 10000 and cached_tokens 4000 is input 6000 + read 4000.
        Vector {
            name: "gpt-4o, cached input (prompt 10000 of which 4000 cached)",
            model: "gpt-4o",
            // 6000 x $2.50/M = 0.015; read 4000 x $1.25/M = 0.005; out 500 x $10/M = 0.005;
            // total 0.025 (billing the raw prompt count at $2.50 would say 0.035)
            usage: usage(6_000, 4_000, 0, 0, 500),
            batch: false,
            expected_usd: "0.025",
            tier: None,
        },
        Vector {
            name: "gpt-4o dated snapshot",
            model: "gpt-4o-2024-08-06",
            // 1000 x $2.50/M = 0.0025; 100 x $10/M = 0.001; total 0.0035
            usage: usage(1_000, 0, 0, 0, 100),
            batch: false,
            expected_usd: "0.0035",
            tier: None,
        },
        Vector {
            name: "gpt-4o-mini, cached input",
            model: "openai/gpt-4o-mini",
            // 1234 x $0.15/M = 0.0001851; read 1024 x $0.075/M = 0.0000768;
            // out 56 x $0.60/M = 0.0000336; total 0.0002955
            usage: usage(1_234, 1_024, 0, 0, 56),
            batch: false,
            expected_usd: "0.0002955",
            tier: None,
        },
        Vector {
            name: "gpt-4o-mini, cached input, batch",
            model: "gpt-4o-mini",
            // 0.0002955 / 2 = 0.00014775 ($0.0375/M cached is exact in picodollars)
            usage: usage(1_234, 1_024, 0, 0, 56),
            batch: true,
            expected_usd: "0.00014775",
            tier: None,
        },
        Vector {
            name: "gpt-5, reasoning tokens inside completion_tokens",
            model: "gpt-5",
            // completion 8000 of which reasoning 7000: billed once as output.
            // 2000 x $1.25/M = 0.0025; 8000 x $10/M = 0.08; total 0.0825
            usage: Usage {
                reasoning_tokens: Some(7_000),
                ..usage(2_000, 0, 0, 0, 8_000)
            },
            batch: false,
            expected_usd: "0.0825",
            tier: None,
        },
        Vector {
            name: "gpt-5-nano, cached input",
            model: "gpt-5-nano",
            // 100000 x $0.05/M = 0.005; read 50000 x $0.005/M = 0.00025; out 10000 x $0.40/M = 0.004;
            // total 0.00925
            usage: usage(100_000, 50_000, 0, 0, 10_000),
            batch: false,
            expected_usd: "0.00925",
            tier: None,
        },
        Vector {
            name: "gpt-4.1 dated snapshot, no output",
            model: "gpt-4.1-2025-04-14",
            // 1000000 x $2/M = 2
            usage: usage(1_000_000, 0, 0, 0, 0),
            batch: false,
            expected_usd: "2",
            tier: None,
        },
        Vector {
            name: "gpt-4.1-nano, batch on every class",
            model: "gpt-4.1-nano",
            // (0.10 + 0.025 + 0.40) x 0.5 = 0.2625
            usage: usage(1_000_000, 1_000_000, 0, 0, 1_000_000),
            batch: true,
            expected_usd: "0.2625",
            tier: None,
        },
        Vector {
            name: "gpt-5-mini, only the output count known: the rest counts as zero",
            model: "gpt-5-mini",
            // 1000 x $2/M = 0.002
            usage: Usage {
                output_tokens: Some(1_000),
                ..Usage::default()
            },
            batch: false,
            expected_usd: "0.002",
            tier: None,
        },
        // ---- Gemini: promptTokenCount includes cachedContentTokenCount (subtracted by the
        // adapter); thoughtsTokenCount is added to output by the adapter.
        Vector {
            name: "gemini 2.5 flash, cached prompt and thinking",
            model: "gemini-2.5-flash",
            // prompt 10000 of which 8000 cached -> 2000 + read 8000; candidates 300 + thoughts 700.
            // 2000 x $0.30/M = 0.0006; read 8000 x $0.03/M = 0.00024; out 1000 x $2.50/M = 0.0025;
            // total 0.00334
            usage: Usage {
                reasoning_tokens: Some(700),
                ..usage(2_000, 8_000, 0, 0, 1_000)
            },
            batch: false,
            expected_usd: "0.00334",
            tier: None,
        },
        Vector {
            name: "gemini 2.5 pro, prompt exactly 200K: base prices",
            model: "gemini-2.5-pro",
            // 200000 x $1.25/M = 0.25; 1000 x $10/M = 0.01; total 0.26
            usage: usage(200_000, 0, 0, 0, 1_000),
            batch: false,
            expected_usd: "0.26",
            tier: None,
        },
        Vector {
            name: "gemini 2.5 pro, prompt 200001: long-prompt tier",
            model: "gemini/gemini-2.5-pro",
            // 200001 x $2.50/M = 0.5000025; 1000 x $15/M = 0.015; total 0.5150025
            usage: usage(200_001, 0, 0, 0, 1_000),
            batch: false,
            expected_usd: "0.5150025",
            tier: Some(200_000),
        },
        Vector {
            name: "gemini 2.5 pro, cached tokens push the prompt over 200K",
            model: "gemini-2.5-pro",
            // total 50000 + 160000 = 210000. 50000 x $2.50/M = 0.125; read 160000 x $0.25/M = 0.04;
            // out 2000 x $15/M = 0.03; total 0.195
            usage: usage(50_000, 160_000, 0, 0, 2_000),
            batch: false,
            expected_usd: "0.195",
            tier: Some(200_000),
        },
        Vector {
            name: "gemini 2.5 pro, tier and batch",
            model: "gemini-2.5-pro",
            // 300000 x $1.25/M = 0.375; 10000 x $7.50/M = 0.075; total 0.45
            usage: usage(300_000, 0, 0, 0, 10_000),
            batch: true,
            expected_usd: "0.45",
            tier: Some(200_000),
        },
        Vector {
            name: "gemini 2.5 flash-lite, batch",
            model: "models/gemini-2.5-flash-lite",
            // (0.10 + 0.40) x 0.5 = 0.25
            usage: usage(1_000_000, 0, 0, 0, 1_000_000),
            batch: true,
            expected_usd: "0.25",
            tier: None,
        },
    ];
    assert!(vectors.len() >= 28);
    for v in &vectors {
        let report = cost_for_model(PriceTable::builtin(), v.model, &v.usage, v.batch);
        let cost = report.cost.unwrap_or_else(|| panic!("{}: no cost", v.name));
        assert_eq!(
            cost.total,
            usd(v.expected_usd),
            "{}: got {}",
            v.name,
            cost.total
        );
        assert_eq!(
            cost.total,
            cost.input + cost.cache_read + cost.cache_write_5m + cost.cache_write_1h + cost.output,
            "{}",
            v.name
        );
        assert_eq!(cost.long_prompt_tier_above, v.tier, "{}", v.name);
        assert_eq!(cost.batch, v.batch, "{}", v.name);
        assert!(!cost.estimated, "{}", v.name);
        assert!(
            report.warnings.is_empty(),
            "{}: {:?}",
            v.name,
            report.warnings
        );
    }
}

#[test]
fn per_class_amounts_of_one_vector() {
    let cost = cost_of(
        &usage(25, 12_000, 2_000, 1_000, 300),
        price("claude-haiku-4-5"),
        false,
    )
    .unwrap();
    assert_eq!(cost.input, usd("0.000025"));
    assert_eq!(cost.cache_read, usd("0.0012"));
    assert_eq!(cost.cache_write_5m, usd("0.0025"));
    assert_eq!(cost.cache_write_1h, usd("0.002"));
    assert_eq!(cost.output, usd("0.0015"));
    assert_eq!(cost.total.micro_usd(), 7_225);
}

#[test]
fn unknown_models_and_unknown_usage_have_no_cost() {
    let some_usage = usage(1_000, 0, 0, 0, 100);
    for model in [
        "llama-3.1-70b",
        "openai/claude-haiku-4-5",
        "gpt-4o-turbo-preview",
    ] {
        let report = cost_for_model(PriceTable::builtin(), model, &some_usage, false);
        assert_eq!(report.cost, None, "{model}");
        assert_eq!(report.warnings.len(), 1, "{model}");
        assert!(report.warnings[0].message.contains(model), "{model}");
    }
    // Known model, but the provider said nothing about input or output.
    let report = cost_for_model(
        PriceTable::builtin(),
        "gpt-4o",
        &Usage {
            cache_read_tokens: Some(500),
            ..Usage::default()
        },
        false,
    );
    assert_eq!(report.cost, None);
    assert_eq!(report.warnings.len(), 1);
}

fn hello_request(model: &str, max_tokens: Option<u32>) -> Request {
    Request {
        max_tokens,
        ..Request::new(model, vec![Message::user("Hello, world!")])
    }
}

#[test]
fn estimate_before_the_call() {
    // "Hello, world!" is 4 o200k tokens (Hello / , / " world" / !), plus 3 per message and 3 to
    // prime the reply: 10 input tokens.
    assert_eq!(estimate_text_tokens("Hello, world!", Provider::OpenAi), 4);
    let est = estimate_cost(
        &hello_request("gpt-4o", Some(1_000)),
        price("gpt-4o"),
        Provider::OpenAi,
    );
    assert_eq!(est.input_tokens, 10);
    assert_eq!(
        (est.output_tokens_expected, est.output_tokens_max),
        (500, Some(1_000))
    );
    // 10 x $2.50/M = 0.000025; expected 500 x $10/M = 0.005 -> 0.005025;
    // max 1000 x $10/M = 0.01 -> 0.010025
    assert_eq!(est.expected, usd("0.005025"));
    assert_eq!(est.max, Some(usd("0.010025")));

    // No maxTokens: the worst case is the model's output limit (16384 for gpt-4o).
    let est = estimate_cost(
        &hello_request("gpt-4o", None),
        price("gpt-4o"),
        Provider::OpenAi,
    );
    assert_eq!(est.output_tokens_max, Some(16_384));
    // 0.000025 + 16384 x $10/M = 0.163865
    assert_eq!(est.max, Some(usd("0.163865")));

    // maxTokens below the typical length caps the expected output too: 10 x $2.50/M + 64 x $10/M.
    let est = estimate_cost(
        &hello_request("gpt-4o", Some(64)),
        price("gpt-4o"),
        Provider::OpenAi,
    );
    assert_eq!(est.output_tokens_expected, 64);
    assert_eq!(est.expected, usd("0.000665"));

    let json = serde_json::to_value(&est).unwrap();
    assert_eq!(json["inputTokens"], 10);
    assert_eq!(json["outputTokensExpected"], 64);
    assert_eq!(json["outputTokensMax"], 64);
    assert_eq!(json["usdExpected"], 0.000665);
    assert_eq!(json["usdMax"], 0.000665);
}

#[test]
fn cost_of_a_cut_stream() {
    // OpenAI stream cut before the usage chunk: no usage at all. Input estimated from the
    // request (10 tokens), output from the delivered text (4 tokens).
    // 10 x $0.15/M = 0.0000015; 4 x $0.60/M = 0.0000024; total 0.0000039
    let req = hello_request("gpt-4o-mini", None);
    let cost = cost_of_interrupted(
        &Usage::default(),
        "Hello, world!",
        &req,
        price("gpt-4o-mini"),
        Provider::OpenAi,
        false,
    );
    assert_eq!(cost.total, usd("0.0000039"));
    assert!(cost.estimated);

    // Anthropic cut after message_start (input 25, output 1 so far): input as reported, output
    // from the delivered text: 4 o200k tokens x 1.25 = 5. 25 x $1/M + 5 x $5/M = 0.00005.
    let started = Usage {
        input_tokens: Some(25),
        cache_read_tokens: Some(0),
        cache_write_5m_tokens: Some(0),
        output_tokens: Some(1),
        ..Usage::default()
    };
    let req = hello_request("claude-haiku-4-5", None);
    let cost = cost_of_interrupted(
        &started,
        "Hello, world!",
        &req,
        price("claude-haiku-4-5"),
        Provider::Anthropic,
        false,
    );
    assert_eq!(cost.input, usd("0.000025"));
    assert_eq!(cost.total, usd("0.00005"));
    assert!(cost.estimated);

    // Reported output larger than the text's estimate: the report stands, nothing estimated.
    // 25 x $1/M + 100 x $5/M = 0.000525
    let reported = Usage {
        output_tokens: Some(100),
        ..started
    };
    let cost = cost_of_interrupted(
        &reported,
        "Hello",
        &req,
        price("claude-haiku-4-5"),
        Provider::Anthropic,
        false,
    );
    assert_eq!(cost.total, usd("0.000525"));
    assert!(!cost.estimated);
}

#[test]
fn monthly_projection() {
    // The reference example: 1000/day x 30 x 500 input tokens x $3/M = $45.
    let plan: MonthlyUsagePlan = serde_json::from_value(serde_json::json!({
        "requestsPerDay": 1000, "model": "claude-sonnet-4-5", "avgInputTokens": 500, "avgOutputTokens": 0
    }))
    .unwrap();
    let projection = project_monthly_cost(PriceTable::builtin(), &plan).unwrap();
    assert_eq!(projection.total, Some(usd("45")));

    // A 3:1 mix: per request gpt-4o-mini 1000 x $0.15/M + 200 x $0.60/M = 0.00027, haiku
    // 1000 x $1/M + 200 x $5/M = 0.002. 10000/day x 30 = 300000 requests: 225000 x 0.00027 =
    // 60.75 and 75000 x 0.002 = 150; total 210.75.
    let plan: MonthlyUsagePlan = serde_json::from_value(serde_json::json!({
        "requestsPerDay": 10000, "mix": { "gpt-4o-mini": 3, "claude-haiku-4-5": 1 },
        "avgInputTokens": 1000, "avgOutputTokens": 200
    }))
    .unwrap();
    let projection = project_monthly_cost(PriceTable::builtin(), &plan).unwrap();
    let by_model = |m: &str| projection.models.iter().find(|x| x.model == m).unwrap();
    assert_eq!(by_model("gpt-4o-mini").cost, Some(usd("60.75")));
    assert_eq!(by_model("gpt-4o-mini").requests_per_month, 225_000.0);
    assert_eq!(by_model("claude-haiku-4-5").cost, Some(usd("150")));
    assert_eq!(projection.total, Some(usd("210.75")));
    let json = serde_json::to_value(&projection).unwrap();
    assert_eq!(json["totalUsd"], 210.75);
    assert_eq!(json["models"][0]["usd"], 150.0);

    // An unknown model in the mix: its line and the total are unknown, with a warning.
    let plan: MonthlyUsagePlan = serde_json::from_value(serde_json::json!({
        "requestsPerDay": 100, "mix": { "gpt-4o": 0.5, "my-local-llama": 0.5 },
        "avgInputTokens": 100, "avgOutputTokens": 100
    }))
    .unwrap();
    let projection = project_monthly_cost(PriceTable::builtin(), &plan).unwrap();
    assert_eq!(projection.total, None);
    // gpt-4o: 1500 requests x (100 x $2.50/M + 100 x $10/M = 0.00125) = 1.875
    assert_eq!(projection.models[0].cost, Some(usd("1.875")));
    assert_eq!(projection.models[1].cost, None);
    assert_eq!(projection.warnings.len(), 1);

    for bad in [
        serde_json::json!({ "requestsPerDay": 1, "avgInputTokens": 1, "avgOutputTokens": 1 }),
        serde_json::json!({ "requestsPerDay": 1, "model": "gpt-4o", "mix": { "gpt-4o": 1 },
                            "avgInputTokens": 1, "avgOutputTokens": 1 }),
        serde_json::json!({ "requestsPerDay": 1, "mix": { "gpt-4o": 0 }, "avgInputTokens": 1,
                            "avgOutputTokens": 1 }),
    ] {
        let plan: MonthlyUsagePlan = serde_json::from_value(bad.clone()).unwrap();
        assert!(
            project_monthly_cost(PriceTable::builtin(), &plan).is_err(),
            "{bad}"
        );
    }
}

/// Error statistics of the estimator over the corpus, in percent of the real count.
struct Accuracy {
    mape: f64,
    mean_signed: f64,
    median_abs: f64,
    p90_abs: f64,
    worst_under: (f64, String),
    worst_over: (f64, String),
    under_by_more_than_10: usize,
    samples: usize,
}

fn accuracy(counts_file: &str, family: Provider) -> Accuracy {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tokens");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}")).unwrap()).unwrap()
    };
    let corpus = read("corpus.json");
    let counts = read(counts_file);
    let mut errors: Vec<(f64, String)> = corpus["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sample| {
            let id = sample["id"].as_str().unwrap();
            let real = counts["counts"][id]
                .as_u64()
                .unwrap_or_else(|| panic!("no count for {id}"));
            let estimate = estimate_text_tokens(sample["text"].as_str().unwrap(), family);
            (
                (estimate as f64 - real as f64) / real as f64 * 100.0,
                id.to_string(),
            )
        })
        .collect();
    errors.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut abs: Vec<f64> = errors.iter().map(|e| e.0.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let n = errors.len();
    Accuracy {
        mape: abs.iter().sum::<f64>() / n as f64,
        mean_signed: errors.iter().map(|e| e.0).sum::<f64>() / n as f64,
        median_abs: (abs[(n - 1) / 2] + abs[n / 2]) / 2.0,
        p90_abs: abs[(n * 9).div_ceil(10) - 1],
        worst_under: errors[0].clone(),
        worst_over: errors[n - 1].clone(),
        under_by_more_than_10: errors.iter().filter(|e| e.0 < -10.0).count(),
        samples: n,
    }
}

#[test]
fn token_estimates_against_real_tokenizers() {
    for (file, family, max_mape, max_under, max_over, max_badly_under) in [
        // Bounds: the measured figures (printed below) plus a small margin, so that a change
        // to the weights that makes the estimate worse fails here.
        ("o200k_counts.json", Provider::OpenAi, 4.8, 26.0, 19.0, 3),
        ("gemma3_counts.json", Provider::Gemini, 7.0, 17.5, 35.0, 3),
    ] {
        let a = accuracy(file, family);
        println!(
            "{family} vs {file}: {} samples, MAPE {:.2}%, mean signed error {:+.2}%, median |error| \
             {:.2}%, p90 |error| {:.2}%, worst under {:+.1}% ({}), worst over {:+.1}% ({}), \
             {} samples under by more than 10%",
            a.samples,
            a.mape,
            a.mean_signed,
            a.median_abs,
            a.p90_abs,
            a.worst_under.0,
            a.worst_under.1,
            a.worst_over.0,
            a.worst_over.1,
            a.under_by_more_than_10
        );
        assert!(a.samples >= 60);
        assert!(
            a.mape <= max_mape,
            "{family}: MAPE {:.2}% > {max_mape}%",
            a.mape
        );
        assert!(
            a.mean_signed >= 0.0,
            "{family}: the estimate should lean high, not low"
        );
        assert!(
            a.worst_under.0 >= -max_under,
            "{family}: {:?}",
            a.worst_under
        );
        assert!(a.worst_over.0 <= max_over, "{family}: {:?}", a.worst_over);
        assert!(
            a.under_by_more_than_10 <= max_badly_under,
            "{family}: {}",
            a.under_by_more_than_10
        );
    }
}

#[test]
fn estimating_a_few_kilobytes_takes_microseconds() {
    let text: String = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tokens/corpus.json"
    ))
    .unwrap()
    .chars()
    .take(5_000)
    .collect();
    let runs = 200;
    let start = std::time::Instant::now();
    let mut total = 0;
    for _ in 0..runs {
        total += estimate_text_tokens(std::hint::black_box(&text), Provider::OpenAi);
    }
    let per_call = start.elapsed() / runs;
    println!(
        "estimate of {} chars: {:?} per call ({total} tokens)",
        text.len(),
        per_call
    );
    // Generous: debug builds on a shared 2-core machine; the point is "not milliseconds".
    assert!(
        per_call < std::time::Duration::from_millis(5),
        "{per_call:?}"
    );
}
