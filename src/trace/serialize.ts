/**
 * Deterministic trace text: fixed key order, no timestamps, one step per line, so the same
 * calls always give a byte-identical file that diffs well. [HARNESS-TRACE-3]
 */
import type { Trace } from "./types.ts";

/** Keys that come first, in this order, wherever they appear; the rest follow alphabetically. */
const KEY_ORDER = [
  "format",
  "version",
  "suite",
  "property",
  "adapter",
  "verdict",
  "seed",
  "path",
  "replayPath",
  "config",
  "commands",
  "failure",
  "steps",
  "op",
  "checked",
  "args",
  "result",
  "error",
  "step",
  "code",
  "message",
  "observed",
  "permitted",
];
const RANK = new Map(KEY_ORDER.map((k, i) => [k, i]));

function compareKeys(a: string, b: string): number {
  const ra = RANK.get(a) ?? KEY_ORDER.length;
  const rb = RANK.get(b) ?? KEY_ORDER.length;
  if (ra !== rb) return ra - rb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy with object keys in canonical order and undefined members dropped. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonical(v)));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort(compareKeys)) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonical(v);
    }
    return out;
  }
  if (typeof value === "bigint") throw new TypeError("a trace holds encoded values only; found a bigint");
  return value;
}

/** Compact canonical JSON of any value (also used to compare outcomes). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value)) ?? "null";
}

function indent(text: string, by: string): string {
  return text.replace(/\n/g, `\n${by}`);
}

export function serializeTrace(trace: Trace): string {
  const top = canonical(trace) as Record<string, unknown>;
  const members = Object.entries(top).map(([key, value]) => {
    const name = JSON.stringify(key);
    if ((key === "steps" || key === "commands") && Array.isArray(value)) {
      if (value.length === 0) return `  ${name}: []`;
      return `  ${name}: [\n${value.map((v) => `    ${JSON.stringify(v)}`).join(",\n")}\n  ]`;
    }
    return `  ${name}: ${indent(JSON.stringify(value, null, 2), "  ")}`;
  });
  return `{\n${members.join(",\n")}\n}\n`;
}
