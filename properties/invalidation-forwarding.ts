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
import {
  type ShadowDraw,
  shadowDmaArb,
  shadowDraw,
  shadowLeafArb,
  shadowPlatformArb,
  shadowProblem,
  shadowTablePlanArb,
} from "../src/arbitraries/vmm-shadow.ts";
import type { PropertyContext, PropertyDefinition, PropertyOutcome } from "../src/cases/property.ts";
import { SHADOW_SLOTS, type ShadowInvalidation } from "../src/cases/shadow-plan.ts";
import { ShadowWorld } from "../src/cases/shadow-world.ts";
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

/**
 * The shadow form [VMM-SHADOW-5]: for a model whose passed-through devices translate through a
 * shadow of the guest's second stage (no first-stage translation for them), a guest IOTLB
 * invalidation must reach the shadow. Rounds of a leaf edit (remap, rights, unmap), DMAs (old or new
 * permitted), one covering invalidation (page-selective, domain-selective or global), queued or
 * register-based (legacy mode), its wait, then DMAs that must all be the fresh walk's.
 */
const shadowRoundArb = (rom: boolean, draw: ShadowDraw) =>
  fc.record({
    slot: fc.integer({ min: 0, max: SHADOW_SLOTS - 1 }),
    kind: fc.constantFrom("remap" as const, "rights" as const, "unmap" as const),
    leaf: shadowLeafArb(rom, draw),
    inv: fc.constantFrom<ShadowInvalidation>("iotlb-page", "iotlb-page", "iotlb-domain", "iotlb-global"),
    dmas: fc.array(shadowDmaArb(false), { minLength: 1, maxLength: 3 }),
  });

function runShadowForm(ctx: PropertyContext): Promise<PropertyOutcome> {
  const draw = shadowDraw(ctx.description);
  const input = shadowPlatformArb(ctx.description).chain((config) => {
    const rom = config.memory.regions.some((r) => r.readOnly);
    return fc.record({
      config: fc.constant(config),
      tables: fc.tuple(shadowTablePlanArb(rom, draw), shadowTablePlanArb(rom, draw)),
      rounds: fc.array(shadowRoundArb(rom, draw), { minLength: 1, maxLength: 4 }),
      // Register-based invalidation exists in legacy mode only (VT-d 5.10 §6.5).
      queue: config.viommu.scalable ? fc.constant(true) : fc.boolean(),
    });
  });
  return runVmmCases(ctx, input, async (vc, v) => {
    const world = await ShadowWorld.build(vc, v.config, v.tables, { queue: v.queue });
    const all = v.config.devices.map((_, i) => i);
    const passed = all.filter((i) => v.config.devices[i]?.kind === "passthrough");
    vc.note(
      `${v.config.viommu.scalable ? "scalable, second stage" : "legacy"}; ${v.queue ? "queued" : "register-based"} invalidation`,
    );
    for (const r of v.rounds) {
      const probe = { slot: r.slot, page: 0x100, word: r.slot + 1, write: false, pasid: 0 as const };
      vc.note(`fill: the passed-through devices read slot ${r.slot}`);
      for (const dev of passed) await world.dma(dev, probe);
      vc.note(`guest ${r.kind}s slot ${r.slot}; DMAs before the invalidation (old or new permitted)`);
      await world.edit(
        r.kind === "unmap" ? { kind: "unmap", slot: r.slot } : { kind: r.kind, slot: r.slot, leaf: r.leaf },
      );
      for (const d of r.dmas) for (const dev of passed) await world.dma(dev, d);
      vc.note(`${r.inv} invalidation and its wait; every DMA after it must be the fresh walk's`);
      const sid = v.config.devices[passed[0] as number]?.sid as number;
      await world.driver.invalidate(
        world.invalidation(r.inv, { edit: [], slot: r.slot, oldDid: world.did, fm: 0, sid }),
      );
      for (const dev of all) await world.dma(dev, probe);
      for (const d of r.dmas) for (const dev of passed) await world.dma(dev, d);
    }
  });
}

export const invalidationForwarding: PropertyDefinition = {
  id: "invalidation-forwarding",
  title:
    "a guest PASID-IOTLB or IOTLB invalidation reaches the host's nested caches: after it and its wait, no stale translation",
  rules: [
    "VMM-INV-1",
    "VMM-INV-2",
    "VMM-INV-3",
    "VMM-INV-4",
    "HOST-HWPT-20",
    "HOST-HWPT-21",
    "HOST-UAPI-64",
    "VMM-SHADOW-5",
  ],
  // The first-stage (nested) form where the model has it; else the shadow form [VMM-SHADOW-5].
  needs: (d) => (vmmProblem(d) === null || shadowProblem(d) === null ? null : vmmProblem(d)),
  run(ctx) {
    if (vmmProblem(ctx.description) !== null) return runShadowForm(ctx);
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
