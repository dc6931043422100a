// The built package inside workerd: a tiny Worker (tests/js/worker) imports "llm-edge" through
// wrangler's bundler, as a user's Worker would, and streams from the mock provider.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startMockProvider } from "../mock-provider/server.mjs";
import { REPO_ROOT, startWrangler } from "./helpers.mjs";

let mock, worker;

before(async () => {
  mock = await startMockProvider();
  worker = await startWrangler(`${REPO_ROOT}tests/js/worker/wrangler.toml`, { vars: { MOCK_URL: mock.url } });
});

after(async () => {
  await worker?.stop();
  await mock?.close();
});

for (const provider of ["anthropic", "openai", "gemini"]) {
  test(`${provider}: text streams incrementally in workerd`, async () => {
    const report = await (await fetch(`${worker.url}/stream?provider=${provider}`)).json();
    assert.equal(report.error, null);
    assert.ok(report.deltas >= 10, `expected many deltas, got ${report.deltas}`);
    assert.equal(report.finish.finishReason, "stop");
    assert.equal(report.finish.usage.outputTokens, 20);
    // The mock recorded a streamed request from the Worker with the provider's auth header.
    const seen = mock.requests().filter((r) => r.provider === provider);
    assert.ok(seen.length >= 1);
    assert.equal(seen.at(-1).outcome, "completed");
  });
}

test("errors thrown inside workerd are LlmEdgeError instances", async () => {
  const result = await (await fetch(`${worker.url}/error`)).json();
  assert.deepEqual(result, { thrown: true, isLlmEdgeError: true, kind: "authentication", status: 401 });
});
