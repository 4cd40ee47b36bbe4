/** Hand-built step streams for the oracle tests: tables, registers and invalidations as a guest would write them. */

import type { DmaRequest, DmaResult, PlatformConfig } from "../../src/contract/types.ts";
import { legacyViommu } from "../../src/contract/viommu-options.ts";
import { Oracle, type OracleJudgement, type OracleStep, type Tolerance } from "../../src/oracle/index.ts";
import { encodeDescriptor } from "../../src/spec/descriptor.ts";
import { encodeFsEntry, encodeSsEntry } from "../../src/spec/paging-entry.ts";
import { encodePasidEntry, PGTT } from "../../src/spec/pasid-entry.ts";
import { Reg } from "../../src/spec/register-offsets.ts";
import { wordsToBytes } from "../../src/spec/word.ts";

export function config(over: Partial<PlatformConfig["viommu"]> = {}): PlatformConfig {
  return {
    viommu: legacyViommu({ ssLargePages: { twoMiB: true, oneGiB: false }, hawBits: 39, ...over }),
    devices: [
      { sid: 0x08, kind: "emulated" },
      { sid: 0x10, kind: "emulated" },
    ],
    memory: { size: 0x400000n, regions: [{ gpa: 0n, size: 0x400000n, readOnly: false }] },
    hostIommus: [],
  };
}

export const QUEUE = 0x30000;
export const STATUS = 0x31000;

/** A driver of the oracle alone: every step is fed to it; the test supplies the model's results. */
export class Stream {
  readonly oracle: Oracle;
  private tail = 0;
  private seq = 1;
  readonly verdicts: OracleJudgement[] = [];

  constructor(
    readonly cfg: PlatformConfig,
    tolerance?: Tolerance,
  ) {
    this.oracle = new Oracle(cfg, tolerance);
    this.step({ op: "reset", args: [cfg] });
  }

  step(s: OracleStep): OracleJudgement {
    const v = this.oracle.observe(s);
    this.verdicts.push(v);
    return v;
  }

  w64(addr: number, value: bigint): void {
    this.step({ op: "writeGuest", args: [BigInt(addr), wordsToBytes([value])] });
  }

  reg(off: number, value: bigint, width: 4 | 8 = 8): void {
    this.step({ op: "writeReg", args: [off, value, width] });
  }

  /** RTADDR, SRTP, queue (128-bit unless wide), TE. */
  enable(root: number, ttm = 0, wide = false): void {
    this.reg(Reg.RTADDR, BigInt(root) | (BigInt(ttm) << 10n));
    this.reg(Reg.GCMD, 1n << 30n, 4);
    this.reg(Reg.IQT, 0n);
    this.reg(Reg.IQA, BigInt(QUEUE) | (wide ? 1n << 11n : 0n));
    this.reg(Reg.GCMD, 1n << 26n, 4);
    this.reg(Reg.GCMD, (1n << 31n) | (1n << 26n), 4);
    this.wide = wide;
  }
  private wide = false;

  /** Submit descriptors followed by a wait; `complete` reads the status back (the model wrote it). */
  invalidate(descs: Parameters<typeof encodeDescriptor>[0][], complete = true): void {
    const width = this.wide ? 256 : 128;
    const size = width / 8;
    const status = this.seq++;
    this.w64(STATUS, 0n);
    const all = [
      ...descs,
      {
        kind: "wait" as const,
        intr: false,
        sw: true,
        fn: false,
        pd: false,
        statusData: status,
        statusAddr: BigInt(STATUS),
      },
    ];
    for (const d of all) {
      this.step({
        op: "writeGuest",
        args: [BigInt(QUEUE + this.tail), wordsToBytes(encodeDescriptor(d, width))],
      });
      this.tail = (this.tail + size) % 4096;
    }
    this.reg(Reg.IQT, BigInt(this.tail));
    if (complete) {
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, status, true);
      this.step({ op: "readGuest", args: [BigInt(STATUS), 4], result: bytes });
    }
  }

  dma(req: DmaRequest, result: DmaResult): OracleJudgement {
    return this.step({ op: "dma", args: [req], result });
  }

  /** Outcomes of a request as short strings: "ok 0x20000" or "fault 0x5". */
  outcomes(req: DmaRequest): string[] {
    return this.oracle
      .permittedFor(req)
      .outcomes.map((o) =>
        o.outcome.kind === "ok"
          ? `ok 0x${o.outcome.addr.toString(16)}`
          : `fault 0x${o.outcome.reason.toString(16)}`,
      )
      .sort();
  }
}

/** Legacy second-stage entry (R, W, address). */
export function ss(addr: number, r = true, w = true): bigint {
  return BigInt(addr) | (r ? 1n : 0n) | (w ? 2n : 0n);
}

/**
 * Legacy tables: root 0x10000, context table 0x11000, a 4-level second stage per DID at
 * 0x12000 + 0x10000 * k (L4, L3, L2, L1 on consecutive pages) mapping input page 0 to `target`.
 */
export function legacyDevice(s: Stream, sid: number, did: number, tables: number, target: number): void {
  s.w64(0x10000, 0x11000n | 1n);
  s.w64(0x11000 + (sid & 0xff) * 16, BigInt(tables) | 1n);
  s.w64(0x11000 + (sid & 0xff) * 16 + 8, 2n | (BigInt(did) << 8n));
  s.w64(tables, ss(tables + 0x1000));
  s.w64(tables + 0x1000, ss(tables + 0x2000));
  s.w64(tables + 0x2000, ss(tables + 0x3000));
  s.w64(tables + 0x3000, ss(target));
}

/** Upper first-stage entries of scalableFirstStageDevice's chain (writable, user). */
export const FS_PML4E = encodeFsEntry({ addr: 0x51000, write: true, user: true }, 4);
export const FS_PDPE = encodeFsEntry({ addr: 0x52000, write: true, user: true }, 3);
export const FS_PDE = encodeFsEntry({ addr: 0x53000, write: true, user: true }, 2);
/** Its leaf for input page 0: RAM page 0x60000. */
export const FS_PTE = encodeFsEntry({ addr: 0x60000, write: true, user: true }, 1);
/** Address and value of each entry of that chain, PML4E first. */
export const FS_CHAIN: ReadonlyArray<readonly [number, bigint]> = [
  [0x50000, FS_PML4E],
  [0x51000, FS_PDPE],
  [0x52000, FS_PDE],
  [0x53000, FS_PTE],
];

/**
 * Scalable tables for device `devfn` on bus 0: root 0x10000, context table 0x11000, PASID
 * directory 0x40000, PASID table 0x41000 whose RID_PASID entry (DID 1; PWSNP unless told) points
 * at a 4-level first stage at 0x50000-0x53000 mapping input page 0 to `leaf` (default 0x60000);
 * every entry's A, and the leaf's D, as given (default clear).
 */
export function scalableFirstStageDevice(
  s: { w64(addr: number, value: bigint): void },
  devfn: number,
  o: { eafe?: boolean; pwsnp?: boolean; accessed?: boolean; dirty?: boolean; leaf?: number } = {},
): void {
  s.w64(0x10000, 0x11000n | 1n);
  s.w64(0x11000 + devfn * 32, 0x40000n | 1n);
  s.w64(0x40000, 0x41000n | 1n);
  const e = encodePasidEntry({
    present: true,
    pgtt: PGTT.FIRST_STAGE,
    fsptptr: 0x50000,
    did: 1,
    pwsnp: o.pwsnp ?? true,
    eafe: o.eafe ?? false,
  });
  for (const [i, w] of e.entries()) s.w64(0x41000 + i * 8, w);
  const f = { write: true, user: true, accessed: o.accessed ?? false };
  s.w64(0x50000, encodeFsEntry({ addr: 0x51000, ...f }, 4));
  s.w64(0x51000, encodeFsEntry({ addr: 0x52000, ...f }, 3));
  s.w64(0x52000, encodeFsEntry({ addr: 0x53000, ...f }, 2));
  s.w64(0x53000, encodeFsEntry({ addr: o.leaf ?? 0x60000, ...f, dirty: o.dirty ?? false }, 1));
}

/** nestedDevice's second stage maps GPA g to HPA g + NESTED_OFFSET (first 2 MiB). */
export const NESTED_OFFSET = 0x20_0000;
/** nestedDevice's second-stage PML4, PDPT, PD, PT (host-physical). */
export const NESTED_SS = [0x60000, 0x61000, 0x62000, 0x63000];
/** nestedDevice's first-stage PML4, PDPT, PD, PT (guest-physical: at GPA + NESTED_OFFSET in memory). */
export const NESTED_FS = [0x10000, 0x11000, 0x12000, 0x13000];

/**
 * Nested (PGTT 011b) tables for device 0x08: root 0x70000, context table 0x71000, PASID directory
 * 0x72000, PASID table 0x73000 whose RID_PASID entry (DID 1) nests the first stage NESTED_FS over
 * the second stage NESTED_SS; input pages 0 and 1 map to GPA 0x20000 and 0x21000. `tableWrite`:
 * whether the second stage grants write on the first-stage table pages (the rest is read/write).
 */
export function nestedDevice(
  s: { w64(addr: number, value: bigint): void; step(st: OracleStep): unknown },
  o: { eafe?: boolean; tableWrite?: boolean; ssade?: boolean } = {},
): void {
  const [ss0, ss1, ss2, ss3] = NESTED_SS as [number, number, number, number];
  const [fs0, fs1, fs2, fs3] = NESTED_FS as [number, number, number, number];
  s.w64(0x70000, 0x71000n | 1n);
  s.w64(0x71000 + 0x08 * 32, 0x72000n | 1n);
  s.w64(0x72000, 0x73000n | 1n);
  const e = encodePasidEntry({
    present: true,
    pgtt: PGTT.NESTED,
    aw: 2,
    ssptptr: ss0,
    fsptptr: fs0,
    did: 1,
    pwsnp: true,
    eafe: o.eafe ?? false,
    ssade: o.ssade ?? false,
  });
  for (const [i, w] of e.entries()) s.w64(0x73000 + i * 8, w);
  s.w64(ss0, encodeSsEntry({ addr: ss1, read: true, write: true }));
  s.w64(ss1, encodeSsEntry({ addr: ss2, read: true, write: true }));
  s.w64(ss2, encodeSsEntry({ addr: ss3, read: true, write: true }));
  const tables = new Set(NESTED_FS.map((g) => g / 0x1000));
  const pt: bigint[] = [];
  for (let i = 0; i < 512; i++)
    pt.push(
      encodeSsEntry({
        addr: i * 0x1000 + NESTED_OFFSET,
        read: true,
        write: !tables.has(i) || (o.tableWrite ?? true),
      }),
    );
  s.step({ op: "writeGuest", args: [BigInt(ss3), wordsToBytes(pt)] });
  const at = (gpa: number) => gpa + NESTED_OFFSET;
  s.w64(at(fs0), encodeFsEntry({ addr: fs1, write: true, user: true }, 4));
  s.w64(at(fs1), encodeFsEntry({ addr: fs2, write: true, user: true }, 3));
  s.w64(at(fs2), encodeFsEntry({ addr: fs3, write: true, user: true }, 2));
  s.w64(at(fs3), encodeFsEntry({ addr: 0x20000, write: true, user: true }, 1));
  s.w64(at(fs3) + 8, encodeFsEntry({ addr: 0x21000, write: true, user: true }, 1));
}
