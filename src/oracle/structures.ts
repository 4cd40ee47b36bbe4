/**
 * The oracle's own reading of root, context, PASID-directory and PASID entries [ORACLE-WALK-1]:
 * one step at a time, from memory as it was at one moment, returning either a decoded value
 * (what a context or PASID cache could hold) or a fault. A deliberate second implementation of
 * the VTD-ROOT/CTX/PASID rules, so the reference and the oracle cross-check each other.
 */

import { LegacyFault as L, ScalableFault as S } from "../spec/fault-reasons.ts";
import type { RootPointer } from "../spec/root-entry.ts";
import { bit, field, hex, mask } from "../spec/word.ts";
import type { OracleConfig } from "./config.ts";
import type { WordReader } from "./history-memory.ts";
import type { FaultValue, Recording } from "./outcome.ts";

export function fault(reason: number, record: Recording = "yes", write?: number): FaultValue {
  return { kind: "fault", reason: { read: reason, write: write ?? reason }, record };
}

/** A context entry as a context cache could hold it. */
export interface ContextValue {
  mode: "legacy" | "scalable";
  words: bigint[];
  /** Legacy: the entry's DID. Scalable: 0 (the context cache is not DID-tagged). */
  did: number;
  fpd: boolean;
  explain: string;
}

/** A PASID-table entry as a PASID cache could hold it. */
export interface PasidValue {
  pasid: number;
  words: bigint[];
  did: number;
  /** FPD of the directory entry or the PASID entry. */
  fpd: boolean;
  explain: string;
}

export type Step<V> = { ok: true; value: V } | { ok: false; fault: FaultValue; explain: string };

function reservedAbove(haw: number): bigint {
  return haw < 64 ? mask(63, haw) : 0n;
}

function readWords(mem: WordReader, addr: number, n: number): bigint[] | null {
  if (!Number.isSafeInteger(addr) || addr < 0 || addr + n * 8 > mem.size) return null;
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(mem.word(addr + i * 8));
  return out;
}

/** Is a fault "qualified" (suppressible by FPD)? Root-table-address, root and upper access errors are not. */
export function qualified(reason: number): boolean {
  const unqualified: number[] = [
    L.LRT_1_ROOT_ACCESS,
    L.LRT_2_ROOT_NOT_PRESENT,
    L.LRT_3_ROOT_RESERVED,
    L.LCT_1_CONTEXT_ACCESS,
    S.RTA_1_INVALID_RTADDR,
    S.RTA_2_LEGACY_TTM_WITH_PASID,
    S.RTA_3,
    S.RTA_4_ABORT_DMA_MODE,
    S.RTA_5,
    S.SRT_1_ROOT_ACCESS,
    S.SRT_2_ROOT_NOT_PRESENT,
    S.SRT_3_ROOT_RESERVED,
    S.SCT_1_CONTEXT_ACCESS,
    S.SPD_1_PASID_DIR_ACCESS,
    S.SPT_1_PASID_ENTRY_ACCESS,
  ];
  return !unqualified.includes(reason);
}

/**
 * [ORACLE-WALK-1] Root and context entry for a source-id, legacy (TTM = 00b) or scalable (01b).
 * A qualified fault at the context entry itself is not recorded when that entry's own FPD bit is
 * set, present or not (VT-d 5.10 §7.1.1, §9.3 "evaluated ... irrespective of ... P").
 */
export function walkContext(
  mem: WordReader,
  rp: RootPointer,
  sid: number,
  cfg: OracleConfig,
): Step<ContextValue> {
  const bus = (sid >> 8) & 0xff;
  const devfn = sid & 0xff;
  const scalable = rp.ttm === 1;
  const rootAddr = rp.address + bus * 16;
  const root = readWords(mem, rootAddr, 2);
  const where = `root[${hex(rootAddr)}]`;
  if (root === null)
    return bad(scalable ? S.SRT_1_ROOT_ACCESS : L.LRT_1_ROOT_ACCESS, `${where} outside memory`);
  const [r0, r1] = root as [bigint, bigint];
  let ctp: bigint;
  if (!scalable) {
    if (!bit(r0, 0)) return bad(L.LRT_2_ROOT_NOT_PRESENT, `${where}=${hex(r0)} not present`);
    if ((r0 & (mask(11, 1) | reservedAbove(cfg.haw))) !== 0n || r1 !== 0n)
      return bad(L.LRT_3_ROOT_RESERVED, `${where}=${hex(r0)}:${hex(r1)} reserved bits`);
    ctp = r0;
  } else {
    const half = devfn < 128 ? r0 : r1;
    if (!bit(half, 0))
      return bad(S.SRT_2_ROOT_NOT_PRESENT, `${where}.${devfn < 128 ? "lo" : "hi"}=${hex(half)} not present`);
    if ((half & (mask(11, 1) | reservedAbove(cfg.haw))) !== 0n)
      return bad(S.SRT_3_ROOT_RESERVED, `${where}=${hex(half)} reserved bits`);
    ctp = half;
  }
  const table = Number(ctp & mask(63, 12));
  const ctxAddr = scalable ? table + (devfn & 0x7f) * 32 : table + devfn * 16;
  const words = readWords(mem, ctxAddr, scalable ? 4 : 2);
  const at = `${where} -> ctx[${hex(ctxAddr)}]`;
  if (words === null)
    return bad(scalable ? S.SCT_1_CONTEXT_ACCESS : L.LCT_1_CONTEXT_ACCESS, `${at} outside memory`);
  const w0 = words[0] as bigint;
  const w1 = words[1] as bigint;
  const explain = `${at}=${words.map((w) => hex(w)).join(":")}`;
  const own: Recording = bit(w0, 1) ? "no" : "yes";
  if (!scalable) {
    if (!bit(w0, 0)) return bad(L.LCT_2_CONTEXT_NOT_PRESENT, `${explain} not present`, own);
    // [VTD-CTX-2] DID bits above the domain-id width are reserved too.
    const didRes = cfg.domainIdBits >= 16 ? 0n : mask(23, 8 + cfg.domainIdBits);
    if (
      (w0 & (mask(11, 4) | reservedAbove(cfg.haw))) !== 0n ||
      (w1 & (mask(7, 7) | mask(63, 24) | didRes)) !== 0n
    )
      return bad(L.LCT_3_CONTEXT_RESERVED, `${explain} reserved bits`, own);
    const tt = field(w0, 3, 2);
    const aw = field(w1, 2, 0);
    const ttOk = tt === 0 || (tt === 2 && cfg.pt);
    if (!ttOk) return bad(L.LCT_4_CONTEXT_INVALID, `${explain} TT=${tt} unsupported`, own);
    if (tt === 0 && ((cfg.sagaw >> aw) & 1) === 0)
      return bad(L.LCT_4_CONTEXT_INVALID, `${explain} AW=${aw} unsupported`, own);
    return { ok: true, value: { mode: "legacy", words, did: field(w1, 23, 8), fpd: bit(w0, 1), explain } };
  }
  if (!bit(w0, 0)) return bad(S.SCT_2_CONTEXT_NOT_PRESENT, `${explain} not present`, own);
  const w2 = words[2] as bigint;
  const w3 = words[3] as bigint;
  // [VTD-CTX-4] bits 8:7 and 63:HAW, 255:85, and each field whose capability is absent: DTE (DT),
  // PASIDE (PASID), PRE (PRS), HPTE (HPTS), EPTR (PTRS), RID_PASID (RPS), RID_PRIV (RPRIVS).
  const c = cfg.ctx;
  const res0 =
    mask(8, 7) |
    reservedAbove(cfg.haw) |
    (c.dt ? 0n : 1n << 2n) |
    (c.pasid ? 0n : 1n << 3n) |
    (c.prs ? 0n : 1n << 4n) |
    (cfg.hpts ? 0n : 1n << 5n) |
    (c.ptrs ? 0n : 1n << 6n);
  const res1 = mask(63, 21) | (c.rps ? 0n : mask(19, 0)) | (c.rprivs ? 0n : 1n << 20n);
  if ((w0 & res0) !== 0n || (w1 & res1) !== 0n || w2 !== 0n || w3 !== 0n)
    return bad(S.SCT_3_CONTEXT_RESERVED, `${explain} reserved bits`, own);
  const pdts = field(w0, 11, 9);
  const ridPasid = field(w1, 19, 0);
  if (bit(w0, 4) && !bit(w0, 2)) return bad(S.SCT_4_CONTEXT_INVALID, `${explain} PRE=1 with DTE=0`, own);
  if (ridPasid >> 6 >= 2 ** (pdts + 7))
    return bad(S.SCT_4_CONTEXT_INVALID, `${explain} RID_PASID beyond PDTS`, own);
  return { ok: true, value: { mode: "scalable", words, did: 0, fpd: bit(w0, 1), explain } };
}

/**
 * [ORACLE-WALK-2] [VTD-PASID-4] Whether a present PASID-table entry has a reserved bit set (VT-d
 * 5.10 §9.6): bits reserved always, pointer bits 63:HAW, and fields reserved for lack of the
 * capability they need. Written from the table, independently of src/spec/pasid-entry.ts.
 */
function pasidEntryReservedSet(w: readonly bigint[], cfg: OracleConfig): boolean {
  const above = reservedAbove(cfg.haw);
  const off = (present: boolean, m: bigint): bigint => (present ? 0n : m);
  const all = mask(63, 0);
  const masks = [
    // 5, 11:10, 63:HAW; AW and SSPTPTR need SSTS; SSADE needs SSTS and SSADS
    (1n << 5n) |
      mask(11, 10) |
      above |
      off(cfg.ssts, mask(4, 2) | mask(63, 12)) |
      off(cfg.ssts && cfg.ssads, 1n << 9n),
    // 86:80 and 95:91; DID above the domain-id width; PWSNP, PGSNP; CD, EMTE, PAT need MTS
    mask(22, 16) |
      mask(31, 27) |
      (cfg.domainIdBits >= 16 ? 0n : mask(15, cfg.domainIdBits)) |
      off(cfg.smpwcs, 1n << 23n) |
      off(cfg.snoopControl, 1n << 24n) |
      off(cfg.mts, mask(26, 25) | mask(63, 32)),
    // 129, 139:136, FSPTPTR above HAW; SRE; FSPM, WPE, FSPTPTR need FSTS; EAFE needs EAFS
    (1n << 1n) |
      mask(11, 8) |
      above |
      off(cfg.srs, 1n) |
      off(cfg.fsts, mask(4, 2) | mask(63, 12)) |
      off(cfg.eafs, 1n << 7n),
    all, // 255:192
    // HPT fields need HPTS: 267:259 and pointer bits above HAW always
    cfg.hpts ? mask(11, 3) | above : all,
    cfg.hpts ? mask(63, 16) : all,
    all,
    all,
  ];
  return masks.some((m, i) => ((w[i] ?? 0n) & m) !== 0n);
}

function bad<V>(reason: number, explain: string, record?: Recording): Step<V> {
  const rec: Recording = !qualified(reason) ? "yes" : (record ?? "yes");
  return { ok: false, fault: fault(reason, rec), explain: `${explain}: fault ${hex(reason)}` };
}

/** The PASID a scalable-mode request uses: its own, or the context's RID_PASID. */
export function effectivePasid(ctx: ContextValue, pasid: number | undefined): number {
  return pasid ?? field(ctx.words[1] as bigint, 19, 0);
}

/**
 * [ORACLE-WALK-2] Directory and PASID-table entry for a scalable-mode request, from a context
 * value. Checks that depend on the request (PASID support, PASIDE, PDTS) come first.
 */
export function walkPasid(
  mem: WordReader,
  ctx: ContextValue,
  reqPasid: number | undefined,
  cfg: OracleConfig,
): Step<PasidValue> {
  const w0 = ctx.words[0] as bigint;
  const ctxFpd: Recording = ctx.fpd ? "no" : "yes";
  if (reqPasid !== undefined) {
    // [VTD-PASID-5] without ECAP.PASID every PASID is beyond the supported width, PASID 0 too.
    if (cfg.pasidBits === 0 || reqPasid >= 2 ** cfg.pasidBits)
      return bad(S.SGN_10_PASID_BEYOND_PSS, `${ctx.explain}; PASID ${reqPasid} beyond PSS`, ctxFpd);
    if (!bit(w0, 3)) return bad(S.SCT_6_PASID_DISABLED, `${ctx.explain}; PASIDE=0`, ctxFpd);
  }
  const pasid = effectivePasid(ctx, reqPasid);
  const pdts = field(w0, 11, 9);
  if (pasid >> 6 >= 2 ** (pdts + 7))
    return bad(S.SCT_7_PASID_BEYOND_PDTS, `${ctx.explain}; PASID ${pasid} beyond PDTS`, ctxFpd);
  // [VTD-CTX-8] a request with PASID may not use the PASID reserved for requests without one.
  if (reqPasid !== undefined && reqPasid === effectivePasid(ctx, undefined))
    return bad(S.SCT_9_PASID_EQUALS_RID_PASID, `${ctx.explain}; PASID ${reqPasid} is RID_PASID`, ctxFpd);
  const dirAddr = Number(w0 & mask(63, 12)) + (pasid >> 6) * 8;
  const dir = readWords(mem, dirAddr, 1);
  const at = `${ctx.explain} -> pasid-dir[${hex(dirAddr)}]`;
  if (dir === null) return bad(S.SPD_1_PASID_DIR_ACCESS, `${at} outside memory`);
  const d = dir[0] as bigint;
  const dirFpd = ctx.fpd || bit(d, 1);
  // [ORACLE-WALK-1] the directory entry's own FPD counts for its own faults too (§7.1.1).
  const dRec: Recording = dirFpd ? "no" : "yes";
  if (!bit(d, 0)) return bad(S.SPD_2_PASID_DIR_NOT_PRESENT, `${at}=${hex(d)} not present`, dRec);
  if ((d & (mask(11, 2) | reservedAbove(cfg.haw))) !== 0n)
    return bad(S.SPD_3_PASID_DIR_RESERVED, `${at}=${hex(d)} reserved bits`, dRec);
  const entAddr = Number(d & mask(63, 12)) + (pasid & 63) * 64;
  const words = readWords(mem, entAddr, 8);
  const at2 = `${at}=${hex(d)} -> pasid[${hex(entAddr)}]`;
  if (words === null) return bad(S.SPT_1_PASID_ENTRY_ACCESS, `${at2} outside memory`);
  const p0 = words[0] as bigint;
  const p1 = words[1] as bigint;
  const p2 = words[2] as bigint;
  const explain = `${at2}=${words
    .slice(0, 3)
    .map((w) => hex(w))
    .join(":")}`;
  const eRec: Recording = dirFpd || bit(p0, 1) ? "no" : "yes";
  if (!bit(p0, 0)) return bad(S.SPT_2_PASID_ENTRY_NOT_PRESENT, `${explain} not present`, eRec);
  if (pasidEntryReservedSet(words, cfg))
    return bad(S.SPT_3_PASID_ENTRY_RESERVED, `${explain} reserved bits`, eRec);
  const pgtt = field(p0, 8, 6);
  const aw = field(p0, 4, 2);
  const fspm = field(p2, 3, 2);
  const usesSs = pgtt === 2 || pgtt === 3;
  const usesFs = pgtt === 1 || pgtt === 3;
  const supported =
    (pgtt === 1 && cfg.fsts) ||
    (pgtt === 2 && cfg.ssts) ||
    (pgtt === 3 && cfg.nest) ||
    (pgtt === 4 && cfg.pt);
  if (!supported) return bad(S.SPT_4_PASID_ENTRY_INVALID, `${explain} PGTT=${pgtt} unsupported`, eRec);
  if (usesSs && ((cfg.sagaw >> aw) & 1) === 0)
    return bad(S.SPT_4_PASID_ENTRY_INVALID, `${explain} AW=${aw} unsupported`, eRec);
  if (usesFs && !(fspm === 0 || (fspm === 1 && cfg.fs5lp)))
    return bad(S.SPT_4_PASID_ENTRY_INVALID, `${explain} FSPM=${fspm} unsupported`, eRec);
  return { ok: true, value: { pasid, words, did: field(p1, 15, 0), fpd: dirFpd || bit(p0, 1), explain } };
}
