import { describe, expect, it } from "vitest";
import { stage2Sharing } from "../../properties/stage2-sharing.ts";
import { createMutantModel } from "../../src/platform/mutants.ts";
import { createReferenceModel } from "../../src/platform/reference.ts";
import type { Model, PlatformSurface } from "../../src/platform/types.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("stage2-sharing against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[VMM-S2-5] [VMM-S2-4] [VMM-S2-6] [VMM-S2-8] [VMM-S2-10] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(stage2Sharing, { runs: 30, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }
});

describe("stage2-sharing finds wrong sharing", () => {
  it("[HOST-COH-3] [VMM-S2-5] kills mutant:noncoherent-into-enforcing", async () => {
    const model = await createMutantModel("noncoherent-into-enforcing");
    try {
      const r = await runAgainst(stage2Sharing, { runs: 60, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/coherency class|EINVAL|must not share/);
    } finally {
      await model.close();
    }
  }, 300_000);

  it("[VMM-S2-8] finds a host surface that still serves the previous VM", async () => {
    // Odd resets build VM A on `first`, even ones VM B on `later`; the host surface stays A's.
    const first = await createReferenceModel();
    const later = await createReferenceModel();
    let resets = 0;
    const cur = (): PlatformSurface => (resets % 2 === 1 ? first : later).platform;
    const model: Model = {
      describe: () => first.describe(),
      async reset(c) {
        resets++;
        await (resets % 2 === 1 ? first : later).reset(c);
      },
      platform: {
        writeGuest: (g, b) => cur().writeGuest(g, b),
        readGuest: (g, l) => cur().readGuest(g, l),
        writeReg: (o, v, w) => cur().writeReg(o, v, w),
        readReg: (o, w) => cur().readReg(o, w),
        dma: (r) => cur().dma(r),
        hostView: () => (cur().hostView as NonNullable<PlatformSurface["hostView"]>)(),
      },
      host: first.host as NonNullable<Model["host"]>,
      async close() {
        await first.close();
        await later.close();
      },
    };
    try {
      const r = await runAgainst(stage2Sharing, { runs: 20, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/second VM: host device 1 reached/);
    } finally {
      await model.close();
    }
  }, 300_000);
});
