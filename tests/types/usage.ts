// Compiled by `tsc --strict --noEmit` against the shipped index.d.ts (see scripts/test.sh):
// the README's examples must type-check, and misuse must not.
import {
  Client,
  LlmEdgeError,
  type Attempt,
  type BatchResult,
  type BatchStatus,
  type BudgetAlert,
  type CacheStatus,
  type ChatResponse,
  type CostEstimate,
  type JsonValue,
  type MonthlyProjection,
  type RouteDecision,
  type Spend,
  type Tier,
  type UsageRecord,
  type ClientOptions,
  type PolicyEvent,
  type StreamEvent,
  type Target,
  type Usage,
} from "llm-edge";

const client = new Client({
  providers: {
    anthropic: { apiKey: "sk-ant-...", baseUrl: "https://api.anthropic.com" },
    openai: { apiKey: "sk-...", headers: { "openai-organization": "org" } },
    gemini: { baseUrl: "https://my-proxy.example" },
  },
  timeoutMs: 30_000,
  firstTokenTimeoutMs: 10_000,
  idleTimeoutMs: null,
  retry: { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 8000, maxServerWaitMs: 30_000, multiplier: 2 },
  fallback: ["openai/gpt-4o", { model: "gemini/gemini-2.5-flash", maxTokens: 1024 }],
  fallbackOn: ["overloaded", "server_error", "timeout"],
  circuitBreaker: { failureThreshold: 5, cooldownMs: 30_000 },
  hedge: { afterMs: 2000 },
  onEvent: (event) => observe(event),
});

const withoutBreaker: ClientOptions = { providers: {}, circuitBreaker: null, hedge: null, onEvent: async () => {} };
console.log(withoutBreaker);
// @ts-expect-error: a hedge needs afterMs
const badHedge: ClientOptions = { providers: {}, hedge: {} };
// @ts-expect-error: fallbackOn takes error kinds
const badKinds: ClientOptions = { providers: {}, fallbackOn: ["overload"] };
console.log(badHedge, badKinds);

/** Every policy event narrows to its own fields. */
function observe(event: PolicyEvent): void {
  switch (event.type) {
    case "attempt-start":
      console.log(event.attempt, event.target, event.retry, event.hedge);
      break;
    case "attempt-failed":
      console.log(event.attempt, event.error.kind, event.error.status, event.durationMs);
      break;
    case "retry": {
      const wait: number | undefined = event.serverWaitMs;
      console.log(event.target, event.retry, event.delayMs, event.reason === "server-requested", wait);
      break;
    }
    case "fallback":
      console.log(event.from, event.to, event.reason);
      break;
    case "target-skipped":
      console.log(event.target, event.reason);
      break;
    case "breaker":
      console.log(event.target, event.from, event.to);
      break;
    case "hedge-start":
      console.log(event.primary, event.target, event.afterMs);
      break;
    case "hedge-win": {
      const billed: Usage | null = event.loserUsage;
      console.log(event.winner, event.loser, billed);
      break;
    }
    case "outcome":
      if (event.ok) {
        const served: Target = event.target;
        console.log(served, event.elapsedMs, event.attempts.length);
      } else {
        console.log(event.error, event.attempts.map(describe));
      }
      break;
    case "route":
      console.log(event.requested, event.decision.model);
      break;
    case "screened":
      console.log(event.screening.verdict);
      break;
    case "sanitized":
      console.log(event.changes.map((part) => `${part.message}/${part.part}: ${part.changes.length}`));
      break;
    default: {
      const unhandled: never = event;
      console.log(unhandled);
    }
  }
}

function describe(attempt: Attempt): string {
  const head = `${attempt.target} retry ${attempt.retry} after ${attempt.waitedMs} ms`;
  switch (attempt.outcome) {
    case "failed":
      return `${head}: ${attempt.error.kind} ${attempt.error.timeout ?? ""} in ${attempt.durationMs} ms`;
    case "skipped":
      return `${head}: skipped (${attempt.reason})`;
    default:
      return `${head}: ${attempt.outcome}${attempt.usage ? `, ${attempt.usage.outputTokens} tokens` : ""}`;
  }
}

export async function examples(signal: AbortSignal): Promise<void> {
  const res: ChatResponse = await client.chat({
    model: "anthropic/claude-haiku-4-5",
    system: "Be brief.",
    messages: [{ role: "user", content: "Hi" }],
    maxTokens: 256,
    temperature: 0.2,
    signal,
  });
  const text: string = res.text;
  const input: number | null = res.usage.inputTokens;
  const output: number | null = res.usage.outputTokens;
  console.log(text, input, output, res.provider, res.model, res.finishReason);
  const servedBy: Target = res.target;
  console.log(servedBy, res.attempts.map(describe));

  // Per call, the same policy options override the client's.
  await client.chat({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Hi" }],
    fallback: [],
    retry: { maxRetries: 0 },
    hedge: null,
    firstTokenTimeoutMs: 2000,
  });

  const withTools = await client.chat({
    model: "gpt-4o-mini",
    messages: [
      { role: "user", content: "Weather in Paris?" },
      { role: "assistant", content: [{ type: "tool-call", id: "c1", name: "weather", arguments: { city: "Paris" } }] },
      { role: "user", content: [{ type: "tool-result", callId: "c1", name: "weather", content: "18C" }] },
    ],
    tools: [{ name: "weather", parameters: { type: "object", properties: { city: { type: "string" } } } }],
    toolChoice: { type: "auto" },
    responseFormat: { type: "json_schema", schema: { type: "object" } },
  });
  for (const call of withTools.toolCalls) console.log(call.name, call.arguments);

  const stream = client.stream({ model: "gemini/gemini-2.5-flash", messages: [{ role: "user", content: "Hi" }] });
  for await (const ev of stream) {
    narrow(ev);
  }
  const streamTarget: Target | undefined = stream.target;
  console.log(streamTarget, stream.attempts.length);
  const body: ReadableStream<Uint8Array> = client
    .stream({ model: "gpt-4o-mini", messages: [] })
    .toReadableStream({ format: "sse" });
  console.log(new Response(body));

  try {
    await client.chat({ model: "gpt-4o-mini", messages: [] });
  } catch (e) {
    if (e instanceof LlmEdgeError && e.retryable) console.log(e.kind, e.status, e.provider, e.retryAfterMs);
    if (e instanceof LlmEdgeError && e.kind === "circuit_open") console.log(e.attempts.map(describe));
  }

  // @ts-expect-error: unknown roles are rejected
  await client.chat({ model: "gpt-4o-mini", messages: [{ role: "system", content: "x" }] });
  // @ts-expect-error: maxTokens is a number
  await client.chat({ model: "gpt-4o-mini", messages: [], maxTokens: "10" });
  // @ts-expect-error: the circuit breaker and onEvent belong to the client
  await client.chat({ model: "gpt-4o-mini", messages: [], circuitBreaker: null });
}

function narrow(ev: StreamEvent): void {
  switch (ev.type) {
    case "text-delta":
      process(ev.text);
      break;
    case "tool-call-end":
      console.log(ev.name, ev.arguments);
      break;
    case "finish": {
      const usage: Usage = ev.usage;
      const served: Target = ev.target;
      console.log(ev.finishReason, usage.outputTokens, served, ev.attempts.map(describe));
      break;
    }
    case "error":
      console.log(ev.error.kind, ev.error.retryable);
      break;
  }
}

function process(text: string): void {
  console.log(text);
}

// ------------------------------------------------------------------ cost control (issue 9)
const alerts: BudgetAlert[] = [];
const costly = new Client({
  providers: { anthropic: { apiKey: "sk-ant-..." } },
  budget: { dailyUsd: 5, perRequestUsd: 0.25, alertThresholds: [0.5, 0.8, 1], onAlert: (a) => void alerts.push(a) },
  routing: {
    tiers: { simple: "anthropic/claude-haiku-4-5", standard: "anthropic/claude-sonnet-4-6", complex: "anthropic/claude-opus-4-6" },
    hook: (request, decision) =>
      request.messages.length > 10 ? { model: "anthropic/claude-opus-4-6", reason: "long conversation" } : undefined,
  },
  prices: { "openai/my-fine-tune": { input: 3, output: 12 } },
  cache: { ttlMs: 60_000, maxEntries: 500, staleIfErrorMs: 3_600_000 },
  cacheSystemPrompt: true,
  screening: { mode: "flag", threshold: 0.6 },
  hygiene: { strip: true, maxInputChars: null },
  onUsage: (record: UsageRecord) => {
    const usd: number | undefined = record.cost?.usd;
    const tier: Tier | undefined = record.route?.tier;
    const flagged: boolean = record.screening?.verdict === "flagged";
    const stale: boolean = record.stale;
    const removed: number | undefined = record.sanitized?.[0]?.changes[0]?.count;
    console.log(usd, tier, flagged, stale, removed, record.cache, record.outcome);
  },
});
// @ts-expect-error: the tiers are simple, standard and complex
const badTier: ClientOptions = { providers: {}, routing: { tiers: { easy: "anthropic/claude-haiku-4-5" } } };
// @ts-expect-error: screening modes are off, flag and block
const badMode: ClientOptions = { providers: {}, screening: { mode: "warn" } };
// @ts-expect-error: the input cap is a number of characters
const badCap: ClientOptions = { providers: {}, hygiene: { maxInputChars: "1M" } };
console.log(badTier, badMode, badCap);

export async function costExamples(): Promise<void> {
  const estimate: CostEstimate = costly.estimateCost({ model: "auto", messages: [{ role: "user", content: "Hi" }] });
  const worst: number | null = estimate.usdMax;
  console.log(estimate.inputTokens, estimate.outputTokensMax, estimate.usdExpected, worst);

  const res = await costly.chat({
    model: "auto",
    messages: [{ role: "user", content: "Hi" }],
    complexity: undefined,
    conversationId: "c-1",
    cache: false,
  });
  const cost: number | null = res.costUsd;
  const route: RouteDecision | null = res.route;
  console.log(cost, route?.tier, route?.model, route?.reason, res.cache, res.stale, res.cost?.outputUsd);

  const spend: Spend = costly.spend();
  console.log(spend.todayUsd, spend.reservedUsd, spend.dailyUsd);
  costly.resetSpend();
  console.log(costly.cacheStats()?.hits, costly.configWarnings.length);

  const month: MonthlyProjection = costly.projectMonthlyCost({
    requestsPerDay: 1000,
    mix: { "anthropic/claude-haiku-4-5": 0.7, "anthropic/claude-sonnet-4-6": 0.3 },
    avgInputTokens: 800,
    avgOutputTokens: 300,
  });
  console.log(month.totalUsd, month.models.map((m) => m.usd));
  // @ts-expect-error: a projection needs a model or a mix
  costly.projectMonthlyCost({ requestsPerDay: 1, avgInputTokens: 1, avgOutputTokens: 1 });

  for await (const event of costly.stream({ model: "auto", messages: [{ role: "user", content: "Hi" }] })) {
    if (event.type === "finish") {
      const status: CacheStatus = event.cache;
      console.log(event.costUsd, event.route?.model, status, event.cost?.estimated);
    }
  }
  const structuredStream = costly.stream({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "Weather as JSON" }],
    responseFormat: { type: "json_schema", schema: { type: "object" } },
  });
  for await (const event of structuredStream) {
    if (event.type === "finish") console.log(event.object);
    if (event.type === "error" && event.error.kind === "invalid_output") console.log(event.error.rawOutput);
  }
  const parsed: JsonValue | undefined = structuredStream.object;
  console.log(parsed);

  // ---------------------------------------------------------- validation and batches (issue 7)
  const weather = await costly.chat<{ city: string; celsius: number }>({
    model: "openai/gpt-4o-mini",
    messages: [{ role: "user", content: "Weather in Paris" }],
    responseFormat: { type: "json_schema", schema: { type: "object", properties: { city: { type: "string" } } } },
    screening: { mode: "block" },
  });
  const city: string = weather.object.city;
  console.log(city, weather.object.celsius);
  try {
    await costly.chat({ model: "gpt-4o-mini", messages: [] });
  } catch (e) {
    if (e instanceof LlmEdgeError && e.kind === "invalid_output") console.log(e.rawOutput?.length);
  }

  const batch: BatchStatus = await costly.batches.submit([
    { customId: "a", request: { model: "anthropic/claude-haiku-4-5", messages: [{ role: "user", content: "Hi" }], maxTokens: 64 } },
  ]);
  const polled = await costly.batches.status(batch.provider, batch.id);
  const again = await costly.batches.status(polled);
  if (again.state === "ended") {
    const results: BatchResult[] = await costly.batches.results(again);
    for (const result of results) {
      if (result.outcome.type === "succeeded") console.log(result.customId, result.outcome.response.usage, result.cost?.totalUsd);
      else if (result.outcome.type === "errored") console.log(result.outcome.error.kind);
    }
  }
  // @ts-expect-error: batches go to Anthropic or OpenAI
  await costly.batches.status("gemini", "b1");
}

function observeCosts(event: PolicyEvent): void {
  if (event.type === "route") console.log(event.requested, event.decision.tier);
  if (event.type === "screened") console.log(event.screening.score, event.screening.findings.map((f) => f.kind));
}
console.log(observeCosts);
