/**
 * Context and PASID entries as Linux's intel-iommu fills them, for properties that want a working
 * configuration without spelling out every bit: page-walk snoop when the unit offers SMPWC, the
 * AW / FSPM fields from the number of levels, the directory size from the PASID tables. The
 * entries are plain values for the builders (ContextTables, PasidTables); change any field.
 */

import type { Capabilities } from "../spec/capabilities.ts";
import { type LegacyContextEntry, type ScalableContextEntry, TT } from "../spec/context-entry.ts";
import { type PasidEntry, PGTT } from "../spec/pasid-entry.ts";
import type { PasidTables } from "./pasid-tables.ts";

type Caps = Pick<Capabilities, "smpwcs">;

/** [VTD-CTX-1] A present legacy context entry translating through second-stage tables. */
export function legacyTranslate(did: number, ssptptr: number, levels: 3 | 4 | 5): LegacyContextEntry {
  return { present: true, tt: TT.TRANSLATE, ssptptr, aw: levels - 2, did };
}

/** [VTD-CTX-1] A present legacy pass-through context entry (needs ECAP.PT). */
export function legacyPassThrough(did: number, levels: 3 | 4 | 5 = 4): LegacyContextEntry {
  return { present: true, tt: TT.PASS_THROUGH, ssptptr: 0, aw: levels - 2, did };
}

/** The RID_PASID of the driver's scalable-mode context entries unless told otherwise. */
export const DEFAULT_RID_PASID = 0;

/**
 * The PASID a request through PASID entry `entry` carries on the surface: none for the entry
 * requests without PASID use (DEFAULT_RID_PASID) or for no entry, else the entry's own PASID.
 */
export function requestPasid(entry: number | undefined): number | undefined {
  return entry === DEFAULT_RID_PASID ? undefined : entry;
}

/** [VTD-CTX-3] A present scalable-mode context entry pointing at `pasids`; PASIDs enabled by default. */
export function scalableContext(
  pasids: PasidTables,
  o: { ridPasid?: number; paside?: boolean; fpd?: boolean } = {},
): ScalableContextEntry {
  return {
    present: true,
    fpd: o.fpd ?? false,
    paside: o.paside ?? true,
    pdts: pasids.pdts,
    pasidDirPtr: pasids.dir,
    ridPasid: o.ridPasid ?? DEFAULT_RID_PASID,
  };
}

/** [VTD-PASID-3] First-stage only (PGTT 1): FSPM from the levels, PWSNP with SMPWC (A/D updates snoop). */
export function firstStageEntry(
  caps: Caps,
  o: { did: number; fsptptr: number; levels: 4 | 5; sre?: boolean; wpe?: boolean; eafe?: boolean },
): PasidEntry {
  return {
    present: true,
    pgtt: PGTT.FIRST_STAGE,
    did: o.did,
    fsptptr: o.fsptptr,
    fspm: o.levels === 5 ? 1 : 0,
    sre: o.sre ?? false,
    wpe: o.wpe ?? false,
    eafe: o.eafe ?? false,
    pwsnp: caps.smpwcs,
  };
}

/** [VTD-PASID-3] Second-stage only (PGTT 2): AW from the levels; SSADE as asked (needs ECAP.SSADS). */
export function secondStageEntry(
  caps: Caps,
  o: { did: number; ssptptr: number; levels: 3 | 4 | 5; ssade?: boolean; pgsnp?: boolean },
): PasidEntry {
  return {
    present: true,
    pgtt: PGTT.SECOND_STAGE,
    did: o.did,
    ssptptr: o.ssptptr,
    aw: o.levels - 2,
    ssade: o.ssade ?? false,
    pgsnp: o.pgsnp ?? false,
    pwsnp: caps.smpwcs,
  };
}

/** [VTD-PASID-3] Nested (PGTT 3): first stage over second stage; SSADE as asked (needs ECAP.SSADS). */
export function nestedEntry(
  caps: Caps,
  o: {
    did: number;
    fsptptr: number;
    fsLevels: 4 | 5;
    ssptptr: number;
    ssLevels: 3 | 4 | 5;
    sre?: boolean;
    ssade?: boolean;
  },
): PasidEntry {
  return {
    ...firstStageEntry(caps, { did: o.did, fsptptr: o.fsptptr, levels: o.fsLevels, sre: o.sre }),
    pgtt: PGTT.NESTED,
    ssptptr: o.ssptptr,
    aw: o.ssLevels - 2,
    ssade: o.ssade ?? false,
  };
}

/** [VTD-PASID-3] Pass-through (PGTT 4, needs ECAP.PT). */
export function passThroughEntry(caps: Caps, o: { did: number }): PasidEntry {
  return { present: true, pgtt: PGTT.PASS_THROUGH, did: o.did, pwsnp: caps.smpwcs };
}
