// Node entry: load the wasm synchronously from disk, so `import { Client } from "llm-edge"`
// needs no init step.
import { readFileSync } from "node:fs";
import { initSync } from "./wasm/llm_edge.js";

initSync({ module: readFileSync(new URL("./wasm/llm_edge_bg.wasm", import.meta.url)) });

export * from "./core.js";
