// Compiled by `tsc --strict --noEmit` against the shipped index.d.ts (see scripts/test.sh):
// the README's examples must type-check, and misuse must not.
import { Client, LlmEdgeError, type ChatResponse, type StreamEvent, type Usage } from "llm-edge";

const client = new Client({
  providers: {
    anthropic: { apiKey: "sk-ant-...", baseUrl: "https://api.anthropic.com" },
    openai: { apiKey: "sk-...", headers: { "openai-organization": "org" } },
    gemini: { baseUrl: "https://my-proxy.example" },
  },
  timeoutMs: 30_000,
  idleTimeoutMs: null,
});

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
  const body: ReadableStream<Uint8Array> = client
    .stream({ model: "gpt-4o-mini", messages: [] })
    .toReadableStream({ format: "sse" });
  console.log(new Response(body));

  try {
    await client.chat({ model: "gpt-4o-mini", messages: [] });
  } catch (e) {
    if (e instanceof LlmEdgeError && e.retryable) console.log(e.kind, e.status, e.provider, e.retryAfterMs);
  }

  // @ts-expect-error: unknown roles are rejected
  await client.chat({ model: "gpt-4o-mini", messages: [{ role: "system", content: "x" }] });
  // @ts-expect-error: maxTokens is a number
  await client.chat({ model: "gpt-4o-mini", messages: [], maxTokens: "10" });
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
      console.log(ev.finishReason, usage.outputTokens);
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
