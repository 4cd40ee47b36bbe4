import { describe, expect, it } from "vitest";
import { fingerprintPage } from "../../src/oracle/index.ts";
import { config, legacyDevice, Stream, ss } from "./stream.ts";

const READ = { sid: 0x08, iova: 0x10n, len: 8, write: false };

function setup(cm = false): Stream {
  const s = new Stream(config({ cachingMode: cm }));
  legacyDevice(s, 0x08, 1, 0x40000, 0x20000);
  for (const p of [0x20000, 0x21000, 0x22000])
    s.step({ op: "writeGuest", args: [BigInt(p), fingerprintPage(p, 7)] });
  s.enable(0x10000);
  return s;
}

describe("permitted outcomes over time", () => {
  it("[ORACLE-TIME-1] [ORACLE-WALK-3] a fresh walk gives exactly one outcome", () => {
    const s = setup();
    expect(s.outcomes(READ)).toEqual(["ok 0x20010"]);
  });

  it("[ORACLE-TIME-2] [ORACLE-COV-3] a present entry changed without invalidation: old and new, then only new", () => {
    const s = setup();
    s.outcomes(READ);
    s.w64(0x43000, ss(0x21000));
    expect(s.outcomes(READ)).toEqual(["ok 0x20010", "ok 0x21010"]);
    s.invalidate([{ kind: "iotlb", g: 2, dr: false, dw: false, did: 1, am: 0, ih: false, addr: 0n }], false);
    expect(s.outcomes(READ)).toEqual(["ok 0x20010", "ok 0x21010"]); // submitted, not yet known complete
    const b = new Uint8Array([1, 0, 0, 0]);
    s.step({ op: "readGuest", args: [0x31000n, 4], result: b });
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
  });

  it("[ORACLE-TIME-3] stale values are permitted even when no DMA walked there (speculative fills)", () => {
    const s = setup();
    s.w64(0x43000, ss(0x21000));
    s.w64(0x43000, ss(0x22000));
    expect(s.outcomes(READ)).toEqual(["ok 0x20010", "ok 0x21010", "ok 0x22010"]);
  });

  it("[ORACLE-CACHE-CM] not-present to present with CM = 0 is seen at once", () => {
    const s = setup();
    s.w64(0x43000, 0n);
    s.invalidate([{ kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n }]);
    expect(s.outcomes(READ)).toEqual(["fault 0x6"]);
    s.w64(0x43000, ss(0x21000));
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
  });

  it("[ORACLE-CACHE-CM] with CM = 1 the not-present fault stays permitted until invalidated", () => {
    const s = setup(true);
    s.w64(0x43000, 0n);
    s.invalidate([{ kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n }]);
    s.w64(0x43000, ss(0x21000));
    expect(s.outcomes(READ)).toEqual(["fault 0x6", "ok 0x21010"]);
    s.invalidate([{ kind: "iotlb", g: 3, dr: false, dw: false, did: 1, am: 0, ih: false, addr: 0n }]);
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
  });

  it("[ORACLE-COV-3] an invalidation of another DID or address leaves the stale outcome", () => {
    const s = setup();
    s.w64(0x43000, ss(0x21000));
    s.invalidate([{ kind: "iotlb", g: 2, dr: false, dw: false, did: 2, am: 0, ih: false, addr: 0n }]);
    s.invalidate([{ kind: "iotlb", g: 3, dr: false, dw: false, did: 1, am: 0, ih: false, addr: 0x5000n }]);
    expect(s.outcomes(READ)).toEqual(["ok 0x20010", "ok 0x21010"]);
  });

  it("[ORACLE-COV-6] an address mask covers 2^AM naturally aligned pages", () => {
    const s = setup();
    const req1 = { ...READ, iova: 0x1010n };
    s.w64(0x43008, ss(0x22000)); // page 1
    s.outcomes(req1);
    s.w64(0x43008, ss(0x21000));
    s.invalidate([{ kind: "iotlb", g: 3, dr: false, dw: false, did: 1, am: 1, ih: false, addr: 0x0n }]);
    expect(s.outcomes(req1)).toEqual(["ok 0x21010"]);
    s.w64(0x43008, ss(0x22000));
    s.invalidate([{ kind: "iotlb", g: 3, dr: false, dw: false, did: 1, am: 0, ih: false, addr: 0x0n }]);
    expect(s.outcomes(req1)).toEqual(["ok 0x21010", "ok 0x22010"]);
  });

  it("[ORACLE-TIME-3] [ORACLE-KEY-3] a cached lower level does not depend on the upper pointer", () => {
    const s = setup();
    // A second L1 table at 0x50000 mapping page 0 to 0x21000; the L2 entry is repointed to it.
    s.w64(0x50000, ss(0x21000));
    s.w64(0x42000, ss(0x50000));
    expect(s.outcomes(READ)).toEqual(["ok 0x20010", "ok 0x21010"]);
    // IH = 1 keeps paging-structure caches: the PDE-cache value (old L1 table) survives.
    s.invalidate([{ kind: "iotlb", g: 3, dr: false, dw: false, did: 1, am: 0, ih: true, addr: 0n }]);
    expect(s.outcomes(READ)).toEqual(["ok 0x20010", "ok 0x21010"]);
    // The old L1 table, reached through the cached PDE, is read from memory now.
    s.w64(0x43000, ss(0x22000));
    expect(s.outcomes(READ)).toEqual(["ok 0x20010", "ok 0x21010", "ok 0x22010"]);
    s.invalidate([{ kind: "iotlb", g: 3, dr: false, dw: false, did: 1, am: 0, ih: false, addr: 0n }]);
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
  });

  it("[ORACLE-KEY-4] a page table shared by two domains is cached under each DID", () => {
    const s = setup();
    // SID 0x10, DID 2, same second-stage tables.
    s.w64(0x11000 + 0x10 * 16, 0x40000n | 1n);
    s.w64(0x11000 + 0x10 * 16 + 8, 2n | (2n << 8n));
    const b = { ...READ, sid: 0x10 };
    s.w64(0x43000, ss(0x21000));
    s.invalidate([{ kind: "iotlb", g: 2, dr: false, dw: false, did: 1, am: 0, ih: false, addr: 0n }]);
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
    expect(s.outcomes(b)).toEqual(["ok 0x20010", "ok 0x21010"]);
  });

  it("[ORACLE-COV-1] a context entry changed needs a context-cache invalidation", () => {
    const s = setup();
    s.w64(0x11000 + 8 * 16, 0n); // context not present
    expect(s.outcomes(READ)).toEqual(["fault 0x2", "ok 0x20010"]);
    s.invalidate([{ kind: "context-cache", g: 3, did: 1, sid: 0x08, fm: 0 }]);
    // The IOTLB may still hold the translation (looked up by SID and page) until an IOTLB invalidation.
    expect(s.outcomes(READ)).toEqual(["fault 0x2", "ok 0x20010"]);
    s.invalidate([{ kind: "iotlb", g: 2, dr: false, dw: false, did: 1, am: 0, ih: false, addr: 0n }]);
    expect(s.outcomes(READ)).toEqual(["fault 0x2"]);
  });
});

describe("judging", () => {
  it("[ORACLE-JUDGE-2] a read returning data of the permitted page is accepted; another page is not", () => {
    const s = setup();
    const good = new Uint8Array(8);
    new DataView(good.buffer).setBigUint64(0, (BigInt(0xf1a9 ^ 7) << 48n) | 0x20010n, true);
    expect(s.dma(READ, { status: "ok", data: good }).ok).toBe(true);
    const wrong = new Uint8Array(8);
    new DataView(wrong.buffer).setBigUint64(0, (BigInt(0xf1a9 ^ 7) << 48n) | 0x22010n, true);
    const v = s.dma(READ, { status: "ok", data: wrong });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.violation.observed).toContain("0x22010");
  });

  it("[ORACLE-JUDGE-3] an abort is permitted only when a fault is", () => {
    const s = setup();
    expect(s.dma(READ, { status: "aborted" }).ok).toBe(false);
    s.w64(0x43000, 0n);
    expect(s.dma(READ, { status: "aborted" }).ok).toBe(true);
  });

  it("[ORACLE-JUDGE-4] a write with one permitted target is known; memory elsewhere must not change", () => {
    const s = setup();
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s.dma({ ...READ, write: true, data }, { status: "ok" }).ok).toBe(true);
    expect(s.step({ op: "readGuest", args: [0x20010n, 8], result: data }).ok).toBe(true);
    const elsewhere = s.step({ op: "readGuest", args: [0x21010n, 8], result: data });
    expect(elsewhere.ok).toBe(false);
  });

  it("[ORACLE-JUDGE-4] a write with two permitted targets resolves when one is read back", () => {
    const s = setup();
    s.w64(0x43000, ss(0x21000));
    const data = new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]);
    expect(s.dma({ ...READ, write: true, data }, { status: "ok" }).ok).toBe(true);
    expect(s.oracle.unresolvedWrites.length).toBe(1);
    const old = s.oracle.permittedFor(READ); // unchanged state
    expect(old.outcomes.length).toBe(2);
    expect(s.step({ op: "readGuest", args: [0x21010n, 8], result: data }).ok).toBe(true);
    expect(s.oracle.unresolvedWrites.length).toBe(0);
  });

  it("[ORACLE-JUDGE-4] a write seen at none of its candidates is a violation", () => {
    const s = setup();
    s.w64(0x43000, ss(0x21000));
    const data = new Uint8Array([9, 9, 9, 9, 9, 9, 9, 9]);
    s.dma({ ...READ, write: true, data }, { status: "ok" });
    const a = s.step({ op: "readGuest", args: [0x20000n, 4096], result: fingerprintPage(0x20000, 7) });
    expect(a.ok).toBe(true);
    const b = s.step({ op: "readGuest", args: [0x21000n, 4096], result: fingerprintPage(0x21000, 7) });
    expect(b.ok).toBe(false);
  });
});
