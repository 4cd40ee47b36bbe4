/**
 * The tags under which a model may hold a cached value [ORACLE-KEY-1..4]: tags, not memory
 * addresses (VT-d 5.10 §6.2.1, Table 17). Each cached value the oracle tracks carries the key an
 * invalidation is matched against (coverage.ts).
 */
import type { TranslationMode } from "../contract/types.ts";

/** [ORACLE-KEY-1] Context cache: looked up by SID; legacy mode tags with the entry's DID (0 for a cached fault). */
export interface ContextKey {
  cls: "context";
  mode: TranslationMode;
  sid: number;
  did: number;
}

/** [ORACLE-KEY-2] PASID cache: looked up by (SID, PASID); invalidated by (DID, PASID); 0 for a cached fault. */
export interface PasidKey {
  cls: "pasid";
  sid: number;
  pasid: number;
  did: number;
}

/** Which translation a paging-structure or IOTLB entry belongs to (Tables 23, 24). */
export type StageKind = "legacy" | "second" | "pass-through" | "first" | "nested";

/**
 * [ORACLE-KEY-3] Paging-structure cache: (DID, PASID, stage, level, input-address region). PASID is
 * the request's (RID_PASID for requests without PASID) in scalable mode, absent in legacy mode.
 * `region` is the input address with the bits below levelShift(level) cleared.
 */
export interface PscKey {
  cls: "psc";
  did: number;
  pasid?: number;
  stage: StageKind;
  level: number;
  region: bigint;
  /** log2 of the region size: levelShift(level). */
  shift: number;
}

/** [ORACLE-KEY-4] IOTLB: (DID, PASID, kind, input 4 KiB page of the request). */
export interface IotlbKey {
  cls: "iotlb";
  did: number;
  pasid?: number;
  stage: StageKind;
  page: bigint;
}

export type CacheKey = ContextKey | PasidKey | PscKey | IotlbKey;

export function keyText(k: CacheKey): string {
  switch (k.cls) {
    case "context":
      return `context(sid=${hex4(k.sid)}${k.mode === "legacy" ? `, did=${k.did}` : ""})`;
    case "pasid":
      return `pasid-cache(sid=${hex4(k.sid)}, pasid=${k.pasid}, did=${k.did})`;
    case "psc":
      return `psc(did=${k.did}${k.pasid === undefined ? "" : `, pasid=${k.pasid}`}, ${k.stage}, L${k.level}, 0x${k.region.toString(16)})`;
    case "iotlb":
      return `iotlb(did=${k.did}${k.pasid === undefined ? "" : `, pasid=${k.pasid}`}, ${k.stage}, page 0x${k.page.toString(16)})`;
  }
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, "0")}`;
}
