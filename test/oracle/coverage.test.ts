import { describe, expect, it } from "vitest";
import type { CacheKey } from "../../src/oracle/index.ts";
import { coversKey, decodeFingerprint, fingerprintPage } from "../../src/oracle/index.ts";

const iotlb = (stage: "second" | "first" | "pass-through" | "nested", page: bigint, pasid = 5): CacheKey => ({
  cls: "iotlb",
  did: 3,
  pasid,
  stage,
  page,
});
const psc = (stage: "second" | "first", region: bigint, level = 2): CacheKey => ({
  cls: "psc",
  did: 3,
  pasid: 5,
  stage,
  level,
  region,
  shift: 12 + 9 * (level - 1),
});

describe("coverage", () => {
  it("[ORACLE-COV-3] page-selective IOTLB: second stage by address, first stage by DID, IH keeps SS paging structures", () => {
    const scope = { kind: "iotlb", granularity: "page", did: 3, addr: 0x4000n, am: 0, ih: true } as const;
    expect(coversKey(scope, iotlb("second", 0x4000n), "scalable")).toBe(true);
    expect(coversKey(scope, iotlb("second", 0x5000n), "scalable")).toBe(false);
    expect(coversKey(scope, iotlb("first", 0x9000n), "scalable")).toBe(true);
    expect(coversKey(scope, psc("second", 0n), "scalable")).toBe(false);
    expect(coversKey({ ...scope, ih: false }, psc("second", 0n), "scalable")).toBe(true);
    expect(coversKey(scope, psc("first", 0x40000000n), "scalable")).toBe(true);
  });

  it("[ORACLE-COV-4] PASID-selective P_IOTLB covers every IOTLB kind but no second-stage paging structure", () => {
    const scope = { kind: "pasid-iotlb", granularity: "pasid", did: 3, pasid: 5 } as const;
    expect(coversKey(scope, iotlb("pass-through", 0n), "scalable")).toBe(true);
    expect(coversKey(scope, iotlb("second", 0n, 6), "scalable")).toBe(false);
    expect(coversKey(scope, psc("second", 0n), "scalable")).toBe(false);
    const page = {
      kind: "pasid-iotlb",
      granularity: "page",
      did: 3,
      pasid: 5,
      addr: 0x3000n,
      am: 2,
      ih: false,
    } as const;
    expect(coversKey(page, iotlb("second", 0x0n), "scalable")).toBe(false);
    expect(coversKey(page, iotlb("first", 0x0n), "scalable")).toBe(true);
    expect(coversKey(page, iotlb("first", 0x4000n), "scalable")).toBe(false);
  });

  it("[ORACLE-COV-1] [ORACLE-COV-2] context and PASID-cache invalidations cover only their own cache", () => {
    const ctx: CacheKey = { cls: "context", mode: "legacy", sid: 0x0d, did: 4 };
    const dev = { kind: "context", granularity: "device", did: 4, sid: 0x08, fm: 3 } as const;
    expect(coversKey(dev, ctx, "legacy")).toBe(true);
    expect(coversKey({ ...dev, did: 5 }, ctx, "legacy")).toBe(false);
    expect(coversKey({ ...dev, did: 5 }, ctx, "scalable")).toBe(true);
    expect(coversKey({ kind: "pasid-cache", granularity: "global" }, iotlb("first", 0n), "scalable")).toBe(
      false,
    );
    expect(
      coversKey(
        { kind: "context", granularity: "global" },
        { cls: "pasid", sid: 1, pasid: 1, did: 1 },
        "scalable",
      ),
    ).toBe(false);
  });
});

describe("fingerprints", () => {
  it("[ORACLE-FP-1] a fingerprinted page names its GPA at any offset", () => {
    const page = fingerprintPage(0x7000, 42);
    expect(decodeFingerprint(page.subarray(0x123, 0x133), 0x123)).toEqual({
      page: 0x7000,
      gpa: 0x7123,
      tag: 42,
    });
    expect(decodeFingerprint(new Uint8Array(16), 0)).toBeNull();
  });
});
