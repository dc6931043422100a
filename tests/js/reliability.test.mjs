// The reliability policies (retry, timeouts, fallback, circuit breaker, hedging, onEvent) through
// the built npm package, against the mock provider's fault scripts, for each provider, chat and
// stream. Every call gets its own `x-mock-scenario`, so that the mock's records of it can be
// counted, and scripts sequences over attempts (`x-mock-behavior: [first, second, ...]`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client, LlmEdgeError } from "llm-edge";
import { startMockProvider } from "../mock-provider/server.mjs";
import { MODELS, mockProviders } from "./scenarios.mjs";
import { waitFor } from "./helpers.mjs";

const PROVIDERS = ["anthropic", "openai", "gemini"];
const MODES = ["chat", "stream"];
/** The target each provider's calls fall back to. */
const FALLBACK_OF = { anthropic: "openai", openai: "gemini", gemini: "anthropic" };
/** Small backoff so that the suite stays fast: ceilings 20, 40, 50, 50 ms. */
const FAST_RETRY = { baseDelayMs: 20, maxDelayMs: 50 };
const PROMPT = "Tell me about reliability";
/** Slack for timers and the event loop on a busy machine, as an upper bound only. */
const SLACK_MS = 500;
/**
 * A timer the client starts when it sends a request runs from before the mock receives it, so
 * gaps between the mock's receipts may be shorter than the timer by the request's transit.
 */
const TRANSIT_MS = 25;

let mock;
let scenarios = 0;

before(async () => {
  mock = await startMockProvider();
});

after(() => mock?.close());

/** A client on the mock that records every policy event it emits. */
function newClient(options = {}) {
  const events = [];
  const client = new Client({
    providers: mockProviders(mock.url),
    retry: FAST_RETRY,
    onEvent: (event) => events.push(event),
    ...options,
  });
  return { client, events };
}

/** Headers that script the mock's answers to successive attempts, under a fresh scenario id. */
function script(...behaviors) {
  const scenario = `reliability-${++scenarios}`;
  return {
    scenario,
    headers: { "x-mock-behavior": JSON.stringify(behaviors), "x-mock-scenario": scenario },
    seen: () => mock.requests({ scenario }),
  };
}

function request(provider, scripted, extra = {}) {
  return { model: MODELS[provider], messages: [{ role: "user", content: PROMPT }], headers: scripted.headers, ...extra };
}

const LOREM = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua enim ad minim veniam quis".split(" ");

/** The mock's deterministic 24-word answer to PROMPT (tests/mock-provider/README.md). */
function answer(provider) {
  const model = MODELS[provider].split("/")[1];
  const words = ["Mock", "answer", "from", `${provider}/${model}:`, ...PROMPT.split(" ")];
  for (let i = 0; words.length < 24; i++) words.push(LOREM[i % LOREM.length]);
  return words.join(" ");
}

/**
 * Runs one call as chat or stream and reports it the same way: the text the caller received,
 * the error (thrown, or the stream's error event), the target and attempts, and for streams
 * every event. For streams it also checks that the stream object agrees with its last event.
 */
async function run(mode, client, req) {
  const started = Date.now();
  if (mode === "chat") {
    try {
      const res = await client.chat(req);
      return { text: res.text, error: null, target: res.target, attempts: res.attempts, provider: res.provider, ms: Date.now() - started };
    } catch (error) {
      assert.ok(error instanceof LlmEdgeError, `expected an LlmEdgeError, got ${error}`);
      return { text: "", error, target: undefined, attempts: error.attempts, ms: Date.now() - started };
    }
  }
  const stream = client.stream(req);
  const streamEvents = [];
  let text = "";
  let lastDeltaAt = null;
  for await (const event of stream) {
    streamEvents.push(event);
    if (event.type === "text-delta") {
      text += event.text;
      lastDeltaAt = Date.now();
    }
  }
  const last = streamEvents.at(-1);
  const error = last.type === "error" ? last.error : null;
  assert.equal(streamEvents.filter((e) => e.type === "error" || e.type === "finish").length, 1, "exactly one terminal event");
  if (error) {
    assert.ok(error instanceof LlmEdgeError);
    assert.equal(stream.target, undefined);
    assert.deepEqual(stream.attempts, error.attempts);
  } else {
    assert.equal(last.type, "finish");
    assert.equal(stream.target, last.target);
    assert.deepEqual(stream.attempts, last.attempts);
  }
  return {
    text,
    error,
    target: stream.target,
    attempts: stream.attempts,
    streamEvents,
    deltas: streamEvents.filter((e) => e.type === "text-delta").length,
    lastDeltaAt,
    ms: Date.now() - started,
  };
}

/** `[target, retry, outcome, error kind or skip reason]` per attempt. */
function summary(attempts) {
  return attempts.map((a) => [a.target, a.retry, a.outcome, a.error?.kind ?? a.reason ?? null]);
}

/** Milliseconds between the mock's receipt of request `i - 1` and request `i`. */
function gap(seen, i) {
  return seen[i].time - seen[i - 1].time;
}

/** Text that reached the caller before a mid-stream failure: a strict prefix, never repeated. */
function assertPrefixOnce(text, full) {
  assert.ok(text.length > 0, "some text arrived before the failure");
  assert.ok(full.startsWith(text) && text.length < full.length, `not a strict prefix of the answer: ${JSON.stringify(text)}`);
}

const OVERLOADED_STATUS = { anthropic: 529, openai: 503, gemini: 503 };
const QUOTA_429 = {
  anthropic: { status: 429, errorType: "rate_limit_error", message: "enforced_spend_limit_reached: this workspace reached its monthly spend limit" },
  openai: { status: 429, errorType: "insufficient_quota", message: "You exceeded your current quota" },
  gemini: { status: 429, quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier" },
};
/**
 * Spacing between stream chunks for faults "after content", so that the content arrives in an
 * earlier network read than the fault and reaches the caller first. (Content that arrives in
 * the same read as the fault never reached the caller: that attempt is retried invisibly.)
 */
const SPACED_MS = 15;
/** The kind of each provider's in-stream error event, as the mock sends it. */
const IN_STREAM_ERROR_KIND = { anthropic: "overloaded", openai: "server_error", gemini: "server_error" };

for (const provider of PROVIDERS) {
  const target = MODELS[provider];
  const full = answer(provider);

  for (const mode of MODES) {
    const name = `${provider} ${mode}`;

    test(`${name}: a 429 is retried after the server's wait, then succeeds`, async () => {
      // Both header forms: `retry-after` seconds for chat (Gemini also sends RetryInfo), `retry-after-ms` for streams.
      const [waitMs, rateLimit] = mode === "chat" ? [1000, { status: 429, retryAfter: 1 }] : [300, { status: 429, retryAfterMs: 300 }];
      const { client, events } = newClient();
      const s = script(rateLimit, {});
      const result = await run(mode, client, request(provider, s));
      assert.equal(result.error, null);
      assert.equal(result.text, full);
      const seen = s.seen();
      assert.equal(seen.length, 2);
      assert.equal(seen[0].status, 429);
      assert.ok(gap(seen, 1) >= waitMs, `retried ${gap(seen, 1)} ms after the 429, the server asked for ${waitMs}`);
      assert.ok(gap(seen, 1) <= waitMs * 1.1 + SLACK_MS, `retried only after ${gap(seen, 1)} ms`);
      const retry = events.find((e) => e.type === "retry");
      assert.equal(retry.reason, "server-requested");
      assert.equal(retry.serverWaitMs, waitMs);
      assert.ok(retry.delayMs >= waitMs && retry.delayMs <= waitMs * 1.1, `delay ${retry.delayMs}`);
      assert.deepEqual(summary(result.attempts), [
        [target, 0, "failed", "rate_limited"],
        [target, 1, "succeeded", null],
      ]);
      assert.equal(result.attempts[0].error.status, 429);
      assert.equal(result.attempts[1].waitedMs, retry.delayMs);
      assert.equal(result.target, target);
    });

    test(`${name}: overload (${OVERLOADED_STATUS[provider]}) is retried with jittered backoff, then succeeds`, async () => {
      const { client, events } = newClient();
      const overloaded = { status: OVERLOADED_STATUS[provider] };
      const s = script(overloaded, overloaded, {});
      const result = await run(mode, client, request(provider, s));
      assert.equal(result.error, null);
      assert.equal(result.text, full);
      const seen = s.seen();
      assert.deepEqual(seen.map((r) => r.status), [OVERLOADED_STATUS[provider], OVERLOADED_STATUS[provider], 200]);
      const retries = events.filter((e) => e.type === "retry");
      assert.deepEqual(retries.map((r) => [r.retry, r.reason]), [[1, "backoff"], [2, "backoff"]]);
      // Full jitter: uniform in [0, ceiling], the ceiling doubling from baseDelayMs.
      assert.ok(retries[0].delayMs <= 20 && retries[1].delayMs <= 40, `delays ${retries.map((r) => r.delayMs)}`);
      for (const i of [1, 2]) {
        const delay = retries[i - 1].delayMs;
        assert.ok(gap(seen, i) >= delay - 2 && gap(seen, i) <= delay + SLACK_MS, `gap ${gap(seen, i)} for a delay of ${delay}`);
      }
      assert.deepEqual(summary(result.attempts), [
        [target, 0, "failed", "overloaded"],
        [target, 1, "failed", "overloaded"],
        [target, 2, "succeeded", null],
      ]);
    });

    test(`${name}: four 500s exhaust the retries, then the call falls back to another provider`, async () => {
      const fallbackProvider = FALLBACK_OF[provider];
      const fallback = MODELS[fallbackProvider];
      const { client, events } = newClient({ fallback: [fallback] });
      const s = script({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 }, {});
      const result = await run(mode, client, request(provider, s));
      assert.equal(result.error, null);
      assert.equal(result.text, answer(fallbackProvider));
      assert.equal(result.target, fallback);
      if (mode === "chat") assert.equal(result.provider, fallbackProvider);
      const seen = s.seen();
      assert.deepEqual(
        seen.map((r) => [r.provider, r.status]),
        [[provider, 500], [provider, 500], [provider, 500], [provider, 500], [fallbackProvider, 200]],
      );
      assert.deepEqual(summary(result.attempts), [
        [target, 0, "failed", "server_error"],
        [target, 1, "failed", "server_error"],
        [target, 2, "failed", "server_error"],
        [target, 3, "failed", "server_error"],
        [fallback, 0, "succeeded", null],
      ]);
      // onEvent saw every decision, in order, and the outcome before the call returned.
      assert.deepEqual(events.map((e) => e.type), [
        "attempt-start", "attempt-failed", "retry",
        "attempt-start", "attempt-failed", "retry",
        "attempt-start", "attempt-failed", "retry",
        "attempt-start", "attempt-failed", "fallback",
        "attempt-start", "outcome",
      ]);
      assert.deepEqual(events.filter((e) => e.type === "attempt-start").map((e) => [e.attempt, e.target, e.retry]), [
        [1, target, 0], [2, target, 1], [3, target, 2], [4, target, 3], [5, fallback, 0],
      ]);
      assert.deepEqual(events.find((e) => e.type === "fallback"), { type: "fallback", from: target, to: fallback, reason: "server_error" });
      const outcome = events.at(-1);
      assert.equal(outcome.ok, true);
      assert.equal(outcome.target, fallback);
      assert.deepEqual(outcome.attempts, result.attempts);
      assert.ok(outcome.elapsedMs >= 0 && outcome.elapsedMs <= result.ms);
    });

    test(`${name}: a quota 429 is not retried`, async () => {
      const { client, events } = newClient();
      // Were it retried, the second attempt would succeed.
      const s = script(QUOTA_429[provider], {});
      const result = await run(mode, client, request(provider, s));
      assert.equal(result.error?.kind, "quota_exceeded");
      assert.equal(result.error.retryable, false);
      assert.equal(result.error.status, 429);
      assert.equal(result.error.provider, provider);
      assert.equal(result.text, "");
      assert.equal(s.seen().length, 1);
      assert.deepEqual(summary(result.attempts), [[target, 0, "failed", "quota_exceeded"]]);
      assert.deepEqual(events.map((e) => e.type), ["attempt-start", "attempt-failed", "outcome"]);
      assert.equal(events.at(-1).error, "quota_exceeded");
      assert.equal(events.at(-1).ok, false);
    });

    test(`${name}: no headers within firstTokenTimeoutMs is a timeout, retried`, async () => {
      const { client } = newClient({ firstTokenTimeoutMs: 150 });
      const s = script({ headersDelayMs: 1500 }, {});
      const result = await run(mode, client, request(provider, s));
      assert.equal(result.error, null);
      assert.equal(result.text, full);
      const seen = s.seen();
      assert.equal(seen.length, 2);
      assert.ok(gap(seen, 1) >= 150 - TRANSIT_MS && gap(seen, 1) <= 150 + 50 + SLACK_MS, `retried after ${gap(seen, 1)} ms`);
      assert.deepEqual(summary(result.attempts), [
        [target, 0, "failed", "timeout"],
        [target, 1, "succeeded", null],
      ]);
      assert.equal(result.attempts[0].error.timeout, "first_token");
      assert.ok(result.attempts[0].durationMs >= 149 && result.attempts[0].durationMs <= 150 + SLACK_MS);
      // The timed-out attempt's fetch was aborted: the mock saw the client close it.
      await waitFor(() => seen[0].outcome === "client-closed", { what: "the mock to see the first attempt closed" });
    });
  }

  test(`${provider} stream: a stall after content is an idle timeout error event, not retried`, async () => {
    const { client } = newClient({ idleTimeoutMs: 200 });
    const s = script({ stallAfterChunks: 6 }, {});
    const result = await run("stream", client, request(provider, s));
    assert.equal(result.error?.kind, "timeout");
    assert.equal(result.error.timeout, "idle");
    assertPrefixOnce(result.text, full);
    const silentMs = Date.now() - result.lastDeltaAt;
    assert.ok(silentMs >= 199 && silentMs <= 200 + SLACK_MS, `error ${silentMs} ms after the last delta`);
    assert.deepEqual(summary(result.attempts), [[target, 0, "failed", "timeout"]]);
    await waitFor(() => s.seen()[0].outcome === "client-closed", { what: "the mock to see the stalled stream closed" });
    assert.equal(s.seen().length, 1);
  });

  test(`${provider} chat: a body that stalls ends at the total deadline, not retried`, async () => {
    const { client } = newClient({ timeoutMs: 600 });
    const s = script({ stallAfterChunks: 1 }, {});
    const result = await run("chat", client, request(provider, s));
    assert.equal(result.error?.kind, "timeout");
    assert.equal(result.error.timeout, "total");
    assert.ok(result.ms >= 599 && result.ms <= 600 + SLACK_MS, `failed after ${result.ms} ms`);
    assert.deepEqual(summary(result.attempts), [[target, 0, "failed", "timeout"]]);
    await waitFor(() => s.seen()[0].outcome === "client-closed", { what: "the mock to see the stalled body closed" });
    assert.equal(s.seen().length, 1);
  });

  test(`${provider} stream: a cut after content is a truncated_stream error event with the usage so far, no text repeated`, async () => {
    const { client } = newClient();
    const s = script({ cutAfterChunks: 6, chunkDelayMs: SPACED_MS }, {});
    const result = await run("stream", client, request(provider, s));
    assert.equal(result.error?.kind, "truncated_stream");
    assert.equal(result.error.provider, provider);
    assertPrefixOnce(result.text, full);
    assert.equal(result.streamEvents.filter((e) => e.type === "finish").length, 0, "never a clean finish");
    assert.equal(s.seen().length, 1);
    assert.deepEqual(summary(result.attempts), [[target, 0, "failed", "truncated_stream"]]);
    // The usage so far is what the provider had reported by the cut, never invented: Anthropic
    // reports input in message_start, Gemini counts every chunk, OpenAI only at the end.
    const usage = result.error.usage;
    if (provider === "anthropic") assert.ok(usage.inputTokens > 0);
    if (provider === "gemini") assert.equal(usage.outputTokens, result.deltas);
    if (provider === "openai") assert.equal(usage, undefined);
    assert.deepEqual(result.attempts[0].usage, usage);
  });

  test(`${provider} stream: a cut before any content is retried invisibly, the text arrives once`, async () => {
    const { client } = newClient();
    const s = script({ cutAfterChunks: 0 }, {});
    const result = await run("stream", client, request(provider, s));
    assert.equal(result.error, null);
    assert.equal(result.text, full);
    assert.equal(s.seen().length, 2);
    assert.deepEqual(summary(result.attempts), [
      [target, 0, "failed", "truncated_stream"],
      [target, 1, "succeeded", null],
    ]);
  });

  test(`${provider} chat: a body cut short is an invalid response, retried`, async () => {
    const { client } = newClient();
    const s = script({ cutAfterChunks: 1 }, {});
    const result = await run("chat", client, request(provider, s));
    assert.equal(result.error, null);
    assert.equal(result.text, full);
    assert.equal(s.seen().length, 2);
    assert.deepEqual(summary(result.attempts), [
      [target, 0, "failed", "invalid_response"],
      [target, 1, "succeeded", null],
    ]);
  });

  test(`${provider} stream: an in-stream error event after content ends the stream, not retried`, async () => {
    const { client } = newClient();
    const s = script({ streamErrorAfterChunks: 6, chunkDelayMs: SPACED_MS }, {});
    const result = await run("stream", client, request(provider, s));
    assert.equal(result.error?.kind, IN_STREAM_ERROR_KIND[provider]);
    assert.equal(result.error.provider, provider);
    assertPrefixOnce(result.text, full);
    assert.equal(s.seen().length, 1);
    assert.deepEqual(summary(result.attempts), [[target, 0, "failed", IN_STREAM_ERROR_KIND[provider]]]);
  });

  test(`${provider} stream: an in-stream error event before content is retried invisibly`, async () => {
    const { client } = newClient();
    const s = script({ streamErrorAfterChunks: 0 }, {});
    const result = await run("stream", client, request(provider, s));
    assert.equal(result.error, null);
    assert.equal(result.text, full);
    assert.equal(s.seen().length, 2);
    assert.deepEqual(summary(result.attempts), [
      [target, 0, "failed", IN_STREAM_ERROR_KIND[provider]],
      [target, 1, "succeeded", null],
    ]);
  });

  test(`${provider} stream: a malformed chunk after content is an invalid_response error event, not retried`, async () => {
    const { client } = newClient();
    const s = script({ malformedAfterChunks: 6, chunkDelayMs: SPACED_MS }, {});
    const result = await run("stream", client, request(provider, s));
    assert.equal(result.error?.kind, "invalid_response");
    assertPrefixOnce(result.text, full);
    assert.equal(s.seen().length, 1);
    assert.deepEqual(summary(result.attempts), [[target, 0, "failed", "invalid_response"]]);
    await waitFor(() => s.seen()[0].outcome !== "pending", { what: "the mock to finish the request" });
  });

  test(`${provider} stream: a malformed first chunk is retried invisibly`, async () => {
    const { client } = newClient();
    const s = script({ malformedAfterChunks: 0 }, {});
    const result = await run("stream", client, request(provider, s));
    assert.equal(result.error, null);
    assert.equal(result.text, full);
    assert.equal(s.seen().length, 2);
    assert.deepEqual(summary(result.attempts), [
      [target, 0, "failed", "invalid_response"],
      [target, 1, "succeeded", null],
    ]);
  });

  test(`${provider} chat: a malformed body is an invalid response, retried`, async () => {
    const { client } = newClient();
    const s = script({ malformedAfterChunks: 1 }, {});
    const result = await run("chat", client, request(provider, s));
    assert.equal(result.error, null);
    assert.equal(result.text, full);
    assert.equal(s.seen().length, 2);
    assert.deepEqual(summary(result.attempts), [
      [target, 0, "failed", "invalid_response"],
      [target, 1, "succeeded", null],
    ]);
  });
}

for (const mode of MODES) {
  test(`${mode}: aborting during a backoff sleep rejects with cancelled at once, and nothing more is sent`, async () => {
    await Promise.all(
      PROVIDERS.map(async (provider) => {
        const controller = new AbortController();
        let abortedAt = null;
        let retryAt = null;
        const { client } = newClient({
          onEvent: (event) => {
            if (event.type !== "retry") return;
            retryAt = Date.now();
            setTimeout(() => {
              abortedAt = Date.now();
              controller.abort();
            }, 50);
          },
        });
        const s = script({ status: 429, retryAfterMs: 600 }, {});
        const result = await run(mode, client, request(provider, s, { signal: controller.signal }));
        assert.equal(result.error?.kind, "cancelled", `${provider}: ${result.error?.message}`);
        assert.ok(abortedAt !== null, `${provider}: settled before the abort`);
        const settledAfterAbortMs = Date.now() - abortedAt;
        // Well before the ~550 ms left of the server's wait: the sleep was cut short.
        assert.ok(settledAfterAbortMs <= 200, `${provider}: settled ${settledAfterAbortMs} ms after the abort`);
        // Past the moment the retry would have been sent, the mock still saw one request.
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, retryAt + 600 + 200 - Date.now())));
        assert.equal(s.seen().length, 1, `${provider}: a retry was sent after the abort`);
      }),
    );
  });
}

test("the circuit breaker opens after consecutive failures, later calls skip the target, and a probe closes it", async () => {
  const primary = MODELS.anthropic;
  const fallback = MODELS.openai;
  const { client, events } = newClient({
    retry: { ...FAST_RETRY, maxRetries: 0 },
    fallback: [fallback],
    circuitBreaker: { failureThreshold: 2, cooldownMs: 1000 },
  });
  const failing = () => script({ status: 500 }, {});

  // Two failures in a row (one chat, one stream): each call still succeeds by falling back.
  const first = failing();
  assert.equal((await run("chat", client, request("anthropic", first))).target, fallback);
  assert.equal(events.filter((e) => e.type === "breaker").length, 0);
  const second = failing();
  const secondResult = await run("stream", client, request("anthropic", second));
  assert.equal(secondResult.target, fallback);
  assert.deepEqual(
    events.filter((e) => e.type === "breaker").map((e) => [e.target, e.from, e.to]),
    [[primary, "closed", "open"]],
  );

  // Open: the next calls do not even try the primary (the fallback gets the scenario's first answer).
  for (const mode of MODES) {
    const s = script({});
    const eventsBefore = events.length;
    const result = await run(mode, client, request("anthropic", s));
    assert.equal(result.error, null);
    assert.equal(result.target, fallback);
    assert.deepEqual(s.seen().map((r) => r.provider), ["openai"]);
    assert.deepEqual(summary(result.attempts), [
      [primary, 0, "skipped", "circuit-open"],
      [fallback, 0, "succeeded", null],
    ]);
    const types = events.slice(eventsBefore).map((e) => e.type);
    assert.deepEqual(types, ["target-skipped", "attempt-start", "outcome"]);
  }

  // Without a fallback nothing can be tried: circuit_open, saying when the probe comes.
  const alone = failing();
  const refused = await run("chat", client, request("anthropic", alone, { fallback: [] }));
  assert.equal(refused.error?.kind, "circuit_open");
  assert.equal(refused.error.retryable, true);
  assert.ok(refused.error.retryAfterMs > 0 && refused.error.retryAfterMs <= 1000, `retryAfterMs ${refused.error.retryAfterMs}`);
  assert.deepEqual(summary(refused.attempts), [[primary, 0, "skipped", "circuit-open"]]);
  assert.equal(alone.seen().length, 0);

  // After the cooldown one call probes the primary; its success closes the circuit.
  await new Promise((resolve) => setTimeout(resolve, refused.error.retryAfterMs + 20));
  const probe = script({});
  const eventsBefore = events.length;
  const probed = await run("stream", client, request("anthropic", probe));
  assert.equal(probed.target, primary);
  assert.equal(probed.text, answer("anthropic"));
  assert.deepEqual(
    events.slice(eventsBefore).filter((e) => e.type === "breaker").map((e) => [e.from, e.to]),
    [["open", "half-open"], ["half-open", "closed"]],
  );
});

for (const mode of MODES) {
  test(`${mode}: hedging starts the next target when the first is slow, and the first answer wins`, async () => {
    const { client, events } = newClient({ hedge: { afterMs: 100 }, fallback: [MODELS.gemini] });
    const s = script({ headersDelayMs: 3000 }, {});
    const result = await run(mode, client, request("openai", s));
    assert.equal(result.error, null);
    assert.equal(result.target, MODELS.gemini);
    assert.equal(result.text, answer("gemini"));
    assert.ok(result.ms < 1500, `took ${result.ms} ms`);
    const seen = s.seen();
    assert.deepEqual(seen.map((r) => r.provider), ["openai", "gemini"]);
    assert.ok(gap(seen, 1) >= 100 - TRANSIT_MS && gap(seen, 1) <= 100 + SLACK_MS, `hedged after ${gap(seen, 1)} ms`);
    assert.deepEqual(
      result.attempts.map((a) => [a.target, a.hedge, a.outcome]),
      [[MODELS.openai, false, "abandoned"], [MODELS.gemini, true, "succeeded"]],
    );
    assert.deepEqual(
      events.filter((e) => e.type.startsWith("hedge")),
      [
        { type: "hedge-start", primary: MODELS.openai, target: MODELS.gemini, afterMs: 100 },
        { type: "hedge-win", winner: MODELS.gemini, loser: MODELS.openai, loserUsage: null },
      ],
    );
    // The loser's fetch was aborted.
    await waitFor(() => seen[0].outcome === "client-closed", { what: "the mock to see the slow attempt closed" });
  });
}

test("per-call options replace the client's: fallback: [] and retry: { maxRetries: 0 } mean one attempt", async () => {
  const { client } = newClient({ fallback: [MODELS.gemini] });
  for (const mode of MODES) {
    const s = script({ status: 500 }, {});
    const result = await run(mode, client, request("openai", s, { fallback: [], retry: { maxRetries: 0 } }));
    assert.equal(result.error?.kind, "server_error");
    assert.equal(s.seen().length, 1);
    assert.deepEqual(summary(result.attempts), [[MODELS.openai, 0, "failed", "server_error"]]);
  }
  // Per-call timeouts and fallbackOn too: a first-token timeout that is not in fallbackOn ends the call.
  const s = script({ headersDelayMs: 1500 }, {});
  const result = await run("chat", client, request("openai", s, { firstTokenTimeoutMs: 100, retry: { maxRetries: 0 }, fallbackOn: ["server_error"] }));
  assert.equal(result.error?.kind, "timeout");
  assert.equal(result.error.timeout, "first_token");
  assert.deepEqual(s.seen().map((r) => r.provider), ["openai"]);
});

test("invalid options are config errors, from the constructor and at the call site", async () => {
  const providers = mockProviders(mock.url);
  const invalidClients = [
    [{ retry: { maxRetry: 1 } }, /maxRetry/],
    [{ retry: { baseDelayMs: 9000 } }, /retry\.baseDelayMs \(9000\) must not exceed retry\.maxDelayMs/],
    [{ circuitBreaker: { failureThreshold: 0 } }, /circuitBreaker\.failureThreshold/],
    [{ fallback: ["llama-3"] }, /fallback\[0\] `llama-3`/],
    [{ fallbackOn: ["overload"] }, /overload/],
    [{ hedge: {} }, /afterMs/],
    [{ timeoutMs: 0 }, /timeoutMs must be at least 1/],
    [{ onEvent: "log" }, /onEvent must be a function/],
  ];
  for (const [options, message] of invalidClients) {
    assert.throws(
      () => new Client({ providers, ...options }),
      (e) => e instanceof LlmEdgeError && e.kind === "config" && message.test(e.message),
      JSON.stringify(options),
    );
  }
  new Client({ providers, circuitBreaker: null, hedge: null, fallback: [{ model: "gemini/gemini-2.5-flash", maxTokens: 64 }] });

  const client = new Client({ providers });
  const before = mock.requests().length;
  const base = { model: MODELS.openai, messages: [{ role: "user", content: "Hi" }] };
  const isConfig = (message) => (e) => e instanceof LlmEdgeError && e.kind === "config" && message.test(e.message);
  await assert.rejects(client.chat({ ...base, retry: { baseDelayMs: 10000 } }), isConfig(/retry\.baseDelayMs/));
  await assert.rejects(client.chat({ ...base, onEvent: () => {} }), isConfig(/onEvent is a client option/));
  assert.throws(() => client.stream({ ...base, fallbackOn: ["nope"] }), isConfig(/nope/));
  assert.throws(() => client.stream({ ...base, circuitBreaker: null }), isConfig(/circuitBreaker is a client option/));
  assert.throws(() => client.stream({ ...base, idleTimeoutMs: 0 }), isConfig(/idleTimeoutMs/));
  assert.equal(mock.requests().length, before, "nothing was sent");
});

test("an onEvent hook that throws or rejects is reported and never breaks the call", async () => {
  const reported = [];
  const consoleError = console.error;
  console.error = (...args) => reported.push(args);
  try {
    let calls = 0;
    const throwing = new Client({
      providers: mockProviders(mock.url),
      retry: FAST_RETRY,
      onEvent: () => {
        calls += 1;
        throw new Error("hook bug");
      },
    });
    for (const mode of MODES) {
      const s = script({ status: 503 }, {});
      const result = await run(mode, throwing, request("anthropic", s));
      assert.equal(result.error, null);
      assert.equal(result.text, answer("anthropic"));
      assert.equal(s.seen().length, 2);
    }
    // attempt-start, attempt-failed, retry, attempt-start, outcome: per call.
    assert.equal(calls, 10);
    assert.equal(reported.length, 10);
    assert.equal(reported[0][1].message, "hook bug");

    const rejecting = new Client({ providers: mockProviders(mock.url), onEvent: async () => Promise.reject(new Error("async hook bug")) });
    const res = await rejecting.chat(request("openai", script({})));
    assert.equal(res.text, answer("openai"));
    await waitFor(() => reported.some(([, error]) => error?.message === "async hook bug"), { what: "the rejection to be reported" });
  } finally {
    console.error = consoleError;
  }
});

test("a stream reports its outcome to onEvent before its finish event reaches the caller", async () => {
  for (const provider of PROVIDERS) {
    const { client, events } = newClient();
    const stream = client.stream(request(provider, script({})));
    for await (const event of stream) {
      if (event.type !== "finish") continue;
      const outcome = events.at(-1);
      assert.equal(outcome.type, "outcome");
      assert.equal(outcome.ok, true);
      assert.equal(outcome.target, MODELS[provider]);
      assert.deepEqual(outcome.attempts, event.attempts);
    }
    assert.equal(stream.target, MODELS[provider]);
  }
});
