/**
 * Invalidations batched before one wait: once the wait that follows a batch holding a covering
 * invalidation completes, nothing stale stays permitted, whatever else the batch holds and
 * wherever in it the covering one sits (ORACLE-TIME-2, ORACLE-CTL-4).
 */
import { describe, expect, it } from "vitest";
import type { Descriptor } from "../../src/spec/descriptor.ts";
import { config, legacyDevice, Stream, ss } from "./stream.ts";

const read = { sid: 0x08, iova: 0n, len: 4, write: false };
const read2 = { sid: 0x10, iova: 0n, len: 4, write: false };

const iotlbDomain = (did: number): Descriptor => ({
  kind: "iotlb",
  g: 2,
  dr: false,
  dw: false,
  did,
  am: 0,
  ih: false,
  addr: 0n,
});
const contextDomain = (did: number): Descriptor => ({ kind: "context-cache", g: 2, did, sid: 0, fm: 0 });
const iec: Descriptor = { kind: "iec", g: false, iidx: 0, im: 0 };

function twoDevices(): Stream {
  const s = new Stream(config());
  legacyDevice(s, 0x08, 1, 0x40000, 0x50000);
  legacyDevice(s, 0x10, 2, 0x60000, 0x70000);
  s.enable(0x10000);
  expect(s.outcomes(read)).toEqual(["ok 0x50000"]);
  expect(s.outcomes(read2)).toEqual(["ok 0x70000"]);
  s.w64(0x43000, ss(0x51000)); // both leaves move: stale values of both are permitted now
  s.w64(0x63000, ss(0x71000));
  expect(s.outcomes(read)).toEqual(["ok 0x50000", "ok 0x51000"]);
  return s;
}

describe("a batch of invalidations before one wait", () => {
  for (const [name, batch] of [
    ["covering first", [iotlbDomain(1), iec, contextDomain(2)]],
    ["covering last", [iec, contextDomain(2), iotlbDomain(1)]],
    ["covering between two others", [contextDomain(1), iotlbDomain(1), iotlbDomain(2)]],
  ] as const) {
    it(`[ORACLE-TIME-2] [ORACLE-CTL-4] ${name}: after the wait, only the fresh translation of the covered domain`, () => {
      const s = twoDevices();
      s.invalidate([...batch], false);
      // Submitted, not known complete: the stale value may still be used.
      expect(s.outcomes(read)).toEqual(["ok 0x50000", "ok 0x51000"]);
      s.invalidate([], true); // a later wait whose status is read: completes everything before it
      expect(s.outcomes(read)).toEqual(["ok 0x51000"]);
      const covered2 = batch.some((d) => d.kind === "iotlb" && d.did === 2);
      expect(s.outcomes(read2)).toEqual(covered2 ? ["ok 0x71000"] : ["ok 0x70000", "ok 0x71000"]);
    });
  }

  it("[ORACLE-TIME-2] [ORACLE-CTL-4] the batch's own wait completes it; a stale DMA after it is a violation", () => {
    const s = twoDevices();
    s.w64(0x50000, 0xaaaa_aaaan); // the old and new pages hold different data
    s.w64(0x51000, 0xbbbb_bbbbn);
    s.invalidate([iec, iotlbDomain(1), contextDomain(2)], true);
    expect(s.outcomes(read)).toEqual(["ok 0x51000"]);
    expect(s.dma(read, { status: "ok", data: new Uint8Array(4).fill(0xaa) }).ok).toBe(false);
    expect(s.dma(read, { status: "ok", data: new Uint8Array(4).fill(0xbb) }).ok).toBe(true);
  });
});
