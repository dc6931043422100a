// The idiomatic JavaScript face of llm-edge over its wasm core. Each runtime entry
// (node.js, browser.js, workerd.js) initialises the wasm module, then re-exports this file.
import { WasmClient } from "./wasm/llm_edge.js";

/** Every failure of llm-edge: one class, classified by `kind`. */
export class LlmEdgeError extends Error {
  constructor(details) {
    super(details.message);
    this.name = "LlmEdgeError";
    this.kind = details.kind;
    this.status = details.status ?? undefined;
    this.provider = details.provider ?? undefined;
    this.providerCode = details.providerCode ?? undefined;
    this.requestId = details.requestId ?? undefined;
    this.retryable = Boolean(details.retryable);
    this.retryAfterMs = details.retryAfterMs ?? undefined;
    this.timeout = details.timeout ?? undefined;
    this.usage = details.usage ?? undefined;
    /** Every attempt of the call that ended with this error (empty if none was made). */
    this.attempts = details.attempts ?? [];
  }
}

function toError(raw) {
  if (typeof raw === "string" && raw.startsWith('{"llmEdgeError":true')) {
    return new LlmEdgeError(JSON.parse(raw));
  }
  return raw instanceof Error ? raw : new Error(String(raw));
}

const isBrowser = typeof window !== "undefined" && typeof document !== "undefined";
// Options that belong to the client and mean nothing for one call: refused rather than ignored.
const CLIENT_ONLY_OPTIONS = ["onEvent", "circuitBreaker", "providers"];

function configError(message) {
  return new LlmEdgeError({ kind: "config", message });
}

function callJson(request) {
  if (request === null || typeof request !== "object") {
    throw new LlmEdgeError({ kind: "invalid_request", message: "a request object is required" });
  }
  const misplaced = CLIENT_ONLY_OPTIONS.find((key) => request[key] !== undefined);
  if (misplaced) throw configError(`${misplaced} is a client option: pass it to new Client(), not to a call`);
  const { signal, ...call } = request;
  return JSON.stringify(call);
}

/**
 * Wraps the user's `onEvent` for the wasm, which calls it with each policy event as JSON. The
 * hook only observes: whatever it throws (or an async hook rejects with) is reported on the
 * console and never changes the call's outcome.
 */
function eventDelivery(onEvent) {
  const report = (error) => console.error("llm-edge: the onEvent hook failed (the call goes on):", error);
  return (json) => {
    try {
      const result = onEvent(JSON.parse(json));
      if (typeof result?.then === "function") result.then(undefined, report);
    } catch (error) {
      report(error);
    }
  };
}

function abortedError() {
  return new LlmEdgeError({ kind: "cancelled", message: "the call was aborted by the caller" });
}

/** Links an AbortSignal to a wasm call handle; returns a function that unlinks it. */
function linkSignal(signal, handle) {
  if (!signal) return () => {};
  const onAbort = () => handle.cancel();
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

export class Client {
  #wasm;

  constructor(options = {}) {
    const providers = options.providers ?? {};
    const { onEvent } = options;
    if (onEvent !== undefined && typeof onEvent !== "function") {
      throw configError(`onEvent must be a function, got ${typeof onEvent}`);
    }
    if (isBrowser && !options.dangerouslyAllowBrowser) {
      for (const [name, settings] of Object.entries(providers)) {
        if (settings && settings.apiKey) {
          throw new LlmEdgeError({
            kind: "config",
            provider: name,
            message:
              `a ${name} API key was given in a browser, where any visitor can read it. ` +
              "Point baseUrl at an llm-edge proxy (which keeps keys server-side) and drop apiKey, " +
              "or pass dangerouslyAllowBrowser: true if you really mean it.",
          });
        }
      }
    }
    const anthropic = providers.anthropic;
    if (isBrowser && anthropic?.apiKey) {
      // Anthropic answers CORS only when the caller acknowledges the key is exposed.
      options = {
        ...options,
        providers: {
          ...providers,
          anthropic: { ...anthropic, headers: { "anthropic-dangerous-direct-browser-access": "true", ...anthropic.headers } },
        },
      };
    }
    try {
      this.#wasm = new WasmClient(JSON.stringify(options), onEvent && eventDelivery(onEvent));
    } catch (raw) {
      throw toError(raw);
    }
  }

  /** Sends one request and resolves with the whole response. */
  async chat(request) {
    if (request?.signal?.aborted) throw abortedError();
    let call;
    try {
      call = this.#wasm.chat(callJson(request));
    } catch (raw) {
      throw toError(raw);
    }
    const unlink = linkSignal(request.signal, call);
    try {
      return JSON.parse(await call.result());
    } catch (raw) {
      throw toError(raw);
    } finally {
      unlink();
      call.free();
    }
  }

  /** Starts a streamed call: an async iterable of events, convertible to a ReadableStream. */
  stream(request) {
    let handle;
    try {
      handle = this.#wasm.stream(callJson(request));
    } catch (raw) {
      throw toError(raw);
    }
    return new ChatStream(handle, request.signal);
  }
}

export class ChatStream {
  #handle;
  #buffer = [];
  #done = false;
  #unlink;
  #target;
  #attempts = [];

  constructor(handle, signal) {
    this.#handle = handle;
    // On abort, events already buffered are discarded: the next one is the cancellation.
    const onAbort = { cancel: () => { this.#buffer = []; handle.cancel(); } };
    this.#unlink = linkSignal(signal, onAbort);
    if (signal?.aborted) onAbort.cancel();
  }

  async next() {
    if (this.#buffer.length > 0) return { value: this.#buffer.shift(), done: false };
    if (this.#done) return { value: undefined, done: true };
    let batch;
    try {
      batch = await this.#handle.next();
    } catch (raw) {
      this.#finish();
      const error = toError(raw);
      if (error instanceof LlmEdgeError) this.#attempts = error.attempts;
      // An error is also an event, so that `for await` users see it without try/catch.
      return { value: { type: "error", error }, done: false };
    }
    if (batch === undefined) {
      this.#finish();
      return { value: undefined, done: true };
    }
    this.#buffer = JSON.parse(batch);
    const finish = this.#buffer.find((event) => event.type === "finish");
    if (finish) {
      this.#target = finish.target ?? undefined;
      this.#attempts = finish.attempts;
    }
    const value = this.#buffer.shift();
    if (value.type === "finish" && this.#buffer.length === 0) this.#finish();
    return { value, done: false };
  }

  /** `provider/model` of the target that served the stream, once it has finished. */
  get target() {
    return this.#target;
  }

  /** Every attempt of the call, once the stream has finished or failed (empty before). */
  get attempts() {
    return this.#attempts;
  }

  /** Called by `break` in a `for await`: cancels the underlying fetch. */
  async return() {
    this.cancel();
    return { value: undefined, done: true };
  }

  /** Stops the stream and aborts its fetch. */
  cancel() {
    if (!this.#done) this.#handle.cancel();
    this.#finish();
  }

  #finish() {
    if (this.#done) return;
    this.#done = true;
    this.#unlink();
    this.#handle.free();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** The text deltas only, as an async iterable of strings. Throws on an error event. */
  async *textStream() {
    for await (const event of this) {
      if (event.type === "text-delta") yield event.text;
      else if (event.type === "error") throw event.error;
    }
  }

  /**
   * A web ReadableStream of the events (objects), or with `{ format: "sse" }` of
   * Server-Sent-Events bytes (`event: <type>` / `data: <json>`), ready to return from a Response.
   */
  toReadableStream({ format = "objects" } = {}) {
    const encoder = new TextEncoder();
    const iterator = this;
    return new ReadableStream({
      async pull(controller) {
        const { value, done } = await iterator.next();
        if (done) return controller.close();
        if (format === "sse") {
          const data = value.type === "error" ? { type: "error", error: { ...value.error, message: value.error.message } } : value;
          controller.enqueue(encoder.encode(`event: ${value.type}\ndata: ${JSON.stringify(data)}\n\n`));
        } else {
          controller.enqueue(value);
        }
      },
      cancel() {
        iterator.cancel();
      },
    });
  }
}
