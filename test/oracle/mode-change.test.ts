/** Values cached in one translation-table mode are not used in the other [ORACLE-TIME-4]. */
import { describe, expect, it } from "vitest";
import { Reg } from "../../src/spec/register-offsets.ts";
import { config, legacyDevice, Stream, ss } from "./stream.ts";

const read = { sid: 0x08, iova: 0n, len: 4, write: false };
const TE_QIE_SRTP = (1n << 31n) | (1n << 26n) | (1n << 30n);

/** Latch a new root pointer (SRTP) with translation and the queue left on. */
function setRoot(s: Stream, root: number, ttm: number): void {
  s.reg(Reg.RTADDR, BigInt(root) | (BigInt(ttm) << 10n));
  s.reg(Reg.GCMD, TE_QIE_SRTP, 4);
}

describe("translation-table mode changes", () => {
  it("[ORACLE-TIME-4] legacy values are not used in scalable mode, and an invalidation there drops them", () => {
    const s = new Stream(config({ scalable: true, firstStage: true, pasidBits: 8 }));
    legacyDevice(s, 0x08, 1, 0x40000, 0x50000);
    s.enable(0x10000, 0, true);
    expect(s.outcomes(read)).toEqual(["ok 0x50000"]);
    // An empty scalable root table: the device's scalable root entry is not present.
    setRoot(s, 0x70000, 1);
    expect(s.outcomes(read).some((o) => o.startsWith("ok"))).toBe(false);
    // Back to the legacy table without an invalidation: its values may serve again.
    s.w64(0x43000, ss(0x60000));
    setRoot(s, 0x10000, 0);
    expect(s.outcomes(read)).toEqual(["ok 0x50000", "ok 0x60000"]);
    // In scalable mode, a completed global IOTLB invalidation drops the legacy values.
    setRoot(s, 0x70000, 1);
    s.invalidate([{ kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n }]);
    setRoot(s, 0x10000, 0);
    expect(s.outcomes(read)).toEqual(["ok 0x60000"]);
  });
});
