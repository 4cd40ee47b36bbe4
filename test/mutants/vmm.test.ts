import { describe, expect, it } from "vitest";
import { pasidCacheGlobal, pasidCachePasid, pasidIotlbPasid } from "../../src/driver/index.ts";
import { onBoth, reach } from "./helpers.ts";
import { D1, D2, fsMapping, get, hostIommu, nestingConfig, PIOVA, scalableOn } from "./passthrough.ts";

describe("VMM mutants misbehave where the reference does not", () => {
  it("[VMM-BIND-7] pasid-global-no-unbind: a cleared entry and a global PASID-cache invalidation block the PASID", async () => {
    const r = await onBoth("pasid-global-no-unbind", async (model) => {
      const { drv, pasids } = await scalableOn(model, nestingConfig());
      const a = await fsMapping(drv, 1);
      await get(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
      await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
      const before = await reach(drv, D1, PIOVA, 1);
      await get(pasids, D1).clearEntry(1);
      await drv.invalidate([pasidCacheGlobal(), pasidIotlbPasid(5, 1)]);
      return { before: before === a.page, after: await reach(drv, D1, PIOVA, 1) };
    });
    expect(r.reference).toEqual({ before: true, after: "aborted" });
    expect(r.mutant.before).toBe(true);
    expect(r.mutant.after).not.toBe("aborted");
  });

  it("[VMM-BIND-10] pasid-psi-existing-only: a new entry is bound by its own PASID-selective invalidation", async () => {
    const r = await onBoth("pasid-psi-existing-only", async (model) => {
      const { drv, pasids } = await scalableOn(model, nestingConfig());
      const a = await fsMapping(drv, 1);
      await get(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
      await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
      return (await reach(drv, D1, PIOVA, 1)) === a.page;
    });
    expect(r.reference).toBe(true);
    expect(r.mutant).toBe(false);
  });

  it("[VMM-BIND-10] pasid-psi-binds-absent: a device without the PASID entry stays blocked", async () => {
    const r = await onBoth("pasid-psi-binds-absent", async (model) => {
      const { drv, pasids } = await scalableOn(model, nestingConfig());
      const a = await fsMapping(drv, 1);
      await get(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
      await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
      return { d1: (await reach(drv, D1, PIOVA, 1)) === a.page, d2: await reach(drv, D2, PIOVA, 1) };
    });
    expect(r.reference).toEqual({ d1: true, d2: "aborted" });
    expect(r.mutant.d1).toBe(true);
    expect(r.mutant.d2).not.toBe("aborted");
  });

  it("[VMM-INV-1] pasid-iotlb-not-forwarded: a PASID-selective PASID-IOTLB invalidation flushes the host", async () => {
    const r = await onBoth("pasid-iotlb-not-forwarded", async (model) => {
      const { drv, pasids } = await scalableOn(model, nestingConfig());
      const a = await fsMapping(drv, 1);
      const b = await drv.newDataPage(2);
      await get(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
      await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
      await reach(drv, D1, PIOVA, 1);
      await a.fs.map(PIOVA, b, "4K", { write: true, user: true }, { replace: true });
      await drv.invalidate([pasidIotlbPasid(5, 1)]);
      const got = await reach(drv, D1, PIOVA, 1);
      return got === b ? "new" : got === a.page ? "stale" : got;
    });
    expect(r).toEqual({ reference: "new", mutant: "stale" });
  });
});

describe("VMM compatibility-check mutants", () => {
  const refused = async (
    model: import("../../src/contract/types.ts").Model,
    config: import("../../src/contract/types.ts").PlatformConfig,
  ) =>
    model.reset(config).then(
      () => "accepted",
      (e: Error) => e.message,
    );

  it("[VMM-COMPAT-1] vmm-host-width-unchecked: a 48-bit guest over a 39-bit host is refused", async () => {
    const r = await onBoth("vmm-host-width-unchecked", (model) =>
      refused(model, nestingConfig({ hostIommus: [hostIommu({ awBits: 39 })] })),
    );
    expect(r.reference).toMatch(/aw-bits 48 > host aw-bits 39/);
    expect(r.mutant).toBe("accepted");
  });

  it("[VMM-COMPAT-5] vmm-fs1gp-unchecked: FS1GP offered over a host without it is refused", async () => {
    const r = await onBoth("vmm-fs1gp-unchecked", (model) =>
      refused(model, nestingConfig({ hostIommus: [hostIommu({ fs1gp: false })] }, { fs1gp: true })),
    );
    expect(r.reference).toMatch(/FS1GP/);
    expect(r.mutant).toBe("accepted");
  });
});
