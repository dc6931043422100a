// The built npm package imported by name in Node, against the mock provider.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, LlmEdgeError } from "llm-edge";
import { startMockProvider } from "../mock-provider/server.mjs";
import { MODELS, mockProviders, streamingScenario, TRICKY_TEXT } from "./scenarios.mjs";
import { waitFor } from "./helpers.mjs";

const PROVIDERS = ["anthropic", "openai", "gemini"];
const WEATHER_TOOL = {
  name: "get_weather",
  description: "Current weather in a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

let mock;
let client;

before(async () => {
  mock = await startMockProvider();
  // These tests check each provider's translation and the error surface of one attempt; the
  // retry and circuit-breaker policies are tested in reliability.test.mjs.
  client = new Client({ providers: mockProviders(mock.url), retry: { maxRetries: 0 }, circuitBreaker: null });
});

after(() => mock?.close());

const behavior = (b) => ({ "x-mock-behavior": JSON.stringify(b) });
const lastRequest = (provider) => mock.requests().filter((r) => r.provider === provider).at(-1);

async function collect(stream) {
  const events = [];
  for await (const event of stream) events.push(event);
  return events;
}

for (const provider of PROVIDERS) {
  test(`${provider}: chat returns text, usage, provider, model and finish reason`, async () => {
    const res = await client.chat({
      model: MODELS[provider],
      system: "Be brief.",
      messages: [{ role: "user", content: "Hi there" }],
      maxTokens: 256,
      temperature: 0.2,
    });
    assert.match(res.text, /^Mock answer from /);
    assert.equal(res.provider, provider);
    assert.ok(res.model.length > 0);
    assert.equal(res.finishReason, "stop");
    assert.equal(res.usage.outputTokens, 24);
    assert.ok(res.usage.inputTokens > 0);
    // Anthropic and OpenAI send a request id header; Gemini identifies the answer by responseId.
    if (provider === "gemini") assert.ok(res.id, "the responseId is kept");
    else assert.ok(res.requestId, "the provider's request id is kept");
    const seen = lastRequest(provider);
    assert.equal(seen.outcome, "completed");
    const auth = { anthropic: "x-api-key", openai: "authorization", gemini: "x-goog-api-key" }[provider];
    assert.ok(seen.headers[auth].includes(`test-${provider}-key`));
  });

  test(`${provider}: stream delivers text incrementally and finishes with usage`, async () => {
    const report = await streamingScenario(Client, mock.url, provider);
    assert.equal(report.error, null);
    assert.equal(report.deltas, 20);
    assert.ok(report.firstDeltaMs < report.totalMs / 2, `first delta at ${report.firstDeltaMs} of ${report.totalMs} ms`);
    assert.deepEqual(report.types.filter((t) => t === "finish"), ["finish"]);
    assert.equal(report.finish.finishReason, "stop");
    assert.equal(report.finish.usage.outputTokens, 20);
  });

  test(`${provider}: streamed text with escapes, control and multi-byte characters arrives exactly`, async () => {
    const report = await streamingScenario(Client, mock.url, provider, { chunkDelayMs: 0, text: TRICKY_TEXT });
    assert.equal(report.error, null);
    assert.equal(report.text, TRICKY_TEXT);
  });

  test(`${provider}: aborting the signal mid-stream cancels the fetch`, async () => {
    const controller = new AbortController();
    const stream = client.stream({
      model: MODELS[provider],
      messages: [{ role: "user", content: "A long one please" }],
      // 10 s of answer: the abort after the second delta must find the answer still coming, even
      // when a loaded machine delays the reader and several chunks arrive in one read.
      headers: { ...behavior({ chunkDelayMs: 40, words: 250 }), "x-mock-scenario": `abort-${provider}` },
      signal: controller.signal,
    });
    const events = [];
    for await (const event of stream) {
      events.push(event);
      if (event.type === "text-delta" && events.filter((e) => e.type === "text-delta").length === 2) controller.abort();
    }
    const last = events.at(-1);
    assert.equal(last.type, "error");
    assert.ok(last.error instanceof LlmEdgeError);
    assert.equal(last.error.kind, "cancelled");
    await waitFor(() => lastRequest(provider).outcome === "client-closed", {
      what: "the mock to see the connection close",
      describe: () => JSON.stringify({ outcome: lastRequest(provider).outcome, chunksSent: lastRequest(provider).chunksSent, events: events.length }),
    });
    assert.ok(lastRequest(provider).chunksSent < 250);
  });

  test(`${provider}: breaking out of for-await cancels the fetch`, async () => {
    const stream = client.stream({
      model: MODELS[provider],
      messages: [{ role: "user", content: "Another long one" }],
      headers: behavior({ chunkDelayMs: 40, words: 60 }),
    });
    for await (const event of stream) {
      if (event.type === "text-delta") break;
    }
    await waitFor(() => lastRequest(provider).outcome === "client-closed", { what: "the mock to see the connection close" });
  });

  test(`${provider}: aborting a chat before the headers arrive rejects with cancelled`, async () => {
    const controller = new AbortController();
    const pending = client.chat({
      model: MODELS[provider],
      messages: [{ role: "user", content: "Slow" }],
      headers: behavior({ headersDelayMs: 3000 }),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await assert.rejects(pending, (e) => e instanceof LlmEdgeError && e.kind === "cancelled");
    assert.ok(Date.now() - started < 1500);
    await waitFor(() => lastRequest(provider).outcome === "client-closed", { what: "the mock to see the connection close" });
  });

  for (const [status, kind, retryable] of [
    [401, "authentication", false],
    [400, "invalid_request", false],
    [429, "rate_limited", true],
    [500, "server_error", true],
  ]) {
    test(`${provider}: a ${status} becomes a typed ${kind} error`, async () => {
      const error = await client
        .chat({ model: MODELS[provider], messages: [{ role: "user", content: "Hi" }], headers: behavior({ status, retryAfter: status === 429 ? 7 : undefined }) })
        .then(() => null, (e) => e);
      assert.ok(error instanceof LlmEdgeError, `expected LlmEdgeError, got ${error}`);
      assert.equal(error.kind, kind);
      assert.equal(error.status, status);
      assert.equal(error.provider, provider);
      assert.equal(error.retryable, retryable);
      if (status === 429) assert.equal(error.retryAfterMs, 7000);
      // The same error through a stream arrives as an error event.
      const events = await collect(
        client.stream({ model: MODELS[provider], messages: [{ role: "user", content: "Hi" }], headers: behavior({ status }) }),
      );
      assert.equal(events.length, 1);
      assert.equal(events[0].type, "error");
      assert.equal(events[0].error.kind, kind);
    });
  }

  test(`${provider}: a truncated stream ends with an error event after the text delivered`, async () => {
    const events = await collect(
      client.stream({ model: MODELS[provider], messages: [{ role: "user", content: "Hi" }], headers: behavior({ cutAfterChunks: 6 }) }),
    );
    const deltas = events.filter((e) => e.type === "text-delta");
    assert.ok(deltas.length >= 3, `text before the cut: ${deltas.length} deltas`);
    assert.equal(events.filter((e) => e.type === "finish").length, 0, "never a clean finish");
    const last = events.at(-1);
    assert.equal(last.type, "error");
    assert.equal(last.error.kind, "truncated_stream");
    assert.equal(last.error.provider, provider);
  });

  test(`${provider}: tool calls round-trip, whole and streamed`, async () => {
    const question = { role: "user", content: "What is the weather in Paris?" };
    const res = await client.chat({ model: MODELS[provider], messages: [question], tools: [WEATHER_TOOL] });
    assert.equal(res.finishReason, "tool-calls");
    assert.equal(res.toolCalls.length, 1);
    const [call] = res.toolCalls;
    assert.equal(call.name, "get_weather");
    assert.deepEqual(call.arguments, { city: "mock" });

    const events = await collect(client.stream({ model: MODELS[provider], messages: [question], tools: [WEATHER_TOOL] }));
    const ends = events.filter((e) => e.type === "tool-call-end");
    assert.equal(ends.length, 1);
    assert.deepEqual(ends[0].arguments, { city: "mock" });
    assert.equal(events.at(-1).finishReason, "tool-calls");

    const callPart = res.content.find((p) => p.type === "tool-call");
    const followUp = await client.chat({
      model: MODELS[provider],
      tools: [WEATHER_TOOL],
      messages: [
        question,
        { role: "assistant", content: [callPart] },
        { role: "user", content: [{ type: "tool-result", callId: call.id, name: call.name, content: "18 degrees and sunny" }] },
      ],
    });
    assert.equal(followUp.finishReason, "stop");
    assert.match(followUp.text, /18 degrees and sunny/);
  });
}

test("an unknown model or an unconfigured provider is a typed error before any request", async () => {
  const before = mock.requests().length;
  await assert.rejects(client.chat({ model: "llama-3", messages: [] }), (e) => e instanceof LlmEdgeError && e.kind === "invalid_request");
  const partial = new Client({ providers: { openai: { apiKey: "k", baseUrl: mock.url } } });
  await assert.rejects(partial.chat({ model: "claude-haiku-4-5", messages: [] }), (e) => e.kind === "config");
  assert.equal(mock.requests().length, before);
});

test("a stream converts to a web ReadableStream of SSE bytes", async () => {
  const body = client
    .stream({ model: MODELS.openai, messages: [{ role: "user", content: "Hi" }], headers: behavior({ words: 3 }) })
    .toReadableStream({ format: "sse" });
  const text = await new Response(body).text();
  assert.match(text, /^event: start\n/);
  assert.equal((text.match(/event: text-delta\n/g) ?? []).length, 3);
  assert.match(text, /event: finish\ndata: \{"type":"finish","finishReason":"stop"/);
});

test("only the call's own signal is withheld from the request: a tool property named signal is sent", async () => {
  const tool = {
    name: "set_alarm",
    parameters: { type: "object", properties: { signal: { type: "string" } }, required: ["signal"] },
  };
  const res = await client.chat({
    model: MODELS.openai,
    messages: [{ role: "user", content: "Wake me" }],
    tools: [tool],
    signal: new AbortController().signal,
  });
  assert.deepEqual(res.toolCalls[0].arguments, { signal: "mock" });
  assert.deepEqual(lastRequest("openai").body.tools[0].function.parameters.properties, { signal: { type: "string" } });
});
