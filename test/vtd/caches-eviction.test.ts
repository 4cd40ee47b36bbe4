import { describe, expect, it } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import { type CachedTranslation, VtdCaches } from "../../src/vtd/caches.ts";

function tlb(iova: bigint): CachedTranslation {
  return {
    sid: 0x108,
    did: 1,
    pasid: -1,
    kind: "second-stage",
    iova,
    pageShift: 12,
    base: 0,
    fsW: true,
    fsU: true,
    ssR: true,
    ssW: true,
    dirty: true,
  };
}

/** Fills pages 0..n-1 (4 KiB apart) and returns the pages left cached. */
function pagesLeft(c: VtdCaches, n: number): number[] {
  for (let i = 0; i < n; i++) c.fillIotlb(tlb(BigInt(i) << 12n));
  return c.entries().iotlb.map((e) => Number(e.iova >> 12n));
}

describe("cache eviction [VTD-CACHE-13]", () => {
  it("FIFO by default: the oldest fill goes first", () => {
    expect(pagesLeft(new VtdCaches({ context: 4, pasid: 4, iotlb: 4 }), 10)).toEqual([6, 7, 8, 9]);
  });

  it("a chosen victim: the fill-order index the choice names goes", () => {
    const newest = (size: number) => size - 1; // LIFO: always the latest fill
    expect(pagesLeft(new VtdCaches({ context: 4, pasid: 4, iotlb: 4 }, newest), 10)).toEqual([0, 1, 2, 9]);
  });

  it("a choice outside the cache is an error, not a silent FIFO", () => {
    const c = new VtdCaches({ context: 4, pasid: 4, iotlb: 2 }, (size) => size);
    expect(() => pagesLeft(c, 3)).toThrow(/outside the cache's 2 entries/);
  });
});

describe("reference:evict=random", () => {
  it("rejects an unknown policy and a seed without random eviction", async () => {
    await expect(createReferenceModel({ evict: "lru" })).rejects.toThrow(/evict=lru is not fifo or random/);
    await expect(createReferenceModel({ seed: "3" })).rejects.toThrow(/seed= needs evict=random/);
    await expect(createReferenceModel({ evict: "random", seed: "x" })).rejects.toThrow(
      /seed=x is not an integer/,
    );
  });

  it("names the eviction in its version", async () => {
    const m = await createReferenceModel({ evict: "random" }, undefined, 5);
    expect((await m.describe()).version).toMatch(/evict=random/);
  });
});
