import type { HostIommuConfig } from "../contract/types.ts";
import { withBits } from "../spec/word.ts";

/**
 * The capability registers a host VT-d IOMMU reports (VT-d 5.10 §11.4.2, §11.4.3),
 * built from its configuration; GET_HW_INFO returns them verbatim. Fields the
 * configuration does not name take fixed, documented values. [HOST-UAPI-20]
 */
export function hostCap(c: HostIommuConfig): bigint {
  let cap = 0n;
  cap = withBits(cap, 2, 0, 6); // ND: 16-bit domain ids
  let sagaw = 1 << 1; // bit 9: 39-bit, 3-level
  if (c.awBits >= 48) sagaw |= 1 << 2; // bit 10: 48-bit, 4-level
  if (c.awBits >= 57) sagaw |= 1 << 3; // bit 11: 57-bit, 5-level
  cap = withBits(cap, 12, 8, sagaw);
  cap = withBits(cap, 21, 16, c.awBits - 1); // MGAW
  cap = withBits(cap, 33, 24, 0x22); // FRO: fault records at 0x220
  cap = withBits(cap, 37, 34, 0b0001); // SLLPS: 2 MiB second-stage pages
  cap = withBits(cap, 39, 39, 1); // PSI
  cap = withBits(cap, 47, 40, 7); // NFR: 8 fault records
  cap = withBits(cap, 53, 48, 9); // MAMV
  cap = withBits(cap, 54, 54, 1); // DWD
  cap = withBits(cap, 55, 55, 1); // DRD
  cap = withBits(cap, 56, 56, c.fs1gp ? 1 : 0);
  cap = withBits(cap, 60, 60, c.fl5lp ? 1 : 0);
  return cap;
}

export function hostEcap(c: HostIommuConfig): bigint {
  let e = 0n;
  e = withBits(e, 0, 0, 1); // C: coherent walks
  e = withBits(e, 1, 1, 1); // QI
  e = withBits(e, 2, 2, 1); // DT
  e = withBits(e, 3, 3, 1); // IR
  e = withBits(e, 4, 4, 1); // EIM
  e = withBits(e, 6, 6, 1); // PT
  e = withBits(e, 7, 7, c.snoopControl ? 1 : 0); // SC
  e = withBits(e, 17, 8, 0x50); // IRO: IOTLB registers at 0x500
  e = withBits(e, 26, 26, c.nesting ? 1 : 0); // NEST
  e = withBits(e, 31, 31, c.supervisorRequests ? 1 : 0); // SRS
  e = withBits(e, 34, 34, c.extendedAccessed ? 1 : 0); // EAFS
  if (c.pasidBits > 0) {
    e = withBits(e, 39, 35, c.pasidBits - 1); // PSS
    e = withBits(e, 40, 40, 1); // PASID
  }
  e = withBits(e, 43, 43, 1); // SMTS
  e = withBits(e, 46, 46, 1); // SSTS
  e = withBits(e, 47, 47, 1); // FSTS
  e = withBits(e, 48, 48, 1); // SMPWC
  return e;
}

/** Second-stage levels a HWPT allocated on this IOMMU uses: the widest SAGAW within MGAW. */
export function stage2Levels(c: HostIommuConfig): 3 | 4 | 5 {
  if (c.awBits >= 57) return 5;
  if (c.awBits >= 48) return 4;
  return 3;
}
