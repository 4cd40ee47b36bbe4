/**
 * Fault reason codes, VT-d 5.10 §7.1.3 (Table 30 and the legacy-mode table).
 * Legacy mode (RTADDR.TTM = 00) and scalable mode (TTM = 01) use different codes.
 * See spec/faults.md.
 */
export const LegacyFault = {
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
} as const;

export const ScalableFault = {
  RTA_1_INVALID_RTADDR: 0x30,
  RTA_2_LEGACY_TTM_WITH_PASID: 0x31,
  RTA_3: 0x32,
  RTA_4_ABORT_DMA_MODE: 0x33,
  RTA_5: 0x34,
  SRT_1_ROOT_ACCESS: 0x38,
  SRT_2_ROOT_NOT_PRESENT: 0x39,
  SRT_3_ROOT_RESERVED: 0x3a,
  SCT_1_CONTEXT_ACCESS: 0x40,
  SCT_2_CONTEXT_NOT_PRESENT: 0x41,
  SCT_3_CONTEXT_RESERVED: 0x42,
  SCT_4_CONTEXT_INVALID: 0x43,
  SCT_5_DTE_TRANSLATION_REQUEST: 0x44,
  SCT_6_PASID_DISABLED: 0x45,
  SCT_7_PASID_BEYOND_PDTS: 0x46,
  SCT_8: 0x47,
  SCT_9_PASID_EQUALS_RID_PASID: 0x48,
  SCT_10: 0x49,
  SPD_1_PASID_DIR_ACCESS: 0x50,
  SPD_2_PASID_DIR_NOT_PRESENT: 0x51,
  SPD_3_PASID_DIR_RESERVED: 0x52,
  SPT_1_PASID_ENTRY_ACCESS: 0x58,
  SPT_2_PASID_ENTRY_NOT_PRESENT: 0x59,
  SPT_3_PASID_ENTRY_RESERVED: 0x5a,
  SPT_4_PASID_ENTRY_INVALID: 0x5b,
  SPT_5: 0x5c,
  SPT_6_SUPERVISOR_DISABLED: 0x5d,
  SFS_1_FS_ENTRY_ACCESS: 0x70,
  SFS_2_FS_NOT_PRESENT: 0x71,
  SFS_3_FS_RESERVED: 0x72,
  SFS_4_FSPTPTR_ACCESS: 0x73,
  SFS_5: 0x74,
  SFS_6: 0x75,
  SFS_7: 0x76,
  SFS_8: 0x77,
  SSS_1_SS_ENTRY_ACCESS: 0x78,
  SSS_2_SS_NONLEAF_NO_PERMISSION: 0x79,
  SSS_3_SS_RESERVED: 0x7a,
  SSS_4_SSPTPTR_ACCESS: 0x7b,
  SSS_5: 0x7c,
  SSS_6: 0x7d,
  SGN_1_NON_CANONICAL: 0x80,
  SGN_2_USER_TO_SUPERVISOR: 0x81,
  SGN_4_ABOVE_HAW: 0x83,
  SGN_5_SS_INPUT_BEYOND_WIDTH: 0x84,
  SGN_6_NO_WRITE: 0x85,
  SGN_7_NO_READ: 0x86,
  SGN_8_INTERRUPT_RANGE: 0x87,
  SGN_10_PASID_BEYOND_PSS: 0x89,
  SFS_9_AD_NON_SNOOPED: 0x90,
  SFS_10_AD_FAILED: 0x91,
} as const;

/** Name of a reason code, for reports ("0x59 SPT.2 ..."). */
export function faultReasonName(code: number): string {
  for (const table of [LegacyFault, ScalableFault]) {
    for (const [name, value] of Object.entries(table)) if (value === code) return name;
  }
  return `UNKNOWN_${code.toString(16)}`;
}

/**
 * What went wrong in a paging walk, before it is given a reason code: the kinds the walkers
 * (src/paging) and the oracle's own walks (src/oracle) report, by stage. Reason codes follow from
 * them by one mapping per mode (walkFaultReason), shared by the reference and the oracle.
 */
export type FirstStageFaultKind =
  /** FSPTPTR's table could not be read (outside memory) [VTD-MEM-2]: SFS.4. */
  | "root-access"
  /** A lower first-stage entry could not be read: SFS.1. */
  | "entry-access"
  /** P = 0: SFS.2. */
  | "not-present"
  /** A reserved bit set in a present entry: SFS.3. */
  | "reserved"
  /** The input address is not canonical: SGN.1. */
  | "non-canonical"
  /** A user request reached an entry with U/S = 0: SGN.2. */
  | "user-supervisor"
  /** A write without R/W (user, or supervisor with WPE): SGN.6. */
  | "no-write"
  /** An A/EA/D update was needed but page walks do not snoop: SFS.9. */
  | "ad-non-snooped"
  /** Nested: a first-stage entry's address field is beyond the second stage's width: SFS.5. */
  | "nested-beyond-width"
  /** Nested: the second stage refused reading a first-stage entry: SFS.6 (FSPTPTR table), SFS.7. */
  | "nested-no-read"
  /** Nested: the second stage refused an A/EA/D update of a first-stage entry: SFS.8. */
  | "nested-ad-blocked";

export type SecondStageFaultKind =
  /** SSPTPTR's table could not be read: SSS.4 (legacy: LCT.4). */
  | "root-access"
  /** A lower second-stage entry could not be read: SSS.1 (legacy: LSS.1). */
  | "entry-access"
  /** R = W = 0 in an entry, or no cumulative right at all: SSS.2 (legacy: LGN.2 / LGN.3). */
  | "not-present"
  /** A reserved bit set in an entry with R or W: SSS.3 (legacy: LSS.2). */
  | "reserved"
  /** The input address is at or above 2^min(MGAW, AGAW): SGN.5 (legacy: LGN.1). */
  | "input-beyond-width"
  /** A read without cumulative R: SGN.7 (legacy: LGN.3). */
  | "no-read"
  /** A write without cumulative W: SGN.6 (legacy: LGN.2). */
  | "no-write"
  /** An A/D update was needed (SSADE) but page walks do not snoop: SSS.5. */
  | "ad-non-snooped";

export type WalkFaultKind = FirstStageFaultKind | SecondStageFaultKind;

/** A walk fault as the reason mapping needs it. `root`: the access was to the root pointer's table. */
export type WalkFault =
  | { stage: "first"; kind: FirstStageFaultKind; root?: boolean }
  | { stage: "second"; kind: SecondStageFaultKind; root?: boolean };

const S = ScalableFault;
const FIRST_STAGE_REASON: Record<Exclude<FirstStageFaultKind, "nested-no-read">, number> = {
  "root-access": S.SFS_4_FSPTPTR_ACCESS,
  "entry-access": S.SFS_1_FS_ENTRY_ACCESS,
  "not-present": S.SFS_2_FS_NOT_PRESENT,
  reserved: S.SFS_3_FS_RESERVED,
  "non-canonical": S.SGN_1_NON_CANONICAL,
  "user-supervisor": S.SGN_2_USER_TO_SUPERVISOR,
  "no-write": S.SGN_6_NO_WRITE,
  "ad-non-snooped": S.SFS_9_AD_NON_SNOOPED,
  "nested-beyond-width": S.SFS_5,
  "nested-ad-blocked": S.SFS_8,
};
const SECOND_STAGE_REASON: Record<SecondStageFaultKind, number> = {
  "root-access": S.SSS_4_SSPTPTR_ACCESS,
  "entry-access": S.SSS_1_SS_ENTRY_ACCESS,
  "not-present": S.SSS_2_SS_NONLEAF_NO_PERMISSION,
  reserved: S.SSS_3_SS_RESERVED,
  "input-beyond-width": S.SGN_5_SS_INPUT_BEYOND_WIDTH,
  "no-read": S.SGN_7_NO_READ,
  "no-write": S.SGN_6_NO_WRITE,
  "ad-non-snooped": S.SSS_5,
};

/**
 * [VTD-PASID-9] [VTD-NEST-2] [VTD-NEST-3] [VTD-NEST-5] The scalable-mode reason of a walk fault
 * (VT-d 5.10 §7.1.3, Table 30). Every kind of each stage has its row: there is no default.
 */
export function scalableWalkReason(f: WalkFault): number {
  if (f.stage === "second") return SECOND_STAGE_REASON[f.kind];
  if (f.kind === "nested-no-read") return f.root ? S.SFS_6 : S.SFS_7;
  return FIRST_STAGE_REASON[f.kind];
}

/**
 * [VTD-SS-2] [VTD-SS-5] The legacy-mode reason of a second-stage walk fault (VT-d 5.10 §7.1.3,
 * Table 30, legacy rows). The legacy table has no "not present" row: an entry with R = W = 0, or a
 * walk with no cumulative right, is a lack of the request's own permission, "LGN.2 ... a Write or
 * AtomicOp request encountered lack of write permission", "LGN.3 ... a Read or AtomicOp request
 * encountered lack of read permission": that is the default, by access. Legacy mode has no first
 * stage and no second-stage A/D flags (SSADE is a PASID-table entry field, §3.7.2), so those kinds
 * cannot arise there; they fall to the same default.
 */
export function legacyWalkReason(f: WalkFault, write: boolean): number {
  const byAccess = write ? LegacyFault.LGN_2_NO_WRITE : LegacyFault.LGN_3_NO_READ;
  if (f.stage === "first") return byAccess;
  switch (f.kind) {
    case "root-access":
      return LegacyFault.LCT_4_CONTEXT_INVALID;
    case "entry-access":
      return LegacyFault.LSS_1_SS_ENTRY_ACCESS;
    case "reserved":
      return LegacyFault.LSS_2_SS_RESERVED;
    case "input-beyond-width":
      return LegacyFault.LGN_1_ADDRESS_BEYOND_WIDTH;
    case "no-read":
      return LegacyFault.LGN_3_NO_READ;
    case "no-write":
      return LegacyFault.LGN_2_NO_WRITE;
    case "not-present":
    case "ad-non-snooped":
      return byAccess;
  }
}
