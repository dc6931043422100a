#!/usr/bin/env node
// Turns the sections' JSON (bench/results/tmp/*.json) into the results table: prints it,
// writes bench/results/latest.md and bench/results/<timestamp>.json.
// Usage: node bench/report.mjs <tmp dir>   (run.sh calls it; it also works on a partial run)
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { REPO, PKG, BUILD, fmt, median } from "./lib/common.mjs";

const TMP = process.argv[2] || path.join(REPO, "bench/results/tmp");
const RESULTS = path.join(REPO, "bench/results");
const read = (name) => {
  try {
    return JSON.parse(fs.readFileSync(path.join(TMP, `${name}.json`), "utf8"));
  } catch {
    return undefined;
  }
};
const status = (() => {
  try {
    return Object.fromEntries(fs.readFileSync(path.join(TMP, "status.txt"), "utf8").trim().split("\n").map((l) => {
      const [name, rc, seconds, ...note] = l.split(" ");
      return [name, { rc: Number(rc), seconds: Number(seconds), note: note.join(" ") }];
    }));
  } catch {
    return {};
  }
})();

function artifact(file) {
  try {
    const bytes = fs.readFileSync(file);
    return { bytes: bytes.length, sha256: crypto.createHash("sha256").update(bytes).digest("hex").slice(0, 12), built: fs.statSync(file).mtime.toISOString() };
  } catch {
    return null;
  }
}
function git(...args) {
  try {
    return execFileSync("git", args, { cwd: REPO, encoding: "utf8" }).trim();
  } catch {
    return "n/a";
  }
}

const proxy = read("proxy");
const client = read("client");
const size = read("size");
const core = read("core");
// The run's own date and loads, so that re-running this script on the same data gives the same report.
const started = [proxy, client, size].map((x) => x?.started).filter(Boolean).sort()[0];
const meta = {
  date: started ?? new Date().toISOString(),
  command: process.env.BENCH_COMMAND || "npm run bench",
  commit: process.env.BENCH_COMMIT ?? git("rev-parse", "--short", "HEAD"),
  uncommittedInSrc: Number(process.env.BENCH_UNCOMMITTED ?? git("status", "--porcelain", "--", "src", "Cargo.toml").split("\n").filter(Boolean).length),
  machine: `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, shared with other work`,
  loadAverage: {
    start: process.env.BENCH_LOAD_START ?? [proxy, client, size].find((x) => x?.loadStart)?.loadStart,
    end: process.env.BENCH_LOAD_END ?? [size, client, proxy].find((x) => x?.loadEnd)?.loadEnd,
  },
  artifacts: { npmWasm: artifact(path.join(PKG, "wasm/llm_edge_bg.wasm")), workerWasm: artifact(path.join(BUILD, "index_bg.wasm")) },
  sections: status,
};

const L = [];
const line = (...s) => L.push(...s);
const table = (head, rows) => {
  line(`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`);
  for (const r of rows) line(`| ${r.join(" | ")} |`);
  line("");
};
const mark = (ok) => (ok === undefined ? "n/a" : ok ? "**met**" : "**missed**");

line(`# llm-edge benchmarks`, "");
line(`Date: ${meta.date}. Command: \`${meta.command}\` (bench/run.sh). Commit ${meta.commit}${meta.uncommittedInSrc ? `, with ${meta.uncommittedInSrc} uncommitted change(s) in src/ by other work in progress` : ""}.`);
line(`Machine: ${meta.machine}; load average ${meta.loadAverage.start ?? "?"} at the start, ${meta.loadAverage.end ?? "?"} at the end. Absolute timings are noisy here: compare the ratios, which are measured in the same rounds.`);
const art = meta.artifacts;
line(`Artifacts measured (snapshotted at the start): npm wasm ${art.npmWasm ? `${art.npmWasm.bytes} B, sha256 ${art.npmWasm.sha256}, built ${art.npmWasm.built}` : "missing"}; Worker wasm ${art.workerWasm ? `${art.workerWasm.bytes} B, sha256 ${art.workerWasm.sha256}, built ${art.workerWasm.built}` : "missing"}.`);
const totalSeconds = Object.values(status).reduce((a, v) => a + (v.seconds || 0), 0);
line(`Sections (${totalSeconds} s in all): ${Object.entries(status).map(([k, v]) => `${k} ${v.rc === 0 ? "ok" : `FAILED (exit ${v.rc})`} in ${v.seconds} s${v.note ? ` (${v.note})` : ""}`).join("; ") || "n/a"}.`, "");

// ------------------------------------------------------------------ proxy numbers
const P = {};
if (proxy) {
  const runs = proxy.runs;
  const find = (t, c, round) => runs.find((r) => r.target === t && r.mode === c.mode && r.stream === c.stream && r.conc === c.conc && r.round === round);
  /** Median over rounds of f(run, directRun of the same round). */
  P.added = (t, c, field = "p50") => median(runs.filter((r) => r.target === t && r.mode === c.mode && r.stream === c.stream && r.conc === c.conc).map((r) => {
    const d = find("direct", c, r.round);
    return d ? r[field] - d[field] : NaN;
  }));
  P.cpu = (t, c) => median(runs.filter((r) => r.target === t && r.mode === c.mode && r.stream === c.stream && r.conc === c.conc).map((r) => r.cpuMsPerReq));
  P.treeCpu = (t, c) => median(runs.filter((r) => r.target === t && r.mode === c.mode && r.stream === c.stream && r.conc === c.conc).map((r) => r.treeCpuMsPerReq));
  P.med = (t, c, field) => median(runs.filter((r) => r.target === t && r.mode === c.mode && r.stream === c.stream && r.conc === c.conc).map((r) => r[field]));
  /** Median over rounds of the ratio of two targets' added values (or CPU) in the same round. */
  P.ratio = (num, den, c, field = "p50") => median(runs.filter((r) => r.target === num && r.mode === c.mode && r.stream === c.stream && r.conc === c.conc).map((r) => {
    const d = find("direct", c, r.round), other = find(den, c, r.round);
    if (!d || !other) return NaN;
    if (field === "cpu") return r.cpuMsPerReq / other.cpuMsPerReq;
    return (r[field] - d[field]) / (other[field] - d[field]);
  }));
  P.errors = (t) => runs.filter((r) => r.target === t).reduce((a, r) => a + r.errors, 0);
  P.targets = ["direct", "floor-bare", "llm-edge-bare", "floor", "llm-edge", "portkey", "litellm"].filter((t) => runs.some((r) => r.target === t));
}
const cell = (mode, stream, conc) => ({ mode, stream, conc });
const has = (t) => P.targets?.includes(t);

// ------------------------------------------------------------------ targets summary
const LABEL = {
  floor: "floor (wrangler dev)", "llm-edge": "llm-edge (wrangler dev)", "floor-bare": "floor (workerd alone)", "llm-edge-bare": "llm-edge (workerd alone)",
  "floor-dev": "floor via wrangler's dev port", "llm-edge-dev": "llm-edge via wrangler's dev port",
};
const label = (t) => LABEL[t] ?? t;
const RUNTIMES = [["llm-edge-bare", "floor-bare", "workerd alone"], ["llm-edge", "floor", "wrangler dev"]];
line("## Targets", "");
const targetRows = [];
const both = (f) => [false, true].map((stream) => f(stream));
const api = (stream) => (stream ? "SSE" : "JSON");
if (proxy) {
  for (const [edge, floor, runtime] of RUNTIMES.filter(([e, f]) => has(e) && has(f))) {
    for (const mode of ["passthrough", "translated"]) {
      const parts = both((stream) => {
        const c = cell(mode, stream, 1);
        const r = P.ratio(edge, floor, c);
        return { ok: r <= 1.5, text: `${api(stream)} ${fmt.ratio(r)} (${fmt.signed(P.added(edge, c))} vs ${fmt.signed(P.added(floor, c))} ms)` };
      });
      targetRows.push([`added p50 ≤ 1.5× the JS floor's — ${runtime}, ${mode}, c=1`, parts.map((p) => p.text).join("; "), mark(parts.every((p) => p.ok))]);
    }
  }
  for (const [edge, , runtime] of RUNTIMES.filter(([e]) => has(e) && has("portkey"))) {
    for (const mode of ["passthrough", "translated"]) {
      const lat = both((stream) => {
        const c = cell(mode, stream, 1);
        const r = P.ratio("portkey", edge, c);
        return { ok: r >= 3, text: `${api(stream)} ${fmt.ratio(r)} (Portkey ${fmt.signed(P.added("portkey", c))}, llm-edge ${fmt.signed(P.added(edge, c))} ms)` };
      });
      targetRows.push([`≥3× less added latency than Portkey — ${runtime}, ${mode}, c=1 (Portkey / llm-edge)`, lat.map((p) => p.text).join("; "), mark(lat.every((p) => p.ok))]);
      const cpu = both((stream) => {
        const c = cell(mode, stream, 1);
        const r = P.ratio("portkey", edge, c, "cpu");
        return { ok: r >= 3, text: `${api(stream)} ${fmt.ratio(r)} (Portkey ${fmt.num(P.cpu("portkey", c))}, llm-edge ${fmt.num(P.cpu(edge, c))} ms)` };
      });
      targetRows.push([`≥3× less CPU per request than Portkey — ${runtime}, ${mode}, c=1 (Portkey / llm-edge)`, cpu.map((p) => p.text).join("; "), mark(cpu.every((p) => p.ok))]);
    }
  }
  for (const [edge, floor, runtime] of RUNTIMES.filter(([e]) => has(e))) {
    const parts = ["passthrough", "translated"].map((mode) => {
      const c = cell(mode, true, 1);
      const t = P.added(edge, c, "ttfb50");
      return { ok: t < 1, text: `${mode} ${fmt.signed(t)} ms (floor ${fmt.signed(P.added(floor, c, "ttfb50"))})` };
    });
    targetRows.push([`added time to first byte < 1 ms — ${runtime}, SSE, c=1`, parts.map((p) => p.text).join("; "), mark(parts.every((p) => p.ok))]);
  }
}
const C = {};
if (client) {
  C.med = (provider, impl, field) => median(client.runs.filter((r) => r.provider === provider && r.impl === impl && !r.error).map((r) => r[field]));
  C.ratio = (provider, impl) => median(client.runs.filter((r) => r.provider === provider && r.impl === impl && !r.error).map((r) => {
    const mine = client.runs.find((x) => x.provider === provider && x.impl === "llm-edge" && x.round === r.round && !x.error);
    return mine ? r.ms / mine.ms : NaN;
  }));
  for (const provider of ["openai", "anthropic", "gemini"]) {
    for (const other of ["ai-sdk", "eventsource-parser"]) {
      const r = C.ratio(provider, other);
      targetRows.push([`client stream decoding faster than ${other} (${provider}, ${client.config.EVENTS} events)`, `${other} takes ${fmt.ratio(r)} llm-edge's time (llm-edge ${fmt.num(C.med(provider, "llm-edge", "ms"))} ms, ${other} ${fmt.num(C.med(provider, other, "ms"))} ms)`, mark(Number.isFinite(r) ? r > 1 : undefined)]);
    }
  }
}
if (size?.npmPackage) {
  const b = size.bundles?.find((x) => x.entry === "llm-edge.mjs");
  targetRows.push(["complete client (three providers, every policy) < 100 KB gzip", `npm package wasm + glue ${fmt.kb(size.npmPackage.gzip)} KB; browser bundle + wasm ${fmt.kb(b?.totalGzip)} KB`, mark(size.npmPackage.gzip < 100 * 1024)]);
}
table(["target", "measured", ""], targetRows);

// ------------------------------------------------------------------ section 1
line("## 1. Proxy overhead", "");
if (!proxy) line(`Not measured: ${status.proxy ? `the section failed (exit ${status.proxy.rc}), see its log` : "the section did not run"}.`, "");
else {
  const v = proxy.versions;
  line(`Mock upstream: the peer harness's mock-upstream.mjs (50-token answers, no delay), the same for every target. ${proxy.config.ROUNDS} interleaved rounds (order rotated), cells ≤${proxy.config.CELL_MS / 1000} s; closed loop with undici ${v.undici}. Workers in workerd ${v.workerd}: "workerd alone" runs the Worker as a deployment does (no wrangler, no miniflare entry worker, no inspector; the Durable Object on local disk); "wrangler dev" is wrangler ${v.wrangler} dev (its Durable Object in --persist-to), called on the Worker's own workerd socket, which skips wrangler's dev-only proxy hop (measured separately below). Both Workers' CPU figures count only the workerd process that runs them. Portkey ${v.portkey} (Node ${v.node}), LiteLLM ${v.litellm} (one uvicorn worker). Passthrough: OpenAI format in, OpenAI upstream. Translated: OpenAI format in, Anthropic upstream (direct and floor call the Anthropic endpoint as-is). "Added" = target − direct in the same round, ms, median over rounds. CPU = the serving process's user+system time / requests (workerd running the Worker; Portkey's node; LiteLLM's process tree).`, "");
  for (const [name, err] of Object.entries(proxy.failed || {})) line(`**${name} did not start**: ${err}`, "");
  for (const mode of ["passthrough", "translated"]) {
    line(`**${mode}**`, "");
    const rows = P.targets.filter((t) => t !== "direct").map((t) => {
      const j1 = cell(mode, false, 1), j16 = cell(mode, false, 16), s1 = cell(mode, true, 1), s16 = cell(mode, true, 16);
      return [label(t), `${fmt.signed(P.added(t, j1))} / ${fmt.signed(P.added(t, j1, "p99"))}`, fmt.signed(P.added(t, j16)), fmt.signed(P.added(t, s1)), `${fmt.signed(P.added(t, s1, "ttfb50"))} / ${fmt.signed(P.added(t, s1, "ttfb99"))}`, fmt.signed(P.added(t, s16)),
        `${fmt.num(P.cpu(t, j1))} / ${fmt.num(P.cpu(t, s1))}`, `${fmt.num(P.cpu(t, j16))} / ${fmt.num(P.cpu(t, s16))}`, `${fmt.int(P.med(t, j16, "rps"))} / ${fmt.int(P.med(t, s16, "rps"))}`, P.errors(t) ? String(P.errors(t)) : "0"];
    });
    rows.unshift(["direct (ms, absolute)", `${fmt.num(P.med("direct", cell(mode, false, 1), "p50"))} / ${fmt.num(P.med("direct", cell(mode, false, 1), "p99"))}`, fmt.num(P.med("direct", cell(mode, false, 16), "p50")), fmt.num(P.med("direct", cell(mode, true, 1), "p50")), `${fmt.num(P.med("direct", cell(mode, true, 1), "ttfb50"))} / ${fmt.num(P.med("direct", cell(mode, true, 1), "ttfb99"))}`, fmt.num(P.med("direct", cell(mode, true, 16), "p50")), "", "", `${fmt.int(P.med("direct", cell(mode, false, 16), "rps"))} / ${fmt.int(P.med("direct", cell(mode, true, 16), "rps"))}`, String(P.errors("direct"))]);
    table(["target", "JSON c=1 added p50 / p99", "JSON c=16 added p50", "SSE c=1 added p50", "SSE c=1 added ttfb p50 / p99", "SSE c=16 added p50", "CPU ms/req c=1 JSON / SSE", "CPU ms/req c=16 JSON / SSE", "rps c=16 JSON / SSE", "errors"], rows);
  }
  if (proxy.runs.some((r) => r.target.endsWith("-dev"))) {
    line("Through wrangler dev's own port (its dev-only proxy workerd in front; CPU counts both workerd processes), passthrough, c=1:", "");
    table(["target", "JSON added p50", "SSE added p50", "SSE added ttfb p50", "CPU ms/req JSON / SSE"], ["floor-dev", "llm-edge-dev"].filter((t) => proxy.runs.some((r) => r.target === t)).map((t) => {
      const j = cell("passthrough", false, 1), s = cell("passthrough", true, 1);
      return [label(t), fmt.signed(P.added(t, j)), fmt.signed(P.added(t, s)), fmt.signed(P.added(t, s, "ttfb50")), `${fmt.num(P.cpu(t, j))} / ${fmt.num(P.cpu(t, s))}`];
    }));
  }
  line("Ratios in the same round (median over rounds), c=1:", "");
  const ratioRows = [];
  for (const [edge, floor, runtime] of RUNTIMES.filter(([e]) => has(e))) {
    for (const mode of ["passthrough", "translated"]) {
      for (const stream of [false, true]) {
        const c = cell(mode, stream, 1);
        ratioRows.push([`${runtime}: ${mode} ${api(stream)}`, fmt.ratio(P.ratio(edge, floor, c)), fmt.ratio(P.ratio(edge, floor, c, "cpu")), fmt.ratio(P.ratio("portkey", edge, c)), fmt.ratio(P.ratio("portkey", edge, c, "cpu")), fmt.ratio(P.ratio("litellm", edge, c)), fmt.ratio(P.ratio("litellm", edge, c, "cpu"))]);
      }
    }
  }
  table(["llm-edge in … cell", "llm-edge / floor (added p50)", "llm-edge / floor (CPU)", "Portkey / llm-edge (added p50)", "Portkey / llm-edge (CPU)", "LiteLLM / llm-edge (added p50)", "LiteLLM / llm-edge (CPU)"], ratioRows);
  line("Memory and start-up:", "");
  table(["target", "idle RSS MiB (after start)", "peak RSS MiB (under load)", "RSS MiB after the run", "start-up ms (spawn → first 200)"], P.targets.filter((t) => t !== "direct").map((t) => [
    label(t), fmt.mib(proxy.idleKiB[t]), fmt.mib(Math.max(...proxy.runs.filter((r) => r.target === t).map((r) => r.rssPeakKiB || 0))), fmt.mib(proxy.idleKiB[`${t}:after`]), fmt.int(proxy.startup[t]),
  ]));
  if (Object.keys(proxy.probe || {}).length) {
    line("Streaming probe (20 chunks 25 ms apart, c=1, 2 requests, medians): a proxy that streams keeps ttfb near direct's and the client sees about 20 reads.", "");
    table(["target / mode", "ttfb ms", "total ms", "client reads"], Object.entries(proxy.probe).map(([k, v]) => [`${label(k.split("/")[0])} / ${k.split("/")[1]}`, fmt.num(v.ttfb50), fmt.num(v.total50), fmt.int(v.reads50)]));
  }
  if (proxy.breakdown?.length) {
    line(`Where llm-edge's time goes (one request at a time, in ${proxy.breakdown[0].target.endsWith("-bare") ? "workerd alone" : "wrangler dev"}; medians over rounds):`, "");
    table(["request", "p50 ms", "workerd CPU ms/req"], proxy.breakdown.map((b) => [b.route, fmt.num(b.p50), fmt.num(b.cpuMsPerReq)]));
    const one = proxy.breakdown.find((b) => b.route === "llm-edge POST SSE chat, 1 chunk"), many = proxy.breakdown.find((b) => b.route === "llm-edge POST SSE chat, 200 chunks");
    const fOne = proxy.breakdown.find((b) => b.route === "floor POST SSE chat, 1 chunk"), fMany = proxy.breakdown.find((b) => b.route === "floor POST SSE chat, 200 chunks");
    const nativePerEvent = core?.results.find((r) => r.name === "Client::stream, whole call, openai, one event per chunk")?.nsPerEvent;
    const jOne = proxy.breakdown.find((b) => b.route === "JS chunk-by-chunk Worker POST SSE chat, 1 chunk"), jMany = proxy.breakdown.find((b) => b.route === "JS chunk-by-chunk Worker POST SSE chat, 200 chunks");
    const slope = (a, b) => `${fmt.num((1000 * (b.cpuMsPerReq - a.cpuMsPerReq)) / 199)} µs CPU, ${fmt.num((1000 * (b.p50 - a.p50)) / 199)} µs latency`;
    if (one && many) line(`Per streamed event (slope from 1 to 200 chunks; the mock writes each event as its own HTTP chunk, and workerd hands each to the Worker as its own read): llm-edge ${slope(one, many)}${fOne && fMany ? `; floor ${slope(fOne, fMany)}` : ""}${jOne && jMany ? `; a JS Worker that only reads and re-enqueues each chunk ${slope(jOne, jMany)}` : ""}.${nativePerEvent ? ` Natively (section 4) the core's whole client stream path costs ${fmt.num(nativePerEvent / 1000)} µs per event.` : ""}`, "");
  }
  line("<details><summary>Full matrix</summary>", "");
  const rows = [];
  for (const mode of ["passthrough", "translated"]) for (const stream of [false, true]) for (const conc of proxy.config.CONCS) {
    const c = cell(mode, stream, conc);
    for (const t of [...P.targets, "floor-dev", "llm-edge-dev"]) {
      const mine = proxy.runs.filter((r) => r.target === t && r.mode === mode && r.stream === stream && r.conc === conc);
      if (!mine.length) continue;
      rows.push([mode, stream ? "SSE" : "JSON", conc, label(t), fmt.int(median(mine.map((r) => r.n))), mine.reduce((a, r) => a + r.errors, 0), fmt.int(median(mine.map((r) => r.rps))), fmt.num(median(mine.map((r) => r.p50))), fmt.num(median(mine.map((r) => r.p99))), t === "direct" ? "" : fmt.signed(P.added(t, c)), stream ? fmt.num(median(mine.map((r) => r.ttfb50))) : "", fmt.num(P.cpu(t, c)), fmt.num(P.treeCpu(t, c)), fmt.num(median(mine.map((r) => r.mockCpuMsPerReq)))]);
    }
  }
  table(["mode", "api", "c", "target", "n/round", "err", "rps", "p50 ms", "p99 ms", "added p50", "ttfb p50", "CPU ms/req", "process-tree CPU ms/req", "mock CPU ms/req"], rows);
  line("</details>", "");
}

// ------------------------------------------------------------------ section 2
line("## 2. Client stream decoding (Node)", "");
if (!client) line(`Not measured: ${status.client ? `the section failed (exit ${status.client.rc}), see its log` : "the section did not run"}.`, "");
else {
  const v = client.versions;
  line(`One stream per provider, generated by the repository's mock provider (${client.config.EVENTS} text pieces, each one SSE event) and replayed from another process on 127.0.0.1. Node ${v.node}; ai ${v.ai}, @ai-sdk/openai ${v["@ai-sdk/openai"]}, @ai-sdk/anthropic ${v["@ai-sdk/anthropic"]}, @ai-sdk/google ${v["@ai-sdk/google"]}, eventsource-parser ${v["eventsource-parser"]}. ${client.config.ROUNDS} interleaved rounds after ${client.config.WARMUP} warm-up; medians. Every implementation extracted the same text: ${Object.entries(client.checks).map(([p, c]) => `${p} ${c.agree ? "yes" : "NO"}`).join(", ")}.`, "");
  const rows = [];
  for (const provider of ["openai", "anthropic", "gemini"]) {
    const s = client.streams[provider];
    for (const impl of ["llm-edge", "ai-sdk", "eventsource-parser", "fetch only"]) {
      const ms = C.med(provider, impl, "ms");
      const errors = client.runs.filter((r) => r.provider === provider && r.impl === impl && r.error);
      rows.push([`${provider} (${s.events} events, ${fmt.kb(s.bytes)} KB)`, impl, fmt.num(ms), fmt.int((s.events / ms) * 1000), fmt.num(C.med(provider, impl, "cpuMs")), impl === "llm-edge" ? "1" : fmt.ratio(C.ratio(provider, impl)), errors.length ? `${errors.length}: ${errors[0].error.slice(0, 80)}` : ""]);
    }
  }
  table(["stream", "implementation", "ms / stream", "events / s", "CPU ms / stream", "time vs llm-edge", "errors"], rows);
}

// ------------------------------------------------------------------ section 3
line("## 3. Size and start-up", "");
if (!size) line(`Not measured: ${status.size ? `the section failed (exit ${status.size.rc}), see its log` : "the section did not run"}.`, "");
else {
  if (size.npmPackage) {
    line(`npm package, wasm + JS glue (what a browser downloads; gzip -9): **${fmt.kb(size.npmPackage.gzip)} KB** gzip, ${fmt.kb(size.npmPackage.raw)} KB raw (${size.npmPackage.files.map((f) => `${f.file} ${fmt.kb(f.gzip)} KB`).join(", ")}).`, "");
  }
  if (size.bundles) {
    const mine = size.bundles.find((b) => b.entry === "llm-edge.mjs")?.totalGzip;
    line(`Browser bundles of the same typical use (bench/size/entries/), esbuild ${size.esbuild} \`--bundle --minify --platform=browser --format=esm\`, gzip -9:`, "");
    table(["bundle", "versions", "JS gzip KB", "+ wasm gzip KB", "total gzip KB", "vs llm-edge"], size.bundles.map((b) => b.error ? [b.name, "", "error", "", b.error.slice(0, 100), ""] : [b.name, Object.entries(b.versions).map(([k, v]) => `${k} ${v}`).join(", "), fmt.kb(b.jsGzip), b.extraGzip ? fmt.kb(b.extraGzip) : "", `**${fmt.kb(b.totalGzip)}**`, b.entry === "llm-edge.mjs" ? "1" : fmt.ratio(b.totalGzip / mine)]));
  }
  if (fs.existsSync(path.join(RESULTS, "wasm-size.md"))) line("What the wasm is made of, by crate and module (twiggy): [wasm-size.md](wasm-size.md), made by `bash bench/size/analyze-wasm.sh`.", "");
  if (size.worker) line(`Worker proxy (build/index_bg.wasm + build/index.js): **${fmt.kb(size.worker.gzip)} KB** gzip, ${fmt.kb(size.worker.raw)} KB raw (Cloudflare's limits: 3 MB gzip on the free plan, 10 MB paid).`, "");
  const s = size.startup;
  if (s) {
    line("Start-up (medians):", "");
    const rows = [
      ["Worker alone in workerd (spawn → first 200 on /health, no wrangler)", `${fmt.int(s.workerd["llm-edge"]?.median)} ms`, `floor ${fmt.int(s.workerd.floor?.median)} ms`],
      ["`wrangler dev` (spawn → first 200 on /health)", `${fmt.int(s.wrangler["llm-edge"]?.median)} ms`, `floor ${fmt.int(s.wrangler.floor?.median)} ms`],
      ...Object.entries(s.compileMs).map(([k, v]) => [`V8 compile of the ${k} (Node, fresh process)`, `${fmt.num(v.median)} ms`, ""]),
      ...Object.entries(s.coldImportMs).map(([k, v]) => [`cold import + client construction in a fresh Node process: ${k}`, `${fmt.int(v.median)} ms`, ""]),
    ];
    table(["what", "llm-edge / library", "reference"], rows);
    if (s.errors?.length) line(`Start-up errors: ${s.errors.slice(0, 3).join("; ")}`, "");
  }
  if (size.errors?.length) line(`Errors: ${size.errors.join("; ")}`, "");
}

// ------------------------------------------------------------------ section 4
line("## 4. Core hot paths (native, release build)", "");
if (!core) line(`Not measured: ${status.core ? `the section failed (exit ${status.core.rc}), see its log` : "the section did not run"}.`, "");
else {
  line(`bench/core-bench (its own crate, \`cargo run --release\`, opt-level 3), median of 5 samples of ~${core.config.sampleMs} ms each; streams of ${core.config.streamEvents} text events fed in ${core.config.chunkBytes / 1024} KiB chunks unless said otherwise.`, "");
  table(["group", "operation", "ns / op", "µs / op", "MB/s", "ns / event"], core.results.map((r) => [r.group, r.name, fmt.int(r.nsPerOp), fmt.num(r.nsPerOp / 1000), r.mbPerSec ? fmt.int(r.mbPerSec) : "", r.nsPerEvent ? fmt.int(r.nsPerEvent) : ""]));
}

const md = L.join("\n") + "\n";
fs.mkdirSync(RESULTS, { recursive: true });
fs.writeFileSync(path.join(RESULTS, "latest.md"), md);
const stamp = meta.date.replace(/[:.]/g, "-");
fs.writeFileSync(path.join(RESULTS, `${stamp}.json`), JSON.stringify({ meta, proxy, client, size, core }, null, 1));
console.log(md);
console.error(`[bench] wrote bench/results/latest.md and bench/results/${stamp}.json`);
