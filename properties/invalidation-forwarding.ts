/**
 * invalidation-forwarding: passed-through devices translate through the guest's first-stage
 * tables in the host IOMMU, which caches them. The guest edits a leaf (remaps, unmaps or changes
 * its rights), DMAs may still see the old translation, then it invalidates: PASID-selective or
 * page-selective PASID-IOTLB, domain-selective or global IOTLB. After the invalidation and its
 * wait no stale translation may remain on the host: every DMA must be the one the oracle now
 * permits (the same as an emulated device's), so the invalidation reached the nested HWPT's cache.
 */
import fc from "fast-check";
import { vmmPlatformArb, vmmProblem } from "../src/arbitraries/vmm-config.ts";
import { tablePlansArb } from "../src/arbitraries/vmm-pasid-ops.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import { SLOTS, slotIova } from "../src/cases/vmm-plan.ts";
import { VmmWorld } from "../src/cases/vmm-world.ts";
import { iotlbDomain, iotlbGlobal, pasidIotlbPage, pasidIotlbPasid } from "../src/driver/index.ts";

type Edit = { slot: number; kind: "remap" | "unmap" | "rights"; write: boolean };
type Inv = "pasid" | "page" | "page-other" | "domain" | "global";

const roundArb = fc.record({
  edit: fc.record({
    slot: fc.integer({ min: 0, max: SLOTS - 1 }),
    kind: fc.constantFrom("remap" as const, "unmap" as const, "rights" as const),
    write: fc.boolean(),
  }),
  inv: fc.constantFrom<Inv>("pasid", "page", "page-other", "domain", "global"),
  pasid: fc.constantFrom(0, 1, 0x41),
});

export const invalidationForwarding: PropertyDefinition = {
  id: "invalidation-forwarding",
  title:
    "a guest PASID-IOTLB or IOTLB invalidation reaches the host's nested caches: after it and its wait, no stale translation",
  rules: ["VMM-INV-1", "VMM-INV-2", "VMM-INV-3", "VMM-INV-4", "HOST-HWPT-20", "HOST-HWPT-21", "HOST-UAPI-64"],
  needs: (d) => vmmProblem(d),
  run(ctx) {
    const input = vmmPlatformArb(ctx.description).chain((config) =>
      fc.record({
        config: fc.constant(config),
        tables: tablePlansArb(false, 1),
        rounds: fc.array(roundArb, { minLength: 1, maxLength: 6 }),
      }),
    );
    return runVmmCases(ctx, input, async (vc, v) => {
      const world = await VmmWorld.build(vc, v.config, v.tables);
      const all = v.config.devices.map((_, i) => i);
      const did = 7;
      for (const pasid of [0, 1, 0x41])
        await world.run({ op: "set", devs: all, pasid, did, table: 0, passThrough: false, sre: false });
      await world.run({ op: "pasid-cache", g: "global", did: 0, pasid: 0, iotlb: true });
      const table = world.tables[0];
      if (table === undefined) return;
      const readAll = async (pasid: number, slot: number, write = false) => {
        for (const dev of all)
          await world.dma(
            dev,
            pasid,
            slotIova(slot) + BigInt(8 * slot),
            write && world.isPassthrough(dev),
            false,
          );
      };
      let tag = 200;
      for (const r of v.rounds) {
        vc.note(`fill: every device reads slot ${r.edit.slot} with PASID ${r.pasid}`);
        await readAll(r.pasid, r.edit.slot);
        const e: Edit = r.edit;
        const iova = slotIova(e.slot);
        vc.note(`guest ${e.kind}s slot ${e.slot}`);
        if (e.kind === "unmap") await table.unmap(iova, "4K");
        else {
          const page = e.kind === "remap" ? await world.driver.newDataPage(++tag) : undefined;
          if (page !== undefined) world.tags.set(page, tag);
          const leaf = (await table.walk(iova)).at(-1);
          const mapped = leaf !== undefined && leaf.level === 1 && (leaf.word & 1n) === 1n;
          const target = page ?? (mapped ? Number(leaf.word & 0x000f_ffff_ffff_f000n) : undefined);
          if (target === undefined) continue;
          await table.map(iova, target, "4K", { write: e.write, user: true });
        }
        vc.note("DMAs before the invalidation (old or new permitted)");
        await readAll(r.pasid, e.slot, true);
        const other = slotIova((e.slot + 1) % SLOTS);
        const descs =
          r.inv === "pasid"
            ? [pasidIotlbPasid(did, r.pasid)]
            : r.inv === "page"
              ? [pasidIotlbPage(did, r.pasid, iova, 0)]
              : r.inv === "page-other"
                ? [pasidIotlbPage(did, r.pasid, other, 0)]
                : r.inv === "domain"
                  ? [iotlbDomain(did)]
                  : [iotlbGlobal()];
        vc.note(`${r.inv} invalidation (DID ${did}, PASID ${r.pasid}), wait; DMAs after it`);
        await world.driver.invalidate(descs);
        await readAll(r.pasid, e.slot, true);
        await readAll(r.pasid, e.slot);
      }
    });
  },
  judge: (trace) => vmmJudge(trace),
};
