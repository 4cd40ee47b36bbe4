/**
 * Host devices behind host IOMMUs: no-snoop capable or not, behind a PCI bridge or not, bound
 * through iommufd or the legacy VFIO container. [HOST-COH-5] [VMM-COMPAT-3] [VMM-COMPAT-6]
 */
import fc from "fast-check";
import type { HostSide } from "../contract/host-iommu.ts";

export type { HostSide };

/** Any host side of a passed-through device behind one of `iommus`. */
export function hostSideArb(iommus: readonly string[]): fc.Arbitrary<HostSide> {
  return fc.record({
    iommu: fc.constantFrom(...iommus),
    noSnoop: fc.boolean(),
    behindBridge: fc.oneof(
      { weight: 4, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    iommufd: fc.oneof(
      { weight: 4, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
  });
}

/** A host side that nesting can serve: iommufd, not behind a bridge. [VMM-COMPAT-3] [VMM-COMPAT-6] */
export function nestableHostSideArb(iommus: readonly string[]): fc.Arbitrary<HostSide> {
  return fc.record({
    iommu: fc.constantFrom(...iommus),
    noSnoop: fc.boolean(),
    behindBridge: fc.constant(false),
    iommufd: fc.constant(true),
  });
}

/** `n` distinct SIDs (bus 0..3, any devfn), in increasing order. */
export function sidsArb(n: number): fc.Arbitrary<number[]> {
  return fc
    .uniqueArray(fc.integer({ min: 0x0008, max: 0x03ff }), { minLength: n, maxLength: n })
    .map((s) => [...s].sort((a, b) => a - b));
}
