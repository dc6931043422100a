// The idiomatic JavaScript face of llm-edge over its wasm core. Each runtime entry
// (node.js, browser.js, workerd.js) initialises the wasm module, then re-exports this file.
import { WasmClient, WasmHooks } from "./wasm/llm_edge.js";

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
    /** For `invalid_output`: the model's answer that did not match the schema. */
    this.rawOutput = details.rawOutput ?? undefined;
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
const CLIENT_ONLY_OPTIONS = ["onEvent", "onUsage", "circuitBreaker", "providers", "budget", "routing", "prices", "router"];

function configError(message) {
  return new LlmEdgeError({ kind: "config", message });
}

function callJson(request) {
  if (request === null || typeof request !== "object") {
    throw new LlmEdgeError({ kind: "invalid_request", message: "a request object is required" });
  }
  const misplaced = CLIENT_ONLY_OPTIONS.find((key) => request[key] !== undefined);
  if (misplaced) throw configError(`${misplaced} is a client option: pass it to new Client(), not to a call`);
  const { signal, conversationId, ...call } = request;
  if (conversationId !== undefined) call.metadata = { ...call.metadata, conversationId };
  return JSON.stringify(call);
}

/**
 * Wraps an observing hook (`onEvent`, `onUsage`, `budget.onAlert`) for the wasm, which calls it
 * with each value as JSON. The hook only observes: whatever it throws (or an async hook rejects
 * with) is reported on the console and never changes the call's outcome.
 */
function delivery(name, hook) {
  if (hook === undefined) return undefined;
  if (typeof hook !== "function") throw configError(`${name} must be a function, got ${typeof hook}`);
  const report = (error) => console.error(`llm-edge: the ${name} hook failed (the call goes on):`, error);
  return (json) => {
    try {
      const result = hook(JSON.parse(json));
      if (typeof result?.then === "function") result.then(undefined, report);
    } catch (error) {
      report(error);
    }
  };
}

/**
 * Wraps a custom router (`routing.hook` or `router`): it sees the request and the built-in
 * decision and returns a decision (fields it leaves out keep the built-in values) or
 * `undefined`. It must answer synchronously; if it throws, the built-in decision stands.
 */
function routerDelivery(router) {
  if (router === undefined) return undefined;
  if (typeof router !== "function") throw configError(`the router must be a function, got ${typeof router}`);
  return (requestJson, decisionJson) => {
    const decision = JSON.parse(decisionJson);
    try {
      const chosen = router(JSON.parse(requestJson), decision);
      if (chosen === undefined || chosen === null) return undefined;
      if (typeof chosen.then === "function") throw new TypeError("the router must return a decision, not a promise");
      return JSON.stringify({ ...decision, ...chosen });
    } catch (error) {
      console.error("llm-edge: the router hook failed (the built-in decision stands):", error);
      return undefined;
    }
  };
}

/** Runs a synchronous wasm call, turning what it throws into an LlmEdgeError. */
function sync(call) {
  try {
    return call();
  } catch (raw) {
    throw toError(raw);
  }
}

/** Awaits a wasm promise and parses its JSON, turning a rejection into an LlmEdgeError. */
async function settle(start) {
  try {
    return JSON.parse(await start());
  } catch (raw) {
    throw toError(raw);
  }
}

function batchRef(provider, id) {
  if (provider !== null && typeof provider === "object") return [provider.provider, provider.id];
  return [provider, id];
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
    if (options.routing?.hook !== undefined && options.router !== undefined) {
      throw configError("give the custom router once: routing.hook or router, not both");
    }
    const hooks = [
      delivery("onEvent", options.onEvent),
      delivery("onUsage", options.onUsage),
      delivery("budget.onAlert", options.budget?.onAlert),
      routerDelivery(options.routing?.hook ?? options.router),
    ];
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
      this.#wasm = new WasmClient(JSON.stringify(options), new WasmHooks(...hooks));
    } catch (raw) {
      throw toError(raw);
    }
    const wasm = this.#wasm;
    /** Provider batch APIs (Anthropic Message Batches, OpenAI Batch API): half price, within 24 h. */
    this.batches = Object.freeze({
      /** Submits `[{ customId, request }]` (one provider per batch); resolves with its status. */
      submit: (requests) => settle(() => wasm.batchSubmit(JSON.stringify(requests))),
      /** Polls a batch: `status(provider, id)` or `status(previousStatus)`. */
      status: (provider, id) => {
        const [name, batchId] = batchRef(provider, id);
        return settle(() => wasm.batchStatus(name, batchId, false));
      },
      /** Asks the provider to cancel a batch; resolves with its status. */
      cancel: (provider, id) => {
        const [name, batchId] = batchRef(provider, id);
        return settle(() => wasm.batchStatus(name, batchId, true));
      },
      /** The results of an ended batch, by custom id, priced at batch rates. */
      results: (status) => settle(() => wasm.batchResults(JSON.stringify(status))),
    });
  }

  /** What a request would cost, before sending it (input estimated offline). */
  estimateCost(request) {
    return JSON.parse(sync(() => this.#wasm.estimateCost(callJson(request))));
  }

  /** requests/day × 30 × tokens × price, per model of the mix and in total. */
  projectMonthlyCost(plan) {
    return JSON.parse(sync(() => this.#wasm.projectMonthlyCost(JSON.stringify(plan))));
  }

  /** Today's spend (UTC day), what calls in flight hold reserved, and the daily budget. */
  spend() {
    return JSON.parse(this.#wasm.spend());
  }

  /** Forgets today's spend and delivered alerts; calls in flight keep their reservations. */
  resetSpend() {
    this.#wasm.resetSpend();
  }

  /** The response cache's counters, or `null` when the client has no cache. */
  cacheStats() {
    return JSON.parse(this.#wasm.cacheStats());
  }

  /** Warnings about the configuration, such as price entries that were skipped. */
  get configWarnings() {
    return JSON.parse(this.#wasm.configWarnings());
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
  /** The events of the last batch from the wasm, delivered from `#next` on. */
  #buffer = [];
  #next = 0;
  #done = false;
  #unlink;
  #target;
  #attempts = [];
  #finishEvent;

  constructor(handle, signal) {
    this.#handle = handle;
    // On abort, events already buffered are discarded: the next one is the cancellation.
    const onAbort = { cancel: () => { this.#buffer = []; this.#next = 0; handle.cancel(); } };
    this.#unlink = linkSignal(signal, onAbort);
    if (signal?.aborted) onAbort.cancel();
  }

  next() {
    // Buffered events are handed out without entering an async function or the wasm: one
    // already-resolved promise per event is all the iterator protocol needs.
    if (this.#next < this.#buffer.length) return Promise.resolve({ value: this.#take(), done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return this.#pull();
  }

  #take() {
    const value = this.#buffer[this.#next++];
    if (this.#next === this.#buffer.length) {
      this.#buffer = [];
      this.#next = 0;
      if (value.type === "finish") this.#finish();
    }
    return value;
  }

  async #pull() {
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
    this.#next = 0;
    const finish = this.#buffer.find((event) => event.type === "finish");
    if (finish) {
      this.#target = finish.target ?? undefined;
      this.#attempts = finish.attempts;
      this.#finishEvent = finish;
    }
    return { value: this.#take(), done: false };
  }

  /** `provider/model` of the target that served the stream, once it has finished. */
  get target() {
    return this.#target;
  }

  /** Every attempt of the call, once the stream has finished or failed (empty before). */
  get attempts() {
    return this.#attempts;
  }

  /** The whole call's cost in USD, once the stream has finished (`null` if unknown). */
  get costUsd() {
    return this.#finishEvent?.costUsd;
  }

  /** The router's decision, once the stream has finished, when the request named a route. */
  get route() {
    return this.#finishEvent?.route;
  }

  /** Whether the response cache answered, once the stream has finished. */
  get cache() {
    return this.#finishEvent?.cache;
  }

  /** A `json_schema` stream's parsed answer, once it has finished and matched the schema. */
  get object() {
    return this.#finishEvent?.object;
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
