import { describe, expect, it } from "vitest";
import { checkRequest, checkResult, protocolSchema } from "../../src/contract/schema.ts";
import {
  decodeCall,
  decodeResult,
  encodeArgs,
  encodeResult,
  METHODS,
  pasidTag,
  SURFACE_METHODS,
  type SurfaceStep,
  surfaceFunction,
  surfaceModel,
} from "../../src/contract/surface.ts";
import type { SurfaceMethod } from "../../src/contract/types.ts";
import { createMemoryModel, memoryModelConfig } from "../fixtures/harness/memory-model.ts";

/** One call of every surface method with what it gives: the type makes a new method need one. */
const SAMPLES: { [M in SurfaceMethod]: SurfaceStep<M> } = {
  reset: { op: "reset", args: [memoryModelConfig()] },
  writeGuest: { op: "writeGuest", args: [0x1000n, new Uint8Array([1, 2, 0xff])] },
  readGuest: { op: "readGuest", args: [0xffff_ffff_ffff_f000n, 2], result: new Uint8Array([7, 0]) },
  writeReg: { op: "writeReg", args: [0x20, 0xfedc_ba98_7654_3210n, 8] },
  readReg: { op: "readReg", args: [0x24, 4], result: 0x1111_2222n },
  dma: {
    op: "dma",
    args: [
      { sid: 0x10, pasid: 0, priv: false, iova: 0x2000n, len: 2, write: true, data: new Uint8Array([9, 9]) },
    ],
    result: { status: "aborted" },
  },
  hostView: {
    op: "hostView",
    args: [],
    result: {
      attachments: [
        { sid: 0x20, pasid: 5, hwptId: 3, kind: "nested", stage1: 0x2000n },
        { sid: 0x20, hwptId: 2, kind: "paging" },
      ],
      nonCoherentDma: false,
    },
  },
  ioctl: {
    op: "ioctl",
    args: [0x3b80, new Uint8Array([8, 0, 0, 0]), { "0x1000": new Uint8Array([1]) }],
    result: { errno: 0, bytes: new Uint8Array([8, 0, 0, 0]), out: { "0x1000": new Uint8Array([3]) } },
  },
  deviceIoctl: {
    op: "deviceIoctl",
    args: [1, 0x3b77, new Uint8Array(16)],
    result: { errno: 9, bytes: new Uint8Array(16) },
  },
  hostDma: {
    op: "hostDma",
    args: [{ devId: 1, iova: 0x1000n, len: 4, write: false }],
    result: { status: "ok", data: new Uint8Array([1, 2, 3, 4]) },
  },
};

describe("the surface table (src/contract/surface.ts)", () => {
  it("[HARNESS-PROTO-4] the protocol schema lists exactly the table's methods, each with params, result and a request rule", () => {
    const defs = protocolSchema().definitions as Record<string, { enum?: string[]; allOf?: unknown[] }>;
    expect(defs.method?.enum).toEqual([...METHODS]);
    for (const m of METHODS) {
      expect(defs[`params-${m}`], `params-${m}`).toBeDefined();
      expect(defs[`result-${m}`], `result-${m}`).toBeDefined();
    }
    const rules = JSON.stringify(defs.request?.allOf);
    for (const m of METHODS) expect(rules).toContain(`"#/definitions/params-${m}"`);
    expect(defs.request?.allOf).toHaveLength(METHODS.length);
    expect(METHODS).toEqual(["hello", "describe", ...SURFACE_METHODS, "close"]);
  });

  it("[HARNESS-PROTO-3] [HARNESS-PROTO-4] every call encodes to JSON the schema accepts and decodes back to itself", () => {
    for (const method of SURFACE_METHODS) {
      const step = SAMPLES[method] as SurfaceStep;
      const params = encodeArgs(step);
      expect(checkRequest({ id: 1, method, params }), method).toEqual([]);
      expect(decodeCall(method, params), method).toEqual({ op: method, args: step.args });
      const result = encodeResult(method, step.result);
      expect(checkResult(method, result), method).toEqual([]);
      expect(decodeResult(method, result), method).toEqual(step.result);
    }
  });

  it("[HARNESS-PROTO-4] no PASID is an absent member; PASID 0 is a PASID", () => {
    expect(pasidTag(undefined, true)).toEqual({});
    expect(pasidTag(0)).toEqual({ pasid: 0 });
    expect(pasidTag(3, false)).toEqual({ pasid: 3, priv: false });
    const without = encodeArgs({
      op: "dma",
      args: [{ sid: 1, pasid: undefined, iova: 0n, len: 4, write: false }],
    });
    expect(Object.hasOwn(without as object, "pasid")).toBe(false);
    const zero = encodeArgs({
      op: "hostDma",
      args: [{ devId: 1, ...pasidTag(0, false), iova: 0n, len: 4, write: false }],
    });
    expect(zero).toMatchObject({ pasid: 0, priv: false });
  });

  it("[HARNESS-PROTO-4] a model built of calls has exactly the calls it was given, each on its object", async () => {
    const calls: string[] = [];
    const inner = createMemoryModel({ withHost: true });
    const model = surfaceModel({
      describe: () => inner.describe(),
      close: () => inner.close(),
      has: (m) => m !== "deviceIoctl" && surfaceFunction(inner, m) !== undefined,
      call: async (c) => {
        calls.push(c.op);
        return (surfaceFunction(inner, c.op) as (...a: unknown[]) => Promise<unknown>)(...c.args);
      },
    });
    expect(model.host?.deviceIoctl).toBeUndefined();
    await model.reset(memoryModelConfig());
    await model.platform.writeGuest(0x1000n, new Uint8Array([5]));
    expect([...(await model.platform.readGuest(0x1000n, 1))]).toEqual([5]);
    await model.host?.dma({ devId: 1, iova: 0n, len: 1, write: false });
    expect(calls).toEqual(["reset", "writeGuest", "readGuest", "hostDma"]);
  });
});
