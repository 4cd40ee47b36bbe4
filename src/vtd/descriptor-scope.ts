/**
 * [VTD-QI-14] The reference's reading of a valid queued descriptor: the InvalidationScope it asks
 * for (the caches apply the coarsening rules of spec/caches-invalidation.md). The oracle reads the
 * same decoded descriptors its own way (src/oracle/coverage.ts).
 */
import { type Descriptor, deviceTlbRange } from "../spec/descriptor.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import { mask, U64_MASK } from "../spec/word.ts";

/** Bytes of 2^am pages, naturally aligned address (the low am page bits are masked, §6.5.2.3). */
function pageRange(addr: bigint, am: number): bigint {
  const low = (1n << BigInt(12 + am)) - 1n;
  return addr & ~low & U64_MASK;
}

export interface ScopeOptions {
  /** Domain-id width (CAP.ND): DID bits above it are ignored. */
  domainIdBits: number;
  /** MGAW in bits: IOTLB (second-stage) address bits at and above it are ignored. */
  mgaw: number;
}

/**
 * [VTD-QI-14] The InvalidationScope a valid descriptor asks for; undefined for a wait
 * descriptor. Granularities are passed through as requested; the caches apply the
 * coarsening rules of spec/caches-invalidation.md with the mode the queue supplies.
 */
export function descriptorScope(d: Descriptor, opts: ScopeOptions): InvalidationScope | undefined {
  // [VTD-QI-8] DID bits above the domain-id width are ignored.
  const did = (v: number): number => v & ((1 << opts.domainIdBits) - 1);
  switch (d.kind) {
    case "context-cache":
      if (d.g === 1) return { kind: "context", granularity: "global" };
      if (d.g === 2) return { kind: "context", granularity: "domain", did: did(d.did) };
      return { kind: "context", granularity: "device", did: did(d.did), sid: d.sid, fm: d.fm };
    case "iotlb":
      if (d.g === 1) return { kind: "iotlb", granularity: "global" };
      if (d.g === 2) return { kind: "iotlb", granularity: "domain", did: did(d.did) };
      return {
        kind: "iotlb",
        granularity: "page",
        did: did(d.did),
        addr: pageRange(d.addr & mask(opts.mgaw - 1, 0), d.am),
        am: d.am,
        ih: d.ih,
      };
    case "pasid-iotlb":
      if (d.g === 2) return { kind: "pasid-iotlb", granularity: "pasid", did: did(d.did), pasid: d.pasid };
      return {
        kind: "pasid-iotlb",
        granularity: "page",
        did: did(d.did),
        pasid: d.pasid,
        addr: pageRange(d.addr, d.am),
        am: d.am,
        ih: d.ih,
      };
    case "pasid-cache":
      if (d.g === 3) return { kind: "pasid-cache", granularity: "global" };
      if (d.g === 0) return { kind: "pasid-cache", granularity: "domain", did: did(d.did) };
      return { kind: "pasid-cache", granularity: "pasid", did: did(d.did), pasid: d.pasid };
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
