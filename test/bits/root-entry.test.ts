import { describe, expect, it } from "vitest";
import {
  decodeLegacyRoot,
  decodeScalableRoot,
  encodeLegacyRoot,
  encodeScalableRoot,
  legacyRootReserved,
  scalableRootReserved,
} from "../../src/spec/root-entry.ts";

describe("root entries", () => {
  it("[VTD-ROOT-1] legacy root entry round trip", () => {
    const w = encodeLegacyRoot({ present: true, ctp: 0x12_3456_7000 });
    expect(w).toEqual([0x12_3456_7001n, 0n]);
    expect(decodeLegacyRoot(w)).toEqual({ present: true, ctp: 0x12_3456_7000 });
  });

  it("[VTD-ROOT-2] legacy reserved bits: 11:1, 63:HAW and the whole upper word", () => {
    expect(legacyRootReserved(encodeLegacyRoot({ present: true, ctp: 0x1000 }), 39)).toEqual([0n, 0n]);
    expect(legacyRootReserved([0x1003n, 0n], 39)[0]).toBe(2n);
    expect(legacyRootReserved([(1n << 39n) | 1n, 0n], 39)[0]).toBe(1n << 39n);
    expect(legacyRootReserved([(1n << 38n) | 1n, 0n], 39)[0]).toBe(0n);
    expect(legacyRootReserved([1n, 1n << 60n], 46)[1]).toBe(1n << 60n);
  });

  it("[VTD-ROOT-3] scalable root entry round trip", () => {
    const e = { lowerPresent: true, lctp: 0x5000, upperPresent: false, uctp: 0x6000 };
    const w = encodeScalableRoot(e);
    expect(w).toEqual([0x5001n, 0x6000n]);
    expect(decodeScalableRoot(w)).toEqual(e);
  });

  it("[VTD-ROOT-4] scalable reserved bits are checked per present half", () => {
    expect(scalableRootReserved([0x5001n | 0x10n, 0x6000n | 0x10n], 46)).toEqual([0x10n, 0n]);
    expect(scalableRootReserved([0x5000n | 0x10n, 0x6001n | (1n << 50n)], 46)).toEqual([0n, 1n << 50n]);
  });
});
