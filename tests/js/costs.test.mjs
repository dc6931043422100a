// The cost layer through the built npm package, against the mock provider: exact costs and
// usage records per provider, the response cache (stream replay, single-flight), budget alerts
// and refusals, routing, estimates and projections.
//
// Expected money is hand-computed from the mock's documented token counts
// (tests/mock-provider/README.md: input = ceil(characters / 4), output = one token per word,
// 24 words by default) and data/prices.json (USD per million tokens, so 1 token at $1/MTok is
// 1 micro-dollar = 1_000_000 picodollars). Records carry `cost.pico`, exact integers.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, LlmEdgeError } from "llm-edge";
import { startMockProvider } from "../mock-provider/server.mjs";
import { MODELS, mockProviders } from "./scenarios.mjs";

/** 40 characters: ceil(40 / 4) = 10 input tokens on every provider. */
const PROMPT = "Please summarise the weekly status notes";
const PICO_PER_MICRO = 1_000_000;
/**
 * 10 input and 24 output tokens, per provider:
 * - claude-haiku-4-5 at $1 / $5:        10 × 1    + 24 × 5   = 130 µ$
 * - gpt-4o-mini at $0.15 / $0.60:       10 × 0.15 + 24 × 0.6 = 1.5 + 14.4 = 15.9 µ$
 * - gemini-2.5-flash at $0.30 / $2.50:  10 × 0.3  + 24 × 2.5 = 3 + 60 = 63 µ$
 */
const EXPECTED_PICO = { anthropic: 130 * PICO_PER_MICRO, openai: 15.9 * PICO_PER_MICRO, gemini: 63 * PICO_PER_MICRO };
const TIERS = {
  simple: "anthropic/claude-haiku-4-5",
  standard: "anthropic/claude-sonnet-4-6",
  complex: "anthropic/claude-opus-4-6",
};

let mock;
let scenarios = 0;

before(async () => {
  assert.equal(PROMPT.length, 40);
  mock = await startMockProvider();
});

after(() => mock?.close());

/** A client on the mock that keeps every usage record, alert and event. */
function newClient(options = {}) {
  const log = { records: [], alerts: [], events: [] };
  const { budget, ...rest } = options;
  const client = new Client({
    providers: mockProviders(mock.url),
    retry: { maxRetries: 0 },
    onUsage: (record) => log.records.push(record),
    onEvent: (event) => log.events.push(event),
    ...(budget ? { budget: { ...budget, onAlert: (alert) => log.alerts.push(alert) } } : {}),
    ...rest,
  });
  return { client, log };
}

/** A fresh scenario id (and optional scripted behaviours) to count what the mock received. */
function scenario(...behaviors) {
  const id = `costs-${++scenarios}`;
  const headers = { "x-mock-scenario": id };
  if (behaviors.length > 0) headers["x-mock-behavior"] = JSON.stringify(behaviors);
  return { headers, seen: () => mock.requests({ scenario: id }) };
}

function ask(model, scripted, extra = {}) {
  return { model, messages: [{ role: "user", content: PROMPT }], maxTokens: 256, headers: scripted.headers, ...extra };
}

async function drain(stream) {
  const events = [];
  for await (const event of stream) events.push(event);
  return {
    events,
    text: events.filter((e) => e.type === "text-delta").map((e) => e.text).join(""),
    finish: events.find((e) => e.type === "finish"),
    error: events.find((e) => e.type === "error")?.error,
  };
}

for (const provider of ["anthropic", "openai", "gemini"]) {
  test(`${provider}: a chat's cost and usage record come from the provider's usage`, async () => {
    const { client, log } = newClient();
    const scripted = scenario();
    const res = await client.chat(ask(MODELS[provider], scripted));
    assert.equal(res.usage.inputTokens, 10);
    assert.equal(res.usage.outputTokens, 24);
    assert.equal(res.costUsd, EXPECTED_PICO[provider] / 1e12);
    assert.equal(res.cost.totalUsd, res.costUsd);
    assert.equal(res.cost.estimated, false);
    assert.equal(res.cache, "off");
    assert.equal(res.route, null);
    assert.equal(log.records.length, 1);
    const [record] = log.records;
    assert.equal(record.cost.pico, EXPECTED_PICO[provider]);
    assert.equal(record.cost.estimated, false);
    assert.equal(record.provider, provider);
    assert.equal(record.model, MODELS[provider].split("/")[1]);
    assert.equal(record.requestedModel, MODELS[provider]);
    assert.equal(record.outcome, "ok");
    assert.equal(record.attempts, 1);
    assert.equal(record.usage.inputTokens, 10);
    assert.equal(record.usage.outputTokens, 24);
    assert.equal(scripted.seen().length, 1);
  });

  test(`${provider}: a stream's finish event carries its cost, and its record matches`, async () => {
    const { client, log } = newClient();
    const stream = client.stream(ask(MODELS[provider], scenario()));
    const { finish, error } = await drain(stream);
    assert.equal(error, undefined);
    assert.equal(finish.costUsd, EXPECTED_PICO[provider] / 1e12);
    assert.equal(finish.cost.totalUsd, finish.costUsd);
    assert.equal(finish.cache, "off");
    assert.equal(stream.costUsd, finish.costUsd);
    assert.equal(log.records.length, 1);
    assert.equal(log.records[0].cost.pico, EXPECTED_PICO[provider]);
    assert.equal(log.records[0].outcome, "ok");
  });
}

test("a repeated stream is replayed from the cache: no new upstream request, same text, cost 0", async () => {
  const { client, log } = newClient({ cache: { ttlMs: 60_000, maxEntries: 10 } });
  const scripted = scenario();
  const first = await drain(client.stream(ask(MODELS.anthropic, scripted)));
  assert.equal(first.finish.cache, "miss");
  assert.equal(first.finish.costUsd, EXPECTED_PICO.anthropic / 1e12);
  const second = await drain(client.stream(ask(MODELS.anthropic, scripted)));
  assert.equal(scripted.seen().length, 1, "the second stream must not reach the provider");
  assert.equal(second.text, first.text);
  assert.ok(second.events.filter((e) => e.type === "text-delta").length > 0, "replayed as deltas");
  assert.equal(second.finish.cache, "hit");
  assert.equal(second.finish.costUsd, 0);
  assert.equal(second.finish.finishReason, "stop");
  assert.deepEqual(log.records.map((r) => [r.cache, r.cost.pico]), [["miss", EXPECTED_PICO.anthropic], ["hit", 0]]);
  assert.deepEqual(client.cacheStats().hits, 1);
  // A call may opt out of the cache.
  const fresh = await client.chat(ask(MODELS.anthropic, scripted, { cache: false }));
  assert.equal(fresh.cache, "off");
  assert.equal(scripted.seen().length, 2);
});

test("identical concurrent chats share one upstream request (single-flight)", async () => {
  const { client } = newClient({ cache: { ttlMs: 60_000 } });
  const scripted = scenario({ headersDelayMs: 150 });
  const results = await Promise.all(Array.from({ length: 5 }, () => client.chat(ask(MODELS.openai, scripted))));
  assert.equal(scripted.seen().length, 1);
  assert.equal(new Set(results.map((r) => r.text)).size, 1);
  assert.deepEqual(results.map((r) => r.cache).sort(), ["coalesced", "coalesced", "coalesced", "coalesced", "miss"]);
  assert.deepEqual(results.map((r) => r.costUsd).sort(), [0, 0, 0, 0, EXPECTED_PICO.openai / 1e12]);
});

test("daily budget alerts fire once each, then the budget refuses calls before sending", async () => {
  // $0.001 a day = 1000 µ$. With maxTokens 24 the answer is 24 words (120 µ$ of output at $5);
  // the mock's `usage` override sets the input tokens billed, so each call costs input + 120 µ$.
  const { client, log } = newClient({ budget: { dailyUsd: 0.001, alertThresholds: [0.5, 0.8, 1] } });
  const call = (inputTokens) =>
    client.chat(ask(MODELS.anthropic, scenario({ usage: { input_tokens: inputTokens } }), { maxTokens: 24 }));
  const spentAfter = [];
  for (const inputTokens of [180, 80, 10, 50, 80]) {
    await call(inputTokens);
    spentAfter.push(Math.round(client.spend().todayUsd * 1e6));
  }
  // 300, +200 = 500 (50%: alert), +130 = 630, +170 = 800 (80%: alert), +200 = 1000 (100%: alert).
  assert.deepEqual(spentAfter, [300, 500, 630, 800, 1000]);
  assert.deepEqual(log.alerts.map((a) => a.threshold), [0.5, 0.8, 1]);
  assert.equal(log.alerts[2].budgetUsd, 0.001);
  const spend = client.spend();
  assert.equal(spend.dailyUsd, 0.001);
  assert.equal(spend.reservedUsd, 0);

  // Full: the next call is refused before anything is sent, and no alert repeats.
  const refused = scenario();
  for (let i = 0; i < 2; i++) {
    await assert.rejects(client.chat(ask(MODELS.anthropic, refused, { maxTokens: 24 })), (error) => {
      assert.ok(error instanceof LlmEdgeError);
      assert.equal(error.kind, "budget_exceeded");
      return true;
    });
  }
  assert.equal(refused.seen().length, 0);
  assert.equal(log.alerts.length, 3);
  assert.equal(log.records.at(-1).outcome, "budget_exceeded");

  client.resetSpend();
  assert.equal(client.spend().todayUsd, 0);
  await client.chat(ask(MODELS.anthropic, refused, { maxTokens: 24 }));
  assert.equal(refused.seen().length, 1);
});

test("the per-request cap refuses a call whose worst case is too dear, before sending", async () => {
  // maxTokens 256 at $5/MTok is 1280 µ$ of output alone, over a 100 µ$ cap.
  const { client, log } = newClient({ budget: { perRequestUsd: 0.0001 } });
  const scripted = scenario();
  await assert.rejects(client.chat(ask(MODELS.anthropic, scripted)), (error) => {
    assert.equal(error.kind, "budget_exceeded");
    return true;
  });
  const stream = await drain(client.stream(ask(MODELS.anthropic, scripted)));
  assert.equal(stream.error.kind, "budget_exceeded");
  assert.equal(scripted.seen().length, 0);
  assert.deepEqual(log.records.map((r) => r.outcome), ["budget_exceeded", "budget_exceeded"]);
});

test("model auto is routed by complexity, the route is in the response, and conversations stay pinned", async () => {
  const { client, log } = newClient({ routing: { tiers: TIERS } });
  const scripted = scenario();
  const simple = await client.chat({ model: "auto", messages: [{ role: "user", content: "Hi, what's 2+2?" }], headers: scripted.headers });
  assert.equal(simple.route.tier, "simple");
  assert.equal(simple.route.model, TIERS.simple);
  assert.equal(typeof simple.route.reason, "string");
  assert.ok(simple.route.reason.length > 0);
  assert.equal(simple.target, TIERS.simple);
  assert.equal(scripted.seen().at(-1).model, "claude-haiku-4-5");
  assert.equal(log.records.at(-1).requestedModel, "auto");
  assert.equal(log.records.at(-1).route.tier, "simple");
  assert.ok(log.events.some((e) => e.type === "route" && e.decision.model === TIERS.simple));

  // An explicit complexity wins, and pins the conversation to its model.
  const hard = await client.chat({
    model: "auto",
    messages: [{ role: "user", content: "Hi" }],
    complexity: "complex",
    conversationId: "conv-1",
    headers: scripted.headers,
  });
  assert.equal(hard.route.model, TIERS.complex);
  assert.equal(log.records.at(-1).conversationId, "conv-1");
  const followUp = await client.chat({
    model: "auto",
    messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }, { role: "user", content: "Thanks!" }],
    conversationId: "conv-1",
    headers: scripted.headers,
  });
  assert.equal(followUp.route.model, TIERS.complex, "the pinned conversation stays on its model");
  assert.match(followUp.route.reason, /pin/i);
  const other = await client.chat({ model: "auto", messages: [{ role: "user", content: "Thanks!" }], conversationId: "conv-2", headers: scripted.headers });
  assert.equal(other.route.model, TIERS.simple);

  // Streams carry the route on their finish event.
  const streamed = await drain(client.stream({ model: "auto", messages: [{ role: "user", content: "Hi" }], complexity: "standard", headers: scripted.headers }));
  assert.equal(streamed.finish.route.model, TIERS.standard);
  assert.equal(streamed.finish.target, TIERS.standard);
});

test("a custom router (a JS function) can replace the decision, or keep it", async () => {
  const seen = [];
  const { client } = newClient({
    routing: {
      tiers: TIERS,
      hook: (request, decision) => {
        seen.push(decision.tier);
        const text = request.messages[0].content[0].text;
        return text.includes("invoice") ? { model: "openai/gpt-4o-mini", reason: "invoices go to OpenAI" } : undefined;
      },
    },
  });
  const scripted = scenario();
  const routed = await client.chat({ model: "auto", messages: [{ role: "user", content: "Total this invoice" }], headers: scripted.headers });
  assert.equal(routed.route.model, "openai/gpt-4o-mini");
  assert.equal(routed.route.reason, "invoices go to OpenAI");
  assert.equal(routed.target, "openai/gpt-4o-mini");
  assert.equal(routed.provider, "openai");
  const kept = await client.chat({ model: "auto", messages: [{ role: "user", content: "Hi" }], headers: scripted.headers });
  assert.equal(kept.route.model, TIERS.simple);
  assert.equal(seen.length, 2);
  assert.throws(() => new Client({ providers: {}, routing: { hook: () => undefined }, router: () => undefined }), LlmEdgeError);
});

test("estimateCost prices the offline token estimate; projectMonthlyCost multiplies it out", () => {
  const { client } = newClient({ routing: { tiers: TIERS } });
  const estimate = client.estimateCost({ model: MODELS.anthropic, messages: [{ role: "user", content: PROMPT }], maxTokens: 100 });
  assert.equal(estimate.model, "anthropic/claude-haiku-4-5");
  // An offline estimate (with per-message overhead, erring high), not the mock's count of 10.
  assert.ok(estimate.inputTokens >= 10 && estimate.inputTokens <= 20, `${estimate.inputTokens} tokens for 40 characters`);
  assert.equal(estimate.outputTokensMax, 100);
  assert.equal(estimate.outputTokensExpected, 100);
  // Input at $1/MTok plus 100 output tokens at $5/MTok: (inputTokens + 500) µ$, expected and max alike.
  assert.equal(Math.round(estimate.usdMax * 1e6 * 1e6), (estimate.inputTokens + 500) * 1e6);
  assert.equal(estimate.usdExpected, estimate.usdMax);
  // Without maxTokens the worst case is the model's output limit (64000 for haiku 4.5) and the
  // expectation a typical 500 tokens.
  const open = client.estimateCost({ model: MODELS.anthropic, messages: [{ role: "user", content: PROMPT }] });
  assert.ok(open.outputTokensMax >= 4096);
  assert.equal(open.outputTokensExpected, 500);
  const routed = client.estimateCost({ model: "auto", messages: [{ role: "user", content: "Hi" }], complexity: "complex" });
  assert.equal(routed.model, "anthropic/claude-opus-4-6");
  assert.throws(() => client.estimateCost({ model: "openai/no-such-model", messages: [] }), (e) => e.kind === "config");

  // 1000 requests a day × 30 days × (1000 × $0.15 + 500 × $0.60) / 1e6 = 30000 × $0.00045 = $13.50
  const single = client.projectMonthlyCost({ requestsPerDay: 1000, model: "openai/gpt-4o-mini", avgInputTokens: 1000, avgOutputTokens: 500 });
  assert.equal(single.totalUsd, 13.5);
  // Half haiku: 15000 × (1000 × $1 + 500 × $5) / 1e6 = $52.50; half gpt-4o-mini: $6.75; $59.25.
  const mix = client.projectMonthlyCost({
    requestsPerDay: 1000,
    mix: { "anthropic/claude-haiku-4-5": 1, "openai/gpt-4o-mini": 1 },
    avgInputTokens: 1000,
    avgOutputTokens: 500,
  });
  assert.equal(mix.totalUsd, 59.25);
  assert.deepEqual(mix.models.map((m) => [m.model, m.share, m.usd]), [
    ["anthropic/claude-haiku-4-5", 0.5, 52.5],
    ["openai/gpt-4o-mini", 0.5, 6.75],
  ]);
  assert.throws(() => client.projectMonthlyCost({ requestsPerDay: 1, avgInputTokens: 1, avgOutputTokens: 1 }), LlmEdgeError);
});

test("cost options are validated at construction and refused on a call", () => {
  assert.throws(() => new Client({ providers: {}, budget: { dailyUsd: 1, perDay: 2 } }), (e) => e.kind === "config");
  assert.throws(() => new Client({ providers: {}, onUsage: "log" }), (e) => e.kind === "config");
  const { client } = newClient();
  assert.throws(() => client.stream({ model: MODELS.openai, messages: [], budget: { dailyUsd: 1 } }), (e) => e.kind === "config");
  assert.equal(client.cacheStats(), null);
  assert.deepEqual(client.spend().dailyUsd, null);
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("stale-if-error: when every target fails, an expired entry answers, marked stale", async () => {
  const { client, log } = newClient({ cache: { ttlMs: 50, staleIfErrorMs: 60_000 } });
  const fresh = await client.chat(ask(MODELS.openai, scenario()));
  assert.equal(fresh.cache, "miss");
  await sleep(120);
  const failing = scenario({ status: 503 });
  const res = await client.chat(ask(MODELS.openai, failing));
  assert.equal(failing.seen().length, 1, "the upstream was tried first");
  assert.equal(res.stale, true);
  assert.equal(res.cache, "stale");
  assert.equal(res.text, fresh.text);
  assert.ok(res.warnings.some((w) => w.setting === "cache" && /staleIfErrorMs/.test(w.message)), JSON.stringify(res.warnings));
  const record = log.records.at(-1);
  assert.equal(record.stale, true);
  assert.equal(record.cache, "stale");
  assert.equal(record.outcome, "ok");
  assert.equal(record.attempts, 1);
  assert.equal(log.records[0].stale, false);

  // A stream is answered the same way: replayed from the stale entry.
  const streamed = await drain(client.stream(ask(MODELS.openai, scenario({ status: 503 }))));
  assert.equal(streamed.error, undefined);
  assert.equal(streamed.text, fresh.text);
  assert.equal(streamed.finish.stale, true);
  assert.equal(log.records.at(-1).stale, true);
});

test("without staleIfErrorMs an expired entry never answers: the typed error stands", async () => {
  const { client, log } = newClient({ cache: { ttlMs: 50 } });
  await client.chat(ask(MODELS.openai, scenario()));
  await sleep(120);
  await assert.rejects(client.chat(ask(MODELS.openai, scenario({ status: 503 }))), (error) => {
    assert.ok(error instanceof LlmEdgeError);
    assert.equal(error.status, 503);
    assert.equal(error.attempts.length, 1);
    return true;
  });
  const record = log.records.at(-1);
  assert.equal(record.stale, false);
  assert.notEqual(record.outcome, "ok");
});

test("price overrides, in this crate's format and in LiteLLM's, change costUsd", async () => {
  // Default: gpt-4o-mini at $0.15 / $0.60 per MTok: 15.9 µ$ (EXPECTED_PICO.openai).
  // Ours (USD per MTok), $1 / $2: 10 × 1 + 24 × 2 = 58 µ$.
  const ours = newClient({ prices: { "openai/gpt-4o-mini": { input: 1, output: 2 } } });
  const oursRes = await ours.client.chat(ask(MODELS.openai, scenario()));
  assert.equal(oursRes.costUsd, 58e-6);
  assert.equal(ours.log.records[0].cost.pico, 58 * PICO_PER_MICRO);

  // LiteLLM's model_prices_and_context_window.json shape (USD per token, its sample_spec entry
  // included as in the real file): $3 / $7 per MTok: 10 × 3 + 24 × 7 = 198 µ$.
  const litellmFile = {
    sample_spec: {
      max_input_tokens: "max input tokens, if the provider specifies it",
      input_cost_per_token: 0.0,
      output_cost_per_token: 0.0,
      litellm_provider: "one of https://docs.litellm.ai/docs/providers",
      mode: "one of: chat, embedding, completion, image_generation, audio_transcription, audio_speech",
    },
    "gpt-4o-mini": {
      max_tokens: 16384,
      max_input_tokens: 128000,
      max_output_tokens: 16384,
      input_cost_per_token: 3e-6,
      output_cost_per_token: 7e-6,
      litellm_provider: "openai",
      mode: "chat",
      supports_function_calling: true,
    },
    // A model the built-in table does not know, priced only by this entry: $0.5 / $1.5 per MTok
    // on Gemini: 10 × 0.5 + 24 × 1.5 = 41 µ$.
    "gemini/gemini-mock-custom": {
      input_cost_per_token: 5e-7,
      output_cost_per_token: 1.5e-6,
      litellm_provider: "gemini",
      mode: "chat",
    },
  };
  const litellm = newClient({ prices: litellmFile });
  const litellmRes = await litellm.client.chat(ask(MODELS.openai, scenario()));
  assert.equal(litellmRes.costUsd, 198e-6);
  assert.equal(litellm.log.records[0].cost.pico, 198 * PICO_PER_MICRO);
  const custom = await litellm.client.chat(ask("gemini/gemini-mock-custom", scenario()));
  assert.equal(custom.costUsd, 41e-6);

  // Without the entry the same model has no price: null and a warning, never a guess.
  const unknown = await newClient().client.chat(ask("gemini/gemini-mock-custom", scenario()));
  assert.equal(unknown.costUsd, null);
  assert.ok(unknown.warnings.length > 0, "an unknown price is warned about");
});
