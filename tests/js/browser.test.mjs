// The built package in a real headless Chromium (Debian's), loaded as a static ES module.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { startMockProvider } from "../mock-provider/server.mjs";
import { startStaticServer } from "./helpers.mjs";
import { TRICKY_TEXT } from "./scenarios.mjs";

const CHROMIUM_FLAGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic",
];

let mock, site, browser, page;
const consoleErrors = [];

before(async () => {
  mock = await startMockProvider();
  site = await startStaticServer();
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
  page = await browser.newPage();
  page.on("console", (msg) => msg.type() === "error" && consoleErrors.push(msg.text()));
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  await page.goto(`${site.url}/tests/js/browser-page.html`);
  await page.waitForFunction(() => window.llmEdge !== undefined);
});

after(async () => {
  await browser?.close();
  await site?.close();
  await mock?.close();
});

for (const provider of ["anthropic", "openai", "gemini"]) {
  test(`${provider}: text streams incrementally in Chromium`, async () => {
    const report = await page.evaluate(
      ([mockUrl, p]) => window.llmEdge.streamingScenario(window.llmEdge.Client, mockUrl, p),
      [mock.url, provider],
    );
    assert.equal(report.error, null);
    assert.ok(report.deltas >= 10, `expected many deltas, got ${report.deltas}`);
    assert.ok(report.firstDeltaMs < report.totalMs / 2, `first delta at ${report.firstDeltaMs} ms of ${report.totalMs} ms`);
    assert.equal(report.finish.finishReason, "stop");
    assert.equal(report.finish.usage.outputTokens, 20);
    assert.match(report.text, /^Mock answer/);
  });
}

test("streamed text with escapes, control and multi-byte characters arrives exactly in Chromium", async () => {
  for (const provider of ["anthropic", "openai", "gemini"]) {
    const report = await page.evaluate(
      ([mockUrl, p]) => window.llmEdge.streamingScenario(window.llmEdge.Client, mockUrl, p, { chunkDelayMs: 0, text: window.llmEdge.TRICKY_TEXT }),
      [mock.url, provider],
    );
    assert.equal(report.error, null, provider);
    assert.equal(report.text, TRICKY_TEXT, provider);
  }
});

test("a provider key in a browser throws unless dangerouslyAllowBrowser is set", async () => {
  const result = await page.evaluate(() => {
    const { Client, LlmEdgeError } = window.llmEdge;
    let refused;
    try {
      new Client({ providers: { openai: { apiKey: "sk-test" } } });
      refused = null;
    } catch (e) {
      refused = { isLlmEdgeError: e instanceof LlmEdgeError, kind: e.kind, message: e.message };
    }
    new Client({ providers: { openai: { apiKey: "sk-test" } }, dangerouslyAllowBrowser: true });
    new Client({ providers: { openai: { baseUrl: "https://proxy.example" } } });
    return refused;
  });
  assert.ok(result, "the constructor must throw");
  assert.equal(result.isLlmEdgeError, true);
  assert.equal(result.kind, "config");
  assert.match(result.message, /proxy/);
});

test("no console errors in the page", () => {
  assert.deepEqual(consoleErrors, []);
});
