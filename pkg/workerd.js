// Cloudflare Workers entry: wrangler's bundler imports `.wasm` as a compiled WebAssembly.Module.
import wasmModule from "./wasm/llm_edge_bg.wasm";
import { initSync } from "./wasm/llm_edge.js";

initSync({ module: wasmModule });

export * from "./core.js";
