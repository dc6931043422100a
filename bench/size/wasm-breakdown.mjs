#!/usr/bin/env node
// Groups `twiggy top --format json` of a wasm that kept its names by crate and by llm-edge
// module, and sizes what each group weighs gzip'd on its own (an approximation: gzip of the
// whole is less than the sum). Usage: node wasm-breakdown.mjs <top.json> <named.wasm>
import fs from "node:fs";
import { gzipSync } from "node:zlib";

const [topFile, wasmFile] = process.argv.slice(2);
const items = JSON.parse(fs.readFileSync(topFile, "utf8"));
const wasm = fs.readFileSync(wasmFile);

// Sections that the shipped (stripped) wasm does not carry.
const DEBUG_ONLY = /^(name|producers|target_features|".*" subsection|custom section 'name'.*|custom section 'producers'.*|custom section 'target_features'.*)$/;

/** The crate an item's code belongs to: the type's crate for `<T as Trait>::f`, else the path's first segment. */
function crateOf(name) {
  let n = name.trim().replace(/\[[0-9a-f]{16}\]/g, ""); // std's crates carry a disambiguator
  if (/^data segment/.test(n) || /^data\[\d+\]$/.test(n)) return "(data segments: strings, tables, JSON)";
  if (/^(code|func)\[\d+\]$/.test(n)) return "(unnamed functions)";
  if (!n.includes("::")) return `(wasm: ${n.replace(/\[\d+\]$/, "[]")})`;
  while (/^[<&(]/.test(n)) n = n.replace(/^[<&(]+/, "").replace(/^(mut|dyn) /, "");
  const first = n.split("::")[0].replace(/ as .*$/, "").replace(/[^A-Za-z0-9_]/g, "");
  return first || "(other)";
}

/** For llm_edge items: the module (core::provider::openai, core::client, js, web::fetch...). */
function moduleOf(name) {
  const n = name.trim().replace(/^[<&(]+/, "");
  const parts = n.split("::");
  if (parts[0] !== "llm_edge") return null;
  const isModule = (p) => p && /^[a-z_]+$/.test(p) && p !== "_";
  if (parts[1] === "core" && parts[2] === "provider" && ["anthropic", "openai", "gemini", "inbound"].includes(parts[3])) return `core::provider::${parts[3]}`;
  if (parts[1] === "core" && isModule(parts[2]) && isModule(parts[3]) && ["client", "policy", "route", "gateway", "screen", "pricing"].includes(parts[2]) && parts.length > 5) return `core::${parts[2]}::${parts[3]}`;
  if (parts[1] === "core" && isModule(parts[2])) return `core::${parts[2]}`;
  return isModule(parts[1]) ? parts[1] : "llm_edge";
}

/** The data section's segments (offset-less parse: id 11, count, then each segment's bytes). */
function dataSegments(bytes) {
  let i = 8;
  const leb = () => {
    let result = 0, shift = 0, b;
    do {
      b = bytes[i++];
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return result;
  };
  while (i < bytes.length) {
    const id = bytes[i++];
    const size = leb();
    const end = i + size;
    if (id === 11) {
      const segments = [];
      const count = leb();
      for (let k = 0; k < count; k++) {
        const flags = leb();
        if (flags === 0) {
          while (bytes[i++] !== 0x0b);
        } else if (flags === 2) {
          leb();
          while (bytes[i++] !== 0x0b);
        }
        const len = leb();
        segments.push(bytes.subarray(i, i + len));
        i += len;
      }
      return segments;
    }
    i = end;
  }
  return [];
}

const total = items.reduce((a, i) => a + i.shallow_size, 0);
const shipped = items.filter((i) => !DEBUG_ONLY.test(i.name));
const shippedTotal = shipped.reduce((a, i) => a + i.shallow_size, 0);
const byCrate = new Map();
const byModule = new Map();
for (const item of shipped) {
  const crate = crateOf(item.name);
  const c = byCrate.get(crate) ?? { size: 0, count: 0, biggest: [] };
  c.size += item.shallow_size;
  c.count++;
  c.biggest.push(item);
  byCrate.set(crate, c);
  const mod = moduleOf(item.name);
  if (mod) {
    const m = byModule.get(mod) ?? { size: 0, count: 0, biggest: [] };
    m.size += item.shallow_size;
    m.count++;
    m.biggest.push(item);
    byModule.set(mod, m);
  }
}

const kb = (n) => (n / 1024).toFixed(1);
const pct = (n) => ((100 * n) / shippedTotal).toFixed(1);
const short = (name) => (name.length > 90 ? name.slice(0, 87) + "..." : name).replace(/\|/g, "\\|");
const L = [];
L.push(`# What the npm package's wasm is made of`, "");
L.push(`Built by bench/size/analyze-wasm.sh on ${new Date().toISOString()}: release, feature js with SIMD, wasm-bindgen, wasm-opt -Oz -Oz with names kept (-g). ${kb(total)} KB with the name section, ${kb(shippedTotal)} KB without (the shipped code and data); the whole file gzip'd: ${kb(gzipSync(wasm, { level: 9 }).length)} KB (names included).`, "");
L.push("By crate (a trait impl counts under its type's crate, so serde-derived code of llm-edge's types counts as llm_edge; generic code monomorphised inside serde_json counts as serde_json):", "");
L.push("| crate | KB | % | items | largest items |", "|---|---:|---:|---:|---|");
for (const [crate, c] of [...byCrate.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, 20)) {
  c.biggest.sort((a, b) => b.shallow_size - a.shallow_size);
  L.push(`| ${crate} | ${kb(c.size)} | ${pct(c.size)} | ${c.count} | ${c.biggest.slice(0, 2).map((i) => `${short(i.name)} (${kb(i.shallow_size)} KB)`).join("; ")} |`);
}
// Cross-cutting rollups (an item may count in several).
const sumOf = (test) => shipped.filter((i) => test(i.name)).reduce((a, i) => a + i.shallow_size, 0);
const concerns = [
  ["everything serde (serde, serde_core, serde_json, and the derived impls of llm-edge's types)", (n) => /serde/.test(n)],
  ["  of which derived (de)serialisers of llm-edge's own types", (n) => /serde/.test(n) && /llm_edge/.test(n)],
  ["  of which serde's Content buffering (untagged / internally tagged enums, flatten)", (n) => /private::de::content|ContentRefDeserializer|ContentDeserializer|TaggedContent/.test(n)],
  ["async state machines and closures (Future::poll, {{closure}})", (n) => /Future>::poll|\{\{closure\}\}/.test(n)],
  ["formatting (core::fmt, Debug/Display impls, float printing)", (n) => /::fmt::|Debug>::fmt|Display>::fmt|flt2dec|dragon|grisu|float_to_decimal/.test(n)],
  ["BTreeMap code", (n) => /btree/i.test(n)],
  ["data segments (messages, tables, prices JSON)", (n) => /^data/.test(n)],
];
L.push("", "By concern (raw bytes of the shipped code and data; an item may count in several rows):", "", "| concern | KB | % |", "|---|---:|---:|");
for (const [label, test] of concerns) L.push(`| ${label} | ${kb(sumOf(test))} | ${pct(sumOf(test))} |`);
L.push("", "llm_edge by module:", "");
L.push("| module | KB | % | items | largest items |", "|---|---:|---:|---:|---|");
for (const [mod, m] of [...byModule.entries()].sort((a, b) => b[1].size - a[1].size).slice(0, 25)) {
  m.biggest.sort((a, b) => b.shallow_size - a.shallow_size);
  L.push(`| ${mod} | ${kb(m.size)} | ${pct(m.size)} | ${m.count} | ${m.biggest.slice(0, 2).map((i) => `${short(i.name)} (${kb(i.shallow_size)} KB)`).join("; ")} |`);
}
L.push("", "Largest single items:", "", "| item | KB |", "|---|---:|");
for (const item of [...shipped].sort((a, b) => b.shallow_size - a.shallow_size).slice(0, 15)) L.push(`| ${short(item.name)} | ${kb(item.shallow_size)} |`);
const segments = dataSegments(wasm).sort((a, b) => b.length - a.length);
L.push("", `Data: ${segments.length} segments, ${kb(segments.reduce((a, d) => a + d.length, 0))} KB; the largest begin with:`, "");
for (const seg of segments.slice(0, 6)) {
  const text = Buffer.from(seg).toString("latin1").replace(/[^\x20-\x7e]+/g, " ").replace(/\s+/g, " ").trim().slice(0, 140).replace(/\|/g, "\\|");
  L.push(`- ${kb(seg.length)} KB: \`${text}\``);
}
console.log(L.join("\n") + "\n");
