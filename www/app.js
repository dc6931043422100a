// The llm-edge demo page: the npm package (copied from pkg/ into www/pkg/ by scripts/demo.sh)
// in the browser, every provider pointed at the proxy that serves this page: same origin, no
// provider key, only the demo client token of demo-config.json (written by the demo script,
// never committed). Whatever the package does not provide, the page says so.
const $ = (id) => document.getElementById(id);
const PROVIDERS = ["anthropic", "openai", "gemini"];
const MODELS = {
  anthropic: ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-6"],
  openai: ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"],
  gemini: ["gemini-2.5-flash-lite", "gemini-2.5-flash", "gemini-2.5-pro"],
};
// A cheap model per provider: a failing target falls back to the others in this order (the
// package drops a target equal to the requested one).
const FALLBACK = ["openai/gpt-4o-mini", "gemini/gemini-2.5-flash", "anthropic/claude-haiku-4-5"];
// The router's tiers, given explicitly so that the calculator prices what `auto` really uses.
const TIERS = { simple: "anthropic/claude-haiku-4-5", standard: "anthropic/claude-sonnet-4-6", complex: "anthropic/claude-opus-4-6" };
const SYSTEM = "You are the llm-edge demo assistant. Answer briefly and plainly.";
// Mock provider behaviours (tests/mock-provider/README.md), for every call to one provider.
// The cut comes after some text has streamed, so it is always a broken answer, never a retry.
const FAILURES = {
  "rate-limit": [{ status: 429, retryAfter: 1 }],
  outage: [{ status: 503 }],
  cut: [{ cutAfterChunks: 8, chunkDelayMs: 40 }],
  slow: [{ chunkDelayMs: 150, words: 40 }],
};
// Last resort when the package prices nothing: USD per million tokens as [input, output,
// cache read, cache write 5m, cache write 1h].
const PAGE_PRICES_SOURCE = "the page's own table, copied from data/prices.json (checked 2026-11-27)";
const PAGE_PRICES = {
  "anthropic/claude-haiku-4-5": [1, 5, 0.1, 1.25, 2],
  "anthropic/claude-sonnet-4-6": [3, 15, 0.3, 3.75, 6],
  "anthropic/claude-opus-4-6": [5, 25, 0.5, 6.25, 10],
  "openai/gpt-4o-mini": [0.15, 0.6, 0.075],
  "openai/gpt-4.1-mini": [0.4, 1.6, 0.1],
  "openai/gpt-4o": [2.5, 10, 1.25],
  "gemini/gemini-2.5-flash-lite": [0.1, 0.4, 0.01],
  "gemini/gemini-2.5-flash": [0.3, 2.5, 0.03],
  "gemini/gemini-2.5-pro": [1.25, 10, 0.125],
};
// What the page needs from the package, as listed under "What this page uses".
const F = {
  events: "onEvent: retries, fallbacks, breakers",
  route: "routing of model auto (tier, model, reason)",
  cost: "cost per call (onUsage records)",
  project: "client.projectMonthlyCost",
};

let config, pkg, client, auth;
let current; // the call in flight
let failure = { mode: "none", provider: "" };
const history = [];
const session = { usd: 0, count: 0, estimated: false };
const features = new Map();
const t0 = performance.now();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children.filter((c) => c != null));
  return node;
}
const usd = (v) => (v === 0 ? "$0" : v < 0.01 ? `$${v.toPrecision(3)}` : `$${v.toFixed(4)}`);
const money = (v) => `$${v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const ms = (v) => (v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(2)} s`);
const count = (v) => v ?? "–";
async function getJson(url, headers) {
  const res = await fetch(url, { headers, cache: "no-store" });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

function feature(name, ok, note = "") {
  if (features.get(name)?.ok === ok) return;
  features.set(name, { ok, note });
  $("feature-list").replaceChildren(...[...features].map(([n, f]) =>
    el("li", { class: f.ok ? "ok" : "missing" }, `${f.ok ? "✓" : "✗"} ${n}`, f.note ? el("span", { class: "hint" }, ` — ${f.note}`) : null)));
  if (!ok) $("features").open = true;
}

function notice(text) {
  $("notice").textContent = text;
  $("notice").hidden = false;
}

function log(type, text) {
  const list = $("log");
  const stamp = `+${((performance.now() - t0) / 1000).toFixed(1)}s`;
  list.append(el("li", { class: `ev ev-${type}`, "data-type": type }, el("time", {}, stamp), ` ${text}`));
  if (list.children.length > 200) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

// ---------- start-up ----------
async function init() {
  try {
    config = await getJson("demo-config.json");
    pkg = await import("./pkg/browser.js");
  } catch (e) {
    return fatal(`${config ? "The npm package did not load from pkg/" : "demo-config.json could not be read"} (${e.message}). Start the demo with \`npm start\`, which puts both next to this page.`);
  }
  auth = { authorization: `Bearer ${config.token}` };
  $("mode").textContent = config.mockUrl ? "mock providers" : "real providers";
  fillModels(await servedModels());
  fillCalculator();
  try {
    client = new pkg.Client({
      providers: Object.fromEntries(PROVIDERS.map((p) => [p, { baseUrl: location.origin, headers: auth }])),
      retry: { maxRetries: 1, baseDelayMs: 200, maxDelayMs: 1000 },
      circuitBreaker: { failureThreshold: 3, cooldownMs: 20000 },
      fallback: FALLBACK,
      routing: { tiers: TIERS },
      cache: { ttlMs: 600000 },
      timeoutMs: 60000,
      onEvent,
      onUsage: (record) => current && (current.record = record),
    });
  } catch (e) {
    return fatal(`The package refused the client options: ${e.message}`);
  }
  if (config.mockUrl) {
    $("failures").hidden = false;
    $("fallback-list").textContent = FALLBACK.join(" → ");
    await setFailure("none", "", true);
  }
  wire();
  compute();
  await refreshSpend();
  document.documentElement.dataset.ready = "true";
}

function fatal(text) {
  notice(text);
  $("send").disabled = true;
  document.documentElement.dataset.ready = "failed";
}

async function servedModels() {
  try {
    return new Set((await getJson("/v1/models", auth)).data.map((m) => m.id));
  } catch (e) {
    notice(`The proxy did not list its models (${e.message}); every model is offered.`);
  }
}

function fillModels(served) {
  const select = $("model");
  select.append(el("option", { value: "auto" }, "auto (router picks)"));
  for (const provider of PROVIDERS) {
    const group = el("optgroup", { label: provider });
    for (const name of MODELS[provider]) {
      const id = `${provider}/${name}`;
      const option = el("option", { value: id }, name);
      if (served && !served.has(id)) {
        option.disabled = true;
        option.append(" (not served)");
      }
      group.append(option);
    }
    select.append(group);
  }
}

// ---------- policy events ----------
function describe(e) {
  switch (e.type) {
    case "route": return `route ${e.requested} → ${e.decision.tier}: ${e.decision.model} (${e.decision.reason})`;
    case "attempt-start": return `attempt ${e.attempt} → ${e.target}${e.retry ? ` (retry ${e.retry})` : ""}${e.hedge ? " (hedge)" : ""}`;
    case "attempt-failed": return `attempt ${e.attempt} on ${e.target} failed: ${e.error.kind}${e.error.status ? ` (HTTP ${e.error.status})` : ""} after ${ms(e.durationMs)}`;
    case "retry": return `retry ${e.retry} of ${e.target} in ${ms(e.delayMs)} (${e.reason === "server-requested" ? "the server asked" : "backoff"})`;
    case "fallback": return `fallback ${e.from} → ${e.to} (${e.reason})`;
    case "target-skipped": return `skipped ${e.target}: ${e.reason}`;
    case "breaker": return `circuit breaker of ${e.target}: ${e.from} → ${e.to}`;
    case "outcome": return e.ok ? `done: ${e.target} in ${ms(e.elapsedMs)}, ${e.attempts.length} attempt(s)` : `failed: ${e.error} after ${e.attempts.length} attempt(s)`;
    default: return JSON.stringify(e); // an event this page does not know yet: shown as it came
  }
}

function onEvent(e) {
  feature(F.events, true);
  log(e.type, describe(e));
  if (!current) return;
  current.events += 1;
  if (e.type === "route") current.route = e.decision;
  if (e.type === "fallback") current.detours.push(`fell back ${e.from} → ${e.to} (${e.reason})`);
  if (e.type === "target-skipped") current.detours.push(`skipped ${e.target} (${e.reason})`);
  if (e.type === "outcome" && e.ok) current.target = e.target;
}

// ---------- chat ----------
function addMessage(role, text, model) {
  const body = el("div", { class: "text" }, text);
  const li = el("li", { class: `msg ${role}` }, el("div", { class: "who" }, model ? `Assistant · ${model}` : "You"), body);
  follow(() => $("messages").append(li));
  return { li, body };
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
  $("messages").setAttribute("aria-busy", String(busy));
  $("status").textContent = busy ? "Streaming…" : "";
  if (!busy && document.activeElement === $("stop")) $("prompt").focus();
}

async function send(text) {
  const model = $("model").value;
  const user = { role: "user", content: text };
  addMessage("user", text);
  const m = addMessage("assistant", "", model);
  m.li.dataset.state = "streaming";
  const textNode = m.body.appendChild(document.createTextNode(""));
  const controller = new AbortController();
  const call = (current = { m, model, controller, detours: [], events: 0, start: performance.now() });
  setBusy(true);
  try {
    const stream = client.stream({ model, system: [{ text: SYSTEM, cache: "5m" }], messages: [...history, user], maxTokens: 400, signal: controller.signal });
    for await (const ev of stream) {
      if (ev.type === "text-delta") {
        call.first ??= performance.now();
        follow(() => textNode.appendData(ev.text));
      } else if (ev.type === "usage") call.usage = { ...call.usage, ...ev.usage };
      else if (ev.type === "finish") call.finish = ev;
      else if (ev.type === "error") call.error = ev.error;
    }
  } catch (e) {
    call.error = e;
  }
  call.end = performance.now();
  await new Promise((r) => setTimeout(r)); // the usage record may follow the last event
  current = null;
  report(call);
  if (!call.error) history.push(user, { role: "assistant", content: textNode.data });
  setBusy(false);
  // The proxy settles a call just after its response ends: read the spend now and once more.
  await refreshSpend();
  setTimeout(refreshSpend, 1500);
}

function report(call) {
  const { m, model, record, finish, error, start, first, end } = call;
  const usage = finish?.usage ?? error?.usage ?? call.usage;
  const stopped = error?.kind === "cancelled";
  m.li.dataset.state = error ? (stopped ? "stopped" : "failed") : "done";
  $("status").textContent = stopped ? "Stopped." : error ? "Failed." : "Done.";
  const target = finish?.target ?? call.target ?? record?.model;
  const route = call.route ?? record?.route;
  const facts = [];
  if (model === "auto") {
    feature(F.route, Boolean(route), route ? "" : "no route decision came back");
    facts.push(route ? ["route", `${route.tier} → ${route.model}`, route.reason] : ["route", "not reported by this package build"]);
  }
  if (target) facts.push(["served by", target]);
  if (call.detours.length) facts.push(["detours", call.detours.join("; ")]);
  if (first) facts.push(["first token", ms(first - start)]);
  const out = usage?.outputTokens;
  // Over less than 0.1 s (one network read) a rate says nothing.
  if (!error && first && out && end - first >= 100) facts.push(["speed", `${Math.round(out / ((end - first) / 1000))} tokens/s`]);
  facts.push(["total", ms(end - start)]);
  if (usage) {
    const w5 = usage.cacheWrite5mTokens, w1 = usage.cacheWrite1hTokens;
    const writes = w5 == null && w1 == null ? null : (w5 ?? 0) + (w1 ?? 0);
    facts.push(["tokens", `in ${count(usage.inputTokens)} · cache read ${count(usage.cacheReadTokens)} · cache write ${count(writes)} · out ${count(out)}`, error ? "as reported before the stream ended" : ""]);
    if (usage.cacheReadTokens) log("cache", `prompt cache hit: ${usage.cacheReadTokens} input tokens read from the provider's cache`);
  }
  if (record?.cache === "hit") log("cache", "response cache hit: the package answered without calling the proxy");
  // A broken stream still used tokens: price them at the target it was reading from.
  const cost = costOf(call, usage, target ?? error?.attempts?.at(-1)?.target ?? (model === "auto" ? null : model));
  facts.push(["cost", cost ? `${usd(cost.usd)}${cost.note ? ` (${cost.note})` : ""}` : "unknown (no usage or price)"]);
  if (cost) {
    session.usd += cost.usd;
    session.estimated ||= cost.note === "page table";
  }
  if (error) facts.push(stopped ? ["stopped", "by you (the fetch was aborted)"] : ["error", `${error.kind ?? "error"}: ${error.message}`]);
  if (!call.events && !features.has(F.events)) feature(F.events, false, "a call ended without one: the event log stays empty");
  session.count += 1;
  $("session-total").textContent = `${usd(session.usd)}${session.estimated ? " (partly priced by the page)" : ""}`;
  $("session-count").textContent = `${session.count} message${session.count === 1 ? "" : "s"}`;
  const dl = el("dl", { class: "facts" });
  for (const [k, v, hint] of facts) dl.append(el("dt", {}, k), el("dd", { "data-fact": k }, v, hint ? el("span", { class: "hint" }, ` — ${hint}`) : null));
  follow(() => m.li.append(dl));
}

/** Runs a change to the chat, keeping it scrolled to the end if it was there. */
function follow(change) {
  const list = $("messages");
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  change();
  if (atEnd) list.scrollTop = list.scrollHeight;
}

/** The call's cost: from the package's usage record when it has one, else priced by the page. */
function costOf({ record }, usage, target) {
  const given = record?.cost?.usd;
  if (typeof given === "number") {
    feature(F.cost, true);
    return { usd: given, note: record?.cost?.estimated ? "estimated by the package" : "" };
  }
  feature(F.cost, false, `priced by ${PAGE_PRICES_SOURCE}`);
  const price = PAGE_PRICES[target];
  if (!price || !usage) return null;
  const [input, output, read = 0, w5 = input, w1 = input] = price;
  const n = (v) => v ?? 0;
  const total = n(usage.inputTokens) * input + n(usage.outputTokens) * output + n(usage.cacheReadTokens) * read
    + n(usage.cacheWrite5mTokens) * w5 + n(usage.cacheWrite1hTokens) * w1;
  return { usd: total / 1e6, note: "page table" };
}

// ---------- spend and budget ----------
async function refreshSpend() {
  let s;
  try {
    s = await getJson("/v1/llm-edge/spend", auth);
  } catch (e) {
    $("today").textContent = `unavailable (${e.message})`;
    return;
  }
  const daily = s.dailyUsd == null ? "no" : money(s.dailyUsd);
  const pct = s.dailyUsd ? (100 * s.todayUsd) / s.dailyUsd : 0;
  $("today").textContent = usd(s.todayUsd);
  $("daily").textContent = daily;
  $("reserved").textContent = s.reservedUsd ? `(${usd(s.reservedUsd)} reserved by calls in flight)` : "";
  const bar = $("budget-bar");
  bar.setAttribute("aria-valuenow", String(+pct.toPrecision(3)));
  bar.setAttribute("aria-valuetext", `${usd(s.todayUsd)} of ${daily} budget (${pct.toPrecision(2)}%)`);
  bar.dataset.level = pct >= 100 ? "over" : pct >= 80 ? "high" : pct >= 50 ? "half" : "low";
  // At least a sliver, so that a tiny spend still shows.
  $("budget-fill").style.width = `${s.todayUsd > 0 ? Math.max(1, Math.min(pct, 100)) : 0}%`;
}

// ---------- failure switch (mock only) ----------
async function setFailure(mode, provider, quiet = false) {
  if (!quiet && mode === failure.mode && (mode === "none" || provider === failure.provider)) return;
  const url = `${config.mockUrl}/__mock/script`;
  try {
    const cleared = await fetch(url, { method: "DELETE" });
    if (!cleared.ok) throw new Error(`the mock answered ${cleared.status}`);
    if (mode !== "none") {
      const script = { match: { provider }, behaviors: FAILURES[mode], sticky: true };
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(script) });
      if (!res.ok) throw new Error(`the mock answered ${res.status}`);
    }
  } catch (e) {
    $("fail-state").textContent = `The mock provider did not take the switch: ${e.message}`;
    return;
  }
  failure = { mode, provider };
  const label = document.querySelector(`input[name=mode][value="${mode}"]`).parentElement.textContent.trim();
  $("fail-state").textContent = mode === "none" ? "All providers healthy." : `${provider}: ${label}.`;
  if (!quiet) log("switch", mode === "none" ? "failure switch off: every provider healthy" : `failure switch: ${provider} → ${label}`);
}

// ---------- monthly cost calculator ----------
function fillCalculator() {
  const shares = { simple: 45, standard: 35, complex: 20 }; // the labelled routing prompts' mix
  $("c-mix").append(...Object.entries(TIERS).map(([tier, model]) =>
    el("label", {}, `${tier} → ${model.split("/")[1]}`, el("input", { id: `c-${tier}`, type: "number", min: "0", max: "100", value: String(shares[tier]) }))));
  $("c-single").append(...PROVIDERS.flatMap((p) => MODELS[p].map((name) => el("option", {}, `${p}/${name}`))));
  $("c-single").value = TIERS.standard;
}

/** $/month of a plan: the package's projection when it has one, else the page's table. */
function project(plan) {
  const native = typeof client?.projectMonthlyCost === "function";
  feature(F.project, native, native ? "" : `the calculator uses ${PAGE_PRICES_SOURCE}`);
  if (native) {
    const p = client.projectMonthlyCost(plan);
    if (typeof p?.totalUsd !== "number") throw new Error(p?.warnings?.map((w) => w.message).join("; ") || "no total");
    return p.totalUsd;
  }
  const mix = plan.mix ?? { [plan.model]: 1 };
  const weights = Object.values(mix).reduce((a, b) => a + b, 0);
  let perRequest = 0;
  for (const [model, share] of Object.entries(mix)) {
    const price = PAGE_PRICES[model];
    if (!price) throw new Error(`no price for ${model}`);
    perRequest += ((share / weights) * (plan.avgInputTokens * price[0] + plan.avgOutputTokens * price[1])) / 1e6;
  }
  return perRequest * plan.requestsPerDay * 30;
}

function compute() {
  const num = (id) => Math.max(0, Math.round(Number($(id).value) || 0));
  const base = { requestsPerDay: num("c-requests"), avgInputTokens: num("c-input"), avgOutputTokens: num("c-output") };
  const mix = {};
  for (const [tier, model] of Object.entries(TIERS)) if (num(`c-${tier}`)) mix[model] = (mix[model] ?? 0) + num(`c-${tier}`);
  const single = $("c-single").value;
  try {
    if (!Object.keys(mix).length) throw new Error("give at least one tier a share");
    const routed = project({ ...base, mix });
    const alone = project({ ...base, model: single });
    const saving = alone > 0 ? Math.round(100 * (1 - routed / alone)) : 0;
    $("c-result").replaceChildren(
      el("p", {}, "Routed: ", el("strong", { id: "c-routed" }, money(routed)), " / month"),
      el("p", {}, `All on ${single.split("/")[1]}: `, el("strong", { id: "c-single-usd" }, money(alone)), " / month"),
      el("p", {}, saving >= 0 ? `Routing saves ${saving}%.` : `Routing costs ${-saving}% more.`),
      el("p", { class: "hint" }, `30 days, no caching; priced by ${features.get(F.project).ok ? "the package (client.projectMonthlyCost)" : PAGE_PRICES_SOURCE}.`),
    );
  } catch (e) {
    $("c-result").replaceChildren(el("p", {}, `Cannot compute: ${e.message}`));
  }
}

// ---------- wiring ----------
function wire() {
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("prompt").value.trim();
    if (!text || current) return;
    $("prompt").value = "";
    send(text);
  });
  $("prompt").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("stop").addEventListener("click", () => current?.controller.abort());
  document.addEventListener("keydown", (e) => e.key === "Escape" && current?.controller.abort());
  $("clear").addEventListener("click", () => {
    current?.controller.abort();
    history.length = 0;
    $("messages").replaceChildren();
  });
  $("log-clear").addEventListener("click", () => $("log").replaceChildren());
  $("failure-form").addEventListener("change", () =>
    setFailure(document.querySelector("input[name=mode]:checked").value, $("fail-provider").value));
  $("calc").addEventListener("submit", (e) => {
    e.preventDefault();
    compute();
  });
  $("calc").addEventListener("input", compute);
}

init();
