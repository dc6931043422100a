// Google Gemini generateContent / streamGenerateContent wire format.
import { codePoints, tokensForChars } from "./answer.mjs";
import { stableJson } from "./cache.mjs";
import { mergeUsage } from "./util.mjs";

export const name = "gemini";

const STATUS_BY_CODE = {
  400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
  409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
  503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
};
const CODE_BY_STATUS = Object.fromEntries(Object.entries(STATUS_BY_CODE).map(([k, v]) => [v, Number(k)]));
const DEFAULT_MESSAGE = {
  INVALID_ARGUMENT: "Request contains an invalid argument.",
  UNAUTHENTICATED: "Request had invalid authentication credentials.",
  PERMISSION_DENIED: "The caller does not have permission",
  NOT_FOUND: "Requested entity was not found.",
  RESOURCE_EXHAUSTED: "Resource has been exhausted (e.g. check quota).",
  INTERNAL: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
  UNAVAILABLE: "The model is overloaded. Please try again later.",
  DEADLINE_EXCEEDED: "Deadline expired before operation could complete.",
};

export const SIGNATURE = "bW9jay10aG91Z2h0LXNpZ25hdHVyZQ==";

function statusName(code) {
  return STATUS_BY_CODE[code] ?? (code >= 500 ? "INTERNAL" : code >= 400 ? "FAILED_PRECONDITION" : "UNKNOWN");
}

function errorObject(code, { errorType, message, retryAfter, quotaId, model } = {}) {
  const status = errorType ?? statusName(code);
  const error = { code, message: message ?? DEFAULT_MESSAGE[status] ?? "Error", status };
  const details = [];
  if (retryAfter != null) details.push({ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: `${retryAfter}s` });
  if (code === 429) {
    details.push({
      "@type": "type.googleapis.com/google.rpc.QuotaFailure",
      violations: [{
        quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        quotaId: quotaId ?? "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        quotaDimensions: { location: "global", model: model ?? "unknown" },
        quotaValue: "15",
      }],
    });
  }
  if (details.length) error.details = details;
  return { error };
}

/** { status, body } for an HTTP error; retryAfter adds RetryInfo.retryDelay to the body. */
export function errorResponse(status, opts = {}) {
  return { status, body: errorObject(status, opts) };
}

export function responseHeaders() {
  return {};
}

export function checkRequest(req, url) {
  const key = req.headers["x-goog-api-key"] || url.searchParams.get("key");
  if (!key) {
    return errorResponse(401, {
      message: "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
    });
  }
  if (key === "invalid-key") {
    const r = errorResponse(401, { message: "API key not valid. Please pass a valid API key." });
    r.body.error.details = [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com" }];
    return r;
  }
  return null;
}

/** The request body may use camelCase or snake_case field names. */
function pick(obj, camel, snake) {
  return obj?.[camel] ?? obj?.[snake];
}

export function validate(body) {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "Invalid JSON payload received. Expected an object.";
  const contents = body.contents;
  if (!Array.isArray(contents) || !contents.length) return "* GenerateContentRequest.contents: contents is not specified\n";
  for (const [i, c] of contents.entries()) {
    if (!c || !Array.isArray(c.parts)) return `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.\n`;
  }
  return null;
}

function partChars(p) {
  if (!p || typeof p !== "object") return 0;
  if (typeof p.text === "string") return codePoints(p.text);
  const fc = pick(p, "functionCall", "function_call");
  if (fc) return codePoints(JSON.stringify(fc.args ?? {}));
  const fr = pick(p, "functionResponse", "function_response");
  if (fr) return codePoints(JSON.stringify(fr.response ?? {}));
  return 0;
}

const contentChars = (c) => (Array.isArray(c?.parts) ? c.parts.reduce((n, p) => n + partChars(p), 0) : 0);
const contentText = (c) => (Array.isArray(c?.parts)
  ? c.parts.filter((p) => p && typeof p.text === "string").map((p) => p.text).join(" ") : "");

export function normalize(body, model) {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const sys = pick(body, "systemInstruction", "system_instruction");
  const gc = pick(body, "generationConfig", "generation_config") ?? {};
  const contents = body.contents;
  let prefixChars = contentChars(sys) + (tools.length ? codePoints(JSON.stringify(tools)) : 0);
  for (let i = 0; i < contents.length - 1; i++) prefixChars += contentChars(contents[i]);
  const totalChars = prefixChars + contentChars(contents[contents.length - 1]);
  const last = contents[contents.length - 1];
  const responses = last.parts.map((p) => pick(p, "functionResponse", "function_response")).filter(Boolean);
  const toolResultText = responses.length ? responses.map((r) => JSON.stringify(r.response ?? {})).join(" ") : null;
  let promptText = "";
  for (let i = contents.length - 1; i >= 0; i--) {
    if (contents[i].role === "user" || contents[i].role == null) { promptText = contentText(contents[i]); break; }
  }
  const decls = [];
  for (const t of tools) {
    for (const d of pick(t, "functionDeclarations", "function_declarations") ?? []) {
      if (d && typeof d.name === "string") decls.push({ name: d.name, schema: d.parameters ?? pick(d, "parametersJsonSchema", "parameters_json_schema") });
    }
  }
  const fcc = pick(pick(body, "toolConfig", "tool_config") ?? {}, "functionCallingConfig", "function_calling_config") ?? {};
  const allowed = pick(fcc, "allowedFunctionNames", "allowed_function_names");
  const mode = String(fcc.mode ?? "AUTO").toUpperCase();
  const toolChoice = mode === "NONE" ? { mode: "none" }
    : Array.isArray(allowed) && allowed.length ? { mode: "forced", name: allowed[0] }
      : mode === "ANY" ? { mode: "required" } : { mode: "auto" };
  const jsonMode = pick(gc, "responseMimeType", "response_mime_type") === "application/json";
  const maxTokens = pick(gc, "maxOutputTokens", "max_output_tokens");
  const stops = pick(gc, "stopSequences", "stop_sequences");
  return {
    provider: name,
    model,
    maxTokens: Number.isInteger(maxTokens) ? maxTokens : null,
    stopSequences: Array.isArray(stops) ? stops : [],
    promptText,
    toolResultText,
    tools: decls,
    toolChoice,
    jsonMode,
    jsonSchema: jsonMode ? pick(gc, "responseJsonSchema", "response_json_schema") ?? pick(gc, "responseSchema", "response_schema") ?? null : null,
    totalChars,
    prefixChars,
    prefixSer: stableJson({ sys, tools, contents: contents.slice(0, -1) }),
  };
}

export function countTokens(norm) {
  return tokensForChars(norm.totalChars);
}

/** Input side: { prompt, cached } (promptTokenCount INCLUDES cachedContentTokenCount). */
export function inputUsage(norm, behavior, cache) {
  const total = tokensForChars(norm.totalChars);
  const b = behavior ?? {};
  const cached = b.cacheReadTokens != null ? b.cacheReadTokens : cache.implicit(name, norm.model, norm.prefixSer, norm.prefixChars);
  return { prompt: Math.max(total, cached), cached };
}

function usageMetadata(inp, candidates) {
  const u = { promptTokenCount: inp.prompt, candidatesTokenCount: candidates, totalTokenCount: inp.prompt + candidates };
  if (inp.cached > 0) u.cachedContentTokenCount = inp.cached;
  return u;
}

const FINISH = { end: "STOP", stop_sequence: "STOP", max_tokens: "MAX_TOKENS", tool: "STOP" };

function finishReason(plan) {
  return plan.kind === "tool" && !plan.tool.argsValid ? "MALFORMED_FUNCTION_CALL" : FINISH[plan.finish];
}

function toolParts(plan) {
  if (!plan.tool.argsValid) return [];
  return [{ functionCall: { name: plan.tool.name, args: plan.tool.args }, thoughtSignature: SIGNATURE }];
}

export function responseJson(norm, plan, inp, behavior, ids) {
  const parts = plan.kind === "tool" ? toolParts(plan) : [{ text: plan.text }];
  return {
    candidates: [{ content: { parts, role: "model" }, finishReason: finishReason(plan), index: 0 }],
    usageMetadata: mergeUsage(usageMetadata(inp, plan.outputTokens), behavior?.usage),
    modelVersion: norm.model,
    responseId: ids.responseId,
  };
}

/**
 * Stream chunks: one per piece (a tool call arrives whole in one chunk); usageMetadata is
 * cumulative on every chunk; the last chunk carries finishReason (its cut variant does not).
 * sse=false gives the JSON-array framing of streamGenerateContent without alt=sse.
 */
export function streamEvents(norm, plan, inp, behavior, ids, sse) {
  const chunks = [];
  const chunk = (parts, count, finish) => {
    const cand = { content: { parts, role: "model" }, index: 0 };
    const c = {
      candidates: [cand],
      usageMetadata: usageMetadata(inp, count),
      modelVersion: norm.model,
      responseId: ids.responseId,
    };
    if (finish) {
      cand.finishReason = finish;
      c.usageMetadata = mergeUsage(c.usageMetadata, behavior?.usage);
    }
    return c;
  };
  if (plan.kind === "tool") {
    chunks.push([toolParts(plan), plan.outputTokens]);
  } else if (!plan.pieces.length) {
    chunks.push([[{ text: "" }], 0]);
  } else {
    plan.pieces.forEach((p, i) => chunks.push([[{ text: p }], i + 1]));
  }
  const last = chunks.length - 1;
  const frame = sse
    ? (obj) => `data: ${JSON.stringify(obj)}\r\n\r\n`
    : null;
  const events = chunks.map(([parts, count], i) => {
    const body = chunk(parts, count, null);
    if (i !== last) return { data: sse ? frame(body) : (i === 0 ? "[" : ",\r\n") + JSON.stringify(body) };
    const fin = chunk(parts, count, finishReason(plan));
    if (sse) return { data: frame(fin), cutData: frame(body) };
    const sep = i === 0 ? "[" : ",\r\n";
    return { data: sep + JSON.stringify(fin) + "]", cutData: sep + JSON.stringify(body) };
  });
  const errCode = behavior?.errorType ? CODE_BY_STATUS[behavior.errorType] ?? 500 : 500;
  const errBody = errorObject(errCode, { errorType: behavior?.errorType, message: behavior?.message });
  return {
    events,
    fx: {
      malformed: () => (sse ? 'data: {"candidates":[{"content":\r\n\r\n' : ',\r\n{"candidates":[{"content":'),
      streamError: (sent) => (sse ? frame(errBody) : (sent ? ",\r\n" : "[") + JSON.stringify(errBody) + "]"),
    },
  };
}
