/**
 * The reference vIOMMU's translation caches (VT-d 5.10 §6.2): context cache, PASID cache, IOTLB and
 * paging-structure caches, each with a capacity (0 = no caching) and FIFO eviction (the oldest fill
 * goes first; hits do not reorder), so runs are deterministic, or a seeded random victim
 * [VTD-CACHE-13]. Invalidation follows §6.5 exactly as spec/caches-invalidation.md states it.
 *
 * Lookups use number keys only (no strings, no bigint): the IOTLB and the paging-structure caches
 * are filed under a tag number for (DID, PASID) and found by the input-address prefix as a number.
 */

import type { TranslationMode } from "../contract/types.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import type { IotlbKind, LegacyContextView, PasidView, ScalableContextView } from "./entry-views.ts";
import type { InvalidationSink } from "./interfaces.ts";

export interface CacheCapacities {
  context: number;
  pasid: number;
  iotlb: number;
  /** Paging-structure caches, all levels and stages together [VTD-CACHE-11]; absent = 0 (off). */
  psc?: number;
}

export const DEFAULT_CAPACITIES: CacheCapacities = { context: 64, pasid: 256, iotlb: 1024, psc: 64 };

/**
 * [VTD-CACHE-13] Which entry a full cache evicts: given the number of entries, the fill-order
 * index of the victim. Absent: FIFO (index 0). A seeded random choice makes eviction orders a
 * FIFO never makes, still deterministic for one seed.
 */
export type EvictionChoice = (size: number) => number;

/** A cached context entry: the raw words as read, with the tags it is found by. */
export interface CachedContext {
  sid: number;
  /** Legacy: the entry's DID (0 for a not-present entry cached under CM). Scalable: untagged (-1). */
  did: number;
  words: readonly bigint[];
  /** The translator's decoding of `words`, made once per mode (it never changes while cached). */
  legacyView?: LegacyContextView;
  scalableView?: ScalableContextView;
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
  /** The translator's decoding of `words`, made once. */
  view?: PasidView;
}

export interface CachedTranslation {
  /** Source-id of the request that filled it: only that requester may use it (Table 17). */
  sid: number;
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

/** Which tables a paging-structure-cache entry comes from [VTD-CACHE-11]. */
export type PscStage = "first" | "second";

/**
 * [VTD-CACHE-11] A paging-structure-cache entry: a present, error-free non-leaf entry at `level`
 * (5 PML5E, 4 PML4E, 3 PDPE, 2 PDE), for the input addresses whose bits above levelShift(level)
 * equal `prefix`. It holds the table the entry points to and the cumulative rights of the
 * entries down to it, independent of the upper entries that led to it.
 */
export interface CachedPagingStructure {
  did: number;
  /** PASID (RID_PASID for requests without PASID); -1 in legacy mode. */
  pasid: number;
  stage: PscStage;
  level: number;
  /** Input-address bits 63:shift (the region is [prefix << shift, (prefix + 1) << shift)). */
  prefix: number;
  /** levelShift(level): 21, 30, 39 or 48. */
  shift: number;
  /** Address of the next-lower table. */
  next: number;
  /** Cumulative rights (PERM_* bits of src/paging). */
  perms: number;
}

export interface CacheStats {
  context: { hits: number; misses: number; size: number };
  pasid: { hits: number; misses: number; size: number };
  iotlb: { hits: number; misses: number; size: number };
  psc: { hits: number; misses: number; size: number };
  /** Invalidations processed, by kind. */
  invalidations: Record<string, number>;
}

/** Where an entry of a FifoCache is filed. */
interface Filing {
  bucket: number;
  key: number;
}

/** Most slots of a lookup front (a power of two). */
const FRONT_SLOTS = 1024;

/**
 * A FIFO cache whose entries are filed by two numbers: a bucket (a tag, such as DID and PASID
 * with a page size or level) and a key within it (an input-address prefix, a source id).
 *
 * Lookups go first through a direct-mapped front: one slot per (bucket, key) hash holding the
 * entry last found there. It is only an index: an entry leaves the front when it leaves the
 * cache, so the front never answers with anything the cache does not hold.
 */
class FifoCache<V extends object> {
  private readonly buckets = new Map<number, Map<number, V>>();
  /** Every entry in fill order, with its filing. */
  private readonly order = new Map<V, Filing>();
  private readonly frontMask: number;
  private readonly frontBucket: Float64Array;
  private readonly frontKey: Float64Array;
  private readonly frontValue: Array<V | undefined>;
  hits = 0;
  misses = 0;

  constructor(
    readonly capacity: number,
    private readonly victim?: EvictionChoice,
  ) {
    let slots = 1;
    while (slots < Math.min(Math.max(capacity, 1), FRONT_SLOTS)) slots *= 2;
    this.frontMask = slots - 1;
    this.frontBucket = new Float64Array(slots).fill(-1);
    this.frontKey = new Float64Array(slots);
    this.frontValue = new Array<V | undefined>(slots).fill(undefined);
  }

  /** The cached entry filed under (bucket, key); counts nothing. */
  find(bucket: number, key: number): V | undefined {
    // ToInt32 of the operands keeps their low bits: a cheap, deterministic hash.
    const slot = (key ^ (bucket * 31)) & this.frontMask;
    if (this.frontBucket[slot] === bucket && this.frontKey[slot] === key) return this.frontValue[slot];
    const v = this.buckets.get(bucket)?.get(key);
    if (v !== undefined) {
      this.frontBucket[slot] = bucket;
      this.frontKey[slot] = key;
      this.frontValue[slot] = v;
    }
    return v;
  }

  /** find, counted as a hit or a miss. */
  get(bucket: number, key: number): V | undefined {
    const v = this.find(bucket, key);
    if (v === undefined) this.misses++;
    else this.hits++;
    return v;
  }

  set(bucket: number, key: number, v: V): void {
    if (this.capacity <= 0) return;
    this.delete(bucket, key);
    while (this.order.size >= this.capacity) {
      const [gone, filing] = this.evictee();
      this.remove(gone, filing);
    }
    let b = this.buckets.get(bucket);
    if (b === undefined) {
      b = new Map();
      this.buckets.set(bucket, b);
    }
    b.set(key, v);
    this.order.set(v, { bucket, key });
  }

  delete(bucket: number, key: number): void {
    const v = this.buckets.get(bucket)?.get(key);
    if (v !== undefined) this.remove(v, { bucket, key });
  }

  dropWhere(pred: (v: V) => boolean): void {
    for (const [v, filing] of this.order) if (pred(v)) this.remove(v, filing);
  }

  clear(): void {
    this.buckets.clear();
    this.order.clear();
    this.frontBucket.fill(-1);
    this.frontValue.fill(undefined);
  }

  values(): V[] {
    return [...this.order.keys()];
  }

  stats() {
    return { hits: this.hits, misses: this.misses, size: this.order.size };
  }

  /** The entry to evict: the oldest fill, or the one the eviction choice names. */
  private evictee(): [V, Filing] {
    const entries = this.order.entries();
    if (this.victim === undefined) return entries.next().value as [V, Filing];
    let skip = this.victim(this.order.size);
    for (const entry of entries) if (skip-- === 0) return entry;
    throw new Error(`eviction choice outside the cache's ${this.order.size} entries`);
  }

  private remove(v: V, { bucket, key }: Filing): void {
    const b = this.buckets.get(bucket);
    b?.delete(key);
    if (b !== undefined && b.size === 0) this.buckets.delete(bucket);
    this.order.delete(v);
    const slot = (key ^ (bucket * 31)) & this.frontMask;
    if (this.frontValue[slot] === v) {
      this.frontBucket[slot] = -1;
      this.frontValue[slot] = undefined;
    }
  }
}

/** The tag number of (DID, PASID); PASID -1 (legacy mode) included. Below 2^37. */
function tagOf(did: number, pasid: number): number {
  return did * 0x20_0000 + (pasid + 1);
}

/** 2^(32 - shift) for shift 0..32: where bits 63:32 land in a prefix (a table, not Math.pow, per lookup). */
const HIGH_SCALE = Array.from({ length: 33 }, (_, shift) => 2 ** (32 - shift));

/** Bits 63:shift of the address (hi, lo) as a number, for shift 12..48 (below 2^52). */
export function prefixOf(hi: number, lo: number, shift: number): number {
  return shift >= 32 ? hi >>> (shift - 32) : hi * (HIGH_SCALE[shift] as number) + (lo >>> shift);
}

/** Bits 63:shift of a bigint address as a number. */
function prefixOfBig(addr: bigint, shift: number): number {
  return Number(BigInt.asUintN(64, addr) >> BigInt(shift));
}

/** IOTLB bucket: the tag and the page size (0: 4 KiB, 1: 2 MiB, 2: 1 GiB). */
function iotlbBucket(did: number, pasid: number, pageShift: number): number {
  return tagOf(did, pasid) * 4 + (pageShift - 12) / 9;
}

/** Paging-structure-cache bucket: the tag, the stage and the level. */
function pscBucket(did: number, pasid: number, stage: PscStage, level: number): number {
  return tagOf(did, pasid) * 16 + (stage === "first" ? 0 : 8) + level;
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

/** Whether [start, start + 2^shift) overlaps the range. */
function overlaps(start: bigint, shift: number, r: [bigint, bigint]): boolean {
  return start < r[1] && r[0] < start + (1n << BigInt(shift));
}

/** Whether a paging-structure-cache entry's region overlaps the range. */
function regionOverlaps(e: CachedPagingStructure, r: [bigint, bigint]): boolean {
  return overlaps(BigInt(e.prefix) << BigInt(e.shift), e.shift, r);
}

/**
 * [VTD-CACHE-3] An IOTLB entry is looked up by source-id too (§6.2.1 Table 17: "For a lookup to be
 * considered a match, all the associated tags must match"): another requester's entry of the same
 * domain and page is a miss (filed in the same slot, it is replaced by this requester's fill).
 */
function own(sid: number, e: CachedTranslation | undefined): CachedTranslation | undefined {
  return e !== undefined && e.sid === sid ? e : undefined;
}

const firstLike = (k: IotlbKind) => k === "first-stage" || k === "nested";

export class VtdCaches implements InvalidationSink {
  /** Filed under bucket 0 by source id. */
  private readonly context: FifoCache<CachedContext>;
  /** Filed by source id, then PASID. */
  private readonly pasid: FifoCache<CachedPasid>;
  private readonly iotlb: FifoCache<CachedTranslation>;
  private readonly psc: FifoCache<CachedPagingStructure>;
  private readonly invalidations: Record<string, number> = {};

  constructor(
    readonly capacities: CacheCapacities = DEFAULT_CAPACITIES,
    victim?: EvictionChoice,
  ) {
    this.context = new FifoCache(capacities.context, victim);
    this.pasid = new FifoCache(capacities.pasid, victim);
    this.iotlb = new FifoCache(capacities.iotlb, victim);
    this.psc = new FifoCache(capacities.psc ?? 0, victim);
  }

  // -- context cache [VTD-CACHE-1]
  lookupContext(sid: number): CachedContext | undefined {
    return this.context.get(0, sid);
  }
  fillContext(e: CachedContext): void {
    this.context.set(0, e.sid, e);
  }

  // -- PASID cache [VTD-CACHE-2]
  lookupPasid(sid: number, pasid: number): CachedPasid | undefined {
    return this.pasid.get(sid, pasid);
  }
  fillPasid(e: CachedPasid): void {
    this.pasid.set(e.sid, e.pasid, e);
  }

  // -- IOTLB [VTD-CACHE-3]
  /** True when the IOTLB keeps anything (a translator need not build entries otherwise). */
  get iotlbEnabled(): boolean {
    return this.iotlb.capacity > 0;
  }

  /** The cached translation covering the input address (hi, lo) for (sid, did, pasid), at any page size. */
  lookupIotlb(
    sid: number,
    did: number,
    pasid: number,
    hi: number,
    lo: number,
  ): CachedTranslation | undefined {
    if (this.iotlb.capacity <= 0) {
      this.iotlb.misses++;
      return undefined;
    }
    const bucket = tagOf(did, pasid) * 4;
    const v =
      own(sid, this.iotlb.find(bucket, prefixOf(hi, lo, 12))) ??
      own(sid, this.iotlb.find(bucket + 1, prefixOf(hi, lo, 21))) ??
      own(sid, this.iotlb.find(bucket + 2, prefixOf(hi, lo, 30)));
    if (v === undefined) this.iotlb.misses++;
    else this.iotlb.hits++;
    return v;
  }
  fillIotlb(e: CachedTranslation): void {
    this.iotlb.set(iotlbBucket(e.did, e.pasid, e.pageShift), prefixOfBig(e.iova, e.pageShift), e);
  }
  /** Drop one cached translation (for example before a re-walk that must set D). */
  dropIotlb(e: CachedTranslation): void {
    this.iotlb.delete(iotlbBucket(e.did, e.pasid, e.pageShift), prefixOfBig(e.iova, e.pageShift));
  }

  // -- paging-structure caches [VTD-CACHE-11]
  get pscEnabled(): boolean {
    return this.psc.capacity > 0;
  }

  /** The cached entry of `level` for the input address (hi, lo), or undefined. */
  lookupPsc(
    did: number,
    pasid: number,
    stage: PscStage,
    level: number,
    hi: number,
    lo: number,
  ): CachedPagingStructure | undefined {
    return this.psc.find(pscBucket(did, pasid, stage, level), prefixOf(hi, lo, 3 + 9 * level));
  }
  /** Count one walk that did or did not start from a paging-structure-cache entry. */
  countPsc(hit: boolean): void {
    if (hit) this.psc.hits++;
    else this.psc.misses++;
  }
  fillPsc(e: CachedPagingStructure): void {
    this.psc.set(pscBucket(e.did, e.pasid, e.stage, e.level), e.prefix, e);
  }

  /** [VTD-CACHE-4] .. [VTD-CACHE-9] [VTD-CACHE-12] Drop exactly what the invalidation covers. */
  invalidate(scope: InvalidationScope, mode: TranslationMode): void {
    const name = "granularity" in scope ? `${scope.kind}/${scope.granularity}` : scope.kind;
    this.invalidations[name] = (this.invalidations[name] ?? 0) + 1;
    switch (scope.kind) {
      case "context":
        if (scope.granularity === "global" || (scope.granularity === "domain" && mode === "scalable")) {
          this.context.clear();
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
        if (scope.granularity === "global") this.pasid.clear();
        else if (scope.granularity === "domain") this.pasid.dropWhere((e) => e.did === scope.did);
        else this.pasid.dropWhere((e) => e.did === scope.did && e.pasid === scope.pasid);
        return;
      case "iotlb":
        if (scope.granularity === "global") {
          this.iotlb.clear();
          this.psc.clear();
        } else if (scope.granularity === "domain") {
          this.iotlb.dropWhere((e) => e.did === scope.did);
          this.psc.dropWhere((e) => e.did === scope.did);
        } else {
          const r = range(scope.addr, scope.am);
          this.iotlb.dropWhere(
            (e) => e.did === scope.did && (firstLike(e.kind) || overlaps(e.iova, e.pageShift, r)),
          );
          // [VTD-CACHE-12] first-stage ones by DID; second-stage ones by DID and range unless IH.
          this.psc.dropWhere(
            (e) => e.did === scope.did && (e.stage === "first" || (!scope.ih && regionOverlaps(e, r))),
          );
        }
        return;
      case "pasid-iotlb":
        if (scope.granularity === "pasid") {
          this.iotlb.dropWhere((e) => e.did === scope.did && e.pasid === scope.pasid);
          this.psc.dropWhere((e) => e.did === scope.did && e.pasid === scope.pasid && e.stage === "first");
        } else {
          const r = range(scope.addr, scope.am);
          this.iotlb.dropWhere(
            (e) =>
              e.did === scope.did &&
              e.pasid === scope.pasid &&
              firstLike(e.kind) &&
              overlaps(e.iova, e.pageShift, r),
          );
          if (!scope.ih) {
            this.psc.dropWhere(
              (e) =>
                e.did === scope.did && e.pasid === scope.pasid && e.stage === "first" && regionOverlaps(e, r),
            );
          }
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
      psc: this.psc.stats(),
      invalidations: { ...this.invalidations },
    };
  }

  /** Cached entries, for tests and diagnostics. */
  entries(): {
    context: CachedContext[];
    pasid: CachedPasid[];
    iotlb: CachedTranslation[];
    psc: CachedPagingStructure[];
  } {
    return {
      context: this.context.values(),
      pasid: this.pasid.values(),
      iotlb: this.iotlb.values(),
      psc: this.psc.values(),
    };
  }
}
