// Anthropic Message Batches and OpenAI Files + Batch APIs.
//
// Deterministic completion: a batch is in progress on its FIRST status poll and finished
// (Anthropic `ended`, OpenAI `completed`) from the SECOND poll on. Results are computed at that
// moment by running every request through the same answer generator as the live endpoints
// (only the model-name behaviours `-mock-fail-{status}` / `-mock-slow-{ms}` apply to items).
import { pad, EPOCH_SECONDS, isoAt } from "./util.mjs";

/** Parse a multipart/form-data body. Returns [{name, filename, contentType, data: Buffer}] or null. */
export function parseMultipart(contentType, buf) {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  if (!m) return null;
  const delim = Buffer.from("--" + (m[1] ?? m[2]));
  const parts = [];
  let pos = buf.indexOf(delim);
  if (pos < 0) return null;
  for (;;) {
    pos += delim.length;
    if (buf[pos] === 0x2d && buf[pos + 1] === 0x2d) break; // closing "--"
    if (buf[pos] === 0x0d && buf[pos + 1] === 0x0a) pos += 2;
    else if (buf[pos] === 0x0a) pos += 1;
    const next = buf.indexOf(delim, pos);
    if (next < 0) return null;
    let end = next;
    if (buf[end - 1] === 0x0a) end--;
    if (buf[end - 1] === 0x0d) end--;
    const part = buf.subarray(pos, end);
    let sep = part.indexOf("\r\n\r\n"), sepLen = 4;
    if (sep < 0) { sep = part.indexOf("\n\n"); sepLen = 2; }
    if (sep < 0) return null;
    const headers = {};
    for (const line of part.subarray(0, sep).toString("utf8").split(/\r?\n/)) {
      const i = line.indexOf(":");
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const cd = headers["content-disposition"] ?? "";
    const name = /\bname="([^"]*)"/i.exec(cd)?.[1] ?? /\bname=([^;\s]+)/i.exec(cd)?.[1];
    const filename = /\bfilename="([^"]*)"/i.exec(cd)?.[1] ?? /\bfilename=([^;\s]+)/i.exec(cd)?.[1] ?? null;
    parts.push({ name, filename, contentType: headers["content-type"] ?? null, data: part.subarray(sep + sepLen) });
    pos = next;
  }
  return parts;
}

const FILE_PURPOSES = new Set(["batch", "assistants", "fine-tune", "vision", "user_data", "evals", "batch_output"]);

export class BatchStore {
  /**
   * @param {{ baseUrl: () => string, runAnthropic: (params) => object, runOpenAI: (body) => {status_code, body} }} deps
   *   runAnthropic returns an Anthropic batch `result` object ({type:"succeeded", message} | {type:"errored", error}).
   */
  constructor(deps) {
    this.deps = deps;
    this.counter = 0;
    this.anthropic = new Map();
    this.files = new Map();
    this.openai = new Map();
  }

  clear() { this.anthropic.clear(); this.files.clear(); this.openai.clear(); }

  #next() { return ++this.counter; }

  // ------------------------------------------------------------------ Anthropic

  /** Returns { status, body } ; error bodies use the `error` field {message} for the caller to wrap. */
  anthropicCreate(body) {
    const reqs = body?.requests;
    if (!Array.isArray(reqs) || !reqs.length) return { error: "requests: Field required" };
    const seen = new Set();
    for (const [i, r] of reqs.entries()) {
      if (!r || typeof r.custom_id !== "string" || !r.custom_id) return { error: `requests.${i}.custom_id: Field required` };
      if (seen.has(r.custom_id)) return { error: `requests.${i}.custom_id: Duplicate custom_id '${r.custom_id}'` };
      seen.add(r.custom_id);
      if (!r.params || typeof r.params !== "object") return { error: `requests.${i}.params: Field required` };
    }
    const n = this.#next();
    const batch = {
      id: `msgbatch_mock_${pad(n)}`,
      n,
      polls: 0,
      requests: reqs,
      results: null,
      counts: { processing: reqs.length, succeeded: 0, errored: 0, canceled: 0, expired: 0 },
    };
    this.anthropic.set(batch.id, batch);
    return { body: this.#anthropicView(batch) };
  }

  #anthropicView(b) {
    const ended = b.results != null;
    return {
      id: b.id,
      type: "message_batch",
      processing_status: ended ? "ended" : "in_progress",
      request_counts: { ...b.counts },
      ended_at: ended ? isoAt(EPOCH_SECONDS + b.n + 60) : null,
      created_at: isoAt(EPOCH_SECONDS + b.n),
      expires_at: isoAt(EPOCH_SECONDS + b.n + 86400),
      archived_at: null,
      cancel_initiated_at: null,
      results_url: ended ? `${this.deps.baseUrl()}/v1/messages/batches/${b.id}/results` : null,
    };
  }

  anthropicGet(id) {
    const b = this.anthropic.get(id);
    if (!b) return null;
    b.polls++;
    if (b.polls >= 2 && !b.results) {
      b.results = b.requests.map((r) => ({ custom_id: r.custom_id, result: this.deps.runAnthropic(r.params) }));
      b.counts = { processing: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0 };
      for (const r of b.results) b.counts[r.result.type]++;
    }
    return this.#anthropicView(b);
  }

  /** JSONL text, null when unknown, or false when the batch has not ended yet. */
  anthropicResults(id) {
    const b = this.anthropic.get(id);
    if (!b) return null;
    if (!b.results) return false;
    return b.results.map((r) => JSON.stringify(r) + "\n").join("");
  }

  // ------------------------------------------------------------------ OpenAI files

  /** Upload from a multipart body: { body } or { error, param }. */
  fileUpload(contentType, raw) {
    const parts = parseMultipart(contentType, raw);
    if (!parts) return { error: "Expected a multipart/form-data body.", param: null };
    const purposePart = parts.find((p) => p.name === "purpose");
    const filePart = parts.find((p) => p.name === "file");
    if (!purposePart) return { error: "Missing required parameter: 'purpose'.", param: "purpose" };
    if (!filePart) return { error: "Missing required parameter: 'file'.", param: "file" };
    const purpose = purposePart.data.toString("utf8").trim();
    if (!FILE_PURPOSES.has(purpose)) return { error: `'${purpose}' is not one of the supported purposes.`, param: "purpose" };
    return { body: this.#storeFile(filePart.filename ?? "upload.jsonl", purpose, Buffer.from(filePart.data)) };
  }

  #storeFile(filename, purpose, data) {
    const n = this.#next();
    const file = {
      id: `file-mock${pad(n)}`, object: "file", bytes: data.length, created_at: EPOCH_SECONDS + n,
      filename, purpose, status: "processed", expires_at: null, status_details: null,
    };
    this.files.set(file.id, { meta: file, data });
    return file;
  }

  fileGet(id) { return this.files.get(id)?.meta ?? null; }

  fileContent(id) { return this.files.get(id)?.data ?? null; }

  // ------------------------------------------------------------------ OpenAI batches

  openaiCreate(body) {
    if (!body || typeof body !== "object") return { error: "Request body must be a JSON object.", param: null };
    if (typeof body.input_file_id !== "string") return { error: "Missing required parameter: 'input_file_id'.", param: "input_file_id" };
    const file = this.files.get(body.input_file_id);
    if (!file) return { error: `No such File object: ${body.input_file_id}`, param: "input_file_id", status: 404 };
    if (body.endpoint !== "/v1/chat/completions") {
      return { error: "Invalid 'endpoint': the mock supports only '/v1/chat/completions'.", param: "endpoint" };
    }
    if (body.completion_window !== "24h") return { error: "Invalid 'completion_window': expected '24h'.", param: "completion_window" };
    const lines = [];
    const errors = [];
    const seen = new Set();
    file.data.toString("utf8").split(/\r?\n/).forEach((text, i) => {
      if (!text.trim()) return;
      let item;
      try { item = JSON.parse(text); } catch {
        errors.push({ code: "invalid_json_line", message: "This line is not parseable as valid JSON.", param: null, line: i + 1 });
        return;
      }
      if (typeof item?.custom_id !== "string") {
        errors.push({ code: "missing_required_parameter", message: "Missing 'custom_id'.", param: "custom_id", line: i + 1 });
      } else if (seen.has(item.custom_id)) {
        errors.push({ code: "duplicate_custom_id", message: `Duplicate custom_id '${item.custom_id}'.`, param: "custom_id", line: i + 1 });
      } else if (item.url !== body.endpoint || (item.method ?? "POST") !== "POST") {
        errors.push({ code: "invalid_url", message: "The URL provided for this request does not match the batch endpoint.", param: "url", line: i + 1 });
      } else if (!item.body || typeof item.body !== "object") {
        errors.push({ code: "missing_required_parameter", message: "Missing 'body'.", param: "body", line: i + 1 });
      }
      if (typeof item?.custom_id === "string") seen.add(item.custom_id);
      lines.push(item);
    });
    if (!lines.length && !errors.length) errors.push({ code: "empty_file", message: "The input file is empty.", param: null, line: null });
    const n = this.#next();
    const batch = {
      n, polls: 0, lines, validationErrors: errors,
      view: {
        id: `batch_mock${pad(n)}`, object: "batch", endpoint: body.endpoint, errors: null,
        input_file_id: body.input_file_id, completion_window: "24h", status: "validating",
        output_file_id: null, error_file_id: null, created_at: EPOCH_SECONDS + n, in_progress_at: null,
        expires_at: EPOCH_SECONDS + n + 86400, finalizing_at: null, completed_at: null, failed_at: null,
        expired_at: null, cancelling_at: null, cancelled_at: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        metadata: body.metadata ?? null,
      },
    };
    this.openai.set(batch.view.id, batch);
    return { body: { ...batch.view } };
  }

  openaiGet(id) {
    const b = this.openai.get(id);
    if (!b) return null;
    b.polls++;
    const v = b.view;
    if (v.status === "validating") {
      if (b.validationErrors.length) {
        v.status = "failed";
        v.failed_at = v.created_at + 1;
        v.errors = { object: "list", data: b.validationErrors };
      } else {
        v.status = "in_progress";
        v.in_progress_at = v.created_at + 1;
        v.request_counts = { total: b.lines.length, completed: 0, failed: 0 };
      }
    } else if (v.status === "in_progress" && b.polls >= 2) {
      const out = [], err = [];
      b.lines.forEach((item, i) => {
        const r = this.deps.runOpenAI(item.body);
        const line = {
          id: `batch_req_mock${pad(b.n)}_${i + 1}`,
          custom_id: item.custom_id,
          response: { status_code: r.status_code, request_id: `req_mock_batch_${pad(b.n)}_${i + 1}`, body: r.body },
          error: null,
        };
        (r.status_code < 300 ? out : err).push(JSON.stringify(line) + "\n");
      });
      if (out.length) v.output_file_id = this.#storeFile(`${v.id}_output.jsonl`, "batch_output", Buffer.from(out.join(""))).id;
      if (err.length) v.error_file_id = this.#storeFile(`${v.id}_error.jsonl`, "batch_output", Buffer.from(err.join(""))).id;
      v.status = "completed";
      v.finalizing_at = v.created_at + 2;
      v.completed_at = v.created_at + 3;
      v.request_counts = { total: b.lines.length, completed: out.length, failed: err.length };
    }
    return { ...v };
  }
}
