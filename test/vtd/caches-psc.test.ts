/**
 * Paging-structure caches [VTD-CACHE-11] and their invalidation [VTD-CACHE-12]: hand-built tables,
 * a guest that rewires them without invalidating, and the invalidations that must (or must not) make
 * the new tables visible.
 */
import { describe, expect, it } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { Model, PlatformConfig } from "../../src/contract/types.ts";
import { legacyViommu } from "../../src/contract/viommu-options.ts";
import { readU64, writeU64 } from "../../src/memory/physical-memory.ts";
import { encodeLegacyContext } from "../../src/spec/context-entry.ts";
import { encodeFsEntry, encodeSsEntry } from "../../src/spec/paging-entry.ts";
import { PGTT } from "../../src/spec/pasid-entry.ts";
import { IOTLB_OFFSET, IVA_OFFSET } from "../../src/spec/register-offsets.ts";
import { encodeLegacyRoot } from "../../src/spec/root-entry.ts";
import { wordsToBytes } from "../../src/spec/word.ts";
import { type CachedPagingStructure, type PscStage, prefixOf, VtdCaches } from "../../src/vtd/caches.ts";
import { platform, scalableDevice } from "./setup.ts";

const GCMD = 0x18;
const RTADDR = 0x20;

function config(): PlatformConfig {
  return {
    viommu: legacyViommu({ awBits: 39, hawBits: 39 }),
    devices: [
      { sid: 0x10, kind: "emulated" },
      { sid: 0x18, kind: "emulated" },
    ],
    memory: { size: 1n << 26n, regions: [{ gpa: 0n, size: 1n << 26n, readOnly: false }] },
    hostIommus: [],
  };
}

// Guest layout (legacy mode, 3-level second stage): SID 0x10 in DID 7 and SID 0x18 in DID 8 share
// the tables PDPT 0x3000 -> PD 0x4000 -> PT 0x6000, which maps IOVA 0x5000 to page A.
const PAGE_A = 0x40000;
const PAGE_B = 0x50000;
const PAGE_C = 0x60000;
const rw = (addr: number) => [encodeSsEntry({ read: true, write: true, addr })];

async function legacyPlatform(options: Record<string, string>): Promise<Model> {
  const model = await createReferenceModel({ iotlb: "0", ...options });
  await model.reset(config());
  const p = model.platform;
  const write = (gpa: number, words: bigint[]) => p.writeGuest(BigInt(gpa), wordsToBytes(words));
  await write(0x1000, encodeLegacyRoot({ present: true, ctp: 0x2000 }));
  await write(
    0x2000 + 0x10 * 16,
    encodeLegacyContext({ present: true, tt: 0, ssptptr: 0x3000, aw: 1, did: 7 }),
  );
  await write(
    0x2000 + 0x18 * 16,
    encodeLegacyContext({ present: true, tt: 0, ssptptr: 0x3000, aw: 1, did: 8 }),
  );
  await write(0x3000, rw(0x4000));
  await write(0x4000, rw(0x6000));
  await write(0x6000 + 5 * 8, rw(PAGE_A));
  for (const [page, tag] of [
    [PAGE_A, 0xa],
    [PAGE_B, 0xb],
    [PAGE_C, 0xc],
  ] as const) {
    await p.writeGuest(BigInt(page), Uint8Array.of(tag));
  }
  await p.writeReg(RTADDR, 0x1000n, 8);
  await p.writeReg(GCMD, 1n << 30n, 4); // SRTP
  await p.writeReg(GCMD, 1n << 31n, 4); // TE
  return model;
}

/** Which page (by its tag byte) a one-byte DMA read of IOVA 0x5000 reaches. */
async function reach(model: Model, sid: number): Promise<number | "aborted"> {
  const r = await model.platform.dma({ sid, iova: 0x5000n, len: 1, write: false });
  return r.status === "ok" ? (r.data?.[0] ?? -1) : "aborted";
}

/** Guest rewires the PD entry to a new page table mapping IOVA 0x5000 to page B, without invalidating. */
async function rewirePde(model: Model): Promise<void> {
  const p = model.platform;
  await p.writeGuest(0x7000n + 5n * 8n, wordsToBytes(rw(PAGE_B)));
  await p.writeGuest(0x4000n, wordsToBytes(rw(0x7000)));
}

/** Register-based page-selective IOTLB invalidation (IVA_REG, IOTLB_REG) of one page. */
async function invalidatePage(model: Model, did: number, addr: bigint, ih: boolean): Promise<void> {
  await model.platform.writeReg(IVA_OFFSET, addr | (ih ? 1n << 6n : 0n), 8);
  await model.platform.writeReg(IOTLB_OFFSET, (1n << 63n) | (3n << 60n) | (BigInt(did) << 32n), 8);
}

async function invalidateDomain(model: Model, did: number): Promise<void> {
  await model.platform.writeReg(IOTLB_OFFSET, (1n << 63n) | (2n << 60n) | (BigInt(did) << 32n), 8);
}

describe("paging-structure caches through the platform surface", () => {
  it("[VTD-CACHE-11] a cached PDE is used after the guest rewires it without invalidation", async () => {
    const model = await legacyPlatform({ psc: "16" });
    expect(await reach(model, 0x10)).toBe(0xa);
    await rewirePde(model);
    expect(await reach(model, 0x10)).toBe(0xa);
  });

  it("[VTD-CACHE-4] [VTD-CACHE-11] with psc=0 the rewired tables are seen at once", async () => {
    const model = await legacyPlatform({ psc: "0" });
    expect(await reach(model, 0x10)).toBe(0xa);
    await rewirePde(model);
    expect(await reach(model, 0x10)).toBe(0xb);
  });

  it("[VTD-CACHE-11] a cached entry does not depend on the upper entry that led to it", async () => {
    const model = await legacyPlatform({ psc: "16" });
    expect(await reach(model, 0x10)).toBe(0xa);
    // Point the PDPT entry at a brand-new PD -> PT mapping IOVA 0x5000 to page C.
    const p = model.platform;
    await p.writeGuest(0x9000n + 5n * 8n, wordsToBytes(rw(PAGE_C)));
    await p.writeGuest(0x8000n, wordsToBytes(rw(0x9000)));
    await p.writeGuest(0x3000n, wordsToBytes(rw(0x8000)));
    // The PDE cached for IOVA bits 38:21 still leads to the old page table.
    expect(await reach(model, 0x10)).toBe(0xa);
    await invalidatePage(model, 7, 0x5000n, false);
    expect(await reach(model, 0x10)).toBe(0xc);
  });

  it("[VTD-CACHE-12] page-selective IOTLB invalidation keeps second-stage PSC entries with IH = 1", async () => {
    const model = await legacyPlatform({ psc: "16" });
    expect(await reach(model, 0x10)).toBe(0xa);
    await rewirePde(model);
    await invalidatePage(model, 7, 0x5000n, true);
    expect(await reach(model, 0x10)).toBe(0xa);
  });

  it("[VTD-CACHE-12] page-selective IOTLB invalidation with IH = 0 drops them", async () => {
    const model = await legacyPlatform({ psc: "16" });
    expect(await reach(model, 0x10)).toBe(0xa);
    await rewirePde(model);
    await invalidatePage(model, 7, 0x5000n, false);
    expect(await reach(model, 0x10)).toBe(0xb);
  });

  it("[VTD-CACHE-12] only when the range overlaps the entry's region", async () => {
    const model = await legacyPlatform({ psc: "16" });
    expect(await reach(model, 0x10)).toBe(0xa);
    await rewirePde(model);
    // 0x20_0000 is in the next PDE's 2 MiB region: the cached PDE for 0..2 MiB survives.
    await invalidatePage(model, 7, 0x20_0000n, false);
    expect(await reach(model, 0x10)).toBe(0xa);
  });

  it("[VTD-CACHE-12] another DID sharing the tables is unaffected until its own invalidation", async () => {
    const model = await legacyPlatform({ psc: "16" });
    expect(await reach(model, 0x10)).toBe(0xa);
    expect(await reach(model, 0x18)).toBe(0xa);
    await rewirePde(model);
    await invalidatePage(model, 7, 0x5000n, false);
    expect(await reach(model, 0x10)).toBe(0xb);
    expect(await reach(model, 0x18)).toBe(0xa);
    await invalidateDomain(model, 8);
    expect(await reach(model, 0x18)).toBe(0xb);
  });
});

// ------------------------------------------------------------------ scalable mode, first stage

const SID = 0x0108;
const PASID = 1;
const DID = 3;

/** First-stage domain (PGTT 001b) for requests without PASID through RID_PASID 1. */
function fsDevice(psc: number, over: Parameters<typeof platform>[0] = {}) {
  const p = platform(over, { context: 8, pasid: 8, iotlb: 0, psc });
  const d = scalableDevice(p, SID, { ridPasid: PASID });
  const fsRoot = p.t.alloc();
  d.setPasid(PASID, { present: true, pgtt: PGTT.FIRST_STAGE, did: DID, fsptptr: fsRoot, pwsnp: true });
  p.t.mapFs(fsRoot, 4, 0x5000n, PAGE_A);
  return { p, fsRoot };
}

/** The PDE slot for IOVA 0x5000 under a 4-level first-stage root. */
function pdeSlot(p: ReturnType<typeof platform>, fsRoot: number): number {
  let table = fsRoot;
  for (let level = 4; level > 2; level--) {
    table = Number(readU64(p.mem, p.t.slot(table, 0x5000n, level)) & 0x000f_ffff_ffff_f000n);
  }
  return p.t.slot(table, 0x5000n, 2);
}

/** Rewire the first-stage PDE to a new page table mapping 0x5000 to page B. */
function rewireFs(p: ReturnType<typeof platform>, fsRoot: number): void {
  const pt = p.t.alloc();
  writeU64(p.mem, p.t.slot(pt, 0x5000n, 1), encodeFsEntry({ addr: PAGE_B, write: true, user: true }));
  writeU64(p.mem, pdeSlot(p, fsRoot), encodeFsEntry({ addr: pt, write: true, user: true }));
}

const hpa = (r: ReturnType<ReturnType<typeof platform>["scalable"]>) => (r.ok ? r.hpa : r.fault.reason);

describe("first-stage paging-structure caches", () => {
  it("[VTD-CACHE-11] fills PML4E, PDPE and PDE entries tagged by DID and RID_PASID, A already set", () => {
    const { p, fsRoot } = fsDevice(16);
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_A);
    const psc = p.caches.entries().psc;
    expect(psc.map((e) => [e.stage, e.level, e.did, e.pasid])).toEqual([
      ["first", 4, DID, PASID],
      ["first", 3, DID, PASID],
      ["first", 2, DID, PASID],
    ]);
    expect(readU64(p.mem, pdeSlot(p, fsRoot)) & (1n << 5n)).toBe(1n << 5n);
  });

  it("[VTD-CACHE-11] a walk starts at the deepest cached entry: upper tables are not read again", () => {
    const { p, fsRoot } = fsDevice(16);
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_A);
    // Destroy the PML4 entry: a walk from the root would fault, a walk from the cached PDE does not.
    writeU64(p.mem, p.t.slot(fsRoot, 0x5000n, 4), 0n);
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_A);
    expect(p.caches.stats().psc.hits).toBe(1);
  });

  it("[VTD-CACHE-11] cached rights are cumulative: a cached read-only upper entry still denies writes", () => {
    const { p, fsRoot } = fsDevice(16);
    const pml4e = p.t.slot(fsRoot, 0x5000n, 4);
    writeU64(p.mem, pml4e, readU64(p.mem, pml4e) & ~2n); // R/W = 0 at the PML4E
    expect(p.scalable({ iova: 0x5000n }).ok).toBe(true);
    writeU64(p.mem, pml4e, readU64(p.mem, pml4e) | 2n); // writable again, but not invalidated
    expect(p.scalable({ iova: 0x5000n, write: true }).ok).toBe(false);
  });

  it("[VTD-CACHE-11] nothing is cached from a walk that faults, so a fixed entry is seen at once", () => {
    const { p, fsRoot } = fsDevice(16);
    const slot = pdeSlot(p, fsRoot);
    const pde = readU64(p.mem, slot);
    writeU64(p.mem, slot, pde & ~1n);
    expect(p.scalable({ iova: 0x5000n }).ok).toBe(false);
    expect(p.caches.entries().psc).toEqual([]);
    writeU64(p.mem, slot, pde);
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_A);
  });

  it("[VTD-CACHE-12] PASID-selective P_IOTLB drops the first-stage entries of that DID and PASID", () => {
    const { p, fsRoot } = fsDevice(16);
    p.scalable({ iova: 0x5000n });
    rewireFs(p, fsRoot);
    p.caches.invalidate(
      { kind: "pasid-iotlb", granularity: "pasid", did: DID, pasid: PASID + 1 },
      "scalable",
    );
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_A);
    p.caches.invalidate({ kind: "pasid-iotlb", granularity: "pasid", did: DID, pasid: PASID }, "scalable");
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_B);
  });

  it("[VTD-CACHE-12] page-selective P_IOTLB keeps them with IH = 1 and drops them with IH = 0", () => {
    const { p, fsRoot } = fsDevice(16);
    p.scalable({ iova: 0x5000n });
    rewireFs(p, fsRoot);
    const page = {
      kind: "pasid-iotlb",
      granularity: "page",
      did: DID,
      pasid: PASID,
      addr: 0x5000n,
      am: 0,
    } as const;
    p.caches.invalidate({ ...page, ih: true }, "scalable");
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_A);
    p.caches.invalidate({ ...page, ih: false }, "scalable");
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_B);
  });

  it("[VTD-CACHE-12] page-selective IOTLB (type 2) drops first-stage entries of the DID even with IH = 1", () => {
    const { p, fsRoot } = fsDevice(16);
    p.scalable({ iova: 0x5000n });
    rewireFs(p, fsRoot);
    p.caches.invalidate(
      { kind: "iotlb", granularity: "page", did: DID, addr: 0x4000_0000n, am: 0, ih: true },
      "scalable",
    );
    expect(hpa(p.scalable({ iova: 0x5000n }))).toBe(PAGE_B);
  });

  it("[VTD-CACHE-4] capacity: FIFO keeps only the latest fills", () => {
    const { p } = fsDevice(1);
    p.scalable({ iova: 0x5000n });
    expect(p.caches.entries().psc.map((e) => e.level)).toEqual([2]);
  });
});

// ------------------------------------------------------------------ coverage table, unit level

function entry(
  did: number,
  pasid: number,
  stage: PscStage,
  level: number,
  iova: bigint,
): CachedPagingStructure {
  const shift = 3 + 9 * level;
  const hi = Number(iova >> 32n);
  const lo = Number(iova & 0xffff_ffffn);
  return { did, pasid, stage, level, prefix: prefixOf(hi, lo, shift), shift, next: 0x1000, perms: 15 };
}

function filled(): VtdCaches {
  const c = new VtdCaches({ context: 0, pasid: 0, iotlb: 0, psc: 32 });
  c.fillPsc(entry(1, 5, "second", 2, 0x0n)); // 0 .. 2 MiB
  c.fillPsc(entry(1, 5, "second", 2, 0x40_0000n)); // 4 .. 6 MiB
  c.fillPsc(entry(1, 5, "first", 2, 0x0n));
  c.fillPsc(entry(1, 6, "first", 3, 0x0n));
  c.fillPsc(entry(2, 5, "second", 2, 0x0n));
  c.fillPsc(entry(2, 5, "first", 2, 0x0n));
  return c;
}

const left = (c: VtdCaches) =>
  c
    .entries()
    .psc.map(
      (e) =>
        `${e.did}/${e.pasid}/${e.stage}/L${e.level}/${(BigInt(e.prefix) << BigInt(e.shift)).toString(16)}`,
    );

describe("paging-structure-cache invalidation coverage", () => {
  it("[VTD-CACHE-12] IOTLB page-selective: first-stage of the DID, second-stage by range when IH = 0", () => {
    const c = filled();
    c.invalidate({ kind: "iotlb", granularity: "page", did: 1, addr: 0x1000n, am: 0, ih: false }, "scalable");
    expect(left(c)).toEqual(["1/5/second/L2/400000", "2/5/second/L2/0", "2/5/first/L2/0"]);
    const d = filled();
    d.invalidate({ kind: "iotlb", granularity: "page", did: 1, addr: 0x1000n, am: 0, ih: true }, "scalable");
    expect(left(d)).toEqual(["1/5/second/L2/0", "1/5/second/L2/400000", "2/5/second/L2/0", "2/5/first/L2/0"]);
  });

  it("[VTD-CACHE-12] [VTD-CACHE-9] an address mask widens the range over several regions", () => {
    const c = filled();
    c.invalidate({ kind: "iotlb", granularity: "page", did: 1, addr: 0x0n, am: 11, ih: false }, "legacy");
    expect(left(c)).toEqual(["2/5/second/L2/0", "2/5/first/L2/0"]);
  });

  it("[VTD-CACHE-12] IOTLB domain and global", () => {
    const c = filled();
    c.invalidate({ kind: "iotlb", granularity: "domain", did: 2 }, "scalable");
    expect(left(c)).toEqual(["1/5/second/L2/0", "1/5/second/L2/400000", "1/5/first/L2/0", "1/6/first/L3/0"]);
    c.invalidate({ kind: "iotlb", granularity: "global" }, "scalable");
    expect(left(c)).toEqual([]);
  });

  it("[VTD-CACHE-12] P_IOTLB never touches second-stage entries; page-selective by range", () => {
    const c = filled();
    c.invalidate({ kind: "pasid-iotlb", granularity: "pasid", did: 1, pasid: 5 }, "scalable");
    expect(left(c)).toEqual([
      "1/5/second/L2/0",
      "1/5/second/L2/400000",
      "1/6/first/L3/0",
      "2/5/second/L2/0",
      "2/5/first/L2/0",
    ]);
    c.invalidate(
      { kind: "pasid-iotlb", granularity: "page", did: 1, pasid: 6, addr: 0x3fff_f000n, am: 0, ih: false },
      "scalable",
    );
    expect(left(c)).toEqual(["1/5/second/L2/0", "1/5/second/L2/400000", "2/5/second/L2/0", "2/5/first/L2/0"]);
  });

  it("[VTD-CACHE-12] context and PASID-cache invalidations leave them", () => {
    const c = filled();
    c.invalidate({ kind: "context", granularity: "global" }, "scalable");
    c.invalidate({ kind: "pasid-cache", granularity: "global" }, "scalable");
    expect(left(c)).toHaveLength(6);
  });
});
