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
import type { Used } from "./required-flags.ts";

const FS_A = 1n << 5n;
const FS_D = 1n << 6n;
const FS_EA = 1n << 10n;
const SS_A = 1n << 8n;
const SS_D = 1n << 9n;

/** A nested walk's fault: its cause, and whether it met the second stage fetching a table entry. */
export type NestedFault = WalkFault & { nestedFetch?: boolean; explain: string };

/**
 * [ORACLE-JUDGE-11] An entry a nested walk read from memory: a first-stage entry at its
 * host-physical address (the second stage's output for its guest-physical one), or with SSADE a
 * second-stage entry; the A (EA) bits to set there, and D if the leaf of a write.
 */
export interface EntryRead {
  at: number;
  stage: "first" | "second";
  /**
   * First stage: the entry's level. Second stage: the level of the first-stage table whose address
   * it translated (0: the output's).
   */
  level: number;
  accessed: bigint;
  dirty: bigint;
}

/**
 * [ORACLE-JUDGE-11] Whether a way that starts from a cached nested value for the first-stage table
 * of `level` reads entry `e` too: the first-stage entries from that table down, and the
 * second-stage walks of the tables below it and of the output (the value holds its table's HPA).
 */
export function readBelow(e: EntryRead, level: number): boolean {
  return e.stage === "first" ? e.level <= level : e.level < level;
}

export type NestedResult =
  | {
      ok: true;
      out: number;
      pageShift: number;
      rights: Rights;
      explain: string;
      via?: string[];
      /** Ids of the cached second-stage values the walk used below its last nested value. */
      ssUsed: string[];
      /** [ORACLE-JUDGE-11] The entries it read from memory (none above a cached start). */
      entriesRead: EntryRead[];
      /** [ORACLE-JUDGE-11] From a cached nested value: the entries every fill of it flagged above it. */
      above?: Used;
    }
  | ({ ok: false } & NestedFault);

/** Where a nested walk continues: the first-stage table of `level` (guest-physical), with the rights above. */
export interface NestedFrontier {
  level: number;
  /** Guest-physical address of the first-stage table. */
  table: number;
  /**
   * [ORACLE-WALK-7] A nested paging-structure value supplies the table's host-physical address (and
   * whether the second stage grants write on it): its entries are read there, untranslated.
   */
  hpa?: number;
  ssW?: boolean;
  rights: Rights;
  atRoot: boolean;
  explain: string;
  /** Ids of the cached values this frontier came through (for the fills it leads to). */
  via?: string[];
  /**
   * [ORACLE-JUDGE-11] A cached nested value: the entries every fill of it read above it and had to
   * flag before creating it (§6.2.5.1–§6.2.5.4).
   */
  above?: Used;
}

/** A second-stage frontier a cached value supplies, with that value's id. */
export type CachedFrontier = Frontier & { cacheId: string };

/**
 * [ORACLE-WALK-7] What the caches may supply to a nested walk and what it may fill: the choice
 * among alternatives (a cached value, or memory), second-stage paging-structure values for the
 * guest-physical address of a first-stage table or of the output, and the fills of nested
 * (combined) and second-stage paging-structure values. Without it the walk is the fresh one.
 */
export interface NestedEnv {
  /** Pick one of n alternatives (0 = from memory); the caller enumerates the choices. */
  choose(n: number): number;
  /** Second-stage paging-structure values that may translate `gpa`. */
  ssStarts(gpa: number): CachedFrontier[];
  /** A second-stage walk of `gpa` read a pointer at `level`: its value may be cached. */
  ssFill(gpa: number, level: number, next: Frontier): void;
  /**
   * A first-stage entry of `level` pointed to a table whose address the second stage translated
   * with read permission: a nested value may be cached; returns its id. `path`: the entries the
   * walk flagged on its way there (read from memory, and those of the cached value it started from).
   */
  nestedFill(
    level: number,
    next: NestedFrontier,
    via: string[] | undefined,
    ssUsed: readonly string[],
    path: { above?: Used; read: EntryRead[] },
  ): string | undefined;
}

const FRESH: NestedEnv = {
  choose: () => 0,
  ssStarts: () => [],
  ssFill: () => {},
  nestedFill: () => undefined,
};

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
      /** The cached second-stage value the walk started from, if any. */
      cacheId?: string;
    }
  | { ok: false; kind: SecondStageFaultKind; explain: string };

/**
 * [VTD-NEST-2] [VTD-NEST-4] The second-stage translation of guest-physical `gpa` for an access,
 * from SSPTPTR. `adNeeded`: with SSADE, an A (or, for a write, the leaf's D) flag the walk would set
 * is clear in memory (a unit whose page walks do not snoop faults SSS.5 there, VTD-SS-6).
 * With SSADE, the entries it read from memory go to `got` (ORACLE-JUDGE-11), tagged `fsLevel`.
 */
function ssTranslate(
  mem: WordReader,
  ss: Setup,
  gpa: number,
  write: boolean,
  cfg: OracleConfig,
  reads: Set<number>,
  mark: EntryMark,
  env: NestedEnv,
  got: EntryRead[] = [],
  fsLevel = 0,
): SsResult {
  const page = BigInt(gpa - (gpa % 4096));
  if (page >> BigInt(ss.ssWidth) !== 0n)
    return { ok: false, kind: "input-beyond-width", explain: `GPA ${hex(gpa)} beyond the second stage` };
  // [ORACLE-WALK-7] (b) from SSPTPTR, or from a second-stage value cached for this GPA that differs
  // from what the walk from SSPTPTR reads now (an equal one gives the same translation).
  const cached = env.ssStarts(gpa);
  const fresh = cached.length === 0 ? undefined : ssFreshPath(mem, ss, page, cfg, reads);
  const starts = fresh === undefined ? cached : unlikeFresh(cached, fresh);
  // [ORACLE-JUDGE-11] a cached value equal to a frontier of the fresh walk: a way from it reads
  // nothing above that frontier, so only the entries from its level down count as read.
  let cut = Number.POSITIVE_INFINITY;
  if (fresh !== undefined)
    for (const c of cached) if (fresh.has(frontierKey(c))) cut = Math.min(cut, c.level);
  const aBit = accessedBits(ss, "second");
  const pick = starts.length === 0 ? 0 : env.choose(starts.length + 1);
  const from = pick === 0 ? undefined : (starts[pick - 1] as CachedFrontier);
  let f: Frontier = from ?? {
    level: ss.levels,
    table: ss.root,
    rights: ALL_RIGHTS,
    atRoot: true,
    explain: "",
  };
  let adNeeded = false;
  for (;;) {
    const r = pagingStep(mem, ss, f, page, cfg, reads);
    if (r.kind === "fault") {
      return { ok: false, kind: r.cause.kind as SecondStageFaultKind, explain: r.explain };
    }
    if (ss.ssade && (r.word & SS_A) === 0n) adNeeded = true;
    mark(r.at, aBit, r.kind === "leaf" ? dirtyBit(ss, "second") : 0n);
    if (aBit !== 0n && f.level <= cut)
      got.push({
        at: r.at,
        stage: "second",
        level: fsLevel,
        accessed: aBit,
        // D only on the output's leaf: a table page's is written by A/D updates, not by the request.
        dirty: r.kind === "leaf" && fsLevel === 0 ? dirtyBit(ss, "second") : 0n,
      });
    if (r.kind === "next") {
      env.ssFill(gpa, f.level, r.next);
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
      ...(from === undefined ? {} : { cacheId: from.cacheId }),
    };
  }
}

/** Frontier identity: level, table and rights (what a walk from it depends on). */
function frontierKey(f: Frontier | NestedFrontier): string {
  const r = f.rights;
  const h = "hpa" in f ? `:${f.hpa}:${f.ssW}` : "";
  return `${f.level}:${f.table}${h}:${+r.fsW}${+r.fsU}${+r.ssR}${+r.ssW}`;
}

/** The frontiers a second-stage walk of `page` from SSPTPTR passes through now. */
function ssFreshPath(
  mem: WordReader,
  ss: Setup,
  page: bigint,
  cfg: OracleConfig,
  reads: Set<number>,
): Set<string> {
  const out = new Set<string>();
  let f: Frontier = { level: ss.levels, table: ss.root, rights: ALL_RIGHTS, atRoot: true, explain: "" };
  for (;;) {
    const r = pagingStep(mem, ss, f, page, cfg, reads);
    if (r.kind !== "next") return out;
    out.add(frontierKey(r.next));
    f = r.next;
  }
}

/** Cached frontiers other than the ones the fresh walk passes through, each once. */
function unlikeFresh<F extends Frontier | NestedFrontier>(cached: F[], fresh: Set<string>): F[] {
  const seen = new Set(fresh);
  const out: F[] = [];
  for (const f of cached) {
    const k = frontierKey(f);
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(f);
  }
  return out;
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
  env: NestedEnv = FRESH,
  starts: NestedFrontier[] = [],
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
  const used: Array<{ gpa: number; ea: number; word: bigint; level: number; ssW: boolean; leaf: boolean }> =
    [];
  // [ORACLE-WALK-7] (a) from FSPTPTR, or below a nested value the caches may hold.
  const pick = starts.length === 0 ? 0 : env.choose(starts.length + 1);
  let f = pick === 0 ? nestedRootFrontier(s) : (starts[pick - 1] as NestedFrontier);
  const above = f.above;
  const aBits = s.eafe ? FS_A | FS_EA : FS_A;
  // [ORACLE-JUDGE-11] with SSADE, the second-stage entries the walk read from memory.
  const ssRead: EntryRead[] = [];
  let leafWord = 0n;
  let rights = f.rights;
  let ssUsed: string[] = [];
  for (;;) {
    const level = f.level as PagingLevel;
    const index = Number((page >> BigInt(levelShift(level))) & 0x1ffn);
    const gpa = f.table + index * 8;
    const at = `${f.explain} L${level}[GPA ${hex(gpa)}]`;
    let ea: number;
    let ssW: boolean;
    if (f.hpa !== undefined) {
      // A cached nested value holds the table's host-physical address: no second-stage fetch.
      ea = f.hpa + index * 8;
      ssW = f.ssW ?? false;
    } else {
      const s2 = ssTranslate(mem, ss, gpa, false, cfg, reads, mark, env, ssRead, level);
      if (!s2.ok) {
        if (s2.kind === "no-read") return firstFault("nested-no-read", `${at} ${s2.explain}`, f.atRoot);
        return { ok: false, stage: "second", kind: s2.kind, root: f.atRoot, nestedFetch: true, explain: at };
      }
      if (s2.adNeeded && nonSnooped) adFaults.push({ stage: "second", kind: "ad-non-snooped" });
      if (s.ssade && !s2.ssW)
        return firstFault("nested-no-read", `${at} no second-stage write (SSADE)`, f.atRoot);
      ea = s2.hpa;
      ssW = s2.ssW;
      if (s2.cacheId !== undefined) ssUsed = [...ssUsed, s2.cacheId];
      // [ORACLE-WALK-7] (a) the entry above pointed here and the second stage reads this table:
      // a nested paging-structure value of the level above may hold its host-physical address.
      if (!f.atRoot) {
        // §6.2.5.1–§6.2.5.4: creating it set A (EA) above it, "subject to write permission checks
        // at second-stage translation": so in the entries whose table page the second stage writes.
        const path = {
          ...(above === undefined ? {} : { above }),
          read: used
            .filter((u) => u.ssW)
            .map(
              (u): EntryRead => ({ at: u.ea, stage: "first", level: u.level, accessed: aBits, dirty: 0n }),
            ),
        };
        const id = env.nestedFill(level + 1, { ...f, hpa: ea - index * 8, ssW }, f.via, ssUsed, path);
        if (id !== undefined) {
          f = { ...f, via: [id] };
          ssUsed = [];
        }
      }
    }
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
    used.push({ gpa, ea, word: w, level, ssW, leaf: e.leaf });
    mark(ea, accessedBits(s, "first"), e.leaf ? dirtyBit(s, "first") : 0n);
    if (e.leaf) {
      leafWord = w;
      f = { ...f, explain: shown };
      break;
    }
    f = { level: level - 1, table: e.addr, rights, atRoot: false, explain: shown, via: f.via };
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
  const out = ssTranslate(mem, ss, outGpa, write, cfg, reads, mark, env, ssRead, 0);
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
    via: f.via,
    ssUsed: out.cacheId === undefined ? ssUsed : [...ssUsed, out.cacheId],
    // [ORACLE-JUDGE-11] §6.2.4.1: A (EA) on each first-stage entry used, D on the leaf for a write;
    // with SSADE A on each second-stage entry, D on the output's leaf ("for both first- and
    // second-stage translation").
    entriesRead: [
      ...used.map(
        (u): EntryRead => ({
          at: u.ea,
          stage: "first",
          level: u.level,
          accessed: aBits,
          dirty: u.leaf ? FS_D : 0n,
        }),
      ),
      ...ssRead,
    ],
    ...(above === undefined ? {} : { above }),
  };
}

/** [VTD-NEST-2] [VTD-NEST-3] [VTD-NEST-5] Reason code of a nested-walk fault (one mapping, src/spec). */
function nestedFault(f: WalkFault, s: Setup, access: "read" | "write"): FaultValue {
  const code = scalableWalkReason(f);
  return { kind: "fault", reason: { read: code, write: code }, record: s.fpd ? "no" : "yes", access };
}

/** [ORACLE-WALK-7] What the caches may hold for one request's nested walks (see NestedEnv). */
export type NestedCaches = Omit<NestedEnv, "choose"> & {
  /** Nested values that may let the walk start below FSPTPTR, each a first-stage table with its HPA. */
  starts: NestedFrontier[];
};

/** A nested outcome: `via` names the cached values a translation came through (for its IOTLB fill). */
export interface NestedOutcome {
  value: OutcomeValue;
  explain: string;
  via?: string[];
  ssUsed?: string[];
  /** [ORACLE-JUDGE-11] A translation: the entries this path's walk read from memory. */
  entriesRead?: EntryRead[];
  /** [ORACLE-JUDGE-11] From a cached nested value: the entries its fills flagged above it. */
  above?: Used;
  /**
   * [ORACLE-JUDGE-11] Cached nested values equal to a frontier the fresh walk passes through: a
   * way may start from each, reading only the entries below it (readBelow) besides its `above`.
   */
  alsoFrom?: Array<{ level: number; above?: Used }>;
}

/**
 * The outcomes of the nested walks of one input page, for reads and for writes: the fresh walk,
 * and with `caches` every walk the caches may shorten (each choice of a cached nested value to
 * start from and of a cached second-stage value for each guest-physical address translated).
 */
export function nestedOutcomes(
  mem: WordReader,
  s: Setup,
  page: bigint,
  cfg: OracleConfig,
  reads: Set<number>,
  mark: EntryMark = noMark,
  caches?: NestedCaches,
): NestedOutcome[] {
  const out: NestedOutcome[] = [];
  // Cached nested values equal to a frontier the fresh walk passes through add nothing but a way
  // that reads no entry above them: `alsoFrom` [ORACLE-JUDGE-11].
  let starts = caches?.starts ?? [];
  const alsoFrom: Array<{ level: number; above?: Used }> = [];
  if (starts.length > 0 && caches !== undefined) {
    const fresh = new Set<string>();
    const probe: NestedEnv = {
      ...FRESH,
      nestedFill: (_level, next) => {
        fresh.add(frontierKey(next));
        return undefined;
      },
    };
    walkNestedPage(mem, s, page, false, true, cfg, reads, [], noMark, probe);
    for (const f of starts)
      if (fresh.has(frontierKey(f)))
        alsoFrom.push({ level: f.level, ...(f.above === undefined ? {} : { above: f.above }) });
    starts = unlikeFresh(starts, fresh);
  }
  // Depth-first over the choices the read walk meets; the write and user walks replay them.
  const pending: number[][] = [[]];
  while (pending.length > 0) {
    const prefix = pending.pop() as number[];
    const seq: number[] = [];
    const explore: NestedEnv = {
      ...(caches ?? FRESH),
      choose: (n) => {
        const c = seq.length < prefix.length ? (prefix[seq.length] as number) : 0;
        if (seq.length >= prefix.length) for (let k = n - 1; k >= 1; k--) pending.push([...seq, k]);
        seq.push(c);
        return c;
      },
    };
    const replay = (): NestedEnv => {
      let i = 0;
      return { ...(caches ?? FRESH), choose: (n) => Math.min(seq[i++] ?? 0, n - 1) };
    };
    pathOutcomes(mem, s, page, cfg, reads, mark, explore, replay, starts, out);
  }
  if (alsoFrom.length === 0) return out;
  return out.map((o) => (o.entriesRead === undefined ? o : { ...o, alsoFrom }));
}

/** [ORACLE-NEST-1] [ORACLE-JUDGE-1] The outcomes of one path of choices, for reads and for writes. */
function pathOutcomes(
  mem: WordReader,
  s: Setup,
  page: bigint,
  cfg: OracleConfig,
  reads: Set<number>,
  mark: EntryMark,
  explore: NestedEnv,
  replay: () => NestedEnv,
  starts: NestedFrontier[],
  out: NestedOutcome[],
): void {
  const adRead: WalkFault[] = [];
  const adWrite: WalkFault[] = [];
  const rd = walkNestedPage(mem, s, page, false, true, cfg, reads, adRead, mark, explore, starts);
  const wr = walkNestedPage(mem, s, page, true, true, cfg, reads, adWrite, mark, replay(), starts);
  for (const [r, access, ad] of [
    [rd, "read", adRead],
    [wr, "write", adWrite],
  ] as const) {
    if (r.ok) {
      // [VTD-NEST-5] §6.2.4.1: the write walk met an A/D update the second stage blocks, so the
      // read walk's translation may serve reads only (a write through it faults as that walk does).
      const blocked = access === "read" && !wr.ok && wr.kind !== "no-write";
      const t = { ...translation(s, r.out, r.pageShift, r.rights), ...(blocked ? { readsOnly: true } : {}) };
      out.push({
        value: t,
        explain: `${s.explain} -> nested walk (${access}) -> 0x${t.out.toString(16)}`,
        ...(r.via === undefined ? {} : { via: r.via }),
        ssUsed: r.ssUsed,
        entriesRead: r.entriesRead,
        ...(r.above === undefined ? {} : { above: r.above }),
      });
    } else if (!(access === "write" && rd.ok && r.kind === "no-write")) {
      out.push({
        value: nestedFault(r, s, access),
        explain: `${s.explain} -> nested walk (${access}) faults: ${r.stage} ${r.kind}`,
      });
      // [ORACLE-NEST-1] the output address failed the second stage, or an A/D update the second
      // stage blocks: a unit may have refused a user request (or a user write) on the first
      // stage's rights before it got there.
      if ((r.stage === "second" && r.nestedFetch === false) || r.kind === "nested-ad-blocked") {
        const u = walkNestedPage(
          mem,
          s,
          page,
          access === "write",
          false,
          cfg,
          reads,
          [],
          noMark,
          replay(),
          starts,
        );
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
}
