// Replays a recorded SSE body per provider, whatever the request says, on 127.0.0.1.
// Run in its own process so that the client being measured has the CPU of its process to
// itself. Usage: node replay-server.mjs <dir with openai.sse, anthropic.sse, gemini.sse>
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const dir = process.argv[2];
const bodies = Object.fromEntries(["openai", "anthropic", "gemini"].map((p) => [p, fs.readFileSync(path.join(dir, `${p}.sse`))]));

function providerOf(url) {
  if (url.includes("chat/completions")) return "openai";
  if (url.includes("/messages")) return "anthropic";
  if (url.includes("streamGenerateContent")) return "gemini";
  return null;
}

const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const provider = providerOf(req.url);
    if (!provider) {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"no such route"}');
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    res.end(bodies[provider]);
  });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log(`replay listening on http://127.0.0.1:${server.address().port}`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
