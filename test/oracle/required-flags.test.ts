import { describe, expect, it } from "vitest";
import {
  config,
  FS_PDE,
  FS_PDPE,
  FS_PML4E,
  FS_PTE,
  legacyDevice,
  Stream,
  scalableFirstStageDevice,
  ss,
} from "./stream.ts";

const A = 1n << 5n;
const D = 1n << 6n;
const EA = 1n << 10n;

/**
 * Scalable mode, first stage (PGTT 001b): device 0x08, RID_PASID 0, FSPTPTR 0x50000, 4 levels;
 * input page 0 maps to 0x60000 (PML4 0x50000, PDPT 0x51000, PD 0x52000, PT 0x53000).
 */
function firstStage(eafe = false): Stream {
  const s = new Stream(config({ scalable: true, firstStage: true, pasidBits: 8, extendedAccessed: eafe }));
  scalableFirstStageDevice(s, 0x08, eafe);
  s.enable(0x10000, 1, true);
  return s;
}

function word(value: bigint): Uint8Array {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setBigUint64(0, value, true);
  return data;
}

/** A read of page 0: its target 0x60000 was never written, so it reads zeros. */
function read(s: Stream, iova = 0n) {
  return s.dma({ sid: 0x08, iova, len: 8, write: false }, { status: "ok", data: word(0n) });
}

function write(s: Stream, iova = 0n) {
  return s.dma(
    { sid: 0x08, iova, len: 4, write: true, data: new Uint8Array(4).fill(0xab) },
    { status: "ok" },
  );
}

function guestRead(s: Stream, gpa: number, value: bigint) {
  return s.step({ op: "readGuest", args: [BigInt(gpa), 8], result: word(value) });
}

describe("flags a completed DMA's walk must have set (ORACLE-JUDGE-11)", () => {
  it("[ORACLE-JUDGE-11] [VTD-FS-7] after a translated read, every first-stage entry the walk read shows A", () => {
    const s = firstStage();
    expect(read(s).ok).toBe(true);
    expect(guestRead(s, 0x50000, FS_PML4E | A).ok).toBe(true);
    expect(guestRead(s, 0x51000, FS_PDPE | A).ok).toBe(true);
    expect(guestRead(s, 0x52000, FS_PDE | A).ok).toBe(true);
    expect(guestRead(s, 0x53000, FS_PTE | A).ok).toBe(true);
  });

  it("[ORACLE-JUDGE-11] a model that never sets A fails at the read-back of the entry (the old oracle passed it)", () => {
    for (const [at, value] of [
      [0x50000, FS_PML4E],
      [0x51000, FS_PDPE],
      [0x52000, FS_PDE],
      [0x53000, FS_PTE],
    ] as const) {
      const s = firstStage();
      expect(read(s).ok).toBe(true);
      const v = guestRead(s, at, value);
      expect(v.ok).toBe(false);
      if (!v.ok) {
        expect(v.violation.rule).toBe("ORACLE-JUDGE-11");
        expect(v.violation.message).toContain(`0x${at.toString(16)}`);
      }
    }
  });

  it("[ORACLE-JUDGE-11] nothing is required before a DMA, nor after software rewrote the word", () => {
    expect(guestRead(firstStage(), 0x53000, FS_PTE).ok).toBe(true);
    const s = firstStage();
    expect(read(s).ok).toBe(true);
    s.w64(0x53000, FS_PTE); // software writes the entry again: its A may be clear
    expect(guestRead(s, 0x53000, FS_PTE).ok).toBe(true);
  });

  it("[ORACLE-JUDGE-11] D on the leaf only after a write; EA only with EAFE", () => {
    const s = firstStage();
    expect(read(s).ok).toBe(true);
    expect(guestRead(s, 0x53000, FS_PTE | A).ok).toBe(true); // a read sets no D
    const w = firstStage();
    expect(write(w).ok).toBe(true);
    expect(guestRead(w, 0x52000, FS_PDE | A).ok).toBe(true); // D is no flag of a non-leaf entry
    expect(guestRead(w, 0x53000, FS_PTE | A).ok).toBe(false);
    const w2 = firstStage();
    expect(write(w2).ok).toBe(true);
    expect(guestRead(w2, 0x53000, FS_PTE | A | D).ok).toBe(true);
    const e = firstStage(true);
    expect(read(e).ok).toBe(true);
    expect(guestRead(e, 0x51000, FS_PDPE | A).ok).toBe(false);
    const e2 = firstStage(true);
    expect(read(e2).ok).toBe(true);
    expect(guestRead(e2, 0x51000, FS_PDPE | A | EA).ok).toBe(true);
  });

  it("[ORACLE-JUDGE-11] [ORACLE-TIME-3] a value cached in a paging-structure cache exempts nothing above it: its creation set A there", () => {
    // Second DMA after the first: the walk may start from the FS_PDE-cache value (filled by the
    // first walk, which set A in the FS_PML4E, FS_PDPE and FS_PDE, §6.2.5.4).
    const s = firstStage();
    expect(read(s).ok).toBe(true);
    expect(read(s).ok).toBe(true);
    expect(guestRead(s, 0x50000, FS_PML4E).ok).toBe(false);
  });

  it("[ORACLE-JUDGE-11] a translation that may come from a stale IOTLB value requires nothing of an entry software rewrote", () => {
    const s = firstStage();
    expect(read(s).ok).toBe(true); // fills the IOTLB (A set in every entry)
    s.w64(0x52000, FS_PDE); // software rewrites the FS_PDE (same value): its A may now be clear
    // The next read may hit the IOTLB without walking: the FS_PDE is not required again...
    expect(read(s).ok).toBe(true);
    expect(guestRead(s, 0x52000, FS_PDE).ok).toBe(true);
    // ...but the FS_PTE, untouched since the first walk set A, still is.
    expect(guestRead(s, 0x53000, FS_PTE).ok).toBe(false);
  });

  it("[ORACLE-JUDGE-11] [VTD-SS-6] legacy second-stage entries have no flags: nothing is required", () => {
    const s = new Stream(config());
    legacyDevice(s, 0x08, 1, 0x40000, 0x60000);
    s.enable(0x10000);
    expect(read(s).ok).toBe(true);
    expect(guestRead(s, 0x43000, ss(0x60000)).ok).toBe(true);
  });

  it("[ORACLE-JUDGE-11] a DMA that faulted requires nothing", () => {
    const s = firstStage();
    s.w64(0x53000, 0n);
    expect(s.dma({ sid: 0x08, iova: 0n, len: 8, write: false }, { status: "aborted" }).ok).toBe(true);
    expect(guestRead(s, 0x52000, FS_PDE).ok).toBe(true);
  });
});
