/**
 * Shared fixtures for the surface-level scenarios: the reference model booted through
 * createReferenceModel, driven only through the platform surface with the guest-driver helpers
 * (memory, registers, DMA), and small helpers that judge a DMA and the fault record it left.
 */
import { expect } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { DmaRequest, Model, PlatformConfig, VIommuConfig } from "../../src/contract/types.ts";
import { GuestDriver } from "../../src/driver/driver.ts";
import type { RecordedFault } from "../../src/driver/faults.ts";
import { globalCommand } from "../../src/driver/registers.ts";
import { faultReasonName } from "../../src/spec/fault-reasons.ts";
import type { FaultRecord } from "../../src/spec/fault-record.ts";
import { Gcmd, Reg } from "../../src/spec/register-offsets.ts";

export const MIB = 1n << 20n;
/** Guest memory of every scenario: 64 MiB of RAM from 0. */
export const MEMORY_BYTES = 64n * MIB;
/** A page-aligned address beyond guest memory but below HAW (46 bits): any access there fails. */
export const OUTSIDE = 0x1000_0000;

/** Source ids used by the scenarios (bus << 8 | devfn). */
export const SID = {
  A: 0x0108,
  B: 0x0110,
  C: 0x0290,
  /** devfn 128 and up: the upper half of a scalable root entry. */
  UPPER: 0x0188,
} as const;

/** A scalable-capable unit with every translation type, nesting, 20-bit PASIDs and 8 fault records. */
export function viommu(over: Partial<VIommuConfig> = {}): VIommuConfig {
  return {
    scalable: true,
    awBits: 48,
    cachingMode: false,
    firstStage: true,
    secondStage: true,
    nested: true,
    passThrough: true,
    pasidBits: 20,
    snoopControl: true,
    fs1gp: true,
    fl5lp: true,
    ssLargePages: { twoMiB: true, oneGiB: true },
    hawBits: 46,
    faultRecords: 8,
    supervisorRequests: true,
    extendedAccessed: false,
    ...over,
  };
}

/** A legacy-only unit (no scalable mode, no PASID support). */
export const LEGACY_ONLY: Partial<VIommuConfig> = {
  scalable: false,
  firstStage: false,
  nested: false,
  pasidBits: 0,
  supervisorRequests: false,
  fs1gp: false,
  fl5lp: false,
};

export function platformConfig(over: Partial<VIommuConfig> = {}): PlatformConfig {
  const sids = [SID.A, SID.B, SID.C, SID.UPPER, 0x0109, 0x010a, 0x010c, 0x010f];
  return {
    viommu: viommu(over),
    devices: sids.map((sid) => ({ sid, kind: "emulated" as const })),
    memory: { size: MEMORY_BYTES, regions: [{ gpa: 0n, size: MEMORY_BYTES, readOnly: false }] },
    hostIommus: [],
  };
}

/** Reference adapter options: every cache off (context, PASID, IOTLB, paging-structure caches). */
export const CACHES_OFF: Record<string, string> = { context: "0", pasid: "0", iotlb: "0", psc: "0" };
/** The reference's default capacities: every cache on. */
export const CACHES_ON: Record<string, string> = {};

export interface Booted {
  model: Model;
  d: GuestDriver;
  config: PlatformConfig;
}

/** A fresh reference platform and a guest driver for it. */
export async function boot(
  over: Partial<VIommuConfig> = {},
  options: Record<string, string> = CACHES_ON,
): Promise<Booted> {
  const model = await createReferenceModel(options);
  const config = platformConfig(over);
  await model.reset(config);
  const d = await GuestDriver.create(model.platform, config.memory, { poll: { maxPolls: 20 } });
  return { model, d, config };
}

/** Write RTADDR with any TTM value (2 bits), then SRTP and wait for RTPS. */
export async function setRootRawTtm(d: GuestDriver, root: number, ttm: number): Promise<void> {
  await d.platform.writeReg(Reg.RTADDR, BigInt(root) | (BigInt(ttm & 3) << 10n), 8);
  await globalCommand(d.platform, Gcmd.SRTP, true);
}

/** What a fault record must hold; unspecified fields follow from the request [VTD-FAULT-5]. */
export interface ExpectedRecord {
  reason: number;
  /** FI; default: the request's address with bits 11:0 cleared. */
  fi?: bigint;
  /** PP / PV; default: the request's PASID when the unit supports PASIDs. */
  pasid?: number | null;
  priv?: boolean;
}

function expectedRecord(req: DmaRequest, e: ExpectedRecord, pasidSupported: boolean): FaultRecord {
  const pasid = e.pasid === undefined ? (pasidSupported ? req.pasid : undefined) : (e.pasid ?? undefined);
  return {
    f: true,
    t1: !req.write,
    t2: false,
    at: 0,
    pv: pasid ?? 0,
    fr: e.reason,
    pp: pasid !== undefined,
    exe: false,
    priv: e.priv ?? (pasid !== undefined && (req.priv ?? false)),
    sid: req.sid,
    fi: e.fi ?? req.iova & ~0xfffn,
  };
}

/** A DMA read or write of 8 bytes (zeros for a write). */
export function request(r: Omit<DmaRequest, "len" | "data"> & { len?: number }): DmaRequest {
  const len = r.len ?? 8;
  return { ...r, len, ...(r.write ? { data: new Uint8Array(len) } : {}) };
}

/**
 * [VTD-FAULT-5] [VTD-DMA-2] The request is aborted and leaves exactly one fault record, read
 * through FRCD, carrying the reason, SID, address, PASID, request type and privilege.
 */
export async function expectFault(
  d: GuestDriver,
  req: DmaRequest,
  e: ExpectedRecord,
): Promise<RecordedFault> {
  const r = await d.platform.dma(req);
  expect(r.status, `DMA ${describe(req)} should be aborted`).toBe("aborted");
  const { status, faults } = await d.readFaults();
  expect(status.ppf, "FSTS.PPF after the fault").toBe(true);
  expect(
    faults.map((f) => f.reason),
    "one record",
  ).toEqual([faultReasonName(e.reason)]);
  const f = faults[0] as RecordedFault;
  expect(f.record).toEqual(expectedRecord(req, e, d.caps.pasid));
  return f;
}

/** [VTD-CTX-7] The request is aborted and nothing is recorded (FSTS.PPF stays clear). */
export async function expectSilentAbort(d: GuestDriver, req: DmaRequest): Promise<void> {
  const r = await d.platform.dma(req);
  expect(r.status, `DMA ${describe(req)} should be aborted`).toBe("aborted");
  const { status, faults } = await d.readFaults();
  expect(faults).toEqual([]);
  expect(status.ppf).toBe(false);
  expect(status.pfo).toBe(false);
}

/** Where an 8-byte read lands: the fingerprinted page it reached, or "aborted". */
export async function landing(
  d: GuestDriver,
  req: Omit<DmaRequest, "write" | "data" | "len">,
): Promise<number | "aborted" | "unknown"> {
  const r = await d.dmaRead({ ...req, len: 8 });
  if (r.status === "aborted") return "aborted";
  return r.hit === null ? "unknown" : r.hit.page;
}

function describe(req: DmaRequest): string {
  const pasid = req.pasid === undefined ? "" : ` pasid ${req.pasid}${req.priv ? " priv" : ""}`;
  return `${req.write ? "write" : "read"} sid 0x${req.sid.toString(16)}${pasid} at 0x${req.iova.toString(16)}`;
}

// ---- invalidation scenarios: which translations are stale

/** The two cache settings every invalidation scenario runs under, with whether stale results may show. */
export const CACHE_SETTINGS = [
  { name: "caches on", options: CACHES_ON, cached: true },
  { name: "caches off", options: CACHES_OFF, cached: false },
] as const;

/** One DMA read whose target the scenario changed from `old` to `fresh` (fingerprinted pages). */
export interface Probe {
  name: string;
  sid: number;
  pasid?: number;
  iova: bigint;
  old: number;
  fresh: number;
}

/** Where each probe lands now: "old", "new", or what else happened. */
export async function observe(d: GuestDriver, probes: readonly Probe[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const p of probes) {
    const at = await landing(d, {
      sid: p.sid,
      iova: p.iova,
      ...(p.pasid === undefined ? {} : { pasid: p.pasid }),
    });
    out[p.name] = at === p.old ? "old" : at === p.fresh ? "new" : String(at);
  }
  return out;
}

/**
 * What observe must give: the probes an invalidation dropped read "new"; the others still read
 * "old" when caches are on, and "new" when they are off (nothing is ever stale then).
 */
export function expectedAfter(
  probes: readonly Probe[],
  dropped: readonly string[],
  cached: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of probes) out[p.name] = !cached || dropped.includes(p.name) ? "new" : "old";
  return out;
}
