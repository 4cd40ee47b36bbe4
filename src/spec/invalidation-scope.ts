/**
 * What one invalidation asks to be dropped from the vIOMMU's caches, decoded from a
 * queued-invalidation descriptor (src/vtd/queue.ts) or a register-based command
 * (CCMD, IOTLB register). The caches (src/vtd/caches.ts) decide which cached entries
 * each scope covers; spec/caches-invalidation.md states the rules.
 * Addresses are page-aligned input addresses; am is the address mask (2^am pages).
 */
export type InvalidationScope =
  | { kind: "context"; granularity: "global" }
  | { kind: "context"; granularity: "domain"; did: number }
  | { kind: "context"; granularity: "device"; did: number; sid: number; fm: number }
  | { kind: "iotlb"; granularity: "global" }
  | { kind: "iotlb"; granularity: "domain"; did: number }
  | { kind: "iotlb"; granularity: "page"; did: number; addr: bigint; am: number; ih: boolean }
  | { kind: "pasid-iotlb"; granularity: "pasid"; did: number; pasid: number }
  | {
      kind: "pasid-iotlb";
      granularity: "page";
      did: number;
      pasid: number;
      addr: bigint;
      am: number;
      ih: boolean;
    }
  | { kind: "pasid-cache"; granularity: "global" }
  | { kind: "pasid-cache"; granularity: "domain"; did: number }
  | { kind: "pasid-cache"; granularity: "pasid"; did: number; pasid: number }
  /** Device-TLB invalidations: accepted; the reference has no device-TLB (no ATS). */
  | { kind: "device-tlb"; sid: number; pasid?: number; addr: bigint; size: bigint }
  /** Interrupt entry cache: accepted and ignored (no interrupt remapping modelled). */
  | { kind: "iec" };

/** A fault as the translation reports it to fault recording (spec/faults.md). */
export interface FaultInfo {
  /** Fault reason code (legacy table 0x1..0xE, scalable-mode table 0x30 and up). */
  reason: number;
  sid: number;
  /** Present when the request carried a PASID (PP = 1). */
  pasid?: number;
  write: boolean;
  priv: boolean;
  /** Faulting input address, page-aligned (FI field). */
  addr: bigint;
}
