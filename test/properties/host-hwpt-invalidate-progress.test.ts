import { describe, expect, it } from "vitest";
import { expectedInvalidate, hwptInvalidateProgress } from "../../properties/hwpt-invalidate-progress.ts";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { Errno } from "../../src/host/index.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("hwpt-invalidate-progress against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[HOST-UAPI-60] [HOST-UAPI-62] [HOST-UAPI-63] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(hwptInvalidateProgress, { runs: 30, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }

  it("[HOST-UAPI-60] [HOST-UAPI-65] entries with entry_len 0 are refused with EINVAL before the HWPT is looked up", () => {
    // Found by the sweep on the reference (seeds 4, 5, 7..10): the property expected ENOENT here.
    const bad = [{ kind: "max-nonzero" as const }];
    expect(expectedInvalidate("unknown", bad, 0, 0)).toEqual({ errno: Errno.EINVAL, done: 0 });
    expect(expectedInvalidate("unknown", bad, 16, 16)).toEqual({ errno: Errno.ENOENT, done: 0 });
    expect(expectedInvalidate("unknown", [], 0, 0)).toEqual({ errno: Errno.ENOENT, done: 0 });
    expect(expectedInvalidate("paging", bad, 32, 32)).toEqual({ errno: Errno.EINVAL, done: 0 });
    expect(expectedInvalidate("nested", [], 0, 0)).toEqual({ errno: 0, done: 0 });
    const ok = { kind: "ok" as const, first: 0, pages: 1, leaf: false };
    expect(expectedInvalidate("nested", [ok, ok, bad[0]!], 24, 72)).toEqual({ errno: Errno.EINVAL, done: 2 });
    expect(expectedInvalidate("nested", [ok, ok], 24, 40)).toEqual({ errno: Errno.EFAULT, done: 1 });
  });

  it("[HOST-UAPI-60] kills mutant:invalidate-entry-num-kept", async () => {
    const model = await createMutantModel("invalidate-entry-num-kept");
    try {
      const r = await runAgainst(hwptInvalidateProgress, { runs: 100, model });
      expect(r.status, r.message).toBe("fail");
    } finally {
      await model.close();
    }
  }, 300_000);
});
