// Small shared helpers.

/** Merge a scripted `usage` override into a usage object (plain objects merged one level deep). */
export function mergeUsage(base, override) {
  if (!override || typeof override !== "object") return base;
  const out = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object") out[k] = { ...out[k], ...v };
    else out[k] = v;
  }
  return out;
}

export const pad = (n) => String(n).padStart(6, "0");

/** Deterministic timestamps: a fixed epoch plus a per-instance counter (seconds). */
export const EPOCH_SECONDS = 1_700_000_000;
export const isoAt = (seconds) => new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
