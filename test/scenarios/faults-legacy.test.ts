/**
 * Legacy-mode fault reasons (0x1-0xE) and the RTA reasons of RTADDR, through the platform surface:
 * each scenario builds tables in guest memory, enables translation, issues one DMA and checks that
 * it is aborted and that the record read through FRCD carries reason, SID, FI, PASID, T1/T2 and
 * privilege [VTD-FAULT-1] [VTD-FAULT-5].
 *
 * Not produced by the reference (asserted nowhere, cross-checked with spec/faults.md):
 * - 0xD LCT.5 (TT blocks translation requests / translated requests): only untranslated
 *   requests are modelled, no ATS [VTD-DMA-1]; TT = 01b without ECAP.DT is LCT.4 instead.
 */
import { describe, expect, it } from "vitest";
import type { GuestDriver } from "../../src/driver/driver.ts";
import { legacyPassThrough, legacyTranslate } from "../../src/driver/entries.ts";
import { TT } from "../../src/spec/context-entry.ts";
import { LegacyFault as L, ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import { encodeSsEntry } from "../../src/spec/paging-entry.ts";
import { boot, expectFault, LEGACY_ONLY, landing, OUTSIDE, request, SID, setRootRawTtm } from "./fixtures.ts";

const IOVA = 0x4000_0000n;

/** A legacy root table with SID.A translating IOVA (R/W) through a 4-level second stage, DID 7. */
async function legacyDevice(d: GuestDriver, levels: 3 | 4 | 5 = 4) {
  const rt = await d.newRootTable("legacy");
  const ss = await d.newPageTable("second", levels);
  const page = await d.newDataPage(1);
  await ss.map(IOVA, page, "4K", { read: true, write: true });
  await rt.setLegacyContext(SID.A, legacyTranslate(7, ss.root, levels));
  return { rt, ss, page };
}

describe.each([
  ["legacy-only unit", LEGACY_ONLY],
  ["scalable-capable unit in legacy mode", {}],
])("legacy-mode fault reasons (%s)", (_name, unit) => {
  it("[VTD-SS-2] [VTD-CTX-1] the well-formed setup translates (baseline for every scenario)", async () => {
    const { d } = await boot(unit);
    const { rt, page } = await legacyDevice(d);
    await d.enable(rt);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
  });

  it("[VTD-ROOT-2] [VTD-FAULT-1] 0x1 LRT.2: no root entry for the bus", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await d.enable(rt);
    await expectFault(d, request({ sid: 0x0300, iova: IOVA, write: false }), {
      reason: L.LRT_2_ROOT_NOT_PRESENT,
    });
  });

  it("[VTD-CTX-5] [VTD-FAULT-1] 0x2 LCT.2: no context entry for the device (read and write)", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A + 1, iova: IOVA, write: false }), {
      reason: L.LCT_2_CONTEXT_NOT_PRESENT,
    });
    await expectFault(d, request({ sid: SID.A + 1, iova: IOVA + 0x123n, write: true }), {
      reason: L.LCT_2_CONTEXT_NOT_PRESENT,
    });
  });

  it("[VTD-CTX-5] [VTD-FAULT-1] 0x3 LCT.4: AW not in SAGAW, TT 11b, TT 01b without DT", async () => {
    const { d } = await boot(unit);
    const { rt, ss } = await legacyDevice(d);
    await d.enable(rt);
    const bad = [
      { ...legacyTranslate(7, ss.root, 4), aw: 4 },
      { ...legacyTranslate(7, ss.root, 4), aw: 0 },
      { ...legacyTranslate(7, ss.root, 4), tt: TT.RESERVED },
      { ...legacyTranslate(7, ss.root, 4), tt: TT.TRANSLATE_DEVTLB },
    ];
    for (const [i, ctx] of bad.entries()) {
      const sid = 0x0120 + i;
      await rt.setLegacyContext(sid, ctx);
      await expectFault(d, request({ sid, iova: IOVA, write: false }), { reason: L.LCT_4_CONTEXT_INVALID });
    }
  });

  it("[VTD-CTX-5] [VTD-FAULT-1] 0x3 LCT.4: pass-through without ECAP.PT", async () => {
    const { d } = await boot({ ...unit, passThrough: false });
    const { rt } = await legacyDevice(d);
    await rt.setLegacyContext(SID.B, legacyPassThrough(3));
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.B, iova: 0x5000n, write: false }), {
      reason: L.LCT_4_CONTEXT_INVALID,
    });
  });

  it("[VTD-SS-5] [VTD-MEM-2] 0x3 LCT.4: the SSPTPTR table is outside memory", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await rt.setLegacyContext(SID.B, legacyTranslate(8, OUTSIDE, 4));
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.B, iova: IOVA, write: true }), {
      reason: L.LCT_4_CONTEXT_INVALID,
    });
  });

  it("[VTD-SS-1] [VTD-FAULT-1] 0x4 LGN.1: input beyond the context's AGAW (3-level, 39 bits)", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d, 3);
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, iova: 1n << 40n, write: false }), {
      reason: L.LGN_1_ADDRESS_BEYOND_WIDTH,
    });
  });

  it("[VTD-FAULT-5] 0x4 LGN.1: FI drops address bits at and above the largest input width", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await d.enable(rt);
    // Bit 57 set: beyond the 48-bit AGAW, and above every width this unit reports.
    await expectFault(d, request({ sid: SID.A, iova: (1n << 57n) | IOVA | 0x10n, write: false }), {
      reason: L.LGN_1_ADDRESS_BEYOND_WIDTH,
      fi: IOVA,
    });
  });

  it("[VTD-CTX-6] [VTD-FAULT-1] 0x4 LGN.1: pass-through input at or above HAW", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await rt.setLegacyContext(SID.B, legacyPassThrough(3));
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.B, iova: 1n << 46n, write: true }), {
      reason: L.LGN_1_ADDRESS_BEYOND_WIDTH,
    });
  });

  it("[VTD-SS-3] [VTD-FAULT-1] 0x5 LGN.2: write to a read-only page, and to a non-present one", async () => {
    const { d } = await boot(unit);
    const { rt, ss } = await legacyDevice(d);
    await ss.map(IOVA + 0x1000n, await d.newDataPage(2), "4K", { read: true, write: false });
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, iova: IOVA + 0x1008n, write: true }), {
      reason: L.LGN_2_NO_WRITE,
    });
    await expectFault(d, request({ sid: SID.A, iova: IOVA + 0x2000n, write: true }), {
      reason: L.LGN_2_NO_WRITE,
    });
  });

  it("[VTD-SS-3] [VTD-FAULT-1] 0x6 LGN.3: read of a write-only page, and of a non-present one", async () => {
    const { d } = await boot(unit);
    const { rt, ss } = await legacyDevice(d);
    await ss.map(IOVA + 0x1000n, await d.newDataPage(2), "4K", { read: false, write: true });
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, iova: IOVA + 0x1000n, write: false }), {
      reason: L.LGN_3_NO_READ,
    });
    await expectFault(d, request({ sid: SID.A, iova: IOVA + 0x2000n, write: false }), {
      reason: L.LGN_3_NO_READ,
    });
    // The write-only page still takes writes.
    expect((await d.platform.dma(request({ sid: SID.A, iova: IOVA + 0x1000n, write: true }))).status).toBe(
      "ok",
    );
  });

  it("[VTD-SS-3] 0x6 LGN.3: a read needs R in every entry on the walk, not only in the leaf", async () => {
    const { d } = await boot(unit);
    const { rt, ss } = await legacyDevice(d);
    const [, , pde] = await ss.walk(IOVA);
    const next = Number((pde?.word ?? 0n) & 0x000f_ffff_ffff_f000n);
    await ss.setEntry(IOVA, 2, encodeSsEntry({ read: false, write: true, addr: next }));
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, iova: IOVA, write: false }), { reason: L.LGN_3_NO_READ });
  });

  it("[VTD-SS-5] [VTD-FAULT-1] 0x7 LSS.1: a second-stage table pointer leads outside memory", async () => {
    const { d } = await boot(unit);
    const { rt, ss } = await legacyDevice(d);
    await ss.setEntry(IOVA, 2, encodeSsEntry({ read: true, write: true, addr: OUTSIDE }));
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, iova: IOVA, write: false }), {
      reason: L.LSS_1_SS_ENTRY_ACCESS,
    });
  });

  it("[VTD-ROOT-2] [VTD-MEM-2] 0x8 LRT.1: the root table is outside memory", async () => {
    const { d } = await boot(unit);
    await d.enable(OUTSIDE, "legacy");
    await expectFault(d, request({ sid: SID.A, iova: IOVA, write: false }), { reason: L.LRT_1_ROOT_ACCESS });
  });

  it("[VTD-CTX-5] [VTD-MEM-2] 0x9 LCT.1: the context table is outside memory", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await rt.setRootRaw(0x02, [BigInt(OUTSIDE) | 1n, 0n]);
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.C, iova: IOVA, write: true }), {
      reason: L.LCT_1_CONTEXT_ACCESS,
    });
  });

  it("[VTD-ROOT-2] [VTD-FAULT-1] 0xA LRT.3: reserved bits in a present root entry (low and high word)", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    const table = await d.tables.newPage();
    await rt.setRootRaw(0x02, [BigInt(table) | 1n | (1n << 5n), 0n]);
    await rt.setRootRaw(0x03, [BigInt(table) | 1n, 1n << 20n]);
    await d.enable(rt);
    await expectFault(d, request({ sid: 0x0200, iova: IOVA, write: false }), {
      reason: L.LRT_3_ROOT_RESERVED,
    });
    await expectFault(d, request({ sid: 0x0300, iova: IOVA, write: false }), {
      reason: L.LRT_3_ROOT_RESERVED,
    });
  });

  it("[VTD-CTX-2] [VTD-FAULT-1] 0xB LCT.3: reserved bits in a present context entry", async () => {
    const { d } = await boot(unit);
    const { rt, ss } = await legacyDevice(d);
    await rt.setLegacyContext(SID.B, legacyTranslate(8, ss.root, 4), [1n << 4n, 0n]);
    await rt.setLegacyContext(SID.B + 1, legacyTranslate(8, ss.root, 4), [0n, 1n << 7n]); // bit 71
    await rt.setLegacyContext(SID.B + 2, legacyTranslate(8, ss.root, 4), [1n << 50n, 0n]); // at or above HAW
    await d.enable(rt);
    for (const sid of [SID.B, SID.B + 1, SID.B + 2])
      await expectFault(d, request({ sid, iova: IOVA, write: false }), { reason: L.LCT_3_CONTEXT_RESERVED });
  });

  it("[VTD-SS-4] [VTD-FAULT-1] 0xC LSS.2: reserved bits in a second-stage leaf and in a non-leaf entry", async () => {
    const { d } = await boot(unit);
    const { rt, ss } = await legacyDevice(d);
    const page = await d.newDataPage(3);
    await ss.map(IOVA + 0x1000n, page, "4K", { read: true, write: true, extra: 1n << 48n }); // above HAW
    await ss.map(IOVA + 0x20_0000n, page, "4K", { read: true, write: true });
    const [, , pde] = await ss.walk(IOVA + 0x20_0000n);
    await ss.setEntry(IOVA + 0x20_0000n, 2, (pde?.word ?? 0n) | (1n << 11n)); // SNP in a non-leaf
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, iova: IOVA + 0x1000n, write: false }), {
      reason: L.LSS_2_SS_RESERVED,
    });
    await expectFault(d, request({ sid: SID.A, iova: IOVA + 0x20_0000n, write: true }), {
      reason: L.LSS_2_SS_RESERVED,
    });
  });

  it("[VTD-DMA-3] [VTD-FAULT-1] 0xE LGN.4: a request without PASID to the interrupt range", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, iova: 0xfee0_1000n, write: true }), {
      reason: L.LGN_4_INTERRUPT_RANGE,
    });
    // Even for a device that has no context entry: the check comes before the tables.
    await expectFault(d, request({ sid: 0x0300, iova: 0xfeef_f000n, write: false }), {
      reason: L.LGN_4_INTERRUPT_RANGE,
    });
  });

  it("[VTD-DMA-3] [VTD-CTX-6] 0xE LGN.4: a translation (or pass-through) whose output is in the interrupt range", async () => {
    const { d } = await boot(unit);
    const { rt, ss } = await legacyDevice(d);
    await ss.map(IOVA + 0x1000n, 0xfee0_0000, "4K", { read: true, write: true });
    await d.enable(rt);
    await expectFault(d, request({ sid: SID.A, iova: IOVA + 0x1000n, write: false }), {
      reason: L.LGN_4_INTERRUPT_RANGE,
    });
  });

  it("[VTD-ROOT-5] [VTD-FAULT-2] 0x30 RTA.1: TTM 10b (reserved) and 11b (abort-DMA without ADMS)", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await setRootRawTtm(d, rt.root, 2);
    await d.platform.writeReg(0x18, 1n << 31n, 4); // GCMD.TE
    await expectFault(d, request({ sid: SID.A, iova: IOVA, write: false }), {
      reason: S.RTA_1_INVALID_RTADDR,
    });
    await d.setRoot(rt.root, "abort-dma");
    await expectFault(d, request({ sid: SID.A, iova: IOVA, write: true }), {
      reason: S.RTA_1_INVALID_RTADDR,
    });
  });

  it("[VTD-ROOT-5] [VTD-FAULT-2] 0x31 RTA.2: a request with PASID under legacy TTM", async () => {
    const { d } = await boot(unit);
    const { rt } = await legacyDevice(d);
    await d.enable(rt);
    // PP / PV are recorded only when the unit supports PASIDs [VTD-FAULT-5].
    await expectFault(d, request({ sid: SID.A, pasid: 9, iova: IOVA, write: false }), {
      reason: S.RTA_2_LEGACY_TTM_WITH_PASID,
    });
    await expectFault(d, request({ sid: SID.A, pasid: 9, priv: true, iova: IOVA, write: true }), {
      reason: S.RTA_2_LEGACY_TTM_WITH_PASID,
    });
  });
});

describe("RTA.1 on a unit without scalable mode", () => {
  it("[VTD-ROOT-5] 0x30 RTA.1: TTM 01b when SMTS = 0; no PASID fields without ECAP.PASID", async () => {
    const { d } = await boot(LEGACY_ONLY);
    const { rt } = await legacyDevice(d);
    await setRootRawTtm(d, rt.root, 1);
    await d.platform.writeReg(0x18, 1n << 31n, 4);
    const f = await expectFault(d, request({ sid: SID.A, pasid: 3, priv: true, iova: IOVA, write: false }), {
      reason: S.RTA_1_INVALID_RTADDR,
    });
    expect([f.record.pp, f.record.pv, f.record.priv]).toEqual([false, 0, false]);
  });
});
