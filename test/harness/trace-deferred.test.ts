import { describe, expect, it } from "vitest";
import { TraceRecorder } from "../../src/trace/recorder.ts";
import { createMemoryModel, memoryModelConfig } from "../fixtures/harness/memory-model.ts";

describe("TraceRecorder encodes when read", () => {
  it("[HARNESS-TRACE-2] bytes given to or returned by a call are recorded as they were at the call", async () => {
    const rec = new TraceRecorder(createMemoryModel());
    await rec.model.reset(memoryModelConfig());
    const buf = new Uint8Array([1, 2, 3, 4]);
    await rec.model.platform.writeGuest(0x1000n, buf);
    buf.set([9, 9, 9, 9]);
    const read = await rec.model.platform.readGuest(0x1000n, 4);
    read.fill(0xee);
    const data = new Uint8Array([5, 6]);
    const req = { sid: 0x10, iova: 0x1000n, len: 2, write: true, data };
    await rec.model.platform.dma(req);
    data.fill(0);
    req.iova = 0x2000n;
    const dmaRead = await rec.model.platform.dma({ sid: 0x10, iova: 0x1000n, len: 4, write: false });
    if (dmaRead.status === "ok") dmaRead.data?.fill(0);
    await rec.model.platform.writeReg(0x8, 0xffff_ffff_ffff_ffffn, 8);
    expect(rec.steps.slice(1)).toEqual([
      { op: "writeGuest", args: { gpa: "0x1000", data: "01020304" }, result: null },
      { op: "readGuest", args: { gpa: "0x1000", len: 4 }, result: { data: "01020304" } },
      {
        op: "dma",
        args: { sid: 0x10, iova: "0x1000", len: 2, write: true, data: "0506" },
        result: { status: "ok" },
      },
      {
        op: "dma",
        args: { sid: 0x10, iova: "0x1000", len: 4, write: false },
        result: { status: "ok", data: "05060304" },
      },
      { op: "writeReg", args: { off: 8, value: "0xffffffffffffffff", width: 8 }, result: null },
    ]);
  });

  it("[HARNESS-TRACE-2] a value the encoding rejects fails at the call, before any step", async () => {
    const rec = new TraceRecorder(createMemoryModel());
    await rec.model.reset(memoryModelConfig());
    expect(() => rec.model.platform.writeGuest(-1n, new Uint8Array(1))).toThrow(RangeError);
    expect(() => rec.model.platform.writeReg(0, 1n << 64n, 8)).toThrow(RangeError);
    expect(rec.stepCount).toBe(1);
    expect(rec.steps.map((s) => s.op)).toEqual(["reset"]);
  });

  it("[HARNESS-TRACE-2] steps read before later calls keep their encoding; later ones are encoded on the next read", async () => {
    const rec = new TraceRecorder(createMemoryModel());
    await rec.model.reset(memoryModelConfig());
    await rec.model.platform.writeGuest(0x10n, new Uint8Array([0xab]));
    const first = rec.steps[1];
    await rec.model.platform.writeGuest(0x20n, new Uint8Array([0xcd]));
    expect(rec.stepCount).toBe(3);
    expect(first?.args).toEqual({ gpa: "0x10", data: "ab" });
    expect(rec.steps[2]?.args).toEqual({ gpa: "0x20", data: "cd" });
    rec.clear();
    expect(rec.stepCount).toBe(0);
  });
});
