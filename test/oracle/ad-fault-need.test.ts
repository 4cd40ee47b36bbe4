/**
 * [ORACLE-JUDGE-1] With page walks that do not snoop (PWSNP = 0), the A/D fault (SFS.9) is
 * permitted only where the walk meets a flag to set that is clear in the oracle's memory: A (EA)
 * on any entry it reads, D on the leaf for a write (§7.1.3 SFS.9 "hardware encountered a need to
 * update the A/D bit").
 */
import { describe, expect, it } from "vitest";
import { config, Stream, scalableFirstStageDevice } from "./stream.ts";

/** First stage, PWSNP = 0: input page 0 -> 0x60000; every entry's A (and the leaf's D) as given. */
function nonSnooped(accessed: boolean, dirty: boolean): Stream {
  const s = new Stream(config({ scalable: true, firstStage: true, pasidBits: 8 }));
  scalableFirstStageDevice(s, 0x08, { pwsnp: false, accessed, dirty });
  s.enable(0x10000, 1, true);
  return s;
}

const read = { sid: 0x08, iova: 0n, len: 4, write: false };
const write = { ...read, write: true, data: new Uint8Array(4) };

describe("the A/D fault of a non-snooping walk", () => {
  it("[ORACLE-JUDGE-1] [VTD-FS-8] every flag set: no fault, for reads and writes", () => {
    const s = nonSnooped(true, true);
    expect(s.outcomes(read)).toEqual(["ok 0x60000"]);
    expect(s.outcomes(write)).toEqual(["ok 0x60000"]);
  });

  it("[ORACLE-JUDGE-1] [VTD-FS-8] A set, the leaf's D clear: a write may fault SFS.9, a read may not", () => {
    const s = nonSnooped(true, false);
    expect(s.outcomes(read)).toEqual(["ok 0x60000"]);
    expect(s.outcomes(write)).toEqual(["fault 0x90", "ok 0x60000"]);
  });

  it("[ORACLE-JUDGE-1] [VTD-FS-8] A clear: both may fault SFS.9 (or translate, the model may have set it unseen)", () => {
    const s = nonSnooped(false, false);
    expect(s.outcomes(read)).toEqual(["fault 0x90", "ok 0x60000"]);
    expect(s.outcomes(write)).toEqual(["fault 0x90", "ok 0x60000"]);
  });
});
