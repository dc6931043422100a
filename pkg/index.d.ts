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

export interface TimeoutOptions {
  /** Deadline of the whole call in ms (default 30000); `null` disables it. */
  timeoutMs?: number | null;
  /** Deadline from sending to the first content in ms (default: off). */
  firstTokenTimeoutMs?: number | null;
  /** Longest silence between two stream chunks in ms (default: off). */
  idleTimeoutMs?: number | null;
}

export interface ClientOptions extends TimeoutOptions {
  providers: Partial<Record<ProviderName, ProviderSettings>>;
  /** Allow provider API keys in a browser, where every visitor can read them. Prefer the proxy. */
  dangerouslyAllowBrowser?: boolean;
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

export interface ChatRequest extends TimeoutOptions {
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
  | "config";

export type TimeoutKind = "total" | "first_token" | "idle" | "upstream";

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
  | { type: "finish"; finishReason: FinishReason; rawFinishReason: string | null; usage: Usage }
  | { type: "error"; error: LlmEdgeError };

export declare class ChatStream implements AsyncIterableIterator<StreamEvent> {
  private constructor();
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
  constructor(options: ClientOptions);
  /** Sends one request and resolves with the whole response; rejects with an LlmEdgeError. */
  chat(request: ChatRequest): Promise<ChatResponse>;
  /** Starts a streamed call. Errors arrive as an `error` event, never as a clean end. */
  stream(request: ChatRequest): ChatStream;
}
