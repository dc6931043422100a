// Compiled by `tsc --strict --noEmit` against the shipped index.d.ts (see scripts/test.sh):
// the README's examples must type-check, and misuse must not.
import {
  Client,
  LlmEdgeError,
  type Attempt,
  type ChatResponse,
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
