// Leases through the built Worker: a client far from its limits is served from a slice of its
// budget held by the isolate, and reports its spend in batches. Two clients under concurrent
// load: neither passes its budget, and once the leases are flushed every served call is billed
// exactly (the spend equals the sum of the costs the proxy answered with).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { recordingFetch, startProxy } from "./harness.mjs";

let proxy;

before(async () => {
  proxy = await startProxy();
});

after(async () => {
  await proxy?.stop();
});

const chat = (token, maxTokens) =>
  recordingFetch(`${proxy.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({
      model: "anthropic/claude-haiku-4-5",
      max_tokens: maxTokens,
      messages: [{ role: "user", content: "Tell me a long story about budgets." }],
    }),
  });

const spendOf = async (token) =>
  (await recordingFetch(`${proxy.url}/v1/llm-edge/spend`, { headers: { authorization: `Bearer ${token}` } })).json();

/** `total` calls, `concurrency` at a time: each call's status and answered cost. */
async function load(token, total, concurrency, maxTokens) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      next++;
      const res = await chat(token, maxTokens);
      const text = await res.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        assert.fail(`${res.status} is not JSON: ${text}`);
      }
      results.push({ status: res.status, cost: Number(res.headers.get("x-llm-edge-cost-usd") ?? 0), body });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/** Polls the spend until no lease holds budget any more (the isolate flushed them). */
async function settledSpend(token) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const spend = await spendOf(token);
    if (spend.reservedPico === 0 || Date.now() > deadline) return spend;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

test("two clients under concurrent load: budgets hold, and every served call is billed after a flush", async (t) => {
  const started = Date.now();
  const wideLoad = async () => {
    const first = await load("client-token-lease-wide", 5, 1, 10);
    // Read well within the lease's 5 s window: the unreported part of the slice is reserved.
    const during = await spendOf("client-token-lease-wide");
    return [[...first, ...(await load("client-token-lease-wide", 75, 8, 10))], during, sum(first.map((r) => r.cost))];
  };
  const [[wide, during, firstCost], tight] = await Promise.all([wideLoad(), load("client-token-lease-tight", 240, 16, 10)]);
  t.diagnostic(`loads took ${Date.now() - started} ms`);

  // The wide client is far from its limits: everything is served, and what it spent is
  // reported or still held by a lease at every moment.
  assert.deepEqual([...new Set(wide.map((r) => r.status))], [200]);
  const wideCost = sum(wide.map((r) => r.cost));
  assert.ok(wideCost > 0);
  assert.ok(during.reservedPico > 0, `a lease holds part of the budget: ${JSON.stringify(during)}`);
  assert.ok(during.todayUsd + during.reservedUsd >= firstCost - 1e-9, JSON.stringify(during));

  // The tight client runs out: calls are served until the budget is used, then refused for
  // budget, never with anything else.
  const served = tight.filter((r) => r.status === 200);
  const refused = tight.filter((r) => r.status !== 200);
  assert.ok(served.length >= 10, `${served.length} served`);
  assert.ok(refused.length >= 10, `${refused.length} refused`);
  for (const r of refused) {
    assert.ok([402, 429].includes(r.status), `${r.status} ${JSON.stringify(r.body)}`);
    assert.match(r.body.error.message, /budget/i);
  }
  const tightCost = sum(served.map((r) => r.cost));
  t.diagnostic(`tight: ${served.length} served, ${refused.length} refused`);

  const flushing = Date.now();
  const [wideSpend, tightSpend] = await Promise.all([settledSpend("client-token-lease-wide"), settledSpend("client-token-lease-tight")]);
  t.diagnostic(`leases were closed ${Date.now() - flushing} ms after the load`);
  for (const [spend, cost, name] of [[wideSpend, wideCost, "wide"], [tightSpend, tightCost, "tight"]]) {
    assert.equal(spend.reservedPico, 0, `${name}: leases were closed`);
    assert.ok(Math.abs(spend.todayUsd - cost) < 1e-9, `${name}: spent ${spend.todayUsd}, served calls cost ${cost}`);
    assert.ok(spend.todayPico <= spend.dailyPico, `${name}: ${spend.todayPico} of ${spend.dailyPico}`);
  }
  // Budget alerts fire once each, whichever lease's report crossed them.
  const alerts = proxy
    .logs()
    .split("\n")
    .filter((line) => line.includes('"budget_alert"'))
    .map((line) => JSON.parse(line.slice(line.indexOf("{"))).alert);
  const crossed = [0.5, 0.8, 1].filter((threshold) => tightSpend.todayUsd >= threshold * tightSpend.dailyUsd - 1e-12);
  assert.deepEqual(alerts.map((a) => a.threshold), crossed, JSON.stringify(alerts));
  assert.ok(alerts.every((a) => a.budgetUsd === 0.01));
  assert.ok(tightSpend.todayUsd > tightSpend.dailyUsd / 2, `the tight budget was mostly used: ${JSON.stringify(tightSpend)}`);
});

