/** Running one property against the reference adapter with given cache capacities (tests only). */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { PropertyDefinition } from "../../src/cases/property.ts";
import type { Model } from "../../src/contract/types.ts";
import { type PropertyResult, runProperties } from "../../src/runner/runner.ts";

/** Cache configurations every property must pass with: default, caches off, tiny, large. */
export const CACHE_CONFIGS: Array<Record<string, string>> = [
  {},
  { context: "0", pasid: "0", iotlb: "0" },
  { context: "1", pasid: "1", iotlb: "1" },
  { iotlb: "1024", pasid: "64" },
];

export async function runAgainst(
  property: PropertyDefinition,
  options: { runs: number; seed?: number; cache?: Record<string, string>; model?: Model },
): Promise<PropertyResult> {
  const model = options.model ?? (await createReferenceModel(options.cache ?? {}));
  try {
    const report = await runProperties([property], {
      adapter: "reference",
      model,
      runs: options.runs,
      seed: options.seed ?? 1,
      outDir: mkdtempSync(join(tmpdir(), "iommu-prop-")),
    });
    return report.results[0] as PropertyResult;
  } finally {
    if (options.model === undefined) await model.close();
  }
}
