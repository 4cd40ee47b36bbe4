/**
 * Reserved-bit masks of paging entries as 32-bit halves, computed once per configuration
 * (the walk loops use only number arithmetic).
 * Layout: index ((level * 2 + ps) * 2) is the low half, +1 the high half.
 */
import {
  type FsReservedOptions,
  fsReservedMask,
  type PagingLevel,
  reservedMaskHalves,
  type SsReservedOptions,
  ssReservedMask,
} from "../spec/paging-entry.ts";

// Indexed by a small number derived from the options: no string keys on the hot path.
const fsCache: Array<Uint32Array | undefined> = [];
const ssCache: Array<Uint32Array | undefined> = [];

function build(f: (level: PagingLevel, ps: boolean) => bigint): Uint32Array {
  const out = new Uint32Array(6 * 2 * 2);
  for (let level = 1; level <= 5; level++) {
    for (let ps = 0; ps <= 1; ps++) {
      const [lo, hi] = reservedMaskHalves(f(level as PagingLevel, ps === 1));
      out[(level * 2 + ps) * 2] = lo;
      out[(level * 2 + ps) * 2 + 1] = hi;
    }
  }
  return out;
}

function fsMasksFor(o: FsReservedOptions): Uint32Array {
  const key = (o.haw & 0x7f) * 2 + (o.fs1gp ? 1 : 0);
  let m = fsCache[key];
  if (m === undefined) {
    m = build((level, ps) => fsReservedMask(level, ps, o));
    fsCache[key] = m;
  }
  return m;
}

// The options object of the last call: a translator passes the same parameters walk after walk.
let lastSsOptions: SsReservedOptions | undefined;
let lastSsMasks: Uint32Array | undefined;
let lastFsOptions: FsReservedOptions | undefined;
let lastFsMasks: Uint32Array | undefined;

export function ssMasks(o: SsReservedOptions): Uint32Array {
  if (o === lastSsOptions && lastSsMasks !== undefined) return lastSsMasks;
  lastSsMasks = ssMasksFor(o);
  lastSsOptions = o;
  return lastSsMasks;
}

export function fsMasks(o: FsReservedOptions): Uint32Array {
  if (o === lastFsOptions && lastFsMasks !== undefined) return lastFsMasks;
  lastFsMasks = fsMasksFor(o);
  lastFsOptions = o;
  return lastFsMasks;
}

function ssMasksFor(o: SsReservedOptions): Uint32Array {
  const key =
    (o.haw & 0x7f) * 8 +
    (o.snoopControl ? 4 : 0) +
    (o.largePages.twoMiB ? 2 : 0) +
    (o.largePages.oneGiB ? 1 : 0);
  let m = ssCache[key];
  if (m === undefined) {
    m = build((level, ps) => ssReservedMask(level, ps, o));
    ssCache[key] = m;
  }
  return m;
}
