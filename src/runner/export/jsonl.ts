/**
 * A standalone reproducer for a stdio model: the trace's calls as protocol requests, ready to pipe
 * into the model (requests.jsonl: hello, the steps, close), and beside them, by request id, the
 * reply recorded, the reply the specification gives (the reference model's, for the same calls)
 * and, at the failing step, the outcomes the specification permits. [HARNESS-EXPORT-1]
 */

import { suiteVersion } from "../../contract/suite-version.ts";
import type { Json } from "../../contract/wire.ts";
import { PROTOCOL_VERSION } from "../../contract/wire.ts";
import type { StepOutcome, Trace } from "../../trace/types.ts";

export interface JsonlReproducer {
  files: Record<string, string>;
}

export function exportJsonl(trace: Trace, spec: ReadonlyArray<StepOutcome | undefined>): JsonlReproducer {
  const requests: string[] = [
    JSON.stringify({ id: 1, method: "hello", params: { protocol: PROTOCOL_VERSION, suite: suiteVersion() } }),
  ];
  const expected: string[] = [];
  for (const [i, step] of trace.steps.entries()) {
    const id = i + 2;
    requests.push(JSON.stringify({ id, method: step.op, params: step.args }));
    const recorded: Json =
      step.error === undefined ? { result: step.result } : { error: step.error as unknown as Json };
    const s = spec[i];
    const row: Record<string, Json> = { id, step: i, method: step.op, recorded };
    if (s !== undefined)
      row.specification =
        s.error === undefined ? { result: s.result } : { error: s.error as unknown as Json };
    if (step.checked === true) row.checked = true;
    if (trace.failure?.step === i) {
      row.failure = trace.failure.message;
      if (trace.failure.rule !== undefined) row.rule = trace.failure.rule;
      if (trace.failure.observed !== undefined) row.observed = trace.failure.observed;
      row.permitted = trace.failure.permitted ?? null;
    }
    expected.push(JSON.stringify(row));
  }
  requests.push(JSON.stringify({ id: trace.steps.length + 2, method: "close", params: {} }));
  const readme = `Reproducer of a ${trace.property} ${trace.verdict} recorded on ${trace.adapter}.
Feed the requests to the model and compare its replies by id with expected.jsonl:

  ./your-model < requests.jsonl > replies.jsonl

expected.jsonl gives, per request id, the reply recorded, the reply the specification gives
(the suite's reference model) and, at the failing step (${trace.failure?.step ?? "none"}), the
outcomes the specification permits. Replies of unchecked steps may differ where the
specification leaves a choice (caches).
`;
  return {
    files: {
      "requests.jsonl": `${requests.join("\n")}\n`,
      "expected.jsonl": `${expected.join("\n")}\n`,
      README: readme,
    },
  };
}
