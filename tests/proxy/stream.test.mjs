// Streams through the built Worker proxy when they do not simply finish: cut mid-way by the
// provider, gone silent past the idle timeout, or abandoned by the client. Each must end the
// way the route's own API ends a failed stream, and be logged and settled exactly once. And a
// long stream must arrive intact, byte for byte as the official SDK reads it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { CLIENTS, startProxy } from "./harness.mjs";

const OPENAI = "openai/gpt-4o-mini";
const ANTHROPIC = "anthropic/claude-haiku-4-5";
const client = (name) => ({ name, dailyBudgetUsd: 100, requestsPerMinute: 10000, tokensPerMinute: 100000000, models: ["*"] });
const STREAM_CLIENTS = {
  ...CLIENTS,
  "token-cut-openai": client("cut-openai"),
  "token-cut-anthropic": client("cut-anthropic"),
  "token-idle": client("idle"),
  "token-cancel": client("cancel"),
  "token-long": client("long"),
  "token-incremental": client("incremental"),
};

let proxy;

before(async () => {
  proxy = await startProxy({ CLIENTS: JSON.stringify(STREAM_CLIENTS), POLICY: JSON.stringify({ idleTimeoutMs: 400 }) });
});

after(async () => {
  await proxy?.stop();
});

async function script(match, behavior) {
  const res = await fetch(`${proxy.mock.url}/__mock/script`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ match, behaviors: [behavior] }),
  });
  assert.equal(res.status, 200);
}

/** The usage records the proxy logged for a client, once `count` of them are there. */
async function records(clientId, count = 1, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = proxy
      .logs()
      .split("\n")
      .filter((line) => line.includes(`"clientId":"${clientId}"`))
      .map((line) => JSON.parse(line.slice(line.indexOf("{"))));
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function spend(token) {
  const res = await fetch(`${proxy.url}/v1/llm-edge/spend`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return res.json();
}

/**
 * The client's spend once nothing is reserved any more. These clients are far from their limits,
 * so their calls run under a lease (README, "Limits"), which holds a slice of the budget until its
 * window ends and the isolate closes it (about 6 s): a call that was not settled would keep its
 * reservation for ten minutes, past this wait.
 */
async function settledSpend(token, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const spent = await spend(token);
    if (spent.reservedUsd === 0 || Date.now() > deadline) return spent;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function sse(text) {
  return text
    .split("\n\n")
    .filter((block) => block.trim())
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? null;
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      return { event, data: data === "[DONE]" ? data : JSON.parse(data) };
    });
}

test("a stream the provider cuts mid-way ends with an OpenAI error chunk, logged and settled once", async () => {
  await script({ model: "claude-haiku-4-5" }, { cutAfterChunks: 6 });
  const res = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer token-cut-openai" },
    body: JSON.stringify({ model: ANTHROPIC, messages: [{ role: "user", content: "Cut me" }], stream: true }),
  });
  assert.equal(res.status, 200);
  const events = sse(await res.text());
  const text = events.map((e) => e.data?.choices?.[0]?.delta?.content ?? "").join("");
  assert.ok(text.length > 0, "content before the cut reached the client");
  const last = events.at(-1);
  assert.ok(last.data.error, `the stream ends with an error chunk, not [DONE]: ${JSON.stringify(last)}`);
  assert.ok(!events.some((e) => e.data === "[DONE]"));
  const [record, ...more] = await records("cut-openai");
  assert.equal(more.length, 0, "logged once");
  assert.notEqual(record.outcome, "ok");
  assert.ok(record.cost.pico > 0 && record.cost.estimated, `an estimated cost: ${JSON.stringify(record.cost)}`);
  const spent = await settledSpend("token-cut-openai");
  assert.equal(spent.reservedUsd, 0, "the reservation was settled");
  assert.ok(Math.abs(spent.todayUsd - record.cost.usd) < 1e-9, `${spent.todayUsd} vs ${record.cost.usd}`);
});

test("the Anthropic SDK sees a cut stream fail with the error event, not a clean end", async () => {
  await script({ model: "gpt-4o-mini" }, { cutAfterChunks: 6 });
  const anthropic = new Anthropic({ apiKey: "token-cut-anthropic", baseURL: proxy.url, maxRetries: 0 });
  const stream = anthropic.messages.stream({ model: OPENAI, max_tokens: 100, messages: [{ role: "user", content: "Cut me" }] });
  let text = "";
  stream.on("text", (delta) => (text += delta));
  await assert.rejects(stream.finalMessage(), (e) => /error|connection|network|broke/i.test(String(e.message)));
  assert.ok(text.length > 0);
  const [record] = await records("cut-anthropic");
  assert.notEqual(record.outcome, "ok");
  assert.equal((await settledSpend("token-cut-anthropic")).reservedUsd, 0);
});

test("a stream silent past the idle timeout ends with a timeout error event", async () => {
  await script({ model: "gpt-4o-mini" }, { stallAfterChunks: 4 });
  const started = Date.now();
  const res = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer token-idle" },
    body: JSON.stringify({ model: OPENAI, messages: [{ role: "user", content: "Stall" }], stream: true }),
  });
  assert.equal(res.status, 200);
  const events = sse(await res.text());
  assert.ok(Date.now() - started < 5000, "the idle timeout ended it, not the mock's stall limit");
  assert.match(JSON.stringify(events.at(-1).data.error), /idle timeout/);
  const [record] = await records("idle");
  assert.equal(record.outcome, "timeout");
  assert.equal((await settledSpend("token-idle")).reservedUsd, 0);
  // The proxy stopped reading: the mock saw its client go away.
  const upstream = proxy.mock.requests({ model: "gpt-4o-mini" }).at(-1);
  await waitFor(() => upstream.outcome === "client-closed");
});

test("a client that goes away mid-stream: the upstream is closed, the call logged as cancelled and settled", async () => {
  await script({ model: "gpt-4o-mini" }, { chunkDelayMs: 100, words: 100 });
  const controller = new AbortController();
  const res = await fetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer token-cancel" },
    body: JSON.stringify({ model: OPENAI, messages: [{ role: "user", content: "Long one" }], stream: true }),
    signal: controller.signal,
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let received = "";
  while (!received.includes('"content":"')) received += new TextDecoder().decode((await reader.read()).value);
  controller.abort();
  const [record, ...more] = await records("cancel");
  assert.ok(record, "the cancelled call was logged");
  assert.equal(more.length, 0);
  assert.equal(record.outcome, "cancelled");
  assert.ok(record.cost.pico > 0, "what was delivered is billed");
  assert.equal((await settledSpend("token-cancel")).reservedUsd, 0);
  const upstream = proxy.mock.requests({ model: "gpt-4o-mini" }).at(-1);
  await waitFor(() => upstream.outcome === "client-closed");
  assert.ok(upstream.chunksSent < 50, `the upstream stopped early (${upstream.chunksSent} chunks)`);
});

test("a stream is passed on as it arrives: the first text long before the last, in many reads", async () => {
  for (const [model, upstream] of [[OPENAI, "gpt-4o-mini"], [ANTHROPIC, "claude-haiku-4-5"]]) {
    // 20 pieces 50 ms apart: about a second of answer.
    await script({ model: upstream }, { chunkDelayMs: 50, words: 20 });
    const started = Date.now();
    const res = await fetch(`${proxy.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer token-incremental" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "Slowly" }], stream: true }),
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = "", firstContentMs = null, readsWithContent = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const piece = decoder.decode(value, { stream: true });
      text += piece;
      if (piece.includes('"content":"')) {
        readsWithContent += 1;
        firstContentMs ??= Date.now() - started;
      }
    }
    const totalMs = Date.now() - started;
    assert.match(text, /data: \[DONE\]/, model);
    assert.ok(totalMs >= 900, `${model}: the answer took ${totalMs} ms`);
    assert.ok(firstContentMs < totalMs / 3, `${model}: first text at ${firstContentMs} of ${totalMs} ms`);
    assert.ok(readsWithContent >= 10, `${model}: text came in ${readsWithContent} reads`);
  }
});

test("a long stream arrives intact through the official SDKs, passthrough and translated", async () => {
  const ask = { messages: [{ role: "user", content: "Tell me a long story" }] };
  // What the mock answers directly, for both providers.
  const expected = {};
  for (const [provider, model] of [["openai", "gpt-4o-mini"], ["anthropic", "claude-haiku-4-5"]]) {
    await script({ model }, { words: 400 });
    const res = provider === "openai"
      ? await fetch(`${proxy.mock.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer sk-direct" },
        body: JSON.stringify({ model, ...ask, stream: true }),
      })
      : await fetch(`${proxy.mock.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": "sk-direct", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model, max_tokens: 1000, ...ask, stream: true }),
      });
    assert.equal(res.status, 200);
    expected[provider] = sse(await res.text())
      .map(({ data }) => data?.choices?.[0]?.delta?.content ?? data?.delta?.text ?? "")
      .join("");
    assert.ok(expected[provider].split(" ").length >= 300, expected[provider].slice(0, 200));
  }
  const openai = new OpenAI({ apiKey: "token-long", baseURL: `${proxy.url}/v1`, maxRetries: 0 });
  const anthropic = new Anthropic({ apiKey: "token-long", baseURL: proxy.url, maxRetries: 0 });
  for (const [provider, model] of [["openai", OPENAI], ["anthropic", ANTHROPIC]]) {
    await script({ model: model.split("/")[1] }, { words: 400 });
    let text = "";
    let usage = null;
    for await (const chunk of await openai.chat.completions.create({ model, ...ask, stream: true, stream_options: { include_usage: true } })) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
    }
    assert.equal(text, expected[provider], `openai SDK <- ${provider}`);
    assert.ok(usage.completion_tokens > 0);
    await script({ model: model.split("/")[1] }, { words: 400 });
    const final = await anthropic.messages.stream({ model, max_tokens: 1000, ...ask }).finalMessage();
    assert.equal(final.content[0].text, expected[provider], `anthropic SDK <- ${provider}`);
    assert.equal(final.stop_reason, "end_turn");
  }
  const logged = await records("long", 4);
  assert.equal(logged.length, 4);
  assert.ok(logged.every((r) => r.outcome === "ok" && !r.cost.estimated));
  assert.equal((await settledSpend("token-long")).reservedUsd, 0);
});

async function waitFor(condition, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${condition}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
