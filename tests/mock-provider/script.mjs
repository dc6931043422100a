// Scripted behaviours: choosing the behaviour that applies to a request.
//
// Order (first match wins):
//   1. header `x-mock-behavior` (object, or array = sequence over attempts grouped by `x-mock-scenario`)
//   2. the script queue filled by POST /__mock/script
//   3. the model name: `-mock-fail-{status}` and/or `-mock-slow-{ms}`
//   4. none (normal answer)

export const BEHAVIOR_KEYS = new Set([
  "status", "errorType", "message", "retryAfter", "retryAfterMs", "headersDelayMs", "chunkDelayMs",
  "cutAfterChunks", "stallAfterChunks", "malformedAfterChunks", "streamErrorAfterChunks",
  "words", "text", "json", "usage", "cacheReadTokens", "cacheWriteTokens",
]);

const PROVIDERS = new Set(["anthropic", "openai", "gemini"]);

export class BehaviorError extends Error {}

function checkBehavior(b, where) {
  if (!b || typeof b !== "object" || Array.isArray(b)) {
    throw new BehaviorError(`${where}: a behaviour must be a JSON object`);
  }
  for (const k of ["status", "retryAfter", "retryAfterMs", "headersDelayMs", "chunkDelayMs",
    "cutAfterChunks", "stallAfterChunks", "malformedAfterChunks", "streamErrorAfterChunks",
    "words", "cacheReadTokens", "cacheWriteTokens"]) {
    if (k in b && (typeof b[k] !== "number" || !(b[k] >= 0))) {
      throw new BehaviorError(`${where}: "${k}" must be a non-negative number`);
    }
  }
  if ("usage" in b && (typeof b.usage !== "object" || b.usage === null || Array.isArray(b.usage))) {
    throw new BehaviorError(`${where}: "usage" must be an object`);
  }
  return b;
}

/** Behaviour implied by the model name, or null. */
export function behaviorFromModel(model) {
  if (typeof model !== "string") return null;
  let b = null;
  const fail = /-mock-fail-(\d{3})(?!\d)/.exec(model);
  if (fail) b = { status: Number(fail[1]) };
  const slow = /-mock-slow-(\d+)/.exec(model);
  if (slow) b = { ...(b ?? {}), chunkDelayMs: Number(slow[1]) };
  return b;
}

export class Scripts {
  constructor() {
    this.queue = [];
    this.attempts = new Map(); // scenario id -> number of attempts seen
  }

  /** Validate and queue one script (or an array of scripts). Returns the queued scripts. */
  add(input) {
    const list = Array.isArray(input) ? input : [input];
    const checked = list.map((s, i) => {
      const where = `script[${i}]`;
      if (!s || typeof s !== "object") throw new BehaviorError(`${where}: must be an object`);
      const match = s.match ?? {};
      if (typeof match !== "object" || Array.isArray(match)) throw new BehaviorError(`${where}: "match" must be an object`);
      if (match.provider != null && !PROVIDERS.has(match.provider)) {
        throw new BehaviorError(`${where}: match.provider must be anthropic, openai or gemini`);
      }
      let behaviors = s.behaviors ?? (s.behavior ? [s.behavior] : null);
      if (!Array.isArray(behaviors) || !behaviors.length) throw new BehaviorError(`${where}: "behaviors" must be a non-empty array`);
      behaviors = behaviors.map((b, j) => checkBehavior(b, `${where}.behaviors[${j}]`));
      const times = s.times == null ? behaviors.length : s.times;
      if (!Number.isInteger(times) || times < 1) throw new BehaviorError(`${where}: "times" must be a positive integer`);
      return {
        match: { provider: match.provider ?? null, model: match.model ?? null, path: match.path ?? null },
        behaviors, times, sticky: s.sticky === true, used: 0,
      };
    });
    this.queue.push(...checked);
    return checked;
  }

  clear() { this.queue.length = 0; }

  resetScenarios() { this.attempts.clear(); }

  list() {
    return this.queue.map((s) => ({ match: s.match, behaviors: s.behaviors, times: s.times, sticky: s.sticky, used: s.used }));
  }

  /**
   * Choose the behaviour for a request.
   * Returns { behavior, source: "header"|"script"|"model"|null, scenario, attempt }.
   * Throws BehaviorError when the x-mock-behavior header is not valid JSON.
   */
  select({ headers, provider, model, path }) {
    const scenario = typeof headers["x-mock-scenario"] === "string" && headers["x-mock-scenario"] !== ""
      ? headers["x-mock-scenario"] : null;
    let attempt = null;
    if (scenario != null) {
      attempt = (this.attempts.get(scenario) ?? 0) + 1;
      this.attempts.set(scenario, attempt);
    }
    const raw = headers["x-mock-behavior"];
    if (typeof raw === "string" && raw.trim() !== "") {
      let parsed;
      try { parsed = JSON.parse(raw); } catch { throw new BehaviorError("x-mock-behavior header is not valid JSON"); }
      if (Array.isArray(parsed)) {
        if (!parsed.length) return { behavior: null, source: "header", scenario, attempt };
        const k = attempt == null ? 0 : Math.min(attempt - 1, parsed.length - 1);
        return { behavior: checkBehavior(parsed[k], `x-mock-behavior[${k}]`), source: "header", scenario, attempt };
      }
      return { behavior: checkBehavior(parsed, "x-mock-behavior"), source: "header", scenario, attempt };
    }
    for (let i = 0; i < this.queue.length; i++) {
      const s = this.queue[i];
      const m = s.match;
      if (m.provider != null && m.provider !== provider) continue;
      if (m.model != null && m.model !== model) continue;
      if (m.path != null && m.path !== path) continue;
      const behavior = s.behaviors[Math.min(s.used, s.behaviors.length - 1)];
      s.used++;
      if (!s.sticky && s.used >= s.times) this.queue.splice(i, 1);
      return { behavior, source: "script", scenario, attempt };
    }
    const fromModel = behaviorFromModel(model);
    if (fromModel) return { behavior: fromModel, source: "model", scenario, attempt };
    return { behavior: null, source: null, scenario, attempt };
  }
}
