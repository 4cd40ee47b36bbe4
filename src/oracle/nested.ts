/**
 * Nested (PGTT = 011b) outcomes [ORACLE-WALK-5]. Unlike first- and second-stage walks, the oracle
 * does not re-implement nesting: it runs the shared walker (src/paging/nested.ts) on a copy-on-write
 * view of memory at one moment, once for a read and once for a write, and maps its faults to codes.
 */
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import { hi32, lo32 } from "../paging/address.ts";
import { walkNested } from "../paging/nested.ts";
import { walkSecondStage } from "../paging/second-stage.ts";
import type { PagingFault, PagingResult } from "../paging/types.ts";
import { ScalableFault as S } from "../spec/fault-reasons.ts";
import type { OracleConfig } from "./config.ts";
import type { WordReader } from "./history-memory.ts";
import type { FaultValue, OutcomeValue } from "./outcome.ts";
import { type Setup, translation } from "./paging.ts";

/** Memory at one moment with writes kept aside (A/D updates of a trial walk never reach the shadow). */
class Overlay implements PhysicalMemory {
  private readonly writes = new Map<number, number>();
  readonly size: number;
  constructor(
    private readonly base: WordReader,
    private readonly reads: Set<number>,
  ) {
    this.size = base.size;
  }
  contains(addr: number, len: number): boolean {
    return addr >= 0 && addr + len <= this.size;
  }
  readU32(addr: number): number {
    const w = this.writes.get(addr);
    if (w !== undefined) return w;
    const wa = addr - (addr % 8);
    this.reads.add(wa);
    return Number((this.base.word(wa) >> BigInt((addr - wa) * 8)) & 0xffffffffn);
  }
  writeU32(addr: number, value: number): void {
    this.writes.set(addr, value >>> 0);
  }
  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) {
      const a = addr + i;
      out[i] = (this.readU32(a - (a % 4)) >>> (8 * (a % 4))) & 0xff;
    }
    return out;
  }
  write(addr: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const a = addr + i;
      const wa = a - (a % 4);
      const sh = 8 * (a % 4);
      this.writeU32(wa, (this.readU32(wa) & ~(0xff << sh)) | ((data[i] as number) << sh));
    }
  }
}

/** [VTD-NEST-2] [VTD-NEST-3] [VTD-NEST-5] Reason code of a nested-walk fault. */
export function nestedCode(f: PagingFault): number {
  if (f.stage === "first") {
    switch (f.kind) {
      case "non-canonical":
        return S.SGN_1_NON_CANONICAL;
      case "root-access":
        return S.SFS_4_FSPTPTR_ACCESS;
      case "entry-access":
        return S.SFS_1_FS_ENTRY_ACCESS;
      case "not-present":
        return S.SFS_2_FS_NOT_PRESENT;
      case "reserved":
        return S.SFS_3_FS_RESERVED;
      case "user-supervisor":
        return S.SGN_2_USER_TO_SUPERVISOR;
      case "no-write":
        return S.SGN_6_NO_WRITE;
      case "nested-beyond-width":
        return S.SFS_5;
      case "nested-no-read":
        return f.root ? S.SFS_6 : S.SFS_7;
      case "nested-ad-blocked":
        return S.SFS_8;
      case "ad-non-snooped":
        return S.SFS_9_AD_NON_SNOOPED;
      default:
        return S.SFS_1_FS_ENTRY_ACCESS;
    }
  }
  switch (f.kind) {
    case "input-beyond-width":
      return S.SGN_5_SS_INPUT_BEYOND_WIDTH;
    case "root-access":
      return S.SSS_4_SSPTPTR_ACCESS;
    case "entry-access":
      return S.SSS_1_SS_ENTRY_ACCESS;
    case "not-present":
      return S.SSS_2_SS_NONLEAF_NO_PERMISSION;
    case "reserved":
      return S.SSS_3_SS_RESERVED;
    case "no-read":
      return S.SGN_7_NO_READ;
    case "no-write":
      return S.SGN_6_NO_WRITE;
    case "ad-non-snooped":
      return S.SSS_5;
    default:
      return S.SSS_1_SS_ENTRY_ACCESS;
  }
}

/** The outcomes of a fresh nested walk of one input page, for reads and for writes. */
export function nestedOutcomes(
  mem: WordReader,
  s: Setup,
  page: bigint,
  cfg: OracleConfig,
  reads: Set<number>,
): Array<{ value: OutcomeValue; explain: string }> {
  const run = (write: boolean, priv = true): PagingResult => {
    const view = new Overlay(mem, reads);
    const ss = {
      root: s.ssRoot,
      levels: s.ssLevels as 3 | 4 | 5,
      inputWidth: s.ssWidth,
      haw: cfg.haw,
      snoopControl: cfg.snoopControl,
      largePages: cfg.ssLarge,
      ssade: s.ssade,
    };
    return walkNested(
      view,
      {
        fs: {
          root: s.root,
          levels: s.levels as 4 | 5,
          haw: cfg.haw,
          fs1gp: cfg.fs1gp,
          wpe: s.wpe,
          eafe: s.eafe,
        },
        stage2: (gpa, w) => walkSecondStage(view, ss, Math.floor(gpa / 2 ** 32), gpa >>> 0, w),
        gpaWidth: s.ssWidth,
        ssade: s.ssade,
      },
      hi32(page),
      lo32(page),
      write,
      priv,
    );
  };
  const out: Array<{ value: OutcomeValue; explain: string }> = [];
  const rd = run(false);
  const wr = run(true);
  const rec = s.fpd ? "no" : "yes";
  const asFault = (f: PagingFault, access: "read" | "write"): FaultValue => {
    const code = nestedCode(f);
    return { kind: "fault", reason: { read: code, write: code }, record: rec, access };
  };
  for (const [r, access] of [
    [rd, "read"],
    [wr, "write"],
  ] as const) {
    if (r.ok) {
      const rights = { fsW: r.fsW, fsU: r.fsU, ssR: r.ssR, ssW: r.ssW };
      const t = translation(s, r.base + Number(page & BigInt(2 ** r.pageShift - 1)), r.pageShift, rights);
      out.push({ value: t, explain: `${s.explain} -> nested walk (${access}) -> 0x${t.out.toString(16)}` });
    } else if (!(access === "write" && rd.ok && r.kind === "no-write")) {
      out.push({
        value: asFault(r, access),
        explain: `${s.explain} -> nested walk (${access}) faults: ${r.stage} ${r.kind}`,
      });
      // [ORACLE-NEST-1] the output address failed the second stage: a unit may have refused a
      // user request (or a user write) on the first stage's rights before it got there.
      if (r.stage === "second" && r.nestedFetch === false) {
        const u = run(access === "write", false);
        if (!u.ok && u.stage === "first" && (u.kind === "user-supervisor" || u.kind === "no-write"))
          out.push({
            value: asFault(u, access),
            explain: `${s.explain} -> nested walk (${access}, user request) faults on the first stage's rights: ${u.kind}`,
          });
      }
    }
  }
  return out;
}
