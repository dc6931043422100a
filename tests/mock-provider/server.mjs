// Mock LLM provider server (Anthropic Messages, OpenAI Chat Completions, Google Gemini).
// Contract: tests/mock-provider/README.md. Plain Node.js >= 20, no dependencies.
//
//   import { startMockProvider } from "./tests/mock-provider/server.mjs";
//   const mock = await startMockProvider();   // mock.url = "http://127.0.0.1:PORT"
//   ...; await mock.close();
//
//   node tests/mock-provider/server.mjs [--port N] [--log]
import http from "node:http";
import { pathToFileURL } from "node:url";
import { planAnswer } from "./answer.mjs";
import { PromptCache } from "./cache.mjs";
import { Scripts, BehaviorError, behaviorFromModel } from "./script.mjs";
import { Exchange, CORS_HEADERS, SSE_CONTENT_TYPE, JSON_CONTENT_TYPE } from "./respond.mjs";
import { BatchStore } from "./batches.mjs";
import { pad, EPOCH_SECONDS } from "./util.mjs";
import * as anthropic from "./anthropic.mjs";
import * as openai from "./openai.mjs";
import * as gemini from "./gemini.mjs";

const PROVIDERS = { anthropic, openai, gemini };

const OPENAI_MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1", "gpt-5-mini", "gpt-5", "o4-mini"];
const ANTHROPIC_MODELS = ["claude-haiku-4-5", "claude-sonnet-4-5", "claude-opus-4-1"];
const GEMINI_MODELS = ["gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro"];

const SSE_HEADERS = { "content-type": SSE_CONTENT_TYPE, "cache-control": "no-cache" };
const ROUTE_GEMINI = /^\/(v1beta|v1)\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/;

/** Which provider and operation a method + path addresses (null = unknown path). */
function route(method, path, headers) {
  if (path.startsWith("/v1/messages")) {
    if (method === "POST" && path === "/v1/messages") return { provider: "anthropic", op: "messages" };
    if (method === "POST" && path === "/v1/messages/count_tokens") return { provider: "anthropic", op: "count_tokens" };
    if (method === "POST" && path === "/v1/messages/batches") return { provider: "anthropic", op: "batch_create" };
    let m;
    if (method === "GET" && (m = /^\/v1\/messages\/batches\/([^/]+)$/.exec(path))) return { provider: "anthropic", op: "batch_get", id: m[1] };
    if (method === "GET" && (m = /^\/v1\/messages\/batches\/([^/]+)\/results$/.exec(path))) return { provider: "anthropic", op: "batch_results", id: m[1] };
    return { provider: "anthropic", op: null };
  }
  if (path.startsWith("/v1beta/") || ROUTE_GEMINI.test(path)) {
    const m = ROUTE_GEMINI.exec(path);
    if (m && method === "POST") return { provider: "gemini", op: m[3], model: decodeURIComponent(m[2]) };
    if (method === "GET" && path === "/v1beta/models") return { provider: "gemini", op: "models" };
    return { provider: "gemini", op: null };
  }
  if (path.startsWith("/v1/")) {
    if (method === "POST" && path === "/v1/chat/completions") return { provider: "openai", op: "chat" };
    if (method === "GET" && (path === "/v1/models" || path.startsWith("/v1/models/"))) {
      const id = path === "/v1/models" ? null : decodeURIComponent(path.slice("/v1/models/".length));
      const isAnthropic = headers["x-api-key"] != null && headers.authorization == null;
      return { provider: isAnthropic ? "anthropic" : "openai", op: "models", id };
    }
    if (method === "POST" && path === "/v1/files") return { provider: "openai", op: "file_upload" };
    let m;
    if (method === "GET" && (m = /^\/v1\/files\/([^/]+)$/.exec(path))) return { provider: "openai", op: "file_get", id: m[1] };
    if (method === "GET" && (m = /^\/v1\/files\/([^/]+)\/content$/.exec(path))) return { provider: "openai", op: "file_content", id: m[1] };
    if (method === "POST" && path === "/v1/batches") return { provider: "openai", op: "batch_create" };
    if (method === "GET" && (m = /^\/v1\/batches\/([^/]+)$/.exec(path))) return { provider: "openai", op: "batch_get", id: m[1] };
    return { provider: "openai", op: null };
  }
  return { provider: null, op: null };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** { value, ok } : parsed JSON when it parses, else the raw text (ok=false). Empty body -> null. */
function parseBody(raw, contentType) {
  if (!raw || raw.length === 0) return { value: null, ok: true, empty: true };
  const text = raw.toString("utf8");
  if (contentType && /multipart\//i.test(contentType)) return { value: text, ok: false };
  try { return { value: JSON.parse(text), ok: true }; } catch { return { value: text, ok: false }; }
}

function matchesFilter(r, f) {
  if (f.provider && r.provider !== f.provider) return false;
  if (f.scenario && r.scenario !== f.scenario) return false;
  if (f.model && r.model !== f.model) return false;
  if (f.path && r.path !== f.path) return false;
  if (f.since != null && !(r.seq > Number(f.since))) return false;
  return true;
}

/**
 * Start the mock provider.
 * @param {{port?: number, host?: string, log?: boolean, stallTimeoutMs?: number, maxRecorded?: number}} [options]
 */
export async function startMockProvider({
  port = 0, host = "127.0.0.1", log = false, stallTimeoutMs = 60_000, maxRecorded = 10_000,
} = {}) {
  const records = [];
  let seq = 0;
  let answers = 0;
  let baseUrl = "";
  const cache = new PromptCache();
  const scripts = new Scripts();
  const exOpts = { stallTimeoutMs };

  // -------------------------------------------------------------- answer runners (also used by batches)

  function anthropicMessage(body, behavior) {
    const n = ++answers;
    const norm = anthropic.normalize(body);
    const plan = planAnswer(norm, behavior);
    const usageIn = anthropic.inputUsage(norm, behavior, cache);
    return { norm, plan, usageIn, ids: { messageId: `msg_mock_${pad(n)}`, toolId: `toolu_mock_${pad(n)}` } };
  }

  function openaiCompletion(body, behavior) {
    const n = ++answers;
    const norm = openai.normalize(body);
    const plan = planAnswer(norm, behavior);
    const u = openai.usage(norm, plan, behavior, cache);
    return { norm, plan, u, ids: { completionId: `chatcmpl-mock-${pad(n)}`, toolId: `call_mock_${pad(n)}`, created: EPOCH_SECONDS + n } };
  }

  function geminiResponse(body, model, behavior) {
    const n = ++answers;
    const norm = gemini.normalize(body, model);
    const plan = planAnswer(norm, behavior);
    const inp = gemini.inputUsage(norm, behavior, cache);
    return { norm, plan, inp, ids: { responseId: `mock-${pad(n)}` } };
  }

  const batches = new BatchStore({
    baseUrl: () => baseUrl,
    runAnthropic(params) {
      const v = anthropic.validate(params);
      if (v) return { type: "errored", error: { type: "error", error: { type: "invalid_request_error", message: v } } };
      const b = behaviorFromModel(params.model);
      if (b?.status >= 400) {
        const { type, error } = anthropic.errorResponse(b.status, {}).body;
        return { type: "errored", error: { type, error } };
      }
      const a = anthropicMessage(params, b);
      return { type: "succeeded", message: anthropic.messageJson(a.norm, a.plan, a.usageIn, b, a.ids) };
    },
    runOpenAI(body) {
      const v = openai.validate(body);
      if (v) return { status_code: 400, body: openai.errorResponse(400, { message: v[0], param: v[1] }).body };
      const b = behaviorFromModel(body.model);
      if (b?.status >= 400) return { status_code: b.status, body: openai.errorResponse(b.status, {}).body };
      const o = openaiCompletion({ ...body, stream: false }, b);
      return { status_code: 200, body: openai.completionJson(o.norm, o.plan, o.u, o.ids) };
    },
  });

  // -------------------------------------------------------------- provider endpoints

  function sendError(ex, err, headers) {
    ex.sendJson(err.status, err.body, headers, "error");
  }

  async function handleProvider(req, res, url) {
    const path = url.pathname;
    const r = route(req.method, path, req.headers);
    const record = {
      seq: ++seq,
      time: Date.now(),
      method: req.method,
      path,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: null,
      provider: r.provider,
      model: r.model ?? null,
      stream: false,
      behavior: null,
      scenario: null,
      attempt: null,
      status: null,
      outcome: "pending",
      chunksSent: 0,
    };
    records.push(record);
    if (records.length > maxRecorded * 2) records.splice(0, records.length - maxRecorded);
    const ex = new Exchange(req, res, record, exOpts);
    if (log) res.on("close", () => console.error(`[mock-provider] #${record.seq} ${req.method} ${path} -> ${record.status} ${record.outcome}`));

    let raw;
    try { raw = await readBody(req); } catch { return; }
    const parsed = parseBody(raw, req.headers["content-type"]);
    record.body = parsed.value;

    const P = PROVIDERS[r.provider] ?? openai;
    const requestId = `req_mock_${pad(record.seq)}`;
    const headers = { ...CORS_HEADERS, ...P.responseHeaders(requestId) };

    if (!r.op) {
      const msg = `Invalid URL (${req.method} ${path})`;
      return sendError(ex, P.errorResponse(404, { message: msg }, requestId), headers);
    }
    const authErr = P.checkRequest(req, url, requestId);
    if (authErr) return sendError(ex, authErr, headers);

    const needsJson = req.method === "POST" && r.op !== "file_upload";
    const body = parsed.value;
    if (needsJson && !parsed.ok) {
      const message = r.provider === "gemini" ? "Invalid JSON payload received. Unexpected token."
        : r.provider === "openai"
          ? "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"
          : "There was an error parsing the body: invalid JSON";
      return sendError(ex, P.errorResponse(400, { message }, requestId), headers);
    }
    if (needsJson && parsed.empty) {
      return sendError(ex, P.errorResponse(400, { message: "Request body is required" }, requestId), headers);
    }
    const generating = r.op === "messages" || r.op === "chat" || r.op === "generateContent" || r.op === "streamGenerateContent";

    // validation
    if (generating || r.op === "count_tokens" || r.op === "countTokens") {
      let err = null;
      if (r.provider === "anthropic") {
        const v = anthropic.validate(body, { countTokens: r.op === "count_tokens" });
        if (v) err = anthropic.errorResponse(400, { message: v }, requestId);
      } else if (r.provider === "openai") {
        const v = openai.validate(body);
        if (v) err = openai.errorResponse(400, { message: v[0], param: v[1] });
      } else {
        const gBody = r.op === "countTokens" && body?.generateContentRequest ? body.generateContentRequest : body;
        const v = gemini.validate(gBody);
        if (v) err = gemini.errorResponse(400, { message: v });
      }
      if (err) return sendError(ex, err, headers);
    }
    if (record.model == null && body && typeof body === "object" && typeof body.model === "string") record.model = body.model;

    // behaviour
    let sel;
    try {
      sel = scripts.select({ headers: req.headers, provider: r.provider, model: record.model, path });
    } catch (e) {
      if (!(e instanceof BehaviorError)) throw e;
      return sendError(ex, P.errorResponse(400, { message: e.message }, requestId), headers);
    }
    record.behavior = sel.behavior;
    record.scenario = sel.scenario;
    record.attempt = sel.attempt;
    const b = sel.behavior ?? {};
    if (b.retryAfter != null) headers["retry-after"] = String(b.retryAfter);
    if (b.retryAfterMs != null) headers["retry-after-ms"] = String(b.retryAfterMs);
    if (b.headersDelayMs > 0) {
      await ex.wait(b.headersDelayMs);
      if (ex.closed) return;
    }
    if (b.status >= 400) {
      return sendError(ex, P.errorResponse(b.status, {
        errorType: b.errorType, message: b.message, retryAfter: b.retryAfter, quotaId: b.quotaId, model: record.model,
      }, requestId), headers);
    }

    switch (`${r.provider}:${r.op}`) {
      case "anthropic:messages": {
        const a = anthropicMessage(body, b);
        if (body.stream === true) {
          record.stream = true;
          const s = anthropic.streamEvents(a.norm, a.plan, a.usageIn, b, a.ids);
          return ex.sendStream({ ...headers, ...SSE_HEADERS }, s.events, b, s.fx);
        }
        return ex.sendAnswerJson(anthropic.messageJson(a.norm, a.plan, a.usageIn, b, a.ids), headers, b);
      }
      case "anthropic:count_tokens":
        return ex.sendJson(200, { input_tokens: anthropic.countTokens(anthropic.normalize(body)) }, headers);
      case "openai:chat": {
        const o = openaiCompletion(body, b);
        if (o.norm.stream) {
          record.stream = true;
          const s = openai.streamEvents(o.norm, o.plan, o.u, b, o.ids);
          return ex.sendStream({ ...headers, ...SSE_HEADERS }, s.events, b, s.fx);
        }
        return ex.sendAnswerJson(openai.completionJson(o.norm, o.plan, o.u, o.ids), headers, b);
      }
      case "gemini:generateContent": {
        const g = geminiResponse(body, r.model, b);
        return ex.sendAnswerJson(gemini.responseJson(g.norm, g.plan, g.inp, b, g.ids), headers, b);
      }
      case "gemini:streamGenerateContent": {
        record.stream = true;
        const sse = url.searchParams.get("alt") === "sse";
        const g = geminiResponse(body, r.model, b);
        const s = gemini.streamEvents(g.norm, g.plan, g.inp, b, g.ids, sse);
        const h = sse ? { ...headers, ...SSE_HEADERS } : { ...headers, "content-type": JSON_CONTENT_TYPE };
        return ex.sendStream(h, s.events, b, s.fx);
      }
      case "gemini:countTokens": {
        const gBody = body.generateContentRequest ?? body;
        return ex.sendJson(200, { totalTokens: gemini.countTokens(gemini.normalize(gBody, r.model)) }, headers);
      }
      case "openai:models": {
        if (r.id) {
          return ex.sendJson(200, { id: r.id, object: "model", created: EPOCH_SECONDS, owned_by: "mock" }, headers);
        }
        return ex.sendJson(200, {
          object: "list",
          data: OPENAI_MODELS.map((id) => ({ id, object: "model", created: EPOCH_SECONDS, owned_by: "mock" })),
        }, headers);
      }
      case "anthropic:models": {
        const view = (id) => ({ type: "model", id, display_name: id, created_at: "2025-01-01T00:00:00Z" });
        if (r.id) return ex.sendJson(200, view(r.id), headers);
        return ex.sendJson(200, {
          data: ANTHROPIC_MODELS.map(view), has_more: false,
          first_id: ANTHROPIC_MODELS[0], last_id: ANTHROPIC_MODELS[ANTHROPIC_MODELS.length - 1],
        }, headers);
      }
      case "gemini:models":
        return ex.sendJson(200, {
          models: GEMINI_MODELS.map((id) => ({
            name: `models/${id}`, version: "001", displayName: id, inputTokenLimit: 1048576, outputTokenLimit: 65536,
            supportedGenerationMethods: ["generateContent", "countTokens"],
          })),
        }, headers);
      case "anthropic:batch_create": {
        const out = batches.anthropicCreate(body);
        if (out.error) return sendError(ex, anthropic.errorResponse(400, { message: out.error }, requestId), headers);
        return ex.sendJson(200, out.body, headers);
      }
      case "anthropic:batch_get": {
        const view = batches.anthropicGet(r.id);
        if (!view) return sendError(ex, anthropic.errorResponse(404, { message: `No batch found with id ${r.id}` }, requestId), headers);
        return ex.sendJson(200, view, headers);
      }
      case "anthropic:batch_results": {
        const text = batches.anthropicResults(r.id);
        if (text === null) return sendError(ex, anthropic.errorResponse(404, { message: `No batch found with id ${r.id}` }, requestId), headers);
        if (text === false) {
          return sendError(ex, anthropic.errorResponse(404, { message: `Batch ${r.id} has not ended yet; poll it until processing_status is "ended".` }, requestId), headers);
        }
        return ex.sendBody(200, text, { ...headers, "content-type": "application/binary" });
      }
      case "openai:file_upload": {
        const out = batches.fileUpload(req.headers["content-type"], raw);
        if (out.error) return sendError(ex, openai.errorResponse(400, { message: out.error, param: out.param }), headers);
        return ex.sendJson(200, out.body, headers);
      }
      case "openai:file_get": {
        const meta = batches.fileGet(r.id);
        if (!meta) return sendError(ex, openai.errorResponse(404, { message: `No such File object: ${r.id}`, param: "id", errorType: null }), headers);
        return ex.sendJson(200, meta, headers);
      }
      case "openai:file_content": {
        const data = batches.fileContent(r.id);
        if (!data) return sendError(ex, openai.errorResponse(404, { message: `No such File object: ${r.id}`, param: "id", errorType: null }), headers);
        return ex.sendBody(200, data, { ...headers, "content-type": "application/octet-stream" });
      }
      case "openai:batch_create": {
        const out = batches.openaiCreate(body);
        if (out.error) return sendError(ex, openai.errorResponse(out.status ?? 400, { message: out.error, param: out.param, errorType: null }), headers);
        return ex.sendJson(200, out.body, headers);
      }
      case "openai:batch_get": {
        const view = batches.openaiGet(r.id);
        if (!view) return sendError(ex, openai.errorResponse(404, { message: `No batch found with id '${r.id}'.`, param: null, errorType: null }), headers);
        return ex.sendJson(200, view, headers);
      }
      default:
        return sendError(ex, P.errorResponse(404, { message: `Invalid URL (${req.method} ${path})` }, requestId), headers);
    }
  }

  // -------------------------------------------------------------- control endpoints

  function filterRecords(f = {}) {
    return records.filter((r) => matchesFilter(r, f));
  }

  function reset() {
    records.length = 0;
    scripts.clear();
    scripts.resetScenarios();
    cache.clear();
  }

  async function handleControl(req, res, url) {
    const ex = new Exchange(req, res, null, exOpts);
    const path = url.pathname;
    const h = { ...CORS_HEADERS };
    if (req.method === "OPTIONS") {
      return ex.sendBody(204, "", {
        ...h, "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "content-type",
      });
    }
    let raw;
    try { raw = await readBody(req); } catch { return; }
    const bad = (status, message) => ex.sendJson(status, { error: { message } }, h);
    const key = `${req.method} ${path}`;
    switch (key) {
      case "GET /__mock/health":
        return ex.sendJson(200, { ok: true, url: baseUrl, requests: records.length, scripts: scripts.queue.length }, h);
      case "GET /__mock/requests":
        return ex.sendJson(200, filterRecords(Object.fromEntries(url.searchParams)), h);
      case "DELETE /__mock/requests": {
        const n = records.length;
        records.length = 0;
        return ex.sendJson(200, { cleared: n }, h);
      }
      case "GET /__mock/script":
        return ex.sendJson(200, scripts.list(), h);
      case "POST /__mock/script": {
        const p = parseBody(raw, req.headers["content-type"]);
        if (!p.ok || p.empty) return bad(400, "body must be a JSON script object or an array of them");
        try {
          const added = scripts.add(p.value);
          return ex.sendJson(200, { queued: added.length, queue: scripts.list() }, h);
        } catch (e) {
          if (e instanceof BehaviorError) return bad(400, e.message);
          throw e;
        }
      }
      case "DELETE /__mock/script": {
        const n = scripts.queue.length;
        scripts.clear();
        return ex.sendJson(200, { cleared: n }, h);
      }
      case "DELETE /__mock/cache":
        cache.clear();
        return ex.sendJson(200, { ok: true }, h);
      case "POST /__mock/reset":
        reset();
        return ex.sendJson(200, { ok: true }, h);
      default:
        return bad(404, `Unknown control endpoint: ${key}`);
    }
  }

  // -------------------------------------------------------------- server

  const server = http.createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    let url;
    try { url = new URL(req.url, "http://mock.invalid"); } catch { url = new URL("http://mock.invalid/"); }
    let p;
    if (url.pathname.startsWith("/__mock/")) p = handleControl(req, res, url);
    else if (req.method === "OPTIONS") {
      res.writeHead(204, {
        ...CORS_HEADERS,
        "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "content-type",
        "content-length": 0,
      });
      res.end();
      return;
    } else p = handleProvider(req, res, url);
    p.catch((err) => {
      if (log) console.error("[mock-provider] internal error", err);
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": JSON_CONTENT_TYPE, ...CORS_HEADERS });
        res.end(JSON.stringify({ error: { message: `mock provider internal error: ${err?.message ?? err}` } }));
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 10_000;

  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => { server.off("error", reject); resolve(); });
  });
  const actualPort = server.address().port;
  baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${actualPort}`;

  let closing = null;
  return {
    url: baseUrl,
    port: actualPort,
    host,
    server,
    /** Stop listening and destroy open connections (stalled streams included). */
    close() {
      if (!closing) {
        closing = new Promise((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
      }
      return closing;
    },
    /** Recorded provider requests (live objects), optionally filtered by {provider, scenario, model, path, since}. */
    requests: (filter) => filterRecords(filter),
    clearRequests() { records.length = 0; },
    /** Queue a script (same body as POST /__mock/script). */
    addScript: (s) => scripts.add(s),
    clearScripts() { scripts.clear(); },
    clearCache() { cache.clear(); },
    /** Clear requests, scripts, scenario attempt counters and the prompt cache. */
    reset,
  };
}

// -------------------------------------------------------------- CLI

function isMain() {
  try { return !!process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href; } catch { return false; }
}

if (isMain()) {
  const args = process.argv.slice(2);
  let port = 0, log = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--port") port = Number(args[++i]);
    else if (a.startsWith("--port=")) port = Number(a.slice(7));
    else if (a === "--log") log = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: node tests/mock-provider/server.mjs [--port N] [--log]\n");
      process.exit(0);
    } else {
      process.stderr.write(`unknown argument: ${a}\n`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write("--port must be an integer between 0 and 65535\n");
    process.exit(2);
  }
  const mock = await startMockProvider({ port, log });
  process.stdout.write(`mock provider listening on ${mock.url}\n`);
  const stop = () => { mock.close().then(() => process.exit(0)); };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
