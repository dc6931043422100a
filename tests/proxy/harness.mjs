// Starts the mock provider and the BUILT Worker (build/index.js) in workerd via `wrangler dev`,
// configured through --var only (the user's .dev.vars is never read or written), with a fresh
// Durable Object state folder per run. Every response the suite sees can be scanned for keys.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMockProvider } from "../mock-provider/server.mjs";
import { REPO_ROOT, startWrangler } from "../js/helpers.mjs";

export const PROVIDER_KEYS = {
  ANTHROPIC_API_KEY: "sk-ant-proxy-test-SECRET-1111",
  OPENAI_API_KEY: "sk-openai-proxy-test-SECRET-2222",
  GEMINI_API_KEY: "gemini-proxy-test-SECRET-3333",
};

export const CLIENTS = {
  "client-token-main": { name: "main", dailyBudgetUsd: 100, requestsPerMinute: 10000, tokensPerMinute: 100000000, models: ["*"] },
  "client-token-limited": { name: "limited", dailyBudgetUsd: 100, requestsPerMinute: 3, tokensPerMinute: 100000000, models: ["*"] },
  "client-token-budget": { name: "budget", dailyBudgetUsd: 0.002, requestsPerMinute: 10000, tokensPerMinute: 100000000, models: ["*"] },
  "client-token-screened": { name: "screened", dailyBudgetUsd: 10, requestsPerMinute: 10000, tokensPerMinute: 100000000, models: ["*"], screening: "block" },
  // Far from their limits: served under leases (see tests/proxy/leases.test.mjs).
  "client-token-lease-wide": { name: "lease-wide", dailyBudgetUsd: 10, requestsPerMinute: 100000, tokensPerMinute: 1000000000, models: ["*"] },
  "client-token-lease-tight": { name: "lease-tight", dailyBudgetUsd: 0.01, requestsPerMinute: 100000, tokensPerMinute: 1000000000, models: ["*"] },
  "client-token-haiku-only": { name: "haiku-only", dailyBudgetUsd: 10, requestsPerMinute: 10000, tokensPerMinute: 100000000, models: ["anthropic/claude-haiku-4-5", "auto"] },
};

export const ALLOWED_ORIGIN = "https://app.example";

/** Every response body and header value seen by the suite, for the key scan. */
export const seen = [];

export async function recordResponse(res) {
  const clone = res.clone();
  const body = await clone.text();
  seen.push({ url: res.url, status: res.status, headers: [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n"), body });
  return res;
}

/** A fetch that records what it got, for the SDK clients and direct calls. */
export async function recordingFetch(input, init) {
  return recordResponse(await fetch(input, init));
}

export async function startProxy(extraVars = {}) {
  const mock = await startMockProvider();
  const persist = mkdtempSync(join(tmpdir(), "llm-edge-proxy-test-"));
  const vars = {
    ...PROVIDER_KEYS,
    ANTHROPIC_BASE_URL: mock.url,
    OPENAI_BASE_URL: mock.url,
    GEMINI_BASE_URL: mock.url,
    CLIENTS: JSON.stringify(CLIENTS),
    ALLOWED_ORIGINS: ALLOWED_ORIGIN,
    ...extraVars,
  };
  let worker;
  try {
    worker = await startWrangler(`${REPO_ROOT}wrangler.toml`, { vars, readyPath: "/health", persistTo: persist });
  } catch (error) {
    await mock.close();
    rmSync(persist, { recursive: true, force: true });
    throw error;
  }
  return {
    mock,
    url: worker.url,
    logs: worker.output,
    stop: async () => {
      await worker.stop();
      await mock.close();
      rmSync(persist, { recursive: true, force: true });
    },
  };
}
