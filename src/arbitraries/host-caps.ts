/**
 * Host IOMMU capability sets (what GET_HW_INFO reports for a host IOMMU): address widths,
 * nesting, snoop control, ERRATA_772415, FS1GP, FL5LP, PASID widths, SRS, EAFS and the vendor.
 * [HOST-UAPI-20] [HOST-ERRATA-3] [VMM-COMPAT-1] .. [VMM-COMPAT-9]
 */
import fc from "fast-check";
import type { HostIommuConfig, VIommuConfig } from "../contract/types.ts";

/** Host address widths: the three SAGAW widths and the odd ones real parts report (46, 52). */
export const HOST_AW_BITS = [39, 46, 48, 52, 57] as const;
export const HOST_PASID_BITS = [0, 8, 10, 14, 20] as const;

/** Any host IOMMU: every field independent, Intel VT-d most of the time. */
export function hostIommuArb(id: string): fc.Arbitrary<HostIommuConfig> {
  return fc.record({
    id: fc.constant(id),
    awBits: fc.constantFrom(...HOST_AW_BITS),
    nesting: fc.boolean(),
    snoopControl: fc.boolean(),
    fs1gp: fc.boolean(),
    fl5lp: fc.boolean(),
    pasidBits: fc.constantFrom(...HOST_PASID_BITS),
    errata772415: fc.boolean(),
    kind: fc.oneof(
      { weight: 4, arbitrary: fc.constant("intel-vtd" as const) },
      { weight: 1, arbitrary: fc.constant("other" as const) },
    ),
    supervisorRequests: fc.boolean(),
    extendedAccessed: fc.boolean(),
  });
}

/** 1..max host IOMMUs with ids "h0", "h1", … */
export function hostIommusArb(max = 3, one: (id: string) => fc.Arbitrary<HostIommuConfig> = hostIommuArb) {
  return fc
    .integer({ min: 1, max })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => one(`h${i}`))));
}

/**
 * A host IOMMU that covers every option of this vIOMMU (VMM-COMPAT-1 .. 9 all pass), with the
 * fields the vIOMMU does not constrain left free (snoop control, errata, spare width and PASIDs).
 */
export function coveringHostIommuArb(id: string, v: VIommuConfig): fc.Arbitrary<HostIommuConfig> {
  const widths = HOST_AW_BITS.filter((w) => w >= v.awBits);
  const pasids = HOST_PASID_BITS.filter((p) => p >= v.pasidBits);
  return fc.record({
    id: fc.constant(id),
    awBits: fc.constantFrom(...widths),
    nesting: fc.constant(true),
    snoopControl: fc.boolean(),
    fs1gp: v.fs1gp ? fc.constant(true) : fc.boolean(),
    fl5lp: v.fl5lp ? fc.constant(true) : fc.boolean(),
    pasidBits: fc.constantFrom(...pasids),
    errata772415: fc.boolean(),
    kind: fc.constant("intel-vtd" as const),
    supervisorRequests: v.supervisorRequests ? fc.constant(true) : fc.boolean(),
    extendedAccessed: v.extendedAccessed ? fc.constant(true) : fc.boolean(),
  });
}
