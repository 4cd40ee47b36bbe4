/**
 * IOTLB invalidation (descriptor type 2) through the queue, observed with DMAs: the guest remaps
 * leaves, then one invalidation and its wait descriptor; the translations it covers show the new
 * page, the others still show the old one while caches are on, and nothing is ever stale with every
 * cache off [VTD-CACHE-3] [VTD-CACHE-6] [VTD-CACHE-9] [VTD-QI-14].
 */
import { describe, expect, it } from "vitest";
import type { GuestDriver } from "../../src/driver/driver.ts";
import {
  firstStageEntry,
  legacyTranslate,
  scalableContext,
  secondStageEntry,
} from "../../src/driver/entries.ts";
import * as inv from "../../src/driver/invalidations.ts";
import type { PageTable } from "../../src/driver/page-table.ts";
import type { Descriptor } from "../../src/spec/descriptor.ts";
import { boot, CACHE_SETTINGS, expectedAfter, LEGACY_ONLY, observe, type Probe, SID } from "./fixtures.ts";

const IOVA = 0x4000_0000n;
const BIG = 0x8000_0000n;
const BIG_OFFSET = 0x5000;

/** A 2 MiB target whose page at BIG_OFFSET carries a fingerprint. */
async function bigTarget(d: GuestDriver, tag: number): Promise<{ base: number; probe: number }> {
  const base = d.allocData("2M");
  await d.fillData(base + BIG_OFFSET, 4096, tag);
  return { base, probe: base + BIG_OFFSET };
}

/** Map every probe's IOVA to its old page in `table` (4 KiB), remembering how to remap it. */
async function mapProbes(
  table: PageTable,
  probes: Probe[],
  perms: Parameters<PageTable["map"]>[3],
): Promise<() => Promise<void>> {
  for (const p of probes) await table.map(p.iova, p.old, "4K", perms);
  return async () => {
    for (const p of probes) await table.map(p.iova, p.fresh, "4K", perms, { replace: true });
  };
}

let tag = 100;
async function pagePair(d: GuestDriver): Promise<{ old: number; fresh: number }> {
  return { old: await d.newDataPage(tag++), fresh: await d.newDataPage(tag++) };
}

/**
 * Legacy mode: SID.A (DID 1) maps IOVA + 0..3 pages, IOVA + 2 MiB and a 2 MiB page at BIG;
 * SID.B (DID 2) maps IOVA. All are read once (cached), then remapped in memory.
 */
async function legacyWorld(d: GuestDriver) {
  const rt = await d.newRootTable("legacy");
  const t1 = await d.newPageTable("second", 4);
  const t2 = await d.newPageTable("second", 4);
  const a: Probe[] = [];
  for (const [name, off] of [
    ["a0", 0n],
    ["a1", 0x1000n],
    ["a2", 0x2000n],
    ["a3", 0x3000n],
    ["aFar", 0x20_0000n],
  ] as const)
    a.push({ name, sid: SID.A, iova: IOVA + off, ...(await pagePair(d)) });
  const b: Probe[] = [{ name: "b0", sid: SID.B, iova: IOVA, ...(await pagePair(d)) }];
  const rw = { read: true, write: true };
  const remapA = await mapProbes(t1, a, rw);
  const remapB = await mapProbes(t2, b, rw);
  const oldBig = await bigTarget(d, tag++);
  const newBig = await bigTarget(d, tag++);
  await t1.map(BIG, oldBig.base, "2M", rw);
  const big: Probe = {
    name: "a2M",
    sid: SID.A,
    iova: BIG + BigInt(BIG_OFFSET),
    old: oldBig.probe,
    fresh: newBig.probe,
  };
  await rt.setLegacyContext(SID.A, legacyTranslate(1, t1.root, 4));
  await rt.setLegacyContext(SID.B, legacyTranslate(2, t2.root, 4));
  await d.setupQueue();
  await d.enable(rt);
  const probes = [...a, big, ...b];
  expect(Object.values(await observe(d, probes)).every((v) => v === "old")).toBe(true);
  await remapA();
  await remapB();
  await t1.map(BIG, newBig.base, "2M", rw);
  return { probes, t1 };
}

describe.each(CACHE_SETTINGS)("IOTLB invalidation in legacy mode ($name)", ({ options, cached }) => {
  async function run(descs: Descriptor[], dropped: string[]) {
    const { d } = await boot(LEGACY_ONLY, options);
    const { probes } = await legacyWorld(d);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
    await d.invalidate(descs);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, dropped, cached));
  }

  const allA = ["a0", "a1", "a2", "a3", "aFar", "a2M"];

  it("[VTD-CACHE-6] global drops every domain's translations", () =>
    run([inv.iotlbGlobal()], [...allA, "b0"]));

  it("[VTD-CACHE-6] domain-selective drops DID 1 only; DID 2 stays stale", () =>
    run([inv.iotlbDomain(1)], allA));

  it("[VTD-CACHE-6] domain-selective for a DID nothing uses drops nothing", () =>
    run([inv.iotlbDomain(3)], []));

  it("[VTD-CACHE-6] [VTD-CACHE-9] page-selective AM 0 drops one page of one domain", () =>
    run([inv.iotlbPage(1, IOVA, 0)], ["a0"]));

  it("[VTD-CACHE-9] page-selective AM 1 at an unaligned address covers the aligned pair", () =>
    run([inv.iotlbPage(1, IOVA + 0x1000n, 1)], ["a0", "a1"]));

  it("[VTD-CACHE-9] page-selective AM 2 covers four pages and not the next 2 MiB", () =>
    run([inv.iotlbPage(1, IOVA, 2)], ["a0", "a1", "a2", "a3"]));

  it("[VTD-CACHE-9] page-selective AM 9 covers the whole 2 MiB region, including aligned-down low pages", () =>
    run([inv.iotlbPage(1, IOVA + 0x3000n, 9)], ["a0", "a1", "a2", "a3"]));

  it("[VTD-CACHE-9] a 4 KiB invalidation inside a cached 2 MiB page drops that page", () =>
    run([inv.iotlbPage(1, BIG + 0x1f_f000n, 0)], ["a2M"]));

  it("[VTD-CACHE-6] page-selective in DID 2 leaves DID 1's entry at the same address", () =>
    run([inv.iotlbPage(2, IOVA, 0)], ["b0"]));

  it("[VTD-CACHE-6] [VTD-QI-7] IH and the drain hints do not change which leaves are dropped", () =>
    run([inv.iotlbPage(1, IOVA, 1, true, { dr: true, dw: true })], ["a0", "a1"]));

  it("[VTD-CACHE-5] context-cache invalidations leave the IOTLB alone", () =>
    run([inv.contextGlobal(), inv.contextDomain(1), inv.contextDevice(1, SID.A)], []));
});

describe.each(CACHE_SETTINGS)(
  "invalidation hint and paging-structure caches ($name)",
  ({ options, cached }) => {
    /**
     * SID.A (DID 1) maps IOVA through a PDE; the guest repoints that PDE to a new page table whose
     * leaf maps the new page, then invalidates IOVA page-selectively: with IH = 1 the cached PDE
     * survives (the walk still uses the old table) [VTD-CACHE-12]; with IH = 0 it goes.
     */
    async function repointPde(ih: boolean) {
      const { d } = await boot(LEGACY_ONLY, options);
      const rt = await d.newRootTable("legacy");
      const t = await d.newPageTable("second", 4);
      const { old, fresh } = await pagePair(d);
      await t.map(IOVA, old, "4K", { read: true, write: true });
      await rt.setLegacyContext(SID.A, legacyTranslate(1, t.root, 4));
      await d.setupQueue();
      await d.enable(rt);
      const probes: Probe[] = [{ name: "a0", sid: SID.A, iova: IOVA, old, fresh }];
      expect(await observe(d, probes)).toEqual({ a0: "old" });
      const alt = await d.newPageTable("second", 4);
      await alt.map(IOVA, fresh, "4K", { read: true, write: true });
      const pte = (await alt.walk(IOVA)).find((step) => step.level === 1);
      await t.setEntry(IOVA, 2, BigInt((pte?.addr ?? 0) & ~0xfff) | 3n);
      await d.invalidate([inv.iotlbPage(1, IOVA, 0, ih)]);
      return observe(d, probes);
    }

    it("[VTD-CACHE-12] [VTD-CACHE-6] IH = 1 keeps the second-stage paging-structure cache entries", async () => {
      expect(await repointPde(true)).toEqual({ a0: cached ? "old" : "new" });
    });

    it("[VTD-CACHE-12] [VTD-CACHE-6] IH = 0 drops them with the leaf", async () => {
      expect(await repointPde(false)).toEqual({ a0: "new" });
    });
  },
);

/**
 * Scalable mode: SID.A without PASID (RID_PASID 0) through a second stage, DID 1 ("s*"); PASID 5
 * through a first stage, also DID 1 ("f*"); PASID 6 through another first stage, DID 2 ("g0").
 */
async function scalableWorld(d: GuestDriver) {
  const rt = await d.newRootTable("scalable");
  const pasids = await d.newPasidTables(0);
  const ss = await d.newPageTable("second", 4);
  const fs5 = await d.newPageTable("first", 4);
  const fs6 = await d.newPageTable("first", 4);
  const mk = async (name: string, pasid: number | undefined, iova: bigint): Promise<Probe> => ({
    name,
    sid: SID.A,
    iova,
    ...(pasid === undefined ? {} : { pasid }),
    ...(await pagePair(d)),
  });
  const s = [await mk("s0", undefined, IOVA), await mk("s1", undefined, IOVA + 0x1000n)];
  const f = [
    await mk("f0", 5, IOVA),
    await mk("f1", 5, IOVA + 0x1000n),
    await mk("fFar", 5, IOVA + 0x4000_0000n),
  ];
  const g = [await mk("g0", 6, IOVA)];
  const remaps = [
    await mapProbes(ss, s, { read: true, write: true }),
    await mapProbes(fs5, f, { write: true, user: true }),
    await mapProbes(fs6, g, { write: true, user: true }),
  ];
  await pasids.setEntry(0, secondStageEntry(d.caps, { did: 1, ssptptr: ss.root, levels: 4 }));
  await pasids.setEntry(5, firstStageEntry(d.caps, { did: 1, fsptptr: fs5.root, levels: 4 }));
  await pasids.setEntry(6, firstStageEntry(d.caps, { did: 2, fsptptr: fs6.root, levels: 4 }));
  await rt.setScalableContext(SID.A, scalableContext(pasids));
  await d.setupQueue();
  await d.enable(rt);
  const probes = [...s, ...f, ...g];
  expect(Object.values(await observe(d, probes)).every((v) => v === "old")).toBe(true);
  for (const remap of remaps) await remap();
  return { probes };
}

describe.each(CACHE_SETTINGS)("IOTLB invalidation in scalable mode ($name)", ({ options, cached }) => {
  async function run(descs: Descriptor[], dropped: string[]) {
    const { d } = await boot({}, options);
    const { probes } = await scalableWorld(d);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
    await d.invalidate(descs);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, dropped, cached));
  }

  it("[VTD-CACHE-6] global drops every kind and domain", () =>
    run([inv.iotlbGlobal()], ["s0", "s1", "f0", "f1", "fFar", "g0"]));

  it("[VTD-CACHE-6] domain-selective drops second- and first-stage entries of the DID, every PASID", () =>
    run([inv.iotlbDomain(1)], ["s0", "s1", "f0", "f1", "fFar"]));

  it("[VTD-CACHE-6] page-selective drops second-stage entries by address but every first-stage entry of the DID", () =>
    run([inv.iotlbPage(1, IOVA, 0)], ["s0", "f0", "f1", "fFar"]));

  it("[VTD-CACHE-6] page-selective in DID 2 drops all of DID 2's first-stage entries and nothing of DID 1", () =>
    run([inv.iotlbPage(2, 0x7000_0000n, 0)], ["g0"]));
});

describe.each(CACHE_SETTINGS)("PASID-based IOTLB invalidation ($name)", ({ options, cached }) => {
  async function run(descs: Descriptor[], dropped: string[]) {
    const { d } = await boot({}, options);
    const { probes } = await scalableWorld(d);
    await d.invalidate(descs);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, dropped, cached));
  }

  it("[VTD-CACHE-7] PASID-selective drops the PASID's first-stage entries of the DID only", () =>
    run([inv.pasidIotlbPasid(1, 5)], ["f0", "f1", "fFar"]));

  it("[VTD-CACHE-7] PASID-selective also drops second-stage entries of that PASID (RID_PASID 0)", () =>
    run([inv.pasidIotlbPasid(1, 0)], ["s0", "s1"]));

  it("[VTD-CACHE-7] PASID-selective with another DID drops nothing", () =>
    run([inv.pasidIotlbPasid(2, 5)], []));

  it("[VTD-CACHE-7] [VTD-CACHE-9] page-selective AM 0 drops one first-stage page", () =>
    run([inv.pasidIotlbPage(1, 5, IOVA, 0)], ["f0"]));

  it("[VTD-CACHE-7] [VTD-CACHE-9] page-selective AM 1 at an unaligned address drops the aligned pair", () =>
    run([inv.pasidIotlbPage(1, 5, IOVA + 0x1000n, 1)], ["f0", "f1"]));

  it("[VTD-CACHE-7] [VTD-QI-9] page-selective accepts an AM above MAMV and covers that range", () =>
    run([inv.pasidIotlbPage(1, 5, 0n, 31)], ["f0", "f1", "fFar"]));

  it("[VTD-CACHE-7] page-selective never covers second-stage-only entries", () =>
    run([inv.pasidIotlbPage(1, 0, IOVA, 0), inv.pasidIotlbPage(1, 0, IOVA + 0x1000n, 0)], []));

  it("[VTD-CACHE-8] [VTD-CACHE-7] PASID-cache invalidations leave the IOTLB alone", () =>
    run([inv.pasidCacheGlobal(), inv.pasidCacheDomain(1), inv.pasidCachePasid(1, 5)], []));
});

describe.each(CACHE_SETTINGS)("first-stage paging-structure caches ($name)", ({ options, cached }) => {
  /**
   * PASID 5 (DID 1) maps IOVA through a first-stage PDE that the guest repoints to another page
   * table mapping the new page; then one invalidation of IOVA [VTD-CACHE-12].
   */
  async function repoint(desc: Descriptor) {
    const { d } = await boot({}, options);
    const rt = await d.newRootTable("scalable");
    const pasids = await d.newPasidTables(0);
    const fs = await d.newPageTable("first", 4);
    const { old, fresh } = await pagePair(d);
    await fs.map(IOVA, old, "4K", { write: true, user: true });
    await pasids.setEntry(5, firstStageEntry(d.caps, { did: 1, fsptptr: fs.root, levels: 4 }));
    await rt.setScalableContext(SID.A, scalableContext(pasids));
    await d.setupQueue();
    await d.enable(rt);
    const probes: Probe[] = [{ name: "f0", sid: SID.A, pasid: 5, iova: IOVA, old, fresh }];
    expect(await observe(d, probes)).toEqual({ f0: "old" });
    const alt = await d.newPageTable("first", 4);
    await alt.map(IOVA, fresh, "4K", { write: true, user: true });
    const pte = (await alt.walk(IOVA)).find((step) => step.level === 1);
    const [, , pde] = await fs.walk(IOVA);
    await fs.setEntry(IOVA, 2, ((pde?.word ?? 0n) & 0xfffn) | BigInt((pte?.addr ?? 0) & ~0xfff));
    await d.invalidate([desc]);
    return (await observe(d, probes)).f0;
  }

  it("[VTD-CACHE-12] PASID-IOTLB page-selective with IH = 1 keeps the cached PDE", async () => {
    expect(await repoint(inv.pasidIotlbPage(1, 5, IOVA, 0, true))).toBe(cached ? "old" : "new");
  });

  it("[VTD-CACHE-12] PASID-IOTLB page-selective with IH = 0 drops it", async () => {
    expect(await repoint(inv.pasidIotlbPage(1, 5, IOVA, 0, false))).toBe("new");
  });

  it("[VTD-CACHE-12] IOTLB page-selective drops first-stage PDEs of the DID whatever IH and address", async () => {
    expect(await repoint(inv.iotlbPage(1, 0x7000_0000n, 0, true))).toBe("new");
  });

  it("[VTD-CACHE-12] PASID-selective PASID-IOTLB drops them", async () => {
    expect(await repoint(inv.pasidIotlbPasid(1, 5))).toBe("new");
  });
});
