#!/usr/bin/env node
// Section 3 of bench/run.sh: what users download and how long things take to start.
//   - the npm package's wasm + JS glue (raw and gzip -9), as scripts/size.mjs counts it;
//   - esbuild browser bundles (minify, platform browser, format esm) of the same typical use
//     (bench/size/entries/): llm-edge (its wasm counted in the total), the Vercel AI SDK with
//     one and with three providers, `openai`, `@anthropic-ai/sdk`;
//   - the Worker (build/index_bg.wasm + build/index.js), gzip;
//   - start-up: the Worker in workerd alone (spawn -> first 200 on /health, no wrangler), in
//     `wrangler dev`, beside the JavaScript floor; V8 compile time of each wasm; cold import
//     + client construction of each client library in a fresh Node process.
// Env knobs: ROUNDS [5] WRANGLER_ROUNDS [2] QUICK=1 OUT [bench/results/tmp/size.json]
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import {
  REPO, PKG, BUILD, HOST, Processes, log as baseLog, median, now, stageWorker, startWorkerd, startWranglerDev, writeJson, loadAverage,
} from "../lib/common.mjs";

const log = (...a) => baseLog("size", ...a);
const QUICK = process.env.QUICK === "1";
const ROUNDS = Number(process.env.ROUNDS || (QUICK ? 2 : 5));
const WRANGLER_ROUNDS = Number(process.env.WRANGLER_ROUNDS || (QUICK ? 1 : 2));
const OUT = process.env.OUT || path.join(REPO, "bench/results/tmp/size.json");
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "llm-edge-bench-size-"));
const require = createRequire(path.join(REPO, "package.json"));
const procs = new Processes(path.join(WORK, "logs"));

const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;
function sizeOf(files) {
  const each = files.map((file) => {
    const bytes = fs.readFileSync(file);
    return { file: file.replace(PKG, "pkg").replace(BUILD, "build"), raw: bytes.length, gzip: gzipSize(bytes) };
  });
  return { files: each, raw: each.reduce((a, f) => a + f.raw, 0), gzip: each.reduce((a, f) => a + f.gzip, 0) };
}

function version(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", name, "package.json"), "utf8")).version;
  } catch {
    return "n/a";
  }
}

// ------------------------------------------------------------------ bundles
const BUNDLES = [
  { name: "llm-edge (Client.stream; wasm counted)", entry: "llm-edge.mjs", extra: [path.join(PKG, "wasm/llm_edge_bg.wasm")], packages: ["llm-edge"] },
  { name: "Vercel AI SDK: streamText + Anthropic provider", entry: "ai-sdk-anthropic.mjs", packages: ["ai", "@ai-sdk/anthropic"] },
  { name: "Vercel AI SDK: streamText, generateText + Anthropic, OpenAI, Google providers", entry: "ai-sdk-three-providers.mjs", packages: ["ai", "@ai-sdk/anthropic", "@ai-sdk/openai", "@ai-sdk/google"] },
  { name: "openai (chat.completions stream)", entry: "openai.mjs", packages: ["openai"] },
  { name: "@anthropic-ai/sdk (messages.stream)", entry: "anthropic-sdk.mjs", packages: ["@anthropic-ai/sdk"] },
];

async function bundles() {
  const esbuild = require("esbuild");
  const out = [];
  for (const b of BUNDLES) {
    const outfile = path.join(WORK, "bundles", b.entry.replace(/\.mjs$/, ".js"));
    try {
      await esbuild.build({
        entryPoints: [path.join(REPO, "bench/size/entries", b.entry)],
        bundle: true, minify: true, platform: "browser", format: "esm", outfile,
        absWorkingDir: REPO, logLevel: "silent", legalComments: "none",
        // the package under test (a snapshot of pkg/ during bench/run.sh), resolved like npm's
        alias: { "llm-edge": PKG },
      });
      const js = sizeOf([outfile]);
      const extra = sizeOf(b.extra ?? []);
      out.push({
        name: b.name, entry: b.entry, versions: Object.fromEntries(b.packages.map((p) => [p, version(p)])),
        jsRaw: js.raw, jsGzip: js.gzip, extraGzip: extra.gzip, totalRaw: js.raw + extra.raw, totalGzip: js.gzip + extra.gzip,
      });
    } catch (e) {
      out.push({ name: b.name, entry: b.entry, error: String(e.message || e).slice(0, 500) });
    }
  }
  return { esbuild: version("esbuild"), bundles: out };
}

// ------------------------------------------------------------------ start-up
const STARTUP_CLIENTS = JSON.stringify({ "bench-startup-token": { name: "bench", dailyBudgetUsd: 1, requestsPerMinute: 60, tokensPerMinute: 100000, models: ["*"] } });

async function workerdStartup(kind, upstream, round) {
  const vars = kind === "llm-edge" ? { OPENAI_API_KEY: "sk-bench", OPENAI_BASE_URL: upstream, CLIENTS: STARTUP_CLIENTS } : { UPSTREAM: upstream };
  const w = await startWorkerd(procs, `workerd-${kind}-${round}`, kind, path.join(WORK, `workerd-${kind}-${round}`), vars);
  await procs.stop(w.entry);
  return w.readyMs;
}

function childTiming(code) {
  return new Promise((resolve) => {
    const t0 = now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (status) => {
      const processMs = now() - t0;
      try {
        resolve({ ...JSON.parse(out.trim().split("\n").at(-1)), processMs });
      } catch {
        resolve({ error: `exit ${status}: ${(err || out).slice(0, 300)}` });
      }
    });
  });
}

const IMPORTS = {
  "llm-edge": `const m = await import(${JSON.stringify(path.join(PKG, "node.js"))}); new m.Client({ providers: { openai: { apiKey: "x" } } });`,
  "ai + @ai-sdk/anthropic": `const { streamText } = await import("ai"); const a = await import("@ai-sdk/anthropic"); a.createAnthropic({ apiKey: "x" })("claude-haiku-4-5");`,
  openai: `const { default: OpenAI } = await import("openai"); new OpenAI({ apiKey: "x" });`,
  "@anthropic-ai/sdk": `const { default: Anthropic } = await import("@anthropic-ai/sdk"); new Anthropic({ apiKey: "x" });`,
};
const COMPILES = { "npm package wasm (pkg/wasm/llm_edge_bg.wasm)": path.join(PKG, "wasm/llm_edge_bg.wasm") };

async function startup() {
  const upstreamServer = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
  await new Promise((resolve) => upstreamServer.listen(0, HOST, resolve));
  const upstream = `http://${HOST}:${upstreamServer.address().port}`;
  const out = { workerd: { "llm-edge": [], floor: [] }, wrangler: { "llm-edge": [], floor: [] }, compileMs: {}, coldImportMs: {}, errors: [] };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 ? ["floor", "llm-edge"] : ["llm-edge", "floor"]) {
        try {
          out.workerd[kind].push(await workerdStartup(kind, upstream, round));
        } catch (e) {
          out.errors.push(String(e.message || e));
        }
      }
      for (const [label, file] of Object.entries(COMPILES)) {
        const code = `import fs from "node:fs"; const bytes = fs.readFileSync(${JSON.stringify(file)}); const t0 = performance.now(); new WebAssembly.Module(bytes); console.log(JSON.stringify({ ms: performance.now() - t0 }));`;
        const r = await childTiming(code);
        (out.compileMs[label] ??= []).push(r.ms);
        if (r.error) out.errors.push(`${label}: ${r.error}`);
      }
      for (const [label, body] of Object.entries(IMPORTS)) {
        const r = await childTiming(`const t0 = performance.now(); ${body} console.log(JSON.stringify({ ms: performance.now() - t0 }));`);
        (out.coldImportMs[label] ??= []).push(r.ms);
        if (r.error) out.errors.push(`${label}: ${r.error}`);
      }
    }
    for (let round = 0; round < WRANGLER_ROUNDS; round++) {
      for (const kind of round % 2 ? ["floor", "llm-edge"] : ["llm-edge", "floor"]) {
        try {
          let w;
          if (kind === "llm-edge") {
            const config = stageWorker(BUILD, path.join(WORK, `wrangler-edge-${round}`));
            w = await startWranglerDev(procs, `wrangler-edge-${round}`, config, { persistTo: path.join(WORK, `state-${round}`), vars: { OPENAI_API_KEY: "sk-bench", OPENAI_BASE_URL: upstream, CLIENTS: STARTUP_CLIENTS } });
          } else {
            const dir = path.join(WORK, `wrangler-floor-${round}`);
            fs.mkdirSync(dir, { recursive: true });
            for (const f of ["index.js", "wrangler.toml"]) fs.copyFileSync(path.join(REPO, "bench/floor-worker", f), path.join(dir, f));
            w = await startWranglerDev(procs, `wrangler-floor-${round}`, path.join(dir, "wrangler.toml"), { vars: { UPSTREAM: upstream } });
          }
          out.wrangler[kind].push(w.readyMs);
          await procs.stop(w.entry);
        } catch (e) {
          out.errors.push(String(e.message || e));
        }
      }
    }
  } finally {
    upstreamServer.close();
  }
  const med = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { median: median(v), samples: v }]));
  return { workerd: med(out.workerd), wrangler: med(out.wrangler), compileMs: med(out.compileMs), coldImportMs: med(out.coldImportMs), errors: out.errors };
}

// ------------------------------------------------------------------ main
async function main() {
  const result = { section: "size", started: new Date().toISOString(), loadStart: loadAverage(), config: { ROUNDS, WRANGLER_ROUNDS }, errors: [] };
  const pkgFiles = ["wasm/llm_edge_bg.wasm", "wasm/llm_edge.js", "core.js", "browser.js"].map((f) => path.join(PKG, f));
  try {
    result.npmPackage = sizeOf(pkgFiles);
  } catch (e) {
    result.errors.push(`npm package: ${e.message}`);
  }
  try {
    result.worker = sizeOf(["index_bg.wasm", "index.js"].map((f) => path.join(BUILD, f)));
  } catch (e) {
    result.errors.push(`Worker: ${e.message}`);
  }
  try {
    Object.assign(result, await bundles());
    log("bundles done");
  } catch (e) {
    result.errors.push(`bundles: ${e.message}`);
  }
  try {
    result.startup = await startup();
    log("start-up done");
  } catch (e) {
    result.errors.push(`start-up: ${e.message}`);
  }
  await procs.stopAll();
  fs.rmSync(WORK, { recursive: true, force: true });
  result.loadEnd = loadAverage();
  writeJson(OUT, result);
  log(`done -> ${OUT}`);
}

main().catch(async (e) => {
  console.error(e);
  await procs.stopAll();
  fs.rmSync(WORK, { recursive: true, force: true });
  process.exit(1);
});
