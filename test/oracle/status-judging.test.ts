import { describe, expect, it } from "vitest";
import { fingerprintPage } from "../../src/oracle/index.ts";
import { encodeDescriptor } from "../../src/spec/descriptor.ts";
import { Reg } from "../../src/spec/register-offsets.ts";
import { wordsToBytes } from "../../src/spec/word.ts";
import { config, legacyDevice, QUEUE, Stream, ss } from "./stream.ts";

const IQE = 0x10n;
const PPF = 0x2n;
const PFO = 0x1n;

function setup(): Stream {
  const s = new Stream(config());
  legacyDevice(s, 0x08, 1, 0x40000, 0x20000);
  s.step({ op: "writeGuest", args: [0x20000n, fingerprintPage(0x20000, 7)] });
  s.enable(0x10000);
  return s;
}

const fsts = (s: Stream, value: bigint) => s.step({ op: "readReg", args: [Reg.FSTS, 4], result: value });

/** Put one raw 128-bit descriptor at queue slot 0 and move the tail past it. */
function submitRaw(s: Stream, words: [bigint, bigint]): void {
  s.step({ op: "writeGuest", args: [BigInt(QUEUE), wordsToBytes(words)] });
  s.reg(Reg.IQT, 0x10n);
}

describe("FSTS.IQE [ORACLE-CTL-5]", () => {
  it("[ORACLE-CTL-5] [VTD-QI-12] IQE after a wait with SW = IF = 0 (a valid descriptor) is a violation", () => {
    const s = setup();
    const wait = encodeDescriptor(
      { kind: "wait", intr: false, sw: false, fn: false, pd: false, statusData: 0, statusAddr: 0n },
      128,
    );
    submitRaw(s, [wait[0] as bigint, wait[1] as bigint]);
    expect(fsts(s, 0n).ok).toBe(true);
    const v = fsts(s, IQE);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.violation.message).toMatch(/IQE is set/);
  });

  it("[ORACLE-CTL-5] [VTD-QI-10] IQE after an invalid descriptor type is permitted until software clears it", () => {
    const s = setup();
    submitRaw(s, [0xfn, 0n]);
    expect(fsts(s, IQE).ok).toBe(true);
    // Software repairs the descriptor: IQE stays legitimately set until it writes 1 to clear it.
    const wait = encodeDescriptor(
      { kind: "wait", intr: true, sw: false, fn: false, pd: false, statusData: 0, statusAddr: 0n },
      128,
    );
    s.step({ op: "writeGuest", args: [BigInt(QUEUE), wordsToBytes(wait)] });
    expect(fsts(s, IQE).ok).toBe(true);
    s.reg(Reg.FSTS, IQE, 4);
    expect(fsts(s, IQE).ok).toBe(false);
  });
});

describe("faults that must be recorded [ORACLE-JUDGE-8]", () => {
  const WRITE = { sid: 0x08, iova: 0x10n, len: 8, write: true, data: new Uint8Array(8) };

  function readOnly(): Stream {
    const s = setup();
    s.w64(0x43000, ss(0x20000, true, false));
    s.invalidate([{ kind: "iotlb", g: 1, dr: false, dw: false, did: 0, am: 0, ih: false, addr: 0n }]);
    return s;
  }

  it("[ORACLE-JUDGE-8] [VTD-FAULT-6] an aborted write without a record, PPF or PFO is a violation", () => {
    const s = readOnly();
    expect(s.dma(WRITE, { status: "aborted" }).ok).toBe(true);
    const v = fsts(s, 0n);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.violation.message).toMatch(/must be recorded/);
  });

  it("[ORACLE-JUDGE-8] PPF or PFO account for the fault", () => {
    for (const status of [PPF, PFO, PPF | PFO]) {
      const s = readOnly();
      s.dma(WRITE, { status: "aborted" });
      expect(fsts(s, status).ok).toBe(true);
    }
  });

  it("[ORACLE-JUDGE-8] after software clears a record or PFO nothing more is demanded", () => {
    const s = readOnly();
    s.dma(WRITE, { status: "aborted" });
    s.reg(0x228, 1n << 63n); // F of record 0 (FRO 0x220), write-1-to-clear
    expect(fsts(s, 0n).ok).toBe(true);
    const t = readOnly();
    t.dma(WRITE, { status: "aborted" });
    t.reg(Reg.FSTS, PFO, 4);
    expect(fsts(t, 0n).ok).toBe(true);
  });

  it("[ORACLE-JUDGE-8] [VTD-FAULT-6] clearing a record read pending with another SID leaves the demand (it held that fault throughout)", () => {
    const other = { sid: 0x10, iova: 0x5000n, len: 8, write: false };
    const run = (sid: number) => {
      const s = readOnly();
      // 0x10 has no context entry (2h); 0x08 has no mapping at 0x5000 (6h).
      const reason = sid === 0x10 ? 0x2n : 0x6n;
      const withSid = { ...other, sid };
      expect(s.outcomes(withSid)).toEqual([`fault 0x${reason.toString(16)}`]);
      expect(s.dma(withSid, { status: "aborted" }).ok).toBe(true);
      // Record 0 read whole, F first: F, T1 (read), the reason, that SID; FI, its page.
      const hi = (1n << 63n) | (1n << 62n) | (reason << 32n) | BigInt(sid);
      expect(s.step({ op: "readReg", args: [0x228, 8], result: hi }).ok).toBe(true);
      expect(s.step({ op: "readReg", args: [0x220, 8], result: withSid.iova }).ok).toBe(true);
      expect(s.dma(WRITE, { status: "aborted" }).ok).toBe(true); // SID 0x08: must be recorded
      s.reg(0x228, 1n << 63n); // software clears record 0
      return fsts(s, 0n);
    };
    const v = run(0x10);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.violation.rule).toBe("ORACLE-JUDGE-8");
    // A pending record of the same SID may be the one the fault was compressed into.
    expect(run(0x08).ok).toBe(true);
  });

  it("[ORACLE-JUDGE-8] a fault whose recording FPD suppresses demands nothing", () => {
    const s = new Stream(config());
    legacyDevice(s, 0x08, 1, 0x40000, 0x20000);
    s.w64(0x11000 + 8 * 16, 0x40000n | 1n | 2n); // FPD (bit 1) in the context entry
    s.w64(0x43000, ss(0x20000, true, false));
    s.enable(0x10000);
    expect(s.dma(WRITE, { status: "aborted" }).ok).toBe(true);
    expect(fsts(s, 0n).ok).toBe(true);
  });
});

describe("fault record PASID fields without ECAP.PASID [ORACLE-JUDGE-5]", () => {
  const READ = { sid: 0x08, iova: 0x1000n, len: 8, write: false };
  /** FRCD high half: F, T1 (read), reason 6h (LGN.3), SID 0x08, PP = 0, PV as given. */
  function record(pv: number): bigint {
    return (1n << 63n) | (1n << 62n) | (BigInt(pv) << 40n) | (0x6n << 32n) | 0x08n;
  }
  function faulted(): Stream {
    const s = setup();
    s.w64(0x43008, 0n); // input page 1 not present: a read faults LGN.3 (6h)
    expect(s.outcomes(READ)).toEqual(["fault 0x6"]);
    expect(s.dma(READ, { status: "aborted" }).ok).toBe(true);
    return s;
  }

  it("[ORACLE-JUDGE-5] [VTD-FAULT-5] PV = 0 with PP = 0 matches the aborted DMA", () => {
    const s = faulted();
    expect(s.step({ op: "readReg", args: [0x228, 8], result: record(0) }).ok).toBe(true);
    expect(s.step({ op: "readReg", args: [0x220, 8], result: 0x1000n }).ok).toBe(true);
  });

  it("[ORACLE-JUDGE-5] [VTD-FAULT-5] PV = 0xFFFF with PP = 0 on a unit without ECAP.PASID is a violation", () => {
    const s = faulted();
    s.step({ op: "readReg", args: [0x228, 8], result: record(0xffff) });
    const v = s.step({ op: "readReg", args: [0x220, 8], result: 0x1000n });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.violation.observed).toMatch(/PP 0 PV 0xffff/);
  });
});
