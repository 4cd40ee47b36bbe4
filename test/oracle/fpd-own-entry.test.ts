/**
 * [ORACLE-WALK-1] [ORACLE-WALK-2] A qualified fault in an entry whose own FPD bit is set is not
 * recorded: VT-d 5.10 §7.1.1 "if the remapping hardware encountered any translation structure
 * entry with an FPD field value of 1, the remapping hardware must not report the fault", and §9.3
 * "evaluated by hardware irrespective of the setting of the present (P) field". The oracle used to
 * permit either; now a model recording such a fault is failed (mutant fpd-own-entry-ignored).
 */
import { describe, expect, it } from "vitest";
import { oracleConfig } from "../../src/oracle/config.ts";
import type { WordReader } from "../../src/oracle/history-memory.ts";
import { type ContextValue, walkContext, walkPasid } from "../../src/oracle/structures.ts";
import { LegacyFault as L, ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import { config } from "./stream.ts";

const ROOT = 0x1000;
const TABLE = 0x2000;
const DIR = 0x3000;
const PTABLE = 0x4000;
const SID = 0x08;
const FPD = 2n;

function memory(words: Map<number, bigint>): WordReader {
  return { size: 0x400000, word: (a) => words.get(a) ?? 0n };
}

function contextFault(entry: bigint[]): { reason: number; record: string } {
  const scalable = entry.length === 4;
  const words = new Map<number, bigint>([[ROOT, BigInt(TABLE) | 1n]]);
  for (const [i, w] of entry.entries()) words.set(TABLE + SID * entry.length * 8 + i * 8, w);
  const cfg = oracleConfig(config(scalable ? { scalable: true, firstStage: true, pasidBits: 8 } : {}));
  const step = walkContext(memory(words), { address: ROOT, ttm: scalable ? 1 : 0 }, SID, cfg);
  if (step.ok) throw new Error("expected a fault");
  return { reason: step.fault.reason.read, record: step.fault.record };
}

describe("[ORACLE-WALK-1] FPD of the faulting context entry itself", () => {
  it("legacy, not present (LCT.2) and reserved bits (LCT.3): not recorded with FPD, recorded without", () => {
    expect(contextFault([FPD, 0n])).toEqual({ reason: L.LCT_2_CONTEXT_NOT_PRESENT, record: "no" });
    expect(contextFault([0n, 0n])).toEqual({ reason: L.LCT_2_CONTEXT_NOT_PRESENT, record: "yes" });
    expect(contextFault([1n | FPD | (1n << 5n), 1n << 8n])).toEqual({
      reason: L.LCT_3_CONTEXT_RESERVED,
      record: "no",
    });
  });

  it("scalable, not present (SCT.2): not recorded with FPD", () => {
    expect(contextFault([FPD, 0n, 0n, 0n])).toEqual({ reason: S.SCT_2_CONTEXT_NOT_PRESENT, record: "no" });
    expect(contextFault([0n, 0n, 0n, 0n])).toEqual({ reason: S.SCT_2_CONTEXT_NOT_PRESENT, record: "yes" });
  });
});

describe("[ORACLE-WALK-2] FPD of the faulting PASID-directory or PASID entry itself", () => {
  const ctx: ContextValue = {
    mode: "scalable",
    words: [BigInt(DIR) | 1n | (1n << 3n), 0n, 0n, 0n],
    did: 0,
    fpd: false,
    explain: "ctx",
  };
  const cfg = oracleConfig(config({ scalable: true, firstStage: true, pasidBits: 8 }));

  function pasidFault(dir: bigint, entry0: bigint): { reason: number; record: string } {
    const words = new Map<number, bigint>([
      [DIR, dir],
      [PTABLE, entry0],
    ]);
    const step = walkPasid(memory(words), ctx, undefined, cfg);
    if (step.ok) throw new Error("expected a fault");
    return { reason: step.fault.reason.read, record: step.fault.record };
  }

  it("a not-present directory entry with FPD (SPD.2) is not recorded", () => {
    expect(pasidFault(FPD, 0n)).toEqual({ reason: S.SPD_2_PASID_DIR_NOT_PRESENT, record: "no" });
    expect(pasidFault(0n, 0n)).toEqual({ reason: S.SPD_2_PASID_DIR_NOT_PRESENT, record: "yes" });
  });

  it("a not-present PASID entry with FPD (SPT.2) is not recorded", () => {
    const dir = BigInt(PTABLE) | 1n;
    expect(pasidFault(dir, FPD)).toEqual({ reason: S.SPT_2_PASID_ENTRY_NOT_PRESENT, record: "no" });
    expect(pasidFault(dir, 0n)).toEqual({ reason: S.SPT_2_PASID_ENTRY_NOT_PRESENT, record: "yes" });
  });
});
