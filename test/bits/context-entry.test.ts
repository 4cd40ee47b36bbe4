import { describe, expect, it } from "vitest";
import {
  decodeLegacyContext,
  decodeScalableContext,
  encodeLegacyContext,
  encodeScalableContext,
  legacyContextReserved,
  scalableContextReserved,
} from "../../src/spec/context-entry.ts";
import { CAPS } from "./caps.ts";

describe("context entries", () => {
  it("[VTD-CTX-1] legacy context entry round trip and layout", () => {
    const e = { present: true, fpd: true, tt: 2, ssptptr: 0xabc_d000, aw: 2, did: 0x1234 };
    const w = encodeLegacyContext(e);
    expect(w).toEqual([0xabc_d00bn, 0x12_3402n]);
    expect(decodeLegacyContext(w)).toEqual(e);
  });

  it("[VTD-CTX-2] legacy reserved bits: 11:4, 63:HAW, bit 71, 127:88, DID beyond the width", () => {
    const ok = encodeLegacyContext({ present: true, tt: 0, ssptptr: 0x1000, aw: 1, did: 5 });
    expect(legacyContextReserved(ok, CAPS)).toEqual([0n, 0n]);
    expect(legacyContextReserved([ok[0] | 0x10n, ok[1]], CAPS)[0]).toBe(0x10n);
    expect(legacyContextReserved([ok[0] | (1n << 46n), ok[1]], CAPS)[0]).toBe(1n << 46n);
    expect(legacyContextReserved([ok[0], ok[1] | 0x80n], CAPS)[1]).toBe(0x80n);
    expect(legacyContextReserved([ok[0], ok[1] | 0x78n], CAPS)[1]).toBe(0n); // IGN 70:67
    expect(legacyContextReserved([ok[0], ok[1] | (1n << 24n)], CAPS)[1]).toBe(1n << 24n);
    expect(legacyContextReserved([ok[0], ok[1] | (1n << 20n)], { ...CAPS, domainIdBits: 8 })[1]).toBe(
      1n << 20n,
    );
  });

  it("[VTD-CTX-3] scalable context entry round trip and layout", () => {
    const e = {
      present: true,
      fpd: false,
      dte: false,
      paside: true,
      pre: false,
      hpte: false,
      eptr: false,
      pdts: 3,
      pasidDirPtr: 0x7000,
      ridPasid: 0xfffff,
      ridPriv: false,
    };
    const w = encodeScalableContext(e);
    expect(w).toEqual([0x7000n | (3n << 9n) | 8n | 1n, 0xfffffn, 0n, 0n]);
    expect(decodeScalableContext(w)).toEqual(e);
  });

  it("[VTD-CTX-4] scalable reserved bits depend on capabilities", () => {
    const ok = encodeScalableContext({
      present: true,
      paside: true,
      pdts: 0,
      pasidDirPtr: 0x7000,
      ridPasid: 3,
    });
    expect(scalableContextReserved(ok, CAPS)).toEqual([0n, 0n, 0n, 0n]);
    const dte = encodeScalableContext({ present: true, dte: true, pdts: 0, pasidDirPtr: 0x7000 });
    expect(scalableContextReserved(dte, CAPS)[0]).toBe(4n);
    expect(scalableContextReserved(dte, { ...CAPS, dt: true })[0]).toBe(0n);
    expect(scalableContextReserved(ok, { ...CAPS, pasid: false })[0]).toBe(8n);
    expect(scalableContextReserved(ok, { ...CAPS, rps: false })[1]).toBe(3n);
    expect(scalableContextReserved([ok[0] | 0x80n, ok[1], 0n, 1n], CAPS)).toEqual([0x80n, 0n, 0n, 1n]);
    expect(scalableContextReserved([ok[0], ok[1] | (1n << 20n), 0n, 0n], CAPS)[1]).toBe(1n << 20n);
  });
});
