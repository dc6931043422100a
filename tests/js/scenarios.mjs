// Scenarios shared by the Node, headless-Chromium and workerd tests of the built package: the
// same code runs in all three runtimes and returns a plain report that the test asserts on.

export const MODELS = {
  anthropic: "anthropic/claude-haiku-4-5",
  openai: "openai/gpt-4o-mini",
  gemini: "gemini/gemini-2.5-flash",
};

/** Client options pointing every provider at the mock. */
export function mockProviders(mockUrl) {
  return {
    anthropic: { apiKey: "test-anthropic-key", baseUrl: mockUrl },
    openai: { apiKey: "test-openai-key", baseUrl: mockUrl },
    gemini: { apiKey: "test-gemini-key", baseUrl: mockUrl },
  };
}

/**
 * Text whose pieces put quotes, backslashes, escaped control characters and multi-byte
 * characters at every offset of a 16-byte block, next to runs longer than one: the stream
 * decoders scan strings 16 bytes at a time in the wasm.
 */
export const TRICKY_TEXT = Array.from({ length: 40 }, (_, i) =>
  `${"x".repeat(i)}"q\\b\ttab\u0001é😀${"y".repeat(40 - i)}\n`).join(" ");

/** JSON with every non-ASCII character escaped, as a header value must be. */
const asciiJson = (value) =>
  JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

/**
 * Streams a 20-word answer sent one word every `chunkDelayMs` and reports when the text arrived:
 * streaming works only if the first delta arrives long before the end.
 */
export async function streamingScenario(Client, mockUrl, provider, { chunkDelayMs = 25, words = 20, text } = {}) {
  const client = new Client({ providers: mockProviders(mockUrl), dangerouslyAllowBrowser: true });
  const started = Date.now();
  const stream = client.stream({
    model: MODELS[provider],
    messages: [{ role: "user", content: "Stream me a story" }],
    maxTokens: 100,
    headers: { "x-mock-behavior": asciiJson(text === undefined ? { chunkDelayMs, words } : { chunkDelayMs, text }) },
  });
  const report = { deltas: 0, firstDeltaMs: null, totalMs: null, text: "", finish: null, types: [], error: null };
  for await (const event of stream) {
    if (!report.types.includes(event.type)) report.types.push(event.type);
    if (event.type === "text-delta") {
      report.deltas += 1;
      report.text += event.text;
      if (report.firstDeltaMs === null) report.firstDeltaMs = Date.now() - started;
    } else if (event.type === "finish") {
      report.finish = { finishReason: event.finishReason, usage: event.usage };
    } else if (event.type === "error") {
      report.error = { kind: event.error.kind, message: event.error.message };
    }
  }
  report.totalMs = Date.now() - started;
  return report;
}
