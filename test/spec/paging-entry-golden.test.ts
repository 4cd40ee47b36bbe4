/**
 * Golden paging-entry field positions, typed from VT-d 5.10 §9.7 (Tables 37–40, first-stage
 * entries) and §9.8 (Figure 9-8, Table 41, second-stage entries): entries are written here bit by
 * bit from the tables and decoded by the codec the reference, the oracle and the driver share
 * (src/spec/paging-entry.ts).
 */
import { describe, expect, it } from "vitest";
import {
  decodeFsEntry,
  decodeSsEntry,
  encodeFsEntry,
  FS,
  fsReservedBits,
  SS,
  ssReservedBits,
} from "../../src/spec/paging-entry.ts";

describe("first-stage entries (§9.7, Tables 37-40)", () => {
  it("[VTD-FS-2] [VTD-FS-6] [VTD-FS-7] P 0, R/W 1, U/S 2, PWT 3, PCD 4, A 5, D 6, PS 7 (PAT in a PTE), G 8, EA 10, PAT 12 in a large leaf, ADDR (HAW-1):12", () => {
    expect(FS).toMatchObject({
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
      PAT_LARGE: 12,
    });
    // Table 40 PTE: P, R/W, U/S, A, D, EA set, address 0x12345000.
    const pte = 0x1234_5000n | (1n << 0n) | (1n << 1n) | (1n << 2n) | (1n << 5n) | (1n << 6n) | (1n << 10n);
    expect(decodeFsEntry(pte, 1)).toEqual({
      present: true,
      write: true,
      user: true,
      accessed: true,
      dirty: true,
      pageSize: false,
      extendedAccessed: true,
      addr: 0x1234_5000,
      leaf: true,
    });
    // Table 39 PDE referencing a page table: PS 0, R/W 0, U/S 1.
    expect(decodeFsEntry(0x5000n | 0b101n, 2)).toMatchObject({
      leaf: false,
      write: false,
      user: true,
      addr: 0x5000,
    });
    // Table 38 PDE mapping a 2 MiB page: PS 1.
    expect(decodeFsEntry(0x20_0000n | (1n << 7n) | 1n, 2)).toMatchObject({ leaf: true, pageSize: true });
    expect(
      encodeFsEntry(
        { addr: 0x1234_5000, write: true, user: true, accessed: true, dirty: true, extendedAccessed: true },
        1,
      ),
    ).toBe(pte);
  });

  it("[VTD-FS-4] reserved: 51:HAW in every present entry, 20:13 in a 2 MiB leaf, 29:13 in a 1 GiB leaf, PS in PML4E/PML5E", () => {
    const o = { haw: 39, fs1gp: true };
    expect(fsReservedBits(1n | (1n << 39n), 1, o)).toBe(1n << 39n);
    expect(fsReservedBits(1n | (1n << 51n), 1, o)).toBe(1n << 51n);
    expect(fsReservedBits(1n | (1n << 52n), 1, o)).toBe(0n); // 63:52 ignored
    expect(fsReservedBits(1n | (1n << 7n) | (1n << 13n), 2, o)).toBe(1n << 13n);
    expect(fsReservedBits(1n | (1n << 7n) | (1n << 20n), 2, o)).toBe(1n << 20n);
    expect(fsReservedBits(1n | (1n << 7n) | (1n << 29n), 3, o)).toBe(1n << 29n);
    expect(fsReservedBits(1n | (1n << 7n), 4, o)).toBe(1n << 7n);
    // Without 1-GByte pages, PS of a PDPE is reserved (§3.6).
    expect(fsReservedBits(1n | (1n << 7n), 3, { haw: 39, fs1gp: false })).toBe(1n << 7n);
  });
});

describe("second-stage entries (§9.8, Figure 9-8, Table 41)", () => {
  it("[VTD-SS-2] [VTD-SS-3] [VTD-SS-6] R 0, W 1, EMT 5:3, IPAT 6, PS 7, A 8, D 9, SNP 11, IR 61, IW 62", () => {
    expect(SS).toEqual({ R: 0, W: 1, EMT_LO: 3, IPAT: 6, PS: 7, A: 8, D: 9, SNP: 11, IR: 61, IW: 62 });
    const pte = 0x7_7000n | (1n << 0n) | (1n << 8n) | (1n << 9n) | (1n << 11n);
    expect(decodeSsEntry(pte, 1)).toMatchObject({
      read: true,
      write: false,
      present: true,
      accessed: true,
      dirty: true,
      snoop: true,
      addr: 0x7_7000,
      leaf: true,
    });
    expect(decodeSsEntry(0b10n, 3)).toMatchObject({ present: true, read: false, write: true, leaf: false });
    expect(decodeSsEntry(0n, 1).present).toBe(false); // R = W = 0
  });

  it("[VTD-SS-4] reserved: 51:HAW with R or W, PS and bit 11 of SS-PML5E/SS-PML4E (Table 41), 20:12 of a 2 MiB leaf, SNP without SC", () => {
    const o = { haw: 39, snoopControl: false, largePages: { twoMiB: true, oneGiB: true } };
    expect(ssReservedBits(1n | (1n << 40n), 1, o)).toBe(1n << 40n);
    expect(ssReservedBits(1n | (1n << 7n), 4, o)).toBe(1n << 7n);
    expect(ssReservedBits(1n | (1n << 11n), 4, o)).toBe(1n << 11n);
    expect(ssReservedBits(1n | (1n << 7n) | (1n << 12n), 2, o)).toBe(1n << 12n);
    expect(ssReservedBits(1n | (1n << 11n), 1, o)).toBe(1n << 11n);
    expect(ssReservedBits(1n | (1n << 11n), 1, { ...o, snoopControl: true })).toBe(0n);
  });
});
