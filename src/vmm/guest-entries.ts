/**
 * The VMM's reading of the guest's remapping structures for a passed-through device:
 * root → context (legacy), or root → scalable context → PASID directory → PASID entry, with
 * the same validity checks the vIOMMU applies, turned into what the host should do for the
 * device (or one of its PASIDs). Arbitrary bytes give "blocked", never an exception.
 * spec/vmm.md, VMM-BIND-*.
 */

import type { VIommuConfig } from "../contract/types.ts";
import { capabilitiesFor } from "../contract/viommu-capabilities.ts";
import { type PhysicalMemory, readWords } from "../memory/physical-memory.ts";
import type { Capabilities } from "../spec/capabilities.ts";
import {
  decodeLegacyContext,
  decodeScalableContext,
  legacyContextReserved,
  scalableContextReserved,
} from "../spec/context-entry.ts";
import type { EntryCaps } from "../spec/entry-caps.ts";
import {
  anyBits,
  decodePasidDir,
  decodePasidEntry,
  PGTT,
  pasidDirReserved,
  pasidEntryReserved,
} from "../spec/pasid-entry.ts";
import type { RootPointer } from "../spec/root-entry.ts";
import { decodeLegacyRoot, legacyRootReserved, scalableRootReserved } from "../spec/root-entry.ts";

/** What the host should do for one (device, PASID) slot. `did`/`pasid`: the guest entry's DID and PASID. */
export type Want =
  | { kind: "blocked"; did?: number; pasid?: number }
  | { kind: "stage2"; did?: number; pasid?: number }
  | {
      kind: "nested";
      did: number;
      pasid: number;
      fsptptr: number;
      sre: boolean;
      wpe: boolean;
      eafe: boolean;
      addrWidth: 48 | 57;
    }
  | { kind: "shadow"; did: number; pasid?: number; ssptptr: number; levels: 3 | 4 | 5; inputWidth: number };

/** The vIOMMU's state the VMM follows: translation enable and the latched root pointer. */
export interface GuestState {
  te: boolean;
  root: RootPointer | undefined;
}

interface ScalableCtx {
  pasidDirPtr: number;
  paside: boolean;
  pdts: number;
  ridPasid: number;
}

const BLOCKED: Want = { kind: "blocked" };

/** Levels of an AW field when SAGAW supports it, else 0. */
function agawLevels(aw: number, sagaw: number): 0 | 3 | 4 | 5 {
  if (aw < 1 || aw > 3 || ((sagaw >> aw) & 1) === 0) return 0;
  return (aw + 2) as 3 | 4 | 5;
}

export class GuestTables {
  readonly caps: Capabilities & EntryCaps;

  constructor(
    config: VIommuConfig,
    private readonly mem: PhysicalMemory,
  ) {
    this.caps = { ...capabilitiesFor(config), haw: config.hawBits };
  }

  private words(addr: number, count: number): bigint[] | undefined {
    return this.mem.contains(addr, count * 8) ? readWords(this.mem, addr, count) : undefined;
  }

  /**
   * [VMM-BIND-1] The device's requests without PASID: untranslated (stage 2 only) while
   * translation is off; else the legacy context entry, or the PASID entry at RID_PASID.
   */
  wantRid(sid: number, s: GuestState): Want {
    if (!s.te || s.root === undefined) return { kind: "stage2" };
    if (s.root.ttm === 0) return this.legacyWant(sid, s.root.address);
    const ctx = this.scalableContext(sid, s.root);
    if (ctx === undefined) return BLOCKED;
    const rid = this.caps.rps ? ctx.ridPasid : 0;
    return this.pasidWant(ctx, rid);
  }

  /** [VMM-BIND-2] The device's requests with this PASID (scalable mode, translation on). */
  wantPasid(sid: number, pasid: number, s: GuestState): Want {
    if (!s.te || s.root === undefined || s.root.ttm !== 1) return BLOCKED;
    const ctx = this.scalableContext(sid, s.root);
    if (ctx === undefined || !ctx.paside || !this.caps.pasid) return BLOCKED;
    if (pasid <= 0 || pasid >= 2 ** this.caps.pasidBits || pasid >= 2 ** (ctx.pdts + 7) * 64) return BLOCKED;
    if (this.caps.rps && pasid === ctx.ridPasid) return BLOCKED;
    return this.pasidWant(ctx, pasid);
  }

  /** RID_PASID of the device's current context entry, if it is valid (scalable mode). */
  ridPasid(sid: number, s: GuestState): number | undefined {
    if (!s.te || s.root === undefined || s.root.ttm !== 1) return undefined;
    const ctx = this.scalableContext(sid, s.root);
    return ctx === undefined ? undefined : this.caps.rps ? ctx.ridPasid : 0;
  }

  /** [VMM-BIND-6] PASIDs whose guest PASID entry is present, walking the device's directory. */
  presentPasids(sid: number, s: GuestState): number[] {
    if (!s.te || s.root === undefined || s.root.ttm !== 1 || !this.caps.pasid) return [];
    const ctx = this.scalableContext(sid, s.root);
    if (ctx === undefined || !ctx.paside) return [];
    const dirEntries = Math.min(2 ** (ctx.pdts + 7), Math.ceil(2 ** this.caps.pasidBits / 64));
    const out: number[] = [];
    for (let i = 0; i < dirEntries; i++) {
      const de = this.words(ctx.pasidDirPtr + i * 8, 1)?.[0];
      if (de === undefined || (de & 1n) === 0n || pasidDirReserved(de, this.caps.haw) !== 0n) continue;
      const table = decodePasidDir(de).ptp;
      for (let j = 0; j < 64; j++) {
        const w0 = this.words(table + j * 64, 1)?.[0];
        if (w0 !== undefined && (w0 & 1n) === 1n) out.push(i * 64 + j);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- legacy mode

  private legacyWant(sid: number, rta: number): Want {
    const re = this.words(rta + (sid >> 8) * 16, 2);
    if (re === undefined) return BLOCKED;
    const root = decodeLegacyRoot(re);
    if (!root.present || anyBits(legacyRootReserved(re, this.caps.haw))) return BLOCKED;
    const ce = this.words(root.ctp + (sid & 0xff) * 16, 2);
    if (ce === undefined) return BLOCKED;
    const c = decodeLegacyContext(ce);
    if (!c.present) return BLOCKED;
    if (anyBits(legacyContextReserved(ce, this.caps))) return { kind: "blocked", did: c.did };
    if (c.tt === 2 && this.caps.pt) return { kind: "stage2", did: c.did };
    const levels = agawLevels(c.aw, this.caps.sagaw);
    if (c.tt !== 0 || levels === 0) return { kind: "blocked", did: c.did };
    // [VMM-SHADOW-2] legacy translation: the guest's second stage, shadowed.
    return {
      kind: "shadow",
      did: c.did,
      ssptptr: c.ssptptr,
      levels,
      inputWidth: Math.min(this.caps.mgaw, 30 + 9 * (levels - 2)),
    };
  }

  // ---------------------------------------------------------------- scalable mode

  private scalableContext(sid: number, root: RootPointer): ScalableCtx | undefined {
    if (root.ttm !== 1 || !this.caps.smts) return undefined;
    const re = this.words(root.address + (sid >> 8) * 16, 2);
    if (re === undefined) return undefined;
    const half = ((sid & 0xff) >= 128 ? re[1] : re[0]) as bigint;
    if ((half & 1n) === 0n || anyBits(scalableRootReserved(re, this.caps.haw))) return undefined;
    const ctp = Number(half & 0x000f_ffff_ffff_f000n);
    const ce = this.words(ctp + (sid & 0x7f) * 32, 4);
    if (ce === undefined) return undefined;
    const c = decodeScalableContext(ce);
    if (!c.present || anyBits(scalableContextReserved(ce, this.caps))) return undefined;
    const limit = 2 ** (c.pdts + 7) * 64;
    if ((!c.dte && c.pre) || (c.eptr && !c.paside) || (this.caps.rps && c.ridPasid >= limit))
      return undefined;
    return { pasidDirPtr: c.pasidDirPtr, paside: c.paside, pdts: c.pdts, ridPasid: c.ridPasid };
  }

  private pasidWant(ctx: ScalableCtx, pasid: number): Want {
    const caps = this.caps;
    const dw = this.words(ctx.pasidDirPtr + (pasid >> 6) * 8, 1)?.[0];
    if (dw === undefined || (dw & 1n) === 0n || pasidDirReserved(dw, caps.haw) !== 0n)
      return { kind: "blocked", pasid };
    const pw = this.words(decodePasidDir(dw).ptp + (pasid & 63) * 64, 8);
    if (pw === undefined) return { kind: "blocked", pasid };
    const p = decodePasidEntry(pw);
    if (!p.present) return { kind: "blocked", pasid };
    const invalid: Want = { kind: "blocked", did: p.did, pasid };
    if (anyBits(pasidEntryReserved(pw, caps))) return invalid;
    const levels = agawLevels(p.aw, caps.sagaw);
    const usesFs = p.pgtt === PGTT.FIRST_STAGE || p.pgtt === PGTT.NESTED;
    const usesSs = p.pgtt === PGTT.SECOND_STAGE || p.pgtt === PGTT.NESTED;
    if (usesFs && !(caps.fsts && (p.fspm === 0 || (p.fspm === 1 && caps.fs5lp)))) return invalid;
    if (usesSs && (!caps.ssts || levels === 0)) return invalid;
    switch (p.pgtt) {
      case PGTT.FIRST_STAGE:
        // [VMM-BIND-3] first stage: a nested HWPT with the guest's table on the stage 2.
        return {
          kind: "nested",
          did: p.did,
          pasid,
          fsptptr: p.fsptptr,
          sre: p.sre,
          wpe: p.wpe,
          eafe: p.eafe,
          addrWidth: p.fspm === 1 ? 57 : 48,
        };
      case PGTT.PASS_THROUGH:
        // [VMM-BIND-4] pass-through: the stage 2 (GPA) itself.
        return caps.pt ? { kind: "stage2", did: p.did, pasid } : invalid;
      case PGTT.SECOND_STAGE:
        // [VMM-SHADOW-2] second stage only: shadowed.
        return {
          kind: "shadow",
          did: p.did,
          pasid,
          ssptptr: p.ssptptr,
          levels: levels as 3 | 4 | 5,
          inputWidth: Math.min(caps.mgaw, 30 + 9 * (levels - 2)),
        };
      default:
        // [VMM-BIND-5] nested in the guest (PGTT 3) cannot be given to a passed-through device.
        return invalid;
    }
  }
}
