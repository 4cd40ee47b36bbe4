/**
 * The reference vIOMMU's translation caches (VT-d 5.10 §6.2): context cache, PASID cache and
 * IOTLB, each with a capacity (0 = no caching) and FIFO eviction (the oldest fill goes first;
 * hits do not reorder), so runs are deterministic. Invalidation follows §6.5 exactly as
 * spec/caches-invalidation.md states it.
 */
import type { TranslationMode } from "../platform/types.ts";
import type { InvalidationSink } from "./interfaces.ts";
import type { InvalidationScope } from "./scope.ts";

export interface CacheCapacities {
  context: number;
  pasid: number;
  iotlb: number;
}

export const DEFAULT_CAPACITIES: CacheCapacities = { context: 64, pasid: 256, iotlb: 1024 };

/** A cached context entry: the raw words as read, with the tags it is found by. */
export interface CachedContext {
  sid: number;
  /** Legacy: the entry's DID (0 for a not-present entry cached under CM). Scalable: untagged (-1). */
  did: number;
  words: readonly bigint[];
}

/** A cached PASID-table entry, found by (sid, pasid), tagged by DID and PASID. */
export interface CachedPasid {
  sid: number;
  pasid: number;
  /** The entry's DID, or 0 for a not-present entry cached under CM [VTD-CACHE-2]. */
  did: number;
  /** FPD of the PASID-directory entry it was reached through. */
  dirFpd: boolean;
  words: readonly bigint[];
}

/** What produced an IOTLB entry: decides which invalidations cover it [VTD-CACHE-5]. */
export type IotlbKind = "second-stage" | "pass-through" | "first-stage" | "nested";

export interface CachedTranslation {
  did: number;
  /** PASID (RID_PASID for requests without PASID); -1 in legacy mode. */
  pasid: number;
  kind: IotlbKind;
  /** Input page base and size. */
  iova: bigint;
  pageShift: number;
  /** Output page base. */
  base: number;
  fsW: boolean;
  fsU: boolean;
  ssR: boolean;
  ssW: boolean;
  dirty: boolean;
}

export interface CacheStats {
  context: { hits: number; misses: number; size: number };
  pasid: { hits: number; misses: number; size: number };
  iotlb: { hits: number; misses: number; size: number };
  /** Invalidations processed, by kind. */
  invalidations: Record<string, number>;
}

class Fifo<V> {
  readonly map = new Map<string, V>();
  hits = 0;
  misses = 0;
  constructor(readonly capacity: number) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) this.misses++;
    else this.hits++;
    return v;
  }

  set(key: string, v: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    while (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
    this.map.set(key, v);
  }

  dropWhere(pred: (v: V) => boolean): void {
    for (const [k, v] of this.map) if (pred(v)) this.map.delete(k);
  }

  stats() {
    return { hits: this.hits, misses: this.misses, size: this.map.size };
  }
}

/** Devfn bits masked by a context-cache invalidation's function mask (Table 21). */
function functionMask(fm: number): number {
  return fm === 1 ? 0b100 : fm === 2 ? 0b110 : fm === 3 ? 0b111 : 0;
}

/** [VTD-CACHE-9] An invalidation range: 2^am pages, naturally aligned (low address bits ignored). */
function range(addr: bigint, am: number): [bigint, bigint] {
  const size = 1n << BigInt(12 + am);
  const start = BigInt.asUintN(64, addr) & ~(size - 1n);
  return [start, start + size];
}

function overlaps(e: CachedTranslation, r: [bigint, bigint]): boolean {
  const start = e.iova;
  const end = start + (1n << BigInt(e.pageShift));
  return start < r[1] && r[0] < end;
}

export class VtdCaches implements InvalidationSink {
  private readonly context: Fifo<CachedContext>;
  private readonly pasid: Fifo<CachedPasid>;
  private readonly iotlb: Fifo<CachedTranslation>;
  private readonly invalidations: Record<string, number> = {};

  constructor(readonly capacities: CacheCapacities = DEFAULT_CAPACITIES) {
    this.context = new Fifo(capacities.context);
    this.pasid = new Fifo(capacities.pasid);
    this.iotlb = new Fifo(capacities.iotlb);
  }

  // -- context cache [VTD-CACHE-1]
  lookupContext(sid: number): CachedContext | undefined {
    return this.context.get(String(sid));
  }
  fillContext(e: CachedContext): void {
    this.context.set(String(e.sid), e);
  }

  // -- PASID cache [VTD-CACHE-2]
  lookupPasid(sid: number, pasid: number): CachedPasid | undefined {
    return this.pasid.get(`${sid}:${pasid}`);
  }
  fillPasid(e: CachedPasid): void {
    this.pasid.set(`${e.sid}:${e.pasid}`, e);
  }

  // -- IOTLB [VTD-CACHE-3]
  /** The cached translation covering iova for (did, pasid), at any page size. */
  lookupIotlb(did: number, pasid: number, iova: bigint): CachedTranslation | undefined {
    const a = BigInt.asUintN(64, iova);
    for (const shift of [12, 21, 30]) {
      const v = this.iotlb.map.get(`${did}:${pasid}:${shift}:${a >> BigInt(shift)}`);
      if (v !== undefined) {
        this.iotlb.hits++;
        return v;
      }
    }
    this.iotlb.misses++;
    return undefined;
  }
  fillIotlb(e: CachedTranslation): void {
    this.iotlb.set(`${e.did}:${e.pasid}:${e.pageShift}:${e.iova >> BigInt(e.pageShift)}`, e);
  }
  /** Drop one cached translation (for example before a re-walk that must set D). */
  dropIotlb(e: CachedTranslation): void {
    this.iotlb.map.delete(`${e.did}:${e.pasid}:${e.pageShift}:${e.iova >> BigInt(e.pageShift)}`);
  }

  /** [VTD-CACHE-4] .. [VTD-CACHE-9] Drop exactly what the invalidation covers. */
  invalidate(scope: InvalidationScope, mode: TranslationMode): void {
    const name = "granularity" in scope ? `${scope.kind}/${scope.granularity}` : scope.kind;
    this.invalidations[name] = (this.invalidations[name] ?? 0) + 1;
    switch (scope.kind) {
      case "context":
        if (scope.granularity === "global" || (scope.granularity === "domain" && mode === "scalable")) {
          this.context.map.clear();
        } else if (scope.granularity === "domain") {
          this.context.dropWhere((e) => e.did === scope.did);
        } else {
          const fm = functionMask(scope.fm);
          this.context.dropWhere(
            (e) => (e.sid & ~fm) === (scope.sid & ~fm) && (mode === "scalable" || e.did === scope.did),
          );
        }
        return;
      case "pasid-cache":
        if (scope.granularity === "global") this.pasid.map.clear();
        else if (scope.granularity === "domain") this.pasid.dropWhere((e) => e.did === scope.did);
        else this.pasid.dropWhere((e) => e.did === scope.did && e.pasid === scope.pasid);
        return;
      case "iotlb":
        if (scope.granularity === "global") this.iotlb.map.clear();
        else if (scope.granularity === "domain") this.iotlb.dropWhere((e) => e.did === scope.did);
        else {
          const r = range(scope.addr, scope.am);
          this.iotlb.dropWhere(
            (e) => e.did === scope.did && (e.kind === "first-stage" || e.kind === "nested" || overlaps(e, r)),
          );
        }
        return;
      case "pasid-iotlb":
        if (scope.granularity === "pasid") {
          this.iotlb.dropWhere((e) => e.did === scope.did && e.pasid === scope.pasid);
        } else {
          const r = range(scope.addr, scope.am);
          this.iotlb.dropWhere(
            (e) =>
              e.did === scope.did &&
              e.pasid === scope.pasid &&
              (e.kind === "first-stage" || e.kind === "nested") &&
              overlaps(e, r),
          );
        }
        return;
      case "device-tlb":
      case "iec":
        return;
    }
  }

  stats(): CacheStats {
    return {
      context: this.context.stats(),
      pasid: this.pasid.stats(),
      iotlb: this.iotlb.stats(),
      invalidations: { ...this.invalidations },
    };
  }

  /** Cached entries, for tests and diagnostics. */
  entries(): { context: CachedContext[]; pasid: CachedPasid[]; iotlb: CachedTranslation[] } {
    return {
      context: [...this.context.map.values()],
      pasid: [...this.pasid.map.values()],
      iotlb: [...this.iotlb.map.values()],
    };
  }
}
