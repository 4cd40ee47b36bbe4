/**
 * The passed-through form of the guest-side walk and coherence properties (translation-equals-walk,
 * cache-coherence) for a model whose guest side cannot be judged on its own (its emulated devices
 * report DMA status only, as qemu:nested's) but which has passed-through devices to shadow.
 *
 * A VM with emulated and passed-through devices on the same guest second-stage tables (legacy, or
 * scalable with second-stage translation only), queued or register-based invalidation. Every step
 * is judged by the VMM judge (src/cases/vmm-judge.ts): an emulated device's DMA and every register
 * read by the oracle, strictly, fault records included; a passed-through device's DMA must be one
 * of the outcomes the oracle permits for an emulated device with the same tables, through the VM's
 * stage 2 — its bytes judged by their fingerprint, a fault only as `aborted`. That last point is
 * the one check turned off, and only for passed-through requests: they record no vIOMMU fault
 * (VMM-S2-7; qemu:nested's stated limitation, QEMU-NEST-5: their faults end at the host IOMMU), so
 * no fault reason or record is asked of them, and the oracle, which never sees them, permits none.
 * After each round the guest's fault handler reads (and clears) the fault records, which the
 * oracle judges: the emulated devices' faults must be recorded as the specification says.
 */
import fc from "fast-check";
import type { PropertyContext, PropertyOutcome } from "../cases/property.ts";
import type { ShadowDma, ShadowEdit, ShadowInvalidation } from "../cases/shadow-plan.ts";
import { LARGE_PAGES, SHADOW_SLOTS } from "../cases/shadow-plan.ts";
import { ShadowWorld } from "../cases/shadow-world.ts";
import { runVmmCases } from "../cases/vmm-case.ts";
import type { ModelDescription } from "../contract/types.ts";
import type { Trace } from "../trace/types.ts";
import { guestConfigProblem } from "./guest-config.ts";
import {
  shadowDmaArb,
  shadowDraw,
  shadowLeafArb,
  shadowPlatformArb,
  shadowProblem,
  shadowTablePlanArb,
} from "./vmm-shadow.ts";

/** Which form a guest-side property runs against the model. */
export type GuestForm = "guest" | "passthrough";

/**
 * The guest form where the model's guest side can be judged; else the passed-through form where
 * it has passed-through devices to shadow; else null with the guest form's reason.
 */
export function guestFormOf(d: ModelDescription): { form: GuestForm } | { problem: string } {
  const guest = d.supports.dmaRead ? guestConfigProblem(d) : "the model's devices cannot issue DMA reads";
  if (guest === null) return { form: "guest" };
  if (shadowProblem(d) === null) return { form: "passthrough" };
  return { problem: guest };
}

/** Whether a guest-side property runs its passed-through form against the model. */
export function usesPassthroughForm(d: ModelDescription): boolean {
  const f = guestFormOf(d);
  return "form" in f && f.form === "passthrough";
}

export interface PassthroughStormOptions {
  /**
   * "walk": after every edit a global flush and its wait, then every slot by every device (only
   * the fresh walk is permitted). "coherence": edits, DMAs, invalidations of any kind and
   * granularity (covering or not, waited for), DMAs again: stale outcomes only where not covered.
   */
  mode: "walk" | "coherence";
  maxRounds: number;
}

const COHERENCE_INVALIDATIONS: ShadowInvalidation[] = [
  "iotlb-global",
  "iotlb-domain",
  "iotlb-domain-other",
  "iotlb-page",
  "iotlb-page",
  "iotlb-page-other",
  "context-global",
  "context-domain",
  "context-device",
  "linux",
  "none",
];

function roundArb(
  rom: boolean,
  scalable: boolean,
  passThrough: boolean,
  o: PassthroughStormOptions,
  d: ModelDescription,
) {
  const draw = shadowDraw(d);
  const slot = fc.integer({ min: 0, max: SHADOW_SLOTS - 1 });
  const edit: fc.Arbitrary<ShadowEdit> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant("remap" as const), slot, leaf: shadowLeafArb(rom, draw) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("rights" as const), slot, leaf: shadowLeafArb(rom, draw) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("unmap" as const), slot }) },
    { weight: 1, arbitrary: fc.constant({ kind: "switch" as const }) },
    { weight: passThrough ? 1 : 0, arbitrary: fc.constant({ kind: "pass-through" as const }) },
  );
  const invs: ShadowInvalidation[] =
    o.mode === "walk"
      ? ["iotlb-global"]
      : [...COHERENCE_INVALIDATIONS, ...(scalable ? (["pasid-iotlb", "pasid-cache"] as const) : [])];
  return fc.record({
    edit,
    inv: fc.constantFrom(...invs),
    fm: fc.integer({ min: 0, max: 3 }),
    before: fc.array(shadowDmaArb(false), { minLength: 0, maxLength: 3 }),
    after: fc.array(shadowDmaArb(false), { minLength: 1, maxLength: 3 }),
  });
}

/**
 * Recorded guest-side findings that leave these storms legacy mode only when avoided: QEMU records
 * scalable-mode faults of its emulated devices with legacy reasons (docs/qemu-findings.md), which
 * this form judges strictly. [QEMU-AVOID-1]
 */
const LEGACY_ONLY_AVOIDS = [
  "scalable-write-fault-legacy-reason",
  "scalable-root-not-present-legacy-reason",
  "pasid-directory-not-present-reason",
];

/** The description the storm draws from: scalable mode left out when an avoided finding asks. */
export function drawnFrom(d: ModelDescription): ModelDescription {
  const avoid = d.limits?.avoid ?? [];
  if (!d.supports.legacy || !LEGACY_ONLY_AVOIDS.some((id) => avoid.includes(id))) return d;
  return { ...d, supports: { ...d.supports, scalable: false } };
}

/** Run the passed-through form of a guest-side property [VMM-S2-7] [QEMU-NEST-5]. */
export function runPassthroughStorm(
  ctx: PropertyContext,
  o: PassthroughStormOptions,
): Promise<PropertyOutcome> {
  const d = drawnFrom(ctx.description);
  const draw = shadowDraw(d);
  const input = shadowPlatformArb(d).chain((config) => {
    const rom = config.memory.regions.some((r) => r.readOnly);
    return fc.record({
      config: fc.constant(config),
      tables: fc.tuple(shadowTablePlanArb(rom, draw), shadowTablePlanArb(rom, draw)),
      rounds: fc.array(roundArb(rom, config.viommu.scalable, config.viommu.passThrough, o, d), {
        minLength: o.mode === "walk" ? 0 : 1,
        maxLength: o.maxRounds,
      }),
      // Register-based invalidation exists in legacy mode only (VT-d 5.10 §6.5).
      queue: config.viommu.scalable ? fc.constant(true) : fc.boolean(),
    });
  });
  return runVmmCases(ctx, input, async (vc, v) => {
    const world = await ShadowWorld.build(vc, v.config, v.tables, { queue: v.queue });
    const all = v.config.devices.map((_, i) => i);
    const passed = all.filter((i) => v.config.devices[i]?.kind === "passthrough");
    const sid = v.config.devices[passed[0] as number]?.sid as number;
    vc.note(
      `${v.config.viommu.scalable ? "scalable, second stage only" : "legacy"}; ${v.queue ? "queued" : "register-based"} invalidation; passed-through DMAs judged through stage 2, no fault record asked of them (VMM-S2-7)`,
    );
    /** Every slot (both pages of a large leaf) by every device; then the fault records. */
    const sweep = async () => {
      for (let slot = 0; slot < SHADOW_SLOTS; slot++)
        for (const page of world.sizeOf(slot) === "2M" ? LARGE_PAGES : [0])
          for (const dev of all) await world.dma(dev, { slot, page, word: slot + 1, write: false, pasid: 0 });
      await world.driver.readFaults();
    };
    const some = async (dmas: ShadowDma[]) => {
      for (const x of dmas) for (const dev of all) await world.dma(dev, x);
    };
    if (o.mode === "walk") {
      vc.note("global flush and wait; every slot by every device must be the fresh walk");
      await world.settle();
      await sweep();
    }
    for (const r of v.rounds) {
      const oldDid = world.did;
      const slot = "slot" in r.edit ? r.edit.slot : 0;
      vc.note(`guest edit: ${JSON.stringify(r.edit)}; DMAs before any invalidation (old or new permitted)`);
      const seq = await world.edit(r.edit);
      await some(r.before);
      if (o.mode === "walk") {
        vc.note("global flush and wait; every slot by every device must be the fresh walk");
        await world.settle();
        await sweep();
        continue;
      }
      vc.note(`invalidation: ${r.inv} and its wait; DMAs after it (stale permitted only where not covered)`);
      await world.driver.invalidate(world.invalidation(r.inv, { edit: seq, slot, oldDid, fm: r.fm, sid }));
      await some(r.after);
      await world.driver.readFaults();
    }
    if (o.mode === "coherence") {
      vc.note("settle: global invalidations; every slot by every device must be the fresh walk");
      await world.settle();
      await sweep();
    }
  });
}

/** Whether a trace's VM has a passed-through device (its steps are then the VMM judge's). */
export function hasPassthrough(trace: Pick<Trace, "config">): boolean {
  const devices = (trace.config as { devices?: Array<{ kind?: string }> }).devices ?? [];
  return devices.some((d) => d.kind === "passthrough");
}
