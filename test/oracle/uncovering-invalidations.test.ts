/** Invalidations that cover nothing the oracle tracks leave stale translations permitted. */
import { describe, expect, it } from "vitest";
import { config, legacyDevice, Stream, ss } from "./stream.ts";

const read = { sid: 0x08, iova: 0n, len: 4, write: false };

describe("invalidations that cover no tracked key", () => {
  it("[ORACLE-COV-5] an interrupt-entry-cache invalidation keeps a remapped page's old translation permitted", () => {
    const s = new Stream(config());
    legacyDevice(s, 0x08, 1, 0x40000, 0x50000);
    s.enable(0x10000);
    expect(s.outcomes(read)).toEqual(["ok 0x50000"]);
    s.w64(0x43000, ss(0x60000)); // the leaf now points elsewhere
    expect(s.outcomes(read)).toEqual(["ok 0x50000", "ok 0x60000"]);
    s.invalidate([{ kind: "iec", g: false, iidx: 0, im: 0 }]);
    expect(s.outcomes(read)).toEqual(["ok 0x50000", "ok 0x60000"]);
    // The covering IOTLB invalidation does remove it (so the test can tell the two apart).
    s.invalidate([{ kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n }]);
    expect(s.outcomes(read)).toEqual(["ok 0x60000"]);
  });

  it("[ORACLE-JUDGE-6] permittedFor explains each outcome: the entries walked, and for a stale one its cache, key and fill steps", () => {
    const s = new Stream(config());
    legacyDevice(s, 0x08, 1, 0x40000, 0x50000);
    s.enable(0x10000);
    s.w64(0x43000, ss(0x60000));
    const set = s.oracle.permittedFor(read);
    const fresh = set.outcomes.find((o) => o.outcome.kind === "ok" && o.outcome.addr === 0x60000);
    const stale = set.outcomes.find((o) => o.outcome.kind === "ok" && o.outcome.addr === 0x50000);
    expect(fresh?.explain).toMatch(/ctx\[0x11080\].*L1\[0x43000\]=0x60003 -> 0x60000$/);
    expect(stale?.explain).toMatch(
      /L1\[0x43000\]=0x50003 -> 0x50000 \[IOTLB iotlb\(did=1, legacy, page 0x0\), filled step \d+\.\.\d+\]/,
    );
  });
});
