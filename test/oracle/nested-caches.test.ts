/**
 * [ORACLE-WALK-7] Nested walks in the caches: a model may keep (a) nested paging-structure values
 * (the host-physical address of the next first-stage table) and (b) second-stage
 * paging-structure values for the guest-physical address of a first-stage table; each goes with
 * the invalidations §6.5 gives it.
 */
import { describe, expect, it } from "vitest";
import { encodeFsEntry, encodeSsEntry } from "../../src/spec/paging-entry.ts";
import { encodePasidEntry, PGTT } from "../../src/spec/pasid-entry.ts";
import { wordsToBytes } from "../../src/spec/word.ts";
import { config, Stream } from "./stream.ts";

const OFFSET = 0x20_0000; // the second stage maps GPA g to HPA g + OFFSET (first 2 MiB)
const SS = [0x60000, 0x61000, 0x62000, 0x63000]; // SS PML4, PDPT, PD, PT (host-physical)
const FS = [0x10000, 0x11000, 0x12000, 0x13000]; // first-stage PML4, PDPT, PD, PT (guest-physical)

const page0 = { sid: 0x08, iova: 0x0n, len: 4, write: false };
const page1 = { sid: 0x08, iova: 0x1000n, len: 4, write: false };

function nested(): Stream {
  const s = new Stream(config({ scalable: true, firstStage: true, nested: true, pasidBits: 8 }));
  // Root 0x70000 -> context table 0x71000 -> PASID directory 0x72000 -> PASID table 0x73000.
  s.w64(0x70000, 0x71000n | 1n);
  s.w64(0x71000 + 0x08 * 32, 0x72000n | 1n);
  s.w64(0x72000, 0x73000n | 1n);
  const e = encodePasidEntry({
    present: true,
    pgtt: PGTT.NESTED,
    aw: 2,
    ssptptr: SS[0],
    fsptptr: FS[0],
    did: 1,
    pwsnp: true,
  });
  for (const [i, w] of e.entries()) s.w64(0x73000 + i * 8, w);
  // Second stage: GPA 0..2 MiB -> HPA + OFFSET, read/write.
  s.w64(SS[0] as number, encodeSsEntry({ addr: SS[1] as number, read: true, write: true }));
  s.w64(SS[1] as number, encodeSsEntry({ addr: SS[2] as number, read: true, write: true }));
  s.w64(SS[2] as number, encodeSsEntry({ addr: SS[3] as number, read: true, write: true }));
  const pt: bigint[] = [];
  for (let i = 0; i < 512; i++)
    pt.push(encodeSsEntry({ addr: i * 0x1000 + OFFSET, read: true, write: true }));
  s.step({ op: "writeGuest", args: [BigInt(SS[3] as number), wordsToBytes(pt)] });
  // First stage (at GPA + OFFSET): pages 0 and 1 -> GPA 0x20000, 0x21000.
  const at = (gpa: number) => gpa + OFFSET;
  s.w64(at(FS[0] as number), encodeFsEntry({ addr: FS[1] as number, write: true, user: true }, 4));
  s.w64(at(FS[1] as number), encodeFsEntry({ addr: FS[2] as number, write: true, user: true }, 3));
  s.w64(at(FS[2] as number), encodeFsEntry({ addr: FS[3] as number, write: true, user: true }, 2));
  s.w64(at(FS[3] as number), encodeFsEntry({ addr: 0x20000, write: true, user: true }, 1));
  s.w64(at(FS[3] as number) + 8, encodeFsEntry({ addr: 0x21000, write: true, user: true }, 1));
  s.enable(0x70000, 1, true);
  expect(s.outcomes(page0)).toEqual([`ok 0x${(0x20000 + OFFSET).toString(16)}`]);
  return s;
}

const ok1 = `ok 0x${(0x21000 + OFFSET).toString(16)}`;

describe("nested walks in the caches", () => {
  it("[ORACLE-WALK-7] (a) a nested value may keep a first-stage table's host address after its entry changes, until a PASID-based IOTLB invalidation", () => {
    const s = nested();
    expect(s.outcomes(page1)).toEqual([ok1]);
    // The PDPTE no longer points to the page directory: a fresh walk faults SFS.2 (0x71).
    s.w64((FS[1] as number) + OFFSET, 0n);
    expect(s.outcomes(page1)).toEqual(["fault 0x71", ok1]);
    s.invalidate([{ kind: "pasid-iotlb", g: 2, did: 1, pasid: 0, am: 0, ih: false, addr: 0n }]);
    expect(s.outcomes(page1)).toEqual(["fault 0x71"]);
  });

  it("[ORACLE-WALK-7] (b) a second-stage value may keep translating a first-stage table's GPA after the second stage changes, until an IOTLB invalidation covering that GPA", () => {
    const s = nested();
    expect(s.outcomes(page1)).toEqual([ok1]);
    // The SS PDE no longer points to the SS page table: fresh fetches of every first-stage table
    // fault SSS.2 (0x79); a cached nested value or SS PDE value may still reach the old tables.
    s.w64(SS[2] as number, 0n);
    expect(s.outcomes(page1)).toContain("fault 0x79");
    expect(s.outcomes(page1)).toContain(ok1);
    // A PASID-based invalidation drops the nested values and the IOTLB, not the second-stage ones.
    s.invalidate([{ kind: "pasid-iotlb", g: 2, did: 1, pasid: 0, am: 0, ih: false, addr: 0n }]);
    expect(s.outcomes(page1)).toContain(ok1);
    // An IOTLB invalidation of the DID covering the tables' GPAs (IH = 0) drops them too.
    s.invalidate([{ kind: "iotlb", g: 3, dr: false, dw: false, did: 1, am: 9, ih: false, addr: 0n }]);
    expect(s.outcomes(page1)).toEqual(["fault 0x79"]);
  });
});
