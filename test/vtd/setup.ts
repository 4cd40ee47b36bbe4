/** Test helper: a vIOMMU configuration, memory, caches and a translator with hand-built tables. */

import type { VIommuConfig } from "../../src/contract/types.ts";
import { writeWords } from "../../src/memory/physical-memory.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import { hi32, lo32 } from "../../src/paging/address.ts";
import {
  encodeLegacyContext,
  encodeScalableContext,
  type ScalableContextEntry,
} from "../../src/spec/context-entry.ts";
import { encodePasidDir, encodePasidEntry, type PasidEntry } from "../../src/spec/pasid-entry.ts";
import { encodeLegacyRoot, encodeScalableRoot } from "../../src/spec/root-entry.ts";
import { type CacheCapacities, VtdCaches } from "../../src/vtd/caches.ts";
import type { TranslationRequest, TranslationResult } from "../../src/vtd/interfaces.ts";
import { Translator } from "../../src/vtd/translate.ts";
import { Tables } from "../paging/tables.ts";

export const CONFIG: VIommuConfig = {
  scalable: true,
  awBits: 48,
  cachingMode: false,
  firstStage: true,
  secondStage: true,
  nested: true,
  passThrough: true,
  pasidBits: 20,
  snoopControl: false,
  fs1gp: true,
  fl5lp: true,
  ssLargePages: { twoMiB: true, oneGiB: true },
  hawBits: 46,
  faultRecords: 8,
  supervisorRequests: true,
  extendedAccessed: true,
};

export const RTA = 0x1000;

/** A translation request with its input address as a bigint. */
export type RequestAt = Partial<Omit<TranslationRequest, "iovaHi" | "iovaLo">> & { iova: bigint };

export function platform(
  over: Partial<VIommuConfig> = {},
  caps: CacheCapacities = { context: 0, pasid: 0, iotlb: 0 },
) {
  const config = { ...CONFIG, ...over };
  const mem = new SparseMemory(1 << 30);
  const t = new Tables(mem, 0x10_0000);
  const caches = new VtdCaches(caps);
  const tr = new Translator(config, mem, caches);
  // Requests are written with a bigint iova; the translator takes it as 32-bit halves.
  const request = ({ iova, ...req }: RequestAt): TranslationRequest => ({
    sid: 0x0108,
    priv: false,
    write: false,
    ...req,
    iovaHi: hi32(iova),
    iovaLo: lo32(iova),
  });
  const scalable = (req: RequestAt): TranslationResult =>
    tr.translate(request(req), { address: RTA, ttm: 1 });
  const legacy = (req: RequestAt): TranslationResult => tr.translate(request(req), { address: RTA, ttm: 0 });
  return { config, mem, t, caches, tr, scalable, legacy };
}

/** Legacy root/context for sid with a second-stage table; returns the SS root. */
export function legacyDevice(
  p: ReturnType<typeof platform>,
  sid: number,
  ctx: { tt?: number; aw?: number; did?: number; fpd?: boolean } = {},
) {
  const ctp = p.t.alloc();
  const ssRoot = p.t.alloc();
  writeWords(p.mem, RTA + (sid >> 8) * 16, encodeLegacyRoot({ present: true, ctp }));
  const ceAddr = ctp + (sid & 0xff) * 16;
  writeWords(
    p.mem,
    ceAddr,
    encodeLegacyContext({
      present: true,
      tt: ctx.tt ?? 0,
      aw: ctx.aw ?? 2,
      did: ctx.did ?? 7,
      ssptptr: ssRoot,
      fpd: ctx.fpd,
    }),
  );
  return { ssRoot, ceAddr, ctp };
}

/** Scalable root/context/PASID dir for sid; returns a function that writes PASID entries. */
export function scalableDevice(
  p: ReturnType<typeof platform>,
  sid: number,
  ctx: Partial<ScalableContextEntry> = {},
) {
  const ctp = p.t.alloc();
  const dir = p.t.alloc();
  const upper = (sid & 0xff) >= 128;
  writeWords(
    p.mem,
    RTA + (sid >> 8) * 16,
    encodeScalableRoot({ lowerPresent: !upper, lctp: ctp, upperPresent: upper, uctp: ctp }),
  );
  const ceAddr = ctp + (sid & 0x7f) * 32;
  writeWords(
    p.mem,
    ceAddr,
    encodeScalableContext({ present: true, paside: true, pdts: 7, pasidDirPtr: dir, ridPasid: 0, ...ctx }),
  );
  const tables = new Map<number, number>();
  const setPasid = (pasid: number, e: PasidEntry): number => {
    let pt = tables.get(pasid >> 6);
    if (pt === undefined) {
      pt = p.t.alloc();
      tables.set(pasid >> 6, pt);
      writeWords(p.mem, dir + (pasid >> 6) * 8, [encodePasidDir({ present: true, ptp: pt })]);
    }
    const addr = pt + (pasid & 63) * 64;
    writeWords(p.mem, addr, encodePasidEntry(e));
    return addr;
  };
  return { ceAddr, dir, setPasid, ctp };
}

export function reason(r: TranslationResult): number {
  if (r.ok) throw new Error(`expected a fault, got hpa ${r.hpa.toString(16)}`);
  return r.fault.reason;
}
