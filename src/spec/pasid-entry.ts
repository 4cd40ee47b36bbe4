/**
 * Scalable-mode PASID directory entries (VT-d 5.10 §9.5, 8 bytes) and PASID table entries
 * (§9.6, 64 bytes = 8 words). See spec/pasid.md.
 */
import { aboveHaw, type EntryCaps } from "./entry-caps.ts";
import { mask } from "./word.ts";

const PTR = mask(63, 12);
const b = (v: boolean | undefined, n: number): bigint => (v ? 1n << BigInt(n) : 0n);
const bit = (w: bigint, n: number): boolean => ((w >> BigInt(n)) & 1n) === 1n;

export interface PasidDirEntry {
  present: boolean;
  fpd?: boolean;
  /** PASID table pointer. */
  ptp: number | bigint;
}

/** [VTD-PASID-1] Encode a PASID directory entry. */
export function encodePasidDir(e: PasidDirEntry, extra = 0n): bigint {
  return (BigInt(e.ptp) & PTR) | b(e.fpd, 1) | b(e.present, 0) | extra;
}

export function decodePasidDir(w: bigint): { present: boolean; fpd: boolean; ptp: number } {
  return { present: bit(w, 0), fpd: bit(w, 1), ptp: Number(w & mask(51, 12)) };
}

/** [VTD-PASID-2] Reserved bits of a present PASID directory entry: 11:2 and 63:HAW. */
export function pasidDirReserved(w: bigint, haw: number): bigint {
  return w & (mask(11, 2) | aboveHaw(haw));
}

/** PASID-granular translation types. */
export const PGTT = { FIRST_STAGE: 1, SECOND_STAGE: 2, NESTED: 3, PASS_THROUGH: 4 } as const;

export interface PasidEntry {
  present: boolean;
  fpd?: boolean;
  /** Second-stage AW: 1 = 39-bit/3-level, 2 = 48/4, 3 = 57/5. */
  aw?: number;
  /** PGTT, bits 8:6. */
  pgtt: number;
  ssade?: boolean;
  ssptptr?: number | bigint;
  did?: number;
  pwsnp?: boolean;
  pgsnp?: boolean;
  cd?: boolean;
  emte?: boolean;
  pat?: number;
  /** Supervisor requests enable. */
  sre?: boolean;
  /** First-stage paging mode: 0 = 4-level, 1 = 5-level. */
  fspm?: number;
  wpe?: boolean;
  eafe?: boolean;
  fsptptr?: number | bigint;
}

export type PasidEntryWords = [bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint];

/** [VTD-PASID-3] Encode a PASID table entry (eight words); `extra` bits are OR-ed in per word. */
export function encodePasidEntry(e: PasidEntry, extra: readonly bigint[] = []): PasidEntryWords {
  const w0 =
    (BigInt(e.ssptptr ?? 0) & PTR) |
    b(e.ssade, 9) |
    (BigInt(e.pgtt & 7) << 6n) |
    (BigInt((e.aw ?? 0) & 7) << 2n) |
    b(e.fpd, 1) |
    b(e.present, 0);
  const w1 =
    BigInt((e.did ?? 0) & 0xffff) |
    b(e.pwsnp, 23) |
    b(e.pgsnp, 24) |
    b(e.cd, 25) |
    b(e.emte, 26) |
    (BigInt((e.pat ?? 0) >>> 0) << 32n);
  const w2 =
    (BigInt(e.fsptptr ?? 0) & PTR) |
    b(e.eafe, 7) |
    b(e.wpe, 4) |
    (BigInt((e.fspm ?? 0) & 3) << 2n) |
    b(e.sre, 0);
  const out: PasidEntryWords = [w0, w1, w2, 0n, 0n, 0n, 0n, 0n];
  for (let i = 0; i < 8; i++) out[i] = (out[i] as bigint) | (extra[i] ?? 0n);
  return out;
}

export interface DecodedPasidEntry {
  present: boolean;
  fpd: boolean;
  aw: number;
  pgtt: number;
  ssade: boolean;
  ssptptr: number;
  did: number;
  pwsnp: boolean;
  pgsnp: boolean;
  sre: boolean;
  fspm: number;
  wpe: boolean;
  eafe: boolean;
  fsptptr: number;
}

export function decodePasidEntry(w: readonly bigint[]): DecodedPasidEntry {
  const w0 = w[0] ?? 0n;
  const w1 = w[1] ?? 0n;
  const w2 = w[2] ?? 0n;
  return {
    present: bit(w0, 0),
    fpd: bit(w0, 1),
    aw: Number((w0 >> 2n) & 7n),
    pgtt: Number((w0 >> 6n) & 7n),
    ssade: bit(w0, 9),
    ssptptr: Number(w0 & mask(51, 12)),
    did: Number(w1 & 0xffffn),
    pwsnp: bit(w1, 23),
    pgsnp: bit(w1, 24),
    sre: bit(w2, 0),
    fspm: Number((w2 >> 2n) & 3n),
    wpe: bit(w2, 4),
    eafe: bit(w2, 7),
    fsptptr: Number(w2 & mask(51, 12)),
  };
}

/**
 * [VTD-PASID-4] Reserved bits of a present PASID table entry, per word. Always reserved: bits 5,
 * 11:10, 86:80, 95:91, 129, 139:136, 255:192, 511:336 and pointer bits 63:HAW. Treated as reserved
 * without the capability: AW and SSPTPTR (SSTS), SSADE (SSTS and SSADS), PWSNP (SMPWC), PGSNP (SC),
 * CD/EMTE/PAT (MTS), SRE (SRS), FSPM/WPE/FSPTPTR (FSTS), EAFE (EAFS), the HPT fields (HPTS), and DID
 * bits above the domain-id width.
 */
export function pasidEntryReserved(w: readonly bigint[], caps: EntryCaps): PasidEntryWords {
  const haw = aboveHaw(caps.haw);
  const m0 =
    (1n << 5n) |
    mask(11, 10) |
    haw |
    (caps.ssts ? 0n : mask(63, 12) | mask(4, 2)) |
    b(!(caps.ssts && caps.ssads), 9);
  const m1 =
    mask(22, 16) |
    mask(31, 27) |
    (caps.domainIdBits >= 16 ? 0n : mask(15, caps.domainIdBits)) |
    b(!caps.smpwcs, 23) |
    b(!caps.sc, 24) |
    (caps.mts ? 0n : mask(26, 25) | mask(63, 32));
  const m2 =
    (1n << 1n) |
    mask(11, 8) |
    haw |
    b(!caps.srs, 0) |
    (caps.fsts ? 0n : mask(63, 12) | mask(4, 2)) |
    b(!caps.eafs, 7);
  const m4 = caps.hpts ? mask(11, 3) | haw : mask(63, 0);
  const m5 = caps.hpts ? mask(63, 16) : mask(63, 0);
  const all = mask(63, 0);
  const m = [m0, m1, m2, all, m4, m5, all, all];
  const out: PasidEntryWords = [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
  for (let i = 0; i < 8; i++) out[i] = (w[i] ?? 0n) & (m[i] as bigint);
  return out;
}

/** True when any word has a bit set. */
export function anyBits(words: readonly bigint[]): boolean {
  return words.some((x) => x !== 0n);
}
