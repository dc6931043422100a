#!/usr/bin/env node
// Section 1 of bench/run.sh: what a proxy adds over calling the provider directly.
//
// One mock upstream (the peer harness's mock-upstream.mjs: 50-token answers, no delay) serves
// every target in the same run, in interleaved rounds (target order rotated per round):
//   direct    the mock itself (the baseline every "added" figure subtracts, same round)
//   floor     bench/floor-worker: a ten-line JavaScript passthrough Worker, under `wrangler dev`
//   llm-edge  the built Worker proxy (build/), under `wrangler dev`
//   floor-bare, llm-edge-bare  the same two Workers in workerd alone (no wrangler, no
//             miniflare entry worker, no inspector: the runtime as a deployment runs it)
//   portkey   Portkey AI Gateway (Node), from the peer harness's dependencies
//   litellm   LiteLLM proxy (Python), from the peer harness's dependencies
// Two modes: passthrough (OpenAI format in, OpenAI upstream) and translated (OpenAI format in,
// Anthropic upstream; direct and floor then call the Anthropic endpoint as-is, which is the
// upstream work the proxies do). JSON and SSE, 1 and 16 concurrent, closed loop, each cell
// bounded by time and by request count. Under `wrangler dev`, requests go to the Worker's own
// workerd socket, skipping wrangler's dev-only proxy hop (a second workerd); the `-dev` targets
// go through that hop, as `wrangler dev` users see it (c=1, passthrough only).
//
// Env knobs: ROUNDS [3] CELL_SECONDS [0.8] CONCS [1,16]
//   TARGETS [direct,floor,llm-edge,floor-bare,llm-edge-bare,portkey,litellm]
//   DEV_HOP [1] (also measure floor-dev/llm-edge-dev at c=1) QUICK=1 (1 round, 0.5 s cells)
//   LLM_EDGE_BUILD_B [unset] a second Worker build dir (e.g. a copy of build/ before a change):
//             adds the target llm-edge-b-bare (it in workerd alone) and its rows in the breakdown,
//             so that two builds are compared in the same rounds
//   BREAKDOWN_ONLY=1 skip the load cells and the probe: only the cost breakdown
//   PEERS_DIR [~/.cache/llm-edge-bench/peers] (a writable copy of ../shared/peers with its .deps)
//   OUT [bench/results/tmp/proxy.json]
import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  REPO, BUILD, HOST, Processes, cpuSeconds, fetchStatus, freePort, loadAverage, log as baseLog, median, now,
  percentile, processTree, rssKiB, sleep, stageWorker, startWorkerd, startWranglerDev, waitFor, writeJson,
} from "../lib/common.mjs";

const log = (...a) => baseLog("proxy", ...a);
const QUICK = process.env.QUICK === "1";
const ROUNDS = Number(process.env.ROUNDS || (QUICK ? 1 : 3));
// 0.8 s cells: with 1 s the section took 299-331 s against its 330 s cap on a slow day.
const CELL_MS = 1000 * Number(process.env.CELL_SECONDS || (QUICK ? 0.5 : 0.8));
const CELL_MAX_REQ = Number(process.env.CELL_MAX_REQ || 20000);
const CONCS = (process.env.CONCS || "1,16").split(",").map(Number);
const WANTED = (process.env.TARGETS || "direct,floor,llm-edge,floor-bare,llm-edge-bare,portkey,litellm").split(",");
const DEV_HOP = process.env.DEV_HOP !== "0";
const BUILD_B = process.env.LLM_EDGE_BUILD_B ? path.resolve(process.env.LLM_EDGE_BUILD_B) : null;
const BREAKDOWN_ONLY = process.env.BREAKDOWN_ONLY === "1";
const PEERS_DIR = process.env.PEERS_DIR || path.join(os.homedir(), ".cache/llm-edge-bench/peers");
const PEER_DEPS = process.env.BENCH_DEPS || path.join(PEERS_DIR, ".deps");
const OUT = process.env.OUT || path.join(REPO, "bench/results/tmp/proxy.json");
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "llm-edge-bench-proxy-"));

const requireFromRepo = createRequire(path.join(REPO, "package.json"));
const { Pool } = requireFromRepo("undici");

const CLIENT_TOKEN = "bench-" + crypto.randomBytes(12).toString("hex");
const LITELLM_KEY = "sk-bench-" + crypto.randomBytes(16).toString("hex");
// Models the mock shapes by name: 20 chunks 25 ms apart, to see whether a proxy streams or buffers.
const PROBE_MODEL = { openai: "mock-c20-d25", anthropic: "claude-mock-c20-d25" };
const MODEL = { openai: "gpt-4o-mini", anthropic: "claude-haiku-4-5" };
// Streams of 1 and 200 chunks: the slope between them is the cost of one streamed event.
const SLOPE_MODEL = { one: "mock-c1", many: "mock-c200" };
const PROMPT = "Write a short poem about measuring the latency of LLM gateways.";

function openaiBody(model, stream) {
  const body = { model, messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: PROMPT }], max_tokens: 256, stream };
  if (stream) body.stream_options = { include_usage: true };
  return body;
}
function anthropicBody(model, stream) {
  return { model, system: "You are a helpful assistant.", messages: [{ role: "user", content: PROMPT }], max_tokens: 256, stream };
}

// ------------------------------------------------------------------ targets
const procs = new Processes(path.join(WORK, "logs"));
const live = {}; // target -> { base, cpuPids(): number[], treePids(): number[] }
let mockBase;

/** What a target is sent in a mode, and what format it answers. */
function endpoint(target, mode, stream, probe = false) {
  const upstream = mode === "passthrough" ? "openai" : "anthropic";
  const model = probe ? PROBE_MODEL[upstream] : MODEL[upstream];
  const base = live[target].base;
  const kind = target.replace(/-(dev|bare)$/, "").replace(/-b$/, "");
  if (kind === "direct" || kind === "floor") {
    return upstream === "openai"
      ? { base, path: "/v1/chat/completions", headers: { authorization: "Bearer sk-mock" }, body: openaiBody(model, stream), answers: "openai" }
      : { base, path: "/v1/messages", headers: { "x-api-key": "sk-mock", "anthropic-version": "2023-06-01" }, body: anthropicBody(model, stream), answers: "anthropic" };
  }
  if (kind === "llm-edge") {
    return { base, path: "/v1/chat/completions", headers: { authorization: `Bearer ${CLIENT_TOKEN}` }, body: openaiBody(`${upstream}/${model}`, stream), answers: "openai" };
  }
  if (kind === "portkey") {
    return {
      base, path: "/v1/chat/completions",
      headers: { authorization: "Bearer sk-mock", "x-portkey-provider": upstream, "x-portkey-custom-host": `${mockBase}/v1` },
      body: openaiBody(model, stream), answers: "openai",
    };
  }
  if (kind === "litellm") {
    return { base, path: "/v1/chat/completions", headers: { authorization: `Bearer ${LITELLM_KEY}` }, body: openaiBody(model, stream), answers: "openai" };
  }
  throw new Error(`unknown target ${target}`);
}

function valid(answers, stream, status, text) {
  if (status !== 200) return false;
  if (stream) return answers === "openai" ? text.includes("[DONE]") : text.includes("message_stop");
  try {
    const j = JSON.parse(text);
    return answers === "openai" ? typeof j.choices?.[0]?.message?.content === "string" && j.choices[0].message.content.length > 0 : j.content?.[0]?.type === "text";
  } catch {
    return false;
  }
}

async function oneRequest(pool, ep, bodyText, stream) {
  const t0 = now();
  const res = await pool.request({ path: ep.path, method: "POST", headers: { "content-type": "application/json", ...ep.headers }, body: bodyText, signal: AbortSignal.timeout(20000) });
  let tFirst = 0;
  let reads = 0;
  const parts = [];
  let tail = "";
  for await (const chunk of res.body) {
    if (!tFirst) tFirst = now();
    reads++;
    if (stream) tail = (tail + chunk.toString("latin1")).slice(-300);
    else parts.push(chunk);
  }
  const tEnd = now();
  const text = stream ? tail : Buffer.concat(parts).toString("utf8");
  const ok = valid(ep.answers, stream, res.statusCode, text);
  return { ok, status: res.statusCode, lat: tEnd - t0, ttfb: (tFirst || tEnd) - t0, reads, sample: ok ? undefined : text.slice(0, 300) };
}

async function runCell({ target, mode, stream, conc, maxMs = CELL_MS, maxReq = CELL_MAX_REQ, probe = false }) {
  const ep = endpoint(target, mode, stream, probe);
  const bodyText = JSON.stringify(ep.body);
  const pool = new Pool(ep.base, { connections: conc, pipelining: 1, keepAliveTimeout: 30000, headersTimeout: 20000, bodyTimeout: 20000 });
  try {
    // prime the connections (not measured)
    await Promise.all(Array.from({ length: conc }, () => oneRequest(pool, ep, bodyText, stream).catch(() => {})));
    const cpuPids = live[target].cpuPids();
    const treePids = live[target].treePids();
    const mockPids = live.direct.treePids();
    let rssPeak = rssKiB(cpuPids);
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, rssKiB(cpuPids));
    }, 100);
    const cpu0 = cpuSeconds(cpuPids), tree0 = cpuSeconds(treePids), mock0 = cpuSeconds(mockPids);
    const lat = [], ttfb = [], reads = [];
    let issued = 0, ok = 0, errors = 0, errSample;
    const t0 = now();
    const deadline = t0 + maxMs;
    async function worker() {
      while (issued < maxReq && now() < deadline) {
        issued++;
        try {
          const r = await oneRequest(pool, ep, bodyText, stream);
          if (r.ok) {
            ok++;
            lat.push(r.lat);
            ttfb.push(r.ttfb);
            reads.push(r.reads);
          } else {
            errors++;
            errSample ??= `HTTP ${r.status}: ${r.sample}`;
          }
        } catch (e) {
          errors++;
          errSample ??= String(e.message || e);
        }
      }
    }
    await Promise.all(Array.from({ length: conc }, worker));
    const elapsed = now() - t0;
    clearInterval(sampler);
    const cpu = cpuSeconds(cpuPids) - cpu0, tree = cpuSeconds(treePids) - tree0, mock = cpuSeconds(mockPids) - mock0;
    lat.sort((a, b) => a - b);
    ttfb.sort((a, b) => a - b);
    return {
      target, mode, stream, conc, probe, n: ok, errors, errSample, elapsedMs: elapsed, rps: ok / (elapsed / 1000),
      p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), ttfb50: percentile(ttfb, 0.5), ttfb99: percentile(ttfb, 0.99),
      reads50: median(reads),
      cpuMsPerReq: ok && cpuPids.length ? (1000 * cpu) / ok : undefined,
      treeCpuMsPerReq: ok && treePids.length ? (1000 * tree) / ok : undefined,
      mockCpuMsPerReq: ok ? (1000 * mock) / ok : undefined,
      rssPeakKiB: cpuPids.length ? rssPeak : undefined,
    };
  } finally {
    await pool.close().catch(() => {});
  }
}

// ------------------------------------------------------------------ start-up
async function startMock() {
  const script = path.join(PEERS_DIR, "mock-upstream.mjs");
  if (!fs.existsSync(script)) throw new Error(`no mock upstream at ${script}: copy ../shared/peers there (bench/run.sh does)`);
  const port = await freePort();
  const entry = procs.start("mock", process.execPath, [script, `--port=${port}`]);
  mockBase = `http://${HOST}:${port}`;
  await waitFor(async () => (await fetchStatus(`${mockBase}/health`))?.status === 200, { timeoutMs: 10000, what: "the mock" });
  live.direct = { base: mockBase, cpuPids: () => [], treePids: () => [entry.child.pid] };
}

async function startFloor() {
  const stage = path.join(WORK, "floor");
  fs.mkdirSync(stage, { recursive: true });
  for (const f of ["index.js", "wrangler.toml"]) fs.copyFileSync(path.join(REPO, "bench/floor-worker", f), path.join(stage, f));
  const w = await startWranglerDev(procs, "floor", path.join(stage, "wrangler.toml"), { vars: { UPSTREAM: mockBase } });
  if (!w.workerUrl) throw new Error("floor: could not find the Worker's own workerd socket");
  live.floor = { base: w.workerUrl, cpuPids: () => [w.workerPid], treePids: () => processTree(w.wranglerPid) };
  live["floor-dev"] = { base: w.url, cpuPids: () => [w.workerPid, w.devProxyPid].filter(Boolean), treePids: () => processTree(w.wranglerPid) };
  return { startupMs: w.readyMs, idleKiB: rssKiB([w.workerPid]) };
}

/** The proxy's settings: the mock as both upstreams, one client with limits that never bite. */
function edgeVars() {
  const clients = { [CLIENT_TOKEN]: { name: "bench", dailyBudgetUsd: 1e6, requestsPerMinute: 1e8, tokensPerMinute: 1e11, models: ["*"] } };
  // Prices for the mock-shaped model names (the proxy forwards only models it can price).
  const prices = {
    [`openai/${PROBE_MODEL.openai}`]: { input: 0.15, output: 0.6 },
    [`anthropic/${PROBE_MODEL.anthropic}`]: { input: 1, output: 5 },
    [`openai/${SLOPE_MODEL.one}`]: { input: 0.15, output: 0.6 },
    [`openai/${SLOPE_MODEL.many}`]: { input: 0.15, output: 0.6 },
  };
  return {
    OPENAI_API_KEY: "sk-bench-openai", ANTHROPIC_API_KEY: "sk-bench-anthropic",
    OPENAI_BASE_URL: mockBase, ANTHROPIC_BASE_URL: mockBase,
    CLIENTS: JSON.stringify(clients), PRICES: JSON.stringify(prices), ALLOWED_ORIGINS: "",
  };
}

async function startEdge() {
  if (!fs.existsSync(path.join(BUILD, "index_bg.wasm"))) throw new Error(`${BUILD} has no Worker: run \`npm run build\` (or bash scripts/build-worker.sh)`);
  const config = stageWorker(BUILD, path.join(WORK, "llm-edge"));
  const w = await startWranglerDev(procs, "llm-edge", config, { persistTo: path.join(WORK, "llm-edge-state"), vars: edgeVars() });
  if (!w.workerUrl) throw new Error("llm-edge: could not find the Worker's own workerd socket");
  live["llm-edge"] = { base: w.workerUrl, cpuPids: () => [w.workerPid], treePids: () => processTree(w.wranglerPid) };
  live["llm-edge-dev"] = { base: w.url, cpuPids: () => [w.workerPid, w.devProxyPid].filter(Boolean), treePids: () => processTree(w.wranglerPid) };
  return { startupMs: w.readyMs, idleKiB: rssKiB([w.workerPid]) };
}

async function startBare(kind, buildDir = BUILD, name = kind) {
  if (kind === "llm-edge" && !fs.existsSync(path.join(buildDir, "index_bg.wasm"))) throw new Error(`${buildDir} has no Worker`);
  // wrangler.toml's development [vars] too, which wrangler dev would pass
  const vars = kind === "llm-edge" ? { ENVIRONMENT: "development", MAX_BODY_BYTES: "1048576", MAX_TOKENS_CAP: "4096", ...edgeVars() } : { UPSTREAM: mockBase };
  const w = await startWorkerd(procs, `${name}-bare`, kind, path.join(WORK, `${name}-bare`), vars, { buildDir });
  live[`${name}-bare`] = { base: w.url, cpuPids: () => [w.pid], treePids: () => [w.pid] };
  return { startupMs: w.readyMs, idleKiB: rssKiB([w.pid]) };
}

async function waitForChat(target) {
  await waitFor(async () => {
    const ep = endpoint(target, "passthrough", false);
    const pool = new Pool(ep.base, { connections: 1 });
    try {
      return (await oneRequest(pool, ep, JSON.stringify(ep.body), false)).ok;
    } catch {
      return false;
    } finally {
      await pool.close().catch(() => {});
    }
  }, { timeoutMs: 120000, intervalMs: 50, what: `${target} to answer a chat call` });
}

async function startPortkey() {
  const entryJs = path.join(PEER_DEPS, "node/node_modules/@portkey-ai/gateway/build/start-server.js");
  if (!fs.existsSync(entryJs)) throw new Error(`Portkey is not installed under ${PEER_DEPS} (run the peer harness's setup-deps.sh)`);
  const port = await freePort();
  const t0 = now();
  const entry = procs.start("portkey", process.execPath, ["-r", path.join(PEERS_DIR, "bind-loopback.cjs"), entryJs, `--port=${port}`, "--headless"], { cwd: path.join(PEER_DEPS, "node") });
  live.portkey = { base: `http://${HOST}:${port}`, cpuPids: () => processTree(entry.child.pid), treePids: () => processTree(entry.child.pid) };
  await waitForChat("portkey");
  const startupMs = now() - t0;
  await sleep(1000);
  return { startupMs, idleKiB: rssKiB(processTree(entry.child.pid)) };
}

async function startLitellm() {
  const bin = path.join(PEER_DEPS, "venv/bin/litellm");
  if (!fs.existsSync(bin)) throw new Error(`LiteLLM is not installed under ${PEER_DEPS} (run the peer harness's setup-deps.sh)`);
  const port = await freePort();
  const entries = [];
  for (const m of [MODEL.openai, PROBE_MODEL.openai]) entries.push(`  - model_name: ${m}\n    litellm_params:\n      model: openai/${m}\n      api_base: ${mockBase}/v1\n      api_key: sk-mock`);
  for (const m of [MODEL.anthropic, PROBE_MODEL.anthropic]) entries.push(`  - model_name: ${m}\n    litellm_params:\n      model: anthropic/${m}\n      api_base: ${mockBase}\n      api_key: sk-mock`);
  const config = path.join(WORK, "litellm.yaml");
  fs.writeFileSync(config, `model_list:\n${entries.join("\n")}\nlitellm_settings:\n  telemetry: false\ngeneral_settings: {}\n`);
  const t0 = now();
  const entry = procs.start("litellm", bin, ["--config", config, "--host", HOST, "--port", String(port), "--telemetry", "False"], {
    cwd: WORK,
    env: {
      LITELLM_MASTER_KEY: LITELLM_KEY, LITELLM_LOG: "ERROR", LITELLM_TELEMETRY: "False",
      LITELLM_LOCAL_MODEL_COST_MAP: "True", LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS: "True", LITELLM_LOCAL_BLOG_POSTS: "True",
      LITELLM_LOCAL_POLICY_TEMPLATES: "True", LITELLM_LOCAL_AUTOROUTER_PRESETS: "True",
    },
  });
  live.litellm = { base: `http://${HOST}:${port}`, cpuPids: () => processTree(entry.child.pid), treePids: () => processTree(entry.child.pid) };
  await waitForChat("litellm");
  const startupMs = now() - t0;
  await sleep(1000);
  return { startupMs, idleKiB: rssKiB(processTree(entry.child.pid)) };
}

function versions() {
  const v = { node: process.version };
  const pj = (file) => {
    try {
      return JSON.parse(fs.readFileSync(file, "utf8")).version;
    } catch {
      return "n/a";
    }
  };
  v.wrangler = pj(path.join(REPO, "node_modules/wrangler/package.json"));
  v.workerd = pj(path.join(REPO, "node_modules/workerd/package.json"));
  v.undici = pj(path.join(REPO, "node_modules/undici/package.json"));
  v.portkey = pj(path.join(PEER_DEPS, "node/node_modules/@portkey-ai/gateway/package.json"));
  try {
    const meta = fs.readdirSync(path.join(PEER_DEPS, "venv/lib")).flatMap((py) => fs.readdirSync(path.join(PEER_DEPS, "venv/lib", py, "site-packages")).filter((d) => /^litellm-[\d.]+\.dist-info$/.test(d)));
    v.litellm = meta[0]?.replace(/^litellm-|\.dist-info$/g, "") ?? "n/a";
  } catch {
    v.litellm = "n/a";
  }
  return v;
}

// ------------------------------------------------------------------ llm-edge cost breakdown
/**
 * One request at a time on llm-edge's cheaper routes and on streams of 1 and 200 chunks, to
 * tell apart what a call pays for: the Worker's entry, authentication, one Durable Object
 * round trip, and the cost of each streamed event (the slope between 1 and 200 chunks).
 */
async function breakdown(rounds, budgetMs) {
  const sse = (model) => JSON.stringify(openaiBody(model, true));
  // the reference that handles every chunk in JS: what any stream-rewriting Worker pays
  if (live["floor-bare"] && !live["floor-chunks"]) {
    const w = await startWorkerd(procs, "floor-chunks", "floor-chunks", path.join(WORK, "floor-chunks"), { UPSTREAM: mockBase });
    live["floor-chunks"] = { base: w.url, cpuPids: () => [w.pid], treePids: () => [w.pid] };
  }
  const edgeTarget = live["llm-edge-bare"] ? "llm-edge-bare" : "llm-edge";
  const floorTarget = live["floor-bare"] ? "floor-bare" : "floor";
  const edge = (name, method, path, body) => ({ name, target: edgeTarget, method, path, body, headers: { authorization: `Bearer ${CLIENT_TOKEN}` } });
  // the same llm-edge rows on the second build, if any, interleaved with the first's
  const withB = (rows) => rows.flatMap((r) => (r.target === edgeTarget && live["llm-edge-b-bare"] ? [r, { ...r, name: `${r.name} [B]`, target: "llm-edge-b-bare" }] : [r]));
  const floor = (name, model) => ({ name, target: floorTarget, method: "POST", path: "/v1/chat/completions", body: sse(model), headers: { authorization: "Bearer sk-mock" } });
  const routes = withB([
    edge("llm-edge GET /health (no auth, no upstream)", "GET", "/health"),
    edge("llm-edge GET /v1/models (auth + config)", "GET", "/v1/models"),
    edge("llm-edge GET /v1/llm-edge/spend (auth + 1 Durable Object call)", "GET", "/v1/llm-edge/spend"),
    edge("llm-edge POST JSON chat (50 tokens)", "POST", "/v1/chat/completions", JSON.stringify(openaiBody(`openai/${MODEL.openai}`, false))),
    edge("llm-edge POST SSE chat, 1 chunk", "POST", "/v1/chat/completions", sse(`openai/${SLOPE_MODEL.one}`)),
    edge("llm-edge POST SSE chat, 200 chunks", "POST", "/v1/chat/completions", sse(`openai/${SLOPE_MODEL.many}`)),
    { ...floor("floor POST JSON chat (50 tokens)", MODEL.openai), body: JSON.stringify(openaiBody(MODEL.openai, false)) },
    floor("floor POST SSE chat, 1 chunk", SLOPE_MODEL.one),
    floor("floor POST SSE chat, 200 chunks", SLOPE_MODEL.many),
    { ...floor("JS chunk-by-chunk Worker POST SSE chat, 1 chunk", SLOPE_MODEL.one), target: "floor-chunks" },
    { ...floor("JS chunk-by-chunk Worker POST SSE chat, 200 chunks", SLOPE_MODEL.many), target: "floor-chunks" },
  ]).filter((r) => live[r.target]);
  const acc = routes.map(() => ({ p50: [], cpu: [] }));
  for (let round = 0; round < rounds; round++) {
    const order = routes.map((_, i) => i);
    if (round % 2) order.reverse();
    for (const i of order) {
      const r = routes[i];
      const pool = new Pool(live[r.target].base, { connections: 1 });
      const headers = { "content-type": "application/json", ...r.headers };
      const request = async () => {
        const res = await pool.request({ path: r.path, method: r.method, headers, body: r.body, signal: AbortSignal.timeout(20000) });
        await res.body.text();
        if (res.statusCode !== 200) throw new Error(`${r.name}: HTTP ${res.statusCode}`);
      };
      for (let k = 0; k < 5; k++) await request();
      const pids = live[r.target].cpuPids();
      const cpu0 = cpuSeconds(pids);
      const lat = [];
      const t0 = now();
      while (lat.length < 2000 && (now() - t0 < budgetMs || lat.length < 5)) {
        const s = now();
        await request();
        lat.push(now() - s);
      }
      acc[i].cpu.push((1000 * (cpuSeconds(pids) - cpu0)) / lat.length);
      lat.sort((a, b) => a - b);
      acc[i].p50.push(percentile(lat, 0.5));
      await pool.close();
    }
  }
  return routes.map((r, i) => ({ route: r.name, target: r.target, p50: median(acc[i].p50), cpuMsPerReq: median(acc[i].cpu) }));
}

// ------------------------------------------------------------------ main
async function main() {
  const tStart = now();
  const result = {
    section: "proxy", started: new Date().toISOString(), loadStart: loadAverage(),
    config: { ROUNDS, CELL_MS, CELL_MAX_REQ, CONCS, targets: WANTED, DEV_HOP, chunks: 50 },
    versions: versions(), startup: {}, idleKiB: {}, failed: {}, runs: [], probe: {}, breakdown: [],
  };
  await startMock();
  const starters = { floor: startFloor, "llm-edge": startEdge, "floor-bare": () => startBare("floor"), "llm-edge-bare": () => startBare("llm-edge"), portkey: startPortkey, litellm: startLitellm };
  if (BUILD_B) starters["llm-edge-b-bare"] = () => startBare("llm-edge", BUILD_B, "llm-edge-b");
  for (const name of [...WANTED.filter((t) => t !== "direct"), ...(BUILD_B ? ["llm-edge-b-bare"] : [])]) {
    log(`starting ${name}`);
    try {
      const s = await starters[name]();
      result.startup[name] = s.startupMs;
      result.idleKiB[name] = s.idleKiB;
      log(`${name} ready in ${Math.round(s.startupMs)} ms`);
    } catch (e) {
      result.failed[name] = String(e.message || e);
      log(`${name} FAILED to start: ${result.failed[name]}`);
      delete live[name];
      delete live[`${name}-dev`];
    }
  }
  const targets = ["direct", ...WANTED.filter((t) => t !== "direct"), ...(BUILD_B ? ["llm-edge-b-bare"] : [])].filter((t) => live[t]);
  const devTargets = DEV_HOP ? ["floor-dev", "llm-edge-dev"].filter((t) => live[t]) : [];
  // fidelity check + warm-up of every path
  for (const t of [...targets, ...devTargets]) {
    for (const mode of ["passthrough", "translated"]) {
      for (const stream of [false, true]) {
        const r = await runCell({ target: t, mode, stream, conc: 4, maxMs: QUICK ? 150 : 300 });
        if (r.errors) log(`warm-up ${t} ${mode} ${stream ? "sse" : "json"}: ${r.errors} errors, e.g. ${r.errSample}`);
      }
    }
  }
  const cells = [];
  if (!BREAKDOWN_ONLY) for (const mode of ["passthrough", "translated"]) for (const stream of [false, true]) for (const conc of CONCS) cells.push({ mode, stream, conc });
  for (const cell of cells) {
    const order = [...targets, ...(cell.conc === 1 && cell.mode === "passthrough" ? devTargets : [])];
    for (let round = 0; round < ROUNDS; round++) {
      const rotated = order.map((_, i) => order[(i + round) % order.length]);
      for (const target of rotated) {
        const r = await runCell({ target, ...cell });
        r.round = round;
        result.runs.push(r);
        log(`${cell.mode} ${cell.stream ? "sse " : "json"} c=${String(cell.conc).padStart(2)} r${round} ${target.padEnd(12)} n=${r.n} err=${r.errors} p50=${r.p50?.toFixed(2)} p99=${r.p99?.toFixed(2)} ttfb50=${r.ttfb50?.toFixed(2)} cpu/req=${r.cpuMsPerReq?.toFixed(3) ?? "-"}${r.errSample ? " ERR " + r.errSample.slice(0, 160) : ""}`);
      }
    }
  }
  // Streaming probe: 20 chunks 25 ms apart. A proxy that streams keeps ttfb near direct's.
  for (const mode of BREAKDOWN_ONLY ? [] : ["passthrough", "translated"]) {
    for (const target of targets) {
      const r = await runCell({ target, mode, stream: true, conc: 1, maxReq: 2, maxMs: 5000, probe: true });
      result.probe[`${target}/${mode}`] = { n: r.n, errors: r.errors, ttfb50: r.ttfb50, total50: r.p50, reads50: r.reads50, errSample: r.errSample };
    }
  }
  if (live["llm-edge"] || live["llm-edge-bare"]) {
    try {
      result.breakdown = await breakdown(ROUNDS, QUICK ? 250 : 600);
      for (const b of result.breakdown) log(`breakdown: ${b.route.padEnd(72)} p50=${b.p50.toFixed(2)} ms cpu/req=${b.cpuMsPerReq.toFixed(3)} ms`);
    } catch (e) {
      result.breakdownError = String(e.message || e);
    }
  }
  for (const t of targets.filter((x) => x !== "direct")) result.idleKiB[`${t}:after`] = rssKiB(live[t].cpuPids());
  result.loadEnd = loadAverage();
  result.wallSeconds = (now() - tStart) / 1000;
  await procs.stopAll();
  fs.rmSync(WORK, { recursive: true, force: true });
  writeJson(OUT, result);
  log(`done in ${Math.round(result.wallSeconds)} s -> ${OUT}`);
}

main().catch(async (e) => {
  console.error(e);
  await procs.stopAll();
  fs.rmSync(WORK, { recursive: true, force: true });
  process.exit(1);
});
