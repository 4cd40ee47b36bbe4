import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import { expectedRefusal, judgeReset } from "../../src/cases/vmm-compat.ts";
import { VmmStepJudge, vmmJudge } from "../../src/cases/vmm-judge.ts";
import { decodeConfig, encodeConfig } from "../../src/contract/codec.ts";
import type { PlatformConfig } from "../../src/contract/types.ts";
import { replayTrace } from "../../src/runner/replay.ts";
import { loadTraceFile } from "../../src/trace/load.ts";

const TRACE = join(import.meta.dirname, "../../reference-traces/mutants/vmm-host-width-unchecked.json");

/** The one-device VM of the stored trace: a 48-bit vIOMMU over a 39-bit host, legacy mode. */
async function narrowHost(): Promise<PlatformConfig> {
  return decodeConfig((await loadTraceFile(TRACE)).config);
}

describe("the VMM judge re-judges resets", () => {
  it("[ORACLE-JUDGE-7] [VMM-COMPAT-1] an accepted VM the width check must refuse is a violation", async () => {
    const config = await narrowHost();
    expect(expectedRefusal(config)?.check).toBe("aw-bits");
    const v = judgeReset(config, { result: null });
    expect(v?.message).toBe("the VMM accepted a device the aw-bits check must refuse");
  });

  it("[ORACLE-JUDGE-7] [VMM-COMPAT-1] [VMM-COMPAT-11] a refusal must name the first failing check", async () => {
    const config = await narrowHost();
    const refusal = (message: string) => ({ error: { code: "exception", message } });
    expect(judgeReset(config, refusal("device 0x0008: aw-bits 48 > host aw-bits 39"))).toBeUndefined();
    expect(judgeReset(config, refusal("device 0x0008: legacy mode needs caching mode"))?.message).toMatch(
      /another reason than the first failing check \(aw-bits\)/,
    );
    // A protocol failure is no verdict on the VMM.
    expect(judgeReset(config, { error: { code: "protocol", message: "the model process ended" } })).toBe(
      undefined,
    );
  });

  it("[ORACLE-JUDGE-7] a VM every check accepts must not be refused", async () => {
    const narrow = await narrowHost();
    const config: PlatformConfig = {
      ...narrow,
      viommu: { ...narrow.viommu, awBits: 39, cachingMode: true },
    };
    expect(expectedRefusal(config)).toBeUndefined();
    const judge = new VmmStepJudge();
    const step = { op: "reset" as const, args: { config: encodeConfig(config) } };
    expect(judge.feed(step, { result: null })).toBeUndefined();
    expect(judge.current).toBeDefined();
    expect(judge.feed(step, { error: { code: "exception", message: "no" } })?.message).toMatch(
      /refused a device whose host covers the vIOMMU: no/,
    );
    expect(judge.current).toBeUndefined();
  });

  it("[HARNESS-REPLAY-3] [ORACLE-JUDGE-7] a reset-only kill reproduces on its mutant and passes on the reference", async () => {
    const trace = await loadTraceFile(TRACE);
    expect(trace.steps.map((s) => s.op)).toEqual(["reset"]);
    const mutant = await createMutantModel("vmm-host-width-unchecked");
    const reference = await createReferenceModel();
    try {
      expect((await replayTrace(trace, mutant, vmmJudge(trace))).outcome).toBe("reproduced");
      expect((await replayTrace(trace, reference, vmmJudge(trace))).outcome).toBe("passes-now");
    } finally {
      await mutant.close();
      await reference.close();
    }
  });
});
