import { describe, expect, it } from "vitest";
import { GuestDriver } from "../../src/driver/driver.ts";
import { DriverError } from "../../src/driver/errors.ts";
import * as inv from "../../src/driver/invalidations.ts";
import { encodeDescriptor } from "../../src/spec/descriptor.ts";
import { Gcmd, Gsts, IOTLB_OFFSET, IVA_OFFSET, Reg } from "../../src/spec/register-offsets.ts";
import { DoubleSurface, memoryOf } from "./driver-fixtures.ts";

const MEM = 64 << 20;

async function driverOn(s: DoubleSurface, poll = { maxPolls: 50 }) {
  return GuestDriver.create(s, memoryOf(MEM), { poll });
}

describe("global commands and translation enable", () => {
  it("[HARNESS-DRV-3] [HARNESS-DRV-5] [VTD-REG-8] each GCMD write changes one command over GSTS's persistent bits", async () => {
    const s = new DoubleSurface({
      scalable: false,
      firstStage: false,
      pasidBits: 0,
      supervisorRequests: false,
      fs1gp: false,
      fl5lp: false,
    });
    const d = await driverOn(s);
    const rt = await d.newRootTable("legacy");
    await d.enable(rt);
    await d.setupQueue({ dw: 128, qs: 0 });
    await d.disable();
    expect(s.regWrites(Reg.GCMD)).toEqual([
      1n << BigInt(Gcmd.SRTP),
      1n << BigInt(Gcmd.TE),
      (1n << BigInt(Gcmd.TE)) | (1n << BigInt(Gcmd.QIE)),
      1n << BigInt(Gcmd.QIE),
    ]);
    expect(s.regWrites(Reg.RTADDR)).toEqual([BigInt(rt.root)]);
    expect(s.regs.rootPointer).toEqual({ address: rt.root, ttm: 0 });
    expect(Number(await s.readReg(Reg.GSTS, 4)) >>> Gsts.TES).toBe(0);
  });

  it("[HARNESS-DRV-5] [VTD-REG-9] scalable mode writes TTM 01b; with ESRTPS no invalidation follows SRTP", async () => {
    const s = new DoubleSurface();
    const d = await driverOn(s);
    const rt = await d.newRootTable("scalable");
    s.sink.calls.length = 0;
    await d.enable(rt);
    expect(s.regWrites(Reg.RTADDR)).toEqual([BigInt(rt.root) | (1n << 10n)]);
    expect(s.regs.rootPointer).toEqual({ address: rt.root, ttm: 1 });
    // The reference's own ESRTPS flush only: the driver issued no CCMD / IOTLB / queue work.
    expect(s.regWrites(Reg.CCMD)).toEqual([]);
    expect(s.regWrites(Reg.IQT)).toEqual([]);
  });

  it("[HARNESS-DRV-5] [HARNESS-DRV-9] without ESRTPS, SRTP is followed by global register-based invalidations", async () => {
    const s = new DoubleSurface({
      scalable: false,
      firstStage: false,
      pasidBits: 0,
      supervisorRequests: false,
      fs1gp: false,
      fl5lp: false,
    });
    const readReg = s.readReg.bind(s);
    // A unit without ESRTPS: CAP bit 63 reads 0.
    s.readReg = async (off, width) => {
      const v = await readReg(off, width);
      return off === Reg.CAP && width === 8 ? v & ~(1n << 63n) : v;
    };
    const d = await driverOn(s);
    expect(d.caps.esrtps).toBe(false);
    await d.enable(await d.newRootTable("legacy"));
    // The register file still flushes on SRTP itself (its ESRTPS); the driver's two follow.
    const scopes = s.sink.calls.map((c) => c.scope);
    expect(scopes.slice(3)).toEqual([
      { kind: "context", granularity: "global" },
      { kind: "iotlb", granularity: "global" },
    ]);
    expect(s.regWrites(Reg.CCMD)).toEqual([(1n << 63n) | (1n << 61n)]);
  });

  it("[HARNESS-DRV-4] a command the model never completes is a precise timeout, not a hang", async () => {
    const s = new DoubleSurface();
    s.ignoreRegWrites.add(Reg.GCMD);
    const d = await driverOn(s, { maxPolls: 7 });
    const err = await d.enable(await d.newRootTable("scalable")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    expect((err as DriverError).code).toBe("timeout");
    expect((err as DriverError).message).toMatch(/GCMD\.SRTP=1 .*not done after 7 reads/);
  });
});

describe("register-based invalidation", () => {
  const legacy = {
    scalable: false,
    firstStage: false,
    pasidBits: 0,
    supervisorRequests: false,
    fs1gp: false,
    fl5lp: false,
  };

  it("[HARNESS-DRV-9] [VTD-REG-13] [VTD-REG-14] CCMD and IOTLB_REG carry the request bit-exactly", async () => {
    const s = new DoubleSurface(legacy);
    const d = await driverOn(s);
    await d.setRoot(await d.newRootTable("legacy"));
    s.sink.calls.length = 0;
    await d.invalidate([
      inv.contextDevice(9, 0x0108, 2),
      inv.iotlbPage(9, 0x12_3000n, 1, true),
      inv.iotlbDomain(4),
    ]);
    expect(s.regWrites(Reg.CCMD)).toEqual([(1n << 63n) | (3n << 61n) | (2n << 32n) | (0x0108n << 16n) | 9n]);
    expect(s.regWrites(IVA_OFFSET)).toEqual([0x12_3000n | (1n << 6n) | 1n]);
    expect(s.regWrites(IOTLB_OFFSET)).toEqual([
      (1n << 63n) | (3n << 60n) | (9n << 32n),
      (1n << 63n) | (2n << 60n) | (4n << 32n),
    ]);
    expect(s.sink.calls.map((c) => c.scope)).toEqual([
      { kind: "context", granularity: "device", did: 9, sid: 0x0108, fm: 2 },
      { kind: "iotlb", granularity: "page", did: 9, addr: 0x12_2000n, am: 1, ih: true },
      { kind: "iotlb", granularity: "domain", did: 4 },
    ]);
  });

  it("[HARNESS-DRV-9] [VTD-REG-13] a refused request (scalable mode) is an error; PASID kinds need the queue", async () => {
    const s = new DoubleSurface();
    const d = await driverOn(s);
    await d.setRoot(await d.newRootTable("scalable"));
    await expect(d.invalidate([inv.contextGlobal()])).rejects.toThrow(/refused/);
    await expect(d.invalidate([inv.pasidCacheGlobal()])).rejects.toMatchObject({ code: "unsupported" });
  });
});

describe("invalidation queue", () => {
  it("[HARNESS-DRV-6] [VTD-QI-1] setup writes IQT = 0, IQA = base | DW | QS, then QIE", async () => {
    const s = new DoubleSurface();
    const d = await driverOn(s);
    await d.setupQueue({ qs: 2 });
    const iqa = BigInt(d.layout.queue.base) | (1n << 11n) | 2n;
    const regWrites = s.log.filter((c) => c.op === "writeReg").map((c) => (c as { off: number }).off);
    expect(regWrites).toEqual([Reg.IQT, Reg.IQA, Reg.GCMD]);
    expect(s.regWrites(Reg.IQA)).toEqual([iqa]);
    expect(await s.readReg(Reg.IQA, 8)).toBe(iqa);
    expect(d.queue.slotCount).toBe((4096 << 2) / 32);
    await expect(d.setupQueue({ qs: 4 })).rejects.toMatchObject({ code: "layout" });
  });

  it("[HARNESS-DRV-7] [HARNESS-DRV-8] [VTD-QI-12] descriptors run in order and the wait status appears", async () => {
    const s = new DoubleSurface();
    const d = await driverOn(s);
    await d.setRoot(await d.newRootTable("scalable"));
    await d.setupQueue();
    s.sink.calls.length = 0;
    const descs = [
      inv.pasidCachePasid(3, 77),
      inv.pasidIotlbPage(3, 77, 0x4000n, 2, true),
      inv.iotlbDomain(3),
    ];
    await d.invalidate(descs);
    expect(s.sink.calls.map((c) => c.scope.kind)).toEqual(["pasid-cache", "pasid-iotlb", "iotlb"]);
    expect(s.sink.calls.every((c) => c.mode === "scalable")).toBe(true);
    // Exactly the encoded descriptors, then the wait descriptor, sit in the queue.
    const q = d.layout.queue.base;
    for (const [i, desc] of descs.entries()) {
      const bytes = await s.readGuest(BigInt(q + i * 32), 32);
      const words = Array.from({ length: 4 }, (_, k) => new DataView(bytes.buffer).getBigUint64(k * 8, true));
      expect(words).toEqual(encodeDescriptor(desc, 256));
    }
    expect(s.regWrites(Reg.IQT)).toEqual([0n, 96n, 128n]);
    expect(await s.readReg(Reg.IQH, 8)).toBe(128n);
  });

  it("[VTD-QI-4] [HARNESS-DRV-7] the queue wraps around and a full queue waits for IQH", async () => {
    const s = new DoubleSurface({
      scalable: false,
      firstStage: false,
      pasidBits: 0,
      supervisorRequests: false,
      fs1gp: false,
      fl5lp: false,
    });
    const d = await driverOn(s);
    await d.setupQueue({ dw: 128, qs: 0 });
    s.sink.calls.length = 0;
    const descs = Array.from({ length: 600 }, (_, i) => inv.iotlbDomain(i & 0xffff));
    await d.invalidate(descs);
    expect(s.sink.calls.map((c) => (c.scope as { did: number }).did)).toEqual(descs.map((_, i) => i));
    const tails = s.regWrites(Reg.IQT).map(Number);
    expect(tails.every((t) => t < 4096 && t % 16 === 0)).toBe(true);
    expect(tails.some((t, i) => i > 0 && t < tails[i - 1]!)).toBe(true); // wrapped
    // 600 + 1 descriptors through a 256-slot queue: IQT at (601 * 16) mod 4096.
    expect(tails.at(-1)).toBe((601 * 16) % 4096);
  });

  it("[HARNESS-DRV-8] [VTD-QI-10] a bad descriptor is reported with IQH and IQEI, and recover() resumes", async () => {
    const s = new DoubleSurface();
    const d = await driverOn(s);
    await d.setRoot(await d.newRootTable("scalable"));
    await d.setupQueue();
    s.sink.calls.length = 0;
    const bad = { raw: [0x2n | (1n << 8n), 0n], label: "iotlb with reserved bit 8" };
    const err = await d.invalidate([inv.iotlbGlobal(), bad, inv.pasidCacheGlobal()]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriverError);
    const e = err as DriverError;
    expect(e.code).toBe("queue-error");
    expect(e.detail).toMatchObject({ iqh: 32, iqei: 4 });
    expect(e.message).toContain("iotlb with reserved bit 8");
    expect((e.detail.pending as Array<{ label: string }>).map((p) => p.label)).toEqual([
      "iotlb with reserved bit 8",
      "pasid-cache global",
      expect.stringMatching(/^wait status=/),
    ]);
    expect(s.sink.calls.map((c) => c.scope.kind)).toEqual(["iotlb"]);
    const failed = await d.queue.recover();
    expect(failed?.label).toBe("iotlb with reserved bit 8");
    await d.queue.wait();
    expect(s.sink.calls.map((c) => c.scope.kind)).toEqual(["iotlb", "pasid-cache"]);
  });

  it("[HARNESS-DRV-4] [HARNESS-DRV-8] a queue that never advances times out naming the pending descriptors", async () => {
    const s = new DoubleSurface();
    const d = await driverOn(s, { maxPolls: 5 });
    await d.setRoot(await d.newRootTable("scalable"));
    await d.setupQueue();
    s.ignoreRegWrites.add(Reg.IQT);
    const err = (await d
      .invalidate([inv.contextGlobal(), inv.iotlbGlobal()])
      .catch((x: unknown) => x)) as DriverError;
    expect(err.code).toBe("timeout");
    expect(err.message).toMatch(
      /not written after 5 reads; IQH 0x0, pending: context-cache global; iotlb global; wait/,
    );
  });

  it("[HARNESS-DRV-7] a PASID descriptor in a 128-bit queue is an argument error before anything is queued", async () => {
    const s = new DoubleSurface();
    const d = await driverOn(s);
    await d.setupQueue({ dw: 128 });
    await expect(d.queue.submit([inv.pasidCacheGlobal()])).rejects.toMatchObject({ code: "argument" });
    expect(s.regWrites(Reg.IQT)).toEqual([0n]);
  });
});

describe("enable preconditions", () => {
  it("[HARNESS-DRV-5] scalable mode without ESRTPS needs the queue before SRTP", async () => {
    const s = new DoubleSurface();
    const readReg = s.readReg.bind(s);
    s.readReg = async (off, width) => {
      const v = await readReg(off, width);
      return off === Reg.CAP && width === 8 ? v & ~(1n << 63n) : v;
    };
    const d = await driverOn(s);
    const rt = await d.newRootTable("scalable");
    await expect(d.enable(rt)).rejects.toThrow(/set up the invalidation queue first/);
    expect(s.regWrites(Reg.RTADDR)).toEqual([]);
    await d.setupQueue();
    s.sink.calls.length = 0;
    await d.enable(rt);
    expect(s.sink.calls.slice(3).map((c) => c.scope)).toEqual([
      { kind: "context", granularity: "global" },
      { kind: "pasid-cache", granularity: "global" },
      { kind: "iotlb", granularity: "global" },
    ]);
  });
});
