/**
 * The oracle's claims do not depend on one cache geometry: the guest-side properties that judge
 * caching pass against the reference with its caches off, tiny (one entry: constant eviction),
 * split (no IOTLB but a large paging-structure cache, so every walk starts from cached upper
 * levels) and with one-entry context and PASID caches. A disagreement here is a bug in the
 * reference or in the oracle, never a tolerated difference. [ORACLE-TIME-1] [ORACLE-TIME-2]
 */
import { afterAll, describe, expect, it } from "vitest";
import { cacheCoherence } from "../../properties/cache-coherence.ts";
import { pasidCacheGranularity } from "../../properties/pasid-cache-granularity.ts";
import { robustness } from "../../properties/robustness.ts";
import { translationEqualsWalk } from "../../properties/translation-equals-walk.ts";
import { loadAdapter } from "../../src/adapters/adapter-spec.ts";
import type { PropertyDefinition } from "../../src/cases/property.ts";
import type { Model } from "../../src/contract/types.ts";
import { runProperties } from "../../src/runner/runner.ts";

/** The cache configurations the suite must judge alike (see spec/oracle.md ORACLE-TIME-1). */
const CACHE_CONFIGS = [
  "reference:context=0,pasid=0,iotlb=0,psc=0",
  "reference:iotlb=1,psc=1",
  "reference:iotlb=0,psc=256",
  "reference:context=1,pasid=1",
] as const;

const PROPERTIES: Array<{ p: PropertyDefinition; runs: number }> = [
  { p: cacheCoherence, runs: 12 },
  { p: pasidCacheGranularity, runs: 8 },
  { p: translationEqualsWalk, runs: 6 },
  { p: robustness, runs: 6 },
];

describe("[ORACLE-TIME-1] [ORACLE-TIME-2] [ORACLE-COV-3] properties hold for every reference cache geometry", () => {
  const models: Model[] = [];
  afterAll(async () => {
    for (const m of models) await m.close();
  });
  for (const [i, adapter] of CACHE_CONFIGS.entries()) {
    it(`[ORACLE-TIME-1] [ORACLE-TIME-3] ${adapter}`, async () => {
      const model = await loadAdapter(adapter);
      models.push(model);
      for (const { p, runs } of PROPERTIES) {
        const report = await runProperties([p], { adapter, model, runs, seed: 11 + i });
        const r = report.results[0];
        expect(r?.status, `${p.id}: ${r?.message}`).toBe("pass");
      }
    }, 120_000);
  }
});
