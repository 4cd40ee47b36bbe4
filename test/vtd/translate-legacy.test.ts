import { describe, expect, it } from "vitest";
import { readU64, writeU64, writeWords } from "../../src/memory/physical-memory.ts";
import { LegacyFault as L, ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import { encodeSsEntry } from "../../src/spec/paging-entry.ts";
import { legacyDevice, platform, RTA, reason } from "./setup.ts";

const SID = 0x0108;

describe("legacy-mode translation", () => {
  it("[VTD-CTX-1] [VTD-SS-2] translates through root, context and a 4-level second stage", () => {
    const p = platform({ scalable: false });
    const { ssRoot } = legacyDevice(p, SID);
    p.t.mapSs(ssRoot, 4, 0x1234_5000n, 0x7000);
    expect(p.legacy({ iova: 0x1234_5678n })).toEqual({ ok: true, hpa: 0x7678 });
  });

  it("[VTD-ROOT-2] root faults: access (8h), not present (1h), reserved (Ah), never suppressed", () => {
    const p = platform({ scalable: false });
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LRT_2_ROOT_NOT_PRESENT);
    writeU64(p.mem, RTA + 16, 0x5003n);
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LRT_3_ROOT_RESERVED);
    const r = p.tr.translate(
      { sid: SID, priv: false, write: false, iovaHi: 0, iovaLo: 0 },
      { address: 1 << 30, ttm: 0 },
    );
    expect(r).toMatchObject({ ok: false, fault: { reason: L.LRT_1_ROOT_ACCESS }, record: true });
  });

  it("[VTD-CTX-5] context faults: access (9h), not present (2h), reserved (Bh), invalid (3h)", () => {
    const p = platform({ scalable: false });
    writeU64(p.mem, RTA + 16, 0x3fff_f001n);
    writeU64(p.mem, RTA + 16, BigInt((1 << 30) + 0x1000) | 1n);
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LCT_1_CONTEXT_ACCESS);
    const { ceAddr } = legacyDevice(p, SID);
    writeU64(p.mem, ceAddr, 0n);
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LCT_2_CONTEXT_NOT_PRESENT);
    legacyDevice(p, SID, { tt: 3 });
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LCT_4_CONTEXT_INVALID);
    legacyDevice(p, SID, { tt: 1 });
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LCT_4_CONTEXT_INVALID);
    legacyDevice(p, SID, { aw: 3 });
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LCT_4_CONTEXT_INVALID);
    const d = legacyDevice(p, SID);
    writeU64(p.mem, d.ceAddr, readU64(p.mem, d.ceAddr) | 0x10n);
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LCT_3_CONTEXT_RESERVED);
  });

  it("[VTD-SS-5] an SSPTPTR outside memory is LCT.4 (3h); below it LSS.1 (7h)", () => {
    const p = platform({ scalable: false });
    const d = legacyDevice(p, SID);
    writeU64(p.mem, d.ssRoot, encodeSsEntry({ addr: 0x3fff_f000 + 0x1000_0000, read: true, write: true }));
    expect(reason(p.legacy({ iova: 0n }))).toBe(L.LSS_1_SS_ENTRY_ACCESS);
    const mem2 = platform({ scalable: false });
    const d2 = legacyDevice(mem2, SID);
    writeWords(mem2.mem, d2.ceAddr, [BigInt(0x3fff_e000) + (1n << 30n) + 1n, 2n | (7n << 8n)]);
    expect(reason(mem2.legacy({ iova: 0n }))).toBe(L.LCT_4_CONTEXT_INVALID);
  });

  it("[VTD-SS-1] [VTD-SS-3] [VTD-SS-4] width, permission and reserved faults", () => {
    const p = platform({ scalable: false, awBits: 39 });
    const { ssRoot } = legacyDevice(p, SID, { aw: 1 });
    p.t.mapSs(ssRoot, 3, 0x1000n, 0x7000, { write: false });
    expect(reason(p.legacy({ iova: 1n << 39n }))).toBe(L.LGN_1_ADDRESS_BEYOND_WIDTH);
    expect(reason(p.legacy({ iova: 0x1000n, write: true }))).toBe(L.LGN_2_NO_WRITE);
    expect(reason(p.legacy({ iova: 0x2000n }))).toBe(L.LGN_3_NO_READ);
    expect(reason(p.legacy({ iova: 0x2000n, write: true }))).toBe(L.LGN_2_NO_WRITE);
    p.t.mapSs(ssRoot, 3, 0x3000n, 0x8000, { snoop: true });
    expect(reason(p.legacy({ iova: 0x3000n }))).toBe(L.LSS_2_SS_RESERVED);
  });

  it("[VTD-CTX-6] pass-through: identity below HAW, LGN.1 above, LGN.4 into the interrupt range", () => {
    const p = platform({ scalable: false });
    legacyDevice(p, SID, { tt: 2 });
    expect(p.legacy({ iova: 0x1234_5678n })).toEqual({ ok: true, hpa: 0x1234_5678 });
    expect(reason(p.legacy({ iova: 1n << 46n }))).toBe(L.LGN_1_ADDRESS_BEYOND_WIDTH);
    const nopt = platform({ scalable: false, passThrough: false });
    legacyDevice(nopt, SID, { tt: 2 });
    expect(reason(nopt.legacy({ iova: 0n }))).toBe(L.LCT_4_CONTEXT_INVALID);
  });

  it("[VTD-DMA-3] interrupt range: input without PASID and translated output both fault with LGN.4", () => {
    const p = platform({ scalable: false });
    const { ssRoot } = legacyDevice(p, SID);
    expect(reason(p.legacy({ iova: 0xfee0_0000n }))).toBe(L.LGN_4_INTERRUPT_RANGE);
    p.t.mapSs(ssRoot, 4, 0x5000n, 0xfee0_1000);
    expect(reason(p.legacy({ iova: 0x5004n }))).toBe(L.LGN_4_INTERRUPT_RANGE);
  });

  it("[VTD-CTX-7] FPD suppresses qualified faults only", () => {
    const p = platform({ scalable: false });
    const { ssRoot } = legacyDevice(p, SID, { fpd: true });
    p.t.mapSs(ssRoot, 4, 0x1000n, 0x7000, { write: false });
    expect(p.legacy({ iova: 0x1000n, write: true })).toMatchObject({
      ok: false,
      record: false,
      fault: { reason: L.LGN_2_NO_WRITE },
    });
    const q = platform({ scalable: false });
    expect(q.legacy({ iova: 0n })).toMatchObject({ record: true });
  });

  it("[VTD-ROOT-5] TTM 10b is RTA.1, 11b without abort-DMA support is RTA.1; legacy TTM with PASID is RTA.2", () => {
    const p = platform({ scalable: false });
    const base = { sid: SID, priv: false, write: false, iovaHi: 0, iovaLo: 0 };
    expect(reason(p.tr.translate(base, { address: RTA, ttm: 2 }))).toBe(S.RTA_1_INVALID_RTADDR);
    expect(reason(p.tr.translate(base, { address: RTA, ttm: 3 }))).toBe(S.RTA_1_INVALID_RTADDR);
    expect(reason(p.tr.translate(base, { address: RTA, ttm: 1 }))).toBe(S.RTA_1_INVALID_RTADDR);
    expect(p.tr.translate({ ...base, pasid: 5 }, { address: RTA, ttm: 0 })).toMatchObject({
      fault: { reason: S.RTA_2_LEGACY_TTM_WITH_PASID, pasid: 5 },
      record: true,
    });
  });
});
