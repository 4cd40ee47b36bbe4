/**
 * Disagreements between the reference and the oracle that the cache-configuration runs found, each
 * reduced to its scenario and decided by the VT-d specification. Every DMA here is judged by the
 * oracle (a violation throws CaseFailed), and the reference's own outcome is checked as well.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadAdapter } from "../../src/adapters/adapter-spec.ts";
import { referenceDescription } from "../../src/adapters/reference.ts";
import { guestPlatformArb } from "../../src/arbitraries/guest-config.ts";
import { GuestCase } from "../../src/cases/guest-case.ts";
import { type DomainPlan, GuestWorld, IOVA_SLOTS } from "../../src/cases/guest-case-world.ts";
import type { PlatformConfig } from "../../src/contract/types.ts";
import { pasidCachePasid, pasidIotlbPasid } from "../../src/driver/index.ts";
import { TraceRecorder } from "../../src/trace/recorder.ts";

function config(mode: "legacy" | "scalable", cm: boolean): PlatformConfig {
  const [c] = fc.sample(guestPlatformArb(referenceDescription(), { mode }), { numRuns: 1, seed: 5 });
  const cfg = c as PlatformConfig;
  return { ...cfg, viommu: { ...cfg.viommu, cachingMode: cm, awBits: 48, passThrough: true } };
}

async function world(
  adapter: string,
  cfg: PlatformConfig,
  domains: DomainPlan[],
  attach: Array<number | undefined>,
): Promise<GuestWorld> {
  const recorder = new TraceRecorder(await loadAdapter(adapter));
  const gc = new GuestCase({
    model: recorder.model,
    check: (i) => recorder.check(i),
    note: (c) => recorder.note(c),
  });
  return GuestWorld.build(gc, cfg, { domains, attach, queued: true, premap: true });
}

async function tagOf(w: GuestWorld, dev: number, slot: number): Promise<number | string> {
  const r = await w.driver.dmaRead({ sid: w.sid(dev), iova: IOVA_SLOTS[slot] as bigint, len: 8 });
  return r.status === "ok" ? (r.hit?.tag ?? "?") : r.status;
}

describe("cache-configuration findings", () => {
  it("[VTD-CACHE-2] [ORACLE-KEY-2] a pass-through PASID entry is cached under its own DID, so a PASID-selective invalidation of that DID drops it", async () => {
    const w = await world(
      "reference:iotlb=0,psc=256",
      config("scalable", true),
      [
        { kind: "pass-through", levels: 4 },
        { kind: "second", levels: 4 },
        { kind: "second", levels: 4 },
      ],
      [0, undefined, undefined, undefined],
    );
    // Pass-through: the identity output 0x40000000 is outside guest RAM (unsupported request).
    expect(await tagOf(w, 0, 0)).toBe("aborted");
    await w.attach(0, 1); // RID_PASID entry now second stage, DID 2
    await w.invalidate([pasidCachePasid(1, 0), pasidIotlbPasid(1, 0)], true);
    expect(await tagOf(w, 0, 0)).toBe(2); // domain 1's slot 0 page: data page 1, tag 2
  });

  it("[ORACLE-SCOPE-1] [ORACLE-TIME-3] a device joining a domain may use paging-structure entries another device of that DID filled", async () => {
    const w = await world(
      "reference:iotlb=0,psc=256",
      config("legacy", false),
      [
        { kind: "second", levels: 3 },
        { kind: "second", levels: 4 },
        { kind: "second", levels: 3 },
      ],
      [0, undefined, 1, undefined],
    );
    // Device 2 (domain 1, DID 2) reads slot 2; its walk fills the PDE cache for the whole 2 MiB.
    expect(await tagOf(w, 2, 2)).toBe(4);
    // The PDE of slots 0-2 in domain 1 now points at domain 0's table; no invalidation.
    expect(await w.rewire(1, 0, 0, { dom: 0, slot: 0 })).toBe(true);
    await w.attach(1, 1); // a not-present context entry made present (CM = 0: nothing to invalidate)
    // The PDE-cache entry of DID 2 still names the old table: the stale page (slot 1 of domain 1's
    // old table, data page 2) is permitted though device 1 never walked DID 2 before.
    expect(await tagOf(w, 1, 1)).toBe(3);
    // After a covering page-selective invalidation with IH = 0 and its wait, only the new table is.
    await w.invalidate(
      [
        {
          kind: "iotlb",
          g: 3,
          dr: false,
          dw: false,
          did: 2,
          am: 9,
          ih: false,
          addr: IOVA_SLOTS[0] as bigint,
        },
      ],
      true,
    );
    expect(await tagOf(w, 1, 1)).toBe(2); // domain 0's slot 1 page
  });
});
