/**
 * The oracle-judged case machinery end to end against the reference model and a broken wrapper of
 * it: live judging, failures with the permitted set, and replay of the recorded traces.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createReferenceModel, referenceDescription } from "../../src/adapters/reference.ts";
import { guestPlatformArb } from "../../src/arbitraries/guest-config.ts";
import { CaseFailed } from "../../src/cases/case-failed.ts";
import { GuestCase } from "../../src/cases/guest-case.ts";
import { oracleJudge } from "../../src/cases/guest-case-judge.ts";
import { GuestWorld, IOVA_BASE } from "../../src/cases/guest-case-world.ts";
import type {
  DmaRequest,
  DmaResult,
  Model,
  PlatformConfig,
  PlatformSurface,
} from "../../src/contract/types.ts";
import { replayTrace } from "../../src/runner/replay.ts";
import { TraceRecorder } from "../../src/trace/recorder.ts";

function legacyConfig(): PlatformConfig {
  const [c] = fc.sample(guestPlatformArb(referenceDescription(), { mode: "legacy" }), {
    numRuns: 1,
    seed: 7,
  });
  return c as PlatformConfig;
}

/** The reference, except that every DMA read returns its bytes inverted. */
async function brokenModel(): Promise<Model> {
  const m = await createReferenceModel();
  return {
    ...m,
    reset: (c) => m.reset(c),
    get platform(): PlatformSurface {
      const p = m.platform;
      return {
        ...p,
        writeGuest: p.writeGuest.bind(p),
        readGuest: p.readGuest.bind(p),
        writeReg: p.writeReg.bind(p),
        readReg: p.readReg.bind(p),
        dma: async (req: DmaRequest): Promise<DmaResult> => {
          const r = await p.dma(req);
          return r.status === "ok" && r.data !== undefined
            ? { status: "ok", data: r.data.map((b) => b ^ 0xff) }
            : r;
        },
      };
    },
  };
}

/** One scenario: a legacy domain mapping a page, a DMA read of it. */
async function scenario(model: Model): Promise<{ recorder: TraceRecorder; error?: unknown }> {
  const recorder = new TraceRecorder(model);
  const gc = new GuestCase({
    model: recorder.model,
    check: (i) => recorder.check(i),
    note: (c) => recorder.note(c),
  });
  try {
    const w = await GuestWorld.build(gc, legacyConfig(), {
      domains: [
        { kind: "second", levels: 3 },
        { kind: "second", levels: 3 },
        { kind: "second", levels: 3 },
      ],
      attach: [0, 1, undefined, undefined],
      queued: true,
      premap: false,
    });
    await w.map(0, 0, "4K", 2, 3);
    await w.dma({ dev: 0, iova: IOVA_BASE + 0x10n, len: 8, write: false });
    await w.dma({ dev: 0, iova: IOVA_BASE + 0x20n, len: 8, write: true });
    return { recorder };
  } catch (error) {
    return { recorder, error };
  }
}

describe("guest cases", () => {
  it("[HARNESS-TRACE-2] the recorder follows a platform the model replaces on reset", async () => {
    const rec = new TraceRecorder(await createReferenceModel());
    await rec.model.reset(legacyConfig());
    await rec.model.platform.writeGuest(0x1000n, new Uint8Array(8));
    expect(rec.steps.map((s) => s.op)).toEqual(["reset", "writeGuest"]);
  });

  it("[ORACLE-JUDGE-2] [ORACLE-JUDGE-7] a passing case replays as passing", async () => {
    const { recorder, error } = await scenario(await createReferenceModel());
    expect(error).toBeUndefined();
    expect(recorder.steps.at(-1)).toMatchObject({ op: "dma", result: { status: "ok" }, checked: true });
    const trace = recorder.toTrace({
      property: "t",
      adapter: "reference",
      seed: 1,
      path: "",
      verdict: "pass",
    });
    const r = await replayTrace(trace, await createReferenceModel(), oracleJudge(trace));
    expect(r.outcome).toBe("passes");
  });

  it("[ORACLE-JUDGE-2] [ORACLE-JUDGE-7] a violation fails the case with the permitted walk, and replays as a failure", async () => {
    const { recorder, error } = await scenario(await brokenModel());
    expect(error).toBeInstanceOf(CaseFailed);
    const f = (error as CaseFailed).failure;
    expect(f.message).toMatch(/DMA read returned data from no permitted page/);
    expect(JSON.stringify(f.permitted)).toMatch(/completes at/);
    expect(recorder.steps[f.step as number]?.op).toBe("dma");
    const trace = recorder.toTrace({
      property: "t",
      adapter: "broken",
      seed: 1,
      path: "",
      verdict: "fail",
      failure: { step: f.step as number, message: f.message },
    });
    expect((await replayTrace(trace, await brokenModel(), oracleJudge(trace))).outcome).toBe("reproduced");
    expect((await replayTrace(trace, await createReferenceModel(), oracleJudge(trace))).outcome).toBe(
      "passes-now",
    );
  });
});
