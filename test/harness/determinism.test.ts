/**
 * Same seed, same steps, same trace bytes: a property that kills a mutant, run twice with one
 * seed, writes byte-identical trace files (shrinking included).
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { properties } from "../../properties/index.ts";
import { loadAdapter } from "../../src/adapters/adapter-spec.ts";
import { runProperties } from "../../src/runner/runner.ts";

async function runOnce(adapter: string, propertyId: string, seed: number) {
  const property = properties.find((p) => p.id === propertyId);
  if (property === undefined) throw new Error(`no property ${propertyId}`);
  const outDir = mkdtempSync(join(tmpdir(), "determinism-"));
  const model = await loadAdapter(adapter);
  try {
    const report = await runProperties([property], { adapter, model, runs: 1000, seed, outDir });
    const dir = join(outDir, "traces");
    const files = readdirSync(dir).sort();
    return { report, traces: files.map((f) => readFileSync(join(dir, f))) };
  } finally {
    await model.close();
  }
}

describe("determinism", () => {
  // Mutants whose kill is recorded in reference-traces/mutants/, rerun with the recorded seed.
  it.each(["large-page-offset", "struct-tail-accepted"])(
    "[HARNESS-TRACE-3] mutant:%s: the same seed gives byte-identical traces",
    { timeout: 120_000 },
    async (mutant) => {
      const recorded = JSON.parse(
        readFileSync(join("reference-traces", "mutants", `${mutant}.json`), "utf8"),
      );
      const adapter = `mutant:${mutant}`;
      const id = recorded.property as string;
      const seed = recorded.seed as number;
      const a = await runOnce(adapter, id, seed);
      const b = await runOnce(adapter, id, seed);
      expect(a.report.results[0]?.status).toBe("fail");
      expect(a.traces.length).toBeGreaterThan(0);
      expect(b.traces).toEqual(a.traces);
    },
  );
});
