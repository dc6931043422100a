// Type definitions for llm-edge. Hand-written: every option, request, response and event.

export type ProviderName = "anthropic" | "openai" | "gemini";

export interface ProviderSettings {
  /** The provider's API key. Omit it when `baseUrl` points at an llm-edge proxy that holds keys. */
  apiKey?: string;
  /** Base URL without the API path, e.g. `https://api.anthropic.com` (the default) or your proxy. */
  baseUrl?: string;
  /** Extra headers sent with every request to this provider. */
  headers?: Record<string, string>;
}

/** Deadlines in ms; `null` disables one. Each aborts the attempt's fetch and is a `timeout` error naming it. */
export interface TimeoutOptions {
  /** The whole call, retries, waits and fallbacks included (default 30000); when it passes, the call ends. */
  timeoutMs?: number | null;
  /**
   * Per attempt, from sending to the first content (for `chat`: to the response headers); default
   * off. A first-token timeout is retried and falls back like other failures.
   */
  firstTokenTimeoutMs?: number | null;
  /** Per attempt, the longest silence between two stream chunks (default off). */
  idleTimeoutMs?: number | null;
}

/** `provider/model`, as targets are named in responses, attempts and events. */
export type Target = `${ProviderName}/${string}`;

/**
 * Retrying a failed attempt on the same target. Only retryable errors are retried (rate limits,
 * overload, 5xx, network failures, per-attempt timeouts, broken streams); never client errors,
 * never quota or spend-cap errors, and never once stream content reached the caller.
 */
export interface RetryOptions {
  /** Retries after the first attempt, per target (default 3; 0 disables retrying). */
  maxRetries?: number;
  /** The backoff ceiling of the first retry in ms (default 500). */
  baseDelayMs?: number;
  /** The largest backoff ceiling in ms (default 8000). */
  maxDelayMs?: number;
  /** Growth of the ceiling per retry (default 2; at least 1). The wait is drawn uniformly from [0, ceiling]. */
  multiplier?: number;
  /**
   * The longest wait a server may ask for (`retry-after`, `retry-after-ms`, Gemini `RetryInfo`)
   * in ms (default 30000). It is honoured plus 0-10%; a longer one fails fast with its error.
   */
  maxServerWaitMs?: number;
}

/** A fallback target: `provider/model` (or a bare well-known model name), or one with its own settings. */
export type FallbackTarget =
  | string
  | { model: string; maxTokens?: number; temperature?: number; topP?: number; topK?: number };

/**
 * A circuit breaker per target, shared by all calls of the client: it opens after
 * `failureThreshold` consecutive failures, or a failure rate of `failureRateThreshold` over at
 * least `minimumCalls` calls in `windowMs`; open, the target is skipped for `cooldownMs`, then one
 * call probes it. Only failures that say the target is unhealthy count (5xx, overload, timeouts,
 * network, broken or unreadable answers).
 */
export interface CircuitBreakerOptions {
  /** Default 5. */
  failureThreshold?: number;
  /** In (0, 1]; default 0.5. */
  failureRateThreshold?: number;
  /** Default 10. */
  minimumCalls?: number;
  /** Default 60000. */
  windowMs?: number;
  /** Default 30000. */
  cooldownMs?: number;
}

/** Hedging: if an attempt has no content after `afterMs`, the next target starts too; the first to answer wins. */
export interface HedgeOptions {
  afterMs: number;
}

/** The reliability settings a call may override (each replaces the client's when given). */
export interface PolicyOptions {
  /** Per call, only the fields given replace the client's. */
  retry?: RetryOptions;
  /** Targets tried in order after the requested model (default none; `[]` disables fallback for a call). */
  fallback?: FallbackTarget[];
  /**
   * The error kinds that move a call on to the next target (default: overloaded, server_error,
   * timeout, network, rate_limited, quota_exceeded, not_found, truncated_stream,
   * invalid_response, authentication, permission).
   */
  fallbackOn?: ErrorKind[];
  /** Off unless given; `null` turns it off for a call. */
  hedge?: HedgeOptions | null;
}

/** How capable a model a request needs. */
export type Tier = "simple" | "standard" | "complex";

/** The router's decision: in responses, `finish` events, usage records and `route` events. */
export interface RouteDecision {
  tier: Tier;
  /** `provider/model`. */
  model: Target;
  /** Why, in one line: the deciding rule, the main signals, any move between tiers. */
  reason: string;
  /** The complexity score (the sum of the signals' points). */
  score: number;
  /** The measured signals, by name. */
  signals: Record<string, number>;
}

/** What a custom router returns: a decision, or only the fields that change (the rest are kept). */
export type RouteOverride = Partial<RouteDecision> & { model: Target };

/**
 * A custom router: sees the request (as the core normalised it) and the built-in decision, and
 * returns a replacement (not re-checked against model capabilities) or `undefined` to keep it.
 * It must answer synchronously; if it throws, the built-in decision stands.
 */
export type RouterHook = (request: RoutedRequest, decision: RouteDecision) => RouteOverride | undefined;

/** The request a router sees: messages always as content parts, system always as blocks. */
export interface RoutedRequest {
  model: string;
  system: SystemBlock[];
  messages: { role: "user" | "assistant"; content: ContentPart[] }[];
  maxTokens?: number;
  tools?: ToolDefinition[];
  responseFormat?: ResponseFormat;
  metadata?: { conversationId?: string; endUserId?: string };
  complexity?: Tier;
}

export type TierModels = Record<Tier, Target>;

/** One daily-budget threshold reached; delivered once per threshold per UTC day. */
export interface BudgetAlert {
  /** The configured fraction reached, e.g. `0.8`. */
  threshold: number;
  spentUsd: number;
  budgetUsd: number;
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  spentPico: number;
  budgetPico: number;
}

export interface BudgetOptions {
  /** The daily budget (UTC day) in USD: a call whose worst case would pass it is refused (`budget_exceeded`). */
  dailyUsd?: number | null;
  /** The per-request cap in USD (shorthand for `perRequest.maxUsd`). */
  perRequestUsd?: number;
  perRequest?: {
    maxUsd?: number;
    maxTokens?: number;
    /** `reject` (default) refuses the call; `clamp` lowers its `maxTokens` to fit. */
    onExceed?: "reject" | "clamp";
  };
  /** Fractions of `dailyUsd` that alert once each (default `[0.5, 0.8, 1]`). */
  alertThresholds?: number[];
  /** How long a reservation of a call that never settles is held, in ms. */
  reservationTtlMs?: number;
  /** Receives each alert once. Observes only: what it throws is logged. */
  onAlert?: (alert: BudgetAlert) => void | Promise<void>;
}

export interface RoutingOptions {
  /** The models of the `auto` route per tier (defaults: Haiku / Sonnet / Opus). */
  tiers?: Partial<TierModels>;
  /** More routes by name, e.g. `{ "auto-openai": { simple: "openai/gpt-4.1-mini", ... } }`. */
  routes?: Record<string, Partial<TierModels>>;
  /** Score thresholds between tiers. */
  thresholds?: { standard?: number; complex?: number | null };
  /** A custom router (or pass `router` to the client). */
  hook?: RouterHook;
}

/** A price entry, USD per million tokens (or a LiteLLM `model_prices_and_context_window.json` entry). */
export interface PriceEntry {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite5m?: number;
  cacheWrite1h?: number;
  batchMultiplier?: number;
  contextWindow?: number;
  maxOutputTokens?: number;
  [litellmField: string]: JsonValue | undefined;
}

export interface ResponseCacheOptions {
  /** How long an answer is reused, in ms. */
  ttlMs?: number;
  maxEntries?: number;
  maxBytes?: number;
  /** How long past its TTL an entry may answer a call every target failed (0 = never). */
  staleIfErrorMs?: number;
}

export type ScreeningMode = "off" | "flag" | "block";

/** Prompt-injection screening of user content and tool results. It lowers risk; it is not a guarantee. */
export interface ScreeningOptions {
  /** `block` refuses with `invalid_request` / `prompt_injection_detected`; `flag` reports and sends. */
  mode?: ScreeningMode;
  /** Score at or above which a request is flagged or blocked, in (0, 1] (default 0.5). */
  threshold?: number;
  /** How many times a finding in a tool result counts (default 2, at least 1). */
  toolResultWeight?: number;
}

/**
 * Input hygiene, applied to every call: control and invisible characters are stripped from user
 * text and tool results (reported in a `sanitized` event and the usage record), and a request
 * whose user text and tool results pass `maxInputChars` is refused with `invalid_request` /
 * `input_too_long` before anything is sent.
 */
export interface HygieneOptions {
  /** Default true. Legitimate joiners (emoji, Persian, Hindi), flags and direction marks are kept. */
  strip?: boolean;
  /** Default 1,000,000 characters (about 250k tokens); `null` disables the cap. */
  maxInputChars?: number | null;
}

/** What hygiene removed from one message part. */
export interface SanitizedPart {
  message: number;
  part: number;
  changes: Array<
    | {
        type:
          | "removed-control-characters"
          | "removed-zero-width-characters"
          | "removed-bidi-controls"
          | "removed-variation-selectors"
          | "removed-soft-hyphens"
          | "removed-filler-characters"
          | "normalized-line-breaks";
        count: number;
      }
    /** `hiddenText` is the ASCII the invisible tag characters spelled. */
    | { type: "removed-tag-characters"; count: number; hiddenText: string }
  >;
}

export type FindingKind =
  | "instruction_override"
  | "prompt_leak"
  | "role_spoofing"
  | "embedded_instruction"
  | "jailbreak"
  | "hidden_text"
  | "encoded_payload"
  | "obfuscation"
  | "exfiltration";

export interface ScreeningFinding {
  kind: FindingKind;
  /** The rule that fired, e.g. `override-prior-instructions`. */
  rule: string;
  weight: number;
  source: "user_text" | "tool_result";
  message?: number;
  part?: number;
  start: number;
  end: number;
  excerpt: string;
  revealedBy?: string;
}

export interface ScreeningOutcome {
  verdict: "pass" | "flagged" | "blocked";
  score: number;
  threshold: number;
  findings: ScreeningFinding[];
}

export type CacheStatus = "off" | "miss" | "hit" | "coalesced" | "stale";

/** The cost of one answer by billing class, in USD. */
export interface CostBreakdown {
  /** The price entry used. */
  model: string;
  totalUsd: number;
  inputUsd: number;
  cacheReadUsd: number;
  cacheWrite5mUsd: number;
  cacheWrite1hUsd: number;
  outputUsd: number;
  longPromptTierAbove?: number;
  batch: boolean;
  /** Some token count was estimated (a stream cut short). */
  estimated: boolean;
  warnings?: Warning[];
}

export type UsageOutcome = "ok" | "cancelled" | ErrorKind;

/** One call, as recorded (`onUsage`). */
export interface UsageRecord {
  timeMs: number;
  requestId: string | null;
  clientId: string | null;
  endUserId: string | null;
  conversationId: string | null;
  /** As the caller wrote it (`auto`, `anthropic/claude-haiku-4-5`, ...). */
  requestedModel: string;
  provider: ProviderName | null;
  model: string | null;
  responseModel: string | null;
  responseId: string | null;
  providerRequestId: string | null;
  route: { tier: Tier; model: Target; reason: string; score: number } | null;
  usage: Usage;
  finishReason: { unified: FinishReason; raw: string | null } | null;
  latencyMs: number | null;
  timeToFirstTokenMs: number | null;
  attempts: number;
  fallback: { from: Target; to: Target } | null;
  cache: CacheStatus;
  /** Answered from an expired cache entry because every target failed (`cache: "stale"`). */
  stale: boolean;
  /** `null` when the model has no known price. */
  cost: { usd: number; pico: number; estimated: boolean } | null;
  outcome: UsageOutcome;
  screening: ScreeningOutcome | null;
  /** What input hygiene removed, when it removed anything. */
  sanitized?: SanitizedPart[];
  warnings?: Warning[];
}

export interface CostEstimate {
  model: Target;
  inputTokens: number;
  outputTokensExpected: number;
  /** `maxTokens`, else the model's output limit; `null` if neither is known. */
  outputTokensMax: number | null;
  usdExpected: number;
  /** What a budget reserves; `null` without an output bound. */
  usdMax: number | null;
}

export type MonthlyUsagePlan = {
  requestsPerDay: number;
  avgInputTokens: number;
  avgOutputTokens: number;
  /** Price at batch rates. */
  batch?: boolean;
} & ({ model: string; mix?: undefined } | { mix: Record<string, number>; model?: undefined });

export interface MonthlyProjection {
  models: { model: string; share: number; requestsPerMonth: number; usd: number | null }[];
  /** `null` if a model of the mix has no known price. */
  totalUsd: number | null;
  warnings: Warning[];
}

export interface Spend {
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  todayUsd: number;
  reservedUsd: number;
  dailyUsd: number | null;
  todayPico: number;
  reservedPico: number;
  dailyPico: number | null;
  /** The next 00:00 UTC, Unix ms. */
  resetsAtMs: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  staleHits: number;
  coalesced: number;
  evictions: number;
  expired: number;
}

export interface ClientOptions extends TimeoutOptions, PolicyOptions {
  providers: Partial<Record<ProviderName, ProviderSettings>>;
  budget?: BudgetOptions;
  routing?: RoutingOptions;
  /** A custom router (same as `routing.hook`; give one of them). */
  router?: RouterHook;
  /** Overrides or extensions of the built-in price table, by `provider/model`. */
  prices?: Record<string, PriceEntry>;
  /** The response cache (off unless given). */
  cache?: ResponseCacheOptions;
  /** Marks the system prompt for Anthropic prompt caching. */
  cacheSystemPrompt?: boolean;
  screening?: ScreeningOptions;
  hygiene?: HygieneOptions;
  /** One record per call, when it ends. Observes only: what it throws is logged. */
  onUsage?: (record: UsageRecord) => void | Promise<void>;
  /** Allow provider API keys in a browser, where every visitor can read them. Prefer the proxy. */
  dangerouslyAllowBrowser?: boolean;
  /** On by default, with the defaults above; `null` disables circuit breaking. */
  circuitBreaker?: CircuitBreakerOptions | null;
  /**
   * Receives every policy event of every call, synchronously and in order. It only observes:
   * an exception it throws is logged and never changes the call.
   */
  onEvent?: (event: PolicyEvent) => void | Promise<void>;
}

/** Prompt-cache lifetime of a marked block (Anthropic `cache_control`). */
export type CacheTtl = "5m" | "1h";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface TextPart {
  type: "text";
  text: string;
  cache?: CacheTtl;
}
export interface ImagePart {
  type: "image";
  /** e.g. `image/png` */
  mediaType: string;
  /** Base64 image data. */
  data: string;
  cache?: CacheTtl;
}
export interface ToolCallPart {
  type: "tool-call";
  id: string;
  name: string;
  arguments: JsonValue;
  /** Gemini's thought signature; send it back unchanged. */
  signature?: string;
}
export interface ToolResultPart {
  type: "tool-result";
  callId: string;
  /** The tool's name (Gemini matches results by name). */
  name?: string;
  content: string;
  isError?: boolean;
  cache?: CacheTtl;
}
export interface ReasoningPart {
  type: "reasoning";
  text: string;
  signature?: string;
}
export type ContentPart = TextPart | ImagePart | ToolCallPart | ToolResultPart | ReasoningPart;

export interface Message {
  role: "user" | "assistant";
  /** A string is one text part. */
  content: string | ContentPart[];
}

export interface SystemBlock {
  text: string;
  cache?: CacheTtl;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments (an object schema). */
  parameters: JsonValue;
  cache?: CacheTtl;
}

export type ToolChoice =
  | { type: "auto" }
  | { type: "none" }
  | { type: "required" }
  | { type: "tool"; name: string };

export type ResponseFormat =
  | { type: "text" }
  | { type: "json" }
  | { type: "json_schema"; schema: JsonValue; name?: string; strict?: boolean };

export interface ChatRequest extends TimeoutOptions, PolicyOptions {
  /**
   * `provider/model` (e.g. `anthropic/claude-haiku-4-5`), a bare model name (`gpt-4o-mini`), or a
   * route: `auto` (or a named route) picks a model by the request's complexity.
   */
  model: string;
  /** For a route: the tier to use instead of the one the complexity score would pick. */
  complexity?: Tier | undefined;
  /** Shorthand for `metadata.conversationId`: a routed conversation stays on its model. */
  conversationId?: string;
  /** `false` keeps this call away from the response cache. */
  cache?: boolean;
  cacheSystemPrompt?: boolean;
  /** Overrides the client's screening for this call. */
  screening?: ScreeningOptions;
  system?: string | SystemBlock[];
  messages: Message[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Anthropic and Gemini only (a warning elsewhere). */
  topK?: number;
  stop?: string[];
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  responseFormat?: ResponseFormat;
  metadata?: { conversationId?: string; endUserId?: string };
  /** Extra HTTP headers for this call. */
  headers?: Record<string, string>;
  /** Aborting cancels the call and its fetch. */
  signal?: AbortSignal;
}

/** Token usage by billing class; `null` where the provider did not report it. */
export interface Usage {
  /** Uncached input tokens (cache reads and writes are counted separately). */
  inputTokens: number | null;
  cacheReadTokens: number | null;
  cacheWrite5mTokens: number | null;
  cacheWrite1hTokens: number | null;
  /** Output tokens, reasoning included. */
  outputTokens: number | null;
  /** How many output tokens were reasoning. */
  reasoningTokens: number | null;
}

export type FinishReason = "stop" | "length" | "tool-calls" | "content-filter" | "pause" | "other";

export interface ToolCall {
  id: string;
  name: string;
  arguments: JsonValue;
}

export interface Warning {
  /** The request setting concerned, e.g. `topK`. */
  setting: string;
  message: string;
}

export interface ChatResponse {
  text: string;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  /** The provider's own finish reason (`end_turn`, `length`, `MAX_TOKENS`, ...). */
  rawFinishReason: string | null;
  usage: Usage;
  provider: ProviderName;
  model: string;
  id: string | null;
  /** The provider's request id, for support tickets. */
  requestId: string | null;
  warnings: Warning[];
  content: ContentPart[];
  /** The target that served the call (differs from the requested model after a fallback). */
  target: Target;
  /** Every attempt of the call, in order. */
  attempts: Attempt[];
  /** The serving answer's cost by class; `null` when the model has no known price. */
  cost: CostBreakdown | null;
  /** The whole call's cost in USD (failed attempts and a structured-output repair included). */
  costUsd: number | null;
  /** The router's decision when the request named a route. */
  route: RouteDecision | null;
  cache: CacheStatus;
  /** Answered from an expired cache entry because every target failed. */
  stale: boolean;
}

/** The response to a `json_schema` request: `object` is the answer, parsed and valid. */
export interface StructuredChatResponse<T = JsonValue> extends ChatResponse {
  object: T;
}

export type ErrorKind =
  | "rate_limited"
  | "quota_exceeded"
  | "overloaded"
  | "server_error"
  | "network"
  | "authentication"
  | "permission"
  | "invalid_request"
  | "not_found"
  | "context_length"
  | "content_filtered"
  | "timeout"
  | "truncated_stream"
  | "invalid_response"
  | "invalid_output"
  | "budget_exceeded"
  | "cancelled"
  | "config"
  /** Nothing was sent: every target's circuit breaker is open; `retryAfterMs` says when one probes again. */
  | "circuit_open";

export type TimeoutKind = "total" | "first_token" | "idle" | "upstream";

/** The server's requested wait, as recorded on an attempt: relative, or an absolute Unix time in ms. */
export type RetryAfter = { millis: number } | { at: number };

/** An attempt's error, as plain data (the fields of `LlmEdgeError`, as the core records them). */
export interface AttemptError {
  kind: ErrorKind;
  message: string;
  provider: ProviderName | null;
  status: number | null;
  providerCode: string | null;
  requestId: string | null;
  retryAfter: RetryAfter | null;
  timeout: TimeoutKind | null;
  usage: Usage | null;
}

/** Why a target was not tried. */
export type SkipReason = "not-configured" | "circuit-open" | "probe-in-flight";

interface AttemptRecord {
  target: Target;
  /** Earlier attempts on this target in this call: 0 for the first try. */
  retry: number;
  /** Started by hedging, alongside a slow attempt on the previous target. */
  hedge: boolean;
  /** The wait before this attempt (backoff or the server's requested wait). */
  waitedMs: number;
  /** From sending to the outcome (for a stream that served: to its first content). */
  durationMs: number;
  /** What the provider reported as used by an attempt that did not serve the call. */
  usage?: Usage;
}

/** One attempt of a call, or one target the call skipped. */
export type Attempt =
  | (AttemptRecord & { outcome: "succeeded" })
  | (AttemptRecord & { outcome: "failed"; error: AttemptError })
  /** Cancelled unfinished: it lost a hedge race, or the call ended while it ran. */
  | (AttemptRecord & { outcome: "abandoned" })
  /** Not sent at all. */
  | (AttemptRecord & { outcome: "skipped"; reason: SkipReason });

export type CircuitState = "closed" | "open" | "half-open";

/** One decision of the reliability layer, delivered to `onEvent`. Attempts are numbered from 1 per call. */
export type PolicyEvent =
  /** A request is about to be sent; `retry` counts earlier attempts on the same target. */
  | { type: "attempt-start"; attempt: number; target: Target; retry: number; hedge: boolean }
  | { type: "attempt-failed"; attempt: number; target: Target; error: AttemptError; durationMs: number }
  /** The same target will be tried again after `delayMs` (`retry` is 1 for the first retry). */
  | {
      type: "retry";
      target: Target;
      retry: number;
      delayMs: number;
      reason: "backoff" | "server-requested";
      /** The wait the server asked for, with `reason: "server-requested"`. */
      serverWaitMs?: number;
    }
  /** The call moves on from `from`, which failed with `reason`, to `to`. */
  | { type: "fallback"; from: Target; to: Target; reason: ErrorKind }
  | { type: "target-skipped"; target: Target; reason: SkipReason }
  | { type: "breaker"; target: Target; from: CircuitState; to: CircuitState }
  | { type: "hedge-start"; primary: Target; target: Target; afterMs: number }
  /** `loserUsage` is what the cancelled attempt's provider had reported, for billing. */
  | { type: "hedge-win"; winner: Target; loser: Target; loserUsage: Usage | null }
  /**
   * The call ended (for a stream: when its body ended, before its `finish` event is delivered).
   * A call the caller aborts, or a stream it stops reading, has no outcome event.
   */
  | { type: "outcome"; ok: true; target: Target; error: null; elapsedMs: number; attempts: Attempt[] }
  | { type: "outcome"; ok: false; target: null; error: ErrorKind; elapsedMs: number; attempts: Attempt[] }
  /** The router chose a model for a request that named a route. Comes before any attempt. */
  | { type: "route"; requested: string; decision: RouteDecision }
  /** Screening flagged a request it let through (`flag` mode). Comes before routing. */
  | { type: "screened"; screening: ScreeningOutcome }
  /** Input hygiene removed characters from the request (after screening). Comes before routing. */
  | { type: "sanitized"; changes: SanitizedPart[] };

export declare class LlmEdgeError extends Error {
  readonly name: "LlmEdgeError";
  readonly kind: ErrorKind;
  readonly status: number | undefined;
  readonly provider: ProviderName | undefined;
  /** The provider's error type or code, e.g. `overloaded_error`, `insufficient_quota`. */
  readonly providerCode: string | undefined;
  readonly requestId: string | undefined;
  /** Whether trying again may succeed. */
  readonly retryable: boolean;
  /** The wait the server asked for, if any. */
  readonly retryAfterMs: number | undefined;
  /** Which deadline fired, for `kind: "timeout"`. */
  readonly timeout: TimeoutKind | undefined;
  /** Usage received before a stream failed. */
  readonly usage: Usage | undefined;
  /**
   * For `invalid_output`: the model's answer that did not match the schema (after the repair for
   * `chat`; a stream's whole text, as streams are not repaired).
   */
  readonly rawOutput: string | undefined;
  /** Every attempt of the call that ended with this error, in order (empty if none was made). */
  readonly attempts: Attempt[];
}

export type StreamEvent =
  | { type: "start"; id: string | null; model: string | null }
  | { type: "text-delta"; text: string }
  | { type: "reasoning-delta"; text: string }
  | { type: "reasoning-signature"; signature: string }
  | { type: "tool-call-start"; index: number; id: string; name: string }
  | { type: "tool-call-delta"; index: number; argumentsDelta: string }
  | { type: "tool-call-end"; index: number; id: string; name: string; arguments: JsonValue; signature?: string }
  /** The running usage total; several updates arriving in one network chunk come as one. */
  | { type: "usage"; usage: Usage }
  | {
      type: "finish";
      finishReason: FinishReason;
      rawFinishReason: string | null;
      usage: Usage;
      /** The target that served the stream. */
      target: Target;
      /** Every attempt of the call, in order. */
      attempts: Attempt[];
      cost: CostBreakdown | null;
      /** The whole call's cost in USD (0 for an answer replayed from the cache). */
      costUsd: number | null;
      route: RouteDecision | null;
      cache: CacheStatus;
      stale: boolean;
      /**
       * A `json_schema` stream's answer, parsed and valid. A stream is never repaired (its text
       * was already delivered): a mismatch ends it with an `invalid_output` error instead.
       */
      object?: JsonValue;
    }
  | { type: "error"; error: LlmEdgeError };

export declare class ChatStream implements AsyncIterableIterator<StreamEvent> {
  private constructor();
  /** The target that served the stream, once it has finished. */
  readonly target: Target | undefined;
  /** Every attempt of the call, once the stream has finished or failed (empty before). */
  readonly attempts: Attempt[];
  /** The call's cost in USD, once the stream has finished. */
  readonly costUsd: number | null | undefined;
  /** The router's decision, once the stream has finished. */
  readonly route: RouteDecision | null | undefined;
  /** Whether the response cache answered, once the stream has finished. */
  readonly cache: CacheStatus | undefined;
  /** A `json_schema` stream's parsed answer, once it has finished and matched the schema. */
  readonly object: JsonValue | undefined;
  next(): Promise<IteratorResult<StreamEvent, undefined>>;
  /** Cancels the underlying fetch (called by `break` in `for await`). */
  return(): Promise<IteratorResult<StreamEvent, undefined>>;
  [Symbol.asyncIterator](): this;
  /** Stops the stream and aborts its fetch. */
  cancel(): void;
  /** The text deltas only; throws the stream's error if it fails. */
  textStream(): AsyncGenerator<string, void, undefined>;
  /** A web ReadableStream of the events, or of SSE bytes with `{ format: "sse" }`. */
  toReadableStream(options?: { format?: "objects" }): ReadableStream<StreamEvent>;
  toReadableStream(options: { format: "sse" }): ReadableStream<Uint8Array>;
}

export type BatchState =
  | "validating"
  | "in_progress"
  | "finalizing"
  | "ended"
  | "failed"
  | "expired"
  | "cancelling"
  | "cancelled";

export interface BatchRequest {
  /** Your id for the request; results are matched by it. */
  customId: string;
  request: Omit<ChatRequest, keyof TimeoutOptions | keyof PolicyOptions | "signal" | "headers" | "cache" | "screening">;
}

export interface BatchStatus {
  id: string;
  provider: "anthropic" | "openai";
  state: BatchState;
  /** The provider's own status word. */
  providerState: string;
  counts: {
    processing: number | null;
    succeeded: number | null;
    errored: number | null;
    canceled: number | null;
    expired: number | null;
    total: number | null;
  };
  resultsLocation?:
    | { type: "url"; url: string }
    | { type: "files"; outputFileId: string | null; errorFileId: string | null }
    | null;
  createdAt?: number | null;
  endedAt?: number | null;
  expiresAt?: number | null;
  issues?: { code: string | null; message: string; line: number | null; param: string | null }[];
  warnings?: { customId: string; setting: string; message: string }[];
}

/** A batch response as the core decodes it (no per-call conveniences such as `target`). */
export interface BatchResponse {
  content: ContentPart[];
  finishReason: { unified: FinishReason; raw: string | null };
  usage: Usage;
  provider: ProviderName;
  model: string;
  id: string | null;
  requestId: string | null;
  warnings: Warning[];
}

export type BatchOutcome =
  | { type: "succeeded"; response: BatchResponse }
  | { type: "errored"; error: AttemptError }
  | { type: "canceled" }
  | { type: "expired" };

export interface BatchResult {
  customId: string;
  outcome: BatchOutcome;
  /** At the model's batch prices; `null` unless the request succeeded with a priced model. */
  cost: CostBreakdown | null;
  warnings?: Warning[];
}

export interface Batches {
  /** Submits requests of one provider as one batch; resolves with its status. */
  submit(requests: BatchRequest[]): Promise<BatchStatus>;
  /** Polls a batch by provider and id, or from an earlier status. */
  status(provider: "anthropic" | "openai", id: string): Promise<BatchStatus>;
  status(status: BatchStatus): Promise<BatchStatus>;
  /** Asks the provider to cancel a batch. */
  cancel(provider: "anthropic" | "openai", id: string): Promise<BatchStatus>;
  cancel(status: BatchStatus): Promise<BatchStatus>;
  /** The results of an ended batch, priced at batch rates; match them by `customId`. */
  results(status: BatchStatus): Promise<BatchResult[]>;
}

export declare class Client {
  /** Throws an `LlmEdgeError` of kind `config` when an option is invalid. */
  constructor(options: ClientOptions);
  /** Provider batch APIs (half price, results within 24 h). */
  readonly batches: Batches;
  /** Warnings about the configuration, such as price entries that were skipped. */
  readonly configWarnings: Warning[];
  /** What a request would cost, before sending it; throws `config` for a model without a price. */
  estimateCost(request: ChatRequest): CostEstimate;
  /** requests/day × 30 × tokens × price, per model and in total. */
  projectMonthlyCost(plan: MonthlyUsagePlan): MonthlyProjection;
  /** Today's spend (UTC day), what calls in flight hold reserved, and the daily budget. */
  spend(): Spend;
  /** Forgets today's spend and delivered alerts. */
  resetSpend(): void;
  /** The response cache's counters; `null` without a cache. */
  cacheStats(): CacheStats | null;
  /**
   * A `json_schema` request resolves with the parsed object in `object`; an answer that does not
   * match is repaired once, then rejects with `invalid_output` (see `rawOutput`).
   */
  chat<T = JsonValue>(
    request: ChatRequest & { responseFormat: { type: "json_schema"; schema: JsonValue } },
  ): Promise<StructuredChatResponse<T>>;
  /**
   * Sends one request and resolves with the whole response, retrying and falling back as the
   * policies say; rejects with an LlmEdgeError (kind `config` for an invalid option).
   */
  chat(request: ChatRequest): Promise<ChatResponse>;
  /**
   * Starts a streamed call. Until the first content arrives, failures are retried and fall back
   * invisibly; after it, a failure ends the stream with an `error` event (never a clean end).
   * Invalid options throw an `LlmEdgeError` of kind `config` here.
   */
  stream(request: ChatRequest): ChatStream;
}
