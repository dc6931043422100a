// OpenAI Chat Completions wire format.
import { codePoints, tokensForChars } from "./answer.mjs";
import { stableJson } from "./cache.mjs";
import { mergeUsage } from "./util.mjs";

export const name = "openai";

const DEFAULTS = {
  400: ["invalid_request_error", null, "Invalid request."],
  401: ["invalid_request_error", "invalid_api_key", "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."],
  403: ["request_forbidden", null, "You are not allowed to access this resource."],
  404: ["invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."],
  429: ["requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."],
  500: ["server_error", null, "The server had an error while processing your request. Sorry about that!"],
  503: ["server_error", null, "The engine is currently overloaded, please try again later."],
};
const TYPE_BY_CODE = { insufficient_quota: "insufficient_quota", rate_limit_exceeded: "requests" };
const MESSAGE_BY_CODE = {
  insufficient_quota: "You exceeded your current quota, please check your plan and billing details.",
  rate_limit_exceeded: "Rate limit reached for requests. Please try again later.",
};

/** { status, body } for an HTTP error. `errorType` becomes error.code (error.type is derived). */
export function errorResponse(status, { errorType: code, message, param = null } = {}) {
  const [dType, dCode, dMsg] = DEFAULTS[status] ?? (status >= 500
    ? ["server_error", null, "The server had an error while processing your request."]
    : ["invalid_request_error", null, "Invalid request."]);
  const c = code ?? dCode;
  return {
    status,
    body: {
      error: {
        message: message ?? (code ? MESSAGE_BY_CODE[code] : null) ?? dMsg,
        type: (code && TYPE_BY_CODE[code]) ?? dType,
        param,
        code: c,
      },
    },
  };
}

export function responseHeaders(requestId) {
  return { "x-request-id": requestId };
}

export function checkRequest(req) {
  const auth = req.headers.authorization ?? "";
  const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
  if (!m) {
    return errorResponse(401, {
      errorType: null,
      message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    });
  }
  if (m[1] === "invalid-key") return errorResponse(401, {});
  return null;
}

export function validate(body) {
  if (!body || typeof body !== "object" || Array.isArray(body)) return ["Request body must be a JSON object.", null];
  if (typeof body.model !== "string" || !body.model) return ["you must provide a model parameter", "model"];
  if (!Array.isArray(body.messages) || !body.messages.length) return ["Missing required parameter: 'messages'.", "messages"];
  for (const [i, m] of body.messages.entries()) {
    if (!m || typeof m.role !== "string") return [`Missing required parameter: 'messages[${i}].role'.`, `messages[${i}].role`];
  }
  return null;
}

function contentText(c, sep) {
  if (typeof c === "string") return c;
  if (!Array.isArray(c)) return "";
  return c.filter((p) => p && typeof p.text === "string" && (p.type === "text" || p.type === "input_text"))
    .map((p) => p.text).join(sep);
}

function messageChars(m) {
  let n = codePoints(contentText(m.content, ""));
  if (Array.isArray(m.tool_calls)) {
    for (const tc of m.tool_calls) {
      const a = tc?.function?.arguments;
      n += codePoints(typeof a === "string" ? a : JSON.stringify(a ?? ""));
    }
  }
  return n;
}

export function normalize(body) {
  const tools = Array.isArray(body.tools) ? body.tools : [];
  const toolsChars = tools.length ? codePoints(JSON.stringify(tools)) : 0;
  const msgs = body.messages;
  let prefixChars = toolsChars;
  for (let i = 0; i < msgs.length - 1; i++) prefixChars += messageChars(msgs[i]);
  const totalChars = prefixChars + messageChars(msgs[msgs.length - 1]);
  let toolResultText = null;
  if (msgs[msgs.length - 1].role === "tool") {
    let i = msgs.length - 1;
    while (i > 0 && msgs[i - 1].role === "tool") i--;
    toolResultText = msgs.slice(i).map((m) => contentText(m.content, " ")).join(" ");
  }
  let promptText = "";
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i].role === "user") { promptText = contentText(msgs[i].content, " "); break; }
  }
  const tc = body.tool_choice;
  const toolChoice = tc === "none" ? { mode: "none" }
    : tc === "required" ? { mode: "required" }
      : tc && typeof tc === "object" && tc.function?.name ? { mode: "forced", name: tc.function.name }
        : { mode: "auto" };
  const rf = body.response_format;
  const jsonMode = !!rf && (rf.type === "json_schema" || rf.type === "json_object");
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const stop = body.stop == null ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
  return {
    provider: name,
    model: body.model,
    maxTokens: Number.isInteger(maxTokens) ? maxTokens : null,
    stopSequences: stop,
    promptText,
    toolResultText,
    tools: tools.filter((t) => t && t.type === "function" && typeof t.function?.name === "string")
      .map((t) => ({ name: t.function.name, schema: t.function.parameters })),
    toolChoice,
    jsonMode,
    jsonSchema: rf?.type === "json_schema" ? rf.json_schema?.schema ?? null : null,
    totalChars,
    prefixChars,
    prefixSer: stableJson({ tools, messages: msgs.slice(0, -1) }),
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
  };
}

/** Usage object (prompt_tokens INCLUDES cached tokens). */
export function usage(norm, plan, behavior, cache) {
  const b = behavior ?? {};
  const total = tokensForChars(norm.totalChars);
  const cached = b.cacheReadTokens != null ? b.cacheReadTokens : cache.implicit(name, norm.model, norm.prefixSer, norm.prefixChars);
  const prompt = Math.max(total, cached);
  return mergeUsage({
    prompt_tokens: prompt,
    completion_tokens: plan.outputTokens,
    total_tokens: prompt + plan.outputTokens,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  }, b.usage);
}

const FINISH = { end: "stop", stop_sequence: "stop", max_tokens: "length", tool: "tool_calls" };

/** ids: { completionId, toolId, created } */
export function completionJson(norm, plan, u, ids) {
  const message = plan.kind === "tool"
    ? {
      role: "assistant", content: null, refusal: null, annotations: [],
      tool_calls: [{ id: ids.toolId, type: "function", function: { name: plan.tool.name, arguments: plan.tool.argsText } }],
    }
    : { role: "assistant", content: plan.text, refusal: null, annotations: [] };
  return {
    id: ids.completionId,
    object: "chat.completion",
    created: ids.created,
    model: norm.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: FINISH[plan.finish] }],
    usage: u,
    service_tier: "default",
    system_fingerprint: "fp_mock",
  };
}

export function streamEvents(norm, plan, u, behavior, ids) {
  const base = (choices, extra) => {
    const c = {
      id: ids.completionId, object: "chat.completion.chunk", created: ids.created, model: norm.model,
      service_tier: "default", system_fingerprint: "fp_mock", choices,
    };
    if (norm.includeUsage) c.usage = null;
    return extra ? Object.assign(c, extra) : c;
  };
  const data = (obj) => `data: ${JSON.stringify(obj)}\n\n`;
  const choice = (delta, finish = null) => [{ index: 0, delta, logprobs: null, finish_reason: finish }];
  const events = [];
  if (plan.kind === "tool") {
    events.push(data(base(choice({
      role: "assistant", content: null,
      tool_calls: [{ index: 0, id: ids.toolId, type: "function", function: { name: plan.tool.name, arguments: "" } }],
    }))));
    for (const p of plan.pieces) events.push(data(base(choice({ tool_calls: [{ index: 0, function: { arguments: p } }] }))));
  } else {
    events.push(data(base(choice({ role: "assistant", content: "", refusal: null }))));
    for (const p of plan.pieces) events.push(data(base(choice({ content: p }))));
  }
  events.push(data(base(choice({}, FINISH[plan.finish]))));
  if (norm.includeUsage) events.push(data(base([], { usage: u })));
  events.push("data: [DONE]\n\n");
  return {
    events: events.map((d) => ({ data: d })),
    fx: {
      malformed: () => `data: {"id":"${ids.completionId}","object":"chat.completion.chunk","choices":[{\n\n`,
      streamError: () => {
        const e = errorResponse(500, { errorType: behavior?.errorType, message: behavior?.message }).body;
        return data(e);
      },
    },
  };
}
