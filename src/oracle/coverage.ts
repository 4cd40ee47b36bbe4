/**
 * Which cached keys an invalidation covers [ORACLE-COV-1..6]. An independent reading of VT-d 5.10
 * §6.5.1, §6.5.2.1-§6.5.2.4 and Tables 23/24 (spec/caches-invalidation.md states the reference's
 * rules; this second implementation cross-checks it). Over-invalidation by a model is always
 * permitted, so "covers" must never be wider than the specification's guarantee.
 */
import type { TranslationMode } from "../contract/types.ts";
import { type Descriptor, deviceTlbRange } from "../spec/descriptor.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import type { CacheKey, PscKey } from "./keys.ts";

/** Source-id bits ignored by a device-selective context invalidation with function mask fm (Table 21). */
export function functionMaskBits(fm: number): number {
  return fm === 1 ? 0b100 : fm === 2 ? 0b110 : fm === 3 ? 0b111 : 0;
}

/** [ORACLE-COV-6] The naturally aligned input-address range [lo, hi) of an address and mask. */
export function maskedRange(addr: bigint, am: number): [bigint, bigint] {
  const size = 1n << BigInt(12 + am);
  const lo = addr & ~(size - 1n);
  return [lo, lo + size];
}

function pageIn(page: bigint, addr: bigint, am: number): boolean {
  const [lo, hi] = maskedRange(addr, am);
  return page >= lo && page < hi;
}

function regionOverlaps(k: PscKey, addr: bigint, am: number): boolean {
  const [lo, hi] = maskedRange(addr, am);
  const rlo = k.region;
  const rhi = k.region + (1n << BigInt(k.shift));
  return rlo < hi && lo < rhi;
}

/**
 * [ORACLE-COV-7] What a valid queued descriptor asks to drop, read by the oracle from the decoded
 * fields: the granularity encodings of §6.5.2.1 (context-cache G: 01b global, 10b domain, 11b
 * device), §6.5.2.3 (IOTLB G: 01b global, 10b domain, 11b page), §6.5.2.4 (PASID-based IOTLB G:
 * 10b PASID, 11b page), §6.5.2.2 (PASID-cache G: 00b domain, 01b PASID, 11b global); DID bits at
 * and above CAP.ND's width ignored (VTD-QI-8); an IOTLB address taken below MGAW and aligned down
 * to its 2^AM pages (Table 22). Device-TLB and interrupt-entry invalidations cover nothing tracked.
 * Undefined for a wait descriptor and for a granularity no valid descriptor has.
 */
export function descriptorCovers(
  d: Descriptor,
  o: { domainIdBits: number; mgaw: number },
): InvalidationScope | undefined {
  const did = (v: number) => v % 2 ** o.domainIdBits;
  const aligned = (addr: bigint, am: number) => maskedRange(addr, am)[0];
  switch (d.kind) {
    case "context-cache":
      if (d.g === 0b01) return { kind: "context", granularity: "global" };
      if (d.g === 0b10) return { kind: "context", granularity: "domain", did: did(d.did) };
      if (d.g === 0b11)
        return { kind: "context", granularity: "device", did: did(d.did), sid: d.sid, fm: d.fm };
      return undefined;
    case "iotlb":
      if (d.g === 0b01) return { kind: "iotlb", granularity: "global" };
      if (d.g === 0b10) return { kind: "iotlb", granularity: "domain", did: did(d.did) };
      if (d.g === 0b11) {
        const addr = aligned(d.addr % (1n << BigInt(o.mgaw)), d.am);
        return { kind: "iotlb", granularity: "page", did: did(d.did), addr, am: d.am, ih: d.ih };
      }
      return undefined;
    case "pasid-iotlb":
      if (d.g === 0b10) return { kind: "pasid-iotlb", granularity: "pasid", did: did(d.did), pasid: d.pasid };
      if (d.g === 0b11) {
        const addr = aligned(d.addr, d.am);
        return {
          kind: "pasid-iotlb",
          granularity: "page",
          did: did(d.did),
          pasid: d.pasid,
          addr,
          am: d.am,
          ih: d.ih,
        };
      }
      return undefined;
    case "pasid-cache":
      if (d.g === 0b00) return { kind: "pasid-cache", granularity: "domain", did: did(d.did) };
      if (d.g === 0b01) return { kind: "pasid-cache", granularity: "pasid", did: did(d.did), pasid: d.pasid };
      if (d.g === 0b11) return { kind: "pasid-cache", granularity: "global" };
      return undefined;
    case "device-tlb":
      return { kind: "device-tlb", sid: d.sid, ...deviceTlbRange(d.addr, d.s) };
    case "pasid-device-tlb":
      return { kind: "device-tlb", sid: d.sid, pasid: d.pasid, ...deviceTlbRange(d.addr, d.s) };
    case "iec":
      return { kind: "iec" };
    case "wait":
      return undefined;
  }
}

const firstLike = (s: string) => s === "first" || s === "nested";

/** True when completing `scope` guarantees that no value cached under `key` survives. */
export function covers(scope: InvalidationScope, key: CacheKey, mode: TranslationMode): boolean {
  switch (scope.kind) {
    case "context":
      // [ORACLE-COV-1] Context-cache invalidation covers context-cache keys only.
      if (key.cls !== "context") return false;
      if (scope.granularity === "global") return true;
      if (scope.granularity === "domain") return mode === "scalable" || key.did === scope.did;
      {
        const m = functionMaskBits(scope.fm);
        const sidMatch = (key.sid & ~m) === (scope.sid & ~m);
        return sidMatch && (mode === "scalable" || key.did === scope.did);
      }
    case "pasid-cache":
      // [ORACLE-COV-2] PASID-cache invalidation covers PASID-cache keys only.
      if (key.cls !== "pasid") return false;
      if (scope.granularity === "global") return true;
      if (scope.granularity === "domain") return key.did === scope.did;
      return key.did === scope.did && key.pasid === scope.pasid;
    case "iotlb":
      return coversIotlb(scope, key, mode);
    case "pasid-iotlb":
      return coversPasidIotlb(scope, key);
    case "device-tlb":
    case "iec":
      // [ORACLE-COV-5] No device-TLB or interrupt-entry cache is modelled.
      return false;
  }
}

/** [ORACLE-COV-3] IOTLB invalidation (type 2 / IOTLB_REG), Table 23. */
function coversIotlb(
  scope: Extract<InvalidationScope, { kind: "iotlb" }>,
  key: CacheKey,
  mode: TranslationMode,
): boolean {
  if (key.cls !== "iotlb" && key.cls !== "psc") return false;
  if (scope.granularity === "global") return true;
  if (key.did !== scope.did) return false;
  if (scope.granularity === "domain") return true;
  if (key.cls === "iotlb") {
    if (mode === "legacy" || !firstLike(key.stage)) return pageIn(key.page, scope.addr, scope.am);
    return true; // first-stage and nested IOTLB entries of the DID, any address
  }
  if (firstLike(key.stage)) return true; // first-stage / nested paging-structure caches by DID
  return !scope.ih && regionOverlaps(key, scope.addr, scope.am);
}

/** [ORACLE-COV-4] PASID-based IOTLB invalidation (type 6), Table 24. */
function coversPasidIotlb(
  scope: Extract<InvalidationScope, { kind: "pasid-iotlb" }>,
  key: CacheKey,
): boolean {
  if (key.cls !== "iotlb" && key.cls !== "psc") return false;
  if (key.did !== scope.did || key.pasid !== scope.pasid) return false;
  if (scope.granularity === "pasid") {
    // Every IOTLB entry of the (DID, PASID), any kind; first-stage/nested paging-structure caches only.
    return key.cls === "iotlb" || firstLike(key.stage);
  }
  if (key.cls === "iotlb") return firstLike(key.stage) && pageIn(key.page, scope.addr, scope.am);
  return firstLike(key.stage) && !scope.ih && regionOverlaps(key, scope.addr, scope.am);
}
