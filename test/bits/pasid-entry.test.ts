import { describe, expect, it } from "vitest";
import {
  anyBits,
  decodePasidDir,
  decodePasidEntry,
  encodePasidDir,
  encodePasidEntry,
  PGTT,
  pasidDirReserved,
  pasidEntryReserved,
} from "../../src/spec/pasid-entry.ts";
import { CAPS } from "./caps.ts";

describe("PASID directory and table entries", () => {
  it("[VTD-PASID-1] directory entry round trip", () => {
    const w = encodePasidDir({ present: true, fpd: true, ptp: 0x9000 });
    expect(w).toBe(0x9003n);
    expect(decodePasidDir(w)).toEqual({ present: true, fpd: true, ptp: 0x9000 });
  });

  it("[VTD-PASID-2] directory reserved bits: 11:2 and 63:HAW", () => {
    expect(pasidDirReserved(0x9001n, 46)).toBe(0n);
    expect(pasidDirReserved(0x9005n, 46)).toBe(4n);
    expect(pasidDirReserved((1n << 46n) | 1n, 46)).toBe(1n << 46n);
  });

  it("[VTD-PASID-3] table entry round trip and bit positions", () => {
    const e = {
      present: true,
      fpd: false,
      aw: 2,
      pgtt: PGTT.NESTED,
      ssade: false,
      ssptptr: 0x1_2345_6000,
      did: 0xbeef,
      pwsnp: true,
      pgsnp: false,
      sre: true,
      fspm: 1,
      wpe: true,
      eafe: true,
      fsptptr: 0xa000,
    };
    const w = encodePasidEntry(e);
    expect(w[0]).toBe(0x1_2345_6000n | (3n << 6n) | (2n << 2n) | 1n);
    expect(w[1]).toBe(0xbeefn | (1n << 23n));
    expect(w[2]).toBe(0xa000n | (1n << 7n) | (1n << 4n) | (1n << 2n) | 1n);
    expect(decodePasidEntry(w)).toEqual(e);
  });

  it("[VTD-PASID-4] table entry reserved bits: fixed ones and capability-gated fields", () => {
    const ok = encodePasidEntry({ present: true, pgtt: 1, fsptptr: 0x5000, did: 1, pwsnp: true, sre: true });
    expect(anyBits(pasidEntryReserved(ok, CAPS))).toBe(false);
    const flip = (word: number, bit: bigint) => {
      const w = [...ok];
      w[word] = (w[word] as bigint) | (1n << bit);
      return pasidEntryReserved(w, CAPS)[word];
    };
    for (const [word, bit] of [
      [0, 5n],
      [0, 10n],
      [0, 9n], // SSADE without SSADS
      [0, 47n],
      [1, 16n],
      [1, 24n], // PGSNP without SC
      [1, 25n], // CD without MTS
      [1, 40n], // PAT without MTS
      [2, 1n],
      [2, 9n],
      [3, 0n],
      [4, 0n], // HPT fields without HPTS
      [5, 3n],
      [7, 63n],
    ] as const) {
      expect(flip(word, bit)).toBe(1n << bit);
    }
    expect(flip(2, 6n)).toBe(0n); // ignored bits 134:133
    expect(anyBits(pasidEntryReserved(ok, { ...CAPS, srs: false }))).toBe(true);
    expect(anyBits(pasidEntryReserved(ok, { ...CAPS, smpwcs: false }))).toBe(true);
    expect(pasidEntryReserved(ok, { ...CAPS, fsts: false })[2]).toBe(0x5000n);
  });

  it("[VTD-PASID-4] SSADE (bit 9) is a field with SSTS and SSADS, reserved when either is 0", () => {
    const e = { present: true, pgtt: PGTT.SECOND_STAGE, aw: 2, ssptptr: 0x7000, did: 1, pwsnp: true };
    const on = encodePasidEntry({ ...e, ssade: true });
    expect((on[0] as bigint) & (1n << 9n)).toBe(1n << 9n);
    expect(decodePasidEntry(on).ssade).toBe(true);
    expect(anyBits(pasidEntryReserved(on, { ...CAPS, ssads: true }))).toBe(false);
    expect(pasidEntryReserved(on, CAPS)[0]).toBe(1n << 9n);
    expect(pasidEntryReserved(on, { ...CAPS, ssads: true, ssts: false })[0] & (1n << 9n)).toBe(1n << 9n);
    // A nested entry takes it too.
    const nested = encodePasidEntry({ ...e, pgtt: PGTT.NESTED, fsptptr: 0x8000, ssade: true });
    expect(anyBits(pasidEntryReserved(nested, { ...CAPS, ssads: true }))).toBe(false);
  });
});
