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

export interface ClientOptions extends TimeoutOptions, PolicyOptions {
  providers: Partial<Record<ProviderName, ProviderSettings>>;
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
  /** `provider/model` (e.g. `anthropic/claude-haiku-4-5`) or a bare model name (`gpt-4o-mini`). */
  model: string;
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
  | { type: "outcome"; ok: false; target: null; error: ErrorKind; elapsedMs: number; attempts: Attempt[] };

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
    }
  | { type: "error"; error: LlmEdgeError };

export declare class ChatStream implements AsyncIterableIterator<StreamEvent> {
  private constructor();
  /** The target that served the stream, once it has finished. */
  readonly target: Target | undefined;
  /** Every attempt of the call, once the stream has finished or failed (empty before). */
  readonly attempts: Attempt[];
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

export declare class Client {
  /** Throws an `LlmEdgeError` of kind `config` when an option is invalid. */
  constructor(options: ClientOptions);
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
