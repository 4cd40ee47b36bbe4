/**
 * shadow-equivalence: with a vIOMMU in legacy mode, or in scalable mode with second-stage
 * translation only, the VMM shadows the guest's second-stage tables into host IOASes for its
 * passed-through devices. Every device, emulated or passed through, is given the same tables.
 * Once everything is invalidated, a passed-through device must do exactly what an emulated one
 * does (the same status, the same bytes read: the shadow composes the guest's IOVA → GPA with
 * the VM's GPA → HPA, read-only regions and holes included). In between, the guest edits leaves,
 * switches every device to the other table or to pass-through, and invalidates with any
 * granularity, queued or (legacy mode) register-based: every DMA must be one the oracle permits, so a covering invalidation leaves no
 * stale shadow mapping behind and a change the guest has not invalidated may still show.
 */
import fc from "fast-check";
import {
  shadowDraw,
  shadowPlatformArb,
  shadowProblem,
  shadowRoundArb,
  shadowTablePlanArb,
} from "../src/arbitraries/vmm-shadow.ts";
import { failCase } from "../src/cases/case-failed.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { LARGE_PAGES, SHADOW_SLOTS, type ShadowDma } from "../src/cases/shadow-plan.ts";
import { ShadowWorld } from "../src/cases/shadow-world.ts";
import { runVmmCases, type VmmCase } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import type { DmaResult, HostView } from "../src/contract/types.ts";

function describeResult(r: DmaResult): string {
  if (r.status !== "ok") return "aborted";
  return r.data === undefined ? "completed" : `read ${Buffer.from(r.data).toString("hex")}`;
}

/** [VMM-SHADOW-3] Every slot, read by an emulated and each passed-through device, alike. */
async function checkEquivalent(
  vc: VmmCase,
  world: ShadowWorld,
  emulated: number,
  passed: number[],
): Promise<void> {
  for (let slot = 0; slot < SHADOW_SLOTS; slot++) {
    const pages = world.sizeOf(slot) === "2M" ? LARGE_PAGES : [0];
    for (const page of pages) {
      for (const pasid of world.pasidRequests ? ([0, 1] as const) : ([0] as const)) {
        const d = { slot, page, word: (slot + 1) * 3, write: false, pasid };
        const ref = await world.dma(emulated, d);
        for (const dev of passed) {
          const got = await world.dma(dev, d);
          const step = vc.check();
          const bytes = (r: DmaResult) => Buffer.from(r.status === "ok" ? (r.data ?? []) : []);
          // [QEMU-NEST-5] An emulated device that reports status only (limits.emulatedReadData
          // false): statuses are compared here; the passed-through read's bytes were judged
          // against the walk through the VM's memory map by the case's judge already.
          const statusOnly = ref.status === "ok" && ref.data === undefined;
          const same =
            got.status === ref.status && (statusOnly || Buffer.compare(bytes(got), bytes(ref)) === 0);
          if (!same)
            failCase(
              `passed-through device 0x${world.config.devices[dev]?.sid.toString(16)}: IOVA 0x${world.iovaOf(d).toString(16)}${pasid === 1 ? " PASID 1" : ""} ${describeResult(got)}, the emulated device with the same tables ${describeResult(ref)}`,
              { step, observed: describeResult(got), permitted: describeResult(ref) },
            );
        }
      }
    }
  }
}

/**
 * [VMM-BIND-12] [VMM-SHADOW-2] After the settle, a passed-through device whose entry is invalid
 * (an AW that SAGAW lacks) is detached; one whose entry is valid is attached (to its shadow, or
 * to the stage 2 for pass-through).
 */
async function checkBound(vc: VmmCase, world: ShadowWorld, passed: number[]): Promise<void> {
  const view = await (vc.model.platform.hostView as () => Promise<HostView>)();
  const step = vc.check();
  for (const dev of passed) {
    const sid = world.config.devices[dev]?.sid as number;
    const attached = view.attachments.some((a) => a.sid === sid && (a.pasid ?? 0) === 0);
    if (attached !== world.entriesValid)
      failCase(
        `passed-through device 0x${sid.toString(16)}: its entry is ${world.entriesValid ? "valid" : "invalid (AW not in SAGAW)"}, yet the host shows it ${attached ? "attached" : "detached"}`,
        {
          step,
          observed: attached ? "attached" : "detached",
          permitted: world.entriesValid ? "attached" : "detached",
        },
      );
  }
}

export const shadowEquivalence: PropertyDefinition = {
  id: "shadow-equivalence",
  title:
    "a passed-through device on a shadowed second stage translates exactly as an emulated one; covering invalidations leave no stale shadow mapping",
  rules: [
    "VMM-SHADOW-2",
    "VMM-SHADOW-3",
    "VMM-SHADOW-5",
    "VMM-SHADOW-6",
    "VMM-BIND-1",
    "VMM-BIND-4",
    "VMM-BIND-7",
    "VMM-BIND-8",
    "VMM-BIND-9",
    "VMM-BIND-11",
    "VMM-BIND-12",
    "VMM-S2-6",
    "VMM-S2-7",
    "HOST-XLATE-10",
  ],
  needs: (d) => shadowProblem(d),
  run(ctx) {
    const draw = shadowDraw(ctx.description);
    const input = shadowPlatformArb(ctx.description).chain((config) => {
      const rom = config.memory.regions.some((r) => r.readOnly);
      return fc.record({
        config: fc.constant(config),
        tables: fc.tuple(shadowTablePlanArb(rom, draw), shadowTablePlanArb(rom, draw)),
        rounds: fc.array(
          shadowRoundArb({
            rom,
            scalable: config.viommu.scalable,
            pasids: config.viommu.pasidBits > 0,
            passThrough: config.viommu.passThrough,
            draw,
          }),
          { minLength: 0, maxLength: 3 },
        ),
        // Register-based invalidation exists in legacy mode only (VT-d 5.10 §6.5).
        queue: config.viommu.scalable ? fc.constant(true) : fc.boolean(),
      });
    });
    return runVmmCases(ctx, input, async (vc, v) => {
      const world = await ShadowWorld.build(vc, v.config, v.tables, { queue: v.queue });
      const all = v.config.devices.map((_, i) => i);
      const emulated = all.filter((i) => v.config.devices[i]?.kind === "emulated");
      const passed = all.filter((i) => v.config.devices[i]?.kind === "passthrough");
      const em = emulated[0] as number;
      vc.note(
        `${v.config.viommu.scalable ? "scalable, second stage only" : "legacy"}, ${v.queue ? "queued" : "register-based"} invalidation: every device on table 0 (DID 1)`,
      );
      // With no rounds, the shadow of the tables as built is compared; otherwise after the settle.
      if (v.rounds.length === 0) await checkEquivalent(vc, world, em, passed);
      for (const r of v.rounds) {
        const oldDid = world.did;
        const slot = "slot" in r.edit ? r.edit.slot : 0;
        vc.note(`guest edit: ${JSON.stringify(r.edit)}`);
        const seq = await world.edit(r.edit);
        for (const d of r.dmas) for (const dev of passed) await world.dma(dev, d);
        vc.note(`invalidation: ${r.inv}; DMAs after it (stale permitted only where not covered)`);
        const sid = v.config.devices[passed[0] as number]?.sid as number;
        if (r.inv === "te") await world.toggleTranslation();
        else
          await world.driver.invalidate(
            world.invalidation(r.inv, { edit: seq, slot, oldDid, fm: r.fm, sid }),
          );
        // [VMM-SHADOW-5] and a read of the edited slot itself, where a stale shadow would show.
        const edited: ShadowDma[] =
          "slot" in r.edit ? [{ slot, page: LARGE_PAGES[0], word: 0, write: false, pasid: 0 }] : [];
        for (const d of [...r.dmas, ...edited]) for (const dev of passed) await world.dma(dev, d);
      }
      vc.note("settle: global context, PASID-cache and IOTLB invalidation; every slot compared");
      await world.settle();
      await checkEquivalent(vc, world, em, passed);
      if (ctx.description.supports.hostView) await checkBound(vc, world, passed);
    });
  },
  judge: (trace) => vmmJudge(trace),
};
