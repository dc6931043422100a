// Structured output and input hygiene through the built Worker proxy, called by the official
// `openai` and `@anthropic-ai/sdk` clients (and plain fetch for the Gemini route), against the
// mock provider. The mock generates a JSON answer from the schema it is sent; a queued script
// (`behaviors: [{ json: first }, { json: second }]`, matched by model) replaces the first and
// second answers, so a test chooses whether the answer is valid, repaired or invalid.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import Anthropic from "@anthropic-ai/sdk";
import { recordingFetch, startProxy } from "./harness.mjs";

const SCHEMA = {
  type: "object",
  properties: { city: { type: "string" }, celsius: { type: "integer" } },
  required: ["city", "celsius"],
  additionalProperties: false,
};
const ASK = "Weather in Paris as JSON";
// Upstream model names (what the mock matches scripts on).
const UPSTREAM = { openai: "gpt-4o-mini", anthropic: "claude-haiku-4-5", gemini: "gemini-2.5-flash" };

let proxy;
let openai;
let anthropic;

before(async () => {
  proxy = await startProxy({ MAX_INPUT_CHARS: "200" });
  const common = { maxRetries: 0, fetch: recordingFetch };
  openai = new OpenAI({ apiKey: "client-token-main", baseURL: `${proxy.url}/v1`, ...common });
  anthropic = new Anthropic({ apiKey: "client-token-main", baseURL: proxy.url, ...common });
});

after(async () => {
  await proxy?.stop();
});

/** Scripts the next two answers of `provider`'s model and returns a reader of its requests. */
function script(provider, ...answers) {
  const since = proxy.mock.requests().length;
  if (answers.length > 0) {
    proxy.mock.addScript({ match: { model: UPSTREAM[provider] }, behaviors: answers.map((json) => ({ json })) });
  }
  return () => proxy.mock.requests().slice(since).filter((r) => r.model === UPSTREAM[provider] && r.path !== "/__mock/script");
}

const openaiFormat = { type: "json_schema", json_schema: { name: "weather", schema: SCHEMA, strict: true } };

function openaiStructured() {
  return openai.chat.completions
    .create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: ASK }], response_format: openaiFormat, max_tokens: 200 })
    .withResponse();
}

function anthropicStructured() {
  return anthropic.messages.create({
    model: "anthropic/claude-haiku-4-5",
    max_tokens: 200,
    messages: [{ role: "user", content: ASK }],
    output_format: { type: "json_schema", schema: SCHEMA },
  });
}

function geminiStructured(path = "generateContent") {
  return recordingFetch(`${proxy.url}/v1beta/models/gemini-2.5-flash:${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "client-token-main" },
    body: JSON.stringify({
      contents: [{ role: "user", parts: [{ text: ASK }] }],
      generationConfig: { responseMimeType: "application/json", responseJsonSchema: SCHEMA },
    }),
  });
}

/** The usage records the proxy logged after `since` (a length of `proxy.logs()`), waiting for one. */
async function loggedRecords(since, matching) {
  for (let i = 0; i < 50; i++) {
    const records = proxy
      .logs()
      .slice(since)
      .split("\n")
      .filter((line) => line.includes('"outcome"'))
      .map((line) => JSON.parse(line.slice(line.indexOf("{"))))
      .filter(matching);
    if (records.length > 0) return records;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return [];
}

/** The mock's token counts: ceil(characters / 4) in, a JSON document's 4-character slices out. */
const tokens = (text) => Math.ceil([...text].length / 4);

test("openai SDK: a JSON-schema answer that matches passes through in one call", async () => {
  const seen = script("openai");
  const { data, response } = await openaiStructured();
  assert.deepEqual(JSON.parse(data.choices[0].message.content), { city: "mock", celsius: 1 });
  assert.equal(response.headers.get("x-llm-edge-attempts"), "1");
  assert.equal(seen().length, 1);
});

test("openai SDK: a mismatch is repaired once, and both calls are billed", async () => {
  const first = { city: "Paris", celsius: "warm" };
  const second = { city: "Paris", celsius: 18 };
  const seen = script("openai", first, second);
  const { data, response } = await openaiStructured();
  assert.deepEqual(JSON.parse(data.choices[0].message.content), second);
  const upstream = seen();
  assert.equal(upstream.length, 2);
  const repair = upstream[1].body.messages;
  assert.equal(repair.at(-2).role, "assistant");
  assert.deepEqual(JSON.parse(repair.at(-2).content), first);
  assert.match(repair.at(-1).content, /does not match the required JSON schema/);
  assert.match(repair.at(-1).content, /\/celsius/);
  assert.equal(response.headers.get("x-llm-edge-attempts"), "2");
  // gpt-4o-mini: $0.15 in / $0.60 out per MTok. Call 1: the question in, the first document out;
  // call 2: question + first document + repair prompt in (its usage is the response's).
  const call1 = tokens(ASK) * 0.15 + tokens(JSON.stringify(first)) * 0.6;
  assert.equal(data.usage.prompt_tokens, tokens(ASK + JSON.stringify(first) + repair.at(-1).content));
  const call2 = data.usage.prompt_tokens * 0.15 + data.usage.completion_tokens * 0.6;
  const billed = Number(response.headers.get("x-llm-edge-cost-usd"));
  assert.ok(Math.abs(billed - (call1 + call2) / 1e6) < 1e-12, `billed ${billed}, expected ${(call1 + call2) / 1e6}`);
});

test("openai SDK: two mismatches are a 502 invalid_output carrying the raw text, not retried", async () => {
  const seen = script("openai", "not json {", { city: "Paris" });
  await assert.rejects(openaiStructured(), (error) => {
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 502);
    assert.equal(error.code, "invalid_output");
    assert.equal(error.type, "server_error");
    assert.deepEqual(JSON.parse(error.error.raw_output), { city: "Paris" });
    assert.match(error.message, /celsius/);
    assert.equal(error.headers.get("x-should-retry"), "false");
    return true;
  });
  assert.equal(seen().length, 2);
});

test("anthropic SDK: output_format answers are validated, repaired, or invalid_output", async () => {
  let seen = script("anthropic");
  const valid = await anthropicStructured();
  assert.deepEqual(JSON.parse(valid.content[0].text), { city: "mock", celsius: 1 });
  assert.equal(seen().length, 1);

  seen = script("anthropic", { city: "Paris", celsius: "warm" }, { city: "Paris", celsius: 18 });
  const repaired = await anthropicStructured();
  assert.deepEqual(JSON.parse(repaired.content[0].text), { city: "Paris", celsius: 18 });
  assert.equal(seen().length, 2);

  seen = script("anthropic", "not json {", { city: "Paris" });
  await assert.rejects(anthropicStructured(), (error) => {
    assert.ok(error instanceof Anthropic.APIError);
    assert.equal(error.status, 502);
    assert.equal(error.error.type, "error");
    assert.equal(error.error.error.type, "api_error");
    assert.deepEqual(JSON.parse(error.error.error.raw_output), { city: "Paris" });
    return true;
  });
  assert.equal(seen().length, 2);
});

test("gemini route: responseJsonSchema answers are repaired, or a 500 INTERNAL with rawOutput", async () => {
  let seen = script("gemini", { city: "Paris", celsius: "warm" }, { city: "Paris", celsius: 18 });
  const repaired = await geminiStructured();
  assert.equal(repaired.status, 200);
  const body = await repaired.json();
  assert.deepEqual(JSON.parse(body.candidates[0].content.parts[0].text), { city: "Paris", celsius: 18 });
  assert.equal(seen().length, 2);

  seen = script("gemini", { city: "Paris", celsius: "warm" }, { celsius: 3 });
  const invalid = await geminiStructured();
  assert.equal(invalid.status, 500);
  const error = (await invalid.json()).error;
  assert.equal(error.status, "INTERNAL");
  assert.deepEqual(JSON.parse(error.rawOutput), { celsius: 3 });
  assert.match(error.message, /city/);
  assert.equal(seen().length, 2);
});

test("openai SDK stream: a matching JSON-schema stream ends normally", async () => {
  script("openai", { city: "Paris", celsius: 18 });
  const stream = await openai.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: ASK }],
    response_format: openaiFormat,
    stream: true,
  });
  let text = "";
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.deepEqual(JSON.parse(text), { city: "Paris", celsius: 18 });
  assert.equal(finish, "stop");
});

test("openai SDK stream: a mismatch ends the SSE stream with the route's invalid_output error", async () => {
  const seen = script("openai", { city: "Paris" });
  const logged = proxy.logs().length;
  const stream = await openai.chat.completions.create({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: ASK }],
    response_format: openaiFormat,
    stream: true,
  });
  let text = "";
  await assert.rejects(
    (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    })(),
    (error) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.error.code, "invalid_output");
      assert.equal(error.error.raw_output, text);
      assert.match(error.message, /celsius/);
      return true;
    },
  );
  assert.deepEqual(JSON.parse(text), { city: "Paris" }, "the text was delivered first");
  assert.equal(seen().length, 1, "a stream is not repaired");
  // Billed from the complete usage it reported, not estimated from the text.
  const [record] = await loggedRecords(logged, (r) => r.outcome === "invalid_output");
  assert.ok(record, "the usage record was logged");
  assert.equal(record.cost.estimated, false);
  assert.equal(record.usage.outputTokens, tokens(JSON.stringify({ city: "Paris" })));
  assert.ok(record.cost.pico > 0);
});

test("anthropic SDK stream: a mismatch ends the stream with an error event carrying the raw text", async () => {
  script("anthropic", { city: "Paris" });
  const stream = anthropic.messages.stream({
    model: "anthropic/claude-haiku-4-5",
    max_tokens: 200,
    messages: [{ role: "user", content: ASK }],
    output_format: { type: "json_schema", schema: SCHEMA },
  });
  let text = "";
  stream.on("text", (delta) => (text += delta));
  await assert.rejects(stream.finalMessage(), (error) => {
    assert.ok(error instanceof Anthropic.APIError);
    assert.equal(error.error.error.type, "api_error");
    assert.equal(error.error.error.raw_output, text);
    return true;
  });
  assert.deepEqual(JSON.parse(text), { city: "Paris" });
});

/** The `data:` payloads of a Gemini SSE body (the route ends events with CRLF CRLF, as Google does). */
function geminiEvents(body) {
  return body
    .split(/\r?\n\r?\n/)
    .filter((block) => block.startsWith("data: "))
    .map((block) => JSON.parse(block.slice(6)));
}

test("gemini route stream: a match ends with STOP, a mismatch with an INTERNAL error event carrying the raw text", async () => {
  script("gemini", { city: "Paris", celsius: 18 });
  const ok = await geminiStructured("streamGenerateContent?alt=sse");
  assert.equal(ok.status, 200);
  const okEvents = geminiEvents(await ok.text());
  const okText = okEvents.map((e) => e.candidates?.[0]?.content?.parts?.map((p) => p.text ?? "").join("") ?? "").join("");
  assert.deepEqual(JSON.parse(okText), { city: "Paris", celsius: 18 });
  assert.equal(okEvents.at(-1).candidates[0].finishReason, "STOP");
  assert.ok(!okEvents.some((e) => e.error));

  const seen = script("gemini", { city: "Paris" });
  const bad = await geminiStructured("streamGenerateContent?alt=sse");
  assert.equal(bad.status, 200, "the text went out before the answer could be checked");
  const events = geminiEvents(await bad.text());
  const text = events.map((e) => e.candidates?.[0]?.content?.parts?.map((p) => p.text ?? "").join("") ?? "").join("");
  assert.deepEqual(JSON.parse(text), { city: "Paris" }, "the text was delivered first");
  const last = events.at(-1);
  assert.equal(last.error?.status, "INTERNAL", JSON.stringify(last));
  assert.equal(last.error.rawOutput, text);
  assert.match(last.error.message, /celsius/);
  assert.ok(!events.some((e) => e.candidates?.[0]?.finishReason), "no clean finish before the error");
  assert.equal(seen().length, 1, "a stream is not repaired");
});

const post = (path, body, headers) =>
  recordingFetch(`${proxy.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

test("hygiene: invisible characters are stripped before forwarding and reported in the usage log", async () => {
  const since = proxy.mock.requests().length;
  const logged = proxy.logs().length;
  const { data } = await openai.chat.completions
    .create({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "Hidden\u200B text\u0007 here\u202E" }] })
    .withResponse();
  assert.match(data.choices[0].message.content, /^Mock answer from /);
  const upstream = proxy.mock.requests().slice(since).find((r) => r.provider === "openai");
  assert.equal(upstream.body.messages.at(-1).content, "Hidden text here");
  // The usage record's log line says what was removed.
  const [record] = await loggedRecords(logged, (r) => r.sanitized);
  assert.ok(record, "a usage record with `sanitized` was logged");
  assert.deepEqual(record.sanitized[0].changes.map((c) => c.type), [
    "removed-control-characters",
    "removed-zero-width-characters",
    "removed-bidi-controls",
  ]);
});

test("hygiene: input over MAX_INPUT_CHARS is a 400 in each route's format, never forwarded", async () => {
  const before = proxy.mock.requests().length;
  const long = "x".repeat(201);
  const openaiRes = await post(
    "/v1/chat/completions",
    { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: long }] },
    { authorization: "Bearer client-token-main" },
  );
  assert.equal(openaiRes.status, 400);
  const openaiError = (await openaiRes.json()).error;
  assert.equal(openaiError.type, "invalid_request_error");
  assert.equal(openaiError.code, "input_too_long");
  assert.match(openaiError.message, /201 characters, above the limit of 200/);

  await assert.rejects(
    anthropic.messages.create({ model: "anthropic/claude-haiku-4-5", max_tokens: 10, messages: [{ role: "user", content: long }] }),
    (error) => error.status === 400 && error.error.error.type === "invalid_request_error" && /above the limit/.test(error.message),
  );

  const geminiRes = await post(
    "/v1beta/models/gemini-2.5-flash:generateContent",
    { contents: [{ role: "user", parts: [{ text: long }] }] },
    { "x-goog-api-key": "client-token-main" },
  );
  assert.equal(geminiRes.status, 400);
  assert.equal((await geminiRes.json()).error.status, "INVALID_ARGUMENT");
  // Stripped characters do not count: 200 visible characters plus invisible ones pass.
  const atCap = await post(
    "/v1/chat/completions",
    { model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "x".repeat(200) + "\u200B\u200B" }] },
    { authorization: "Bearer client-token-main" },
  );
  assert.equal(atCap.status, 200);
  assert.equal(proxy.mock.requests().length, before + 1, "only the request within the cap was forwarded");
});
