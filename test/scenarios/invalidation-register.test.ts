/**
 * Register-based invalidation (CCMD, IVA + IOTLB_REG) with the queue off in legacy mode, observed
 * with DMAs, and its refusal (actual granularity 0, nothing dropped) while queued invalidation is
 * enabled or in scalable mode [VTD-REG-13] [VTD-REG-14] [VTD-CACHE-5] [VTD-CACHE-6].
 */
import { describe, expect, it } from "vitest";
import type { GuestDriver } from "../../src/driver/driver.ts";
import { firstStageEntry, legacyTranslate, scalableContext } from "../../src/driver/entries.ts";
import {
  type ContextRequest,
  type IotlbRequest,
  invalidateContextByRegister,
  invalidateIotlbByRegister,
} from "../../src/driver/register-invalidation.ts";
import { boot, CACHE_SETTINGS, expectedAfter, LEGACY_ONLY, observe, type Probe, SID } from "./fixtures.ts";

const IOVA = 0x4000_0000n;

/**
 * SID.A (DID 1) maps IOVA and IOVA + 4 KiB, SID.B (DID 2) maps IOVA; each is read once. `change`
 * "leaves" remaps them in place; "contexts" moves both devices to new DIDs (9, 10) with new tables.
 */
async function world(d: GuestDriver, change: "leaves" | "contexts", queue = false) {
  const rt = await d.newRootTable("legacy");
  const pages = [];
  for (let i = 0; i < 6; i++) pages.push(await d.newDataPage(200 + i));
  const [a0o, a0n, a1o, a1n, b0o, b0n] = pages as [number, number, number, number, number, number];
  const probes: Probe[] = [
    { name: "a0", sid: SID.A, iova: IOVA, old: a0o, fresh: a0n },
    { name: "a1", sid: SID.A, iova: IOVA + 0x1000n, old: a1o, fresh: a1n },
    { name: "b0", sid: SID.B, iova: IOVA, old: b0o, fresh: b0n },
  ];
  const rw = { read: true, write: true };
  const tables = async (which: "old" | "fresh") => {
    const ta = await d.newPageTable("second", 4);
    const tb = await d.newPageTable("second", 4);
    for (const p of probes) await (p.sid === SID.A ? ta : tb).map(p.iova, p[which], "4K", rw);
    return { ta, tb };
  };
  const { ta, tb } = await tables("old");
  await rt.setLegacyContext(SID.A, legacyTranslate(1, ta.root, 4));
  await rt.setLegacyContext(SID.B, legacyTranslate(2, tb.root, 4));
  if (queue) await d.setupQueue();
  await d.enable(rt);
  expect(Object.values(await observe(d, probes)).every((v) => v === "old")).toBe(true);
  if (change === "leaves") {
    for (const p of probes) await (p.sid === SID.A ? ta : tb).map(p.iova, p.fresh, "4K", rw);
  } else {
    const fresh = await tables("fresh");
    await rt.setLegacyContext(SID.A, legacyTranslate(9, fresh.ta.root, 4));
    await rt.setLegacyContext(SID.B, legacyTranslate(10, fresh.tb.root, 4));
  }
  return probes;
}

describe.each(CACHE_SETTINGS)("register-based invalidation in legacy mode ($name)", ({ options, cached }) => {
  async function iotlb(r: IotlbRequest, dropped: string[], iaig: number) {
    const { d } = await boot(LEGACY_ONLY, options);
    const probes = await world(d, "leaves");
    expect(await invalidateIotlbByRegister(d.platform, d.caps.iotlbRegOffset, r)).toBe(iaig);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, dropped, cached));
  }

  async function context(r: ContextRequest, dropped: string[], caig: number) {
    const { d } = await boot(LEGACY_ONLY, options);
    const probes = await world(d, "contexts");
    expect(await invalidateContextByRegister(d.platform, r)).toBe(caig);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, dropped, cached));
  }

  it("[VTD-REG-14] [VTD-CACHE-6] IOTLB_REG global: IAIG 01b, every translation dropped", () =>
    iotlb({ granularity: "global" }, ["a0", "a1", "b0"], 1));

  it("[VTD-REG-14] [VTD-CACHE-6] IOTLB_REG domain-selective: IAIG 10b, DID 1 only", () =>
    iotlb({ granularity: "domain", did: 1 }, ["a0", "a1"], 2));

  it("[VTD-REG-14] [VTD-CACHE-9] IOTLB_REG page-selective with IVA: IAIG 11b, AM 0 one page", () =>
    iotlb({ granularity: "page", did: 1, addr: IOVA, am: 0 }, ["a0"], 3));

  it("[VTD-REG-14] [VTD-CACHE-9] IOTLB_REG page-selective: AM 1 from an unaligned address, with IH, DR and DW", () =>
    iotlb(
      { granularity: "page", did: 1, addr: IOVA + 0x1000n, am: 1, ih: true, dr: true, dw: true },
      ["a0", "a1"],
      3,
    ));

  it("[VTD-REG-14] an address mask above CAP.MAMV is refused: IAIG 00b, nothing dropped", () =>
    iotlb({ granularity: "page", did: 1, addr: 0n, am: 19 }, [], 0));

  it("[VTD-REG-13] [VTD-CACHE-5] CCMD global: CAIG 01b, every context entry dropped", () =>
    context({ granularity: "global" }, ["a0", "a1", "b0"], 1));

  it("[VTD-REG-13] [VTD-CACHE-5] CCMD domain-selective: CAIG 10b, DID 2 only", () =>
    context({ granularity: "domain", did: 2 }, ["b0"], 2));

  it("[VTD-REG-13] [VTD-CACHE-5] CCMD device-selective: CAIG 11b, SID and DID must match", () =>
    context({ granularity: "device", did: 1, sid: SID.A }, ["a0", "a1"], 3));

  it("[VTD-REG-13] [VTD-CACHE-5] CCMD device-selective with FM 3 covers the other functions of the device only", () =>
    context({ granularity: "device", did: 1, sid: SID.A + 7, fm: 3 }, ["a0", "a1"], 3));

  it("[VTD-REG-13] CCMD with CIRG 00b is refused: CAIG 00b, nothing dropped", async () => {
    const { d } = await boot(LEGACY_ONLY, options);
    const probes = await world(d, "contexts");
    await d.platform.writeReg(0x28, 1n << 63n, 8);
    expect(await d.platform.readReg(0x28, 8)).toBe(0n);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
  });

  it("[VTD-REG-13] [VTD-REG-14] refused while queued invalidation is enabled: CAIG = IAIG = 00b, nothing dropped", async () => {
    const { d } = await boot(LEGACY_ONLY, options);
    const probes = await world(d, "leaves", true);
    expect(
      await invalidateIotlbByRegister(d.platform, d.caps.iotlbRegOffset, { granularity: "global" }),
    ).toBe(0);
    expect(await invalidateContextByRegister(d.platform, { granularity: "global" })).toBe(0);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
  });
});

describe.each(CACHE_SETTINGS)(
  "register-based invalidation in scalable mode ($name)",
  ({ options, cached }) => {
    it("[VTD-REG-13] [VTD-REG-14] refused when the latched TTM is scalable, even with the queue off", async () => {
      const { d } = await boot({}, options);
      const rt = await d.newRootTable("scalable");
      const pasids = await d.newPasidTables(0);
      const fs = await d.newPageTable("first", 4);
      const old = await d.newDataPage(1);
      const fresh = await d.newDataPage(2);
      await fs.map(IOVA, old, "4K", { write: true, user: true });
      await pasids.setEntry(0, firstStageEntry(d.caps, { did: 1, fsptptr: fs.root, levels: 4 }));
      await rt.setScalableContext(SID.A, scalableContext(pasids));
      await d.enable(rt); // ESRTPS: no queue needed
      const probes: Probe[] = [{ name: "f0", sid: SID.A, iova: IOVA, old, fresh }];
      expect(await observe(d, probes)).toEqual({ f0: "old" });
      await fs.map(IOVA, fresh, "4K", { write: true, user: true });
      expect(
        await invalidateIotlbByRegister(d.platform, d.caps.iotlbRegOffset, { granularity: "global" }),
      ).toBe(0);
      expect(await invalidateContextByRegister(d.platform, { granularity: "global" })).toBe(0);
      expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
    });
  },
);
