/**
 * [HARNESS-DRV-10] Invalidation descriptors as a Linux guest driver issues them (VT-d 5.10 §6.5.2), built as
 * src/spec/descriptor.ts values, and the sequences the specification asks for after each kind
 * of change (§6.5.3, §6.2.2.1, §6.2.3.1; Linux drivers/iommu/intel). The queue driver encodes
 * them for its width; register-based invalidation takes the context and IOTLB ones.
 */
import type { Descriptor } from "../spec/descriptor.ts";
import { PGTT } from "../spec/pasid-entry.ts";
import { DriverError } from "./errors.ts";

export type WaitDescriptor = Extract<Descriptor, { kind: "wait" }>;

/** Drain bits of IOTLB descriptors (honoured when CAP.DRD / CAP.DWD). */
export interface Drain {
  dr?: boolean;
  dw?: boolean;
}

// ---- single descriptors [VTD-QI-14] [VTD-QI-15]

export function contextGlobal(): Descriptor {
  return { kind: "context-cache", g: 1, did: 0, sid: 0, fm: 0 };
}

export function contextDomain(did: number): Descriptor {
  return { kind: "context-cache", g: 2, did, sid: 0, fm: 0 };
}

/** Device-selective; fm masks function-number bits (0 none, 1 bit 2, 2 bits 2:1, 3 bits 2:0). */
export function contextDevice(did: number, sid: number, fm = 0): Descriptor {
  return { kind: "context-cache", g: 3, did, sid, fm };
}

export function iotlbGlobal(drain: Drain = {}): Descriptor {
  return {
    kind: "iotlb",
    g: 1,
    dr: drain.dr ?? false,
    dw: drain.dw ?? false,
    did: 0,
    am: 0,
    ih: false,
    addr: 0n,
  };
}

export function iotlbDomain(did: number, drain: Drain = {}): Descriptor {
  return {
    kind: "iotlb",
    g: 2,
    dr: drain.dr ?? false,
    dw: drain.dw ?? false,
    did,
    am: 0,
    ih: false,
    addr: 0n,
  };
}

/** Page-selective-within-domain: 2^am pages at addr (aligned to 2^am pages); ih: only leaves changed. */
export function iotlbPage(did: number, addr: bigint, am: number, ih = false, drain: Drain = {}): Descriptor {
  return { kind: "iotlb", g: 3, dr: drain.dr ?? false, dw: drain.dw ?? false, did, am, ih, addr };
}

export function pasidCacheDomain(did: number): Descriptor {
  return { kind: "pasid-cache", g: 0, did, pasid: 0 };
}

export function pasidCachePasid(did: number, pasid: number): Descriptor {
  return { kind: "pasid-cache", g: 1, did, pasid };
}

export function pasidCacheGlobal(): Descriptor {
  return { kind: "pasid-cache", g: 3, did: 0, pasid: 0 };
}

export function pasidIotlbPasid(did: number, pasid: number): Descriptor {
  return { kind: "pasid-iotlb", g: 2, did, pasid, am: 0, ih: false, addr: 0n };
}

export function pasidIotlbPage(did: number, pasid: number, addr: bigint, am: number, ih = false): Descriptor {
  return { kind: "pasid-iotlb", g: 3, did, pasid, am, ih, addr };
}

/**
 * [VTD-QI-17] Device-TLB invalidation of `bytes` (a power of two >= 4 KiB) at addr, in the PCIe
 * ATS size encoding: S = 1 and the address bits below the size set to 1 up to the top one.
 */
export function deviceTlb(sid: number, addr: bigint, bytes = 4096n): Descriptor {
  return { kind: "device-tlb", sid, pfsid: 0, mip: 0, ...atsRange(addr, bytes) };
}

export function pasidDeviceTlb(sid: number, pasid: number, addr: bigint, bytes = 4096n): Descriptor {
  return { kind: "pasid-device-tlb", sid, pfsid: 0, mip: 0, pasid, gi: false, ...atsRange(addr, bytes) };
}

function atsRange(addr: bigint, bytes: bigint): { s: boolean; addr: bigint } {
  if (bytes < 4096n || (bytes & (bytes - 1n)) !== 0n)
    throw new DriverError("argument", `device-TLB range ${bytes} is not a power of two >= 4096`);
  const base = addr & ~(bytes - 1n);
  if (bytes === 4096n) return { s: false, addr: base };
  // Bits 12 .. log2(bytes)-2 set, bit log2(bytes)-1 clear: the lowest 0 bit gives the size.
  return { s: true, addr: base | ((bytes >> 1n) - 4096n) };
}

/** [VTD-QI-12] A wait descriptor with a status write (SW) and fence (FN), as Linux issues it. */
export function waitWithStatus(
  statusAddr: number | bigint,
  statusData: number,
  intr = false,
): WaitDescriptor {
  return {
    kind: "wait",
    intr,
    sw: true,
    fn: true,
    pd: false,
    statusData: statusData >>> 0,
    statusAddr: BigInt(statusAddr),
  };
}

/** A wait descriptor that does nothing (no status write, no interrupt): a harmless queue filler. */
export function waitNop(): WaitDescriptor {
  return { kind: "wait", intr: false, sw: false, fn: false, pd: false, statusData: 0, statusAddr: 0n };
}

// ---- address masks

/**
 * The smallest address mask whose naturally aligned block of 2^am pages holds `pages` pages from
 * addr (Linux computes the same for page-selective invalidation), with the aligned base.
 */
export function addressMask(addr: bigint, pages: bigint): { addr: bigint; am: number } {
  if (pages < 1n) throw new DriverError("argument", `invalidate ${pages} pages`);
  const first = addr >> 12n;
  const last = first + pages - 1n;
  let am = 0;
  while (first >> BigInt(am) !== last >> BigInt(am)) am++;
  return { addr: (first >> BigInt(am)) << BigInt(12 + am), am };
}

export interface RangeOptions {
  /** Only leaves changed (IH = 1). */
  ih?: boolean;
  /** CAP.MAMV: a larger mask falls back to the domain- or PASID-selective form. */
  mamv: number;
  /** CAP.PSI: without it, page-selective IOTLB invalidation is not offered. */
  psi?: boolean;
  drain?: Drain;
}

/** IOTLB invalidation for a range of a second-stage (or pass-through) domain. */
export function iotlbRange(did: number, addr: bigint, pages: bigint, o: RangeOptions): Descriptor {
  const m = addressMask(addr, pages);
  if (o.psi === false || m.am > o.mamv) return iotlbDomain(did, o.drain);
  return iotlbPage(did, m.addr, m.am, o.ih ?? false, o.drain);
}

/** PASID-IOTLB invalidation for a range of a first-stage (or nested) PASID. */
export function pasidIotlbRange(
  did: number,
  pasid: number,
  addr: bigint,
  pages: bigint,
  o: RangeOptions,
): Descriptor {
  const m = addressMask(addr, pages);
  if (m.am > o.mamv) return pasidIotlbPasid(did, pasid);
  return pasidIotlbPage(did, pasid, m.addr, m.am, o.ih ?? false);
}

// ---- sequences after a change (the specification's guidance, as Linux follows it)

/** After a new root-table pointer without ESRTPS: everything, globally (§6.6). */
export function afterRootTableChange(scalable: boolean): Descriptor[] {
  return scalable ? [contextGlobal(), pasidCacheGlobal(), iotlbGlobal()] : [contextGlobal(), iotlbGlobal()];
}

/**
 * After a legacy context entry changed: device-selective context-cache invalidation, then the
 * domain's IOTLB (Linux: flush_context DEVICE, then flush_iotlb DSI), then the device-TLB.
 */
export function afterLegacyContextChange(sid: number, did: number, devTlb = false): Descriptor[] {
  const out = [contextDevice(did, sid), iotlbDomain(did)];
  if (devTlb) out.push(deviceTlb(sid, 0n, 1n << 64n));
  return out;
}

/**
 * After a scalable-mode context entry changed: device-selective context-cache invalidation, then
 * for each DID of its present PASID entries the domain's PASID cache and IOTLB, then the
 * device-TLB (§6.2.2.1; Linux intel_context_flush_present).
 */
export function afterScalableContextChange(
  sid: number,
  dids: readonly number[],
  devTlb = false,
): Descriptor[] {
  const out: Descriptor[] = [contextDevice(0, sid)];
  for (const did of dids) out.push(pasidCacheDomain(did), iotlbDomain(did));
  if (devTlb) out.push(deviceTlb(sid, 0n, 1n << 64n));
  return out;
}

/**
 * After a present PASID entry was torn down or modified: PASID-selective PASID-cache
 * invalidation, then the IOTLB by the kind of translation the entry had (first-stage and
 * pass-through: PASID-selective PASID-IOTLB; second-stage and nested: the domain's IOTLB), then the
 * device-TLB for that PASID (§6.2.3.1; Linux intel_pasid_tear_down_entry).
 */
export function afterPasidEntryChange(
  did: number,
  pasid: number,
  pgtt: number,
  devTlb?: { sid: number },
): Descriptor[] {
  const out: Descriptor[] = [pasidCachePasid(did, pasid)];
  if (pgtt === PGTT.FIRST_STAGE || pgtt === PGTT.PASS_THROUGH) out.push(pasidIotlbPasid(did, pasid));
  else out.push(iotlbDomain(did));
  if (devTlb !== undefined) out.push(pasidDeviceTlb(devTlb.sid, pasid, 0n, 1n << 64n));
  return out;
}

/**
 * After a not-present PASID entry became present: nothing unless caching mode (CM = 1), where
 * not-present entries may be cached: PASID-selective PASID cache and PASID-IOTLB (§6.2.3.1).
 */
export function afterNewPasidEntry(did: number, pasid: number, cachingMode: boolean): Descriptor[] {
  return cachingMode ? [pasidCachePasid(did, pasid), pasidIotlbPasid(did, pasid)] : [];
}

/** A short human-readable name of a descriptor, for error messages and reports. */
export function describeDescriptor(d: Descriptor): string {
  const h = (v: bigint) => `0x${v.toString(16)}`;
  switch (d.kind) {
    case "context-cache":
      return d.g === 1
        ? "context-cache global"
        : d.g === 2
          ? `context-cache domain did=${d.did}`
          : `context-cache device did=${d.did} sid=${h(BigInt(d.sid))} fm=${d.fm}`;
    case "iotlb":
      return d.g === 1
        ? "iotlb global"
        : d.g === 2
          ? `iotlb domain did=${d.did}`
          : `iotlb page did=${d.did} addr=${h(d.addr)} am=${d.am} ih=${d.ih ? 1 : 0}`;
    case "pasid-cache":
      return d.g === 3
        ? "pasid-cache global"
        : d.g === 0
          ? `pasid-cache domain did=${d.did}`
          : `pasid-cache pasid did=${d.did} pasid=${d.pasid}`;
    case "pasid-iotlb":
      return d.g === 2
        ? `pasid-iotlb pasid did=${d.did} pasid=${d.pasid}`
        : `pasid-iotlb page did=${d.did} pasid=${d.pasid} addr=${h(d.addr)} am=${d.am} ih=${d.ih ? 1 : 0}`;
    case "device-tlb":
      return `device-tlb sid=${h(BigInt(d.sid))} addr=${h(d.addr)} s=${d.s ? 1 : 0}`;
    case "pasid-device-tlb":
      return `pasid-device-tlb sid=${h(BigInt(d.sid))} pasid=${d.pasid} addr=${h(d.addr)} s=${d.s ? 1 : 0}`;
    case "iec":
      return `iec ${d.g ? `index=${d.iidx}` : "global"}`;
    case "wait":
      return `wait${d.sw ? ` status=${h(d.statusAddr)}:${d.statusData}` : ""}${d.intr ? " if" : ""}${d.fn ? " fn" : ""}`;
  }
}
