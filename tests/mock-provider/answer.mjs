// Provider-independent answer generation and the mock's tokenizer.
//
// Tokenizer (see README "Tokenizer"):
//   - characters are Unicode code points;
//   - input tokens  = ceil(input characters / 4) over the whole request;
//   - output tokens = number of streamed pieces: a text answer is split after each
//     run of whitespace (one word plus its following whitespace = one piece), a JSON
//     document (tool arguments, JSON-mode content) is split into 4-code-point slices.

export const DEFAULT_WORDS = 24;

export const LOREM = [
  "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
  "sed", "do", "eiusmod", "tempor", "incididunt", "ut", "labore", "et",
  "dolore", "magna", "aliqua", "enim", "ad", "minim", "veniam", "quis",
];

/** Number of Unicode code points in a string. */
export function codePoints(s) {
  if (typeof s !== "string") return 0;
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const p = s.charCodeAt(i - 1);
      if (p >= 0xd800 && p <= 0xdbff) n--;
    }
  }
  return n;
}

export const tokensForChars = (chars) => Math.ceil(chars / 4);

/** Split answer text into word pieces: each piece = non-space run + following whitespace. */
export function textPieces(text) {
  if (!text) return [];
  const m = text.match(/\s*\S+\s*/g);
  return m ?? [text];
}

/** Split a JSON document into slices of 4 code points. */
export function jsonPieces(text) {
  if (!text) return [];
  const cps = Array.from(text);
  const out = [];
  for (let i = 0; i < cps.length; i += 4) out.push(cps.slice(i, i + 4).join(""));
  return out;
}

// ---------------------------------------------------------------- JSON schema -> value

function resolveRef(ref, root) {
  if (typeof ref !== "string" || !ref.startsWith("#/")) return {};
  let node = root;
  for (const part of ref.slice(2).split("/")) {
    if (node == null) return {};
    node = node[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return node ?? {};
}

/**
 * Generate a value from a JSON schema (also accepts Gemini's OpenAPI-style uppercase types).
 * Only required properties are filled: string -> "mock", number/integer -> 1,
 * boolean -> true, enum -> first value, const -> the const, array -> [] (or minItems items),
 * object -> recurse, null -> null. anyOf/oneOf/allOf -> first alternative.
 */
export function valueFromSchema(schema, root = schema, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 32) return null;
  if (schema.$ref) return valueFromSchema(resolveRef(schema.$ref, root), root, depth + 1);
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  for (const k of ["anyOf", "oneOf", "allOf"]) {
    if (Array.isArray(schema[k]) && schema[k].length) {
      const alt = schema[k].find((s) => s && s.type !== "null" && s.type !== "NULL") ?? schema[k][0];
      return valueFromSchema(alt, root, depth + 1);
    }
  }
  let type = schema.type;
  if (Array.isArray(type)) type = type.find((t) => String(t).toLowerCase() !== "null") ?? type[0];
  type = typeof type === "string" ? type.toLowerCase() : undefined;
  if (!type) type = schema.properties ? "object" : schema.items ? "array" : "string";
  switch (type) {
    case "string":
      switch (schema.format) {
        case "date-time": return "2025-01-01T00:00:00Z";
        case "date": return "2025-01-01";
        case "email": return "mock@example.com";
        case "uri": case "url": return "https://example.com/mock";
        case "uuid": return "00000000-0000-4000-8000-000000000000";
        default: return "mock";
      }
    case "number":
    case "integer": {
      let v = 1;
      if (typeof schema.minimum === "number" && v < schema.minimum) v = type === "integer" ? Math.ceil(schema.minimum) : schema.minimum;
      if (typeof schema.maximum === "number" && v > schema.maximum) v = type === "integer" ? Math.floor(schema.maximum) : schema.maximum;
      return v;
    }
    case "boolean": return true;
    case "null": return null;
    case "array": {
      const n = Number.isInteger(schema.minItems) ? Math.min(schema.minItems, 100) : 0;
      const out = [];
      for (let i = 0; i < n; i++) out.push(valueFromSchema(schema.items ?? {}, root, depth + 1));
      return out;
    }
    case "object": {
      const out = {};
      const props = schema.properties ?? {};
      for (const name of Array.isArray(schema.required) ? schema.required : []) {
        out[name] = valueFromSchema(props[name] ?? {}, root, depth + 1);
      }
      return out;
    }
    default: return "mock";
  }
}

// ---------------------------------------------------------------- answer planning

/**
 * Build the answer plan for a normalized request.
 * norm: {
 *   provider, model, maxTokens (number|null), stopSequences: string[],
 *   promptText: string, toolResultText: string|null,
 *   tools: [{name, schema}], toolChoice: {mode: "auto"|"none"|"required"|"forced", name?},
 *   jsonMode: boolean, jsonSchema: object|null,
 * }
 * Returns { kind: "text"|"json"|"tool", text, pieces, tool?: {name, argsText, args, argsValid},
 *           finish: "end"|"max_tokens"|"stop_sequence"|"tool", stopSequence, outputTokens }
 */
export function planAnswer(norm, behavior) {
  const b = behavior ?? {};
  // 1. tool call?
  if (b.text == null && norm.tools.length && norm.toolChoice.mode !== "none" && norm.toolResultText == null) {
    let tool = norm.tools[0];
    if (norm.toolChoice.mode === "forced" && norm.toolChoice.name) {
      tool = norm.tools.find((t) => t.name === norm.toolChoice.name) ?? tool;
    }
    let argsText;
    if ("json" in b) argsText = typeof b.json === "string" ? b.json : JSON.stringify(b.json);
    else argsText = JSON.stringify(valueFromSchema(tool.schema ?? { type: "object" }) ?? {});
    let args, argsValid = true;
    try { args = JSON.parse(argsText); } catch { args = argsText; argsValid = false; }
    const pieces = jsonPieces(argsText);
    return {
      kind: "tool", text: "", pieces,
      tool: { name: tool.name, argsText, args, argsValid },
      finish: "tool", stopSequence: null, outputTokens: pieces.length,
    };
  }
  // 2. JSON document or text
  let kind, text;
  if (b.text != null) {
    kind = "text"; text = String(b.text);
  } else if ("json" in b) {
    kind = "json"; text = typeof b.json === "string" ? b.json : JSON.stringify(b.json);
  } else if (norm.jsonMode && norm.toolResultText == null) {
    kind = "json";
    text = JSON.stringify(norm.jsonSchema ? valueFromSchema(norm.jsonSchema) : { answer: "mock" });
  } else {
    kind = "text";
    const n = Number.isInteger(b.words) && b.words >= 0 ? b.words : DEFAULT_WORDS;
    const head = norm.toolResultText != null
      ? ["Mock", "answer", "using", "tool", "result:", ...splitWords(norm.toolResultText)]
      : ["Mock", "answer", "from", `${norm.provider}/${norm.model}:`, ...splitWords(norm.promptText)];
    const words = head.slice(0, n);
    for (let i = 0; words.length < n; i++) words.push(LOREM[i % LOREM.length]);
    text = words.join(" ");
  }
  let finish = "end", stopSequence = null;
  // stop sequences (earliest occurrence wins)
  if (norm.stopSequences.length) {
    let best = -1;
    for (const s of norm.stopSequences) {
      if (typeof s !== "string" || !s) continue;
      const i = text.indexOf(s);
      if (i >= 0 && (best < 0 || i < best)) { best = i; stopSequence = s; }
    }
    if (best >= 0) { text = text.slice(0, best); finish = "stop_sequence"; }
  }
  let pieces = kind === "json" ? jsonPieces(text) : textPieces(text);
  if (norm.maxTokens != null && pieces.length > norm.maxTokens) {
    pieces = pieces.slice(0, Math.max(0, norm.maxTokens));
    if (kind === "text" && pieces.length) pieces[pieces.length - 1] = pieces[pieces.length - 1].trimEnd();
    text = pieces.join("");
    finish = "max_tokens"; stopSequence = null;
  }
  return { kind, text, pieces, tool: null, finish, stopSequence, outputTokens: pieces.length };
}

export function splitWords(s) {
  if (!s) return [];
  return String(s).split(/\s+/).filter(Boolean);
}
