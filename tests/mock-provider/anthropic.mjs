// Anthropic Messages API wire format.
import { codePoints, tokensForChars } from "./answer.mjs";
import { stableJson } from "./cache.mjs";
import { mergeUsage } from "./util.mjs";

export const name = "anthropic";

const TYPE_BY_STATUS = {
  400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
  403: "permission_error", 404: "not_found_error", 413: "request_too_large",
  429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
};
const DEFAULT_MESSAGE = {
  invalid_request_error: "Invalid request",
  authentication_error: "invalid x-api-key",
  billing_error: "Your credit balance is too low to access the Anthropic API.",
  permission_error: "Your API key does not have permission to use the specified resource.",
  not_found_error: "Not found",
  request_too_large: "Request exceeds the maximum allowed number of bytes.",
  rate_limit_error: "Number of request tokens has exceeded your per-minute rate limit",
  api_error: "Internal server error",
  timeout_error: "Request timed out",
  overloaded_error: "Overloaded",
};

export function errorType(status) {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

/** { status, body, headers } for an HTTP error. */
export function errorResponse(status, { errorType: t, message } = {}, requestId) {
  const type = t ?? errorType(status);
  return {
    status,
    body: { type: "error", error: { type, message: message ?? DEFAULT_MESSAGE[type] ?? "Error" }, request_id: requestId },
  };
}

export function responseHeaders(requestId) {
  return { "request-id": requestId };
}

/** Authentication and version checks: returns an error response or null. */
export function checkRequest(req, _url, requestId) {
  const key = req.headers["x-api-key"];
  if (!key) return errorResponse(401, { message: "x-api-key header is required" }, requestId);
  if (key === "invalid-key") return errorResponse(401, { message: "invalid x-api-key" }, requestId);
  if (!req.headers["anthropic-version"]) {
    return errorResponse(400, { message: "anthropic-version: header is required" }, requestId);
  }
  return null;
}

/** Validation of a Messages body: error message or null. */
export function validate(body, { countTokens = false } = {}) {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "Request body must be a JSON object";
  if (typeof body.model !== "string" || !body.model) return "model: Field required";
  if (!countTokens && !(Number.isInteger(body.max_tokens) && body.max_tokens >= 1)) {
    return body.max_tokens == null ? "max_tokens: Field required" : "max_tokens: must be a positive integer";
  }
  if (!Array.isArray(body.messages) || !body.messages.length) return "messages: Field required";
  for (const [i, m] of body.messages.entries()) {
    if (!m || (m.role !== "user" && m.role !== "assistant")) return `messages.${i}.role: Input should be 'user' or 'assistant'`;
  }
  return null;
}

function textOf(content) {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.filter((b) => b && b.type === "text" && typeof b.text === "string").map((b) => b.text).join(" ");
}

function blockChars(b) {
  if (typeof b === "string") return codePoints(b);
  if (!b || typeof b !== "object") return 0;
  switch (b.type) {
    case "text": return codePoints(b.text);
    case "tool_use": return codePoints(JSON.stringify(b.input ?? {}));
    case "tool_result":
      if (typeof b.content === "string") return codePoints(b.content);
      if (Array.isArray(b.content)) return b.content.reduce((n, c) => n + (c && c.type === "text" ? codePoints(c.text) : 0), 0);
      return 0;
    default: return 0;
  }
}

const marker = (b) => (b && typeof b === "object" && b.cache_control
  ? { ttl: b.cache_control.ttl === "1h" ? "1h" : "5m" } : null);

/** Normalize a Messages body for the answer generator and the tokenizer. */
export function normalize(body) {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const blocks = [];
  let totalChars = 0;
  if (tools.length) {
    const chars = codePoints(JSON.stringify(tools));
    let mk = null;
    for (const t of tools) mk = marker(t) ?? mk;
    blocks.push({ ser: "tools" + stableJson(tools), chars, marker: mk });
    totalChars += chars;
  }
  const sys = body.system;
  if (typeof sys === "string") {
    const chars = codePoints(sys);
    blocks.push({ ser: "system" + stableJson({ type: "text", text: sys }), chars, marker: null });
    totalChars += chars;
  } else if (Array.isArray(sys)) {
    for (const b of sys) {
      const chars = blockChars(b);
      blocks.push({ ser: "system" + stableJson(b), chars, marker: marker(b) });
      totalChars += chars;
    }
  }
  for (const m of body.messages) {
    const content = typeof m.content === "string" || Array.isArray(m.content) ? m.content : "";
    // a string content hashes like the equivalent single text block
    const list = typeof content === "string" ? [{ type: "text", text: content }] : content;
    list.forEach((b, i) => {
      const chars = blockChars(b);
      blocks.push({ ser: (i === 0 ? "\u0001" + m.role : "") + stableJson(b), chars, marker: marker(b) });
      totalChars += chars;
    });
  }
  const msgs = body.messages;
  const lastMsg = msgs[msgs.length - 1];
  let toolResultText = null;
  if (lastMsg.role === "user" && Array.isArray(lastMsg.content)) {
    const results = lastMsg.content.filter((b) => b && b.type === "tool_result");
    if (results.length) toolResultText = results.map((b) => textOf(b.content)).join(" ");
  }
  let promptText = "";
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i].role === "user") { promptText = textOf(msgs[i].content); break; }
  }
  const tc = body.tool_choice ?? {};
  const toolChoice = tc.type === "none" ? { mode: "none" }
    : tc.type === "tool" ? { mode: "forced", name: tc.name }
      : tc.type === "any" ? { mode: "required" } : { mode: "auto" };
  const fmt = body.output_format ?? body.output_config?.format;
  const jsonMode = !!fmt && fmt.type === "json_schema";
  return {
    provider: name,
    model: body.model,
    maxTokens: Number.isInteger(body.max_tokens) ? body.max_tokens : null,
    stopSequences: Array.isArray(body.stop_sequences) ? body.stop_sequences : [],
    promptText,
    toolResultText,
    tools: tools.filter((t) => t && typeof t.name === "string").map((t) => ({ name: t.name, schema: t.input_schema })),
    toolChoice,
    jsonMode,
    jsonSchema: jsonMode ? fmt.schema ?? null : null,
    totalChars,
    cacheBlocks: blocks,
  };
}

export function countTokens(norm) {
  return tokensForChars(norm.totalChars);
}

/** Input-side usage (cache semantics: input_tokens EXCLUDES cache reads and writes). */
export function inputUsage(norm, behavior, cache) {
  const total = tokensForChars(norm.totalChars);
  const b = behavior ?? {};
  let read, w5m, w1h, cachedPrefix;
  if (b.cacheReadTokens != null || b.cacheWriteTokens != null) {
    read = b.cacheReadTokens ?? 0; w5m = b.cacheWriteTokens ?? 0; w1h = 0; cachedPrefix = read + w5m;
  } else {
    const c = cache.anthropic(norm.model, norm.cacheBlocks);
    read = c.read; w5m = c.write5m; w1h = c.write1h; cachedPrefix = c.cachedPrefixTokens;
  }
  return {
    input_tokens: Math.max(0, total - cachedPrefix),
    cache_creation_input_tokens: w5m + w1h,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: w5m, ephemeral_1h_input_tokens: w1h },
  };
}

const STOP_REASON = { end: "end_turn", max_tokens: "max_tokens", stop_sequence: "stop_sequence", tool: "tool_use" };

function contentBlock(plan, ids) {
  if (plan.kind === "tool") return { type: "tool_use", id: ids.toolId, name: plan.tool.name, input: plan.tool.args };
  return { type: "text", text: plan.text };
}

/** Non-streaming Messages response. ids: { messageId, toolId } */
export function messageJson(norm, plan, usageIn, behavior, ids) {
  const usage = mergeUsage({ ...usageIn, output_tokens: plan.outputTokens, service_tier: "standard" }, behavior?.usage);
  return {
    id: ids.messageId,
    type: "message",
    role: "assistant",
    model: norm.model,
    content: [contentBlock(plan, ids)],
    stop_reason: STOP_REASON[plan.finish],
    stop_sequence: plan.stopSequence,
    usage,
  };
}

const ev = (obj) => `event: ${obj.type}\ndata: ${JSON.stringify(obj)}\n\n`;

/** SSE events for a streamed answer; the last one (message_stop) is the terminal marker. */
export function streamEvents(norm, plan, usageIn, behavior, ids) {
  const override = behavior?.usage;
  const { output_tokens: _o, ...startOverride } = override ?? {};
  const startUsage = mergeUsage({ ...usageIn, output_tokens: 1, service_tier: "standard" }, startOverride);
  const events = [];
  events.push(ev({
    type: "message_start",
    message: {
      id: ids.messageId, type: "message", role: "assistant", content: [], model: norm.model,
      stop_reason: null, stop_sequence: null, usage: startUsage,
    },
  }));
  const start = plan.kind === "tool"
    ? { type: "tool_use", id: ids.toolId, name: plan.tool.name, input: {} }
    : { type: "text", text: "" };
  events.push(ev({ type: "content_block_start", index: 0, content_block: start }));
  events.push(ev({ type: "ping" }));
  for (const p of plan.pieces) {
    const delta = plan.kind === "tool" ? { type: "input_json_delta", partial_json: p } : { type: "text_delta", text: p };
    events.push(ev({ type: "content_block_delta", index: 0, delta }));
  }
  events.push(ev({ type: "content_block_stop", index: 0 }));
  events.push(ev({
    type: "message_delta",
    delta: { stop_reason: STOP_REASON[plan.finish], stop_sequence: plan.stopSequence },
    usage: mergeUsage({ output_tokens: plan.outputTokens }, override),
  }));
  events.push(ev({ type: "message_stop" }));
  return {
    events: events.map((data) => ({ data })),
    fx: {
      malformed: () => 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\n\n',
      streamError: () => ev({
        type: "error",
        error: { type: behavior?.errorType ?? "overloaded_error", message: behavior?.message ?? "Overloaded" },
      }),
    },
  };
}
