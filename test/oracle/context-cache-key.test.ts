/** Legacy context-cache values are tagged with their entry's DID; a cached fault with DID 0. */
import { describe, expect, it } from "vitest";
import { config, legacyDevice, Stream } from "./stream.ts";

const read = { sid: 0x08, iova: 0n, len: 4, write: false };
const domainSelective = (did: number) => ({ kind: "context-cache" as const, g: 2, did, sid: 0, fm: 0 });

describe("context-cache key", () => {
  it("[ORACLE-KEY-1] with CM = 1 a cached not-present entry carries DID 0: only DID 0's invalidation drops it", () => {
    const s = new Stream(config({ cachingMode: true }));
    s.w64(0x10000, 0x11000n | 1n); // root entry of bus 0; no context entry for 0x08 yet
    s.enable(0x10000);
    expect(s.outcomes(read)).toEqual(["fault 0x2"]); // LCT.2: context entry not present
    legacyDevice(s, 0x08, 1, 0x40000, 0x50000); // now present, DID 1, no invalidation
    // With CM = 1 the cached fault stands beside the new entry (so may faults the entry's
    // half-written states cached on the way).
    const now = () => s.outcomes(read);
    expect(now()).toEqual(expect.arrayContaining(["fault 0x2", "ok 0x50000"]));
    s.invalidate([domainSelective(1)]);
    expect(now()).toContain("fault 0x2");
    s.invalidate([domainSelective(0)]);
    expect(now()).not.toContain("fault 0x2");
    expect(now()).toContain("ok 0x50000");
  });
});
