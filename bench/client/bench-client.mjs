#!/usr/bin/env node
// Section 2 of bench/run.sh: how fast a JS client consumes a long stream.
//
// The repository's mock provider generates one long stream per provider (EVENTS text pieces,
// each one SSE event, in the provider's real wire format); a replay server in another process
// sends those bytes for every request. Each implementation extracts the text deltas of the
// same stream, in interleaved rounds (order rotated per round, a GC before each run):
//   llm-edge          Client.stream from the built package (pkg/node.js), events of the async iterator
//   ai-sdk            Vercel AI SDK streamText(...).textStream with @ai-sdk/{openai,anthropic,google}
//   eventsource-parser createParser + JSON.parse + picking the delta out by hand
//   fetch only        reading the bytes without parsing (what the transport alone costs)
// All of them read through Node's global fetch. Reported: ms per stream and events/s (wall),
// and the CPU ms of this process per stream, medians over the rounds.
//
// Env knobs: EVENTS [20000] ROUNDS [7] WARMUP [2] QUICK=1 OUT [bench/results/tmp/client.json]
//   IMPLS=llm-edge,eventsource-parser PROVIDERS=openai,gemini (subsets) LLM_EDGE_PKG=dir (another build of pkg/, e.g.
//   one keeping wasm names for `node --cpu-prof`) LLM_EDGE_PKG_B=dir (another build, measured in
//   the same rounds as "llm-edge B")
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { REPO, PKG, Processes, log as baseLog, median, now, writeJson, loadAverage } from "../lib/common.mjs";

const log = (...a) => baseLog("client", ...a);
const QUICK = process.env.QUICK === "1";
const EVENTS = Number(process.env.EVENTS || (QUICK ? 2000 : 20000));
const ROUNDS = Number(process.env.ROUNDS || (QUICK ? 2 : 7));
const WARMUP = Number(process.env.WARMUP || (QUICK ? 1 : 2));
const IMPLS = process.env.IMPLS ? process.env.IMPLS.split(",") : null;
const LLM_EDGE_PKG = process.env.LLM_EDGE_PKG || PKG;
const OUT = process.env.OUT || path.join(REPO, "bench/results/tmp/client.json");
const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "llm-edge-bench-client-"));
const require = createRequire(path.join(REPO, "package.json"));
const importFromRepo = (name) => import(pathToFileURL(require.resolve(name)).href);
const procs = new Processes(path.join(WORK, "logs"));

const PROVIDERS = ["openai", "anthropic", "gemini"];
const RUN_PROVIDERS = process.env.PROVIDERS ? process.env.PROVIDERS.split(",") : PROVIDERS;
const MODEL = { openai: "gpt-4o-mini", anthropic: "claude-haiku-4-5", gemini: "gemini-2.5-flash" };
const KEY = "sk-bench-not-a-real-key";

// ------------------------------------------------------------------ the streams
async function recordStreams(dir) {
  const { startMockProvider } = await import(pathToFileURL(path.join(REPO, "tests/mock-provider/server.mjs")).href);
  const mock = await startMockProvider();
  const behavior = JSON.stringify({ words: EVENTS });
  const requests = {
    openai: {
      path: "/v1/chat/completions",
      headers: { authorization: `Bearer ${KEY}` },
      body: { model: MODEL.openai, messages: [{ role: "user", content: "Tell me a long story." }], max_tokens: EVENTS + 10, stream: true, stream_options: { include_usage: true } },
    },
    anthropic: {
      path: "/v1/messages",
      headers: { "x-api-key": KEY, "anthropic-version": "2023-06-01" },
      body: { model: MODEL.anthropic, messages: [{ role: "user", content: "Tell me a long story." }], max_tokens: EVENTS + 10, stream: true },
    },
    gemini: {
      path: `/v1beta/models/${MODEL.gemini}:streamGenerateContent?alt=sse`,
      headers: { "x-goog-api-key": KEY },
      body: { contents: [{ role: "user", parts: [{ text: "Tell me a long story." }] }], generationConfig: { maxOutputTokens: EVENTS + 10 } },
    },
  };
  const info = {};
  try {
    for (const provider of PROVIDERS) {
      const r = requests[provider];
      const res = await fetch(mock.url + r.path, { method: "POST", headers: { "content-type": "application/json", "x-mock-behavior": behavior, ...r.headers }, body: JSON.stringify(r.body) });
      if (res.status !== 200) throw new Error(`mock ${provider}: HTTP ${res.status} ${await res.text()}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      fs.writeFileSync(path.join(dir, `${provider}.sse`), bytes);
      const text = bytes.toString("utf8");
      info[provider] = { bytes: bytes.length, events: (text.match(/^data:/gm) || []).length };
    }
  } finally {
    await mock.close();
  }
  return info;
}

function startReplay(procs, dir) {
  return new Promise((resolve, reject) => {
    let out = "";
    const entry = procs.start("replay-server", process.execPath, [path.join(REPO, "bench/client/replay-server.mjs"), dir], {
      onOutput: (text) => {
        out += text;
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve({ url: m[1], stop: () => procs.stop(entry) });
      },
    });
    entry.child.on("exit", (code) => reject(new Error(`replay server exited with ${code}: ${out}`)));
  });
}

// ------------------------------------------------------------------ the implementations
const EXTRACT = {
  openai: (j) => j.choices?.[0]?.delta?.content,
  anthropic: (j) => (j.type === "content_block_delta" && j.delta?.type === "text_delta" ? j.delta.text : undefined),
  gemini: (j) => {
    const parts = j.candidates?.[0]?.content?.parts;
    if (!parts) return undefined;
    let text = "";
    for (const p of parts) if (typeof p.text === "string") text += p.text;
    return text;
  },
};

function rawRequest(url, provider) {
  const body = {
    openai: { model: MODEL.openai, messages: [{ role: "user", content: "Tell me a long story." }], stream: true, stream_options: { include_usage: true } },
    anthropic: { model: MODEL.anthropic, messages: [{ role: "user", content: "Tell me a long story." }], max_tokens: EVENTS + 10, stream: true },
    gemini: { contents: [{ role: "user", parts: [{ text: "Tell me a long story." }] }] },
  }[provider];
  const pathOf = { openai: "/v1/chat/completions", anthropic: "/v1/messages", gemini: `/v1beta/models/${MODEL.gemini}:streamGenerateContent?alt=sse` };
  return fetch(url + pathOf[provider], { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function makeImplementations(url) {
  const impls = {};

  // LLM_EDGE_PKG_B: a second build measured in the same rounds, as "llm-edge B".
  const builds = { "llm-edge": LLM_EDGE_PKG };
  if (process.env.LLM_EDGE_PKG_B) builds["llm-edge B"] = process.env.LLM_EDGE_PKG_B;
  for (const [name, dir] of Object.entries(builds)) {
    const { Client } = await import(pathToFileURL(path.join(dir, "node.js")).href);
    const client = new Client({
      providers: { openai: { apiKey: KEY, baseUrl: url }, anthropic: { apiKey: KEY, baseUrl: url }, gemini: { apiKey: KEY, baseUrl: url } },
      timeoutMs: 120000,
    });
    impls[name] = async (provider) => {
      let deltas = 0, chars = 0;
      const stream = client.stream({ model: `${provider}/${MODEL[provider]}`, messages: [{ role: "user", content: "Tell me a long story." }], maxTokens: EVENTS + 10 });
      for await (const event of stream) {
        if (event.type === "text-delta") {
          deltas++;
          chars += event.text.length;
        } else if (event.type === "error") throw event.error;
      }
      return { deltas, chars };
    };
  }

  const { streamText } = await importFromRepo("ai");
  const { createOpenAI } = await importFromRepo("@ai-sdk/openai");
  const { createAnthropic } = await importFromRepo("@ai-sdk/anthropic");
  const { createGoogleGenerativeAI } = await importFromRepo("@ai-sdk/google");
  globalThis.AI_SDK_LOG_WARNINGS = false;
  const models = {
    openai: createOpenAI({ baseURL: `${url}/v1`, apiKey: KEY }).chat(MODEL.openai),
    anthropic: createAnthropic({ baseURL: `${url}/v1`, apiKey: KEY })(MODEL.anthropic),
    gemini: createGoogleGenerativeAI({ baseURL: `${url}/v1beta`, apiKey: KEY })(MODEL.gemini),
  };
  impls["ai-sdk"] = async (provider) => {
    let deltas = 0, chars = 0;
    let failure;
    const result = streamText({ model: models[provider], prompt: "Tell me a long story.", maxOutputTokens: EVENTS + 10, maxRetries: 0, onError: ({ error }) => (failure = error) });
    for await (const text of result.textStream) {
      deltas++;
      chars += text.length;
    }
    if (failure) throw failure;
    return { deltas, chars };
  };

  const { createParser } = await importFromRepo("eventsource-parser");
  impls["eventsource-parser"] = async (provider) => {
    let deltas = 0, chars = 0;
    const extract = EXTRACT[provider];
    const parser = createParser({
      onEvent(event) {
        if (event.data === "[DONE]") return;
        const text = extract(JSON.parse(event.data));
        if (text) {
          deltas++;
          chars += text.length;
        }
      },
    });
    const res = await rawRequest(url, provider);
    const decoder = new TextDecoder();
    for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
    return { deltas, chars };
  };

  impls["fetch only"] = async (provider) => {
    const res = await rawRequest(url, provider);
    let bytes = 0;
    for await (const chunk of res.body) bytes += chunk.length;
    return { deltas: NaN, chars: NaN, bytes };
  };
  return impls;
}

// ------------------------------------------------------------------ main
async function main() {
  const result = { section: "client", started: new Date().toISOString(), loadStart: loadAverage(), config: { EVENTS, ROUNDS, WARMUP }, versions: {}, streams: {}, runs: [], checks: {} };
  for (const name of ["ai", "@ai-sdk/openai", "@ai-sdk/anthropic", "@ai-sdk/google", "eventsource-parser"]) {
    try {
      result.versions[name] = JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", name, "package.json"), "utf8")).version;
    } catch {
      result.versions[name] = "n/a";
    }
  }
  result.versions.node = process.version;
  result.streams = await recordStreams(WORK);
  log("recorded", JSON.stringify(result.streams));
  const replay = await startReplay(procs, WORK);
  try {
    const impls = await makeImplementations(replay.url);
    const names = Object.keys(impls).filter((name) => !IMPLS || IMPLS.includes(name));
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      for (const provider of RUN_PROVIDERS) {
        const order = names.map((_, i) => names[(i + round) % names.length]);
        for (const name of order) {
          globalThis.gc?.();
          const cpu0 = process.cpuUsage();
          const t0 = now();
          let outcome;
          try {
            outcome = await impls[name](provider);
          } catch (e) {
            outcome = { error: String(e?.message || e) };
          }
          const ms = now() - t0;
          const cpu = process.cpuUsage(cpu0);
          if (round < WARMUP) {
            if (outcome.error) log(`warm-up ${name} ${provider}: ${outcome.error}`);
            continue;
          }
          result.runs.push({ round: round - WARMUP, provider, impl: name, ms, cpuMs: (cpu.user + cpu.system) / 1000, ...outcome });
        }
      }
      if (round >= WARMUP) log(`round ${round - WARMUP + 1}/${ROUNDS} done`);
    }
    // Every parser must have seen the same text.
    for (const provider of RUN_PROVIDERS) {
      const chars = {};
      for (const name of names.filter((n) => n !== "fetch only")) chars[name] = median(result.runs.filter((r) => r.provider === provider && r.impl === name && !r.error).map((r) => r.chars));
      result.checks[provider] = { chars, agree: new Set(Object.values(chars)).size === 1 };
    }
  } finally {
    await replay.stop();
    fs.rmSync(WORK, { recursive: true, force: true });
  }
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
