/**
 * Golden fault reason codes, typed from VT-d 5.10 §7.1.3 Table 30 ("Fault Reason (If reported)"
 * column), not from the code under test; and the one walk-fault mapping (src/spec/fault-reasons.ts,
 * used by the reference and the oracle) checked row by row against the table's conditions.
 */
import { describe, expect, it } from "vitest";
import {
  faultReasonName,
  LegacyFault,
  legacyWalkReason,
  ScalableFault,
  scalableWalkReason,
} from "../../src/spec/fault-reasons.ts";

describe("fault reason codes (§7.1.3, Table 30)", () => {
  it("[VTD-FAULT-1] legacy rows: LRT.1 8h, LRT.2 1h, LRT.3 Ah, LCT.1 9h, LCT.2 2h, LCT.3 Bh, LCT.4 3h, LCT.5 Dh, LSS.1 7h, LSS.2 Ch, LGN.1 4h, LGN.2 5h, LGN.3 6h, LGN.4 Eh", () => {
    expect(LegacyFault).toEqual({
      LRT_2_ROOT_NOT_PRESENT: 0x1,
      LCT_2_CONTEXT_NOT_PRESENT: 0x2,
      LCT_4_CONTEXT_INVALID: 0x3,
      LGN_1_ADDRESS_BEYOND_WIDTH: 0x4,
      LGN_2_NO_WRITE: 0x5,
      LGN_3_NO_READ: 0x6,
      LSS_1_SS_ENTRY_ACCESS: 0x7,
      LRT_1_ROOT_ACCESS: 0x8,
      LCT_1_CONTEXT_ACCESS: 0x9,
      LRT_3_ROOT_RESERVED: 0xa,
      LCT_3_CONTEXT_RESERVED: 0xb,
      LSS_2_SS_RESERVED: 0xc,
      LCT_5_TT_BLOCKS: 0xd,
      LGN_4_INTERRUPT_RANGE: 0xe,
    });
  });

  it("[VTD-FAULT-2] scalable rows: RTA.1-5 30h-34h, SRT.1-3 38h-3Ah, SCT.1-10 40h-49h, SPD.1-3 50h-52h, SPT.1-6 58h-5Dh, SFS.1-8 70h-77h, SSS.1-6 78h-7Dh, SGN.1 80h, SGN.2 81h, SGN.4 83h .. SGN.8 87h, SGN.10 89h, SFS.9 90h, SFS.10 91h", () => {
    const S = ScalableFault;
    const rows: Array<[number, number]> = [
      [S.RTA_1_INVALID_RTADDR, 0x30],
      [S.RTA_2_LEGACY_TTM_WITH_PASID, 0x31],
      [S.RTA_3, 0x32],
      [S.RTA_4_ABORT_DMA_MODE, 0x33],
      [S.RTA_5, 0x34],
      [S.SRT_1_ROOT_ACCESS, 0x38],
      [S.SRT_2_ROOT_NOT_PRESENT, 0x39],
      [S.SRT_3_ROOT_RESERVED, 0x3a],
      [S.SCT_1_CONTEXT_ACCESS, 0x40],
      [S.SCT_2_CONTEXT_NOT_PRESENT, 0x41],
      [S.SCT_3_CONTEXT_RESERVED, 0x42],
      [S.SCT_4_CONTEXT_INVALID, 0x43],
      [S.SCT_5_DTE_TRANSLATION_REQUEST, 0x44],
      [S.SCT_6_PASID_DISABLED, 0x45],
      [S.SCT_7_PASID_BEYOND_PDTS, 0x46],
      [S.SCT_8, 0x47],
      [S.SCT_9_PASID_EQUALS_RID_PASID, 0x48],
      [S.SCT_10, 0x49],
      [S.SPD_1_PASID_DIR_ACCESS, 0x50],
      [S.SPD_2_PASID_DIR_NOT_PRESENT, 0x51],
      [S.SPD_3_PASID_DIR_RESERVED, 0x52],
      [S.SPT_1_PASID_ENTRY_ACCESS, 0x58],
      [S.SPT_2_PASID_ENTRY_NOT_PRESENT, 0x59],
      [S.SPT_3_PASID_ENTRY_RESERVED, 0x5a],
      [S.SPT_4_PASID_ENTRY_INVALID, 0x5b],
      [S.SPT_5, 0x5c],
      [S.SPT_6_SUPERVISOR_DISABLED, 0x5d],
      [S.SFS_1_FS_ENTRY_ACCESS, 0x70],
      [S.SFS_2_FS_NOT_PRESENT, 0x71],
      [S.SFS_3_FS_RESERVED, 0x72],
      [S.SFS_4_FSPTPTR_ACCESS, 0x73],
      [S.SFS_5, 0x74],
      [S.SFS_6, 0x75],
      [S.SFS_7, 0x76],
      [S.SFS_8, 0x77],
      [S.SSS_1_SS_ENTRY_ACCESS, 0x78],
      [S.SSS_2_SS_NONLEAF_NO_PERMISSION, 0x79],
      [S.SSS_3_SS_RESERVED, 0x7a],
      [S.SSS_4_SSPTPTR_ACCESS, 0x7b],
      [S.SSS_5, 0x7c],
      [S.SSS_6, 0x7d],
      [S.SGN_1_NON_CANONICAL, 0x80],
      [S.SGN_2_USER_TO_SUPERVISOR, 0x81],
      [S.SGN_4_ABOVE_HAW, 0x83],
      [S.SGN_5_SS_INPUT_BEYOND_WIDTH, 0x84],
      [S.SGN_6_NO_WRITE, 0x85],
      [S.SGN_7_NO_READ, 0x86],
      [S.SGN_8_INTERRUPT_RANGE, 0x87],
      [S.SGN_10_PASID_BEYOND_PSS, 0x89],
      [S.SFS_9_AD_NON_SNOOPED, 0x90],
      [S.SFS_10_AD_FAILED, 0x91],
    ];
    for (const [code, table] of rows) expect(code).toBe(table);
    expect(Object.keys(S)).toHaveLength(rows.length);
  });

  it("[VTD-FAULT-1] [VTD-FAULT-2] reports name a code by its condition", () => {
    expect(faultReasonName(0x59)).toBe("SPT_2_PASID_ENTRY_NOT_PRESENT");
    expect(faultReasonName(0xe)).toBe("LGN_4_INTERRUPT_RANGE");
    expect(faultReasonName(0x3f)).toBe("UNKNOWN_3f");
  });
});

describe("walk faults to reasons: one mapping for the reference and the oracle", () => {
  it("[VTD-PASID-9] [VTD-NEST-2] [VTD-NEST-3] [VTD-NEST-5] first-stage conditions: SFS.1-SFS.9, SGN.1, SGN.2, SGN.6", () => {
    const f = (kind: Parameters<typeof scalableWalkReason>[0]["kind"], root = false) =>
      scalableWalkReason({ stage: "first", kind, root } as Parameters<typeof scalableWalkReason>[0]);
    expect(f("entry-access")).toBe(0x70); // SFS.1: access to an entry referenced through ADDR
    expect(f("not-present")).toBe(0x71); // SFS.2: P = 0
    expect(f("reserved")).toBe(0x72); // SFS.3
    expect(f("root-access", true)).toBe(0x73); // SFS.4: the entry referenced through FSPTPTR
    expect(f("nested-beyond-width")).toBe(0x74); // SFS.5
    expect(f("nested-no-read", true)).toBe(0x75); // SFS.6: the FSPTPTR table's entry
    expect(f("nested-no-read", false)).toBe(0x76); // SFS.7: any lower entry
    expect(f("nested-ad-blocked")).toBe(0x77); // SFS.8
    expect(f("ad-non-snooped")).toBe(0x90); // SFS.9
    expect(f("non-canonical")).toBe(0x80); // SGN.1
    expect(f("user-supervisor")).toBe(0x81); // SGN.2
    expect(f("no-write")).toBe(0x85); // SGN.6
  });

  it("[VTD-PASID-9] [VTD-NEST-2] second-stage conditions: SSS.1-SSS.5, SGN.5, SGN.6, SGN.7", () => {
    const s = (kind: Parameters<typeof scalableWalkReason>[0]["kind"]) =>
      scalableWalkReason({ stage: "second", kind } as Parameters<typeof scalableWalkReason>[0]);
    expect(s("entry-access")).toBe(0x78);
    expect(s("not-present")).toBe(0x79); // SSS.2: R = W = 0, or no cumulative right
    expect(s("reserved")).toBe(0x7a);
    expect(s("root-access")).toBe(0x7b);
    expect(s("ad-non-snooped")).toBe(0x7c);
    expect(s("input-beyond-width")).toBe(0x84);
    expect(s("no-write")).toBe(0x85);
    expect(s("no-read")).toBe(0x86);
  });

  it("[VTD-SS-2] [VTD-SS-5] legacy conditions: LCT.4.3 for SSPTPTR, LSS.1, LSS.2, LGN.1; a missing right by access (LGN.2 write, LGN.3 read)", () => {
    const l = (kind: Parameters<typeof scalableWalkReason>[0]["kind"], write: boolean) =>
      legacyWalkReason({ stage: "second", kind } as Parameters<typeof legacyWalkReason>[0], write);
    expect(l("root-access", false)).toBe(0x3);
    expect(l("entry-access", true)).toBe(0x7);
    expect(l("reserved", false)).toBe(0xc);
    expect(l("input-beyond-width", true)).toBe(0x4);
    expect(l("not-present", true)).toBe(0x5);
    expect(l("not-present", false)).toBe(0x6);
    expect(l("no-write", true)).toBe(0x5);
    expect(l("no-read", false)).toBe(0x6);
  });
});
