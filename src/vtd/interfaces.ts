/**
 * Contracts between the parts of the reference vIOMMU:
 * - the translation path (translate.ts, caches.ts) walks tables and caches what it read;
 * - the control path (registers.ts, queue.ts, fault-recording.ts) owns the register file,
 *   runs the invalidation queue and records faults;
 * - viommu.ts joins them behind the platform surface.
 */
import type { TranslationMode } from "../contract/types.ts";
import type { FaultInfo, InvalidationScope } from "../spec/invalidation-scope.ts";
import type { RootPointer } from "../spec/root-entry.ts";

export type { RootPointer };

/**
 * One DMA request as the translation path sees it (never crosses a 4 KiB page). The 64-bit input
 * address travels as two unsigned 32-bit halves, so that translating never touches bigint
 * (`hi32`/`lo32` in src/paging split a bigint address).
 */
export interface TranslationRequest {
  sid: number;
  pasid?: number;
  priv: boolean;
  /** Input address bits 63:32. */
  iovaHi: number;
  /** Input address bits 31:0. */
  iovaLo: number;
  write: boolean;
}

export type TranslationResult =
  /** hpa: the output address of iova (page base + offset). */
  | { ok: true; hpa: number }
  /** record: false when fault processing is disabled (FPD) for a qualified fault. */
  | { ok: false; fault: FaultInfo; record: boolean };

/** Where the control path sends decoded invalidations. */
export interface InvalidationSink {
  invalidate(scope: InvalidationScope, mode: TranslationMode): void;
}

/** Where the translation path sends faults to be recorded. */
export interface FaultSink {
  recordFault(fault: FaultInfo): void;
}
