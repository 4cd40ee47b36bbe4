/**
 * [ORACLE-WALK-7] Nested walks in the caches: a model may keep (a) nested paging-structure values
 * (the host-physical address of the next first-stage table) and (b) second-stage
 * paging-structure values for the guest-physical address of a first-stage table; each goes with
 * the invalidations §6.5 gives it.
 */
import { describe, expect, it } from "vitest";
import { config, NESTED_FS, NESTED_OFFSET, NESTED_SS, nestedDevice, Stream } from "./stream.ts";

const OFFSET = NESTED_OFFSET; // the second stage maps GPA g to HPA g + OFFSET (first 2 MiB)
const SS = NESTED_SS; // SS PML4, PDPT, PD, PT (host-physical)
const FS = NESTED_FS; // first-stage PML4, PDPT, PD, PT (guest-physical)

const page0 = { sid: 0x08, iova: 0x0n, len: 4, write: false };
const page1 = { sid: 0x08, iova: 0x1000n, len: 4, write: false };

function nested(): Stream {
  const s = new Stream(config({ scalable: true, firstStage: true, nested: true, pasidBits: 8 }));
  nestedDevice(s);
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
