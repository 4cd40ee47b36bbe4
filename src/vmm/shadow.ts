/**
 * Second-stage shadowing for passed-through devices in legacy mode or with a second-stage-only
 * PASID entry: the VMM walks the guest's second-stage table (IOVA → GPA) and maps each leaf into
 * a host IOAS as IOVA → the host memory behind that GPA, intersecting the guest permissions with
 * the region's. Caching mode (checked at reset) guarantees the guest invalidates after every
 * change, and the VMM rebuilds on each covering invalidation. spec/vmm.md, VMM-SHADOW-*.
 */

import { readU64 } from "../memory/physical-memory.ts";
import { ssReservedBits } from "../spec/paging-entry.ts";
import type { GuestMemoryView } from "./guest-memory.ts";
import type { HostIo } from "./host-io.ts";

/** [VMM-SHADOW-4] Bounds on one shadow walk: arbitrary guest tables cannot make it unbounded. */
export const SHADOW_MAX_TABLES = 4096;
export const SHADOW_MAX_MAPPINGS = 16384;

export interface ShadowParams {
  ssptptr: number;
  levels: 3 | 4 | 5;
  inputWidth: number;
}

/** A host mapping the shadow wants: IOVA → HPA, bytes, permissions. */
export interface ShadowMapping {
  iova: bigint;
  hpa: bigint;
  length: bigint;
  read: boolean;
  write: boolean;
}

export interface ShadowCaps {
  haw: number;
  snoopControl: boolean;
  largePages: { twoMiB: boolean; oneGiB: boolean };
}

const INTERRUPT_LO = 0xfee0_0000;
const INTERRUPT_HI = 0xfef0_0000;

/**
 * [VMM-SHADOW-3] The mappings a guest second-stage table gives, or a reason it cannot be
 * shadowed within the bounds. Entries that would fault (not present, reserved bits set, outside
 * memory, no cumulative permission) give no mapping, so the host blocks those DMAs too.
 */
export function shadowMappings(
  mem: GuestMemoryView,
  p: ShadowParams,
  caps: ShadowCaps,
): { ok: true; mappings: ShadowMapping[] } | { ok: false; reason: string } {
  const out: ShadowMapping[] = [];
  let tables = 0;
  const limit = 2 ** p.inputWidth;
  const walk = (table: number, level: number, base: number, r: boolean, w: boolean): string | undefined => {
    if (++tables > SHADOW_MAX_TABLES) return `more than ${SHADOW_MAX_TABLES} second-stage tables`;
    const span = 2 ** (12 + 9 * (level - 1));
    for (let i = 0; i < 512; i++) {
      const iova = base + i * span;
      if (iova >= limit) break;
      const ea = table + i * 8;
      if (!mem.contains(ea, 8)) return undefined; // the walk faults: nothing below is reachable
      const e = readU64(mem, ea);
      if ((e & 3n) === 0n) continue;
      if (ssReservedBits(e, level as 1 | 2 | 3 | 4 | 5, caps) !== 0n) continue;
      const er = r && (e & 1n) === 1n;
      const ew = w && (e & 2n) === 2n;
      const addr = Number(e & 0x000f_ffff_ffff_f000n);
      const leaf = level === 1 || ((level === 2 || level === 3) && (e & 0x80n) !== 0n);
      if (!leaf) {
        const why = walk(addr, level - 1, iova, er, ew);
        if (why !== undefined) return why;
        continue;
      }
      if (!er && !ew) continue;
      const why = addLeaf(mem, out, iova, addr, span, er, ew);
      if (why !== undefined) return why;
    }
    return undefined;
  };
  const why = walk(p.ssptptr, p.levels, 0, true, true);
  return why === undefined ? { ok: true, mappings: out } : { ok: false, reason: why };
}

/** Map one guest leaf: only its parts in guest memory, writes only where the region allows. */
function addLeaf(
  mem: GuestMemoryView,
  out: ShadowMapping[],
  iova: number,
  gpa: number,
  size: number,
  read: boolean,
  write: boolean,
): string | undefined {
  for (const s of mem.slots) {
    const lo = Math.max(gpa, s.gpa);
    const hi = Math.min(gpa + size, s.gpa + s.size);
    if (lo >= hi) continue;
    // [VMM-SHADOW-3] neither the IOVA nor the output may be the interrupt range (the vIOMMU faults both).
    for (const [a, b] of cutInterrupt(lo, hi, iova - gpa)) {
      const w = write && !s.readOnly;
      if (!read && !w) continue;
      const m: ShadowMapping = {
        iova: BigInt(iova + (a - gpa)),
        hpa: BigInt(s.hpa + (a - s.gpa)),
        length: BigInt(b - a),
        read,
        write: w,
      };
      const prev = out[out.length - 1];
      if (
        prev !== undefined &&
        prev.iova + prev.length === m.iova &&
        prev.hpa + prev.length === m.hpa &&
        prev.read === m.read &&
        prev.write === m.write
      ) {
        prev.length += m.length;
      } else {
        if (out.length >= SHADOW_MAX_MAPPINGS) return `more than ${SHADOW_MAX_MAPPINGS} shadow mappings`;
        out.push(m);
      }
    }
  }
  return undefined;
}

/** [lo, hi) GPA pieces whose GPA and IOVA (gpa + delta) avoid the interrupt range. */
function cutInterrupt(lo: number, hi: number, delta: number): Array<[number, number]> {
  let pieces: Array<[number, number]> = [[lo, hi]];
  for (const shift of [0, delta]) {
    const next: Array<[number, number]> = [];
    for (const [a, b] of pieces) {
      const ia = INTERRUPT_LO - shift;
      const ib = INTERRUPT_HI - shift;
      if (b <= ia || a >= ib) next.push([a, b]);
      else {
        if (a < ia) next.push([a, ia]);
        if (b > ib) next.push([ib, b]);
      }
    }
    pieces = next;
  }
  return pieces;
}

/** One shadow domain on the host: an IOAS and a paging HWPT on it. */
export class ShadowDomain {
  private constructor(
    private readonly io: HostIo,
    readonly ioasId: number,
    readonly hwptId: number,
  ) {}

  /**
   * IOAS_ALLOC and HWPT_ALLOC (paging, PASID-capable where the host has PASIDs; [VMM-SHADOW-6] never
   * a nest parent); errno on failure.
   */
  static create(io: HostIo, devId: number, pasid: boolean): ShadowDomain | number {
    const ioas = io.ioasAlloc();
    if (ioas.errno !== 0) return ioas.errno;
    const hwpt = io.hwptAllocPaging(devId, ioas.value as number, { nestParent: false, pasid });
    if (hwpt.errno !== 0) {
      io.destroy(ioas.value as number);
      return hwpt.errno;
    }
    return new ShadowDomain(io, ioas.value as number, hwpt.value as number);
  }

  /** Replace every mapping with these; returns the first errno (0 when all went in). */
  rebuild(mappings: readonly ShadowMapping[]): number {
    const e = this.io.ioasUnmapAll(this.ioasId);
    if (e !== 0) return e;
    for (const m of mappings) {
      const errno = this.io.ioasMap(this.ioasId, m.iova, m.hpa, m.length, m);
      if (errno !== 0) return errno;
    }
    return 0;
  }

  destroy(): void {
    this.io.destroy(this.hwptId);
    this.io.destroy(this.ioasId);
  }
}
