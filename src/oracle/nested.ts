/**
 * The oracle's own nested walk (PGTT = 011b) [ORACLE-WALK-5]: a first-stage walk whose FSPTPTR,
 * every table pointer and the output are guest-physical, each translated by the oracle's own
 * second-stage walk (pagingStep of paging.ts), VT-d 5.10 §3.8, with the fault order of §3.8.1 and
 * VTD-NEST-1..6. It reads memory and writes nothing: A/EA/D updates are decided, not made. A
 * second implementation of src/paging/nested.ts, cross-checked against it in test/oracle.
 */
import {
  type FirstStageFaultKind,
  type SecondStageFaultKind,
  scalableWalkReason,
  type WalkFault,
} from "../spec/fault-reasons.ts";
import { decodeFsEntry, fsReservedBits, levelShift, type PagingLevel } from "../spec/paging-entry.ts";
import { hex } from "../spec/word.ts";
import type { OracleConfig } from "./config.ts";
import { accessedBits, dirtyBit } from "./flag-marks.ts";
import type { WordReader } from "./history-memory.ts";
import type { FaultValue, OutcomeValue, Rights } from "./outcome.ts";
import { ALL_RIGHTS, type Frontier, pagingStep, type Setup, translation } from "./paging.ts";

const FS_A = 1n << 5n;
const FS_D = 1n << 6n;
const FS_EA = 1n << 10n;
const SS_A = 1n << 8n;
const SS_D = 1n << 9n;

/** A nested walk's fault: its cause, and whether it met the second stage fetching a table entry. */
export type NestedFault = WalkFault & { nestedFetch?: boolean; explain: string };

export type NestedResult =
  | { ok: true; out: number; pageShift: number; rights: Rights; explain: string }
  | ({ ok: false } & NestedFault);

/** Where a nested walk continues: the first-stage table of `level` (guest-physical), with the rights above. */
export interface NestedFrontier {
  level: number;
  /** Guest-physical address of the first-stage table. */
  table: number;
  rights: Rights;
  atRoot: boolean;
  explain: string;
}

/** [ORACLE-JUDGE-9] Told of every entry a walk used: the A/EA bits it may get, and D if a leaf. */
export type EntryMark = (at: number, accessed: bigint, dirty: bigint) => void;

const noMark: EntryMark = () => {};

/** The second stage of a nested PASID entry, walked like any second stage (VTD-SS-1..6). */
function secondStageOf(s: Setup): Setup {
  return { ...s, stage: "second", root: s.ssRoot, levels: s.ssLevels };
}

type SsResult =
  | {
      ok: true;
      hpa: number;
      pageShift: number;
      ssR: boolean;
      ssW: boolean;
      adNeeded: boolean;
      explain: string;
    }
  | { ok: false; kind: SecondStageFaultKind; explain: string };

/**
 * [VTD-NEST-2] [VTD-NEST-4] The second-stage translation of guest-physical `gpa` for an access,
 * from SSPTPTR. `adNeeded`: with SSADE, an A (or, for a write, the leaf's D) flag the walk would set
 * is clear in memory (a unit whose page walks do not snoop faults SSS.5 there, VTD-SS-6).
 */
function ssTranslate(
  mem: WordReader,
  ss: Setup,
  gpa: number,
  write: boolean,
  cfg: OracleConfig,
  reads: Set<number>,
  mark: EntryMark,
): SsResult {
  const page = BigInt(gpa - (gpa % 4096));
  if (page >> BigInt(ss.ssWidth) !== 0n)
    return { ok: false, kind: "input-beyond-width", explain: `GPA ${hex(gpa)} beyond the second stage` };
  let f: Frontier = { level: ss.levels, table: ss.root, rights: ALL_RIGHTS, atRoot: true, explain: "" };
  let adNeeded = false;
  for (;;) {
    const r = pagingStep(mem, ss, f, page, cfg, reads);
    if (r.kind === "fault") {
      return { ok: false, kind: r.cause.kind as SecondStageFaultKind, explain: r.explain };
    }
    if (ss.ssade && (r.word & SS_A) === 0n) adNeeded = true;
    mark(r.at, accessedBits(ss, "second"), r.kind === "leaf" ? dirtyBit(ss, "second") : 0n);
    if (r.kind === "next") {
      f = r.next;
      continue;
    }
    const { ssR, ssW } = r.value.rights;
    if (!ssR && !ssW) return { ok: false, kind: "not-present", explain: `${r.explain} no right` };
    if (write && !ssW) return { ok: false, kind: "no-write", explain: `${r.explain} no write` };
    if (!write && !ssR) return { ok: false, kind: "no-read", explain: `${r.explain} no read` };
    if (ss.ssade && write && (r.word & SS_D) === 0n) adNeeded = true;
    return {
      ok: true,
      hpa: r.value.out + (gpa % 4096),
      pageShift: r.value.pageShift,
      ssR,
      ssW,
      adNeeded,
      explain: r.explain,
    };
  }
}

/** The top frontier of a nested setup: the first-stage table FSPTPTR names. */
export function nestedRootFrontier(s: Setup): NestedFrontier {
  return { level: s.levels, table: s.root, rights: ALL_RIGHTS, atRoot: true, explain: `${s.explain} ->` };
}

/**
 * [VTD-NEST-1..6] One nested walk of the 4 KiB input `page` for an access, in the reference order
 * of §3.8.1: each first-stage entry's address through the second stage (read, and write too with
 * SSADE), the entry itself, the first stage's rights, the output through the second stage for the
 * request's access, then the A/EA/D updates (second-stage read and write on each entry).
 * `adFaults` collects the A/D faults a unit whose page walks do not snoop (PWSNP = 0) would take
 * where a flag is clear in memory: the model may have set it unseen, so the walk goes on past them.
 */
export function walkNestedPage(
  mem: WordReader,
  s: Setup,
  page: bigint,
  write: boolean,
  priv: boolean,
  cfg: OracleConfig,
  reads: Set<number>,
  adFaults: WalkFault[] = [],
  mark: EntryMark = noMark,
  start: NestedFrontier = nestedRootFrontier(s),
): NestedResult {
  const ss = secondStageOf(s);
  const nonSnooped = !s.pwsnp;
  const gpaLimit = 2 ** s.ssWidth;
  const firstFault = (kind: FirstStageFaultKind, explain: string, root = false): NestedResult => ({
    ok: false,
    stage: "first",
    kind,
    root,
    explain,
  });
  const used: Array<{ gpa: number; word: bigint; level: number; ssW: boolean }> = [];
  let f = start;
  let leafWord = 0n;
  let rights = f.rights;
  for (;;) {
    const level = f.level as PagingLevel;
    const index = Number((page >> BigInt(levelShift(level))) & 0x1ffn);
    const gpa = f.table + index * 8;
    const at = `${f.explain} L${level}[GPA ${hex(gpa)}]`;
    const s2 = ssTranslate(mem, ss, gpa, false, cfg, reads, mark);
    if (!s2.ok) {
      if (s2.kind === "no-read") return firstFault("nested-no-read", `${at} ${s2.explain}`, f.atRoot);
      return { ok: false, stage: "second", kind: s2.kind, root: f.atRoot, nestedFetch: true, explain: at };
    }
    if (s2.adNeeded && nonSnooped) adFaults.push({ stage: "second", kind: "ad-non-snooped" });
    if (s.ssade && !s2.ssW)
      return firstFault("nested-no-read", `${at} no second-stage write (SSADE)`, f.atRoot);
    const ea = s2.hpa;
    if (ea + 8 > mem.size)
      return firstFault(f.atRoot ? "root-access" : "entry-access", `${at} outside memory`, f.atRoot);
    reads.add(ea);
    const w = mem.word(ea);
    const shown = `${at}=${hex(w)}`;
    const e = decodeFsEntry(w, level);
    if (!e.present) return firstFault("not-present", `${shown} not present`);
    if (fsReservedBits(w, level, { haw: cfg.haw, fs1gp: cfg.fs1gp }) !== 0n)
      return firstFault("reserved", `${shown} reserved bits`);
    if (e.addr >= gpaLimit)
      return firstFault("nested-beyond-width", `${shown} address beyond the second stage`);
    rights = { ...rights, fsW: rights.fsW && e.write, fsU: rights.fsU && e.user };
    used.push({ gpa, word: w, level, ssW: s2.ssW });
    mark(ea, accessedBits(s, "first"), e.leaf ? dirtyBit(s, "first") : 0n);
    if (e.leaf) {
      leafWord = w;
      f = { ...f, explain: shown };
      break;
    }
    f = { level: level - 1, table: e.addr, rights, atRoot: false, explain: shown };
  }
  // [VTD-FS-6] the first stage's rights, before the output is translated (ORACLE-NEST-1).
  const level = f.level;
  if (!priv && !rights.fsU) return firstFault("user-supervisor", `${f.explain} U/S = 0`);
  if (write && !rights.fsW && (!priv || s.wpe)) return firstFault("no-write", `${f.explain} R/W = 0`);
  // [VTD-NEST-4] the output through the second stage, for the request's own access.
  const fsShift = levelShift(level);
  const fsSize = 2 ** fsShift;
  const frame = decodeFsEntry(leafWord, level as PagingLevel).addr;
  const outGpa = frame - (frame % fsSize) + Number(page % BigInt(fsSize));
  const out = ssTranslate(mem, ss, outGpa, write, cfg, reads, mark);
  if (!out.ok)
    return {
      ok: false,
      stage: "second",
      kind: out.kind,
      root: false,
      nestedFetch: false,
      explain: f.explain,
    };
  if (out.adNeeded && nonSnooped) adFaults.push({ stage: "second", kind: "ad-non-snooped" });
  // [VTD-NEST-5] A/EA (and D on the leaf for a write) need second-stage write on each entry.
  const aBits = s.eafe ? FS_A | FS_EA : FS_A;
  for (let i = 0; i < used.length; i++) {
    const u = used[i] as (typeof used)[number];
    const want = u.word | aBits | (write && i === used.length - 1 ? FS_D : 0n);
    if (want === u.word) continue;
    if (nonSnooped) {
      adFaults.push({ stage: "first", kind: "ad-non-snooped" });
      continue;
    }
    if (!u.ssW)
      return firstFault(
        "nested-ad-blocked",
        `${f.explain} A/D update of GPA ${hex(u.gpa)} without second-stage write`,
        u.level === s.levels,
      );
  }
  const pageShift = Math.min(fsShift, out.pageShift);
  const size = 2 ** pageShift;
  return {
    ok: true,
    out: out.hpa - (out.hpa % size) + Number(page % BigInt(size)),
    pageShift,
    rights: { fsW: rights.fsW, fsU: rights.fsU, ssR: out.ssR, ssW: out.ssW },
    explain: `${f.explain} -> GPA ${hex(outGpa)} -> ${out.explain}`,
  };
}

/** [VTD-NEST-2] [VTD-NEST-3] [VTD-NEST-5] Reason code of a nested-walk fault (one mapping, src/spec). */
function nestedFault(f: WalkFault, s: Setup, access: "read" | "write"): FaultValue {
  const code = scalableWalkReason(f);
  return { kind: "fault", reason: { read: code, write: code }, record: s.fpd ? "no" : "yes", access };
}

/** The outcomes of a fresh nested walk of one input page, for reads and for writes. */
export function nestedOutcomes(
  mem: WordReader,
  s: Setup,
  page: bigint,
  cfg: OracleConfig,
  reads: Set<number>,
  mark: EntryMark = noMark,
): Array<{ value: OutcomeValue; explain: string }> {
  const out: Array<{ value: OutcomeValue; explain: string }> = [];
  const adRead: WalkFault[] = [];
  const adWrite: WalkFault[] = [];
  const rd = walkNestedPage(mem, s, page, false, true, cfg, reads, adRead, mark);
  const wr = walkNestedPage(mem, s, page, true, true, cfg, reads, adWrite, mark);
  for (const [r, access, ad] of [
    [rd, "read", adRead],
    [wr, "write", adWrite],
  ] as const) {
    if (r.ok) {
      const t = translation(s, r.out, r.pageShift, r.rights);
      out.push({ value: t, explain: `${s.explain} -> nested walk (${access}) -> 0x${t.out.toString(16)}` });
    } else if (!(access === "write" && rd.ok && r.kind === "no-write")) {
      out.push({
        value: nestedFault(r, s, access),
        explain: `${s.explain} -> nested walk (${access}) faults: ${r.stage} ${r.kind}`,
      });
      // [ORACLE-NEST-1] the output address failed the second stage: a unit may have refused a
      // user request (or a user write) on the first stage's rights before it got there.
      if (r.stage === "second" && r.nestedFetch === false) {
        const u = walkNestedPage(mem, s, page, access === "write", false, cfg, reads);
        if (!u.ok && u.stage === "first" && (u.kind === "user-supervisor" || u.kind === "no-write"))
          out.push({
            value: nestedFault(u, s, access),
            explain: `${s.explain} -> nested walk (${access}, user request) faults on the first stage's rights: ${u.kind}`,
          });
      }
    }
    // [ORACLE-JUDGE-1] page walks that do not snoop: an A/D update met on the way may fault instead.
    for (const a of ad)
      out.push({
        value: nestedFault(a, s, access),
        explain: `${s.explain} -> nested walk (${access}): A/D update without snooping (${a.stage} stage)`,
      });
  }
  return out;
}
