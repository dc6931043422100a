// One HTTP exchange: writing JSON / SSE responses while applying the stream-level
// parts of a scripted behaviour, and keeping the request record's outcome up to date.

import { STATUS_CODES } from "node:http";

export const SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8";
export const JSON_CONTENT_TYPE = "application/json";

export const CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
  "access-control-expose-headers": "*",
  "access-control-max-age": "600",
};

export class Exchange {
  /**
   * @param {import("node:http").IncomingMessage} req
   * @param {import("node:http").ServerResponse} res
   * @param {object|null} record  the recorded request (null for control endpoints)
   * @param {{stallTimeoutMs: number}} opts
   */
  constructor(req, res, record, opts) {
    this.req = req;
    this.res = res;
    this.record = record;
    this.opts = opts;
    this.closed = false;
    this.waiters = new Set();
    res.on("close", () => {
      this.closed = true;
      if (!res.writableFinished && this.record) this.record.outcome = "client-closed";
      for (const w of this.waiters) w();
      this.waiters.clear();
    });
  }

  /** Wait `ms` milliseconds, or less if the connection closes first. */
  wait(ms) {
    if (this.closed || !(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.waiters.delete(done); resolve(); };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  #drain() {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { this.res.off("drain", done); this.waiters.delete(done); resolve(); };
      this.res.on("drain", done);
      this.waiters.add(done);
    });
  }

  #finish(outcome, status) {
    if (this.record) {
      if (this.record.outcome === "pending" || this.record.outcome === "stalled") this.record.outcome = outcome;
      if (status != null) this.record.status = status;
    }
  }

  #setStatus(status) {
    if (this.record) this.record.status = status;
  }

  /** Send a complete body (no behaviour applied). */
  sendBody(status, body, headers, outcome = status >= 400 ? "error" : "completed") {
    if (this.closed) return;
    const buf = typeof body === "string" ? Buffer.from(body) : body;
    this.#setStatus(status);
    const reason = STATUS_CODES[status] ?? (status === 529 ? "Site Overloaded" : "Unknown");
    this.res.writeHead(status, reason, { ...headers, "content-length": buf.length });
    this.#finish(outcome, status);
    this.res.end(buf);
  }

  sendJson(status, obj, headers, outcome) {
    this.sendBody(status, JSON.stringify(obj), { "content-type": JSON_CONTENT_TYPE, ...headers }, outcome);
  }

  /**
   * Send a successful non-streaming JSON answer, applying cut/stall/malformed behaviours:
   * the body counts as one chunk; cut -> the first half of the body then a clean end,
   * stall -> headers (plus the first half when stallAfterChunks >= 1) then silence,
   * malformed -> the first half of the body followed by invalid JSON.
   */
  async sendAnswerJson(obj, headers, behavior) {
    const b = behavior ?? {};
    const body = JSON.stringify(obj);
    const half = body.slice(0, Math.floor(body.length / 2));
    const h = { "content-type": JSON_CONTENT_TYPE, ...headers };
    if (this.closed) return;
    if (b.cutAfterChunks != null) {
      this.#setStatus(200);
      this.res.writeHead(200, h);
      this.res.write(half);
      if (this.record) this.record.chunksSent = 1;
      this.#finish("cut");
      this.res.end();
      return;
    }
    if (b.stallAfterChunks != null) {
      this.#setStatus(200);
      this.res.writeHead(200, h);
      this.res.flushHeaders();
      if (b.stallAfterChunks >= 1) {
        this.res.write(half);
        if (this.record) this.record.chunksSent = 1;
      }
      await this.#stall();
      return;
    }
    if (b.malformedAfterChunks != null) {
      if (this.record) this.record.chunksSent = 1;
      this.sendBody(200, half + "\u0001<malformed", h, "completed");
      return;
    }
    if (this.record) this.record.chunksSent = 1;
    this.sendBody(200, body, h, "completed");
  }

  async #stall() {
    if (this.record && this.record.outcome === "pending") this.record.outcome = "stalled";
    await this.wait(this.opts.stallTimeoutMs);
    if (!this.closed) {
      this.#finish("stalled");
      this.res.end();
    }
  }

  /**
   * Stream framed events with the behaviour applied.
   * events: [{data: string, cutData?: string}], the last one being the terminal marker.
   * When the last event has `cutData`, a cut/stall that reaches it sends `cutData` instead
   * (Gemini: the final chunk without finishReason); otherwise the terminal is never sent.
   * fx: { malformed(sent): string, streamError(sent): string } framed extra events (sent = chunks already written).
   */
  async sendStream(headers, events, behavior, fx) {
    const b = behavior ?? {};
    const res = this.res;
    if (this.closed) return;
    this.#setStatus(200);
    res.writeHead(200, headers);
    res.flushHeaders();
    const last = events.length - 1;
    const maxPartial = events[last].cutData != null ? events.length : last;
    let limit = events.length, mode = "normal";
    if (b.streamErrorAfterChunks != null) { limit = Math.min(b.streamErrorAfterChunks, last); mode = "error"; }
    else if (b.cutAfterChunks != null) { limit = Math.min(b.cutAfterChunks, maxPartial); mode = "cut"; }
    else if (b.stallAfterChunks != null) { limit = Math.min(b.stallAfterChunks, maxPartial); mode = "stall"; }
    const malformedAt = b.malformedAfterChunks != null ? Math.min(b.malformedAfterChunks, last) : -1;
    const delay = b.chunkDelayMs > 0 ? b.chunkDelayMs : 0;
    const rec = this.record;
    let sent = 0;
    const write = async (data) => {
      if (delay && sent > 0) await this.wait(delay);
      if (this.closed) return false;
      sent++;
      if (rec) rec.chunksSent = sent;
      if (!res.write(data)) await this.#drain();
      return !this.closed;
    };
    for (let i = 0; i < limit; i++) {
      if (i === malformedAt && !(await write(fx.malformed(sent)))) return;
      const ev = events[i];
      if (!(await write(mode !== "normal" && i === last ? ev.cutData : ev.data))) return;
    }
    if (mode === "error") {
      if (!(await write(fx.streamError(sent)))) return;
      this.#finish("error");
      res.end();
    } else if (mode === "stall") {
      await this.#stall();
    } else {
      this.#finish(mode === "cut" ? "cut" : "completed");
      res.end();
    }
  }
}
