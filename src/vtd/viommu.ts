/**
 * The reference vIOMMU as one unit: the register file (control path), the translation path
 * and its caches, joined over one guest-physical memory. It is what an emulated device's DMA
 * goes through; src/adapters/reference.ts puts it behind the platform surface.
 */

import type { DmaRequest, DmaResult, TranslationMode, VIommuConfig } from "../contract/types.ts";
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import { hi32, lo32 } from "../paging/address.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import { type CacheCapacities, DEFAULT_CAPACITIES, type EvictionChoice, VtdCaches } from "./caches.ts";
import type { TranslationRequest, TranslationResult } from "./interfaces.ts";
import { DmarRegisters, type RegisterListener } from "./registers.ts";
import { Translator } from "./translate.ts";

export interface VIommuOptions {
  /** Cache capacities (0 = that cache is off). */
  capacities?: CacheCapacities;
  /** Which entry a full cache evicts; absent: FIFO [VTD-CACHE-13]. */
  eviction?: EvictionChoice;
}

/** Observers of guest actions the VMM glue must follow (bind propagation, forwarding). */
export interface VIommuListener extends RegisterListener {
  /** Called after the vIOMMU's own caches have processed the invalidation. */
  onInvalidate?(scope: InvalidationScope, mode: TranslationMode): void;
}

const PAGE_MASK = 0xfffn;

export class VIommu {
  readonly caches: VtdCaches;
  readonly registers: DmarRegisters;
  readonly translator: Translator;

  constructor(
    readonly config: VIommuConfig,
    readonly mem: PhysicalMemory,
    options: VIommuOptions = {},
    listener: VIommuListener = {},
  ) {
    this.caches = new VtdCaches(options.capacities ?? DEFAULT_CAPACITIES, options.eviction);
    const caches = this.caches;
    const sink = {
      invalidate(scope: InvalidationScope, mode: TranslationMode): void {
        caches.invalidate(scope, mode);
        listener.onInvalidate?.(scope, mode);
      },
    };
    this.registers = new DmarRegisters(config, mem, sink, listener);
    this.translator = new Translator(config, mem, this.caches);
  }

  /**
   * [VTD-DMA-4] With translation disabled (GSTS.TES = 0) a request without PASID is not
   * remapped: its address is the physical address. A request with PASID is blocked
   * without a fault record. With TES = 1 the latched root pointer decides.
   */
  translate(req: TranslationRequest): TranslationResult | { ok: false; blocked: true } {
    const root = this.registers.rootPointer;
    if (!this.registers.translationEnabled || root === undefined) {
      // Physical addresses are numbers below 2^53: bits 63:53 must be clear.
      if (req.pasid !== undefined || req.iovaHi >= 2 ** 21) return { ok: false, blocked: true };
      return { ok: true, hpa: req.iovaHi * 2 ** 32 + req.iovaLo };
    }
    const result = this.translator.translate(req, root);
    if (!result.ok && result.record) this.registers.faults.recordFault(result.fault);
    return result;
  }

  /**
   * [VTD-DMA-1] A device DMA of len bytes that never crosses a 4 KiB page, translated once.
   * [VTD-DMA-5] An output range outside the memory completes as an unsupported request:
   * aborted, with no IOMMU fault.
   */
  dma(req: DmaRequest): DmaResult {
    const problem = dmaRequestProblem(req);
    if (problem !== undefined) throw new RangeError(problem);
    const result = this.translate({
      sid: req.sid,
      priv: req.priv ?? false,
      iovaHi: hi32(req.iova),
      iovaLo: lo32(req.iova),
      write: req.write,
      ...(req.pasid !== undefined ? { pasid: req.pasid } : {}),
    });
    if (!result.ok || !this.mem.contains(result.hpa, req.len)) return { status: "aborted" };
    if (req.write) {
      this.mem.write(result.hpa, req.data as Uint8Array);
      return { status: "ok" };
    }
    return { status: "ok", data: this.mem.read(result.hpa, req.len) };
  }
}

/** Why a DMA request is malformed, or undefined when it is well formed [VTD-DMA-1]. */
export function dmaRequestProblem(req: DmaRequest): string | undefined {
  if (!Number.isInteger(req.len) || req.len < 1 || req.len > 4096)
    return `DMA length ${req.len} is not 1..4096`;
  if (req.iova < 0n || req.iova >= 1n << 64n) return `DMA address ${req.iova} is not a 64-bit value`;
  if ((req.iova & PAGE_MASK) + BigInt(req.len) > 4096n)
    return "a DMA request must not cross a 4 KiB boundary";
  if (req.write && (req.data === undefined || req.data.length !== req.len)) {
    return `a DMA write needs ${req.len} data bytes`;
  }
  if (req.pasid !== undefined && (!Number.isInteger(req.pasid) || req.pasid < 0 || req.pasid >= 1 << 20)) {
    return `PASID ${req.pasid} is not a 20-bit value`;
  }
  if (!Number.isInteger(req.sid) || req.sid < 0 || req.sid > 0xffff) return `SID ${req.sid} is not 16-bit`;
  return undefined;
}
