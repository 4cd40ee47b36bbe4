/**
 * Golden field positions of the root, context, PASID-directory and PASID-table entries, typed from
 * VT-d 5.10 §9.1–§9.6 (Figures 9-1 .. 9-6 and their tables): entries are written here bit by bit
 * from the figures and decoded by the codec the reference, the oracle and the driver share.
 */
import { describe, expect, it } from "vitest";
import { decodeLegacyContext, decodeScalableContext } from "../../src/spec/context-entry.ts";
import { decodePasidDir, decodePasidEntry } from "../../src/spec/pasid-entry.ts";
import { decodeLegacyRoot, decodeScalableRoot } from "../../src/spec/root-entry.ts";

describe("root entries (§9.1 Figure 9-1, §9.2 Figure 9-2)", () => {
  it("[VTD-ROOT-1] legacy: P 0, CTP 63:12", () => {
    expect(decodeLegacyRoot([0x1234_5000n | 1n, 0n])).toEqual({ present: true, ctp: 0x1234_5000 });
  });

  it("[VTD-ROOT-3] scalable: LP 0, LCTP 63:12, UP 64, UCTP 127:76", () => {
    expect(decodeScalableRoot([0x1_1000n | 1n, 0x2_2000n | 1n])).toEqual({
      lowerPresent: true,
      lctp: 0x1_1000,
      upperPresent: true,
      uctp: 0x2_2000,
    });
  });
});

describe("context entries (§9.3 Figure 9-3, §9.4 Figure 9-4)", () => {
  it("[VTD-CTX-1] legacy: P 0, FPD 1, TT 3:2, SSPTPTR 63:12, AW 66:64, DID 87:72", () => {
    // TT 10b (pass-through), AW 010b (48-bit), DID 0xABCD.
    const w0 = 0x4_5000n | (0b10n << 2n) | (1n << 1n) | 1n;
    const w1 = 0b010n | (0xabcdn << 8n);
    expect(decodeLegacyContext([w0, w1])).toEqual({
      present: true,
      fpd: true,
      tt: 0b10,
      ssptptr: 0x4_5000,
      aw: 2,
      did: 0xabcd,
    });
  });

  it("[VTD-CTX-3] scalable: P 0, FPD 1, DTE 2, PASIDE 3, PRE 4, HPTE 5, EPTR 6, PDTS 11:9, PASIDDIRPTR 63:12, RID_PASID 83:64, RID_PRIV 84", () => {
    const w0 = 0x7_7000n | (5n << 9n) | (1n << 6n) | (1n << 5n) | (1n << 4n) | (1n << 3n) | (1n << 2n) | 1n;
    const w1 = 0x1_2345n | (1n << 20n);
    expect(decodeScalableContext([w0, w1, 0n, 0n])).toMatchObject({
      present: true,
      fpd: false,
      dte: true,
      paside: true,
      pre: true,
      hpte: true,
      eptr: true,
      pdts: 5,
      pasidDirPtr: 0x7_7000,
      ridPasid: 0x1_2345,
      ridPriv: true,
    });
  });
});

describe("PASID structures (§9.5 Figure 9-5, §9.6 Figure 9-6)", () => {
  it("[VTD-PASID-1] directory entry: P 0, FPD 1, SMPTBLPTR 63:12", () => {
    expect(decodePasidDir(0x9_9000n | 2n | 1n)).toEqual({ present: true, fpd: true, ptp: 0x9_9000 });
  });

  it("[VTD-PASID-3] table entry: P 0, FPD 1, AW 4:2, PGTT 8:6, SSADE 9, SSPTPTR 63:12, DID 79:64, PWSNP 87, PGSNP 88, SRE 128, FSPM 131:130, WPE 132, EAFE 135, FSPTPTR 191:140", () => {
    const w0 = 0x5_5000n | (1n << 9n) | (0b011n << 6n) | (0b010n << 2n) | (1n << 1n) | 1n;
    const w1 = 0x0042n | (1n << (87n - 64n)) | (1n << (88n - 64n));
    const w2 = 0x6_6000n | (1n << (135n - 128n)) | (1n << (132n - 128n)) | (0b01n << (130n - 128n)) | 1n;
    expect(decodePasidEntry([w0, w1, w2, 0n, 0n, 0n, 0n, 0n])).toEqual({
      present: true,
      fpd: true,
      aw: 2,
      pgtt: 3,
      ssade: true,
      ssptptr: 0x5_5000,
      did: 0x42,
      pwsnp: true,
      pgsnp: true,
      sre: true,
      fspm: 1,
      wpe: true,
      eafe: true,
      fsptptr: 0x6_6000,
    });
  });
});
