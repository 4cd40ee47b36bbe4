/**
 * Context-cache (type 1) and PASID-cache (type 7) invalidation through the queue, observed with
 * DMAs: the guest rewrites context or PASID entries to name another domain and tables; the
 * entries an invalidation covers show the new page afterwards, the others the old one while caches
 * are on; with every cache off nothing is stale [VTD-CACHE-1] [VTD-CACHE-2] [VTD-CACHE-5]
 * [VTD-CACHE-8] [VTD-QI-14]. Also: caching of not-present entries under CM = 1, and the interrupt
 * entry cache invalidation, accepted and changing nothing [VTD-CACHE-10].
 */
import { describe, expect, it } from "vitest";
import type { GuestDriver } from "../../src/driver/driver.ts";
import { firstStageEntry, legacyTranslate, scalableContext } from "../../src/driver/entries.ts";
import * as inv from "../../src/driver/invalidations.ts";
import type { Descriptor } from "../../src/spec/descriptor.ts";
import { LegacyFault as L, ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import {
  boot,
  CACHE_SETTINGS,
  expectedAfter,
  expectFault,
  LEGACY_ONLY,
  landing,
  observe,
  type Probe,
  request,
  SID,
} from "./fixtures.ts";

const IOVA = 0x4000_0000n;

/** Functions 0, 1, 2, 4 and 7 of device 1 on bus 1, and device 2 (SID.B). */
const FUNCTIONS = [0x0108, 0x0109, 0x010a, 0x010c, 0x010f] as const;
const name = (sid: number) => `0x${sid.toString(16)}`;

/** Two data pages and a table mapping IOVA to each, of the stage the mode uses. */
async function targets(d: GuestDriver, stage: "first" | "second") {
  const old = await d.newDataPage(1);
  const fresh = await d.newDataPage(2);
  const table = async (page: number) => {
    if (stage === "first") {
      const t = await d.newPageTable("first", 4);
      await t.map(IOVA, page, "4K", { write: true, user: true });
      return t;
    }
    const t = await d.newPageTable("second", 4);
    await t.map(IOVA, page, "4K", { read: true, write: true });
    return t;
  };
  return { old, fresh, tOld: await table(old), tNew: await table(fresh) };
}

/**
 * Legacy mode: the five functions use DID 1 and SID.B DID 2, all mapping IOVA to `old`; after one
 * read each, every context entry is rewritten to DID 9 (SID.B: DID 10) with tables mapping `fresh`.
 */
async function legacyContextWorld(d: GuestDriver) {
  const rt = await d.newRootTable("legacy");
  const { old, fresh, tOld, tNew } = await targets(d, "second");
  const sids = [...FUNCTIONS, SID.B];
  for (const sid of sids)
    await rt.setLegacyContext(sid, legacyTranslate(sid === SID.B ? 2 : 1, tOld.root, 4));
  await d.setupQueue();
  await d.enable(rt);
  const probes: Probe[] = sids.map((sid) => ({ name: name(sid), sid, iova: IOVA, old, fresh }));
  expect(Object.values(await observe(d, probes)).every((v) => v === "old")).toBe(true);
  for (const sid of sids)
    await rt.setLegacyContext(sid, legacyTranslate(sid === SID.B ? 10 : 9, tNew.root, 4));
  return probes;
}

describe.each(CACHE_SETTINGS)("context-cache invalidation in legacy mode ($name)", ({ options, cached }) => {
  async function run(descs: Descriptor[], dropped: number[]) {
    const { d } = await boot(LEGACY_ONLY, options);
    const probes = await legacyContextWorld(d);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
    await d.invalidate(descs);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, dropped.map(name), cached));
  }

  it("[VTD-CACHE-5] global drops every device's entry", () =>
    run([inv.contextGlobal()], [...FUNCTIONS, SID.B]));

  it("[VTD-CACHE-5] domain-selective drops the entries tagged with the DID", () =>
    run([inv.contextDomain(1)], [...FUNCTIONS]));

  it("[VTD-CACHE-5] domain-selective with the new DID drops nothing (entries are tagged with what was read)", () =>
    run([inv.contextDomain(9)], []));

  it("[VTD-CACHE-5] device-selective, FM 0: one function", () =>
    run([inv.contextDevice(1, 0x0108, 0)], [0x0108]));

  it("[VTD-CACHE-5] device-selective, FM 1 ignores function bit 2", () =>
    run([inv.contextDevice(1, 0x0108, 1)], [0x0108, 0x010c]));

  it("[VTD-CACHE-5] device-selective, FM 2 ignores function bits 2:1", () =>
    run([inv.contextDevice(1, 0x0108, 2)], [0x0108, 0x010a, 0x010c]));

  it("[VTD-CACHE-5] device-selective, FM 3 ignores the whole function number, not the device", () =>
    run([inv.contextDevice(1, 0x010f, 3)], [...FUNCTIONS]));

  it("[VTD-CACHE-5] device-selective needs the entry's DID in legacy mode", () =>
    run([inv.contextDevice(2, 0x0108, 3)], []));

  it("[VTD-CACHE-6] [VTD-CACHE-5] IOTLB invalidations leave the context cache alone", () =>
    run([inv.iotlbGlobal()], []));
});

/**
 * Scalable mode: each function's context uses RID_PASID 0 (PASID 0: DID 1, tables to `old`);
 * after one read the contexts are rewritten with RID_PASID 1 (PASID 1: DID 2, tables to `fresh`).
 */
async function scalableContextWorld(d: GuestDriver) {
  const rt = await d.newRootTable("scalable");
  const pasids = await d.newPasidTables(0);
  const { old, fresh, tOld, tNew } = await targets(d, "first");
  await pasids.setEntry(0, firstStageEntry(d.caps, { did: 1, fsptptr: tOld.root, levels: 4 }));
  await pasids.setEntry(1, firstStageEntry(d.caps, { did: 2, fsptptr: tNew.root, levels: 4 }));
  const sids = [...FUNCTIONS, SID.B];
  for (const sid of sids) await rt.setScalableContext(sid, scalableContext(pasids, { ridPasid: 0 }));
  await d.setupQueue();
  await d.enable(rt);
  const probes: Probe[] = sids.map((sid) => ({ name: name(sid), sid, iova: IOVA, old, fresh }));
  expect(Object.values(await observe(d, probes)).every((v) => v === "old")).toBe(true);
  for (const sid of sids) await rt.setScalableContext(sid, scalableContext(pasids, { ridPasid: 1 }));
  return probes;
}

describe.each(CACHE_SETTINGS)(
  "context-cache invalidation in scalable mode ($name)",
  ({ options, cached }) => {
    async function run(descs: Descriptor[], dropped: number[]) {
      const { d } = await boot({}, options);
      const probes = await scalableContextWorld(d);
      expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
      await d.invalidate(descs);
      expect(await observe(d, probes)).toEqual(expectedAfter(probes, dropped.map(name), cached));
    }

    it("[VTD-CACHE-5] global drops every entry", () => run([inv.contextGlobal()], [...FUNCTIONS, SID.B]));

    it("[VTD-CACHE-5] domain-selective is processed as global (entries are untagged)", () =>
      run([inv.contextDomain(77)], [...FUNCTIONS, SID.B]));

    it("[VTD-CACHE-5] device-selective ignores the DID", () =>
      run([inv.contextDevice(999, 0x0109, 0)], [0x0109]));

    it("[VTD-CACHE-5] device-selective FM 1 covers functions 0 and 4", () =>
      run([inv.contextDevice(0, 0x010c, 1)], [0x0108, 0x010c]));

    it("[VTD-CACHE-5] [VTD-CACHE-8] PASID-cache and IOTLB invalidations leave the context cache alone", () =>
      run([inv.pasidCacheGlobal(), inv.iotlbGlobal()], []));
  },
);

/**
 * PASID-cache world: SID.A's PASIDs 5 (DID 1), 6 (DID 2) and 7 (DID 1) each map IOVA to an old
 * page; after one read each entry is rewritten to a new DID (3, 4, 5) with tables to a new page.
 */
async function pasidWorld(d: GuestDriver) {
  const rt = await d.newRootTable("scalable");
  const pasids = await d.newPasidTables(0);
  const plan = [
    { pasid: 5, did: 1, newDid: 3 },
    { pasid: 6, did: 2, newDid: 4 },
    { pasid: 7, did: 1, newDid: 5 },
  ];
  const probes: Probe[] = [];
  const rewrites: Array<() => Promise<unknown>> = [];
  for (const p of plan) {
    const { old, fresh, tOld, tNew } = await targets(d, "first");
    await pasids.setEntry(p.pasid, firstStageEntry(d.caps, { did: p.did, fsptptr: tOld.root, levels: 4 }));
    rewrites.push(() =>
      pasids.setEntry(p.pasid, firstStageEntry(d.caps, { did: p.newDid, fsptptr: tNew.root, levels: 4 })),
    );
    probes.push({ name: `p${p.pasid}`, sid: SID.A, pasid: p.pasid, iova: IOVA, old, fresh });
  }
  await rt.setScalableContext(SID.A, scalableContext(pasids));
  await d.setupQueue();
  await d.enable(rt);
  expect(Object.values(await observe(d, probes)).every((v) => v === "old")).toBe(true);
  for (const r of rewrites) await r();
  return probes;
}

describe.each(CACHE_SETTINGS)("PASID-cache invalidation ($name)", ({ options, cached }) => {
  async function run(descs: Descriptor[], dropped: string[]) {
    const { d } = await boot({}, options);
    const probes = await pasidWorld(d);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
    await d.invalidate(descs);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, dropped, cached));
  }

  it("[VTD-CACHE-8] global drops every PASID entry", () => run([inv.pasidCacheGlobal()], ["p5", "p6", "p7"]));

  it("[VTD-CACHE-8] domain-selective drops the entries cached with the DID", () =>
    run([inv.pasidCacheDomain(1)], ["p5", "p7"]));

  it("[VTD-CACHE-8] domain-selective with the new DID drops nothing", () =>
    run([inv.pasidCacheDomain(3)], []));

  it("[VTD-CACHE-8] PASID-selective needs both DID and PASID", () =>
    run([inv.pasidCachePasid(1, 5), inv.pasidCachePasid(1, 6), inv.pasidCachePasid(2, 7)], ["p5"]));

  it("[VTD-CACHE-5] [VTD-CACHE-6] [VTD-CACHE-7] context-cache and IOTLB invalidations leave the PASID cache alone", () =>
    run([inv.contextGlobal(), inv.iotlbGlobal(), inv.pasidIotlbPasid(1, 5)], []));
});

describe.each(CACHE_SETTINGS)("caching mode: not-present entries ($name)", ({ options, cached }) => {
  it("[VTD-CACHE-1] with CM = 1 a not-present context entry stays cached until a device-selective invalidation", async () => {
    const { d } = await boot({ ...LEGACY_ONLY, cachingMode: true }, options);
    const rt = await d.newRootTable("legacy");
    const { fresh, tNew } = await targets(d, "second");
    await rt.setLegacyContext(SID.A, legacyTranslate(1, tNew.root, 4));
    await d.setupQueue();
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.B, iova: IOVA, write: false }), {
      reason: L.LCT_2_CONTEXT_NOT_PRESENT,
    });
    await rt.setLegacyContext(SID.B, legacyTranslate(2, tNew.root, 4));
    expect(await landing(d, { sid: SID.B, iova: IOVA })).toBe(cached ? "aborted" : fresh);
    await d.readFaults();
    await d.invalidate([inv.contextDevice(0, SID.B)]); // not-present entries are cached with DID 0
    expect(await landing(d, { sid: SID.B, iova: IOVA })).toBe(fresh);
  });

  it("[VTD-CACHE-2] with CM = 1 a not-present PASID entry stays cached until the PASID-selective invalidation", async () => {
    const { d } = await boot({ cachingMode: true }, options);
    const rt = await d.newRootTable("scalable");
    const pasids = await d.newPasidTables(0);
    const { fresh, tNew } = await targets(d, "first");
    await rt.setScalableContext(SID.A, scalableContext(pasids));
    await d.setupQueue();
    await d.enable(rt);
    await pasids.setEntry(4, firstStageEntry(d.caps, { did: 1, fsptptr: tNew.root, levels: 4 }));
    await expectFault(d, request({ sid: SID.A, pasid: 5, iova: IOVA, write: false }), {
      reason: S.SPT_2_PASID_ENTRY_NOT_PRESENT,
    });
    await pasids.setEntry(5, firstStageEntry(d.caps, { did: 1, fsptptr: tNew.root, levels: 4 }));
    expect(await landing(d, { sid: SID.A, pasid: 5, iova: IOVA })).toBe(cached ? "aborted" : fresh);
    await d.readFaults();
    await d.invalidate(inv.afterNewPasidEntry(0, 5, true)); // cached with DID 0 while not present
    expect(await landing(d, { sid: SID.A, pasid: 5, iova: IOVA })).toBe(fresh);
  });

  it("[VTD-CACHE-1] without CM a not-present context entry is never cached", async () => {
    const { d } = await boot(LEGACY_ONLY, options);
    const rt = await d.newRootTable("legacy");
    const { fresh, tNew } = await targets(d, "second");
    await rt.setLegacyContext(SID.A, legacyTranslate(1, tNew.root, 4));
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.B, iova: IOVA, write: false }), {
      reason: L.LCT_2_CONTEXT_NOT_PRESENT,
    });
    await rt.setLegacyContext(SID.B, legacyTranslate(2, tNew.root, 4));
    expect(await landing(d, { sid: SID.B, iova: IOVA })).toBe(fresh);
  });
});

describe.each(CACHE_SETTINGS)("interrupt entry cache invalidation ($name)", ({ options, cached }) => {
  it("[VTD-CACHE-10] [VTD-QI-5] an IEC descriptor (global and index-selective) is accepted and drops nothing", async () => {
    const { d } = await boot(LEGACY_ONLY, options);
    const probes = await legacyContextWorld(d);
    await d.invalidate([
      { kind: "iec", g: false, iidx: 0, im: 0 },
      { kind: "iec", g: true, iidx: 0x20, im: 2 },
    ]);
    expect(await observe(d, probes)).toEqual(expectedAfter(probes, [], cached));
    expect((await d.readFaults()).status.iqe).toBe(false);
  });
});
