// Shared plumbing of the benchmark sections: statistics, /proc sampling, processes started and
// stopped by PID, loopback ports and `wrangler dev`. Node >= 20, no dependencies.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
// The built artifacts under test: run.sh points these at a snapshot taken when the run starts,
// so that a rebuild by someone else during the run cannot mix two builds in one report.
export const PKG = process.env.BENCH_PKG || path.join(REPO, "pkg");
export const BUILD = process.env.BENCH_BUILD || path.join(REPO, "build");
export const HOST = "127.0.0.1";
export const now = () => performance.now();
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const log = (section, ...args) =>
  console.error(`[bench ${section} ${new Date().toISOString().slice(11, 19)}]`, ...args);

// ------------------------------------------------------------------ statistics
/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function median(values) {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmt = {
  /** 2 decimals under 10, 1 under 100, else none. */
  num: (x) => (Number.isFinite(x) ? x.toFixed(Math.abs(x) < 10 ? 2 : Math.abs(x) < 100 ? 1 : 0) : "–"),
  signed: (x) => (Number.isFinite(x) ? (x >= 0 ? "+" : "") + fmt.num(x) : "–"),
  ratio: (x) => (Number.isFinite(x) ? `${x.toPrecision(2)}×` : "–"),
  kb: (bytes) => (Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : "–"),
  mib: (kib) => (Number.isFinite(kib) ? (kib / 1024).toFixed(0) : "–"),
  int: (x) => (Number.isFinite(x) ? Math.round(x).toString() : "–"),
};

// ------------------------------------------------------------------ /proc
const CLOCK_TICKS = 100; // USER_HZ on Linux

function statFields(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which may itself contain spaces and parentheses.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** `root` and all its descendants. */
export function processTree(root) {
  const children = new Map();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(entry)[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const child of children.get(out[i]) ?? []) out.push(child);
  return out;
}

/** User + system CPU seconds of the given processes (all their threads). */
export function cpuSeconds(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const f = statFields(pid);
      total += (Number(f[11]) + Number(f[12])) / CLOCK_TICKS; // utime, stime
    } catch {}
  }
  return total;
}

/** Resident memory of the given processes, KiB. */
export function rssKiB(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
      if (m) total += Number(m[1]);
    } catch {}
  }
  return total;
}

export function commandLine(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

/** TCP ports the process listens on (IPv4 and IPv6). */
export function listeningPorts(pid) {
  const inodes = new Set();
  let fds = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {}
  }
  const ports = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9])) ports.push(parseInt(f[1].split(":").at(-1), 16));
    }
  }
  return [...new Set(ports)];
}

export function loadAverage() {
  try {
    return fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}

// ------------------------------------------------------------------ ports
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, HOST, resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// ------------------------------------------------------------------ processes
/**
 * Processes started by a section. Each runs in its own process group (detached), so stopping
 * one signals exactly that group: the PID we spawned and whatever it spawned, nothing else.
 * The PIDs are also appended to `BENCH_PIDFILE` (when set) for run.sh's last-resort cleanup.
 */
export class Processes {
  constructor(logDir) {
    this.logDir = logDir;
    this.started = [];
    this.stopping = false;
    fs.mkdirSync(logDir, { recursive: true });
    process.on("exit", () => this.killAllNow());
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
      process.on(signal, async () => {
        await this.stopAll();
        process.exit(130);
      });
    }
  }

  start(name, command, args, { cwd = REPO, env = {}, onOutput } = {}) {
    const logPath = path.join(this.logDir, `${name}.log`);
    const out = fs.openSync(logPath, "w");
    const childEnv = { ...process.env, NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost", ...env };
    for (const k of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"]) delete childEnv[k];
    const child = spawn(command, args, {
      cwd,
      env: childEnv,
      stdio: ["ignore", onOutput ? "pipe" : out, onOutput ? "pipe" : out],
      detached: true,
    });
    if (onOutput) {
      for (const stream of [child.stdout, child.stderr]) {
        stream.on("data", (chunk) => {
          fs.writeSync(out, chunk);
          onOutput(chunk.toString());
        });
      }
    }
    const entry = { name, child, logPath, spawnedAt: now(), exited: false };
    child.on("exit", (code, signal) => {
      entry.exited = true;
      if (!this.stopping && !entry.stopping) log("proc", `${name} exited code=${code} signal=${signal}`);
    });
    this.started.push(entry);
    if (process.env.BENCH_PIDFILE) fs.appendFileSync(process.env.BENCH_PIDFILE, `${child.pid} ${name}\n`);
    return entry;
  }

  async stop(entry, graceMs = 5000) {
    if (entry.exited) return;
    entry.stopping = true;
    try {
      process.kill(-entry.child.pid, "SIGTERM");
    } catch {}
    const t0 = now();
    while (!entry.exited && now() - t0 < graceMs) await sleep(50);
    if (!entry.exited) {
      try {
        process.kill(-entry.child.pid, "SIGKILL");
      } catch {}
      await sleep(100);
    }
  }

  async stopAll() {
    this.stopping = true;
    await Promise.all(this.started.map((entry) => this.stop(entry)));
  }

  killAllNow() {
    for (const entry of this.started) {
      if (entry.exited) continue;
      try {
        process.kill(-entry.child.pid, "SIGKILL");
      } catch {}
    }
  }
}

/** Polls `check` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor(check, { timeoutMs = 60000, intervalMs = 25, what = "a condition" } = {}) {
  const deadline = now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export async function fetchStatus(url, init) {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
    const body = await res.text();
    return { status: res.status, body };
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------ wrangler dev
/**
 * Starts `wrangler dev` for `configPath` on a free loopback port, every setting passed with
 * --var (no .dev.vars is read), and waits for `readyPath` to answer 200. Resolves to the dev
 * port, the workerd process that runs the Worker, and that process's own entry port (which
 * skips wrangler's dev-only proxy hop, a second workerd in front of the first).
 */
export async function startWranglerDev(procs, name, configPath, { vars = {}, persistTo, readyPath = "/health", readyInit, timeoutMs = 90000 } = {}) {
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    path.join(REPO, "node_modules/wrangler/bin/wrangler.js"),
    "dev",
    "--config", configPath,
    "--ip", HOST,
    "--port", String(port),
    "--inspector-port", String(inspectorPort),
    "--show-interactive-dev-session=false",
  ];
  for (const [key, value] of Object.entries(vars)) args.push("--var", `${key}:${value}`);
  if (persistTo) args.push("--persist-to", persistTo);
  const t0 = now();
  const entry = procs.start(name, process.execPath, args, {
    cwd: path.dirname(configPath),
    // No Request.cf download (the benchmark stays on loopback), no metrics, no prompts.
    env: { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
  });
  const url = `http://${HOST}:${port}`;
  let readyBody;
  await waitFor(
    async () => {
      if (entry.exited) throw new Error(`${name}: wrangler dev exited early (log: ${entry.logPath})`);
      const r = await fetchStatus(url + readyPath, readyInit);
      if (r && r.status === 200) {
        readyBody = r.body;
        return true;
      }
      return false;
    },
    { timeoutMs, intervalMs: 20, what: `${name} to answer 200 on ${readyPath}` },
  );
  const readyMs = now() - t0;
  // The Worker's workerd: a descendant workerd whose entry socket is not the dev port.
  const workerds = processTree(entry.child.pid).filter((pid) => commandLine(pid).some((a) => a.endsWith("workerd")) && commandLine(pid).includes("serve"));
  const devProxy = workerds.find((pid) => commandLine(pid).some((a) => a === `--socket-addr=entry=${HOST}:${port}`));
  const worker = workerds.find((pid) => pid !== devProxy);
  let workerUrl;
  if (worker) {
    for (const candidate of listeningPorts(worker)) {
      const r = await fetchStatus(`http://${HOST}:${candidate}${readyPath}`, readyInit);
      if (r && r.status === 200 && r.body === readyBody) {
        workerUrl = `http://${HOST}:${candidate}`;
        break;
      }
    }
  }
  return { entry, url, readyMs, workerPid: worker, devProxyPid: devProxy, workerUrl, wranglerPid: entry.child.pid };
}

/** Copies the built Worker to a private folder so a rebuild elsewhere cannot reload it mid-run. */
export function stageWorker(buildDir, stageDir) {
  fs.mkdirSync(path.join(stageDir, "build"), { recursive: true });
  for (const file of ["index.js", "index_bg.wasm"]) fs.copyFileSync(path.join(buildDir, file), path.join(stageDir, "build", file));
  // The repository's wrangler.toml without [assets]: the floor has no static assets either,
  // and the asset router in front of the Worker is a deployment choice, not llm-edge's work.
  const toml = fs.readFileSync(path.join(REPO, "wrangler.toml"), "utf8");
  const withoutAssets = toml.replace(/\n\[assets\][^[]*/, "\n");
  fs.writeFileSync(path.join(stageDir, "wrangler.toml"), withoutAssets);
  return path.join(stageDir, "wrangler.toml");
}

// ------------------------------------------------------------------ workerd alone
export function workerdBinary() {
  const native = path.join(REPO, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");
  return fs.existsSync(native) ? native : path.join(REPO, "node_modules/.bin/workerd");
}

/**
 * Writes a workerd config that serves the built Worker (`kind` "llm-edge", its Durable Object
 * stored on disk under `dir`), the floor ("floor") or the floor that handles every chunk in JS
 * ("floor-chunks", bench/floor-worker/chunks.js) on `port`, with `vars` as text bindings:
 * the runtime as a deployment runs it, without wrangler, miniflare's entry worker or an
 * inspector in front. `buildDir` is the llm-edge build to serve (another one for an A/B).
 */
export function workerdConfig(kind, dir, port, vars, buildDir = BUILD) {
  fs.mkdirSync(dir, { recursive: true });
  const text = Object.entries(vars).map(([k, v]) => `    (name = ${JSON.stringify(k)}, text = ${JSON.stringify(v)}),`).join("\n");
  const loopback = `(name = "loopback", network = (allow = ["local"]))`;
  let worker;
  if (kind === "llm-edge") {
    for (const f of ["index.js", "index_bg.wasm"]) fs.copyFileSync(path.join(buildDir, f), path.join(dir, f));
    fs.mkdirSync(path.join(dir, "do-state"), { recursive: true });
    worker = `  modules = [
    (name = "index.js", esModule = embed "index.js"),
    (name = "index_bg.wasm", wasm = embed "index_bg.wasm"),
  ],
  compatibilityDate = "2026-01-01",
  bindings = [
${text}
    (name = "CLIENT_LIMITS", durableObjectNamespace = "ClientLimitsObject"),
  ],
  durableObjectNamespaces = [ (className = "ClientLimitsObject", uniqueKey = "llm-edge-bench", enableSql = true) ],
  durableObjectStorage = (localDisk = "do-state"),
  globalOutbound = "loopback",`;
  } else {
    // "floor": the passthrough; "floor-chunks": the same with every chunk handled in JS
    const source = kind === "floor-chunks" ? "chunks.js" : "index.js";
    fs.copyFileSync(path.join(REPO, "bench/floor-worker", source), path.join(dir, "index.js"));
    worker = `  modules = [ (name = "index.js", esModule = embed "index.js") ],
  compatibilityDate = "2026-01-01",
  bindings = [
${text}
  ],
  globalOutbound = "loopback",`;
  }
  const services = [`(name = "main", worker = .worker)`, loopback];
  if (kind === "llm-edge") services.push(`(name = "do-state", disk = (path = ${JSON.stringify(path.join(dir, "do-state"))}, writable = true))`);
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ ${services.join(", ")} ],
  sockets = [ (name = "http", address = "${HOST}:${port}", http = (), service = "main") ],
);
const worker :Workerd.Worker = (
${worker}
);
`;
  fs.writeFileSync(path.join(dir, "config.capnp"), config);
  return path.join(dir, "config.capnp");
}

/** Starts workerd alone on a free port; resolves once `readyPath` answers 200. */
export async function startWorkerd(procs, name, kind, dir, vars, { readyPath = "/health", timeoutMs = 30000, buildDir = BUILD } = {}) {
  const port = await freePort();
  const config = workerdConfig(kind, dir, port, vars, buildDir);
  const t0 = now();
  const entry = procs.start(name, workerdBinary(), ["serve", config], { cwd: dir });
  const url = `http://${HOST}:${port}`;
  await waitFor(
    async () => {
      if (entry.exited) throw new Error(`${name}: workerd exited: ${fs.readFileSync(entry.logPath, "utf8").slice(0, 500)}`);
      return (await fetchStatus(url + readyPath))?.status === 200;
    },
    { timeoutMs, intervalMs: 2, what: `${name} to answer 200 on ${readyPath}` },
  );
  return { entry, url, readyMs: now() - t0, pid: entry.child.pid };
}

export function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 1));
}
