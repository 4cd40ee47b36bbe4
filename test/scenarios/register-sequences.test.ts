/**
 * Register command sequences through the platform surface: SRTP/RTPS, TE/TES with DMAs before,
 * during and after translation, QIE/QIES, the invalidation queue (IQA, IQH, IQT) with 128- and
 * 256-bit descriptors, wrap-around, wait descriptors with SW and IF, an invalid descriptor and
 * recovery [VTD-REG-8] [VTD-REG-9] [VTD-REG-11] [VTD-REG-12] [VTD-QI-*].
 */
import { describe, expect, it } from "vitest";
import type { GuestDriver } from "../../src/driver/driver.ts";
import { legacyTranslate } from "../../src/driver/entries.ts";
import { readGuestU32, writeGuestU32, writeGuestWords } from "../../src/driver/guest-io.ts";
import * as inv from "../../src/driver/invalidations.ts";
import { globalCommand } from "../../src/driver/registers.ts";
import { encodeDescriptor } from "../../src/spec/descriptor.ts";
import { EventCtl, Gcmd, Gsts, Iqei, Reg } from "../../src/spec/register-offsets.ts";
import { boot, CACHES_OFF, LEGACY_ONLY, landing, request, SID } from "./fixtures.ts";

const IOVA = 0x4000_0000n;
const gsts = async (d: GuestDriver) => Number(await d.platform.readReg(Reg.GSTS, 4));
const bitOf = (v: number, n: number) => (v >>> n) & 1;

/** A legacy root table mapping SID.A's IOVA to a fingerprinted page. */
async function legacyRoot(d: GuestDriver, tag: number) {
  const rt = await d.newRootTable("legacy");
  const ss = await d.newPageTable("second", 4);
  const page = await d.newDataPage(tag);
  await ss.map(IOVA, page, "4K", { read: true, write: true });
  await rt.setLegacyContext(SID.A, legacyTranslate(1, ss.root, 4));
  return { rt, ss, page };
}

describe("root-table pointer and translation enable", () => {
  it("[VTD-REG-8] [VTD-REG-9] [VTD-REG-10] RTADDR reads back; SRTP sets RTPS; GCMD reads 0", async () => {
    const { d } = await boot(LEGACY_ONLY);
    expect(bitOf(await gsts(d), Gsts.RTPS)).toBe(0);
    await d.platform.writeReg(Reg.RTADDR, 0x12_3000n | (1n << 60n) | 0x3ffn, 8);
    expect(await d.platform.readReg(Reg.RTADDR, 8)).toBe(0x12_3000n); // bits 63:HAW and 9:0 not kept
    await globalCommand(d.platform, Gcmd.SRTP, true);
    expect(bitOf(await gsts(d), Gsts.RTPS)).toBe(1);
    expect(await d.platform.readReg(Reg.GCMD, 4)).toBe(0n);
  });

  it("[VTD-REG-9] a new RTADDR takes effect only at the next SRTP", async () => {
    const { d } = await boot(LEGACY_ONLY, CACHES_OFF);
    const a = await legacyRoot(d, 1);
    const b = await legacyRoot(d, 2);
    await d.enable(a.rt);
    await d.platform.writeReg(Reg.RTADDR, BigInt(b.rt.root), 8);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(a.page);
    await d.setRoot(b.rt);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(b.page);
  });

  it("[VTD-REG-9] [VTD-CACHE-5] SRTP with ESRTPS flushes the caches: a stale entry is gone after re-latching", async () => {
    const { d } = await boot(LEGACY_ONLY);
    const { rt, ss } = await legacyRoot(d, 1);
    const fresh = await d.newDataPage(2);
    await d.enable(rt);
    await landing(d, { sid: SID.A, iova: IOVA });
    await ss.map(IOVA, fresh, "4K", { read: true, write: true });
    expect(await landing(d, { sid: SID.A, iova: IOVA })).not.toBe(fresh);
    await d.setRoot(rt);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(fresh);
  });

  it("[VTD-DMA-4] [VTD-REG-11] before TE a request is untranslated; with TE it is remapped; after TE = 0 untranslated again", async () => {
    const { d } = await boot();
    const { rt, page } = await legacyRoot(d, 1);
    const phys = await d.newDataPage(3);
    await d.setRoot(rt);
    expect(bitOf(await gsts(d), Gsts.TES)).toBe(0);
    expect(await landing(d, { sid: SID.A, iova: BigInt(phys) })).toBe(phys);
    // A request with PASID is blocked while translation is off, and nothing is recorded.
    expect(
      (await d.platform.dma(request({ sid: SID.A, pasid: 1, iova: BigInt(phys), write: false }))).status,
    ).toBe("aborted");
    expect((await d.readFaults()).status.ppf).toBe(false);
    await globalCommand(d.platform, Gcmd.TE, true);
    expect(bitOf(await gsts(d), Gsts.TES)).toBe(1);
    expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(page);
    await d.disable();
    expect(bitOf(await gsts(d), Gsts.TES)).toBe(0);
    expect(await landing(d, { sid: SID.A, iova: BigInt(phys) })).toBe(phys);
  });

  it("[VTD-REG-11] disabling translation flushes the caches of a scalable-capable unit, not of a legacy-only one", async () => {
    for (const [unit, flushes] of [
      [{}, true],
      [LEGACY_ONLY, false],
    ] as const) {
      const { d } = await boot(unit);
      const { rt, ss } = await legacyRoot(d, 1);
      const fresh = await d.newDataPage(2);
      await d.enable(rt);
      const old = await landing(d, { sid: SID.A, iova: IOVA });
      await ss.map(IOVA, fresh, "4K", { read: true, write: true });
      await d.disable();
      await globalCommand(d.platform, Gcmd.TE, true);
      expect(await landing(d, { sid: SID.A, iova: IOVA })).toBe(flushes ? fresh : old);
    }
  });
});

describe("invalidation queue sequences", () => {
  const iqh = async (d: GuestDriver) => Number(await d.platform.readReg(Reg.IQH, 8));

  it("[VTD-REG-12] [VTD-QI-1] [VTD-QI-3] QIE sets QIES; IQA reads back; disabling resets IQH and clears QIES", async () => {
    const { d } = await boot(LEGACY_ONLY);
    await d.setupQueue({ dw: 128, qs: 1 });
    expect(bitOf(await gsts(d), Gsts.QIES)).toBe(1);
    expect(await d.platform.readReg(Reg.IQA, 8)).toBe(BigInt(d.queue.base) | 1n);
    await d.invalidate([inv.iotlbGlobal()]);
    expect(await iqh(d)).toBe(2 * 16);
    await d.queue.disable();
    expect(bitOf(await gsts(d), Gsts.QIES)).toBe(0);
    expect(await iqh(d)).toBe(0);
  });

  it("[VTD-QI-2] [VTD-QI-4] [VTD-QI-12] 128-bit descriptors advance IQH by 16, 256-bit by 32; the wait writes its status", async () => {
    for (const [unit, dw, step] of [
      [LEGACY_ONLY, 128, 16],
      [{}, 256, 32],
    ] as const) {
      const { d } = await boot(unit);
      await d.setRoot(await d.newRootTable(dw === 256 ? "scalable" : "legacy"));
      await d.setupQueue({ dw, qs: 0 });
      const status = await d.newDataPage();
      await writeGuestU32(d.platform, status, 0);
      await d.queue.submit([inv.iotlbGlobal(), inv.contextGlobal(), inv.waitWithStatus(status, 0xabcd)]);
      expect(await iqh(d)).toBe(3 * step);
      expect(Number(await d.platform.readReg(Reg.IQT, 8))).toBe(3 * step);
      expect(await readGuestU32(d.platform, status)).toBe(0xabcd);
    }
  });

  it("[VTD-QI-4] the queue wraps from its last slot to offset 0 (128-bit, 256 slots)", async () => {
    const { d } = await boot(LEGACY_ONLY);
    await d.setupQueue({ dw: 128, qs: 0 });
    for (let round = 0; round < 5; round++)
      await d.invalidate(Array.from({ length: 80 }, (_, i) => inv.iotlbDomain(i)));
    // 5 rounds of 80 descriptors and a wait: 405 slots, so IQH went around once.
    expect(await iqh(d)).toBe((405 * 16) % 4096);
    expect(d.queue.iqt).toBe(await iqh(d));
  });

  it("[VTD-QI-12] [VTD-QI-13] IF sets ICS.IWC and IECTL.IP (IM = 1); clearing IM sends it; IWC is write-1-to-clear", async () => {
    const { d } = await boot(LEGACY_ONLY);
    await d.setupQueue();
    expect(Number(await d.platform.readReg(Reg.IECTL, 4))).toBe((1 << EventCtl.IM) >>> 0);
    await d.queue.run([{ ...inv.waitNop(), intr: true }]);
    expect(Number(await d.platform.readReg(Reg.ICS, 4))).toBe(1);
    expect(Number(await d.platform.readReg(Reg.IECTL, 4))).toBe(
      ((1 << EventCtl.IM) | (1 << EventCtl.IP)) >>> 0,
    );
    await d.platform.writeReg(Reg.IECTL, 0n, 4); // unmask: the held event is sent, IP clears
    expect(Number(await d.platform.readReg(Reg.IECTL, 4))).toBe(0);
    await d.platform.writeReg(Reg.ICS, 1n, 4);
    expect(Number(await d.platform.readReg(Reg.ICS, 4))).toBe(0);
    // With IM = 0 a new completion is sent at once: IP stays clear.
    await d.queue.run([{ ...inv.waitNop(), intr: true }]);
    expect(Number(await d.platform.readReg(Reg.IECTL, 4))).toBe(0);
    expect(Number(await d.platform.readReg(Reg.ICS, 4))).toBe(1);
    // IEDATA, IEADDR, IEUADDR are read-write.
    await d.platform.writeReg(Reg.IEDATA, 0x1_4321n, 4);
    await d.platform.writeReg(Reg.IEADDR, 0xfee0_0003n, 4);
    expect(Number(await d.platform.readReg(Reg.IEDATA, 4))).toBe(0x4321);
    expect(Number(await d.platform.readReg(Reg.IEADDR, 4))).toBe(0xfee0_0000);
  });

  it("[VTD-QI-10] an invalid descriptor sets IQE, stops IQH at it and blocks later descriptors until recovery", async () => {
    const { d } = await boot(LEGACY_ONLY);
    await d.setupQueue({ dw: 128, qs: 0 });
    const s1 = await d.newDataPage();
    const s2 = s1 + 4;
    await writeGuestU32(d.platform, s1, 0);
    await writeGuestU32(d.platform, s2, 0);
    await d.queue.submit([
      inv.iotlbGlobal(),
      { raw: [0x1n, 0n], label: "context-cache with reserved granularity 0" },
      inv.waitWithStatus(s1, 1),
    ]);
    const fsts = Number(await d.platform.readReg(Reg.FSTS, 4));
    expect(bitOf(fsts, 4)).toBe(1);
    expect(await iqh(d)).toBe(16);
    expect(Number(await d.platform.readReg(Reg.IQERCD, 8))).toBe(Iqei.RESERVED_FIELD);
    expect(await readGuestU32(d.platform, s1)).toBe(0);
    // Another IQT write fetches nothing while IQE is set.
    await d.queue.submit([inv.waitWithStatus(s2, 2)]);
    expect(await iqh(d)).toBe(16);
    expect(await readGuestU32(d.platform, s2)).toBe(0);
    // Recovery: overwrite the bad descriptor, clear IQE; processing resumes at IQH.
    await writeGuestWords(d.platform, d.queue.base + 16, encodeDescriptor(inv.waitNop(), 128));
    await d.platform.writeReg(Reg.FSTS, 1n << 4n, 4);
    expect(await readGuestU32(d.platform, s1)).toBe(1);
    expect(await readGuestU32(d.platform, s2)).toBe(2);
    expect(await iqh(d)).toBe(4 * 16);
    expect(bitOf(Number(await d.platform.readReg(Reg.FSTS, 4)), 4)).toBe(0);
  });

  /** Submit one descriptor; return IQEI when it stopped the queue, else "ok". */
  async function verdict(d: GuestDriver, desc: Parameters<GuestDriver["invalidate"]>[0][number]) {
    try {
      await d.invalidate([desc]);
      return "ok";
    } catch (e) {
      const iqei = (e as { detail?: { iqei?: number } }).detail?.iqei;
      await d.queue.recover();
      await d.queue.wait();
      return iqei;
    }
  }

  it("[VTD-QI-5] [VTD-QI-6] [VTD-QI-9] [VTD-QI-16] descriptor errors by mode and width, each with its IQEI", async () => {
    const legacy = await boot(LEGACY_ONLY);
    await legacy.d.setupQueue({ dw: 128, qs: 0 });
    expect(await verdict(legacy.d, inv.deviceTlb(SID.A, 0n))).toBe(Iqei.INVALID_TYPE); // ECAP.DT = 0
    expect(await verdict(legacy.d, { raw: [0x6n | (2n << 4n), 0n] })).toBe(Iqei.INVALID_TYPE); // PASID-IOTLB type
    expect(await verdict(legacy.d, inv.iotlbPage(1, 0n, 19))).toBe(Iqei.RESERVED_FIELD); // AM > MAMV
    expect(await verdict(legacy.d, { raw: [0x2n, 0n] })).toBe(Iqei.RESERVED_FIELD); // IOTLB G = 00b
    expect(await verdict(legacy.d, { kind: "iec", g: false, iidx: 0, im: 0 })).toBe("ok");

    const scal = await boot();
    await scal.d.setRoot(await scal.d.newRootTable("scalable"));
    await scal.d.setupQueue({ dw: 256, qs: 0 });
    expect(await verdict(scal.d, inv.pasidDeviceTlb(SID.A, 1, 0n))).toBe(Iqei.INVALID_TYPE);
    expect(await verdict(scal.d, { raw: [0x2n | (1n << 4n), 0n, 1n, 0n] })).toBe(Iqei.RESERVED_FIELD); // upper half of a 128-bit type
    expect(await verdict(scal.d, { raw: [0x7n | (2n << 4n), 0n, 0n, 0n] })).toBe(Iqei.RESERVED_FIELD); // PASID-cache G = 10b
    expect(await verdict(scal.d, { raw: [0x6n | (1n << 4n), 0n, 0n, 0n] })).toBe(Iqei.RESERVED_FIELD); // PASID-IOTLB G = 01b
    expect(await verdict(scal.d, inv.pasidIotlbPage(1, 1, 0n, 40))).toBe("ok");
  });

  it("[VTD-QI-11] queue-level errors: a 256-bit queue without SMTS, a 128-bit queue in scalable mode", async () => {
    for (const [unit, mode, dw] of [
      [LEGACY_ONLY, "legacy", 256],
      [{}, "scalable", 128],
    ] as const) {
      const { d } = await boot(unit);
      await d.setRoot(await d.newRootTable(mode));
      await d.setupQueue({ dw, qs: 0 });
      await d.queue.submit([inv.iotlbGlobal()]);
      expect(bitOf(Number(await d.platform.readReg(Reg.FSTS, 4)), 4)).toBe(1);
      expect(Number(await d.platform.readReg(Reg.IQERCD, 8))).toBe(Iqei.INVALID_WIDTH);
      expect(await iqh(d)).toBe(0);
    }
  });

  it("[VTD-QI-11] IQT with bit 4 set in a 256-bit queue is a tail alignment error", async () => {
    const { d } = await boot();
    await d.setRoot(await d.newRootTable("scalable"));
    await d.setupQueue({ dw: 256, qs: 0 });
    await d.platform.writeReg(Reg.IQT, 0x10n, 8);
    expect(bitOf(Number(await d.platform.readReg(Reg.FSTS, 4)), 4)).toBe(1);
    expect(Number(await d.platform.readReg(Reg.IQERCD, 8))).toBe(Iqei.TAIL_MISALIGNED);
    expect(await iqh(d)).toBe(0);
  });
});
