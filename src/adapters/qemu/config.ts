/**
 * From a PlatformConfig to a QEMU machine, and back from CAP/ECAP to what QEMU offers
 * [QEMU-CONF-1..4]. A configuration QEMU cannot take is rejected with every reason found.
 */

import type { PlatformConfig, PlatformLimits, VIommuConfig } from "../../contract/types.ts";
import { bit, field } from "../../spec/word.ts";
import type { MachineSpec } from "./machine.ts";
import { flavourOf, type QemuFlavour, type QemuInstall } from "./process.ts";

const MiB = 1024n * 1024n;
/** q35 keeps all RAM below 4 GiB up to this size; above it RAM is split around the PCI hole. */
export const MAX_GUEST_MEMORY = 0xb000_0000n;
/** 0xa0000-0xfffff is not RAM on q35 (VGA window, option ROMs, BIOS alias) [QEMU-CONF-3]. */
export const LEGACY_HOLE = { start: 0xa0000n, end: 0x100000n };
export const MAX_EDU_DEVICES = 8;
/** Device/function numbers edu devices can take on bus 0: slots 1 to 0x1e [QEMU-CONF-1]. */
export const EDU_DEVFNS: readonly number[] = Array.from({ length: 0x1e * 8 }, (_, i) => 8 + i);

/**
 * What configurations this QEMU can present, for generators [QEMU-CONF-4]: the option
 * combinations of each mode with QEMU's fixed capabilities (`probe`: CAP/ECAP of a default
 * machine), edu's SIDs, and the q35 legacy hole.
 */
export function platformLimits(f: QemuFlavour, probe: VIommuConfig): PlatformLimits {
  const fixed: Partial<VIommuConfig> = {
    nested: false,
    faultRecords: probe.faultRecords,
    ssLargePages: probe.ssLargePages,
    fl5lp: false,
    extendedAccessed: false,
    // QEMU's intel-iommu reports no ECAP.SSADS, so SSADE is reserved there [QEMU-CONF-4].
    secondStageAccessedDirty: false,
    ...(f.ptProp ? {} : { passThrough: true }),
  };
  const viommu: Array<Partial<VIommuConfig>> = [];
  for (const aw of [39, 48] as const) {
    const width = { awBits: aw, hawBits: aw };
    viommu.push({ ...fixed, ...width, scalable: false, firstStage: false, supervisorRequests: false });
    if (f.scalableProp) {
      // Scalable mode with second-stage tables sets ECAP.SRS (7.2 and 11.1 alike).
      viommu.push({ ...fixed, ...width, scalable: true, firstStage: false, supervisorRequests: true });
    }
  }
  if (f.firstStage) {
    // fsts turns second-stage translation off and SRS with it; it needs aw-bits 48.
    viommu.push({
      ...fixed,
      awBits: 48,
      hawBits: 48,
      scalable: true,
      firstStage: true,
      secondStage: false,
      supervisorRequests: false,
    });
  }
  return {
    viommu,
    sids: [...EDU_DEVFNS],
    memoryHoles: [{ gpa: LEGACY_HOLE.start, size: LEGACY_HOLE.end - LEGACY_HOLE.start }],
  };
}

/** What CAP and ECAP say about the vIOMMU, in PlatformConfig terms [QEMU-CONF-2]. */
export function decodeViommuConfig(cap: bigint, ecap: bigint): VIommuConfig {
  const scalable = bit(ecap, 43);
  const mgaw = field(cap, 21, 16) + 1;
  const pasid = bit(ecap, 40);
  return {
    scalable,
    awBits: mgaw as 39 | 48 | 57,
    cachingMode: bit(cap, 7),
    firstStage: bit(ecap, 47),
    // Legacy mode always walks second-stage tables; scalable mode says so in ECAP.SSTS.
    secondStage: scalable ? bit(ecap, 46) : true,
    nested: bit(ecap, 26),
    passThrough: bit(ecap, 6),
    pasidBits: pasid ? field(ecap, 39, 35) + 1 : 0,
    snoopControl: bit(ecap, 7),
    fs1gp: bit(cap, 56),
    fl5lp: bit(cap, 60),
    ssLargePages: { twoMiB: bit(cap, 34), oneGiB: bit(cap, 35) },
    // QEMU's output width is its aw-bits (the same number checks reserved bits).
    hawBits: mgaw,
    faultRecords: field(cap, 47, 40) + 1,
    supervisorRequests: bit(ecap, 31),
    extendedAccessed: bit(ecap, 34),
    secondStageAccessedDirty: bit(ecap, 45),
  };
}

/** JSON with object keys sorted, so field order does not make values differ. */
function sortedJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x !== null && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(
          Object.entries(x as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : x,
  );
}

/** SAGAW bit for a width: 39 → bit 9, 48 → bit 10, 57 → bit 11. */
function sagawHas(cap: bigint, awBits: number): boolean {
  const n = awBits === 39 ? 9 : awBits === 48 ? 10 : awBits === 57 ? 11 : -1;
  return n > 0 && bit(cap, n);
}

/** Fields where the running QEMU differs from the config [QEMU-CONF-2]. Empty: it matches. */
export function registerMismatches(want: VIommuConfig, cap: bigint, ecap: bigint): string[] {
  const got = decodeViommuConfig(cap, ecap);
  const out: string[] = [];
  const cmp = (name: string, a: unknown, b: unknown) => {
    if (sortedJson(a) !== sortedJson(b))
      out.push(`${name}: asked ${JSON.stringify(a)}, QEMU has ${JSON.stringify(b)}`);
  };
  for (const key of Object.keys(want) as Array<keyof VIommuConfig>) {
    if (key === "awBits") continue;
    cmp(key, want[key], got[key]);
  }
  if (got.awBits !== want.awBits || !sagawHas(cap, want.awBits)) {
    out.push(
      `awBits: asked ${want.awBits}, QEMU has MGAW ${got.awBits} and SAGAW 0x${field(cap, 12, 8).toString(16)}`,
    );
  }
  return out;
}

export type SpecResult = { ok: true; spec: MachineSpec } | { ok: false; reasons: string[] };

/**
 * The machine for a config, or every reason it cannot be built [QEMU-CONF-1][QEMU-CONF-3].
 * Only what QEMU's options can express is checked here; the rest (fixed capabilities) is
 * checked against CAP/ECAP once QEMU runs.
 */
export function machineSpecFor(install: QemuInstall, config: PlatformConfig): SpecResult {
  const v = config.viommu;
  const f = flavourOf(install.features);
  const reasons: string[] = [];
  if (v.awBits !== 39 && v.awBits !== 48)
    reasons.push(`awBits ${v.awBits}: QEMU's intel-iommu offers 39 and 48`);
  if (v.scalable && !f.scalableProp) reasons.push("scalable mode: not in this QEMU");
  if (v.firstStage && !f.firstStage) reasons.push("first-stage translation: not in this QEMU (no fsts)");
  if (v.firstStage && (!v.scalable || v.awBits !== 48))
    reasons.push("first stage needs scalable mode and awBits 48");
  if (v.nested) reasons.push("nested translation: QEMU's emulated intel-iommu does not offer it");
  if (v.pasidBits > 0 && !v.scalable) reasons.push("PASID support needs scalable mode");
  if (v.pasidBits > 0 && !f.pasidProp) reasons.push("PASID support: not in this QEMU");
  if (!v.passThrough && !f.ptProp) reasons.push("passThrough false: this QEMU always offers pass-through");
  if (v.fs1gp && !f.fs1gp) reasons.push("fs1gp: not in this QEMU");
  if (v.secondStageAccessedDirty === true)
    reasons.push("secondStageAccessedDirty: no SSADS in QEMU's intel-iommu");
  if (v.hawBits !== v.awBits)
    reasons.push(`hawBits ${v.hawBits}: QEMU's output width equals awBits (${v.awBits})`);
  if (config.hostIommus.length > 0) reasons.push("host IOMMUs: the qemu adapter has no host surface");
  reasons.push(...deviceReasons(config), ...memoryReasons(config));
  if (reasons.length > 0) return { ok: false, reasons };
  return {
    ok: true,
    spec: {
      iommu: {
        scalable: v.scalable,
        awBits: v.awBits as 39 | 48,
        cachingMode: v.cachingMode,
        firstStage: v.firstStage,
        pasidBits: v.pasidBits,
        snoopControl: v.snoopControl,
        passThrough: v.passThrough,
        fs1gp: v.fs1gp,
      },
      eduDevfns: config.devices.map((d) => d.sid),
      memMiB: Number((config.memory.size + MiB - 1n) / MiB),
    },
  };
}

function deviceReasons(config: PlatformConfig): string[] {
  const out: string[] = [];
  const seen = new Set<number>();
  if (config.devices.length === 0) out.push("no devices: the adapter needs at least one edu device");
  if (config.devices.length > MAX_EDU_DEVICES) out.push(`more than ${MAX_EDU_DEVICES} devices`);
  for (const d of config.devices) {
    const sid = `SID 0x${d.sid.toString(16)}`;
    if (d.kind !== "emulated") out.push(`${sid}: passed-through devices are not offered`);
    if (!Number.isInteger(d.sid) || d.sid < 0 || d.sid > 0xff) out.push(`${sid}: only bus 0 is offered`);
    else if (d.sid >> 3 === 0 || d.sid >> 3 === 0x1f)
      out.push(`${sid}: slots 0 and 0x1f hold q35's own devices`);
    if (seen.has(d.sid)) out.push(`${sid}: given twice`);
    seen.add(d.sid);
  }
  return out;
}

function memoryReasons(config: PlatformConfig): string[] {
  const out: string[] = [];
  const { size, regions } = config.memory;
  if (size < 2n * MiB || size > MAX_GUEST_MEMORY || size % MiB !== 0n) {
    out.push(`memory size 0x${size.toString(16)}: whole MiB from 2 MiB to 2816 MiB`);
  }
  for (const r of regions) {
    const name = `region 0x${r.gpa.toString(16)}+0x${r.size.toString(16)}`;
    if (r.readOnly) out.push(`${name}: read-only regions are not offered`);
    if (r.gpa < 0n || r.size <= 0n || r.gpa + r.size > size) out.push(`${name}: outside the memory size`);
    if (r.gpa < LEGACY_HOLE.end && r.gpa + r.size > LEGACY_HOLE.start) {
      out.push(`${name}: overlaps 0xa0000-0xfffff, which is not RAM on q35`);
    }
  }
  return out;
}
