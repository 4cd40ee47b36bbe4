/**
 * Offsets and bit positions of the DMAR registers the reference vIOMMU implements
 * (VT-d 5.10 §11.4). Offsets are bytes from the register base. See spec/registers.md.
 */

/** Fixed-offset registers, §11.4 Table 11-1. */
export const Reg = {
  VER: 0x00,
  CAP: 0x08,
  ECAP: 0x10,
  GCMD: 0x18,
  GSTS: 0x1c,
  RTADDR: 0x20,
  CCMD: 0x28,
  FSTS: 0x34,
  FECTL: 0x38,
  FEDATA: 0x3c,
  FEADDR: 0x40,
  FEUADDR: 0x44,
  IQH: 0x80,
  IQT: 0x88,
  IQA: 0x90,
  ICS: 0x9c,
  IECTL: 0xa0,
  IEDATA: 0xa4,
  IEADDR: 0xa8,
  IEUADDR: 0xac,
  IQERCD: 0xb0,
} as const;

/**
 * [VTD-REG-4] Where the variable-offset registers sit (as QEMU places them):
 * IVA at ECAP.IRO × 16 = 0x200, IOTLB_REG at IVA + 8, the first fault recording
 * register at CAP.FRO × 16 = 0x220, then one 16-byte register per record.
 */
export const IRO_UNITS = 0x20;
export const FRO_UNITS = 0x22;
export const IVA_OFFSET = IRO_UNITS * 16;
export const IOTLB_OFFSET = IVA_OFFSET + 8;
export const FRCD_OFFSET = FRO_UNITS * 16;
export const FRCD_SIZE = 16;

/** GCMD (§11.4.4.1) and GSTS (§11.4.4.2) share bit positions. */
export const Gcmd = {
  TE: 31,
  SRTP: 30,
  WBF: 27,
  QIE: 26,
  IRE: 25,
  SIRTP: 24,
  CFI: 23,
} as const;

export const Gsts = {
  TES: 31,
  RTPS: 30,
  WBFS: 27,
  QIES: 26,
  IRES: 25,
  IRTPS: 24,
  CFIS: 23,
} as const;

/** RTADDR_REG (§11.4.5): RTA 63:12, TTM 11:10. */
export const Rtaddr = { RTA_LO: 12, TTM_HI: 11, TTM_LO: 10 } as const;

/** CCMD_REG (§11.4.6.1). */
export const Ccmd = {
  ICC: 63,
  CIRG_HI: 62,
  CIRG_LO: 61,
  CAIG_HI: 60,
  CAIG_LO: 59,
  FM_HI: 33,
  FM_LO: 32,
  SID_HI: 31,
  SID_LO: 16,
  DID_HI: 15,
  DID_LO: 0,
} as const;

/** IOTLB_REG (§11.4.6.3). */
export const Iotlb = {
  IVT: 63,
  IIRG_HI: 61,
  IIRG_LO: 60,
  IAIG_HI: 58,
  IAIG_LO: 57,
  DR: 49,
  DW: 48,
  DID_HI: 47,
  DID_LO: 32,
} as const;

/** IVA_REG (§11.4.6.4): ADDR 63:12, IH 6, AM 5:0. */
export const Iva = { ADDR_LO: 12, IH: 6, AM_HI: 5, AM_LO: 0 } as const;

/** FSTS_REG (§11.4.7.1). */
export const Fsts = {
  PFO: 0,
  PPF: 1,
  IQE: 4,
  ICE: 5,
  ITE: 6,
  FRI_HI: 15,
  FRI_LO: 8,
} as const;

/** FECTL_REG (§11.4.7.2) and IECTL_REG (§11.4.9.5): IM 31, IP 30. */
export const EventCtl = { IM: 31, IP: 30 } as const;

/** IQA_REG (§11.4.9.3): IQA 63:12, DW 11, QS 2:0. IQH/IQT (§11.4.9.1-2): 18:4. */
export const Iqa = { ADDR_LO: 12, DW: 11, QS_HI: 2, QS_LO: 0 } as const;
export const QueuePointer = { HI: 18, LO: 4 } as const;

/** ICS_REG (§11.4.9.4): IWC bit 0. */
export const Ics = { IWC: 0 } as const;

/** IQERCD_REG (§11.4.9.9): IQEI 3:0. */
export const Iqercd = { IQEI_HI: 3, IQEI_LO: 0 } as const;

/** Invalidation Queue Error Info codes (§11.4.9.9). */
export const Iqei = {
  NONE: 0,
  INVALID_TAIL: 1,
  FETCH_ERROR: 2,
  INVALID_TYPE: 3,
  RESERVED_FIELD: 4,
  INVALID_WIDTH: 5,
  TAIL_MISALIGNED: 6,
  INVALID_TTM: 7,
} as const;
