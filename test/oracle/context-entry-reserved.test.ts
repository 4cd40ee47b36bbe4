/**
 * The oracle's root-relative context-entry reserved bits (written from VT-d §9.3 and §9.4) against
 * the reference's (src/spec/context-entry.ts): each bit set alone in an otherwise valid entry,
 * legacy and scalable, under several capability sets; both must agree on whether it is reserved.
 */
import { describe, expect, it } from "vitest";
import type { PlatformConfig } from "../../src/contract/types.ts";
import { capabilitiesFor } from "../../src/contract/viommu-capabilities.ts";
import { oracleConfig, oracleConfigFromRegisters } from "../../src/oracle/config.ts";
import type { WordReader } from "../../src/oracle/history-memory.ts";
import { walkContext } from "../../src/oracle/structures.ts";
import { type Capabilities, decodeCapabilities, encodeCapabilities } from "../../src/spec/capabilities.ts";
import { legacyContextReserved, scalableContextReserved } from "../../src/spec/context-entry.ts";
import { LegacyFault as L, ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import { config } from "./stream.ts";

const ROOT = 0x1000;
const TABLE = 0x2000;
const SID = 0x08;

function memoryWith(entry: bigint[]): WordReader {
  const words = new Map<number, bigint>([[ROOT, BigInt(TABLE) | 1n]]);
  const at = TABLE + SID * (entry.length === 2 ? 16 : 32);
  for (const [i, w] of entry.entries()) words.set(at + i * 8, w);
  return { size: 0x400000, word: (a) => words.get(a) ?? 0n };
}

/** Bits judged differently; `ecap` changes what the model reports (ORACLE-CAP-1). */
function disagreements(
  cfg: PlatformConfig,
  valid: bigint[],
  ecap?: (c: Capabilities) => Partial<Capabilities>,
): number[] {
  const scalable = valid.length === 4;
  const own = capabilitiesFor(cfg.viommu);
  const regs = encodeCapabilities(ecap === undefined ? own : { ...own, ...ecap(own) });
  const ocfg = ecap === undefined ? oracleConfig(cfg) : oracleConfigFromRegisters(cfg, { ecap: regs.ecap });
  const caps = { ...decodeCapabilities(regs), haw: cfg.viommu.hawBits };
  const rp = { address: ROOT, ttm: scalable ? 1 : 0 };
  const code = scalable ? S.SCT_3_CONTEXT_RESERVED : L.LCT_3_CONTEXT_RESERVED;
  expect(walkContext(memoryWith(valid), rp, SID, ocfg).ok).toBe(true);
  const out: number[] = [];
  for (let b = 1; b < valid.length * 64; b++) {
    const entry = [...valid];
    entry[b >> 6] = (entry[b >> 6] as bigint) | (1n << BigInt(b & 63));
    const res = scalable ? scalableContextReserved(entry, caps) : legacyContextReserved(entry, caps);
    const reserved = res.some((x) => x !== 0n);
    const step = walkContext(memoryWith(entry), rp, SID, ocfg);
    const flagged = !step.ok && step.fault.reason.read === code;
    if (reserved !== flagged) out.push(b);
  }
  return out;
}

describe("context entry reserved bits", () => {
  it("[ORACLE-WALK-1] [VTD-CTX-2] legacy: the oracle and the reference agree bit by bit", () => {
    // P, TT 00b, SSPTPTR 0x5000; AW 48-bit, DID 1.
    expect(disagreements(config(), [0x5001n, 2n | (1n << 8n)])).toEqual([]);
  });

  it("[ORACLE-WALK-1] [ORACLE-CAP-1] [VTD-CTX-4] scalable, with DT, PRS and RID_PRIV but no RID_PASID read from ECAP: they agree", () => {
    const over = { scalable: true, firstStage: true, pasidBits: 8 };
    const ecap = () => ({ dt: true, prs: true, rprivs: true, rps: false });
    expect(disagreements(config(over), [0x5001n, 0n, 0n, 0n], ecap)).toEqual([]);
  });

  const scalable = {
    "no PASID": { scalable: true, firstStage: true },
    "PASID 8 bits": { scalable: true, firstStage: true, pasidBits: 8 },
  };
  for (const [name, over] of Object.entries(scalable)) {
    it(`[ORACLE-WALK-1] [VTD-CTX-4] scalable (${name}): the oracle and the reference agree bit by bit`, () => {
      // P, PASID directory 0x5000, PDTS 0.
      expect(disagreements(config(over), [0x5001n, 0n, 0n, 0n])).toEqual([]);
    });
  }
});
