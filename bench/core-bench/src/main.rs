//! Native timings of llm-edge's core hot paths (section 4 of `bench/run.sh`): SSE decoding,
//! each provider's stream decoding per event, the proxy's stream re-encoding, adapter encode and
//! decode per request, the proxy's inbound decode/encode, routing, planning and cost estimation.
//!
//! No I/O inside a timed loop: inputs are generated (streams in each provider's wire format) or
//! read once from `tests/fixtures` (recorded responses). Each operation is calibrated to run for
//! about `CORE_BENCH_SAMPLE_MS` (default 100) per sample; the figure is the median of 5 samples.
//! Prints one JSON document on stdout; progress on stderr.
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::hint::black_box;
use std::path::PathBuf;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use llm_edge::core::client::{CallOptions, Client, ClientConfig};
use llm_edge::core::error::Error;
use llm_edge::core::http::HttpRequest;
use llm_edge::core::runtime::{Clock, ResponseBody, ResponseHead, Transport};

use llm_edge::core::cost::{cost_for_model, estimate_cost};
use llm_edge::core::event::StreamEvent;
use llm_edge::core::gateway::config::{ClientSpec, GatewayConfig};
use llm_edge::core::gateway::format::ApiFormat;
use llm_edge::core::gateway::plan::plan;
use llm_edge::core::http::{Headers, HttpResponse};
use llm_edge::core::model::{
    ContentPart, Message, Provider, Request, Role, SystemBlock, ToolDefinition, Usage,
};
use llm_edge::core::pricing::PriceTable;
use llm_edge::core::provider::{self, ProviderConfig, StreamParser};
use llm_edge::core::route::{AssumeCapable, Router, RouterConfig};
use llm_edge::core::sse::SseDecoder;
use serde_json::{json, Value};

/// One measured operation.
struct Measurement {
    group: &'static str,
    name: String,
    ns_per_op: f64,
    /// Bytes of input one operation consumes, for MB/s.
    bytes_per_op: Option<usize>,
    /// SSE events one operation consumes, for ns per event.
    events_per_op: Option<usize>,
}

impl Measurement {
    fn to_json(&self) -> Value {
        let mut v = json!({
            "group": self.group,
            "name": self.name,
            "nsPerOp": self.ns_per_op,
            "opsPerSec": 1e9 / self.ns_per_op,
        });
        if let Some(bytes) = self.bytes_per_op {
            v["bytesPerOp"] = json!(bytes);
            v["mbPerSec"] = json!(bytes as f64 / self.ns_per_op * 1e9 / 1e6);
        }
        if let Some(events) = self.events_per_op {
            v["eventsPerOp"] = json!(events);
            v["nsPerEvent"] = json!(self.ns_per_op / events as f64);
        }
        v
    }
}

struct Bench {
    sample: Duration,
    results: Vec<Measurement>,
}

impl Bench {
    /// Times `op`: calibrates the iteration count on a short run, then takes 5 samples.
    fn run(
        &mut self,
        group: &'static str,
        name: impl Into<String>,
        bytes_per_op: Option<usize>,
        events_per_op: Option<usize>,
        mut op: impl FnMut(),
    ) {
        let name = name.into();
        let calibration = self.sample / 5;
        let start = Instant::now();
        let mut calibration_iters = 0u64;
        while start.elapsed() < calibration {
            op();
            calibration_iters += 1;
        }
        let per_iter = start.elapsed().as_secs_f64() / calibration_iters as f64;
        let iters = ((self.sample.as_secs_f64() / per_iter) as u64).max(1);
        let mut samples: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..iters {
                    op();
                }
                t.elapsed().as_nanos() as f64 / iters as f64
            })
            .collect();
        samples.sort_by(|a, b| a.total_cmp(b));
        let ns_per_op = samples[2];
        eprintln!("[core-bench] {group:>8} {name:<58} {ns_per_op:>12.0} ns/op");
        self.results.push(Measurement {
            group,
            name,
            ns_per_op,
            bytes_per_op,
            events_per_op,
        });
    }
}

// ------------------------------------------------------------------ inputs
const WORDS: [&str; 12] = [
    " lorem",
    " ipsum",
    " dolor",
    " sit",
    " amet",
    " consectetur",
    " adipiscing",
    " elit",
    " sed",
    " do",
    " eiusmod",
    " tempor",
];

/// An OpenAI Chat Completions stream of `n` text chunks, as the API sends it.
fn openai_stream(n: usize) -> String {
    let head = r#"{"id":"chatcmpl-C3xJ8nQm2VwP5yLk7TbR0sDfH9aZe","object":"chat.completion.chunk","created":1754904211,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","#;
    let mut s = format!(
        "data: {head}\"choices\":[{{\"index\":0,\"delta\":{{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"
    );
    for i in 0..n {
        let word = WORDS[i % WORDS.len()];
        s.push_str(&format!(
            "data: {head}\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{word}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}\n\n"
        ));
    }
    s.push_str(&format!("data: {head}\"choices\":[{{\"index\":0,\"delta\":{{}},\"logprobs\":null,\"finish_reason\":\"stop\"}}],\"usage\":null}}\n\n"));
    s.push_str(&format!("data: {head}\"choices\":[],\"usage\":{{\"prompt_tokens\":19,\"completion_tokens\":{n},\"total_tokens\":{},\"prompt_tokens_details\":{{\"cached_tokens\":0,\"audio_tokens\":0}},\"completion_tokens_details\":{{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}}}}}\n\n", n + 19));
    s.push_str("data: [DONE]\n\n");
    s
}

/// An Anthropic Messages stream of `n` text deltas.
fn anthropic_stream(n: usize) -> String {
    let mut s = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5-20251001\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":14,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n\n\
         event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
         event: ping\ndata: {\"type\":\"ping\"}\n\n",
    );
    for i in 0..n {
        let word = WORDS[i % WORDS.len()];
        s.push_str(&format!("event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{word}\"}}}}\n\n"));
    }
    s.push_str(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    );
    s.push_str(&format!("event: message_delta\ndata: {{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{n}}}}}\n\n"));
    s.push_str("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
    s
}

/// A Gemini `streamGenerateContent?alt=sse` stream of `n` chunks (CRLF line ends, no `[DONE]`).
fn gemini_stream(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let word = WORDS[i % WORDS.len()];
        let finish = if i + 1 == n {
            "\"finishReason\":\"STOP\","
        } else {
            ""
        };
        s.push_str(&format!("data: {{\"candidates\":[{{\"content\":{{\"parts\":[{{\"text\":\"{word}\"}}],\"role\":\"model\"}},{finish}\"index\":0}}],\"usageMetadata\":{{\"promptTokenCount\":9,\"candidatesTokenCount\":{},\"totalTokenCount\":{}}},\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"mJ3VaNbXLZ6Uz7IPwJ2o2Ao\"}}\r\n\r\n", i + 1, i + 10));
    }
    s
}

/// A typical chat request: a system prompt, three turns of history and one tool.
fn typical_request(model: &str) -> Request {
    let mut request = Request::new(
        model,
        vec![
            Message::user("I am planning a three-day trip to Lisbon in May. What should I see?"),
            Message::assistant("Lisbon in May is lovely. Start with Alfama and the castle, then Belém for the monastery and the tower, and keep an evening for Bairro Alto."),
            Message {
                role: Role::User,
                content: vec![ContentPart::text("Great. Can you check the weather for the first day and suggest what to wear? Keep it short, in a bulleted list.")],
            },
        ],
    );
    request.system = vec![SystemBlock {
        text: "You are a concise travel assistant. Answer in the user's language.".into(),
        cache: None,
    }];
    request.max_tokens = Some(512);
    request.temperature = Some(0.4);
    request.tools = vec![ToolDefinition {
        name: "get_weather".into(),
        description: Some("Current weather for a city".into()),
        parameters: json!({
            "type": "object",
            "properties": { "city": { "type": "string" }, "date": { "type": "string", "format": "date" } },
            "required": ["city"]
        }),
        cache: None,
    }];
    request
}

fn fixture(path: &str) -> Vec<u8> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path);
    std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

fn count_events(body: &str) -> usize {
    body.lines().filter(|l| l.starts_with("data:")).count()
}

/// Decodes a whole stream in `chunk`-byte pieces; returns the number of text deltas.
fn parse_stream(
    provider: Provider,
    body: &[u8],
    chunk: usize,
    out: &mut Vec<StreamEvent>,
) -> usize {
    let mut parser = StreamParser::new(provider);
    let mut deltas = 0;
    for piece in body.chunks(chunk) {
        out.clear();
        parser
            .feed(piece, out)
            .expect("the generated stream is valid");
        deltas += out
            .iter()
            .filter(|e| matches!(e, StreamEvent::TextDelta { .. }))
            .count();
    }
    out.clear();
    parser
        .finish(out)
        .expect("the generated stream is complete");
    deltas
}

// ------------------------------------------------------------------ the full call loop
/// Answers every request at once with the next scripted body, cut into the given pieces: the
/// core's whole client path (policy, tracking, usage, cost) with no network and no timer.
type Replies = Rc<RefCell<VecDeque<Vec<Vec<u8>>>>>;

struct ScriptedTransport {
    replies: Replies,
}

struct ScriptedBody(VecDeque<Vec<u8>>);

impl ResponseBody for ScriptedBody {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.0.pop_front())
    }
}

impl Transport for ScriptedTransport {
    type Body = ScriptedBody;

    async fn send(&self, _request: HttpRequest) -> Result<ResponseHead<ScriptedBody>, Error> {
        let pieces = self
            .replies
            .borrow_mut()
            .pop_front()
            .expect("a scripted reply per request");
        let content_type = if pieces.first().is_some_and(|p| p.starts_with(b"{")) {
            "application/json"
        } else {
            "text/event-stream"
        };
        Ok(ResponseHead {
            status: 200,
            headers: [("content-type", content_type)].into_iter().collect(),
            body: ScriptedBody(pieces.into()),
        })
    }
}

/// The wall clock; its sleeps never end (no deadline falls due during one call here).
struct WallClock;

impl Clock for WallClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn sleep(&self, _ms: u64) -> impl Future<Output = ()> {
        std::future::pending()
    }

    fn random_unit(&self) -> f64 {
        0.5
    }
}

/// Drives a future whose every step is ready (the scripted transport never waits).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// A client of one provider over the scripted transport, and the queue its replies come from.
fn scripted_client(provider: Provider) -> (Client<ScriptedTransport, WallClock>, Replies) {
    let settings = ProviderConfig {
        api_key: Some("sk-bench".into()),
        base_url: Some("http://127.0.0.1:9".into()),
        ..ProviderConfig::default()
    };
    let mut config = ClientConfig::default();
    match provider {
        Provider::OpenAi => config.openai = Some(settings),
        Provider::Anthropic => config.anthropic = Some(settings),
        Provider::Gemini => config.gemini = Some(settings),
    }
    let replies = Replies::default();
    let client = Client::new(
        ScriptedTransport {
            replies: replies.clone(),
        },
        WallClock,
        config,
    )
    .expect("a valid client");
    (client, replies)
}

fn main() {
    let sample_ms: u64 = std::env::var("CORE_BENCH_SAMPLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let stream_events: usize = std::env::var("CORE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let mut bench = Bench {
        sample: Duration::from_millis(sample_ms),
        results: Vec::new(),
    };
    const CHUNK: usize = 16 * 1024;

    // ---- SSE decoding and stream decoding per provider
    let streams = [
        (Provider::OpenAi, openai_stream(stream_events)),
        (Provider::Anthropic, anthropic_stream(stream_events)),
        (Provider::Gemini, gemini_stream(stream_events)),
    ];
    for (provider, body) in &streams {
        let bytes = body.as_bytes();
        let events = count_events(body);
        let mut sse_out = Vec::with_capacity(events);
        bench.run(
            "sse",
            format!("SseDecoder, {provider} stream, 16 KiB chunks"),
            Some(bytes.len()),
            Some(events),
            || {
                let mut decoder = SseDecoder::new();
                for piece in bytes.chunks(CHUNK) {
                    sse_out.clear();
                    decoder.feed_into(piece, &mut sse_out).unwrap();
                }
                black_box(decoder.finish());
            },
        );
        let mut out = Vec::with_capacity(events);
        assert_eq!(
            parse_stream(*provider, bytes, CHUNK, &mut out),
            stream_events,
            "{provider}: every text delta decoded"
        );
        bench.run(
            "stream",
            format!("StreamParser (SSE + {provider} decoder), 16 KiB chunks"),
            Some(bytes.len()),
            Some(events),
            || {
                black_box(parse_stream(*provider, bytes, CHUNK, &mut out));
            },
        );
        bench.run(
            "stream",
            format!("StreamParser, {provider}, one event per chunk (network-sized reads)"),
            Some(bytes.len()),
            Some(events),
            || {
                let mut parser = StreamParser::new(*provider);
                for piece in body.split_inclusive("\n\n") {
                    out.clear();
                    parser.feed(piece.as_bytes(), &mut out).unwrap();
                }
                out.clear();
                parser.finish(&mut out).unwrap();
                black_box(out.len());
            },
        );
    }

    // ---- the proxy's stream path: upstream SSE -> unified events -> the client's SSE
    for (provider, label) in [
        (Provider::OpenAi, "passthrough OpenAI -> OpenAI"),
        (Provider::Anthropic, "translated Anthropic -> OpenAI"),
    ] {
        let body = &streams.iter().find(|(p, _)| *p == provider).unwrap().1;
        let events = count_events(body);
        let mut out = Vec::with_capacity(events);
        let mut sse = String::with_capacity(body.len() * 2);
        bench.run(
            "proxy",
            format!("stream re-encode, {label}"),
            Some(body.len()),
            Some(events),
            || {
                let mut parser = StreamParser::new(provider);
                let mut encoder =
                    ApiFormat::OpenAi.stream_encoder("gpt-4o-mini", 1_754_904_211, true, "");
                sse.clear();
                for piece in body.as_bytes().chunks(CHUNK) {
                    out.clear();
                    parser.feed(piece, &mut out).unwrap();
                    for event in &out {
                        encoder.event(event, &mut sse);
                    }
                }
                out.clear();
                parser.finish(&mut out).unwrap();
                for event in &out {
                    encoder.event(event, &mut sse);
                }
                black_box(sse.len());
            },
        );
    }

    // ---- adapters: encode a request, decode a whole response
    let config = ProviderConfig {
        api_key: Some("sk-bench".into()),
        ..ProviderConfig::default()
    };
    for (provider, model) in [
        (Provider::OpenAi, "gpt-4o-mini"),
        (Provider::Anthropic, "claude-haiku-4-5"),
        (Provider::Gemini, "gemini-2.5-flash"),
    ] {
        let request = typical_request(&format!("{provider}/{model}"));
        let encoded = provider::encode(provider, model, &request, &config, true).expect("encodes");
        let body_len = encoded.http.body.as_ref().map_or(0, |b| b.len());
        bench.run(
            "adapter",
            format!("encode request, {provider} ({body_len} B body)"),
            None,
            None,
            || {
                black_box(
                    provider::encode(provider, model, black_box(&request), &config, true).unwrap(),
                );
            },
        );
    }
    for (provider, dir) in [
        (Provider::OpenAi, "openai"),
        (Provider::Anthropic, "anthropic"),
        (Provider::Gemini, "gemini"),
    ] {
        let response = HttpResponse {
            status: 200,
            headers: Headers::new(),
            body: fixture(&format!("{dir}/text.json")),
        };
        provider::decode(provider, &response).expect("the fixture decodes");
        bench.run(
            "adapter",
            format!("decode response, {provider} (tests/fixtures/{dir}/text.json)"),
            Some(response.body.len()),
            None,
            || {
                black_box(provider::decode(provider, black_box(&response)).unwrap());
            },
        );
    }

    // ---- the proxy's inbound side (OpenAI format): request body in, response out
    let inbound_body = serde_json::to_vec(&json!({
        "model": "anthropic/claude-haiku-4-5",
        "messages": [
            { "role": "system", "content": "You are a concise travel assistant. Answer in the user's language." },
            { "role": "user", "content": "I am planning a three-day trip to Lisbon in May. What should I see?" },
            { "role": "assistant", "content": "Lisbon in May is lovely. Start with Alfama and the castle, then Belém for the monastery and the tower, and keep an evening for Bairro Alto." },
            { "role": "user", "content": "Great. Can you check the weather for the first day and suggest what to wear? Keep it short, in a bulleted list." }
        ],
        "max_tokens": 512, "temperature": 0.4, "stream": true, "stream_options": { "include_usage": true }
    }))
    .unwrap();
    ApiFormat::OpenAi
        .decode_request("/v1/chat/completions", &inbound_body)
        .expect("decodes");
    bench.run(
        "proxy",
        "inbound decode, OpenAI-format request body",
        Some(inbound_body.len()),
        None,
        || {
            black_box(
                ApiFormat::OpenAi
                    .decode_request("/v1/chat/completions", black_box(&inbound_body))
                    .unwrap(),
            );
        },
    );
    let answer = provider::decode(
        Provider::Anthropic,
        &HttpResponse {
            status: 200,
            headers: Headers::new(),
            body: fixture("anthropic/text.json"),
        },
    )
    .unwrap();
    bench.run(
        "proxy",
        "inbound encode, OpenAI-format JSON response",
        None,
        None,
        || {
            black_box(ApiFormat::OpenAi.encode_response(
                black_box(&answer),
                "claude-haiku-4-5",
                1_754_904_211,
            ));
        },
    );

    // ---- the core client's whole call loop (what the npm package and the proxy run per call)
    for (provider, model, body) in [
        (Provider::OpenAi, "openai/gpt-4o-mini", &streams[0].1),
        (
            Provider::Anthropic,
            "anthropic/claude-haiku-4-5",
            &streams[1].1,
        ),
    ] {
        let (client, replies) = scripted_client(provider);
        let request = typical_request(model);
        let events = count_events(body);
        for (label, pieces) in [
            (
                "16 KiB chunks",
                body.as_bytes()
                    .chunks(CHUNK)
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>(),
            ),
            (
                "one event per chunk",
                body.split_inclusive("\n\n")
                    .map(|e| e.as_bytes().to_vec())
                    .collect::<Vec<_>>(),
            ),
        ] {
            let run = || {
                replies.borrow_mut().push_back(pieces.clone());
                let mut stream = client.stream(request.clone(), CallOptions::default());
                block_on(async {
                    let mut deltas = 0;
                    while let Some(event) = stream.next().await {
                        if matches!(
                            event.expect("the stream decodes"),
                            StreamEvent::TextDelta { .. }
                        ) {
                            deltas += 1;
                        }
                    }
                    deltas
                })
            };
            assert_eq!(
                run(),
                stream_events,
                "{provider}: the client stream delivers every delta"
            );
            bench.run(
                "client",
                format!("Client::stream, whole call, {provider}, {label}"),
                Some(body.len()),
                Some(events),
                || {
                    black_box(run());
                },
            );
        }
    }
    for (provider, model, dir) in [
        (Provider::OpenAi, "openai/gpt-4o-mini", "openai"),
        (
            Provider::Anthropic,
            "anthropic/claude-haiku-4-5",
            "anthropic",
        ),
    ] {
        let (client, replies) = scripted_client(provider);
        let request = typical_request(model);
        let body = fixture(&format!("{dir}/text.json"));
        let run = || {
            replies.borrow_mut().push_back(vec![body.clone()]);
            block_on(client.chat(&request, &CallOptions::default())).expect("the call succeeds")
        };
        run();
        bench.run(
            "client",
            format!("Client::chat, whole call, {provider} (tests/fixtures/{dir}/text.json)"),
            None,
            None,
            || {
                black_box(run());
            },
        );
    }

    // ---- routing, planning, pricing
    let router = Router::new(RouterConfig::default()).expect("the default router is valid");
    let mut auto = typical_request("auto");
    auto.tools.clear();
    router.route(&auto, &AssumeCapable, 0).expect("auto routes");
    bench.run(
        "route",
        "complexity route of `auto` (score + tier + model)",
        None,
        None,
        || {
            black_box(router.route(black_box(&auto), &AssumeCapable, 0).unwrap());
        },
    );
    let gateway = GatewayConfig::from_env(|name| match name {
        "ANTHROPIC_API_KEY" | "OPENAI_API_KEY" | "GEMINI_API_KEY" => Some("sk-bench".into()),
        _ => None,
    })
    .expect("gateway config");
    let client: ClientSpec = serde_json::from_value(json!({
        "name": "bench", "dailyBudgetUsd": 10.0, "requestsPerMinute": 600, "tokensPerMinute": 1_000_000, "models": ["*"]
    }))
    .expect("client spec");
    let prices = PriceTable::builtin();
    let inbound = ApiFormat::OpenAi
        .decode_request("/v1/chat/completions", &inbound_body)
        .unwrap();
    plan(&gateway, &client, inbound.clone(), prices, &router, 0).expect("plans");
    bench.run(
        "route",
        "proxy plan: access, bounds, price lookup, worst-case cost",
        None,
        None,
        || {
            black_box(
                plan(
                    &gateway,
                    &client,
                    black_box(inbound.clone()),
                    prices,
                    &router,
                    0,
                )
                .unwrap(),
            );
        },
    );
    let mut inbound_auto = inbound.clone();
    inbound_auto.model = "auto".into();
    inbound_auto.request.model = "auto".into();
    plan(&gateway, &client, inbound_auto.clone(), prices, &router, 0).expect("plans auto");
    bench.run(
        "route",
        "proxy plan of `auto` (routing included)",
        None,
        None,
        || {
            black_box(
                plan(
                    &gateway,
                    &client,
                    black_box(inbound_auto.clone()),
                    prices,
                    &router,
                    0,
                )
                .unwrap(),
            );
        },
    );
    let request = typical_request("anthropic/claude-haiku-4-5");
    let price = prices.lookup("anthropic/claude-haiku-4-5").expect("priced");
    bench.run(
        "cost",
        "estimate_cost of a request (token estimate + prices)",
        None,
        None,
        || {
            black_box(estimate_cost(
                black_box(&request),
                price,
                Provider::Anthropic,
            ));
        },
    );
    let usage = Usage {
        input_tokens: Some(1200),
        cache_read_tokens: Some(4000),
        cache_write_5m_tokens: Some(800),
        output_tokens: Some(350),
        ..Usage::default()
    };
    bench.run(
        "cost",
        "cost_for_model of a usage (lookup + exact cost)",
        None,
        None,
        || {
            black_box(cost_for_model(
                prices,
                black_box("anthropic/claude-haiku-4-5"),
                &usage,
                false,
            ));
        },
    );

    let doc = json!({
        "section": "core",
        "config": { "sampleMs": sample_ms, "streamEvents": stream_events, "chunkBytes": CHUNK },
        "results": bench.results.iter().map(Measurement::to_json).collect::<Vec<_>>(),
    });
    println!("{doc}");
}
