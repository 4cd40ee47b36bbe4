import { describe, expect, it } from "vitest";
import { writeWords } from "../../src/memory/physical-memory.ts";
import { encodeDescriptor } from "../../src/spec/descriptor.ts";
import { Gcmd, Reg } from "../../src/spec/register-offsets.ts";
import {
  enableQueue,
  gcmd,
  MEM_SIZE,
  platform,
  setRootTable,
  submit,
  submitRaw,
  wait,
} from "./control-path-fixtures.ts";

const QBASE = 0x10_0000;
const STATUS = 0x8000;
const legacy = { scalable: false, firstStage: false, pasidBits: 0, supervisorRequests: false, fs1gp: false };

const fsts = (regs: ReturnType<typeof platform>["regs"]) => Number(regs.read(Reg.FSTS, 4));
const iqh = (regs: ReturnType<typeof platform>["regs"]) => Number(regs.read(Reg.IQH, 8));
const iqei = (regs: ReturnType<typeof platform>["regs"]) => Number(regs.read(Reg.IQERCD, 8) & 0xfn);

describe("invalidation queue", () => {
  it("[VTD-QI-3] [VTD-QI-4] [VTD-QI-7] [VTD-QI-12] a legacy driver's flush: descriptors run in order, the wait writes its status", () => {
    const { regs, mem, sink } = platform(legacy);
    setRootTable(regs, 0x1000, 0);
    const q = enableQueue(regs, QBASE);
    expect(Number(regs.read(Reg.GSTS, 4)) & (1 << 26)).not.toBe(0);
    sink.clear();
    submit(regs, mem, q, [
      { kind: "context-cache", g: 1, did: 0, sid: 0, fm: 0 },
      { kind: "iotlb", g: 2, dr: true, dw: true, did: 5, am: 0, ih: false, addr: 0n },
      wait(STATUS, 1),
    ]);
    expect(sink.calls).toEqual([
      { scope: { kind: "context", granularity: "global" }, mode: "legacy" },
      { scope: { kind: "iotlb", granularity: "domain", did: 5 }, mode: "legacy" },
    ]);
    expect(mem.readU32(STATUS)).toBe(1);
    expect(iqh(regs)).toBe(48);
    expect(regs.read(Reg.IQT, 8)).toBe(48n);
    expect(fsts(regs)).toBe(0);
  });

  it("[VTD-QI-3] nothing is fetched while QIE is clear; enabling runs what is already queued", () => {
    const { regs, mem, sink } = platform(legacy);
    regs.write(Reg.IQA, BigInt(QBASE), 8);
    const q = { base: QBASE, wide: false, sizeBytes: 4096 };
    submit(regs, mem, q, [{ kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n }]);
    expect(sink.calls).toEqual([]);
    expect(iqh(regs)).toBe(0);
    gcmd(regs, Gcmd.QIE, true);
    expect(sink.scopes()).toEqual([{ kind: "iotlb", granularity: "global" }]);
    expect(iqh(regs)).toBe(16);
  });

  it("[VTD-QI-3] [VTD-REG-12] disabling the queue resets IQH to 0 and clears QIES", () => {
    const { regs, mem } = platform(legacy);
    const q = enableQueue(regs, QBASE);
    submit(regs, mem, q, [wait(STATUS, 1), wait(STATUS, 2)]);
    expect(iqh(regs)).toBe(32);
    gcmd(regs, Gcmd.QIE, false);
    expect(iqh(regs)).toBe(0);
    expect(Number(regs.read(Reg.GSTS, 4)) & (1 << 26)).toBe(0);
  });

  it("[VTD-QI-4] the queue wraps around: 2^(QS+8) slots, IQH returns to 0", () => {
    const { regs, mem, sink } = platform(legacy);
    const q = enableQueue(regs, QBASE, 0);
    let n = 0;
    for (let batch = 0; batch < 40; batch++) {
      const descs = Array.from({ length: 10 }, () => ({
        kind: "iotlb" as const,
        g: 2,
        dr: false,
        dw: false,
        did: n++ & 0xffff,
        am: 0,
        ih: false,
        addr: 0n,
      }));
      submit(regs, mem, q, descs);
      expect(iqh(regs)).toBe(Number(regs.read(Reg.IQT, 8)));
    }
    expect(sink.calls).toHaveLength(400);
    expect(sink.scopes().map((s) => (s.kind === "iotlb" && s.granularity === "domain" ? s.did : -1))).toEqual(
      Array.from({ length: 400 }, (_, i) => i),
    );
    expect(iqh(regs)).toBe((400 * 16) % 4096);
  });

  it("[VTD-QI-4] [VTD-REG-16] a scalable driver uses 256-bit descriptors; scopes carry the scalable mode", () => {
    const { regs, mem, sink } = platform();
    setRootTable(regs, 0x1000, 1);
    const q = enableQueue(regs, QBASE, 1, true);
    sink.clear();
    submit(regs, mem, q, [
      { kind: "pasid-cache", g: 1, did: 3, pasid: 0x42 },
      { kind: "pasid-iotlb", g: 2, did: 3, pasid: 0x42, am: 0, ih: false, addr: 0n },
      { kind: "pasid-iotlb", g: 3, did: 3, pasid: 0x42, am: 9, ih: true, addr: 0x4020_0000n },
      { kind: "iec", g: false, iidx: 0, im: 0 },
      wait(STATUS, 7),
    ]);
    expect(sink.calls).toEqual([
      { scope: { kind: "pasid-cache", granularity: "pasid", did: 3, pasid: 0x42 }, mode: "scalable" },
      { scope: { kind: "pasid-iotlb", granularity: "pasid", did: 3, pasid: 0x42 }, mode: "scalable" },
      {
        scope: {
          kind: "pasid-iotlb",
          granularity: "page",
          did: 3,
          pasid: 0x42,
          addr: 0x4020_0000n,
          am: 9,
          ih: true,
        },
        mode: "scalable",
      },
      { scope: { kind: "iec" }, mode: "scalable" },
    ]);
    expect(iqh(regs)).toBe(5 * 32);
    expect(mem.readU32(STATUS)).toBe(7);
  });

  it("[VTD-QI-10] an invalid descriptor sets IQE and stops the queue there; clearing IQE resumes from IQH", () => {
    const { regs, mem, sink } = platform(legacy);
    const q = enableQueue(regs, QBASE);
    const good = (did: number) =>
      encodeDescriptor({ kind: "iotlb", g: 2, dr: false, dw: false, did, am: 0, ih: false, addr: 0n }, 128);
    submitRaw(regs, mem, q, [good(1), [0x2n | (2n << 4n) | (1n << 8n), 0n], good(3)]);
    expect(sink.scopes()).toEqual([{ kind: "iotlb", granularity: "domain", did: 1 }]);
    expect(iqh(regs)).toBe(16);
    expect(fsts(regs) & (1 << 4)).not.toBe(0);
    expect(iqei(regs)).toBe(4);
    expect(Number(regs.read(Reg.FECTL, 4)) >>> 30).toBe(0b11); // IM (reset) and IP
    // Tail updates while IQE is set fetch nothing.
    submitRaw(regs, mem, q, [good(4)]);
    expect(sink.calls).toHaveLength(1);
    expect(iqh(regs)).toBe(16);
    // Writing 0 clears nothing; the driver replaces the bad descriptor (as Linux does, with a wait).
    regs.write(Reg.FSTS, 0n, 4);
    expect(fsts(regs) & (1 << 4)).not.toBe(0);
    expect(sink.calls).toHaveLength(1);
    writeWords(mem, QBASE + 16, encodeDescriptor(wait(STATUS, 9), 128));
    regs.write(Reg.FSTS, 1n << 4n, 4);
    expect(fsts(regs)).toBe(0);
    expect(mem.readU32(STATUS)).toBe(9);
    expect(sink.scopes().slice(1)).toEqual([
      { kind: "iotlb", granularity: "domain", did: 3 },
      { kind: "iotlb", granularity: "domain", did: 4 },
    ]);
    expect(iqh(regs)).toBe(64);
    expect(Number(regs.read(Reg.FECTL, 4)) >>> 30).toBe(0b10); // IP cleared once serviced
  });

  it("[VTD-QI-5] an unknown type, a 256-bit-only type in a 128-bit queue and a device-TLB descriptor (DT = 0) are invalid types", () => {
    for (const words of [
      [0x0n, 0n],
      [0x9n, 0n],
      [0x7n, 0n],
      [0x3n, 0x1000n],
      [0x1n | (1n << 4n) | (1n << 9n), 0n],
    ]) {
      const { regs, mem, sink } = platform(legacy);
      const q = enableQueue(regs, QBASE);
      submitRaw(regs, mem, q, [words]);
      expect(iqei(regs)).toBe(3);
      expect(iqh(regs)).toBe(0);
      expect(sink.calls).toEqual([]);
    }
  });

  it("[VTD-QI-5] in legacy mode a 256-bit queue still accepts only types 1-5", () => {
    const { regs, mem, sink } = platform();
    setRootTable(regs, 0x1000, 0);
    const q = enableQueue(regs, QBASE, 0, true);
    sink.clear();
    submit(regs, mem, q, [
      { kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n },
      { kind: "pasid-cache", g: 3, did: 0, pasid: 0 },
    ]);
    expect(sink.calls).toEqual([{ scope: { kind: "iotlb", granularity: "global" }, mode: "legacy" }]);
    expect(iqei(regs)).toBe(3);
    expect(iqh(regs)).toBe(32);
  });

  it("[VTD-QI-9] a page-selective IOTLB invalidation with AM above MAMV is invalid", () => {
    const { regs, mem, sink } = platform(legacy);
    const q = enableQueue(regs, QBASE);
    submit(regs, mem, q, [
      { kind: "iotlb", g: 3, dr: false, dw: false, did: 1, am: 19, ih: false, addr: 0n },
    ]);
    expect(iqei(regs)).toBe(4);
    expect(sink.calls).toEqual([]);
  });

  it("[VTD-QI-11] queue-level errors: tail beyond the queue, fetch outside memory, width, tail alignment, TTM", () => {
    // Tail beyond a one-page queue.
    const a = platform(legacy);
    enableQueue(a.regs, QBASE, 0);
    a.regs.write(Reg.IQT, 0x1000n, 8);
    expect(iqei(a.regs)).toBe(1);
    // A queue whose base is outside guest memory.
    const b = platform(legacy);
    enableQueue(b.regs, MEM_SIZE);
    b.regs.write(Reg.IQT, 0x10n, 8);
    expect(iqei(b.regs)).toBe(2);
    // 128-bit descriptors in scalable mode.
    const c = platform();
    setRootTable(c.regs, 0x1000, 1);
    enableQueue(c.regs, QBASE, 0, false);
    c.regs.write(Reg.IQT, 0x10n, 8);
    expect(iqei(c.regs)).toBe(5);
    // 256-bit descriptors without SMTS.
    const d = platform(legacy);
    enableQueue(d.regs, QBASE, 0, true);
    d.regs.write(Reg.IQT, 0x20n, 8);
    expect(iqei(d.regs)).toBe(5);
    // Tail not 32-byte aligned in a 256-bit queue.
    const e = platform();
    setRootTable(e.regs, 0x1000, 1);
    enableQueue(e.regs, QBASE, 0, true);
    e.regs.write(Reg.IQT, 0x10n, 8);
    expect(iqei(e.regs)).toBe(6);
    // Reserved TTM latched.
    const f = platform();
    setRootTable(f.regs, 0x1000, 2);
    enableQueue(f.regs, QBASE, 0, true);
    f.regs.write(Reg.IQT, 0x20n, 8);
    expect(iqei(f.regs)).toBe(7);
    for (const p of [a, b, c, d, e, f]) {
      expect(iqh(p.regs)).toBe(0);
      expect(Number(p.regs.read(Reg.FSTS, 4)) & (1 << 4)).not.toBe(0);
    }
  });

  it("[VTD-QI-12] a status address outside memory drops the write and the queue goes on", () => {
    const { regs, mem, sink } = platform(legacy);
    const q = enableQueue(regs, QBASE);
    submit(regs, mem, q, [
      wait(MEM_SIZE + 0x1000, 5),
      { kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n },
      wait(STATUS, 6),
    ]);
    expect(sink.calls).toHaveLength(1);
    expect(mem.readU32(STATUS)).toBe(6);
    expect(fsts(regs)).toBe(0);
  });

  it("[VTD-QI-12] [VTD-QI-8] status address bits at and above HAW are ignored", () => {
    const { regs, mem } = platform({ ...legacy, hawBits: 40 });
    const q = enableQueue(regs, QBASE);
    submit(
      regs,
      mem,
      q,
      [wait(0, 0x1234)].map((w) => ({ ...w, statusAddr: (1n << 45n) | BigInt(STATUS) })),
    );
    expect(mem.readU32(STATUS)).toBe(0x1234);
  });

  it("[VTD-QI-13] IF sets ICS.IWC; the completion event is held by IM and sent when IM clears", () => {
    const { regs, mem } = platform(legacy);
    const q = enableQueue(regs, QBASE);
    expect(regs.read(Reg.IECTL, 4)).toBe(1n << 31n);
    submit(regs, mem, q, [{ ...wait(STATUS, 1, true), sw: false }]);
    expect(regs.read(Reg.ICS, 4)).toBe(1n);
    expect(regs.read(Reg.IECTL, 4)).toBe((1n << 31n) | (1n << 30n));
    expect(mem.readU32(STATUS)).toBe(0);
    regs.write(Reg.IECTL, 0n, 4);
    expect(regs.read(Reg.IECTL, 4)).toBe(0n);
    expect(regs.queue.eventsSent).toBe(1);
    // IWC still set: another IF is not a new event.
    submit(regs, mem, q, [wait(STATUS, 2, true)]);
    expect(regs.queue.eventsSent).toBe(1);
    regs.write(Reg.ICS, 1n, 4);
    expect(regs.read(Reg.ICS, 4)).toBe(0n);
    submit(regs, mem, q, [wait(STATUS, 3, true)]);
    expect(regs.queue.eventsSent).toBe(2);
    expect(regs.read(Reg.IECTL, 4)).toBe(0n);
  });

  it("[VTD-QI-13] ICS.IWC is write-1-to-clear and clearing it drops a held event", () => {
    const { regs, mem } = platform(legacy);
    const q = enableQueue(regs, QBASE);
    submit(regs, mem, q, [wait(STATUS, 1, true)]);
    regs.write(Reg.ICS, 0n, 4);
    expect(regs.read(Reg.ICS, 4)).toBe(1n);
    regs.write(Reg.ICS, 1n, 4);
    expect(regs.read(Reg.IECTL, 4)).toBe(1n << 31n);
    regs.write(Reg.IECTL, 0n, 4);
    expect(regs.queue.eventsSent).toBe(0);
  });

  it("[VTD-QI-1] [VTD-QI-2] IQA keeps base (below HAW), DW and QS; IQH is read-only", () => {
    const { regs } = platform({ hawBits: 39 });
    regs.write(Reg.IQA, 0xffff_ffff_ffff_ffffn, 8);
    expect(regs.read(Reg.IQA, 8)).toBe((((1n << 39n) - 1n) & ~0xfffn) | (1n << 11n) | 7n);
    regs.write(Reg.IQH, 0x40n, 8);
    expect(regs.read(Reg.IQH, 8)).toBe(0n);
    regs.write(Reg.IQT, 0xffff_ffff_ffff_ffffn, 8);
    expect(regs.read(Reg.IQT, 8)).toBe(0x7_fff0n);
  });
});
