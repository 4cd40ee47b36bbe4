/**
 * VMs whose passed-through devices the VMM must shadow: a vIOMMU in legacy mode, or in scalable
 * mode with second-stage translation only (PGTT = 2), caching mode on; guest second-stage tables
 * with 4 KiB and 2 MiB leaves into RAM, ROM (a 2 MiB leaf may straddle RAM and ROM) and outside
 * guest memory, upper levels sometimes without write or read, a leaf at the interrupt range
 * (mapped, never DMAed: the oracle does not yet block input addresses in that range, VTD-DMA-3);
 * then rounds of table edits and context switches, each followed by one invalidation of any
 * kind (covering or not). [VMM-SHADOW-1] [VMM-SHADOW-2] [VMM-SHADOW-3] [VMM-SHADOW-5] [VMM-BIND-8]
 */
import fc from "fast-check";
import {
  LARGE_PAGES,
  SHADOW_SLOTS,
  type ShadowDma,
  type ShadowEdit,
  type ShadowInvalidation,
  type ShadowLeaf,
  type ShadowTablePlan,
} from "../cases/shadow-plan.ts";
import type { DeviceConfig, ModelDescription, PlatformConfig, VIommuConfig } from "../contract/types.ts";
import { coveringHostIommuArb, HOST_AW_BITS, hostIommuArb } from "./host-caps.ts";
import { type HostSide, hostSideArb, nestableHostSideArb, sidsArb } from "./host-devices.ts";
import { guestMemoryArb, vmmViommu } from "./vmm-config.ts";
import { fitVmmConfig } from "./vmm-fit.ts";

/** Why a model cannot run shadow properties, or null. */
export function shadowProblem(d: ModelDescription): string | null {
  const s = d.supports;
  if (!s.passthroughDevices) return "the model has no passed-through devices";
  if (!s.secondStage || !(s.legacy || s.scalable)) return "the model has no second-stage translation";
  if (!s.cachingMode.includes(true)) return "the model has no caching mode (CM = 1)";
  if (!s.dmaRead) return "the model's devices cannot issue DMA reads";
  if (!s.awBits.some((w) => w === 39 || w === 48)) return "the model offers no 39- or 48-bit width";
  if (s.maxDevices < 3) return "the model takes fewer than three devices";
  return null;
}

/**
 * A vIOMMU that hands passed-through devices second-stage tables to shadow: legacy, or scalable
 * with SSTS and no FSTS (so the VMM asks nothing of the host beyond its width, VMM-COMPAT-2).
 */
export function shadowViommuArb(d: ModelDescription): fc.Arbitrary<VIommuConfig> {
  const s = d.supports;
  const modes = [...(s.legacy ? [false] : []), ...(s.scalable ? [true] : [])];
  return fc
    .record({
      scalable: fc.constantFrom(...modes),
      awBits: fc.constantFrom(...s.awBits.filter((w): w is 39 | 48 => w === 39 || w === 48)),
      passThrough: s.passThrough ? fc.boolean() : fc.constant(false),
      pasid: s.pasidRequests ? fc.boolean() : fc.constant(false),
      snoopControl: fc.boolean(),
    })
    .map((r) =>
      vmmViommu({
        scalable: r.scalable,
        awBits: r.awBits,
        passThrough: r.passThrough,
        pasidBits: r.scalable && r.pasid ? 8 : 0,
        snoopControl: r.snoopControl,
      }),
    );
}

/**
 * A VM to shadow: 1..2 emulated and 1..2 passed-through devices (at least three in all) behind
 * 1..2 host IOMMUs as wide as the guest. In legacy mode any host side (VFIO container, bridges,
 * other vendors); in scalable mode with PASIDs, iommufd hosts with PASIDs as wide as the guest's.
 */
export function shadowPlatformArb(d: ModelDescription): fc.Arbitrary<PlatformConfig> {
  const maxDevices = Math.min(4, d.supports.maxDevices);
  return shadowViommuArb(d).chain((viommu) =>
    fc
      .record({
        emulated: fc.integer({ min: 1, max: 2 }),
        passthrough: fc.integer({ min: 1, max: 2 }),
        iommus: fc.integer({ min: 1, max: 2 }),
      })
      .chain(({ emulated, passthrough, iommus }) => {
        const pt = Math.min(passthrough, maxDevices - 1);
        const em = Math.min(Math.max(emulated, 3 - pt), maxDevices - pt);
        const ids = Array.from({ length: iommus }, (_, i) => `h${i}`);
        const withPasid = viommu.pasidBits > 0;
        const iommu = (id: string) =>
          withPasid
            ? coveringHostIommuArb(id, viommu)
            : hostIommuArb(id).map((h) => ({
                ...h,
                awBits: h.awBits >= viommu.awBits ? h.awBits : (HOST_AW_BITS.at(-1) as number),
              }));
        return fc.record({
          viommu: fc.constant(viommu),
          sids: sidsArb(em + pt),
          kinds: fc.shuffledSubarray(
            Array.from({ length: em + pt }, (_, i) => i),
            { minLength: pt, maxLength: pt },
          ),
          hosts: fc.array(withPasid ? nestableHostSideArb(ids) : hostSideArb(ids), {
            minLength: pt,
            maxLength: pt,
          }),
          hostIommus: fc.tuple(...ids.map(iommu)),
          memory: guestMemoryArb(),
        });
      })
      .map((r) => {
        const ptIndex = new Set(r.kinds);
        let h = 0;
        const devices: DeviceConfig[] = r.sids.map((sid, i) =>
          ptIndex.has(i)
            ? { sid, kind: "passthrough", host: r.hosts[h++] as HostSide }
            : { sid, kind: "emulated" },
        );
        return fitVmmConfig(
          d,
          { viommu: r.viommu, devices, memory: r.memory, hostIommus: [...r.hostIommus] },
          { accepted: true },
        );
      }),
  );
}

const rightsArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ read: true, write: true }) },
  { weight: 2, arbitrary: fc.constant({ read: true, write: false }) },
  { weight: 1, arbitrary: fc.constant({ read: false, write: true }) },
  { weight: 1, arbitrary: fc.constant({ read: false, write: false }) },
);

/**
 * Recorded finding a shadow generator can steer around (`--adapter qemu:nested,avoid=…`):
 * QEMU shadows a write-only second-stage mapping readable (docs/qemu-findings.md, VMM side).
 */
export const AVOID_WRITE_ONLY = "shadow-write-only-mapping-readable";

/** What shadow generators may draw: `writeOnly` false leaves out write-only leaves and upper levels. */
export interface ShadowDraw {
  writeOnly: boolean;
}

/** The draw for a model: everything, unless it asks to steer around a recorded finding. */
export function shadowDraw(d: ModelDescription): ShadowDraw {
  return { writeOnly: !(d.limits?.avoid ?? []).includes(AVOID_WRITE_ONLY) };
}

const readableRightsArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ read: true, write: true }) },
  { weight: 2, arbitrary: fc.constant({ read: true, write: false }) },
  { weight: 1, arbitrary: fc.constant({ read: false, write: false }) },
);

export function shadowLeafArb(
  rom: boolean,
  draw: ShadowDraw = { writeOnly: true },
): fc.Arbitrary<ShadowLeaf> {
  return fc
    .record({
      target: fc.oneof(
        { weight: 6, arbitrary: fc.constant("ram" as const) },
        { weight: rom ? 3 : 0, arbitrary: fc.constant("rom" as const) },
        { weight: 1, arbitrary: fc.constant("outside" as const) },
      ),
      rights: draw.writeOnly ? rightsArb : readableRightsArb,
    })
    .map((r) => ({ target: r.target, ...r.rights }));
}

export function shadowTablePlanArb(
  rom: boolean,
  draw: ShadowDraw = { writeOnly: true },
): fc.Arbitrary<ShadowTablePlan> {
  return fc.record({
    slots: fc.array(
      fc.record({
        size: fc.oneof(
          { weight: 3, arbitrary: fc.constant("4K" as const) },
          { weight: 1, arbitrary: fc.constant("2M" as const) },
        ),
        leaf: fc.option(shadowLeafArb(rom, draw), { freq: 5 }),
      }),
      { minLength: SHADOW_SLOTS, maxLength: SHADOW_SLOTS },
    ),
    upper: fc.oneof(
      { weight: 6, arbitrary: fc.constant({ read: true, write: true }) },
      { weight: 1, arbitrary: fc.constant({ read: true, write: false }) },
      { weight: draw.writeOnly ? 1 : 0, arbitrary: fc.constant({ read: false, write: true }) },
    ),
    interruptLeaf: fc.oneof(
      { weight: 3, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
  });
}

export function shadowDmaArb(pasids: boolean): fc.Arbitrary<ShadowDma> {
  return fc.record({
    slot: fc.integer({ min: 0, max: SHADOW_SLOTS - 1 }),
    page: fc.constantFrom(...LARGE_PAGES),
    word: fc.integer({ min: 0, max: 511 }),
    write: fc.boolean(),
    pasid: pasids
      ? fc.oneof(
          { weight: 3, arbitrary: fc.constant(0 as const) },
          { weight: 1, arbitrary: fc.constant(1 as const) },
        )
      : fc.constant(0 as const),
  });
}

export function shadowRoundArb(o: {
  rom: boolean;
  scalable: boolean;
  pasids: boolean;
  passThrough: boolean;
  draw?: ShadowDraw;
}) {
  const draw = o.draw ?? { writeOnly: true };
  const slot = fc.integer({ min: 0, max: SHADOW_SLOTS - 1 });
  const edit: fc.Arbitrary<ShadowEdit> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant("remap" as const), slot, leaf: shadowLeafArb(o.rom, draw) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant("rights" as const), slot, leaf: shadowLeafArb(o.rom, draw) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("unmap" as const), slot }) },
    { weight: 2, arbitrary: fc.constant({ kind: "switch" as const }) },
    { weight: o.passThrough ? 1 : 0, arbitrary: fc.constant({ kind: "pass-through" as const }) },
    // A single-bit edit of AW in the live entries (VMM-SHADOW-2: an unsupported AW blocks).
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("aw" as const), bit: fc.constantFrom<0 | 1 | 2>(0, 1, 2) }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: "none" as const }) },
  );
  const invs: ShadowInvalidation[] = [
    "iotlb-global",
    "iotlb-domain",
    "iotlb-domain",
    "iotlb-domain-other",
    "iotlb-page",
    "iotlb-page",
    "iotlb-page-other",
    "context-global",
    "context-domain",
    "context-device",
    "linux",
    "linux",
    "te",
    "none",
    ...(o.scalable
      ? (["pasid-iotlb", "pasid-iotlb", "pasid-iotlb", "pasid-cache", "pasid-cache"] as const)
      : []),
  ];
  return fc.record({
    edit,
    inv: fc.constantFrom(...invs),
    fm: fc.integer({ min: 0, max: 3 }),
    dmas: fc.array(shadowDmaArb(o.pasids), { minLength: 1, maxLength: 3 }),
  });
}
