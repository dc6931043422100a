// Browser and bundler entry: fetch and instantiate the wasm next to this file (bundlers such
// as Vite and esbuild treat `new URL(..., import.meta.url)` as an asset), with top-level await
// so that importers need no init step.
import init from "./wasm/llm_edge.js";

await init({ module_or_path: new URL("./wasm/llm_edge_bg.wasm", import.meta.url) });

export * from "./core.js";
