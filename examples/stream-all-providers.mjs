// Streams one answer from each provider through the built npm package and prints usage.
// With MOCK_URL set it talks to that mock provider (`npm run mock` starts one);
// set ANTHROPIC_API_KEY / OPENAI_API_KEY / GEMINI_API_KEY to talk to the real APIs instead.
import { Client, LlmEdgeError } from "llm-edge";

const mockUrl = process.env.MOCK_URL;
const provider = (name, envKey) =>
  process.env[envKey] ? { apiKey: process.env[envKey] } : { apiKey: "mock-key", baseUrl: mockUrl };

const client = new Client({
  providers: {
    anthropic: provider("anthropic", "ANTHROPIC_API_KEY"),
    openai: provider("openai", "OPENAI_API_KEY"),
    gemini: provider("gemini", "GEMINI_API_KEY"),
  },
});

for (const model of ["anthropic/claude-haiku-4-5", "openai/gpt-4o-mini", "gemini/gemini-2.5-flash"]) {
  process.stdout.write(`\n\x1b[1m${model}\x1b[0m\n`);
  const started = Date.now();
  let firstTokenMs;
  for await (const event of client.stream({
    model,
    messages: [{ role: "user", content: "Explain in one sentence why streaming matters." }],
    maxTokens: 200,
    headers: mockUrl ? { "x-mock-behavior": JSON.stringify({ chunkDelayMs: 30 }) } : {},
  })) {
    if (event.type === "text-delta") {
      firstTokenMs ??= Date.now() - started;
      process.stdout.write(event.text);
    } else if (event.type === "finish") {
      const u = event.usage;
      console.log(
        `\n  finish: ${event.finishReason} | first token ${firstTokenMs} ms, total ${Date.now() - started} ms | ` +
          `input ${u.inputTokens}, cache read ${u.cacheReadTokens ?? "-"}, output ${u.outputTokens}`,
      );
    } else if (event.type === "error") {
      console.log(`\n  error: ${event.error.kind}: ${event.error.message}`);
    }
  }
}

try {
  await client.chat({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "Hi" }],
    headers: mockUrl ? { "x-mock-behavior": JSON.stringify({ status: 429, errorType: "insufficient_quota" }) } : {} });
} catch (error) {
  if (error instanceof LlmEdgeError) {
    console.log(`\nA typed error: kind=${error.kind} status=${error.status} provider=${error.provider} retryable=${error.retryable}`);
  }
}
