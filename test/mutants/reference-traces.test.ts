/**
 * Every trace in reference-traces/ (except qemu/ and qemu-nested/, which replay against QEMU elsewhere) must fail
 * against the adapter it names and pass against the reference, judged by its property's judge;
 * every mutant must have its counterexample there. [HARNESS-MUTANT-3] [HARNESS-REPLAY-1]
 */
import { existsSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { properties } from "../../properties/index.ts";
import { loadAdapter } from "../../src/adapters/adapter-spec.ts";
import { listMutants } from "../../src/adapters/mutants.ts";
import { recordedResultJudge } from "../../src/cases/judge.ts";
import type { Model } from "../../src/contract/types.ts";
import { replayTrace } from "../../src/runner/replay.ts";
import { listTraceFiles, loadTraceFile } from "../../src/trace/load.ts";
import type { Trace } from "../../src/trace/types.ts";

const ROOT = join(import.meta.dirname, "../..");
const TRACES = join(ROOT, "reference-traces");

/**
 * Mutants without a replayable counterexample yet, with what is missing (see the gallery's report).
 * A listed mutant must not have a trace (then it is killed: take it off the list).
 */
const SURVIVORS: Record<string, string> = {};

const files = existsSync(TRACES)
  ? (await listTraceFiles(TRACES)).filter(
      (f) => !/^qemu(-nested)?$/.test(relative(TRACES, f).split(sep)[0] ?? ""),
    )
  : [];

const models = new Map<string, Model>();
async function model(spec: string): Promise<Model> {
  let m = models.get(spec);
  if (m === undefined) {
    m = await loadAdapter(spec);
    models.set(spec, m);
  }
  return m;
}

function judgeOf(trace: Trace) {
  const p = properties.find((x) => x.id === trace.property);
  return p?.judge?.(trace) ?? recordedResultJudge(trace);
}

afterAll(async () => {
  for (const m of models.values()) await m.close();
});

describe("reference traces", () => {
  for (const file of files) {
    const name = relative(TRACES, file);
    it(`[HARNESS-MUTANT-3] ${name} fails on its own adapter and passes on the reference`, async () => {
      const trace = await loadTraceFile(file);
      const own = await replayTrace(trace, await model(trace.adapter), judgeOf(trace));
      expect(own.outcome, `${trace.adapter}: ${own.message}`).toBe("reproduced");
      if (trace.adapter !== "reference") {
        const ref = await replayTrace(trace, await model("reference"), judgeOf(trace));
        expect(ref.outcome, `reference: step ${ref.step ?? "-"} ${ref.message}`).toBe("passes-now");
      }
    });
  }

  it("[HARNESS-MUTANT-3] every mutant has its counterexample trace, or is a listed survivor", async () => {
    for (const { id } of listMutants()) {
      const file = join(TRACES, "mutants", `${id}.json`);
      if (id in SURVIVORS) expect(existsSync(file), `${id} has a trace: it is killed`).toBe(false);
      else {
        expect(existsSync(file), `reference-traces/mutants/${id}.json is missing`).toBe(true);
        const trace = await loadTraceFile(file);
        expect(trace.adapter).toBe(`mutant:${id}`);
        expect(trace.verdict).toBe("fail");
      }
    }
  });
});
