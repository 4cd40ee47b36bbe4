/**
 * A nested walk whose first-stage leaf refuses a user request and whose output address the second
 * stage does not map: the reference reports the first-stage rights fault (SGN.2), and the oracle
 * must permit it next to the output's second-stage fault (SSS.2). Found by pasid-cache-granularity
 * against the reference, seed 2, 300 runs: a 1 GiB first-stage leaf (U/S = 0) at GPA 0, read at
 * offset 0x3ffff000, beyond the 16 MiB the second stage maps.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { properties } from "../../properties/index.ts";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import { replayTrace } from "../../src/runner/replay.ts";
import { encodeFsEntry } from "../../src/spec/paging-entry.ts";
import { loadTraceFile } from "../../src/trace/load.ts";
import { config, NESTED_FS, NESTED_OFFSET, nestedDevice, Stream } from "./stream.ts";

const FIXTURE = join(import.meta.dirname, "../fixtures/traces/nested-user-fault-output-unmapped.json");
const model = await createReferenceModel();
afterAll(() => model.close());

describe("nested fault order", () => {
  it("[ORACLE-NEST-1] a user request refused by the first stage may fault SGN.2 though the output is unmapped", async () => {
    const trace = await loadTraceFile(FIXTURE);
    const judge = properties.find((p) => p.id === trace.property)?.judge?.(trace);
    expect(judge).toBeDefined();
    if (judge === undefined) return;
    const observed = trace.steps.at(-2)?.result;
    expect(JSON.stringify(observed)).toContain("0xc0004181800001f8"); // FRCD: reason 0x81 (SGN.2), SID 0x1f8
    const r = await replayTrace(trace, model, judge);
    expect(r.outcome, r.message).toBe("passes-now");
  });

  it("[ORACLE-NEST-1] [VTD-NEST-5] a user write the first stage refuses may fault SGN.6 though an A update the second stage blocks is due (SFS.8)", () => {
    // Found by robustness against the reference, seed 1 (first-stage tables read-only at the
    // second stage, A clear, a PDE without R/W): the reference refuses the write on the first
    // stage's rights; a unit that sets A as it walks meets the blocked update first.
    const s = new Stream(config({ scalable: true, firstStage: true, nested: true, pasidBits: 8 }));
    nestedDevice(s, { tableWrite: false });
    s.enable(0x70000, 1, true);
    const pte = (NESTED_FS[3] as number) + NESTED_OFFSET;
    s.w64(pte, encodeFsEntry({ addr: 0x20000, write: false, user: true }, 1));
    expect(s.outcomes({ sid: 0x08, iova: 0n, len: 8, write: true })).toEqual(["fault 0x77", "fault 0x85"]);
    expect(s.outcomes({ sid: 0x08, iova: 0n, len: 8, write: false })).toEqual(["fault 0x77"]);
  });
});
