/** The oracle with translation disabled, before any root pointer, and in the reserved TTM modes. */
import { describe, expect, it } from "vitest";
import { Reg } from "../../src/spec/register-offsets.ts";
import { config, legacyDevice, Stream } from "./stream.ts";

const read = (iova: bigint, pasid?: number) => ({
  sid: 0x08,
  iova,
  len: 4,
  write: false,
  ...(pasid === undefined ? {} : { pasid }),
});

describe("translation disabled", () => {
  it("[ORACLE-WALK-6] [VTD-DMA-4] with TE = 0 a request without PASID reaches its own address", () => {
    const s = new Stream(config());
    legacyDevice(s, 0x08, 1, 0x40000, 0x50000);
    expect(s.outcomes(read(0x7000n))).toEqual(["ok 0x7000"]);
    s.enable(0x10000);
    expect(s.outcomes(read(0n))).toEqual(["ok 0x50000"]);
  });

  it("[ORACLE-WALK-6] [VTD-DMA-4] with TE = 0 a request with PASID is blocked without a fault record", () => {
    const s = new Stream(config({ scalable: true, firstStage: true, pasidBits: 8 }));
    const set = s.oracle.permittedFor(read(0x7000n, 1));
    expect(set.outcomes.map((o) => o.outcome)).toEqual([
      expect.objectContaining({ kind: "fault", record: "no" }),
    ]);
  });

  it("[ORACLE-WALK-6] [ORACLE-CTL-1] TE turned off again by a GCMD write: untranslated again, the tables kept for later", () => {
    const s = new Stream(config());
    legacyDevice(s, 0x08, 1, 0x40000, 0x50000);
    s.enable(0x10000);
    expect(s.outcomes(read(0n))).toEqual(["ok 0x50000"]);
    s.reg(Reg.GCMD, 0n, 4);
    expect(s.outcomes(read(0n))).toEqual(["ok 0x0"]);
    s.reg(Reg.GCMD, 1n << 31n, 4);
    expect(s.outcomes(read(0n))).toEqual(["ok 0x50000"]);
  });

  it("[ORACLE-WALK-6] reserved TTM blocks every request with RTA.1 (30h)", () => {
    const s = new Stream(config());
    legacyDevice(s, 0x08, 1, 0x40000, 0x50000);
    s.enable(0x10000, 2);
    expect(s.outcomes(read(0n))).toEqual(["fault 0x30"]);
  });
});
