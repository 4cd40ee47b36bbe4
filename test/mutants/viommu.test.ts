import { describe, expect, it } from "vitest";
import { contextDevice, iotlbDomain, iotlbGlobal, iotlbPage } from "../../src/driver/index.ts";
import { DID, IOVA, legacy, onBoth, RW, reach, SID, SID2 } from "./helpers.ts";

describe("vIOMMU mutants misbehave where the reference does not", () => {
  it("[VTD-CACHE-9] [VTD-CACHE-6] psi-mask-off-by-one: AM = 1 leaves the second page stale", async () => {
    const r = await onBoth("psi-mask-off-by-one", async (model) => {
      const { drv, ss } = await legacy(model);
      const [a, b, c, d] = [
        await drv.newDataPage(1),
        await drv.newDataPage(2),
        await drv.newDataPage(3),
        await drv.newDataPage(4),
      ];
      await ss.map(IOVA, a, "4K", RW);
      await ss.map(IOVA + 0x1000n, b, "4K", RW);
      await reach(drv, SID, IOVA);
      await reach(drv, SID, IOVA + 0x1000n);
      await ss.map(IOVA, c, "4K", RW);
      await ss.map(IOVA + 0x1000n, d, "4K", RW);
      await drv.invalidate([iotlbPage(DID, IOVA, 1)]);
      return { second: await reach(drv, SID, IOVA + 0x1000n), want: d, stale: b };
    });
    expect(r.reference.second).toBe(r.reference.want);
    expect(r.mutant.second).toBe(r.mutant.stale);
  });

  it("[VTD-CACHE-6] domain-inv-did-ignored: a domain-selective invalidation of DID 7 leaves DID 7 stale", async () => {
    const r = await onBoth("domain-inv-did-ignored", async (model) => {
      const { drv, ss } = await legacy(model);
      const a = await drv.newDataPage(1);
      const b = await drv.newDataPage(2);
      await ss.map(IOVA, a, "4K", RW);
      await reach(drv, SID, IOVA);
      await ss.map(IOVA, b, "4K", RW);
      await drv.invalidate([iotlbDomain(DID)]);
      return (await reach(drv, SID, IOVA)) === b;
    });
    expect(r).toEqual({ reference: true, mutant: false });
  });

  it("[VTD-CACHE-12] domain-inv-keeps-psc: after a domain-selective invalidation the walk starts from a stale PDE", async () => {
    const r = await onBoth("domain-inv-keeps-psc", async (model) => {
      const { drv, ss } = await legacy(model);
      const a = await drv.newDataPage(1);
      await ss.map(IOVA, a, "4K", RW);
      await reach(drv, SID, IOVA);
      // The PDE becomes a 2 MiB leaf onto another block.
      const big = drv.allocData("2M");
      await drv.fillData(big, 4096, 9);
      await ss.map(IOVA, big, "2M", RW, { replace: true });
      await drv.invalidate([iotlbDomain(DID)]);
      const got = await reach(drv, SID, IOVA);
      return got === big ? "new" : got === a ? "stale" : got;
    });
    expect(r).toEqual({ reference: "new", mutant: "stale" });
  });

  it("[VTD-CACHE-5] context-dsi-ignores-fm: FM = 3 must also drop function 1's cached context entry", async () => {
    const r = await onBoth("context-dsi-ignores-fm", async (model) => {
      const { drv, ss, root } = await legacy(model);
      const a = await drv.newDataPage(1);
      await ss.map(IOVA, a, "4K", RW);
      await reach(drv, SID2, IOVA);
      await root.setLegacyContext(SID2, { present: false, tt: 0, ssptptr: 0, aw: 2, did: DID });
      await drv.invalidate([contextDevice(DID, SID, 3), iotlbGlobal()]);
      return reach(drv, SID2, IOVA);
    });
    expect(r.reference).toBe("aborted");
    expect(r.mutant).not.toBe("aborted");
  });

  it("[VTD-CACHE-1] np-cached-without-cm: with CM = 0 a context entry made present needs no invalidation", async () => {
    const r = await onBoth("np-cached-without-cm", async (model) => {
      const { drv, ss, root } = await legacy(model);
      const a = await drv.newDataPage(1);
      await ss.map(IOVA, a, "4K", RW);
      await root.setLegacyContext(SID2, { present: false, tt: 0, ssptptr: 0, aw: 2, did: DID });
      await drv.invalidate([contextDevice(DID, SID2, 0)]);
      const before = await reach(drv, SID2, IOVA);
      await root.setLegacyContext(SID2, { present: true, tt: 0, ssptptr: ss.root, aw: 2, did: DID });
      return { before, after: (await reach(drv, SID2, IOVA)) === a };
    });
    expect(r.reference).toEqual({ before: "aborted", after: true });
    expect(r.mutant).toEqual({ before: "aborted", after: false });
  });

  it("[VTD-CTX-7] fpd-own-entry-ignored: a not-present context entry with FPD = 1 records no fault", async () => {
    const r = await onBoth("fpd-own-entry-ignored", async (model) => {
      const { drv, root } = await legacy(model);
      await root.setContextRaw(SID2, [2n, 0n]); // P = 0, FPD = 1
      await drv.invalidate([contextDevice(DID, SID2, 0)]);
      const d = await reach(drv, SID2, IOVA);
      return { d, reasons: (await drv.readFaults()).faults.map((f) => f.reason) };
    });
    expect(r.reference).toEqual({ d: "aborted", reasons: [] });
    expect(r.mutant).toEqual({ d: "aborted", reasons: ["LCT_2_CONTEXT_NOT_PRESENT"] });
  });

  it("[VTD-SS-2] large-page-offset: an address 12 KiB into a 2 MiB page reaches its own 4 KiB page", async () => {
    const r = await onBoth("large-page-offset", async (model) => {
      const { drv, ss } = await legacy(model);
      const big = drv.allocData("2M");
      await drv.fillData(big, 2 * 1024 * 1024, 5);
      await ss.map(IOVA, big, "2M", RW);
      return (await reach(drv, SID, IOVA + 0x3010n)) === big + 0x3000;
    });
    expect(r).toEqual({ reference: true, mutant: false });
  });

  it("[VTD-SS-3] write-leaf-only: a read-only PDE makes the page read-only even with W in the leaf", async () => {
    const r = await onBoth("write-leaf-only", async (model) => {
      const { drv, root } = await legacy(model);
      const ss = await drv.newPageTable("second", 4, { read: true, write: false });
      await root.setLegacyContext(SID, { present: true, tt: 0, ssptptr: ss.root, aw: 2, did: 3 });
      await drv.invalidate([contextDevice(3, SID, 0), iotlbGlobal()]);
      await ss.map(IOVA, await drv.newDataPage(1), "4K", RW);
      const w = await model.platform.dma({
        sid: SID,
        iova: IOVA,
        len: 4,
        write: true,
        data: new Uint8Array(4),
      });
      const read = await reach(drv, SID, IOVA);
      return { write: w.status, read: read !== "aborted" };
    });
    expect(r.reference).toEqual({ write: "aborted", read: true });
    expect(r.mutant).toEqual({ write: "ok", read: true });
  });

  it("[VTD-SS-4] haw-unchecked: an entry pointing beyond HAW is a reserved-bit fault, not a silent abort", async () => {
    const r = await onBoth("haw-unchecked", async (model) => {
      const { drv, ss } = await legacy(model, { hawBits: 40 });
      await ss.map(IOVA, 1n << 41n, "4K", RW);
      const d = await reach(drv, SID, IOVA);
      const { faults } = await drv.readFaults();
      return { d, reasons: faults.map((f) => f.reason) };
    });
    expect(r.reference).toEqual({ d: "aborted", reasons: ["LSS_2_SS_RESERVED"] });
    expect(r.mutant).toEqual({ d: "aborted", reasons: [] });
  });

  it("[VTD-QI-7] wait-before-invalidation: after the wait's status write the invalidation has taken effect", async () => {
    const r = await onBoth("wait-before-invalidation", async (model) => {
      const { drv, ss } = await legacy(model);
      const a = await drv.newDataPage(1);
      const b = await drv.newDataPage(2);
      await ss.map(IOVA, a, "4K", RW);
      await reach(drv, SID, IOVA);
      await ss.map(IOVA, b, "4K", RW);
      await drv.invalidate([iotlbDomain(DID)]);
      const got = await reach(drv, SID, IOVA);
      return got === b ? "new" : got === a ? "stale" : got;
    });
    expect(r).toEqual({ reference: "new", mutant: "stale" });
  });
});
