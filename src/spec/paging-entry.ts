/**
 * First-stage and second-stage paging entries (VT-d 5.10 §9.7, §9.8): encoders for laying out
 * tables, decoders, and reserved-bit masks per level and configuration.
 * The walkers (src/paging) use the masks as 32-bit halves; see `reservedMaskHalves`.
 */
import { mask } from "./word.ts";

/** Paging levels: 1 = PTE (4 KiB), 2 = PDE (2 MiB leaf with PS), 3 = PDPE (1 GiB leaf with PS), 4, 5. */
export type PagingLevel = 1 | 2 | 3 | 4 | 5;

/** Shift of the input-address bits a level indexes: 12, 21, 30, 39, 48. */
export function levelShift(level: number): number {
  return 12 + 9 * (level - 1);
}

/** Low address bits a leaf at this level maps: 12 (4 KiB), 21 (2 MiB), 30 (1 GiB). */
export function pageShiftOfLevel(level: number): number {
  return levelShift(level);
}

// ---------------------------------------------------------------------------
// First stage [VTD-FS-*]

export const FS = {
  P: 0,
  RW: 1,
  US: 2,
  PWT: 3,
  PCD: 4,
  A: 5,
  D: 6,
  PS: 7,
  G: 8,
  EA: 10,
  /** PAT of a 2 MiB / 1 GiB leaf (bit 7 is PAT in a PTE). */
  PAT_LARGE: 12,
  /** XD: ignored for DMA in Rev 5.10 (bits 63:52 are ignored). */
  XD: 63,
} as const;

export interface FsEntryFields {
  present?: boolean;
  /** R/W: write allowed (user requests, and supervisor ones with WPE). */
  write?: boolean;
  /** U/S: user requests allowed. */
  user?: boolean;
  pwt?: boolean;
  pcd?: boolean;
  accessed?: boolean;
  dirty?: boolean;
  /** PS: leaf at level 2 or 3. */
  pageSize?: boolean;
  global?: boolean;
  extendedAccessed?: boolean;
  /** PAT (bit 7 in a PTE, bit 12 in a large leaf). */
  pat?: boolean;
  xd?: boolean;
  /** Physical (or, nested, guest-physical) address of the next table or page; must be aligned. */
  addr: number | bigint;
  /** Bits OR-ed in last, verbatim (to build deliberately bad entries). */
  extra?: bigint;
}

function addrBits(addr: number | bigint): bigint {
  return BigInt(addr) & mask(51, 12);
}

/** Encode a first-stage entry at `level` (level decides where PAT goes). */
export function encodeFsEntry(f: FsEntryFields, level: PagingLevel = 1): bigint {
  let w = addrBits(f.addr);
  const set = (on: boolean | undefined, b: number) => {
    if (on) w |= 1n << BigInt(b);
  };
  set(f.present ?? true, FS.P);
  set(f.write, FS.RW);
  set(f.user, FS.US);
  set(f.pwt, FS.PWT);
  set(f.pcd, FS.PCD);
  set(f.accessed, FS.A);
  set(f.dirty, FS.D);
  set(f.pageSize, FS.PS);
  set(f.global, FS.G);
  set(f.extendedAccessed, FS.EA);
  set(f.xd, FS.XD);
  if (f.pat) w |= 1n << BigInt(level === 1 ? FS.PS : FS.PAT_LARGE);
  return w | (f.extra ?? 0n);
}

export interface FsEntry {
  present: boolean;
  write: boolean;
  user: boolean;
  accessed: boolean;
  dirty: boolean;
  pageSize: boolean;
  extendedAccessed: boolean;
  /** Address field, bits 51:12 (for a large leaf, low bits are reserved and included as-is). */
  addr: number;
  /** True when the entry maps a page at this level. */
  leaf: boolean;
}

export function decodeFsEntry(w: bigint, level: PagingLevel): FsEntry {
  const b = (n: number) => ((w >> BigInt(n)) & 1n) === 1n;
  const ps = level !== 1 && b(FS.PS);
  return {
    present: b(FS.P),
    write: b(FS.RW),
    user: b(FS.US),
    accessed: b(FS.A),
    dirty: b(FS.D),
    pageSize: ps,
    extendedAccessed: b(FS.EA),
    addr: Number(w & mask(51, 12)),
    leaf: level === 1 || ((level === 2 || level === 3) && ps),
  };
}

export interface FsReservedOptions {
  /** Host address width: bits 51:haw are reserved. */
  haw: number;
  /** CAP.FS1GP: without it, PS in a PDPE is reserved. */
  fs1gp: boolean;
}

/**
 * [VTD-FS-4] Reserved bits of a present first-stage entry at `level`, given whether it is a large
 * leaf (PS = 1 at level 2/3). PS itself is reserved at levels 4/5, and at level 3 without FS1GP.
 */
export function fsReservedMask(level: PagingLevel, ps: boolean, o: FsReservedOptions): bigint {
  let m = o.haw < 52 ? mask(51, o.haw) : 0n;
  if (level >= 4) m |= 1n << BigInt(FS.PS);
  if (level === 3 && ps) m |= o.fs1gp ? mask(29, 13) : 1n << BigInt(FS.PS);
  if (level === 2 && ps) m |= mask(20, 13);
  return m;
}

/** Reserved bits set in a present first-stage entry (0n when none). */
export function fsReservedBits(w: bigint, level: PagingLevel, o: FsReservedOptions): bigint {
  const ps = level !== 1 && ((w >> 7n) & 1n) === 1n;
  return w & fsReservedMask(level, ps, o);
}

// ---------------------------------------------------------------------------
// Second stage [VTD-SS-*]

export const SS = {
  R: 0,
  W: 1,
  /** EMT 5:3, IPAT 6: memory type, ignored by this model (no MTS). */
  EMT_LO: 3,
  IPAT: 6,
  PS: 7,
  A: 8,
  D: 9,
  SNP: 11,
  /** IR/IW (Rev 5.10 second-stage I/O read/write): IW is reserved while not enabled, IR ignored. */
  IR: 61,
  IW: 62,
} as const;

export interface SsEntryFields {
  read?: boolean;
  write?: boolean;
  emt?: number;
  ipat?: boolean;
  pageSize?: boolean;
  accessed?: boolean;
  dirty?: boolean;
  snoop?: boolean;
  addr: number | bigint;
  /** Bits OR-ed in last, verbatim. */
  extra?: bigint;
}

export function encodeSsEntry(f: SsEntryFields): bigint {
  let w = addrBits(f.addr);
  const set = (on: boolean | undefined, b: number) => {
    if (on) w |= 1n << BigInt(b);
  };
  set(f.read, SS.R);
  set(f.write, SS.W);
  set(f.ipat, SS.IPAT);
  set(f.pageSize, SS.PS);
  set(f.accessed, SS.A);
  set(f.dirty, SS.D);
  set(f.snoop, SS.SNP);
  w |= BigInt((f.emt ?? 0) & 7) << BigInt(SS.EMT_LO);
  return w | (f.extra ?? 0n);
}

export interface SsEntry {
  read: boolean;
  write: boolean;
  /** R = W = 0: the entry is not present. */
  present: boolean;
  pageSize: boolean;
  accessed: boolean;
  dirty: boolean;
  snoop: boolean;
  addr: number;
  leaf: boolean;
}

export function decodeSsEntry(w: bigint, level: PagingLevel): SsEntry {
  const b = (n: number) => ((w >> BigInt(n)) & 1n) === 1n;
  const ps = (level === 2 || level === 3) && b(SS.PS);
  return {
    read: b(SS.R),
    write: b(SS.W),
    present: b(SS.R) || b(SS.W),
    pageSize: ps,
    accessed: b(SS.A),
    dirty: b(SS.D),
    snoop: b(SS.SNP),
    addr: Number(w & mask(51, 12)),
    leaf: level === 1 || ps,
  };
}

export interface SsReservedOptions {
  haw: number;
  /** ECAP.SC: without snoop control, SNP is reserved in leaves too. */
  snoopControl: boolean;
  /** CAP.SLLPS: 2 MiB and 1 GiB leaves. */
  largePages: { twoMiB: boolean; oneGiB: boolean };
}

/**
 * [VTD-SS-4] Reserved bits of a second-stage entry with R or W set, at `level`, given PS.
 * Bits 51:HAW and IW (62) everywhere; PS at levels 4/5, and at 3/2 without the page size;
 * SNP in non-leaves, and in leaves without snoop control; the low address bits of a large leaf.
 */
export function ssReservedMask(level: PagingLevel, ps: boolean, o: SsReservedOptions): bigint {
  let m = (o.haw < 52 ? mask(51, o.haw) : 0n) | (1n << BigInt(SS.IW));
  const leaf = level === 1 || ((level === 2 || level === 3) && ps);
  if (level >= 4) m |= 1n << BigInt(SS.PS);
  if (level === 3 && ps) m |= o.largePages.oneGiB ? mask(29, 12) : 1n << BigInt(SS.PS);
  if (level === 2 && ps) m |= o.largePages.twoMiB ? mask(20, 12) : 1n << BigInt(SS.PS);
  if (!leaf || !o.snoopControl) m |= 1n << BigInt(SS.SNP);
  return m;
}

/** Reserved bits set in a second-stage entry (0n when none, or when R = W = 0). */
export function ssReservedBits(w: bigint, level: PagingLevel, o: SsReservedOptions): bigint {
  if ((w & 3n) === 0n) return 0n;
  const ps = (level === 2 || level === 3) && ((w >> 7n) & 1n) === 1n;
  return w & ssReservedMask(level, ps, o);
}

// ---------------------------------------------------------------------------
// Masks as 32-bit halves for the walkers

/** Split a 64-bit mask into [lo, hi] 32-bit unsigned halves. */
export function reservedMaskHalves(m: bigint): [number, number] {
  return [Number(m & 0xffffffffn) >>> 0, Number((m >> 32n) & 0xffffffffn) >>> 0];
}
