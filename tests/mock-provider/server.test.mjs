// Tests of the mock provider itself: node --test tests/mock-provider/
// Expected numbers are computed here from the README rules, independently of the implementation.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startMockProvider } from "./server.mjs";

let mock;
before(async () => { mock = await startMockProvider(); });
after(async () => { await mock.close(); });

// ------------------------------------------------------------------ helpers

const A = { "x-api-key": "test-key", "anthropic-version": "2023-06-01", "content-type": "application/json" };
const O = { authorization: "Bearer test-key", "content-type": "application/json" };
const G = { "x-goog-api-key": "test-key", "content-type": "application/json" };
const LOREM = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis".split(" ");
const cp = (s) => [...s].length;
const tok = (chars) => Math.ceil(chars / 4);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const behave = (b, scenario) => ({
  "x-mock-behavior": JSON.stringify(b),
  ...(scenario ? { "x-mock-scenario": scenario } : {}),
});
let uniq = 0;
const unique = (s) => `${s}-${process.pid}-${++uniq}`;

function expectedWords(head, promptText, n = 24) {
  const w = [...head, ...promptText.split(/\s+/).filter(Boolean)].slice(0, n);
  for (let i = 0; w.length < n; i++) w.push(LOREM[i % LOREM.length]);
  return w;
}
const expectedText = (provider, model, prompt, n = 24) =>
  expectedWords(["Mock", "answer", "from", `${provider}/${model}:`], prompt, n).join(" ");

function post(path, body, headers, signal) {
  return fetch(mock.url + path, {
    method: "POST", headers, signal, body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** WHATWG-style SSE parsing: returns [{event, data}] for dispatched events. */
function parseSse(text) {
  const events = [];
  let data = [], event = "";
  for (const line of text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/)) {
    if (line === "") {
      if (data.length) events.push({ event: event || "message", data: data.join("\n") });
      data = []; event = "";
      continue;
    }
    if (line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event = value;
  }
  return events;
}
const tryJson = (s) => { try { return JSON.parse(s); } catch { return undefined; } };

async function waitFor(fn, timeoutMs = 2000) {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error("waitFor timed out");
    await sleep(10);
  }
}

const aBody = (extra = {}) => ({
  model: "claude-haiku-4-5", max_tokens: 1024, messages: [{ role: "user", content: "Hello there mock" }], ...extra,
});
const oBody = (extra = {}) => ({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello there mock" }], ...extra });
const gBody = (extra = {}) => ({ contents: [{ role: "user", parts: [{ text: "Hello there mock" }] }], ...extra });
const G_GEN = "/v1beta/models/gemini-2.5-flash:generateContent";
const G_SSE = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

const WEATHER_TOOL_SCHEMA = {
  type: "object",
  properties: {
    city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] },
    days: { type: "integer" }, detailed: { type: "boolean" }, tags: { type: "array", items: { type: "string" } },
    opts: { type: "object", properties: { x: { type: "number" }, y: { type: "string" } }, required: ["x"] },
    optional: { type: "string" },
  },
  required: ["city", "unit", "days", "detailed", "tags", "opts"],
};
const WEATHER_ARGS = { city: "mock", unit: "celsius", days: 1, detailed: true, tags: [], opts: { x: 1 } };

// ------------------------------------------------------------------ Anthropic

describe("anthropic", () => {
  test("JSON answer: shape, deterministic text, usage from the tokenizer, headers", async () => {
    const body = aBody({ system: "Be brief." });
    const res = await post("/v1/messages", body, A);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.match(res.headers.get("request-id"), /^req_mock_\d+$/);
    const j = await res.json();
    assert.equal(j.type, "message");
    assert.equal(j.role, "assistant");
    assert.equal(j.model, "claude-haiku-4-5");
    assert.match(j.id, /^msg_mock_/);
    assert.equal(j.stop_reason, "end_turn");
    assert.equal(j.stop_sequence, null);
    assert.equal(j.content.length, 1);
    assert.equal(j.content[0].type, "text");
    assert.equal(j.content[0].text, expectedText("anthropic", "claude-haiku-4-5", "Hello there mock"));
    assert.equal(j.usage.output_tokens, 24);
    assert.equal(j.usage.input_tokens, tok(cp("Be brief.") + cp("Hello there mock")));
    assert.equal(j.usage.cache_creation_input_tokens, 0);
    assert.equal(j.usage.cache_read_input_tokens, 0);
    const j2 = await (await post("/v1/messages", body, A)).json();
    assert.notEqual(j2.id, j.id);
    assert.deepEqual({ ...j2, id: null }, { ...j, id: null });
  });

  test("SSE: event order, event lines, ping, usage consistent with pieces", async () => {
    const res = await post("/v1/messages", aBody({ stream: true }), A);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    const events = parseSse(await res.text());
    const types = events.map((e) => e.event);
    for (const e of events) assert.equal(JSON.parse(e.data).type, e.event);
    assert.deepEqual(types.slice(0, 3), ["message_start", "content_block_start", "ping"]);
    assert.deepEqual(types.slice(-3), ["content_block_stop", "message_delta", "message_stop"]);
    const deltas = events.filter((e) => e.event === "content_block_delta").map((e) => JSON.parse(e.data));
    assert.equal(deltas.length, types.length - 6);
    for (const d of deltas) assert.equal(d.delta.type, "text_delta");
    const text = deltas.map((d) => d.delta.text).join("");
    assert.equal(text, expectedText("anthropic", "claude-haiku-4-5", "Hello there mock"));
    const start = JSON.parse(events[0].data);
    assert.equal(start.message.usage.output_tokens, 1);
    assert.equal(start.message.usage.input_tokens, tok(cp("Hello there mock")));
    assert.ok("cache_read_input_tokens" in start.message.usage);
    const md = JSON.parse(events.at(-2).data);
    assert.equal(md.delta.stop_reason, "end_turn");
    assert.equal(md.usage.output_tokens, deltas.length);
    assert.equal(JSON.parse(events[1].data).content_block.type, "text");
  });

  test("max_tokens truncates with stop_reason max_tokens", async () => {
    const j = await (await post("/v1/messages", aBody({ max_tokens: 5 }), A)).json();
    assert.equal(j.stop_reason, "max_tokens");
    assert.equal(j.usage.output_tokens, 5);
    assert.equal(j.content[0].text, expectedText("anthropic", "claude-haiku-4-5", "Hello there mock", 5));
    const exact = await (await post("/v1/messages", aBody({ max_tokens: 24 }), A)).json();
    assert.equal(exact.stop_reason, "end_turn");
  });

  test("stop_sequences cut before the earliest match", async () => {
    const j = await (await post("/v1/messages", aBody({ stop_sequences: ["ipsum", "lorem"] }), A)).json();
    assert.equal(j.stop_reason, "stop_sequence");
    assert.equal(j.stop_sequence, "lorem");
    assert.equal(j.content[0].text, "Mock answer from anthropic/claude-haiku-4-5: Hello there mock ");
    assert.equal(j.usage.output_tokens, 7);
  });

  const tools = [
    { name: "get_weather", description: "Weather", input_schema: WEATHER_TOOL_SCHEMA },
    { name: "lookup", input_schema: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } },
  ];

  test("tool call (first tool, arguments from the schema) and forced tool", async () => {
    const j = await (await post("/v1/messages", aBody({ tools }), A)).json();
    assert.equal(j.stop_reason, "tool_use");
    assert.equal(j.content.length, 1);
    const [block] = j.content;
    assert.equal(block.type, "tool_use");
    assert.equal(block.name, "get_weather");
    assert.match(block.id, /^toolu_/);
    assert.deepEqual(block.input, WEATHER_ARGS);
    assert.equal(j.usage.output_tokens, tok(cp(JSON.stringify(WEATHER_ARGS))));
    assert.equal(j.usage.input_tokens, tok(cp(JSON.stringify(tools)) + cp("Hello there mock")));
    const f = await (await post("/v1/messages", aBody({ tools, tool_choice: { type: "tool", name: "lookup" } }), A)).json();
    assert.equal(f.content[0].name, "lookup");
    assert.deepEqual(f.content[0].input, { q: "mock" });
    const none = await (await post("/v1/messages", aBody({ tools, tool_choice: { type: "none" } }), A)).json();
    assert.equal(none.content[0].type, "text");
    assert.equal(none.stop_reason, "end_turn");
  });

  test("streamed tool call: tool_use block + 3+ input_json_delta fragments", async () => {
    const events = parseSse(await (await post("/v1/messages", aBody({ tools, stream: true }), A)).text());
    const start = JSON.parse(events.find((e) => e.event === "content_block_start").data);
    assert.equal(start.content_block.type, "tool_use");
    assert.equal(start.content_block.name, "get_weather");
    assert.deepEqual(start.content_block.input, {});
    const frags = events.filter((e) => e.event === "content_block_delta").map((e) => JSON.parse(e.data).delta);
    assert.ok(frags.length >= 3);
    for (const d of frags) assert.equal(d.type, "input_json_delta");
    assert.deepEqual(JSON.parse(frags.map((d) => d.partial_json).join("")), WEATHER_ARGS);
    const md = JSON.parse(events.find((e) => e.event === "message_delta").data);
    assert.equal(md.delta.stop_reason, "tool_use");
    assert.equal(md.usage.output_tokens, frags.length);
    assert.equal(events.at(-1).event, "message_stop");
  });

  test("tool result turn answers with the result content", async () => {
    const j = await (await post("/v1/messages", aBody({
      tools,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "21 degrees and sunny" }] },
      ],
    }), A)).json();
    assert.equal(j.stop_reason, "end_turn");
    assert.equal(j.content[0].type, "text");
    assert.ok(j.content[0].text.startsWith("Mock answer using tool result: 21 degrees and sunny lorem"));
    assert.equal(j.usage.output_tokens, 24);
    const chars = cp(JSON.stringify(tools)) + cp("Weather in Paris?") + cp(JSON.stringify({ city: "Paris" })) + cp("21 degrees and sunny");
    assert.equal(j.usage.input_tokens, tok(chars));
  });

  test("prompt caching: creation then read, input_tokens excludes cached tokens, ttl buckets", async () => {
    const sys = unique("You are a careful assistant.") + " Context line. ".repeat(80);
    const body = (q, ttl) => aBody({
      system: [{ type: "text", text: sys, cache_control: ttl ? { type: "ephemeral", ttl } : { type: "ephemeral" } }],
      messages: [{ role: "user", content: q }],
    });
    const P = tok(cp(sys));
    const u1 = (await (await post("/v1/messages", body("First question?"), A)).json()).usage;
    assert.equal(u1.cache_creation_input_tokens, P);
    assert.equal(u1.cache_creation.ephemeral_5m_input_tokens, P);
    assert.equal(u1.cache_creation.ephemeral_1h_input_tokens, 0);
    assert.equal(u1.cache_read_input_tokens, 0);
    assert.equal(u1.input_tokens, tok(cp(sys) + cp("First question?")) - P);
    const u2 = (await (await post("/v1/messages", body("Another question, longer this time?"), A)).json()).usage;
    assert.equal(u2.cache_creation_input_tokens, 0);
    assert.equal(u2.cache_read_input_tokens, P);
    assert.equal(u2.input_tokens, tok(cp(sys) + cp("Another question, longer this time?")) - P);
    // streamed: message_start carries the cache numbers
    const ev = parseSse(await (await post("/v1/messages", { ...body("First question?"), stream: true }, A)).text());
    const su = JSON.parse(ev[0].data).message.usage;
    assert.equal(su.cache_read_input_tokens, P);
    assert.equal(su.input_tokens, u1.input_tokens);
    // 1h ttl goes to its bucket
    const sys2 = unique("Other system.") + " More context. ".repeat(40);
    const u3 = (await (await post("/v1/messages", aBody({
      system: [{ type: "text", text: sys2, cache_control: { type: "ephemeral", ttl: "1h" } }],
    }), A)).json()).usage;
    assert.equal(u3.cache_creation.ephemeral_1h_input_tokens, tok(cp(sys2)));
    assert.equal(u3.cache_creation.ephemeral_5m_input_tokens, 0);
  });

  test("prompt caching: a later turn reads the earlier breakpoint and writes the rest", async () => {
    const m0 = unique("Turn zero.") + " words".repeat(60);
    const r1 = (await (await post("/v1/messages", aBody({
      messages: [{ role: "user", content: [{ type: "text", text: m0, cache_control: { type: "ephemeral" } }] }],
    }), A)).json()).usage;
    assert.equal(r1.cache_creation_input_tokens, tok(cp(m0)));
    assert.equal(r1.input_tokens, 0);
    const a0 = "Assistant reply.", m1 = "Follow-up question?";
    const r2 = (await (await post("/v1/messages", aBody({
      messages: [
        { role: "user", content: m0 },
        { role: "assistant", content: a0 },
        { role: "user", content: [{ type: "text", text: m1, cache_control: { type: "ephemeral" } }] },
      ],
    }), A)).json()).usage;
    const all = cp(m0) + cp(a0) + cp(m1);
    assert.equal(r2.cache_read_input_tokens, tok(cp(m0)));
    assert.equal(r2.cache_creation_input_tokens, tok(all) - tok(cp(m0)));
    assert.equal(r2.input_tokens, 0);
    assert.equal(r2.input_tokens + r2.cache_read_input_tokens + r2.cache_creation_input_tokens, tok(all));
  });

  test("count_tokens", async () => {
    const res = await post("/v1/messages/count_tokens", { model: "claude-haiku-4-5", system: "abc", messages: [{ role: "user", content: "Hello there mock" }] }, A);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { input_tokens: tok(3 + cp("Hello there mock")) });
  });

  test("auth, version, malformed JSON and validation errors", async () => {
    const noKey = await post("/v1/messages", aBody(), { "anthropic-version": "2023-06-01", "content-type": "application/json" });
    assert.equal(noKey.status, 401);
    const nk = await noKey.json();
    assert.equal(nk.type, "error");
    assert.equal(nk.error.type, "authentication_error");
    assert.match(nk.request_id, /^req_mock_/);
    const bad = await post("/v1/messages", aBody(), { ...A, "x-api-key": "invalid-key" });
    assert.equal(bad.status, 401);
    assert.equal((await bad.json()).error.type, "authentication_error");
    const noVer = await post("/v1/messages", aBody(), { "x-api-key": "k", "content-type": "application/json" });
    assert.equal(noVer.status, 400);
    assert.equal((await noVer.json()).error.type, "invalid_request_error");
    const malformed = await post("/v1/messages", '{"model": "claude', A);
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).error.type, "invalid_request_error");
    const noMax = await post("/v1/messages", { model: "claude-haiku-4-5", messages: [{ role: "user", content: "x" }] }, A);
    assert.equal(noMax.status, 400);
    assert.match((await noMax.json()).error.message, /max_tokens/);
  });
});

// ------------------------------------------------------------------ OpenAI

describe("openai", () => {
  test("JSON answer: shape, usage, x-request-id", async () => {
    const body = oBody({ messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello there mock" }] });
    const res = await post("/v1/chat/completions", body, O);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("x-request-id"), /^req_mock_/);
    const j = await res.json();
    assert.equal(j.object, "chat.completion");
    assert.equal(j.model, "gpt-4o-mini");
    assert.equal(typeof j.created, "number");
    assert.equal(j.choices[0].message.role, "assistant");
    assert.equal(j.choices[0].message.content, expectedText("openai", "gpt-4o-mini", "Hello there mock"));
    assert.equal(j.choices[0].finish_reason, "stop");
    assert.equal(j.usage.completion_tokens, 24);
    assert.equal(j.usage.prompt_tokens, tok(cp("Be brief.") + cp("Hello there mock")));
    assert.equal(j.usage.total_tokens, j.usage.prompt_tokens + 24);
    assert.equal(j.usage.prompt_tokens_details.cached_tokens, 0);
  });

  test("SSE without include_usage: no usage chunk, ends with [DONE]", async () => {
    const res = await post("/v1/chat/completions", oBody({ stream: true }), O);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const events = parseSse(await res.text());
    assert.ok(events.every((e) => e.event === "message"));
    assert.equal(events.at(-1).data, "[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    for (const c of chunks) {
      assert.equal(c.object, "chat.completion.chunk");
      assert.ok(!("usage" in c) || c.usage === null);
      assert.equal(c.choices.length, 1);
    }
    assert.equal(chunks[0].choices[0].delta.role, "assistant");
    assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
    const text = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
    assert.equal(text, expectedText("openai", "gpt-4o-mini", "Hello there mock"));
    assert.equal(chunks.length, 24 + 2);
  });

  test("SSE with include_usage: usage chunk with choices [] just before [DONE]", async () => {
    const events = parseSse(await (await post("/v1/chat/completions", oBody({ stream: true, stream_options: { include_usage: true }, max_completion_tokens: 6 }), O)).text());
    assert.equal(events.at(-1).data, "[DONE]");
    const usageChunk = JSON.parse(events.at(-2).data);
    assert.deepEqual(usageChunk.choices, []);
    const contentChunks = events.slice(0, -2).map((e) => JSON.parse(e.data)).filter((c) => c.choices[0].delta.content);
    assert.equal(usageChunk.usage.completion_tokens, contentChunks.length);
    assert.equal(usageChunk.usage.completion_tokens, 6);
    assert.equal(JSON.parse(events.at(-3).data).choices[0].finish_reason, "length");
    assert.equal(usageChunk.usage.prompt_tokens, tok(cp("Hello there mock")));
  });

  const tools = [
    { type: "function", function: { name: "get_weather", parameters: WEATHER_TOOL_SCHEMA } },
    { type: "function", function: { name: "lookup", parameters: { type: "object", properties: { q: { type: "string" } }, required: ["q"] } } },
  ];

  test("tool calls: whole and streamed (fragments joined by index)", async () => {
    const j = await (await post("/v1/chat/completions", oBody({ tools }), O)).json();
    const m = j.choices[0].message;
    assert.equal(j.choices[0].finish_reason, "tool_calls");
    assert.equal(m.content, null);
    assert.equal(m.tool_calls.length, 1);
    assert.equal(m.tool_calls[0].type, "function");
    assert.equal(m.tool_calls[0].function.name, "get_weather");
    assert.deepEqual(JSON.parse(m.tool_calls[0].function.arguments), WEATHER_ARGS);
    assert.equal(j.usage.completion_tokens, tok(cp(m.tool_calls[0].function.arguments)));
    const forced = await (await post("/v1/chat/completions", oBody({ tools, tool_choice: { type: "function", function: { name: "lookup" } } }), O)).json();
    assert.equal(forced.choices[0].message.tool_calls[0].function.name, "lookup");

    const events = parseSse(await (await post("/v1/chat/completions", oBody({ tools, stream: true }), O)).text());
    assert.equal(events.at(-1).data, "[DONE]");
    const calls = {};
    let frags = 0;
    for (const e of events.slice(0, -1)) {
      const c = JSON.parse(e.data);
      for (const tc of c.choices[0]?.delta?.tool_calls ?? []) {
        if (tc.id) {
          assert.equal(tc.type, "function");
          calls[tc.index] = { id: tc.id, name: tc.function.name, args: tc.function.arguments ?? "" };
        } else {
          assert.equal(tc.id, undefined);
          calls[tc.index].args += tc.function.arguments;
          frags++;
        }
      }
    }
    assert.ok(frags >= 3);
    assert.equal(calls[0].name, "get_weather");
    assert.deepEqual(JSON.parse(calls[0].args), WEATHER_ARGS);
    assert.equal(JSON.parse(events.at(-2).data).choices[0].finish_reason, "tool_calls");
  });

  test("tool result turn", async () => {
    const j = await (await post("/v1/chat/completions", oBody({
      tools,
      messages: [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{\"city\":\"Paris\"}" } }] },
        { role: "tool", tool_call_id: "call_1", content: "21C sunny" },
      ],
    }), O)).json();
    assert.equal(j.choices[0].finish_reason, "stop");
    assert.ok(j.choices[0].message.content.startsWith("Mock answer using tool result: 21C sunny"));
    assert.equal(j.usage.prompt_tokens, tok(cp(JSON.stringify(tools)) + cp("Weather?") + cp("{\"city\":\"Paris\"}") + cp("21C sunny")));
  });

  test("JSON output from response_format json_schema / json_object", async () => {
    const schema = { type: "object", properties: { title: { type: "string" }, score: { type: "number" }, extra: { type: "string" } }, required: ["title", "score"] };
    const j = await (await post("/v1/chat/completions", oBody({ response_format: { type: "json_schema", json_schema: { name: "x", schema, strict: true } } }), O)).json();
    const content = j.choices[0].message.content;
    assert.deepEqual(JSON.parse(content), { title: "mock", score: 1 });
    assert.equal(j.usage.completion_tokens, tok(cp(content)));
    const events = parseSse(await (await post("/v1/chat/completions", oBody({ stream: true, response_format: { type: "json_schema", json_schema: { name: "x", schema } } }), O)).text());
    const text = events.slice(0, -1).map((e) => JSON.parse(e.data).choices[0].delta.content ?? "").join("");
    assert.equal(text, content);
    const jo = await (await post("/v1/chat/completions", oBody({ response_format: { type: "json_object" } }), O)).json();
    assert.deepEqual(JSON.parse(jo.choices[0].message.content), { answer: "mock" });
  });

  test("implicit prompt caching: cached_tokens for a prefix seen before, included in prompt_tokens", async () => {
    const sys = unique("System prompt.") + " Lots of shared context. ".repeat(60);
    const body = (q) => oBody({ messages: [{ role: "system", content: sys }, { role: "user", content: q }] });
    const u1 = (await (await post("/v1/chat/completions", body("Q one?"), O)).json()).usage;
    assert.equal(u1.prompt_tokens_details.cached_tokens, 0);
    const u2 = (await (await post("/v1/chat/completions", body("A different question?"), O)).json()).usage;
    assert.equal(u2.prompt_tokens_details.cached_tokens, tok(cp(sys)));
    assert.equal(u2.prompt_tokens, tok(cp(sys) + cp("A different question?")));
    assert.ok(u2.prompt_tokens >= u2.prompt_tokens_details.cached_tokens);
  });

  test("auth errors and malformed JSON", async () => {
    const none = await post("/v1/chat/completions", oBody(), { "content-type": "application/json" });
    assert.equal(none.status, 401);
    const nj = await none.json();
    assert.equal(typeof nj.error.message, "string");
    assert.ok("type" in nj.error && "param" in nj.error && "code" in nj.error);
    const bad = await post("/v1/chat/completions", oBody(), { ...O, authorization: "Bearer invalid-key" });
    assert.equal(bad.status, 401);
    assert.equal((await bad.json()).error.code, "invalid_api_key");
    const mal = await post("/v1/chat/completions", "{nope", O);
    assert.equal(mal.status, 400);
    assert.equal((await mal.json()).error.type, "invalid_request_error");
  });

  test("GET /v1/models", async () => {
    const res = await fetch(mock.url + "/v1/models", { headers: O });
    const j = await res.json();
    assert.equal(j.object, "list");
    assert.ok(j.data.some((m) => m.id === "gpt-4o-mini" && m.object === "model"));
    assert.equal((await fetch(mock.url + "/v1/models")).status, 401);
  });
});

// ------------------------------------------------------------------ Gemini

describe("gemini", () => {
  test("generateContent JSON", async () => {
    const res = await post(G_GEN, gBody({ systemInstruction: { parts: [{ text: "Be brief." }] } }), G);
    assert.equal(res.status, 200);
    const j = await res.json();
    const c = j.candidates[0];
    assert.equal(c.content.role, "model");
    assert.equal(c.content.parts[0].text, expectedText("gemini", "gemini-2.5-flash", "Hello there mock"));
    assert.equal(c.finishReason, "STOP");
    assert.equal(j.usageMetadata.candidatesTokenCount, 24);
    assert.equal(j.usageMetadata.promptTokenCount, tok(cp("Be brief.") + cp("Hello there mock")));
    assert.equal(j.usageMetadata.totalTokenCount, j.usageMetadata.promptTokenCount + 24);
    assert.equal(j.modelVersion, "gemini-2.5-flash");
    assert.equal(typeof j.responseId, "string");
  });

  test("SSE: data-only CRLF chunks, cumulative usage, finishReason only on the last, no [DONE]", async () => {
    const res = await post(G_SSE, gBody(), G);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const raw = await res.text();
    assert.ok(!raw.includes("event:"));
    assert.ok(!raw.includes("[DONE]"));
    assert.ok(raw.includes("\r\n\r\n"));
    const chunks = parseSse(raw).map((e) => JSON.parse(e.data));
    assert.equal(chunks.length, 24);
    chunks.forEach((c, i) => {
      assert.equal(c.usageMetadata.candidatesTokenCount, i + 1);
      assert.equal("finishReason" in c.candidates[0], i === chunks.length - 1);
    });
    assert.equal(chunks.at(-1).candidates[0].finishReason, "STOP");
    assert.equal(chunks.map((c) => c.candidates[0].content.parts[0].text).join(""), expectedText("gemini", "gemini-2.5-flash", "Hello there mock"));
  });

  test("streamGenerateContent without alt=sse returns one JSON array", async () => {
    const res = await post("/v1beta/models/gemini-2.5-flash:streamGenerateContent", gBody({ generationConfig: { maxOutputTokens: 4 } }), G);
    assert.equal(res.headers.get("content-type"), "application/json");
    const arr = JSON.parse(await res.text());
    assert.ok(Array.isArray(arr));
    assert.equal(arr.length, 4);
    assert.equal(arr.at(-1).candidates[0].finishReason, "MAX_TOKENS");
    assert.equal(arr.at(-1).usageMetadata.candidatesTokenCount, 4);
  });

  test("function call (whole), NONE mode, function response turn, JSON mode", async () => {
    const tools = [{ functionDeclarations: [{ name: "get_weather", parameters: WEATHER_TOOL_SCHEMA }] }];
    const j = await (await post(G_GEN, gBody({ tools }), G)).json();
    const part = j.candidates[0].content.parts[0];
    assert.equal(part.functionCall.name, "get_weather");
    assert.deepEqual(part.functionCall.args, WEATHER_ARGS);
    assert.equal(j.candidates[0].finishReason, "STOP");
    const chunks = parseSse(await (await post(G_SSE, gBody({ tools }), G)).text()).map((e) => JSON.parse(e.data));
    assert.equal(chunks.length, 1);
    assert.deepEqual(chunks[0].candidates[0].content.parts[0].functionCall.args, WEATHER_ARGS);
    assert.equal(chunks[0].candidates[0].finishReason, "STOP");
    const none = await (await post(G_GEN, gBody({ tools, toolConfig: { functionCallingConfig: { mode: "NONE" } } }), G)).json();
    assert.equal(typeof none.candidates[0].content.parts[0].text, "string");
    const fr = await (await post(G_GEN, {
      tools,
      contents: [
        { role: "user", parts: [{ text: "Weather?" }] },
        { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
        { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { temp: 21 } } }] },
      ],
    }, G)).json();
    assert.ok(fr.candidates[0].content.parts[0].text.startsWith('Mock answer using tool result: {"temp":21}'));
    const schema = { type: "OBJECT", properties: { name: { type: "STRING" }, n: { type: "INTEGER" } }, required: ["name", "n"] };
    const js = await (await post(G_GEN, gBody({ generationConfig: { responseMimeType: "application/json", responseSchema: schema } }), G)).json();
    assert.deepEqual(JSON.parse(js.candidates[0].content.parts[0].text), { name: "mock", n: 1 });
  });

  test("implicit caching: cachedContentTokenCount on a repeated prefix", async () => {
    const sys = unique("Gemini system.") + " Shared. ".repeat(50);
    const body = (q) => ({
      systemInstruction: { parts: [{ text: sys }] },
      contents: [{ role: "user", parts: [{ text: "hi" }] }, { role: "model", parts: [{ text: "hello" }] }, { role: "user", parts: [{ text: q }] }],
    });
    const u1 = (await (await post(G_GEN, body("q1"), G)).json()).usageMetadata;
    assert.equal(u1.cachedContentTokenCount, undefined);
    const u2 = (await (await post(G_GEN, body("q2 longer"), G)).json()).usageMetadata;
    assert.equal(u2.cachedContentTokenCount, tok(cp(sys) + 2 + 5));
    assert.equal(u2.promptTokenCount, tok(cp(sys) + 2 + 5 + cp("q2 longer")));
  });

  test("auth via header or ?key=, missing -> 401 UNAUTHENTICATED", async () => {
    assert.equal((await post(G_GEN + "?key=abc", gBody(), { "content-type": "application/json" })).status, 200);
    const none = await post(G_GEN, gBody(), { "content-type": "application/json" });
    assert.equal(none.status, 401);
    const e = (await none.json()).error;
    assert.equal(e.code, 401);
    assert.equal(e.status, "UNAUTHENTICATED");
    const bad = await post(G_GEN, gBody(), { ...G, "x-goog-api-key": "invalid-key" });
    assert.equal(bad.status, 401);
    const mal = await post(G_GEN, "[[", G);
    assert.equal(mal.status, 400);
    assert.equal((await mal.json()).error.status, "INVALID_ARGUMENT");
  });
});

// ------------------------------------------------------------------ scripted behaviours

describe("behaviours", () => {
  test("status errors with retry headers in each provider's format", async () => {
    const a = await post("/v1/messages", aBody(), { ...A, ...behave({ status: 529, retryAfter: 3 }) });
    assert.equal(a.status, 529);
    assert.equal(a.headers.get("retry-after"), "3");
    const ab = await a.json();
    assert.deepEqual(ab.error, { type: "overloaded_error", message: "Overloaded" });
    assert.equal(ab.type, "error");
    assert.equal(ab.request_id, a.headers.get("request-id"));

    const o = await post("/v1/chat/completions", oBody(), { ...O, ...behave({ status: 429, errorType: "insufficient_quota", retryAfterMs: 1500 }) });
    assert.equal(o.status, 429);
    assert.equal(o.headers.get("retry-after-ms"), "1500");
    const oe = (await o.json()).error;
    assert.equal(oe.code, "insufficient_quota");
    assert.equal(oe.type, "insufficient_quota");
    assert.equal(oe.param, null);
    const o2 = (await (await post("/v1/chat/completions", oBody(), { ...O, ...behave({ status: 429 }) })).json()).error;
    assert.equal(o2.code, "rate_limit_exceeded");
    const o3 = (await (await post("/v1/chat/completions", oBody(), { ...O, ...behave({ status: 503, message: "busy" }) })).json()).error;
    assert.equal(o3.type, "server_error");
    assert.equal(o3.message, "busy");

    const g = await post(G_GEN, gBody(), { ...G, ...behave({ status: 429, retryAfter: 32 }) });
    assert.equal(g.status, 429);
    assert.equal(g.headers.get("retry-after"), "32");
    const ge = (await g.json()).error;
    assert.equal(ge.code, 429);
    assert.equal(ge.status, "RESOURCE_EXHAUSTED");
    assert.ok(ge.details.some((d) => d["@type"] === "type.googleapis.com/google.rpc.RetryInfo" && d.retryDelay === "32s"));
    const g5 = (await (await post(G_GEN, gBody(), { ...G, ...behave({ status: 503 }) })).json()).error;
    assert.equal(g5.status, "UNAVAILABLE");
  });

  test("headersDelayMs delays the response headers", async () => {
    const t0 = Date.now();
    const res = await post("/v1/chat/completions", oBody(), { ...O, ...behave({ headersDelayMs: 200 }) });
    assert.ok(Date.now() - t0 >= 180, `took ${Date.now() - t0} ms`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  });

  test("chunkDelayMs spaces chunks, and each chunk is flushed on its own", async () => {
    const t0 = Date.now();
    const res = await post("/v1/chat/completions", oBody({ stream: true }), { ...O, ...behave({ chunkDelayMs: 40, words: 3 }) });
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    const first = dec.decode((await reader.read()).value);
    const tFirst = Date.now() - t0;
    let rest = "";
    for (;;) { const { value, done } = await reader.read(); if (done) break; rest += dec.decode(value); }
    const total = Date.now() - t0;
    const events = parseSse(first + rest);
    assert.equal(events.length, 6); // role, 3 words, finish, [DONE]
    assert.ok(total >= 5 * 40 - 15, `took ${total} ms`);
    assert.ok(tFirst < total - 100, `first chunk at ${tFirst} ms of ${total} ms`);
  });

  test("cutAfterChunks ends cleanly without the terminal marker", async () => {
    const a = parseSse(await (await post("/v1/messages", aBody({ stream: true }), { ...A, ...behave({ cutAfterChunks: 4 }, unique("cut-a")) })).text());
    assert.deepEqual(a.map((e) => e.event), ["message_start", "content_block_start", "ping", "content_block_delta"]);
    const rec = mock.requests({ provider: "anthropic" }).at(-1);
    assert.equal(rec.outcome, "cut");
    assert.equal(rec.chunksSent, 4);
    const o = parseSse(await (await post("/v1/chat/completions", oBody({ stream: true }), { ...O, ...behave({ cutAfterChunks: 3 }) })).text());
    assert.equal(o.length, 3);
    assert.ok(o.every((e) => e.data !== "[DONE]"));
    // N beyond the stream: everything except the terminal marker
    const aAll = parseSse(await (await post("/v1/messages", aBody({ stream: true, max_tokens: 3 }), { ...A, ...behave({ cutAfterChunks: 1000 }) })).text());
    assert.deepEqual(aAll.map((e) => e.event).slice(-2), ["content_block_stop", "message_delta"]);
    const oAll = parseSse(await (await post("/v1/chat/completions", oBody({ stream: true, stream_options: { include_usage: true } }), { ...O, ...behave({ cutAfterChunks: 1000 }) })).text());
    assert.deepEqual(JSON.parse(oAll.at(-1).data).choices, []);
    assert.ok(oAll.every((e) => e.data !== "[DONE]"));
    const g = parseSse(await (await post(G_SSE, gBody(), { ...G, ...behave({ cutAfterChunks: 1000 }) })).text()).map((e) => JSON.parse(e.data));
    assert.equal(g.length, 24);
    assert.ok(g.every((c) => !("finishReason" in c.candidates[0])));
    // non-streaming: half a body
    const half = await (await post("/v1/chat/completions", oBody(), { ...O, ...behave({ cutAfterChunks: 0 }) })).text();
    assert.equal(tryJson(half), undefined);
    assert.equal(mock.requests({ provider: "openai" }).at(-1).outcome, "cut");
  });

  test("stallAfterChunks + client abort -> recorded client-closed", async () => {
    const scenario = unique("stall");
    const ac = new AbortController();
    const res = await post("/v1/messages", aBody({ stream: true }), { ...A, ...behave({ stallAfterChunks: 2 }, scenario) }, ac.signal);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = "";
    while (parseSse(text).length < 2) text += dec.decode((await reader.read()).value);
    const more = reader.read().then(() => "data", () => "aborted");
    assert.equal(await Promise.race([more, sleep(150).then(() => "silent")]), "silent");
    await waitFor(() => mock.requests({ scenario })[0]?.outcome === "stalled");
    ac.abort();
    await more;
    const rec = await waitFor(() => mock.requests({ scenario }).find((r) => r.outcome === "client-closed"));
    assert.equal(rec.chunksSent, 2);
    assert.deepEqual(parseSse(text).map((e) => e.event), ["message_start", "content_block_start"]);
  });

  test("client abort of a slow stream is recorded as client-closed", async () => {
    const scenario = unique("abort");
    const ac = new AbortController();
    const res = await post(G_SSE, gBody(), { ...G, ...behave({ chunkDelayMs: 50 }, scenario) }, ac.signal);
    const reader = res.body.getReader();
    await reader.read();
    ac.abort();
    await reader.read().catch(() => {});
    const rec = await waitFor(() => mock.requests({ scenario }).find((r) => r.outcome === "client-closed"));
    assert.ok(rec.chunksSent < 24);
  });

  test("malformedAfterChunks inserts one invalid chunk and continues", async () => {
    const a = parseSse(await (await post("/v1/messages", aBody({ stream: true, max_tokens: 5 }), { ...A, ...behave({ malformedAfterChunks: 3 }) })).text());
    const invalid = a.map((e, i) => [i, tryJson(e.data)]).filter(([, v]) => v === undefined).map(([i]) => i);
    assert.deepEqual(invalid, [3]);
    assert.equal(a.at(-1).event, "message_stop");
    const o = parseSse(await (await post("/v1/chat/completions", oBody({ stream: true }), { ...O, ...behave({ malformedAfterChunks: 2 }) })).text());
    assert.equal(o.filter((e) => e.data !== "[DONE]" && tryJson(e.data) === undefined).length, 1);
    assert.equal(o.at(-1).data, "[DONE]");
    const g = parseSse(await (await post(G_SSE, gBody(), { ...G, ...behave({ malformedAfterChunks: 5 }) })).text());
    assert.equal(g.filter((e) => tryJson(e.data) === undefined).length, 1);
    assert.equal(JSON.parse(g.at(-1).data).candidates[0].finishReason, "STOP");
  });

  test("streamErrorAfterChunks sends the provider's in-stream error and ends", async () => {
    const a = parseSse(await (await post("/v1/messages", aBody({ stream: true }), { ...A, ...behave({ streamErrorAfterChunks: 4 }) })).text());
    assert.equal(a.length, 5);
    assert.equal(a.at(-1).event, "error");
    assert.deepEqual(JSON.parse(a.at(-1).data), { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    assert.ok(!a.some((e) => e.event === "message_stop"));
    assert.equal(mock.requests({ provider: "anthropic" }).at(-1).outcome, "error");
    const o = parseSse(await (await post("/v1/chat/completions", oBody({ stream: true }), { ...O, ...behave({ streamErrorAfterChunks: 2 }) })).text());
    assert.equal(o.length, 3);
    const oe = JSON.parse(o.at(-1).data);
    assert.equal(typeof oe.error.message, "string");
    assert.ok(!o.some((e) => e.data === "[DONE]"));
    const g = parseSse(await (await post(G_SSE, gBody(), { ...G, ...behave({ streamErrorAfterChunks: 2 }) })).text());
    assert.equal(g.length, 3);
    assert.equal(JSON.parse(g.at(-1).data).error.code, 500);
    assert.ok(!g.some((e) => tryJson(e.data)?.candidates?.[0]?.finishReason));
  });

  test("answer overrides: words, text, json, usage, forced cache numbers", async () => {
    const w = await (await post("/v1/messages", aBody(), { ...A, ...behave({ words: 7 }) })).json();
    assert.equal(w.usage.output_tokens, 7);
    assert.equal(w.content[0].text.split(" ").length, 7);
    const t = await (await post("/v1/chat/completions", oBody(), { ...O, ...behave({ text: "Hello,  world!\nBye" }) })).json();
    assert.equal(t.choices[0].message.content, "Hello,  world!\nBye");
    assert.equal(t.usage.completion_tokens, 3);
    const raw = '{"title": "unterminated';
    const j = await (await post("/v1/chat/completions", oBody({ response_format: { type: "json_object" } }), { ...O, ...behave({ json: raw }) })).json();
    assert.equal(j.choices[0].message.content, raw);
    const tool = [{ name: "extract", input_schema: { type: "object", properties: { a: { type: "string" } }, required: ["a"] } }];
    const ev = parseSse(await (await post("/v1/messages", aBody({ stream: true, tools: tool, tool_choice: { type: "tool", name: "extract" } }), { ...A, ...behave({ json: { a: "forced", b: [1, 2] } }) })).text());
    const joined = ev.filter((e) => e.event === "content_block_delta").map((e) => JSON.parse(e.data).delta.partial_json).join("");
    assert.deepEqual(JSON.parse(joined), { a: "forced", b: [1, 2] });
    const u = await (await post("/v1/messages", aBody(), { ...A, ...behave({ usage: { output_tokens: 999 } }) })).json();
    assert.equal(u.usage.output_tokens, 999);
    const c = await (await post("/v1/chat/completions", oBody(), { ...O, ...behave({ cacheReadTokens: 50 }) })).json();
    assert.equal(c.usage.prompt_tokens_details.cached_tokens, 50);
    const ca = await (await post("/v1/messages", aBody({ messages: [{ role: "user", content: "x".repeat(400) }] }), { ...A, ...behave({ cacheReadTokens: 60, cacheWriteTokens: 20 }) })).json();
    assert.deepEqual([ca.usage.cache_read_input_tokens, ca.usage.cache_creation_input_tokens, ca.usage.input_tokens], [60, 20, 20]);
  });

  test("x-mock-behavior array: sequence across attempts grouped by x-mock-scenario", async () => {
    const seq = [{ status: 503 }, { status: 429, errorType: "rate_limit_exceeded" }, {}];
    const scenario = unique("seq");
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const res = await post("/v1/chat/completions", oBody(), { ...O, ...behave(seq, scenario) });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [503, 429, 200, 200]);
    const recs = mock.requests({ scenario });
    assert.deepEqual(recs.map((r) => r.attempt), [1, 2, 3, 4]);
    const noScenario = await post("/v1/chat/completions", oBody(), { ...O, ...behave(seq) });
    assert.equal(noScenario.status, 503);
    await noScenario.arrayBuffer();
    const bad = await post("/v1/chat/completions", oBody(), { ...O, "x-mock-behavior": "{not json" });
    assert.equal(bad.status, 400);
    await bad.arrayBuffer();
  });

  test("script queue: match, order, times, sticky, DELETE, header wins", async () => {
    const script = async (s) => {
      const res = await post("/__mock/script", s, { "content-type": "application/json" });
      return [res.status, await res.json()];
    };
    const status = async (p, b, h) => { const r = await post(p, b, h); await r.arrayBuffer(); return r.status; };
    const [st, out] = await script({ match: { provider: "openai" }, behaviors: [{ status: 500 }, { status: 429, errorType: "insufficient_quota" }] });
    assert.equal(st, 200);
    assert.equal(out.queued, 1);
    assert.equal(await status("/v1/messages", aBody(), A), 200); // other provider unaffected
    const r1 = await post("/v1/chat/completions", oBody(), O);
    assert.equal(r1.status, 500);
    await r1.arrayBuffer();
    const r2 = await post("/v1/chat/completions", oBody(), O);
    assert.equal(r2.status, 429);
    assert.equal((await r2.json()).error.code, "insufficient_quota");
    assert.equal(await status("/v1/chat/completions", oBody(), O), 200);

    await script({ match: { provider: "gemini" }, behaviors: [{ status: 503 }], times: 2 });
    await script({ match: { provider: "gemini" }, behaviors: [{ status: 500 }] });
    const gs = [];
    for (let i = 0; i < 4; i++) gs.push(await status(G_GEN, gBody(), G));
    assert.deepEqual(gs, [503, 503, 500, 200]);

    await script({ match: { model: "gpt-4o-mini", path: "/v1/chat/completions" }, behaviors: [{ status: 503 }], sticky: true });
    assert.equal(await status("/v1/chat/completions", oBody({ model: "gpt-4o" }), O), 200);
    for (let i = 0; i < 3; i++) assert.equal(await status("/v1/chat/completions", oBody(), O), 503);
    assert.equal(await status("/v1/chat/completions", oBody(), { ...O, ...behave({}) }), 200); // header first
    const del = await fetch(mock.url + "/__mock/script", { method: "DELETE" });
    assert.equal((await del.json()).cleared, 1);
    assert.equal(await status("/v1/chat/completions", oBody(), O), 200);
    const [badSt] = await script({ match: { provider: "nope" }, behaviors: [{}] });
    assert.equal(badSt, 400);
    const [badSt2] = await script({ behaviors: [] });
    assert.equal(badSt2, 400);
  });

  test("model-name behaviours: -mock-fail-{status} and -mock-slow-{ms}", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await post("/v1/chat/completions", oBody({ model: "gpt-4o-mini-mock-fail-503" }), O);
      assert.equal(r.status, 503);
      assert.equal((await r.json()).error.type, "server_error");
    }
    const a = await post("/v1/messages", aBody({ model: "claude-haiku-4-5-mock-fail-529" }), A);
    assert.equal(a.status, 529);
    assert.equal((await a.json()).error.type, "overloaded_error");
    const g = await post("/v1beta/models/gemini-2.5-flash-mock-fail-429:generateContent", gBody(), G);
    assert.equal(g.status, 429);
    assert.equal((await g.json()).error.status, "RESOURCE_EXHAUSTED");
    const t0 = Date.now();
    const s = await post("/v1/chat/completions", oBody({ model: "gpt-4o-mini-mock-slow-30", stream: true }), { ...O, ...behave({ words: 3 }) });
    await s.text();
    assert.ok(Date.now() - t0 < 100, "header behaviour wins over the model name");
    const t1 = Date.now();
    await (await post("/v1/chat/completions", oBody({ model: "gpt-4o-mini-mock-slow-30", stream: true, max_completion_tokens: 3 }), O)).text();
    assert.ok(Date.now() - t1 >= 5 * 30 - 15, `took ${Date.now() - t1} ms`);
    assert.deepEqual(mock.requests({ model: "gpt-4o-mini-mock-slow-30" }).at(-1).behavior, { chunkDelayMs: 30 });
  });
});

// ------------------------------------------------------------------ recording, control, CORS

describe("recording and control", () => {
  test("requests are recorded with the documented fields and filters", async () => {
    const scenario = unique("rec");
    await (await post("/v1/messages", aBody(), { ...A, "x-mock-scenario": scenario, "X-Custom": "Yes" })).arrayBuffer();
    await fetch(mock.url + "/__mock/health");
    const list = await (await fetch(`${mock.url}/__mock/requests?scenario=${scenario}`)).json();
    assert.equal(list.length, 1);
    const r = list[0];
    for (const k of ["seq", "time", "method", "path", "query", "headers", "body", "provider", "model", "behavior", "outcome", "chunksSent"]) assert.ok(k in r, k);
    assert.equal(r.method, "POST");
    assert.equal(r.path, "/v1/messages");
    assert.equal(r.provider, "anthropic");
    assert.equal(r.model, "claude-haiku-4-5");
    assert.equal(r.headers["x-custom"], "Yes");
    assert.deepEqual(r.body, aBody());
    assert.equal(r.behavior, null);
    assert.equal(r.outcome, "completed");
    assert.ok(!mock.requests().some((x) => x.path.startsWith("/__mock")));
    const byProvider = await (await fetch(`${mock.url}/__mock/requests?provider=gemini`)).json();
    assert.ok(byProvider.length > 0 && byProvider.every((x) => x.provider === "gemini"));
    const g = mock.requests({ provider: "gemini" }).at(-1);
    assert.equal(typeof g.query, "object");
    const rawRes = await post("/v1/messages", "not json at all", A);
    await rawRes.arrayBuffer();
    const rawRec = mock.requests().at(-1);
    assert.equal(rawRec.body, "not json at all");
    assert.equal(rawRec.outcome, "error");
    const del = await fetch(mock.url + "/__mock/requests", { method: "DELETE" });
    assert.equal(del.status, 200);
    assert.deepEqual(await (await fetch(mock.url + "/__mock/requests")).json(), []);
    assert.equal(mock.requests().length, 0);
  });

  test("unknown paths answer 404 JSON", async () => {
    const r = await fetch(mock.url + "/v1/nope", { headers: O });
    assert.equal(r.status, 404);
    assert.equal(typeof (await r.json()).error.message, "string");
    const c = await fetch(mock.url + "/__mock/nope");
    assert.equal(c.status, 404);
    await c.arrayBuffer();
  });

  test("CORS on control endpoints, including preflight", async () => {
    const pre = await fetch(mock.url + "/__mock/script", {
      method: "OPTIONS",
      headers: { origin: "http://demo.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "*");
    assert.match(pre.headers.get("access-control-allow-methods"), /POST/);
    assert.match(pre.headers.get("access-control-allow-methods"), /DELETE/);
    assert.match(pre.headers.get("access-control-allow-headers"), /content-type/);
    const h = await fetch(mock.url + "/__mock/health", { headers: { origin: "http://demo.example" } });
    assert.equal(h.headers.get("access-control-allow-origin"), "*");
    assert.equal((await h.json()).ok, true);
    const d = await fetch(mock.url + "/__mock/script", { method: "DELETE" });
    assert.equal(d.headers.get("access-control-allow-origin"), "*");
    await d.arrayBuffer();
  });
});

// ------------------------------------------------------------------ batches

describe("batches", () => {
  test("Anthropic Message Batches end to end", async () => {
    const params = aBody({ max_tokens: 10 });
    const create = await post("/v1/messages/batches", {
      requests: [
        { custom_id: "ok-1", params },
        { custom_id: "fail-1", params: { ...params, model: "claude-haiku-4-5-mock-fail-500" } },
        { custom_id: "bad-1", params: { model: "claude-haiku-4-5", messages: [] } },
      ],
    }, A);
    assert.equal(create.status, 200);
    const b = await create.json();
    assert.equal(b.type, "message_batch");
    assert.equal(b.processing_status, "in_progress");
    assert.equal(b.results_url, null);
    const get = async () => (await fetch(`${mock.url}/v1/messages/batches/${b.id}`, { headers: A })).json();
    const early = await fetch(`${mock.url}/v1/messages/batches/${b.id}/results`, { headers: A });
    assert.equal(early.status, 404);
    await early.arrayBuffer();
    assert.equal((await get()).processing_status, "in_progress");
    const ended = await get();
    assert.equal(ended.processing_status, "ended");
    assert.deepEqual(ended.request_counts, { processing: 0, succeeded: 1, errored: 2, canceled: 0, expired: 0 });
    assert.equal(ended.results_url, `${mock.url}/v1/messages/batches/${b.id}/results`);
    const lines = (await (await fetch(ended.results_url, { headers: A })).text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.custom_id), ["ok-1", "fail-1", "bad-1"]);
    assert.equal(lines[0].result.type, "succeeded");
    assert.equal(lines[0].result.message.content[0].text, expectedText("anthropic", "claude-haiku-4-5", "Hello there mock", 10));
    assert.equal(lines[0].result.message.stop_reason, "max_tokens");
    assert.equal(lines[0].result.message.usage.output_tokens, 10);
    assert.equal(lines[1].result.type, "errored");
    assert.equal(lines[1].result.error.error.type, "api_error");
    assert.equal(lines[2].result.error.error.type, "invalid_request_error");
    assert.equal((await fetch(`${mock.url}/v1/messages/batches/msgbatch_nope`, { headers: A })).status, 404);
  });

  test("OpenAI Files + Batch end to end (multipart upload)", async () => {
    const lines = [
      { custom_id: "a", method: "POST", url: "/v1/chat/completions", body: oBody({ max_completion_tokens: 5 }) },
      { custom_id: "b", method: "POST", url: "/v1/chat/completions", body: oBody({ model: "gpt-4o-mini-mock-fail-500" }) },
    ];
    const jsonl = lines.map((l) => JSON.stringify(l)).join("\n") + "\n";
    const form = new FormData();
    form.append("purpose", "batch");
    form.append("file", new Blob([jsonl], { type: "application/jsonl" }), "batch.jsonl");
    const up = await fetch(mock.url + "/v1/files", { method: "POST", headers: { authorization: "Bearer k" }, body: form });
    assert.equal(up.status, 200);
    const file = await up.json();
    assert.equal(file.object, "file");
    assert.equal(file.purpose, "batch");
    assert.equal(file.filename, "batch.jsonl");
    assert.equal(file.bytes, Buffer.byteLength(jsonl));
    assert.equal(await (await fetch(`${mock.url}/v1/files/${file.id}/content`, { headers: O })).text(), jsonl);

    const cr = await post("/v1/batches", { input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" }, O);
    assert.equal(cr.status, 200);
    const batch = await cr.json();
    assert.equal(batch.object, "batch");
    assert.equal(batch.status, "validating");
    const get = async () => (await fetch(`${mock.url}/v1/batches/${batch.id}`, { headers: O })).json();
    assert.equal((await get()).status, "in_progress");
    const done = await get();
    assert.equal(done.status, "completed");
    assert.deepEqual(done.request_counts, { total: 2, completed: 1, failed: 1 });
    const out = (await (await fetch(`${mock.url}/v1/files/${done.output_file_id}/content`, { headers: O })).text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(out.length, 1);
    assert.equal(out[0].custom_id, "a");
    assert.equal(out[0].response.status_code, 200);
    assert.equal(out[0].response.body.choices[0].message.content, expectedText("openai", "gpt-4o-mini", "Hello there mock", 5));
    assert.equal(out[0].response.body.choices[0].finish_reason, "length");
    const err = (await (await fetch(`${mock.url}/v1/files/${done.error_file_id}/content`, { headers: O })).text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(err[0].custom_id, "b");
    assert.equal(err[0].response.status_code, 500);
    // missing purpose -> 400; unknown input file -> 404
    const f2 = new FormData();
    f2.append("file", new Blob([jsonl]), "x.jsonl");
    assert.equal((await fetch(mock.url + "/v1/files", { method: "POST", headers: O.authorization ? { authorization: O.authorization } : {}, body: f2 })).status, 400);
    assert.equal((await post("/v1/batches", { input_file_id: "file-nope", endpoint: "/v1/chat/completions", completion_window: "24h" }, O)).status, 404);
  });
});

// ------------------------------------------------------------------ CLI

test("CLI: prints one line, serves, exits cleanly on SIGTERM", async () => {
  const serverPath = fileURLToPath(new URL("./server.mjs", import.meta.url));
  const child = spawn(process.execPath, [serverPath, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8");
  const line = await new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => { out += d; if (out.includes("\n")) resolve(out.split("\n")[0]); });
    child.once("exit", (code) => reject(new Error(`exited early with ${code}`)));
  });
  const m = /^mock provider listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
  assert.ok(m, line);
  const health = await (await fetch(m[1] + "/__mock/health")).json();
  assert.equal(health.ok, true);
  // a stalled stream must not keep the process alive
  const ac = new AbortController();
  const res = await fetch(m[1] + "/v1/chat/completions", {
    method: "POST", signal: ac.signal, headers: { ...O, ...behave({ stallAfterChunks: 1 }) }, body: JSON.stringify(oBody({ stream: true })),
  });
  assert.equal(res.status, 200);
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.kill("SIGTERM");
  assert.deepEqual(await exited, { code: 0, signal: null });
  ac.abort();
  assert.equal(out, line + "\n");
});
