// Prints the size of the npm package's wasm + JS glue, raw and gzip (what users download).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const files = ["pkg/wasm/llm_edge_bg.wasm", "pkg/wasm/llm_edge.js", "pkg/core.js", "pkg/browser.js"];
let raw = 0;
let gz = 0;
for (const file of files) {
  const bytes = readFileSync(file);
  const zipped = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gz += zipped;
  console.log(`[size] ${file}: ${(bytes.length / 1024).toFixed(1)} KB raw, ${(zipped / 1024).toFixed(1)} KB gzip`);
}
console.log(`[size] npm package wasm + JS (browser entry): ${(raw / 1024).toFixed(1)} KB raw, ${(gz / 1024).toFixed(1)} KB gzip`);
