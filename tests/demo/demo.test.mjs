// The demo page (www/) served by the BUILT Worker in workerd, driven in headless Chromium: the
// npm package in the page streams through the proxy to the mock provider. The page, the package
// and a demo config are staged in a temporary folder, so the repository's www/ is not touched.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startMockProvider } from "../mock-provider/server.mjs";
import { REPO_ROOT, freePort, startWrangler, waitFor } from "../js/helpers.mjs";

const OUTPUT = join(REPO_ROOT, "test-output/demo");
const TOKEN = "demo-test-token-0123456789";
const PAGE_BUDGET_BYTES = 25 * 1024; // the page's own JS + CSS
const CHROMIUM_FLAGS = [
  "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--no-first-run", "--disable-quic",
];
// USD per million tokens (data/prices.json): [input, output, cache read, cache write 5m].
const HAIKU = [1, 5, 0.1, 1.25];

let stage, mock, worker, browser, page;
// Console errors, except the browser's own line for each HTTP error that the failure switch
// provoked on purpose (Chromium logs every 4xx/5xx fetch response; a page cannot prevent it).
const consoleErrors = [];
let provokedFailures = false;

/** Copies the page, the browser build of the package and a demo config into `dir/site`. */
function stageSite(dir, config) {
  const site = join(dir, "site");
  const www = join(REPO_ROOT, "www");
  cpSync(www, site, { recursive: true, filter: (src) => ![join(www, "pkg"), join(www, "demo-config.json")].includes(src) });
  mkdirSync(join(site, "pkg/wasm"), { recursive: true });
  for (const file of ["browser.js", "core.js", "wasm/llm_edge.js", "wasm/llm_edge_bg.wasm"]) {
    cpSync(join(REPO_ROOT, "pkg", file), join(site, "pkg", file));
  }
  writeFileSync(join(site, "demo-config.json"), JSON.stringify(config));
  const toml = readFileSync(join(REPO_ROOT, "wrangler.toml"), "utf8");
  const staged = toml
    .replace(/^main = ".*"$/m, `main = ${JSON.stringify(join(REPO_ROOT, "build/index.js"))}`)
    .replace(/^directory = ".*"$/m, 'directory = "./site"');
  assert.ok(staged.includes("build/index.js\"") && staged.includes('"./site"'), "wrangler.toml has the expected main and [assets] lines");
  writeFileSync(join(dir, "wrangler.toml"), staged);
  return join(dir, "wrangler.toml");
}

before(async () => {
  mkdirSync(OUTPUT, { recursive: true });
  stage = mkdtempSync(join(tmpdir(), "llm-edge-demo-test-"));
  mock = await startMockProvider();
  const configPath = stageSite(stage, { token: TOKEN, mockUrl: mock.url });
  const port = await freePort();
  worker = await startWrangler(configPath, {
    port,
    readyPath: "/health",
    persistTo: join(stage, "state"),
    vars: {
      ANTHROPIC_API_KEY: "mock-anthropic-key",
      OPENAI_API_KEY: "mock-openai-key",
      GEMINI_API_KEY: "mock-gemini-key",
      ANTHROPIC_BASE_URL: mock.url,
      OPENAI_BASE_URL: mock.url,
      GEMINI_BASE_URL: mock.url,
      CLIENTS: JSON.stringify({ [TOKEN]: { name: "demo", dailyBudgetUsd: 0.5, requestsPerMinute: 60, tokensPerMinute: 100000, models: ["*"] } }),
      ALLOWED_ORIGINS: `http://127.0.0.1:${port}`,
      POLICY: JSON.stringify({ retry: { maxRetries: 0 }, circuitBreaker: null }),
    },
  });
  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const provoked = provokedFailures
      && /^Failed to load resource: the server responded with a status of (429|503)\b/.test(msg.text())
      && /^http:\/\/127\.0\.0\.1:\d+\/(v1\/|v1beta\/)/.test(msg.location().url);
    if (!provoked) consoleErrors.push(`${msg.text()} at ${msg.location().url}`);
  });
  await page.goto(`${worker.url}/`);
  await page.waitForFunction(() => document.documentElement.dataset.ready, null, { timeout: 15000 });
  assert.equal(await page.evaluate(() => document.documentElement.dataset.ready), "true", await page.textContent("#notice"));
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await mock?.close();
  if (stage) rmSync(stage, { recursive: true, force: true });
});

const lastAnswer = () => page.locator(".msg.assistant").last();

/** The facts listed under the last answer, as { name: text }. */
async function facts() {
  return lastAnswer().evaluate((li) =>
    Object.fromEntries([...li.querySelectorAll("dd[data-fact]")].map((dd) => [dd.dataset.fact, dd.textContent])));
}

async function send(model, prompt) {
  await page.selectOption("#model", model);
  await page.fill("#prompt", prompt);
  await page.keyboard.press("Enter"); // Enter in the message box sends (the keyboard path)
}

async function settled(timeout = 20000) {
  await page.waitForFunction(() => {
    const li = [...document.querySelectorAll(".msg.assistant")].at(-1);
    return li && li.dataset.state !== "streaming";
  }, null, { timeout });
  return lastAnswer().getAttribute("data-state");
}

async function setFailure(provider, mode) {
  await page.selectOption("#fail-provider", provider);
  await page.check(`input[name=mode][value="${mode}"]`);
  await waitFor(async () => {
    const queue = await (await fetch(`${mock.url}/__mock/script`)).json();
    return mode === "none" ? queue.length === 0 : queue.some((s) => s.match?.provider === provider && s.sticky);
  }, { what: `the mock to take the ${mode} switch` });
}

const logEntries = (type) => page.locator(`#log li[data-type="${type}"]`).allTextContents();

test("a prompt streams token by token, with the route, timings, tokens by class and cost", async () => {
  // Slow this one answer a little, so that the page has time to show it in steps.
  mock.addScript({ match: { provider: "anthropic" }, behaviors: [{ chunkDelayMs: 25 }], times: 1 });
  // Sample the answer's length on every animation frame until it settles.
  await page.evaluate(() => {
    window.samples = [];
    const tick = () => {
      const li = [...document.querySelectorAll(".msg.assistant")].at(-1);
      const length = li?.querySelector(".text").textContent.length ?? 0;
      if (li && window.samples.at(-1) !== length) window.samples.push(length);
      if (!li || li.dataset.state === "streaming") requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await send("anthropic/claude-haiku-4-5", "Why should a proxy hold the keys?");
  assert.equal(await settled(), "done");
  const text = await lastAnswer().locator(".text").textContent();
  assert.match(text, /^Mock answer from anthropic\/claude-haiku-4-5: Why should a proxy hold the keys\?/);
  const samples = await page.evaluate(() => window.samples.filter((n) => n > 0));
  assert.ok(samples.length >= 5, `the text should arrive in several steps, saw lengths ${samples}`);
  assert.deepEqual([...samples].sort((a, b) => a - b), samples, "the text only grows");
  assert.equal(samples.at(-1), text.length);

  const f = await facts();
  assert.equal(f["served by"], "anthropic/claude-haiku-4-5");
  assert.match(f["first token"], /^\d+ ms$/);
  assert.match(f.speed, /^\d+ tokens\/s$/);
  assert.match(f.total, /^\d+ ms$|^\d+\.\d\d s$/);
  const tokens = f.tokens.match(/^in (\d+) · cache read (\d+) · cache write (\d+) · out (\d+)$/);
  assert.ok(tokens, `tokens by class: ${f.tokens}`);
  const [input, read, write, output] = tokens.slice(1).map(Number);
  assert.equal(output, 24);
  // The system prompt carries a cache marker: written on this first call.
  assert.ok(write > 0, "the marked system prompt is written to the prompt cache");
  const expected = (input * HAIKU[0] + output * HAIKU[1] + read * HAIKU[2] + write * HAIKU[3]) / 1e6;
  const shown = Number(f.cost.match(/^\$([\d.]+)/)[1]);
  assert.ok(Math.abs(shown - expected) / expected < 0.01, `cost ${f.cost}, expected about $${expected}`);

  // The daily budget bar reflects what the proxy charged.
  await waitFor(async () => /^\$\d/.test(await page.textContent("#today")) && (await page.textContent("#today")) !== "$0",
    { timeoutMs: 5000, what: "today's spend" });
  assert.equal(await page.textContent("#daily"), "$0.50");
  assert.ok(Number(await page.getAttribute("#budget-bar", "aria-valuenow")) > 0);
  assert.match(await page.textContent("#session-total"), /^\$0\.0/);
});

test("auto: the router's tier, model and reason are shown with the answer", async () => {
  await send("auto", "Hi! What's the capital of France?");
  assert.equal(await settled(), "done", JSON.stringify(await facts()));
  const f = await facts();
  assert.match(f.route, /^(simple|standard|complex) → (anthropic|openai|gemini)\/\S+ — \S/, `route: ${f.route}`);
  assert.equal(f["served by"], f.route.match(/→ (\S+)/)[1]);
  assert.ok((await logEntries("route")).length >= 1, "the route decision is in the event log");
  // A greeting is simple: haiku again, whose marked system prompt the first test cached.
  assert.match(f.route, /^simple → anthropic\/claude-haiku-4-5/);
  assert.match(f.tokens, /cache read [1-9]/);
  assert.ok((await logEntries("cache")).some((e) => /prompt cache hit: \d+ input tokens/.test(e)), "the cache hit is in the event log");
});

test("Stop aborts a slow stream midway, and the proxy cancels the upstream call", async () => {
  await setFailure("anthropic", "slow");
  const before = mock.requests({ provider: "anthropic" }).length;
  await send("anthropic/claude-haiku-4-5", "Tell me a long story");
  await page.waitForFunction(() =>
    [...document.querySelectorAll(".msg.assistant")].at(-1).querySelector(".text").textContent.split(" ").length > 6);
  assert.equal(await page.isDisabled("#stop"), false);
  await page.click("#stop");
  assert.equal(await settled(5000), "stopped");
  const words = (await lastAnswer().locator(".text").textContent()).trim().split(/\s+/).length;
  assert.ok(words < 40, `stopped midway, got ${words} of 40 words`);
  assert.match((await facts()).stopped, /by you/);
  assert.equal(await page.isDisabled("#stop"), true);
  assert.equal(await page.isDisabled("#send"), false);
  const upstream = mock.requests({ provider: "anthropic" }).slice(before);
  assert.equal(upstream.length, 1);
  await waitFor(() => upstream[0].outcome === "client-closed", { what: "the upstream stream to be closed by the proxy" });
  assert.ok(upstream[0].chunksSent < 40);
  await setFailure("anthropic", "none");
});

test("failure switch: an outage falls back to another provider and opens the breaker; 429s are retried", async () => {
  provokedFailures = true;
  await setFailure("anthropic", "outage");
  await send("anthropic/claude-haiku-4-5", "Are you there?");
  assert.equal(await settled(), "done");
  assert.match(await lastAnswer().locator(".text").textContent(), /^Mock answer from openai\/gpt-4o-mini:/);
  let f = await facts();
  assert.equal(f["served by"], "openai/gpt-4o-mini");
  assert.match(f.detours, /fell back anthropic\/claude-haiku-4-5 → openai\/gpt-4o-mini \(server_error\)/);
  assert.ok((await logEntries("attempt-failed")).some((e) => /anthropic\/claude-haiku-4-5 failed: server_error \(HTTP 5\d\d\)/.test(e)));
  assert.ok((await logEntries("retry")).some((e) => /anthropic\/claude-haiku-4-5/.test(e)));
  assert.ok((await logEntries("fallback")).some((e) => e.includes("anthropic/claude-haiku-4-5 → openai/gpt-4o-mini")));

  // Third failure in a row: the page's breaker (threshold 3) opens.
  await send("anthropic/claude-haiku-4-5", "Still there?");
  assert.equal(await settled(), "done");
  assert.ok((await logEntries("breaker")).some((e) => /anthropic\/claude-haiku-4-5: closed → open/.test(e)), "breaker opens");
  await send("anthropic/claude-haiku-4-5", "And now?");
  assert.equal(await settled(), "done");
  assert.match((await facts()).detours, /skipped anthropic\/claude-haiku-4-5 \(circuit-open\)/);
  await setFailure("anthropic", "none");

  await setFailure("gemini", "rate-limit");
  await send("gemini/gemini-2.5-flash", "Busy?");
  assert.equal(await settled(), "done");
  assert.ok((await logEntries("retry")).some((e) => /gemini\/gemini-2\.5-flash in \d.* \(the server asked\)/.test(e)), "waits as the server asked");
  f = await facts();
  assert.match(f.detours, /fell back gemini\/gemini-2\.5-flash → openai\/gpt-4o-mini \(rate_limited\)/);
  await setFailure("gemini", "none");
  provokedFailures = false;
});

test("failure switch: a cut stream ends as an error with the partial text, never as a success", async () => {
  await setFailure("openai", "cut");
  await send("openai/gpt-4o-mini", "Cut me off");
  assert.equal(await settled(), "failed");
  const f = await facts();
  assert.ok(f.error, "the error is shown");
  assert.match(await lastAnswer().locator(".text").textContent(), /^Mock answer from openai\/gpt-4o-mini:/);
  await setFailure("openai", "none");
});

test("monthly cost: routed mix against a single model", async () => {
  for (const [id, value] of [["c-requests", "1000"], ["c-input", "1000"], ["c-output", "500"], ["c-simple", "60"], ["c-standard", "30"], ["c-complex", "10"]]) {
    await page.fill(`#${id}`, value);
  }
  await page.selectOption("#c-single", "anthropic/claude-sonnet-4-6");
  await page.click("#calc button[type=submit]");
  // 30 000 requests a month of 1000 in / 500 out: haiku $0.0035, sonnet $0.0105, opus $0.0175.
  assert.equal(await page.textContent("#c-routed"), "$210.00");
  assert.equal(await page.textContent("#c-single-usd"), "$315.00");
  assert.match(await page.textContent("#c-result"), /Routing saves 33%/);
});

test("screenshots at desktop and phone width; nothing overflows the phone screen", async () => {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(OUTPUT, "desktop.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.evaluate(() => window.scrollTo(0, 0));
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
  await page.screenshot({ path: join(OUTPUT, "phone.png") });
  await page.screenshot({ path: join(OUTPUT, "phone-full.png"), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("with real providers (no mock in the config) the failure switch is hidden", async () => {
  const real = await browser.newPage();
  real.on("pageerror", (error) => consoleErrors.push(String(error)));
  await real.route("**/demo-config.json", (route) =>
    route.fulfill({ contentType: "application/json", body: JSON.stringify({ token: TOKEN, mockUrl: null }) }));
  await real.goto(`${worker.url}/`);
  await real.waitForFunction(() => document.documentElement.dataset.ready === "true");
  assert.equal(await real.isHidden("#failures"), true);
  assert.equal(await real.textContent("#mode"), "real providers");
  await real.close();
});

test("no console errors in the page", () => {
  assert.deepEqual(consoleErrors, []);
});

test("the page's own JS and CSS stay under the size budget", () => {
  const bytes = ["app.js", "style.css"].reduce((sum, file) => sum + statSync(join(REPO_ROOT, "www", file)).size, 0);
  assert.ok(bytes < PAGE_BUDGET_BYTES, `www/app.js + www/style.css = ${bytes} bytes (budget ${PAGE_BUDGET_BYTES})`);
});
