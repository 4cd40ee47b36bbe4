import { describe, expect, it } from "vitest";
import { capabilitiesFor } from "../../src/contract/viommu-capabilities.ts";
import { fingerprintPage } from "../../src/oracle/index.ts";
import { encodeCapabilities } from "../../src/spec/capabilities.ts";
import { Reg } from "../../src/spec/register-offsets.ts";
import { config, legacyDevice, Stream, ss } from "./stream.ts";

const READ = { sid: 0x08, iova: 0x10n, len: 8, write: false };

/** The CAP a model with caching mode on would report for the test configuration. */
function capWithCm(): bigint {
  return encodeCapabilities(capabilitiesFor({ ...config().viommu, cachingMode: true })).cap;
}

/** Device 0x08 mapped, then its page table entry cleared, invalidated, and set again. */
function notPresentThenPresent(s: Stream): void {
  legacyDevice(s, 0x08, 1, 0x40000, 0x20000);
  for (const p of [0x20000, 0x21000]) s.step({ op: "writeGuest", args: [BigInt(p), fingerprintPage(p, 7)] });
  s.enable(0x10000);
  s.w64(0x43000, 0n);
  s.invalidate([{ kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n }]);
  s.w64(0x43000, ss(0x21000));
}

describe("capabilities come from the registers the model reports", () => {
  it("[ORACLE-CAP-1] without a CAP read the configuration's capabilities hold (CM = 0)", () => {
    const s = new Stream(config({ cachingMode: false }));
    notPresentThenPresent(s);
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
  });

  it("[ORACLE-CAP-1] [ORACLE-CACHE-CM] a CAP read showing CM = 1 lets not-present entries be cached", () => {
    const s = new Stream(config({ cachingMode: false }));
    expect(s.step({ op: "readReg", args: [Reg.CAP, 8], result: capWithCm() }).ok).toBe(true);
    notPresentThenPresent(s);
    expect(s.outcomes(READ)).toEqual(["fault 0x6", "ok 0x21010"]);
  });

  it("[ORACLE-CAP-1] CAP read as two 32-bit halves counts once both halves are seen", () => {
    const cap = capWithCm();
    const s = new Stream(config({ cachingMode: false }));
    s.step({ op: "readReg", args: [Reg.CAP, 4], result: cap & 0xffff_ffffn });
    s.step({ op: "readReg", args: [Reg.CAP + 4, 4], result: cap >> 32n });
    notPresentThenPresent(s);
    expect(s.outcomes(READ)).toEqual(["fault 0x6", "ok 0x21010"]);
  });

  it("[ORACLE-CAP-1] a CAP read after DMAs re-judges the case under the reported capabilities", () => {
    const s = new Stream(config({ cachingMode: false }));
    notPresentThenPresent(s);
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
    s.step({ op: "readReg", args: [Reg.CAP, 8], result: capWithCm() });
    expect(s.outcomes(READ)).toEqual(["fault 0x6", "ok 0x21010"]);
  });

  it("[ORACLE-CAP-1] a reset forgets the capabilities read before it", () => {
    const s = new Stream(config({ cachingMode: false }));
    s.step({ op: "readReg", args: [Reg.CAP, 8], result: capWithCm() });
    s.step({ op: "reset", args: [config({ cachingMode: false })] });
    notPresentThenPresent(s);
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
  });
});
