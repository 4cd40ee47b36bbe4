import { describe, expect, it } from "vitest";
import { knownDeviations } from "../../src/cases/known/index.ts";
import type { DeviationContext } from "../../src/oracle/index.ts";
import { LegacyFault as L, ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import type { FaultRecord } from "../../src/spec/fault-record.ts";

const one = (id: string) => knownDeviations([id])[0] as NonNullable<ReturnType<typeof knownDeviations>[0]>;
const ctx = (cfg: Partial<DeviationContext["cfg"]>): DeviationContext => ({
  cfg: { mgaw: 39, fsts: false, fs5lp: false, pasidBits: 0, ssts: true, ...cfg } as DeviationContext["cfg"],
  root: undefined,
  read: (_gpa, len) => new Uint8Array(len),
});
const rec = (r: Partial<FaultRecord>): FaultRecord => ({
  f: true,
  t1: false,
  t2: false,
  at: 0,
  pv: 0,
  fr: 0,
  pp: false,
  exe: false,
  priv: false,
  sid: 8,
  fi: 0x1000n,
  ...r,
});

describe("each relaxation permits exactly its deviant variant [ORACLE-TOL-1]", () => {
  it("scalable legacy reasons: SSS.2 stands behind the legacy code of the record's own access type only", () => {
    const d = one("scalable-write-fault-legacy-reason");
    const c = ctx({});
    expect(d.record?.(rec({ fr: L.LGN_2_NO_WRITE, t1: false }), c).map((r) => r.fr)).toEqual([
      S.SGN_6_NO_WRITE,
      S.SSS_2_SS_NONLEAF_NO_PERMISSION,
    ]);
    expect(d.record?.(rec({ fr: L.LGN_2_NO_WRITE, t1: true }), c).map((r) => r.fr)).toEqual([
      S.SGN_6_NO_WRITE,
    ]);
    expect(d.record?.(rec({ fr: L.LSS_2_SS_RESERVED }), c)).toEqual([]);
  });

  it("FI above the width: only bits above the largest input width are put right", () => {
    const d = one("fault-info-above-agaw");
    expect(d.record?.(rec({ fi: 0x8000001000n }), ctx({ mgaw: 39 }))).toEqual([rec({ fi: 0x1000n })]);
    expect(d.record?.(rec({ fi: 0x8000001000n }), ctx({ mgaw: 48 }))).toEqual([]);
  });

  it("PV and PP: only on a unit without ECAP.PASID", () => {
    expect(one("fault-record-pv-without-pasid").record?.(rec({ pv: 0xffff }), ctx({ pasidBits: 0 }))).toEqual(
      [rec({})],
    );
    expect(
      one("fault-record-pv-without-pasid").record?.(rec({ pv: 0xffff }), ctx({ pasidBits: 20 })),
    ).toEqual([]);
    expect(one("fault-record-pp-without-pasid").record?.(rec({ pp: true }), ctx({ pasidBits: 0 }))).toEqual([
      rec({}),
    ]);
    expect(
      one("fault-record-pp-without-pasid").record?.(rec({ pp: true, pv: 5 }), ctx({ pasidBits: 0 })),
    ).toEqual([]);
  });

  it("unrecorded permission faults: only the access type's own permission reason", () => {
    const d = one("cached-read-only-write-not-recorded");
    const req = { sid: 8, iova: 0x1000n, len: 4, write: true };
    expect(d.unrecorded?.(req, { kind: "fault", reason: L.LGN_2_NO_WRITE, record: "yes" }, ctx({}))).toBe(
      true,
    );
    expect(
      d.unrecorded?.(
        { ...req, write: false },
        { kind: "fault", reason: L.LGN_2_NO_WRITE, record: "yes" },
        ctx({}),
      ),
    ).toBe(false);
    expect(d.unrecorded?.(req, { kind: "fault", reason: L.LSS_2_SS_RESERVED, record: "yes" }, ctx({}))).toBe(
      false,
    );
  });

  it("pass-through beyond the width: not without a pass-through entry in the tables", () => {
    const d = one("pass-through-above-haw-not-recorded");
    const req = { sid: 8, iova: 1n << 40n, len: 4, write: false };
    // No root pointer latched: the request is no pass-through one the relaxation can see.
    expect(
      d.unrecorded?.(req, { kind: "fault", reason: L.LGN_1_ADDRESS_BEYOND_WIDTH, record: "yes" }, ctx({})),
    ).toBe(false);
  });

  it("pass-through beyond the width: SGN.4 is the pass-through fault itself, from a cached context too", () => {
    const d = one("pass-through-above-haw-not-recorded");
    const req = { sid: 8, iova: 1n << 40n, len: 4, write: false };
    // The tables no longer hold the entry (a cached context served the request): SGN.4 still names it.
    expect(d.unrecorded?.(req, { kind: "fault", reason: S.SGN_4_ABOVE_HAW, record: "yes" }, ctx({}))).toBe(
      true,
    );
    expect(
      d.unrecorded?.(req, { kind: "fault", reason: S.SGN_5_SS_INPUT_BEYOND_WIDTH, record: "yes" }, ctx({})),
    ).toBe(false);
  });
});
