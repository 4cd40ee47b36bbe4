/**
 * A model that breaks mid-case (crash, exception) is a finding: the trace kept is the case that
 * broke, ending at the call that broke; nothing is shrunk or rerun after it. [HARNESS-BROKEN-1]
 */
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createStdioModel } from "../../src/adapters/stdio/client.ts";
import type { Model } from "../../src/contract/types.ts";
import { runProperties } from "../../src/runner/runner.ts";
import { loadTraceFile } from "../../src/trace/load.ts";
import { createMemoryModel } from "../fixtures/harness/memory-model.ts";
import { dmaReadThroughCaseLoop } from "../fixtures/harness/test-properties.ts";

const BROKEN = `node ${new URL("../fixtures/stdio/broken-model.mjs", import.meta.url).pathname}`;

async function out(): Promise<string> {
  return mkdtemp(join(tmpdir(), "iommu-broken-"));
}

/** Counts the processes a stdio model started (its description's version carries the pid). */
async function stdioModel(args: string): Promise<{ model: Model; processes: () => number }> {
  const model = await createStdioModel(`${BROKEN} ${args}`, { timeoutMs: 5_000, startupTimeoutMs: 10_000 });
  const pids = new Set<string>();
  const describe = model.describe.bind(model);
  const reset = model.reset.bind(model);
  const wrapped: Model = {
    ...model,
    platform: model.platform,
    describe,
    reset: async (c) => {
      await reset(c);
      pids.add((await describe()).version);
    },
    close: () => model.close(),
  };
  Object.defineProperty(wrapped, "platform", { get: () => model.platform });
  return { model: wrapped, processes: () => pids.size };
}

describe("broken cases", () => {
  it("[HARNESS-BROKEN-1] a model that crashes mid-run: the trace is the case that broke, ending at its request", async () => {
    const dir = await out();
    // Serves two DMAs per process, exits with status 3 at the third.
    const { model, processes } = await stdioModel("crash dma 3");
    try {
      const report = await runProperties([dmaReadThroughCaseLoop], {
        adapter: "stdio:broken",
        model,
        runs: 50,
        seed: 11,
        outDir: dir,
      });
      const r = report.results[0]!;
      expect(r.status).toBe("error");
      expect(r.message).toMatch(/protocol error in dma \(id \d+\): the model process ended \(exit code 3\)/);
      // Cases 1 and 2 passed, case 3 broke, nothing ran after it (no restart, no shrinking).
      expect(r.runs).toBe(3);
      expect(processes()).toBe(1);
      expect(r.path).toBe("2");
      expect(r.commands?.again).toContain("--path 2");
      const trace = await loadTraceFile(r.trace!);
      expect(trace.verdict).toBe("error");
      expect(trace.path).toBe("2");
      expect(trace.steps.map((s) => s.op)).toEqual(["reset", "writeGuest", "dma"]);
      expect(trace.steps[2]?.error?.code).toBe("protocol");
      expect(trace.failure?.step).toBe(2);
    } finally {
      await model.close();
    }
  });

  it("[HARNESS-BROKEN-1] a model that dies in every process is reported after one case", async () => {
    const dir = await out();
    const { model, processes } = await stdioModel("crash dma 1");
    try {
      const report = await runProperties([dmaReadThroughCaseLoop], {
        adapter: "stdio:broken",
        model,
        runs: 100,
        seed: 4,
        outDir: dir,
      });
      const r = report.results[0]!;
      expect(r.status).toBe("error");
      expect(r.runs).toBe(1);
      expect(processes()).toBe(1);
      const trace = await loadTraceFile(r.trace!);
      expect(trace.steps.at(-1)).toMatchObject({ op: "dma", error: { code: "protocol" } });
    } finally {
      await model.close();
    }
  });

  it("[HARNESS-BROKEN-1] a break while shrinking a failure keeps the failure and writes the broken case apart", async () => {
    const dir = await out();
    const inner = createMemoryModel({ corruptReadAt: 0x5020n });
    let failures = 0;
    // Wrong data first (a failure); the DMA after the first wrong one throws (the model dies).
    const model: Model = {
      ...inner,
      platform: {
        ...inner.platform,
        dma: async (req) => {
          if (failures > 0) throw new Error("the model's DMA engine died");
          const r = await inner.platform.dma(req);
          if (r.status === "ok" && req.iova <= 0x5020n && 0x5020n < req.iova + BigInt(req.len)) failures++;
          return r;
        },
      },
    };
    const report = await runProperties([dmaReadThroughCaseLoop], {
      adapter: "m",
      model,
      runs: 100,
      seed: 7,
      outDir: dir,
    });
    const r = report.results[0]!;
    expect(r.status).toBe("fail");
    expect(r.message).toMatch(/then, while shrinking, the model broke: the model's DMA engine died/);
    const fail = await loadTraceFile(r.trace!);
    expect(fail.verdict).toBe("fail");
    expect(fail.path).toBe(r.path);
    const files = await readdir(join(dir, "traces"));
    const broke = files.find((f) => f.endsWith("-broke.json"));
    expect(r.message).toContain(broke);
    const brokeTrace = await loadTraceFile(join(dir, "traces", broke!));
    expect(brokeTrace.verdict).toBe("error");
    expect(brokeTrace.steps.at(-1)).toMatchObject({
      op: "dma",
      error: { message: "the model's DMA engine died" },
    });
  });
});
