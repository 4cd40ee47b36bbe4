import { describe, expect, it } from "vitest";
import { writeU64 } from "../../src/memory/physical-memory.ts";
import { PGTT } from "../../src/spec/pasid-entry.ts";
import { type CachedTranslation, VtdCaches } from "../../src/vtd/caches.ts";
import type { IotlbKind } from "../../src/vtd/entry-views.ts";
import { platform, scalableDevice } from "./setup.ts";

function tlb(did: number, pasid: number, kind: IotlbKind, iova: bigint, pageShift = 12): CachedTranslation {
  return {
    sid: 0x108,
    did,
    pasid,
    kind,
    iova,
    pageShift,
    base: 0,
    fsW: true,
    fsU: true,
    ssR: true,
    ssW: true,
    dirty: true,
  };
}

function filled() {
  const c = new VtdCaches({ context: 8, pasid: 8, iotlb: 16 });
  c.fillIotlb(tlb(1, 5, "second-stage", 0x1000n));
  c.fillIotlb(tlb(1, 5, "first-stage", 0x9000n));
  c.fillIotlb(tlb(1, 6, "nested", 0x2000n));
  c.fillIotlb(tlb(1, 5, "second-stage", 0x20_0000n, 21));
  c.fillIotlb(tlb(2, 5, "first-stage", 0x1000n));
  c.fillPasid({ sid: 8, pasid: 5, did: 1, dirFpd: false, words: [] });
  c.fillPasid({ sid: 8, pasid: 6, did: 1, dirFpd: false, words: [] });
  c.fillPasid({ sid: 9, pasid: 5, did: 2, dirFpd: false, words: [] });
  c.fillContext({ sid: 0x108, did: 1, words: [] });
  c.fillContext({ sid: 0x10f, did: 1, words: [] });
  c.fillContext({ sid: 0x110, did: 2, words: [] });
  return c;
}

const keys = (c: VtdCaches) =>
  c.entries().iotlb.map((e) => `${e.did}/${e.pasid}/${e.kind}/${e.iova.toString(16)}`);

describe("cache invalidation", () => {
  it("[VTD-CACHE-6] IOTLB page-selective: SS entries by address, all first-stage/nested of the DID", () => {
    const c = filled();
    c.invalidate(
      { kind: "iotlb", granularity: "page", did: 1, addr: 0x20_3000n, am: 0, ih: false },
      "scalable",
    );
    expect(keys(c)).toEqual(["1/5/second-stage/1000", "2/5/first-stage/1000"]);
  });

  it("[VTD-CACHE-6] IOTLB domain and global", () => {
    const c = filled();
    c.invalidate({ kind: "iotlb", granularity: "domain", did: 1 }, "scalable");
    expect(keys(c)).toEqual(["2/5/first-stage/1000"]);
    c.invalidate({ kind: "iotlb", granularity: "global" }, "scalable");
    expect(keys(c)).toEqual([]);
    expect(c.entries().pasid).toHaveLength(3);
  });

  it("[VTD-CACHE-7] PASID-IOTLB: PASID-selective any kind; page-selective first-stage/nested only", () => {
    const c = filled();
    c.invalidate(
      { kind: "pasid-iotlb", granularity: "page", did: 1, pasid: 5, addr: 0n, am: 3, ih: false },
      "scalable",
    );
    expect(keys(c)).toContain("1/5/second-stage/1000");
    expect(keys(c)).toContain("1/5/first-stage/9000");
    c.invalidate(
      { kind: "pasid-iotlb", granularity: "page", did: 1, pasid: 5, addr: 0x8000n, am: 1, ih: true },
      "scalable",
    );
    expect(keys(c)).not.toContain("1/5/first-stage/9000");
    c.invalidate({ kind: "pasid-iotlb", granularity: "pasid", did: 1, pasid: 5 }, "scalable");
    expect(keys(c)).toEqual(["1/6/nested/2000", "2/5/first-stage/1000"]);
    expect(c.entries().pasid).toHaveLength(3);
  });

  it("[VTD-CACHE-8] PASID cache by domain, PASID and globally; IOTLB untouched", () => {
    const c = filled();
    c.invalidate({ kind: "pasid-cache", granularity: "pasid", did: 1, pasid: 6 }, "scalable");
    expect(c.entries().pasid.map((e) => e.pasid)).toEqual([5, 5]);
    c.invalidate({ kind: "pasid-cache", granularity: "domain", did: 2 }, "scalable");
    expect(c.entries().pasid).toHaveLength(1);
    c.invalidate({ kind: "pasid-cache", granularity: "global" }, "scalable");
    expect(c.entries().pasid).toHaveLength(0);
    expect(keys(c)).toHaveLength(5);
  });

  it("[VTD-CACHE-5] context: device-selective with function mask; DID ignored in scalable mode", () => {
    const c = filled();
    c.invalidate({ kind: "context", granularity: "device", did: 9, sid: 0x108, fm: 3 }, "legacy");
    expect(c.entries().context).toHaveLength(3);
    c.invalidate({ kind: "context", granularity: "device", did: 1, sid: 0x108, fm: 3 }, "legacy");
    expect(c.entries().context.map((e) => e.sid)).toEqual([0x110]);
    const d = filled();
    d.invalidate({ kind: "context", granularity: "device", did: 9, sid: 0x108, fm: 0 }, "scalable");
    expect(d.entries().context.map((e) => e.sid)).toEqual([0x10f, 0x110]);
    d.invalidate({ kind: "context", granularity: "domain", did: 9 }, "scalable");
    expect(d.entries().context).toHaveLength(0);
    expect(d.entries().pasid).toHaveLength(3);
  });

  it("[VTD-CACHE-4] capacity 0 caches nothing; FIFO evicts the oldest", () => {
    const z = new VtdCaches({ context: 0, pasid: 0, iotlb: 0 });
    z.fillIotlb(tlb(1, 1, "first-stage", 0n));
    expect(z.entries().iotlb).toHaveLength(0);
    const c = new VtdCaches({ context: 1, pasid: 1, iotlb: 2 });
    for (const a of [0x1000n, 0x2000n, 0x3000n]) c.fillIotlb(tlb(1, 1, "first-stage", a));
    expect(keys(c)).toEqual(["1/1/first-stage/2000", "1/1/first-stage/3000"]);
  });

  it("[VTD-CACHE-4] [VTD-CACHE-6] lookups never find an evicted or invalidated entry", () => {
    // Capacity 4: many of these pages share a slot of the lookup front.
    const c = new VtdCaches({ context: 4, pasid: 4, iotlb: 4 });
    const pages = [0x1000n, 0x5000n, 0x9000n, 0xd000n, 0x11000n, 0x15000n];
    const found = (page: bigint) => c.lookupIotlb(0x108, 1, 1, 0, Number(page)) !== undefined;
    for (const page of pages) {
      c.fillIotlb(tlb(1, 1, "first-stage", page));
      for (const q of pages) found(q); // populate the front with whatever is cached
    }
    expect(pages.map(found)).toEqual([false, false, true, true, true, true]);
    c.invalidate(
      { kind: "pasid-iotlb", granularity: "page", did: 1, pasid: 1, addr: 0xd000n, am: 0, ih: false },
      "scalable",
    );
    expect(pages.map(found)).toEqual([false, false, true, false, true, true]);
    c.fillIotlb(tlb(1, 1, "first-stage", 0x1000n));
    expect(pages.map(found)).toEqual([true, false, true, false, true, true]);
    c.invalidate({ kind: "iotlb", granularity: "domain", did: 1 }, "scalable");
    expect(pages.map(found)).toEqual(pages.map(() => false));
    for (const sid of [1, 5, 9, 13, 17]) c.fillContext({ sid, did: 1, words: [] });
    expect([1, 5, 9, 13, 17].map((sid) => c.lookupContext(sid) !== undefined)).toEqual([
      false,
      true,
      true,
      true,
      true,
    ]);
    c.invalidate({ kind: "context", granularity: "global" }, "legacy");
    expect([1, 5, 9, 13, 17].map((sid) => c.lookupContext(sid) !== undefined)).toEqual(Array(5).fill(false));
  });

  it("[VTD-CACHE-3] a stale cached translation is used until invalidated; a write to a read-only one re-walks", () => {
    const p = platform({}, { context: 8, pasid: 8, iotlb: 8 });
    const d = scalableDevice(p, 0x0108, { ridPasid: 1 });
    const fsRoot = p.t.alloc();
    d.setPasid(1, { present: true, pgtt: PGTT.FIRST_STAGE, did: 3, fsptptr: fsRoot, pwsnp: true });
    p.t.mapFs(fsRoot, 4, 0x1000n, 0x9000, { write: false });
    expect(p.scalable({ iova: 0x1000n })).toEqual({ ok: true, hpa: 0x9000 });
    p.t.mapFs(fsRoot, 4, 0x1000n, 0xa000, { write: true });
    expect(p.scalable({ iova: 0x1000n })).toEqual({ ok: true, hpa: 0x9000 });
    expect(p.scalable({ iova: 0x1000n, write: true })).toEqual({ ok: true, hpa: 0xa000 });
    p.t.mapFs(fsRoot, 4, 0x1000n, 0xb000);
    p.caches.invalidate(
      { kind: "pasid-iotlb", granularity: "page", did: 3, pasid: 1, addr: 0x1000n, am: 0, ih: false },
      "scalable",
    );
    expect(p.scalable({ iova: 0x1000n })).toEqual({ ok: true, hpa: 0xb000 });
    expect(p.caches.stats().iotlb.hits).toBeGreaterThan(0);
  });

  it("[VTD-CACHE-3] an IOTLB entry serves only the source-id that filled it, not another device of its domain", () => {
    const p = platform({}, { context: 8, pasid: 8, iotlb: 8 });
    const fsRoot = p.t.alloc();
    for (const sid of [0x0108, 0x0208]) {
      const d = scalableDevice(p, sid, { ridPasid: 1 });
      d.setPasid(1, { present: true, pgtt: PGTT.FIRST_STAGE, did: 3, fsptptr: fsRoot, pwsnp: true });
    }
    p.t.mapFs(fsRoot, 4, 0x1000n, 0x9000);
    expect(p.scalable({ iova: 0x1000n, sid: 0x0108 })).toEqual({ ok: true, hpa: 0x9000 });
    p.t.mapFs(fsRoot, 4, 0x1000n, 0xa000); // no invalidation: 0x0108's entry is stale
    expect(p.scalable({ iova: 0x1000n, sid: 0x0208 })).toEqual({ ok: true, hpa: 0xa000 });
    expect(p.caches.stats().iotlb.hits).toBe(0);
  });

  it("[VTD-CACHE-1] [VTD-CACHE-2] not-present entries are cached only with caching mode", () => {
    for (const cm of [false, true]) {
      const p = platform({ cachingMode: cm }, { context: 8, pasid: 8, iotlb: 8 });
      const d = scalableDevice(p, 0x0108, { ridPasid: 1 });
      writeU64(p.mem, d.ceAddr, 0n);
      p.scalable({ iova: 0n });
      expect(p.caches.entries().context).toHaveLength(cm ? 1 : 0);
    }
  });
});
