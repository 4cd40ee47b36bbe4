import { describe, expect, it } from "vitest";
import { createStdioModel } from "../../src/adapters/stdio/client.ts";
import { recordedResultJudge, type StepJudge } from "../../src/cases/judge.ts";
import { modelDied } from "../../src/cases/run-cases.ts";
import { ModelDied } from "../../src/contract/errors.ts";
import type { Model } from "../../src/contract/types.ts";
import { replayTrace } from "../../src/runner/replay.ts";
import { TraceRecorder } from "../../src/trace/recorder.ts";
import type { Trace } from "../../src/trace/types.ts";
import { createMemoryModel, memoryModelConfig } from "../fixtures/harness/memory-model.ts";

/** Record a write and a checked DMA read on `model`. */
async function record(model: Model, verdict: "pass" | "fail"): Promise<Trace> {
  const rec = new TraceRecorder(model);
  await rec.model.reset(memoryModelConfig());
  await rec.model.platform.writeGuest(0x5000n, new Uint8Array(64).fill(0x5a));
  await rec.model.platform.dma({ sid: 0x10, iova: 0x5010n, len: 32, write: false });
  const step = rec.check();
  await rec.model.platform.readReg(0, 8);
  rec.check();
  return rec.toTrace({
    property: "p",
    adapter: "a",
    seed: 1,
    path: "",
    verdict,
    ...(verdict === "fail" ? { failure: { step, message: "DMA read wrong" } } : {}),
  });
}

const honest = (): Model => createMemoryModel();
const buggy = (): Model => createMemoryModel({ corruptReadAt: 0x5020n });

describe("replayTrace with the recorded-result judge", () => {
  it("[HARNESS-REPLAY-1] [HARNESS-REPLAY-2] a failing trace reproduces on the model that produced it", async () => {
    const trace = await record(buggy(), "fail");
    const r = await replayTrace(trace, buggy(), recordedResultJudge(trace));
    expect(r).toMatchObject({ outcome: "reproduced", step: 2, op: "dma", stepsRun: 3 });
    expect(r.message).toBe("gives the recorded failing outcome again: DMA read wrong");
  });

  it("[HARNESS-REPLAY-2] a failing trace passes now on a fixed model", async () => {
    const trace = await record(buggy(), "fail");
    const r = await replayTrace(trace, honest(), recordedResultJudge(trace));
    expect(r).toMatchObject({ outcome: "passes-now", stepsRun: 4 });
  });

  it("[HARNESS-REPLAY-2] a passing trace passes on the same model and fails where a checked step differs", async () => {
    const trace = await record(honest(), "pass");
    expect((await replayTrace(trace, honest(), recordedResultJudge(trace))).outcome).toBe("passes");
    const r = await replayTrace(trace, buggy(), recordedResultJudge(trace));
    expect(r).toMatchObject({ outcome: "fails", step: 2, message: "differs from the recording" });
    expect((r.observed as { data: string }).data).toContain("a5");
  });

  it("[HARNESS-REPLAY-1] a judge sees every step with its index and outcome, and stops the replay", async () => {
    const trace = await record(honest(), "pass");
    const seen: string[] = [];
    const judge: StepJudge = {
      onStep(step, outcome) {
        seen.push(`${step.index}:${step.op}:${JSON.stringify(outcome.error ?? outcome.result)}`);
        return step.op === "dma"
          ? { ok: false, message: "no DMA allowed", permitted: { status: "aborted" } }
          : { ok: true };
      },
    };
    const r = await replayTrace(trace, honest(), judge);
    expect(seen).toEqual([
      "0:reset:null",
      "1:writeGuest:null",
      `2:dma:{"status":"ok","data":"${"5a".repeat(32)}"}`,
    ]);
    expect(r).toMatchObject({ outcome: "fails", step: 2, permitted: { status: "aborted" } });
  });

  it("[HARNESS-REPLAY-1] an adapter that refuses the configuration is an error, not a verdict", async () => {
    const trace = await record(honest(), "pass");
    (trace.steps[0]!.args as { config: { viommu: { awBits: number } } }).config.viommu.awBits = 57;
    const r = await replayTrace(trace, honest(), recordedResultJudge(trace));
    expect(r).toMatchObject({
      outcome: "error",
      step: 0,
      message: expect.stringContaining("unsupported awBits 57"),
    });
  });

  it("[HARNESS-REPLAY-3] a judge that judges resets rules on a refused reset: a verdict, not an error", async () => {
    const trace = await record(honest(), "pass");
    (trace.steps[0]!.args as { config: { viommu: { awBits: number } } }).config.viommu.awBits = 57;
    const seen: string[] = [];
    const judge: StepJudge = {
      judgesResets: true,
      onStep(step, outcome) {
        seen.push(`${step.index}:${step.op}:${outcome.error?.code ?? "ok"}`);
        return outcome.error === undefined ? { ok: true } : { ok: false, message: "refused a valid VM" };
      },
    };
    const r = await replayTrace(trace, honest(), judge);
    expect(seen).toEqual(["0:reset:exception"]);
    expect(r).toMatchObject({ outcome: "fails", step: 0, op: "reset", message: "refused a valid VM" });
  });

  it("[HARNESS-REPLAY-1] a trace without a reset step is set up from its config first", async () => {
    const trace = await record(honest(), "pass");
    trace.steps = trace.steps.slice(1);
    expect((await replayTrace(trace, honest(), recordedResultJudge(trace))).outcome).toBe("passes");
  });

  it("[HARNESS-REPLAY-1] [HARNESS-PROTO-7] a protocol failure during replay is an error naming the request", async () => {
    const trace = await record(honest(), "pass");
    const broken = await createStdioModel(
      `node ${new URL("../fixtures/stdio/broken-model.mjs", import.meta.url).pathname} crash dma`,
      { timeoutMs: 5_000 },
    );
    try {
      const r = await replayTrace(trace, broken, recordedResultJudge(trace));
      expect(r).toMatchObject({ outcome: "error", step: 2, op: "dma" });
      expect(r.message).toMatch(/protocol error in dma \(id \d+\): the model process ended/);
    } finally {
      await broken.close();
    }
  });

  it("[HARNESS-REPLAY-4] a model that dies serving a step has failed: recorded as model-died, reproduced by replay", async () => {
    /** A model that ends when the guest writes register 0x18 (as an L2 QEMU aborting on GCMD.TE). */
    const dying = (): Model => {
      const m = createMemoryModel();
      const write = m.platform.writeReg.bind(m.platform);
      m.platform.writeReg = async (off, value, width) => {
        if (off === 0x18) throw new ModelDied("L2 ended: qemu: hardware error: vfio: DMA mapping failed");
        return write(off, value, width);
      };
      return m;
    };
    const rec = new TraceRecorder(dying());
    await rec.model.reset(memoryModelConfig());
    await rec.model.platform.writeReg(0x20, 1n, 8);
    const died = await rec.model.platform.writeReg(0x18, 0x8000_0000n, 4).catch((e: unknown) => e);
    expect(modelDied(died)).toEqual({
      message: "the model died: L2 ended: qemu: hardware error: vfio: DMA mapping failed",
    });
    expect(modelDied(new Error("adapter broke"))).toBeUndefined();
    const trace = rec.toTrace({
      property: "p",
      adapter: "a",
      seed: 1,
      path: "",
      verdict: "fail",
      failure: { step: 2, message: "the model died" },
    });
    expect(trace.steps[2]?.error).toEqual({
      code: "model-died",
      message: "L2 ended: qemu: hardware error: vfio: DMA mapping failed",
    });
    // The recorded-result judge would accept the same error again: the death is a verdict anyway.
    const r = await replayTrace(trace, dying(), recordedResultJudge(trace));
    expect(r).toMatchObject({ outcome: "reproduced", step: 2, op: "writeReg" });
    expect(r.message).toContain("the model died: L2 ended");
    expect((await replayTrace(trace, honest(), recordedResultJudge(trace))).outcome).not.toBe("reproduced");
  });
});
