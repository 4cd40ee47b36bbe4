/**
 * errata-772415: a VM whose passed-through devices sit behind VT-d IOMMUs with and without
 * ERRATA_772415_SPR17, guest memory with a read-only region, the guest offered first-stage
 * translation (so the VMM's stage 2 are nest parents).
 *
 * Host side, through the host surface: GET_HW_INFO reports the errata; a read-only IOAS_MAP into an
 * IOAS backing a nest parent that an errata IOMMU owns or is attached through is EINVAL (a writable
 * one is not); a nest parent cannot be allocated for an errata IOMMU on an IOAS holding a read-only
 * mapping (a plain paging HWPT can); and an errata IOMMU cannot join, directly or through a nested
 * HWPT, a nest parent whose IOAS holds one. Expected answers come from the rules (`hostAccepts`).
 *
 * Guest side, on a fresh VM: every device gets the same PASID entries over first-stage tables whose
 * leaves reach RAM and ROM pages. An emulated and a passed-through device must agree on every access
 * the rules allow: behind a non-errata IOMMU a ROM read lands on the same page, behind an errata
 * IOMMU the VMM left ROM out of the nest parent so it is blocked, and ROM writes are blocked for all.
 * Every DMA is also judged by the oracle through the device's stage 2 (src/cases/vmm-judge.ts).
 */
import fc from "fast-check";
import { passthroughDevices, vmmPlatformArb, vmmProblem } from "../src/arbitraries/vmm-config.ts";
import { tablePlansArb } from "../src/arbitraries/vmm-pasid-ops.ts";
import { failCase } from "../src/cases/case-failed.ts";
import {
  type Acceptance,
  expectAcceptance,
  hostAccepts,
  joined,
  type Stage2State,
} from "../src/cases/host-case.ts";
import { HostClient, withoutDeviceFiles } from "../src/cases/host-client.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases, type VmmCase } from "../src/cases/vmm-case.ts";
import { stage2Allows, vmmJudge } from "../src/cases/vmm-judge.ts";
import { didFor, SLOTS, slotIova, VMM_PASIDS } from "../src/cases/vmm-plan.ts";
import { VmmWorld } from "../src/cases/vmm-world.ts";
import type { HostIommuConfig, PlatformConfig } from "../src/contract/types.ts";
import { decodeFingerprint } from "../src/oracle/index.ts";
import { Errno, errnoName, HwInfoVtdFlags } from "../src/spec/iommufd/index.ts";

const ROM = 0x10_0000n;
const IOVA_W = 0x10_0000n;
const IOVA_RO = 0x11_0000n;
const IOVA_W2 = 0x12_0000n;
const PAGE_GPA = 0x30_0000n;
/** A guest-physical stage-1 pointer for nested HWPTs the trials allocate (never walked). */
const S1_PTR = 0x31_0000n;

/** What a host trial does; device indexes are taken modulo the VM's passed-through devices. */
interface Trial {
  owner: number;
  joiner: number | null;
  /** map-after: nest parent first, then a read-only map; alloc-after: read-only map first. */
  order: "map-after" | "alloc-after";
  nested: boolean;
}

const trialArb: fc.Arbitrary<Trial> = fc.record({
  owner: fc.integer({ min: 0, max: 2 }),
  joiner: fc.option(fc.integer({ min: 0, max: 2 }), { nil: null, freq: 3 }),
  order: fc.constantFrom("map-after" as const, "alloc-after" as const),
  nested: fc.boolean(),
});

/**
 * A VM the VMM accepts (nesting vIOMMU, covering host IOMMUs), always with a read-only region; the
 * first passed-through device's IOMMU has the errata and the other IOMMU (if any) has not, so both
 * classes meet often.
 */
function errataVmArb(d: Parameters<typeof vmmPlatformArb>[0]): fc.Arbitrary<PlatformConfig> {
  return vmmPlatformArb(d).map((c) => {
    const size = c.memory.size;
    const memory = c.memory.regions.some((r) => r.readOnly)
      ? c.memory
      : {
          size,
          regions: [
            { gpa: 0n, size: size - ROM, readOnly: false },
            { gpa: size - ROM, size: ROM, readOnly: true },
          ],
        };
    const first = passthroughDevices(c)[0]?.host?.iommu;
    const hostIommus = c.hostIommus.map((h) => ({ ...h, errata772415: h.id === first }));
    return { ...c, memory, hostIommus };
  });
}

const entryArb = fc.option(fc.record({ table: fc.integer({ min: 0, max: 2 }), passThrough: fc.boolean() }), {
  freq: 6,
});

const requestArb = fc.record({
  pasid: fc.constantFrom(0, ...VMM_PASIDS),
  slot: fc.integer({ min: 0, max: SLOTS - 1 }),
  offset: fc.integer({ min: 0, max: 511 }).map((w) => w * 8),
  write: fc.boolean(),
});

/** [HOST-ERRATA-1] A nest parent refuses read-only mappings when an errata IOMMU owns it or is attached through it. */
function refusesReadOnly(h: Stage2State): boolean {
  return h.nestParent && (h.owner.errata772415 || h.through.some((i) => i.errata772415));
}

async function hostTrials(vc: VmmCase, config: PlatformConfig, trials: readonly Trial[]): Promise<void> {
  const host = new HostClient(vc.model.host as NonNullable<typeof vc.model.host>);
  const devs = passthroughDevices(config);
  const iommuOf = (i: number): HostIommuConfig => {
    const id = devs[i]?.host?.iommu;
    const found = config.hostIommus.find((h) => h.id === id);
    if (found === undefined) throw new Error(`passed-through device ${i} has no host IOMMU`);
    return found;
  };
  // [HOST-ERRATA-3] GET_HW_INFO's VT-d flags report the errata.
  for (const [i, d] of devs.entries()) {
    const info = await host.getHwInfo(d.devId);
    const step = vc.check();
    const flag = ((info.value?.flags ?? 0) & HwInfoVtdFlags.ERRATA_772415_SPR17) !== 0;
    if (info.errno !== 0 || flag !== iommuOf(i).errata772415)
      failCase(
        `GET_HW_INFO of host device ${d.devId}: ERRATA_772415_SPR17 ${flag ? "set" : "clear"}, its IOMMU ${iommuOf(i).id} ${iommuOf(i).errata772415 ? "has" : "does not have"} the errata`,
        {
          step,
          observed: info.errno === 0 ? Number(flag) : errnoName(info.errno),
          permitted: Number(iommuOf(i).errata772415),
        },
      );
  }
  const checked = async (what: string, p: Promise<{ errno: number; value?: number | bigint }>) => {
    const r = await p;
    if (r.errno !== 0)
      failCase(`${what} gave ${errnoName(r.errno)}`, {
        step: vc.check(),
        observed: errnoName(r.errno),
        permitted: "0",
      });
    return r.value as number;
  };
  for (const t of trials) {
    const o = t.owner % devs.length;
    const j = t.joiner === null ? null : t.joiner % devs.length;
    const owner = iommuOf(o);
    const ownerId = o + 1;
    vc.note(
      `trial: ${t.order}, nest parent for host device ${ownerId} (IOMMU ${owner.id}${owner.errata772415 ? ", errata" : ""})${j === null ? "" : `, device ${j + 1} joins${t.nested ? " through a nested HWPT" : ""}`}`,
    );
    const ioas = await checked("IOAS_ALLOC", host.ioasAlloc());
    const s2: Stage2State = {
      owner,
      nestParent: true,
      enforcing: owner.snoopControl,
      hasMappings: true,
      readOnly: t.order === "alloc-after",
      through: [],
    };
    if (t.order === "alloc-after") {
      await checked(
        "IOAS_MAP of a read-only page into an IOAS without HWPTs",
        host.ioasMap(ioas, IOVA_RO, PAGE_GPA, 0x1000n, false),
      );
      const h = await host.hwptAllocPaging(ownerId, ioas, { nestParent: true, pasid: true });
      const step = vc.check();
      // [HOST-ERRATA-1] [HOST-HWPT-2] no errata nest parent over an IOAS that holds a read-only mapping.
      const refused = refusesReadOnly({ ...s2, through: [] });
      if (refused !== (h.errno === Errno.EINVAL) || (!refused && h.errno !== 0))
        failCase(
          `HWPT_ALLOC of a nest parent for host device ${ownerId} over a read-only mapping gave ${errnoName(h.errno)}; ${refused ? "its IOMMU has the errata: EINVAL" : "its IOMMU has no errata: it must succeed"}`,
          { step, observed: errnoName(h.errno), permitted: refused ? "EINVAL" : "0" },
        );
      if (refused) {
        // The errata concerns nest parents only: a plain paging HWPT takes the read-only mapping.
        await checked(
          `HWPT_ALLOC of a plain paging HWPT for host device ${ownerId} over a read-only mapping`,
          host.hwptAllocPaging(ownerId, ioas, { pasid: true }),
        );
        continue;
      }
      if (j !== null) await join(t, h.value as number, j, s2);
    } else {
      await checked("IOAS_MAP of a writable page", host.ioasMap(ioas, IOVA_W, PAGE_GPA, 0x1000n));
      const parent = await checked(
        `HWPT_ALLOC of a nest parent for host device ${ownerId}`,
        host.hwptAllocPaging(ownerId, ioas, { nestParent: true, pasid: true }),
      );
      if (j !== null) await join(t, parent, j, s2);
      const r = await host.ioasMap(ioas, IOVA_RO, PAGE_GPA, 0x1000n, false);
      const step = vc.check();
      const refused = refusesReadOnly(s2);
      const through = s2.through.map((i) => i.id).join(", ");
      if (refused && r.errno !== Errno.EINVAL)
        failCase(
          `IOAS_MAP of a read-only page into the IOAS of nest parent ${parent} (allocated for IOMMU ${owner.id}${through === "" ? "" : `, attached through ${through}`}) gave ${errnoName(r.errno)}, but an errata IOMMU serves it [HOST-ERRATA-1]`,
          { step, observed: errnoName(r.errno), permitted: "EINVAL" },
        );
      if (!refused && r.errno !== 0)
        failCase(
          `IOAS_MAP of a read-only page into a nest parent no errata IOMMU serves gave ${errnoName(r.errno)}`,
          {
            step,
            observed: errnoName(r.errno),
            permitted: "0",
          },
        );
      // Writable mappings are never affected.
      await checked(
        "IOAS_MAP of another writable page",
        host.ioasMap(ioas, IOVA_W2, PAGE_GPA + 0x1000n, 0x1000n),
      );
    }
  }

  /** Device j's RID joins the nest parent, directly or through a nested HWPT the owner allocates. */
  async function join(t: Trial, parent: number, j: number, s2: Stage2State): Promise<Acceptance> {
    const joiner = iommuOf(j);
    const target = t.nested
      ? await checked(
          `HWPT_ALLOC of a nested HWPT on nest parent ${parent}`,
          host.hwptAllocNested((t.owner % devs.length) + 1, parent, S1_PTR, { pasid: true }),
        )
      : parent;
    if (t.nested) {
      // [HOST-HWPT-10] a nest parent cannot be destroyed while a nested HWPT is built on it.
      const errno = await host.destroy(parent);
      if (errno !== Errno.EBUSY)
        failCase(`DESTROY of nest parent ${parent} under nested HWPT ${target} gave ${errnoName(errno)}`, {
          step: vc.check(),
          observed: errnoName(errno),
          permitted: "EBUSY",
        });
    }
    const a = hostAccepts(s2, joiner);
    const r = await host.attach(j + 1, undefined, target);
    expectAcceptance(
      `host device ${j + 1} (IOMMU ${joiner.id}${joiner.errata772415 ? ", errata" : ""}) joins ${t.nested ? `nested HWPT ${target} on ` : ""}nest parent ${parent}${s2.readOnly ? " whose IOAS holds a read-only mapping" : ""}`,
      r.errno,
      a,
      vc.check(),
    );
    joined(s2, joiner, a);
    return a;
  }
}

/** Same guest tables on every device; an emulated and a passed-through device agree where the rules allow. */
async function guestAgrees(
  vc: VmmCase,
  config: PlatformConfig,
  v: {
    tables: Parameters<typeof VmmWorld.build>[2];
    entries: Array<{ table: number; passThrough: boolean } | null>;
    requests: Array<{ pasid: number; slot: number; offset: number; write: boolean }>;
  },
): Promise<void> {
  const world = await VmmWorld.build(vc, config, v.tables);
  const all = config.devices.map((_, i) => i);
  const pasids = [0, ...VMM_PASIDS];
  for (const [i, e] of v.entries.entries()) {
    if (e === null) continue;
    const did = didFor(e);
    vc.note(
      `every device: PASID ${pasids[i]} → ${e.passThrough ? "pass-through" : `table ${e.table}`} DID ${did}`,
    );
    await world.run({
      op: "set",
      devs: all,
      pasid: pasids[i] as number,
      did,
      table: e.table,
      passThrough: e.passThrough,
      sre: false,
    });
  }
  vc.note("global PASID-cache and IOTLB invalidation, wait");
  await world.run({ op: "pasid-cache", g: "global", did: 0, pasid: 0, iotlb: true });
  const emulated = all.filter((i) => !world.isPassthrough(i));
  const passed = all.filter((i) => world.isPassthrough(i));
  const rom = config.memory.regions.find((r) => r.readOnly);
  const inRom = (gpa: number) =>
    rom !== undefined && gpa >= Number(rom.gpa) && gpa < Number(rom.gpa + rom.size);
  for (const r of v.requests) {
    const iova = slotIova(r.slot) + BigInt(r.offset);
    vc.note(
      `every device ${r.write ? "writes" : "reads"} slot ${r.slot}+0x${r.offset.toString(16)}${r.pasid === 0 ? "" : ` PASID ${r.pasid}`}`,
    );
    const ref = await world.dma(emulated[0] as number, r.pasid, iova, false, false);
    const refHit =
      ref.status === "ok" ? decodeFingerprint(ref.data ?? new Uint8Array(), Number(iova & 0xfffn)) : null;
    for (const dev of passed) {
      // The VmmCase judge checks each DMA against the oracle through this device's stage 2.
      const got = await world.dma(dev, r.pasid, iova, r.write, false);
      const step = vc.check();
      const s2 = vc.judge.stage2Of(world.sidOf(dev));
      if (s2 === undefined || refHit === null) continue;
      const who = `passed-through device 0x${world.sidOf(dev).toString(16)}`;
      const errata =
        config.hostIommus.find((h) => h.id === config.devices[dev]?.host?.iommu)?.errata772415 ?? false;
      // [VMM-S2-2] writes into the read-only region are blocked for every device.
      if (r.write && inRom(refHit.gpa) && got.status === "ok")
        failCase(`${who}: wrote the read-only region at GPA 0x${refHit.gpa.toString(16)}`, {
          step,
          observed: "completed",
          permitted: "aborted",
        });
      if (r.write) continue;
      const allowed = stage2Allows(s2, refHit.gpa, 8, false);
      if (!allowed && got.status === "ok")
        failCase(
          `${who}: read GPA 0x${refHit.gpa.toString(16)} in the read-only region, which the VMM must leave out of an errata IOMMU's nest parent [VMM-S2-4]`,
          { step, observed: "completed", permitted: "aborted" },
        );
      if (allowed && got.status !== "ok")
        failCase(
          `${who}${errata ? " (errata IOMMU)" : ""}: blocked a read the emulated device makes at GPA 0x${refHit.gpa.toString(16)}${inRom(refHit.gpa) ? " (read-only region)" : ""}`,
          { step, observed: "aborted", permitted: `completes at GPA 0x${refHit.gpa.toString(16)}` },
        );
      if (allowed && got.status === "ok") {
        const hit = decodeFingerprint(got.data ?? new Uint8Array(), Number(iova & 0xfffn));
        if (hit?.gpa !== refHit.gpa)
          failCase(
            `${who}: read ${hit === null ? "data with no fingerprint" : `GPA 0x${hit.gpa.toString(16)}`}, the emulated device reads 0x${refHit.gpa.toString(16)}`,
            { step },
          );
      }
    }
  }
}

export const errata772415: PropertyDefinition = {
  id: "errata-772415",
  title:
    "no read-only mapping in a nest parent an ERRATA_772415 IOMMU serves, and the VMM still presents a correct guest (read-only regions left out)",
  rules: [
    "HOST-ERRATA-1",
    "HOST-ERRATA-2",
    "HOST-ERRATA-3",
    "HOST-HWPT-2",
    "HOST-HWPT-10",
    "HOST-HWPT-33",
    "VMM-S2-2",
    "VMM-S2-4",
    "VMM-S2-7",
    "VMM-S2-9",
    "VMM-S2-10",
    "VMM-BIND-2",
    "VMM-BIND-3",
  ],
  needs(d) {
    const p = vmmProblem(d);
    if (p !== null) return p;
    if (!d.supports.hostSurface) return "the model has no host surface (iommufd ioctls)";
    return null;
  },
  run(ctx) {
    const skip = withoutDeviceFiles(ctx);
    if (skip !== undefined) return skip;
    const input = errataVmArb(ctx.description).chain((config) =>
      fc.record({
        config: fc.constant(config),
        trials: fc.array(trialArb, { minLength: 2, maxLength: 5 }),
        tables: tablePlansArb(true),
        entries: fc.array(entryArb, { minLength: 1 + VMM_PASIDS.length, maxLength: 1 + VMM_PASIDS.length }),
        requests: fc.array(requestArb, { minLength: 6, maxLength: 16 }),
      }),
    );
    return runVmmCases(ctx, input, async (vc, v) => {
      vc.note(
        `IOMMUs ${v.config.hostIommus.map((h) => `${h.id}${h.errata772415 ? " (errata)" : ""}`).join(", ")}; passed-through devices ${passthroughDevices(
          v.config,
        )
          .map((d) => `${d.devId}@${d.host?.iommu}`)
          .join(", ")}`,
      );
      try {
        await vc.model.reset(v.config);
      } catch (e) {
        failCase(`the VMM refused a VM whose host IOMMUs cover the vIOMMU: ${(e as Error).message}`, {
          step: vc.check(),
          observed: (e as Error).message,
          permitted: "accepted",
        });
      }
      await hostTrials(vc, v.config, v.trials);
      // A fresh VM for the guest: the trials' objects and attachments are gone with the reset.
      await guestAgrees(vc, v.config, v);
    });
  },
  judge: (trace) => vmmJudge(trace),
};
