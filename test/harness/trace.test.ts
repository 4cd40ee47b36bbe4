import { mkdir, mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Model, PlatformConfig } from "../../src/contract/types.ts";
import { listTraceFiles, loadTraceFile, parseTrace, TraceLoadError } from "../../src/trace/load.ts";
import { TraceRecorder } from "../../src/trace/recorder.ts";
import { serializeTrace } from "../../src/trace/serialize.ts";
import type { Trace } from "../../src/trace/types.ts";
import { writeTraceFile } from "../../src/trace/write.ts";
import { createMemoryModel, memoryModelConfig } from "../fixtures/harness/memory-model.ts";

/** A fixed sequence of surface calls. */
async function session(model: Model, config: PlatformConfig): Promise<void> {
  await model.reset(config);
  const buf = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
  await model.platform.writeGuest(0x1000n, buf);
  buf.fill(0); // reusing the buffer must not change what was recorded
  await model.platform.readGuest(0x1000n, 4);
  await model.platform.writeReg(0x8, 0x1234_5678_9abc_def0n, 8);
  await model.platform.readReg(0xc, 4);
  await model.platform.dma({ sid: 0x10, iova: 0x1000n, len: 4, write: false });
  await model.platform.dma({ sid: 0x11, iova: 0x1000n, len: 4, write: false });
  await model.platform.hostView?.();
  await model.host?.ioctl(0x3b81, new Uint8Array([4, 0, 0, 0]));
  await model.platform.writeGuest(0xffff_0000n, new Uint8Array(1)).catch(() => undefined);
}

async function recordedTrace(config = memoryModelConfig()): Promise<Trace> {
  const rec = new TraceRecorder(createMemoryModel({ withHost: true }));
  await session(rec.model, config);
  rec.check(5);
  rec.note("map 0x1000 -> 0x1000 (identity)");
  return rec.toTrace({
    property: "test-prop",
    adapter: "module:memory-double",
    seed: 42,
    path: "3:1",
    verdict: "fail",
    failure: {
      step: 5,
      message: "DMA read returned the wrong bytes",
      observed: { data: "00" },
      permitted: [],
    },
  });
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "iommu-trace-"));
}

describe("TraceRecorder", () => {
  it("[HARNESS-TRACE-2] records every surface call in order, with encoded args and outcomes", async () => {
    const trace = await recordedTrace();
    expect(trace.steps.map((s) => s.op)).toEqual([
      "reset",
      "writeGuest",
      "readGuest",
      "writeReg",
      "readReg",
      "dma",
      "dma",
      "hostView",
      "ioctl",
      "writeGuest",
    ]);
    expect(trace.steps[1]).toEqual({
      op: "writeGuest",
      args: { gpa: "0x1000", data: "deadbeef" },
      result: null,
    });
    expect(trace.steps[2]).toEqual({
      op: "readGuest",
      args: { gpa: "0x1000", len: 4 },
      result: { data: "deadbeef" },
    });
    expect(trace.steps[4]).toEqual({
      op: "readReg",
      args: { off: 12, width: 4 },
      result: { value: "0x12345678" },
    });
    expect(trace.steps[5]).toEqual({
      op: "dma",
      args: { sid: 0x10, iova: "0x1000", len: 4, write: false },
      result: { status: "ok", data: "deadbeef" },
      checked: true,
    });
    expect(trace.steps[6]?.result).toEqual({ status: "aborted" });
    expect(trace.steps[7]?.result).toEqual({ attachments: [{ sid: 0x10, hwptId: 0x11, kind: "paging" }] });
    expect(trace.steps[8]?.result).toEqual({ errno: 25, bytes: "04000000" });
    expect(trace.steps[9]?.error).toEqual({
      code: "exception",
      message: "guest access 0xffff0000+1 is outside guest memory",
    });
    expect(trace.config).toEqual((trace.steps[0]!.args as { config: unknown }).config);
    expect(trace.commands).toEqual(["map 0x1000 -> 0x1000 (identity)"]);
  });

  it("[HARNESS-TRACE-2] a throwing call is recorded and the error still reaches the caller", async () => {
    const rec = new TraceRecorder(createMemoryModel());
    await expect(rec.model.platform.readGuest(0n, 1)).rejects.toThrow("reset first");
    expect(rec.steps).toEqual([
      {
        op: "readGuest",
        args: { gpa: "0x0", len: 1 },
        error: { code: "exception", message: "reset first: no platform yet" },
      },
    ]);
    rec.clear();
    expect(rec.steps).toEqual([]);
    expect(() => rec.check()).toThrow(RangeError);
  });
});

describe("trace files", () => {
  it("[HARNESS-TRACE-3] the same calls give a byte-identical file", async () => {
    const a = serializeTrace(await recordedTrace());
    // Same config, keys built in another order.
    const base = memoryModelConfig();
    const reordered: PlatformConfig = {
      hostIommus: base.hostIommus,
      memory: { regions: base.memory.regions, size: base.memory.size },
      devices: base.devices,
      viommu: base.viommu,
    };
    const b = serializeTrace(await recordedTrace(reordered));
    expect(b).toBe(a);
    const dir = await tempDir();
    await writeTraceFile(join(dir, "a.json"), await recordedTrace());
    await writeTraceFile(join(dir, "b.json"), await recordedTrace());
    expect(await readFile(join(dir, "a.json"), "utf8")).toBe(await readFile(join(dir, "b.json"), "utf8"));
    expect(a.startsWith('{\n  "format": "iommu-conformance-trace",\n  "version": 1,\n')).toBe(true);
    expect(a).toContain(
      '\n    {"op":"dma","checked":true,"args":{"iova":"0x1000","len":4,"sid":16,"write":false},',
    );
  });

  it("[HARNESS-TRACE-1] [HARNESS-TRACE-5] a written trace loads back equal and passes the schema", async () => {
    const trace = await recordedTrace();
    const dir = await tempDir();
    const file = join(dir, "t.json");
    await writeTraceFile(file, trace);
    expect(await loadTraceFile(file)).toEqual(JSON.parse(JSON.stringify(trace)));
    expect(await listTraceFiles(dir)).toEqual([file]);
    expect(await listTraceFiles(file)).toEqual([file]);
  });

  it("[HARNESS-TRACE-4] writes go through a temp file and rename; nothing is left behind", async () => {
    const dir = await tempDir();
    const file = join(dir, "sub", "t.json");
    await writeTraceFile(file, await recordedTrace());
    const first = await readFile(file, "utf8");
    const trace = await recordedTrace();
    trace.verdict = "pass";
    delete trace.failure;
    await writeTraceFile(file, trace);
    expect(await readFile(file, "utf8")).not.toBe(first);
    expect(await readdir(join(dir, "sub"))).toEqual(["t.json"]);
    // Rename onto a directory fails: the error surfaces and the temp file is removed.
    await mkdir(join(dir, "blocked.json"));
    await expect(writeTraceFile(join(dir, "blocked.json"), trace)).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(["blocked.json", "sub"]);
  });
});

describe("malformed traces", () => {
  async function problems(mutate: (t: Record<string, unknown>) => void): Promise<string[]> {
    const t = JSON.parse(serializeTrace(await recordedTrace())) as Record<string, unknown>;
    mutate(t);
    try {
      parseTrace(JSON.stringify(t, null, 2), "bad.json");
    } catch (e) {
      expect(e).toBeInstanceOf(TraceLoadError);
      expect((e as Error).message).not.toMatch(/\n\s+at /);
      for (const line of (e as Error).message.split("\n")) expect(line.startsWith("bad.json: ")).toBe(true);
      return [...(e as TraceLoadError).problems];
    }
    throw new Error("expected the trace to be refused");
  }
  const steps = (t: Record<string, unknown>): Array<Record<string, unknown>> =>
    t.steps as Array<Record<string, unknown>>;

  it("[HARNESS-TRACE-5] text that is not JSON is reported with line and column", () => {
    expect(() => parseTrace('{\n  "format": "iommu-conformance-trace",\n  oops\n}', "x.json")).toThrow(
      /^x\.json: not JSON: .* at line 3, column 3$/,
    );
  });

  it("[HARNESS-TRACE-5] another format, a newer version, and a non-object are refused plainly", async () => {
    expect(() => parseTrace("[1]", "x.json")).toThrow("x.json: /: a trace is a JSON object");
    expect(await problems((t) => (t.format = "something-else"))).toEqual([
      '/format: not an iommu-conformance trace (format is "something-else", expected "iommu-conformance-trace")',
    ]);
    expect(await problems((t) => (t.version = 2))).toEqual([
      "/version: trace format version 2 is newer than this suite reads (1); upgrade the suite",
    ]);
  });

  it("[HARNESS-TRACE-5] each schema problem names its JSON path, all reported at once", async () => {
    const found = await problems((t) => {
      delete t.seed;
      steps(t)[1] = { op: "writeGuest", args: { gpa: "0x01000", data: "xyz" }, result: null };
      steps(t)[3] = { op: "teleport", args: {}, result: null };
      (steps(t)[4] as { args: unknown }).args = { off: 12, width: 3 };
      t.extra = true;
    });
    expect(found).toEqual(
      expect.arrayContaining([
        "/: must have required property 'seed'",
        '/: has unknown property "extra"',
        '/steps/1/args/gpa: must be a canonical 64-bit hex string such as "0x1f000"',
        "/steps/1/args/data: must be a hex byte string (two lowercase hex digits a byte)",
        '/steps/3/op: must be one of "reset", "writeGuest", "readGuest", "writeReg", "readReg", "dma", "hostView", "ioctl", "deviceIoctl", "hostDma"',
        "/steps/4/args/width: must be one of 4, 8",
      ]),
    );
  });

  it("[HARNESS-TRACE-5] a step with both or neither of result and error is refused", async () => {
    expect(
      await problems((t) => {
        steps(t)[2] = { op: "readGuest", args: { gpa: "0x0", len: 1 } };
        steps(t)[3] = {
          op: "writeReg",
          args: { off: 8, value: "0x1", width: 8 },
          result: null,
          error: { code: "x", message: "y" },
        };
      }),
    ).toEqual([
      '/steps/2: must have exactly one of "result" and "error"',
      '/steps/3: must have exactly one of "result" and "error"',
    ]);
  });

  it("[HARNESS-TRACE-5] a result of the wrong shape for its op is refused", async () => {
    expect(await problems((t) => (steps(t)[5] = { ...steps(t)[5], result: { status: "maybe" } }))).toEqual([
      '/steps/5/result/status: must be one of "ok", "aborted"',
    ]);
  });

  it("[HARNESS-TRACE-5] failure and verdict must agree, and failure.step must exist", async () => {
    expect(await problems((t) => ((t.failure as { step: number }).step = 99))).toEqual([
      "/failure/step: step 99 does not exist (the trace has 10 steps)",
    ]);
    expect(await problems((t) => delete t.failure)).toEqual(["/: must have required property 'failure'"]);
    expect(await problems((t) => (t.verdict = "pass"))).toEqual(['/: must not have "failure" here']);
  });

  it("[HARNESS-TRACE-5] an unreadable file is reported without a stack", async () => {
    await expect(loadTraceFile("/nonexistent/trace.json")).rejects.toThrow(
      "/nonexistent/trace.json: cannot read: ENOENT",
    );
    const dir = await tempDir();
    await writeFile(join(dir, "t.json"), "");
    await expect(loadTraceFile(join(dir, "t.json"))).rejects.toThrow(/t\.json: not JSON: /);
  });
});
