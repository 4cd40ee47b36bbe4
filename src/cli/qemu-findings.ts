/**
 * Replaying the recorded QEMU findings (`qemu findings`) [QEMU-FIND-1] [QEMU-FIND-2]; apart from
 * qemu.ts because it loads the adapters, the oracle and the trace replay.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { loadAdapter } from "../adapters/adapter-spec.ts";
import type { StepJudge } from "../cases/judge.ts";
import type { PropertyDefinition } from "../cases/property.ts";
import { replayTrace } from "../runner/replay.ts";
import { loadTraceFile } from "../trace/load.ts";
import { canonicalJson } from "../trace/serialize.ts";
import type { StepOutcome, Trace } from "../trace/types.ts";
import {
  expectedFor,
  type FindingRow,
  type FindingVerdict,
  type QemuTarget,
  readExpectation,
} from "./qemu-expectations.ts";

/**
 * [QEMU-FIND-2] The judge of a finding: the judge of the property that recorded it (the oracle,
 * which also judges FSTS and fault records, ORACLE-CTL-5 and ORACLE-JUDGE-8). Only for a
 * property without a judge does the step the finding names decide: giving its recorded outcome
 * again reproduces it.
 */
export function findingJudge(trace: Trace, property: PropertyDefinition | undefined): StepJudge {
  const inner = property?.judge?.(trace);
  if (inner !== undefined) return inner;
  const failure = trace.failure;
  const recorded = failure === undefined ? undefined : trace.steps[failure.step];
  const key = (o: StepOutcome): string =>
    o.error !== undefined ? canonicalJson({ error: o.error.code }) : canonicalJson({ result: o.result });
  return {
    onStep(step, outcome) {
      if (failure !== undefined && recorded !== undefined && step.index === failure.step) {
        if (key(recorded) === key(outcome))
          return { ok: false, message: `gives the recorded deviation again: ${failure.message}` };
      }
      return { ok: true };
    },
  };
}

/** Every finding in `dir` (pairs of <id>.json and <id>.expect) against one QEMU. */
export async function checkFindings(
  dir: string,
  target: QemuTarget,
  properties: PropertyDefinition[],
  timeoutMs = 10_000,
): Promise<FindingRow[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith(".expect")).sort();
  const rows: FindingRow[] = [];
  const model = await loadAdapter(target.adapter, { timeoutMs });
  try {
    for (const name of names) {
      const e = await readExpectation(join(dir, name));
      const trace = await loadTraceFile(join(dir, name.replace(/\.expect$/, ".json")));
      const property = properties.find((p) => p.id === trace.property);
      const r = await replayTrace(trace, model, findingJudge(trace, property));
      const got: FindingVerdict =
        r.outcome === "error" && /refused the trace's configuration/.test(r.message) ? "refused" : r.outcome;
      const expected = expectedFor(e, target.version);
      rows.push({
        finding: e.finding,
        rule: e.rule,
        qemu: target.install.version.text,
        expected,
        got,
        message: r.message,
        ok: expected === got,
      });
    }
  } finally {
    await model.close().catch(() => undefined);
  }
  return rows;
}
