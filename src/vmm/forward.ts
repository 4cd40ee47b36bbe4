/**
 * Which guest invalidations reach which host objects of a passed-through device: nested HWPTs
 * get HWPT_INVALIDATE (the guest's stage-1 caches now live in the host IOMMU), shadow domains
 * are rebuilt. Pure decisions; bind.ts carries them out. spec/vmm.md, VMM-INV-*.
 */
import type { TranslationMode } from "../contract/types.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import type { Want } from "./guest-entries.ts";
import { U64_MAX } from "./host-io.ts";

/** One HWPT_INVALIDATE entry. */
export interface HostFlush {
  addr: bigint;
  npages: bigint;
  leaf: boolean;
}

/** [VMM-INV-1] A full flush: addr 0, npages 2^64 − 1. */
export const FULL_FLUSH: HostFlush = { addr: 0n, npages: U64_MAX, leaf: false };

/**
 * The flush a bound nested slot (DID, guest PASID) needs for this guest invalidation, or
 * undefined when the invalidation does not cover its first-stage entries.
 */
export function nestedFlush(scope: InvalidationScope, mode: TranslationMode, b: Want): HostFlush | undefined {
  if (b.kind !== "nested" || mode !== "scalable") return undefined;
  switch (scope.kind) {
    case "pasid-iotlb":
      if (scope.did !== b.did || scope.pasid !== b.pasid) return undefined;
      // [VMM-INV-1] PASID-selective: everything; [VMM-INV-2] page-selective: 2^AM pages, LEAF = IH.
      if (scope.granularity === "pasid") return FULL_FLUSH;
      return { addr: scope.addr, npages: 1n << BigInt(scope.am), leaf: scope.ih };
    case "iotlb":
      // [VMM-INV-3] IOTLB invalidations cover every first-stage/nested entry of their domain
      // (page-selective ones whatever the address): a full flush of the nested HWPT.
      if (scope.granularity === "global" || scope.did === b.did) return FULL_FLUSH;
      return undefined;
    default:
      return undefined;
  }
}

/** [VMM-SHADOW-5] Whether this invalidation covers a shadowed slot's second-stage entries. */
export function shadowCovered(scope: InvalidationScope, mode: TranslationMode, b: Want): boolean {
  if (b.kind !== "shadow") return false;
  switch (scope.kind) {
    case "iotlb":
      return scope.granularity === "global" || scope.did === b.did;
    case "pasid-iotlb":
      return (
        mode === "scalable" && scope.granularity === "pasid" && scope.did === b.did && scope.pasid === b.pasid
      );
    default:
      return false;
  }
}
