/**
 * The property suite as Vitest tests: the given definitions from properties/index.ts (the same
 * ones `iommu-conformance run` runs) against the adapter named by IOMMU_ADAPTER (default
 * `reference`), IOMMU_RUNS cases each (default 150), seed IOMMU_SEED (default 1). A property
 * the adapter cannot serve is skipped with its reason. The catalogue is split over two
 * *.prop.ts files so that Vitest runs them on both cores.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAdapter } from "../../src/adapters/adapter-spec.ts";
import type { PropertyDefinition } from "../../src/cases/property.ts";
import type { Model } from "../../src/contract/types.ts";
import { runProperties } from "../../src/runner/runner.ts";

const adapter = process.env.IOMMU_ADAPTER ?? "reference";
// 150 keeps `npm test` well inside CI's budget on 2 cores; at 500 the properties alone take
// about 122 s of CPU. Raise it with IOMMU_RUNS.
const runs = Number(process.env.IOMMU_RUNS ?? 150);
const seed = Number(process.env.IOMMU_SEED ?? 1);
const outDir = process.env.IOMMU_OUT ?? mkdtempSync(join(tmpdir(), "iommu-conformance-"));

export function propertySuite(title: string, properties: PropertyDefinition[]): void {
  describe(`${title} properties against ${adapter}`, () => {
    let model: Model;
    beforeAll(async () => {
      model = await loadAdapter(adapter, { seed });
    });
    afterAll(async () => {
      await model?.close();
    });

    for (const property of properties) {
      it(`${property.id} [${property.rules.join("] [")}]`, async (ctx) => {
        const report = await runProperties([property], { adapter, model, runs, seed, outDir });
        const result = report.results[0];
        if (result?.status === "skip") ctx.skip(result.message);
        const how =
          result?.status === "fail" || result?.status === "error"
            ? `${result.message}\n  trace: ${result.trace ?? "(none)"} — replay: iommu-conformance replay ${result.trace ?? ""}` +
              `\n  again: iommu-conformance run --adapter '${adapter}' --property '${property.id}' --seed ${result.seed} --path '${result.path}'`
            : result?.message;
        expect(result?.status, how).toBe("pass");
      });
    }
  });
}
