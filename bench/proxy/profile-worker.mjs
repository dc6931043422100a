#!/usr/bin/env node
// A CPU profile of the built Worker proxy in workerd alone, serving one kind of request one at a
// time: where its time goes, by function (self time), wasm included. Not part of `npm run bench`.
//
//   node bench/proxy/profile-worker.mjs [json|sse1|sse200|models|health]
// Env: WORKER [llm-edge] (or floor-chunks: the JS Worker handling each chunk, for comparison)
//   BUILD_DIR [build/] REQUESTS [400] INTERVAL_US [50] TOP [40] OUT [write the .cpuprofile here]
// The peer harness's mock upstream (PEERS_DIR, as the bench) serves the upstream calls.
import { createRequire } from "node:module";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO, BUILD, HOST, Processes, fetchStatus, freePort, sleep, waitFor, workerdBinary, workerdConfig } from "../lib/common.mjs";

const requireFromRepo = createRequire(path.join(REPO, "package.json"));
const { Pool } = requireFromRepo("undici");
const WebSocket = requireFromRepo("ws");

const KIND = process.argv[2] || "json";
const WORKER = process.env.WORKER || "llm-edge";
const BUILD_DIR = path.resolve(process.env.BUILD_DIR || BUILD);
const REQUESTS = Number(process.env.REQUESTS || 400);
const INTERVAL_US = Number(process.env.INTERVAL_US || 50);
const TOP = Number(process.env.TOP || 40);
const PEERS_DIR = process.env.PEERS_DIR || path.join(os.homedir(), ".cache/llm-edge-bench/peers");
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "llm-edge-profile-"));
const procs = new Processes(path.join(WORK, "logs"));
const TOKEN = "profile-" + crypto.randomBytes(8).toString("hex");

const chat = (model, stream) => JSON.stringify({
  model, stream, max_tokens: 256,
  messages: [{ role: "system", content: "You are a helpful assistant." }, { role: "user", content: "Write a short poem." }],
  ...(stream ? { stream_options: { include_usage: true } } : {}),
});
const REQUEST = {
  json: { method: "POST", path: "/v1/chat/completions", body: chat("openai/gpt-4o-mini", false) },
  sse1: { method: "POST", path: "/v1/chat/completions", body: chat("openai/mock-c1", true) },
  sse200: { method: "POST", path: "/v1/chat/completions", body: chat("openai/mock-c200", true) },
  models: { method: "GET", path: "/v1/models" },
  health: { method: "GET", path: "/health" },
}[KIND];
if (!REQUEST) throw new Error(`unknown kind ${KIND}`);

function cdp(url) {
  const ws = new WebSocket(url);
  let id = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    }
  });
  const opened = new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  return {
    opened,
    send: (method, params = {}) => new Promise((resolve) => { const i = ++id; pending.set(i, resolve); ws.send(JSON.stringify({ id: i, method, params })); }),
    close: () => ws.close(),
  };
}

async function main() {
  const mockPort = await freePort();
  procs.start("mock", process.execPath, [path.join(PEERS_DIR, "mock-upstream.mjs"), `--port=${mockPort}`]);
  const mockBase = `http://${HOST}:${mockPort}`;
  await waitFor(async () => (await fetchStatus(`${mockBase}/health`))?.status === 200, { timeoutMs: 10000, what: "the mock" });
  const price = { input: 0.15, output: 0.6 };
  const vars = {
    ENVIRONMENT: "development", MAX_BODY_BYTES: "1048576", MAX_TOKENS_CAP: "4096",
    OPENAI_API_KEY: "sk-profile", OPENAI_BASE_URL: mockBase, ALLOWED_ORIGINS: "",
    CLIENTS: JSON.stringify({ [TOKEN]: { name: "profile", dailyBudgetUsd: 1e6, requestsPerMinute: 1e8, tokensPerMinute: 1e11, models: ["*"] } }),
    PRICES: JSON.stringify({ "openai/mock-c1": price, "openai/mock-c200": price }),
  };
  const port = await freePort();
  const inspector = await freePort();
  const floor = WORKER !== "llm-edge";
  const config = workerdConfig(WORKER, path.join(WORK, "worker"), port, floor ? { UPSTREAM: mockBase } : vars, BUILD_DIR);
  // the JS Worker forwards as-is: the model without its provider prefix
  if (floor && REQUEST.body) REQUEST.body = REQUEST.body.replace('"openai/', '"');
  procs.start("workerd", workerdBinary(), ["serve", config, `--inspector-addr=${HOST}:${inspector}`], { cwd: path.join(WORK, "worker") });
  const base = `http://${HOST}:${port}`;
  await waitFor(async () => (await fetchStatus(`${base}/health`))?.status === 200, { timeoutMs: 30000, what: "workerd" });
  const pool = new Pool(base, { connections: 1 });
  const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
  const request = async () => {
    const res = await pool.request({ ...REQUEST, headers });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
  };
  for (let i = 0; i < 50; i++) await request();
  const targets = await (await fetch(`http://${HOST}:${inspector}/json/list`)).json();
  const main = targets.find((t) => /main/.test(t.title || t.id)) || targets[0];
  const session = cdp(main.webSocketDebuggerUrl);
  await session.opened;
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: INTERVAL_US });
  await session.send("Profiler.start");
  for (let i = 0; i < REQUESTS; i++) await request();
  await sleep(100);
  const { result } = await session.send("Profiler.stop");
  session.close();
  const profile = result.profile;
  if (process.env.OUT) fs.writeFileSync(process.env.OUT, JSON.stringify(profile));
  // self time per function from the samples
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const deltas = profile.timeDeltas;
  const self = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = deltas[i + 1] ?? 0;
    const f = byId.get(id).callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url ? path.basename(f.url) + ":" + f.lineNumber + ":" + f.columnNumber : ""}`;
    self.set(key, (self.get(key) || 0) + dt);
    total += dt;
  });
  const idle = self.get("(idle) ") || 0;
  const busy = total - idle;
  console.log(`${KIND}: ${REQUESTS} requests, ${(total / 1000).toFixed(0)} ms profiled, busy ${(busy / 1000).toFixed(1)} ms = ${(busy / REQUESTS).toFixed(1)} us/request (JS thread samples)`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    if (k === "(idle) ") continue;
    console.log(`${(v / REQUESTS).toFixed(2).padStart(8)} us/req ${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`);
  }
  await pool.close();
}

main()
  .catch((e) => { console.error(e); process.exitCode = 1; })
  .finally(async () => { await procs.stopAll(); fs.rmSync(WORK, { recursive: true, force: true }); });
