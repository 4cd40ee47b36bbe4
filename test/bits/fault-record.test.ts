import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeFaultRecord,
  encodeFaultRecord,
  FAULT_RECORD_RESERVED,
  type FaultRecord,
  faultRecordType,
} from "../../src/spec/fault-record.ts";

const recordArb: fc.Arbitrary<FaultRecord> = fc.record({
  f: fc.boolean(),
  t1: fc.boolean(),
  t2: fc.boolean(),
  at: fc.integer({ min: 0, max: 3 }),
  pv: fc.integer({ min: 0, max: 0xfffff }),
  fr: fc.integer({ min: 0, max: 0xff }),
  pp: fc.boolean(),
  exe: fc.boolean(),
  priv: fc.boolean(),
  sid: fc.integer({ min: 0, max: 0xffff }),
  fi: fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map((p) => p << 12n),
});

describe("fault recording register layout", () => {
  it("[VTD-FAULT-4] round-trips every field and never touches reserved bits", () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const { lo, hi } = encodeFaultRecord(r);
        expect(lo & FAULT_RECORD_RESERVED.lo).toBe(0n);
        expect(hi & FAULT_RECORD_RESERVED.hi).toBe(0n);
        expect(decodeFaultRecord(lo, hi)).toEqual(r);
      }),
    );
  });

  it("[VTD-FAULT-4] places F at 127, T1 at 126, AT 125:124, PV 123:104, FR 103:96, PP 95, PRIV 93, T2 92, SID 79:64, FI 63:12", () => {
    const { lo, hi } = encodeFaultRecord({
      f: true,
      t1: true,
      t2: false,
      at: 2,
      pv: 0x12345,
      fr: 0x59,
      pp: true,
      exe: false,
      priv: true,
      sid: 0x0810,
      fi: 0xdead_b000n,
    });
    expect(lo).toBe(0xdead_b000n);
    expect(hi).toBe(
      (1n << 63n) |
        (1n << 62n) |
        (2n << 60n) |
        (0x12345n << 40n) |
        (0x59n << 32n) |
        (1n << 31n) |
        (1n << 29n) |
        0x0810n,
    );
  });

  it("[VTD-FAULT-4] T1 and T2 give the request type", () => {
    const base = decodeFaultRecord(0n, 0n);
    expect(faultRecordType({ ...base, t1: false, t2: false })).toBe("write");
    expect(faultRecordType({ ...base, t1: false, t2: true })).toBe("page-request");
    expect(faultRecordType({ ...base, t1: true, t2: false })).toBe("read");
    expect(faultRecordType({ ...base, t1: true, t2: true })).toBe("atomic");
  });

  it("[VTD-FAULT-4] decoding ignores reserved bits and the low 12 bits of FI", () => {
    const r = decodeFaultRecord(0xfffn | 0x5000n, 0xfff_0000n | 0x42n);
    expect(r.fi).toBe(0x5000n);
    expect(r.sid).toBe(0x42);
  });
});
