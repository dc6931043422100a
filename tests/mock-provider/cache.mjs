// Prompt-cache simulation shared by the three providers (one instance per server).
import { createHash } from "node:crypto";
import { tokensForChars } from "./answer.mjs";

const MAX_ENTRIES = 200_000;
const LOOKBACK_BLOCKS = 20;

/** JSON.stringify without `cache_control` keys, so markers do not change a prefix's identity. */
export function stableJson(v) {
  return JSON.stringify(v, (k, val) => (k === "cache_control" ? undefined : val)) ?? "";
}

export class PromptCache {
  constructor() { this.keys = new Set(); }

  clear() { this.keys.clear(); }

  get size() { return this.keys.size; }

  #add(key) {
    if (this.keys.size >= MAX_ENTRIES) this.keys.clear();
    this.keys.add(key);
  }

  /**
   * Anthropic explicit caching.
   * blocks: [{ser: string, chars: number, marker: null | {ttl: "5m"|"1h"}}] in prompt order
   * (tools as one block, then system blocks, then each message content block).
   * Returns { read, write, write5m, write1h, cachedPrefixTokens } where
   * cachedPrefixTokens = tokens of the prefix up to the last breakpoint (read + write).
   */
  anthropic(model, blocks) {
    const breakpoints = [];
    for (let i = 0; i < blocks.length; i++) if (blocks[i].marker) breakpoints.push(i);
    if (!breakpoints.length) return { read: 0, write: 0, write5m: 0, write1h: 0, cachedPrefixTokens: 0 };
    const h = createHash("sha1");
    h.update("anthropic\0" + model + "\0");
    const keys = new Array(blocks.length);
    const cum = new Array(blocks.length);
    let chars = 0;
    const last = breakpoints[breakpoints.length - 1];
    for (let i = 0; i <= last; i++) {
      h.update(blocks[i].ser);
      h.update("\0");
      chars += blocks[i].chars;
      cum[i] = chars;
      keys[i] = h.copy().digest("base64");
    }
    // Longest previously written prefix at a block boundary within LOOKBACK_BLOCKS before a breakpoint.
    let hit = -1;
    for (let bi = breakpoints.length - 1; bi >= 0 && hit < 0; bi--) {
      const b = breakpoints[bi];
      for (let j = b; j >= Math.max(0, b - LOOKBACK_BLOCKS + 1); j--) {
        if (this.keys.has(keys[j])) { hit = j; break; }
      }
    }
    const tok = (i) => (i < 0 ? 0 : tokensForChars(cum[i]));
    const read = tok(hit);
    let write5m = 0, write1h = 0, prev = hit;
    for (const b of breakpoints) {
      if (b <= hit) continue;
      const seg = tok(b) - tok(prev);
      if (blocks[b].marker.ttl === "1h") write1h += seg; else write5m += seg;
      prev = b;
      this.#add(keys[b]);
    }
    return { read, write: write5m + write1h, write5m, write1h, cachedPrefixTokens: tok(last) };
  }

  /**
   * OpenAI / Gemini implicit caching: the prefix (everything except the last message/turn)
   * is reported as cached when this server has seen the same prefix before.
   * Returns cached tokens (0 on first sight or when the prefix is empty).
   */
  implicit(provider, model, prefixSer, prefixChars) {
    if (prefixChars <= 0) return 0;
    const key = createHash("sha1").update(provider + "\0" + model + "\0" + prefixSer).digest("base64");
    if (this.keys.has(key)) return tokensForChars(prefixChars);
    this.#add(key);
    return 0;
  }
}
