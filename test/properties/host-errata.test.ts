import { describe, expect, it } from "vitest";
import { errata772415 } from "../../properties/errata-772415.ts";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import { IOMMU_IOAS_MAP, IoasMapFlags } from "../../src/host/index.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("errata-772415 against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[HOST-ERRATA-1] [HOST-ERRATA-2] [HOST-ERRATA-3] [VMM-S2-4] [VMM-BIND-2] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(errata772415, { runs: 15, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }
});

describe("errata-772415 finds what breaks the errata rule", () => {
  it("[HOST-ERRATA-1] kills mutant:errata-ro-nest-parent", async () => {
    const model = await createMutantModel("errata-ro-nest-parent");
    try {
      const r = await runAgainst(errata772415, { runs: 40, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/read-only/);
    } finally {
      await model.close();
    }
  }, 300_000);

  it("[VMM-S2-2] [VMM-S2-4] finds a VMM that dodges the errata by mapping read-only regions writable", async () => {
    // While the platform is built (the VMM's own IOAS_MAPs), read-only maps become writable.
    let building = false;
    const model = await createReferenceModel(
      {},
      {
        host(host) {
          building = true;
          const ioctl = host.ioctl.bind(host);
          host.ioctl = (cmd, bytes, buffers) => {
            if (!building || cmd !== IOMMU_IOAS_MAP || bytes.length < 8) return ioctl(cmd, bytes, buffers);
            const copy = bytes.slice();
            const view = new DataView(copy.buffer);
            view.setUint32(4, view.getUint32(4, true) | IoasMapFlags.WRITEABLE, true);
            return ioctl(cmd, copy, buffers);
          };
        },
        platform() {
          building = false;
        },
      },
    );
    try {
      const r = await runAgainst(errata772415, { runs: 60, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/read-only region|completed, but it must be blocked/);
    } finally {
      await model.close();
    }
  }, 300_000);
});
