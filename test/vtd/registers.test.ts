import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { VIommuConfig } from "../../src/contract/types.ts";
import {
  capabilitiesFor,
  capabilityRegistersFor,
  configFromCapabilities,
  configProblems,
} from "../../src/contract/viommu-capabilities.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import {
  decodeCapabilities,
  encodeCapabilities,
  supportedAddressWidths,
} from "../../src/spec/capabilities.ts";
import { Gcmd, IOTLB_OFFSET, IVA_OFFSET, Reg } from "../../src/spec/register-offsets.ts";
import { DmarRegisters } from "../../src/vtd/registers.ts";
import { LEGACY_ONLY } from "../scenarios/fixtures.ts";
import {
  enableQueue,
  gcmd,
  platform,
  RecordingSink,
  setRootTable,
  viommuConfig,
} from "./control-path-fixtures.ts";

const configArb: fc.Arbitrary<VIommuConfig> = fc
  .record({
    scalable: fc.boolean(),
    awBits: fc.constantFrom<39 | 48 | 57>(39, 48, 57),
    cachingMode: fc.boolean(),
    firstStage: fc.boolean(),
    secondStage: fc.boolean(),
    nested: fc.boolean(),
    passThrough: fc.boolean(),
    pasidBits: fc.integer({ min: 1, max: 20 }),
    snoopControl: fc.boolean(),
    fs1gp: fc.boolean(),
    fl5lp: fc.boolean(),
    large: fc.integer({ min: 0, max: 2 }),
    hawBits: fc.integer({ min: 32, max: 52 }),
    faultRecords: fc.integer({ min: 1, max: 256 }),
    supervisorRequests: fc.boolean(),
    extendedAccessed: fc.boolean(),
    secondStageAccessedDirty: fc.boolean(),
  })
  .map(({ large, ...c }) => {
    const sm = c.scalable;
    const fs = sm && c.firstStage;
    return {
      ...c,
      secondStage: sm ? c.secondStage : true,
      firstStage: fs,
      nested: fs && c.secondStage && c.nested,
      pasidBits: sm ? c.pasidBits : 0,
      fs1gp: fs && c.fs1gp,
      fl5lp: fs && c.fl5lp,
      extendedAccessed: fs && c.extendedAccessed,
      supervisorRequests: sm && c.supervisorRequests,
      secondStageAccessedDirty: sm && c.secondStageAccessedDirty,
      ssLargePages: { twoMiB: large >= 1, oneGiB: large >= 2 },
    };
  });

describe("capability registers", () => {
  it("[VTD-REG-3] VER, CAP and ECAP read back their encoded values and ignore writes, in either width", () => {
    const { regs } = platform();
    const expected = capabilityRegistersFor(viommuConfig());
    regs.write(Reg.CAP, 0n, 8);
    regs.write(Reg.ECAP + 4, 0n, 4);
    regs.write(Reg.VER, 0xffn, 4);
    expect(regs.read(Reg.VER, 4)).toBe(BigInt(expected.ver));
    expect(regs.read(Reg.CAP, 8)).toBe(expected.cap);
    expect(regs.read(Reg.ECAP, 8)).toBe(expected.ecap);
    expect(regs.read(Reg.CAP, 4) | (regs.read(Reg.CAP + 4, 4) << 32n)).toBe(expected.cap);
  });

  it("[VTD-REG-4] CAP fields for a 48-bit scalable configuration", () => {
    const cap = capabilityRegistersFor(viommuConfig({ cachingMode: true })).cap;
    const f = (hi: number, lo: number) => Number((cap >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));
    expect(f(2, 0)).toBe(6); // ND: 16-bit domain ids
    expect(f(7, 7)).toBe(1); // CM
    expect(f(12, 8)).toBe(0b00110); // SAGAW: 39- and 48-bit
    expect(f(21, 16)).toBe(47); // MGAW
    expect(f(22, 22)).toBe(0); // ZLR
    expect(f(33, 24)).toBe(0x22); // FRO
    expect(f(37, 34)).toBe(0b11); // SSLPS
    expect(f(39, 39)).toBe(1); // PSI
    expect(f(47, 40)).toBe(3); // NFR = 4 - 1
    expect(f(53, 48)).toBe(18); // MAMV
    expect(f(55, 54)).toBe(0b11); // DRD, DWD
    expect(f(56, 56)).toBe(1); // FS1GP
    expect(f(60, 60)).toBe(0); // FS5LP
    expect(f(63, 63)).toBe(1); // ESRTPS
    expect(f(4, 4)).toBe(0); // RWBF
  });

  it("[VTD-REG-4] SAGAW lists every width up to the configured one", () => {
    for (const [aw, sagaw] of [
      [39, 0b0010],
      [48, 0b0110],
      [57, 0b1110],
    ] as const) {
      const caps = capabilitiesFor(viommuConfig({ awBits: aw }));
      expect(caps.sagaw).toBe(sagaw);
      expect(supportedAddressWidths(caps).at(-1)).toBe(aw);
    }
  });

  it("[VTD-REG-5] ECAP fields for scalable and legacy configurations", () => {
    const sm = decodeCapabilities(
      capabilityRegistersFor(viommuConfig({ nested: true, extendedAccessed: true })),
    );
    expect(sm).toMatchObject({
      c: true,
      qi: true,
      dt: false,
      ir: false,
      pt: true,
      sc: true,
      iotlbRegOffset: 0x200,
      nest: true,
      srs: true,
      eafs: true,
      pasid: true,
      pasidBits: 20,
      smts: true,
      ssts: true,
      fsts: true,
      smpwcs: true,
      rps: true,
      prs: false,
      ers: false,
    });
    const legacy = capabilityRegistersFor(
      viommuConfig({
        scalable: false,
        firstStage: false,
        pasidBits: 0,
        supervisorRequests: false,
        fs1gp: false,
        passThrough: false,
        snoopControl: false,
      }),
    );
    // Only C, QI and IRO remain.
    expect(legacy.ecap).toBe(0b11n | (0x20n << 8n));
    expect(legacy.ver).toBe(0x10);
  });

  it("[VTD-REG-5] SSADS (ECAP bit 45) from secondStageAccessedDirty in scalable mode; absent is 0", () => {
    const on = capabilityRegistersFor(viommuConfig({ secondStageAccessedDirty: true }));
    expect((on.ecap >> 45n) & 1n).toBe(1n);
    expect(decodeCapabilities(on).ssads).toBe(true);
    const absent = viommuConfig();
    expect("secondStageAccessedDirty" in absent).toBe(false);
    expect(capabilitiesFor(absent).ssads).toBe(false);
    expect(capabilitiesFor(viommuConfig({ secondStageAccessedDirty: false })).ssads).toBe(false);
    // Without SSTS SSADS may still be reported (§11.4.3 ties it to SMPWCS only).
    const fsOnly = viommuConfig({ secondStage: false, nested: false, secondStageAccessedDirty: true });
    expect(configProblems(fsOnly)).toEqual([]);
    expect(capabilitiesFor(fsOnly)).toMatchObject({ ssads: true, ssts: false });
  });

  it("[VTD-REG-6] configurations a conforming CAP/ECAP cannot express are refused", () => {
    expect(configProblems(viommuConfig())).toEqual([]);
    expect(configProblems(viommuConfig({ scalable: false }))).not.toEqual([]);
    expect(configProblems(viommuConfig({ faultRecords: 0 }))).not.toEqual([]);
    expect(configProblems(viommuConfig({ nested: true, secondStage: false }))).not.toEqual([]);
    expect(configProblems(viommuConfig({ ssLargePages: { twoMiB: false, oneGiB: true } }))).not.toEqual([]);
    const legacySsads = viommuConfig({
      ...LEGACY_ONLY,
      extendedAccessed: false,
      secondStageAccessedDirty: true,
    });
    expect(configProblems(legacySsads)).toEqual([
      "second-stage accessed/dirty support (SSADS) needs scalable mode (SMPWCS)",
    ]);
    expect(
      () => new DmarRegisters(viommuConfig({ pasidBits: 21 }), new SparseMemory(4096), new RecordingSink()),
    ).toThrow(RangeError);
  });

  it("[VTD-REG-7] decoding inverts encoding, and a valid configuration survives CAP/ECAP", () => {
    fc.assert(
      fc.property(configArb, (config) => {
        expect(configProblems(config)).toEqual([]);
        const caps = capabilitiesFor(config);
        const regs = encodeCapabilities(caps);
        expect(decodeCapabilities(regs)).toEqual(caps);
        expect(configFromCapabilities(decodeCapabilities(regs), config.hawBits)).toEqual(config);
      }),
    );
  });

  it("[VTD-REG-7] a configuration without secondStageAccessedDirty comes back with it false", () => {
    const absent = viommuConfig();
    const back = configFromCapabilities(capabilitiesFor(absent), absent.hawBits);
    expect(back).toEqual({ ...absent, secondStageAccessedDirty: false });
  });
});

describe("register file access", () => {
  it("[VTD-REG-1] unimplemented and reserved offsets read 0 and ignore writes", () => {
    const { regs } = platform();
    for (const off of [0x04, 0x58, 0x64, 0x68, 0xb8, 0xc0, 0x100, 0x1f8, 0x260, 0xff8, 0x10000]) {
      regs.write(off, 0xffff_ffff_ffff_ffffn, 8);
      expect(regs.read(off, 8)).toBe(0n);
      expect(regs.read(off, 4)).toBe(0n);
    }
  });

  it("[VTD-REG-2] 4-byte accesses reach either half of a 64-bit register; 8-byte accesses span two 32-bit registers", () => {
    const { regs } = platform();
    regs.write(Reg.RTADDR + 4, 0x12n, 4);
    regs.write(Reg.RTADDR, 0x3456_7000n, 4);
    expect(regs.read(Reg.RTADDR, 8)).toBe(0x12_3456_7000n);
    expect(regs.read(Reg.RTADDR + 4, 4)).toBe(0x12n);
    setRootTable(regs, 0x1000);
    expect(regs.read(Reg.GCMD, 8)).toBe(BigInt(1 << Gcmd.SRTP) << 32n);
  });

  it("[VTD-REG-2] misaligned accesses read 0 and are ignored", () => {
    const { regs } = platform();
    regs.write(Reg.RTADDR + 2, 0xffff_ffffn, 4);
    regs.write(Reg.RTADDR + 4, 0x1n, 8);
    expect(regs.read(Reg.RTADDR, 8)).toBe(0n);
    regs.write(Reg.RTADDR, 0x5000n, 8);
    expect(regs.read(Reg.RTADDR + 1, 4)).toBe(0n);
    expect(regs.read(Reg.RTADDR + 4, 8)).toBe(0n);
  });
});

describe("robustness", () => {
  it("[VTD-REG-1] [VTD-REG-2] [VTD-QI-11] arbitrary register accesses over arbitrary queue memory never throw", () => {
    const offsets = fc.oneof(
      fc.constantFrom(...Object.values(Reg), IVA_OFFSET, IOTLB_OFFSET, 0x220, 0x228, 0x238),
      fc.integer({ min: 0, max: 0x1100 }),
    );
    const access = fc.record({
      off: offsets,
      width: fc.constantFrom<4 | 8>(4, 8),
      value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      write: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(access, { maxLength: 60 }),
        fc.uint8Array({ minLength: 64, maxLength: 512 }),
        fc.boolean(),
        (accesses, queueBytes, scalable) => {
          const p = platform(
            scalable
              ? {}
              : { scalable: false, firstStage: false, pasidBits: 0, supervisorRequests: false, fs1gp: false },
          );
          p.mem.write(0, queueBytes);
          for (const a of accesses) {
            if (a.write) p.regs.write(a.off, a.value, a.width);
            else expect(p.regs.read(a.off, a.width)).toBeGreaterThanOrEqual(0n);
          }
          expect(Number(p.regs.read(Reg.IQH, 8)) % 16).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("global command and root-table pointer", () => {
  it("[VTD-REG-8] GCMD reads 0; GSTS reports TES, RTPS and QIES", () => {
    const { regs } = platform();
    expect(regs.read(Reg.GSTS, 4)).toBe(0n);
    setRootTable(regs, 0x2000, 1);
    gcmd(regs, Gcmd.TE, true);
    enableQueue(regs, 0x10000);
    expect(regs.read(Reg.GCMD, 4)).toBe(0n);
    expect(Number(regs.read(Reg.GSTS, 4))).toBe(((1 << 31) | (1 << 30) | (1 << 26)) >>> 0);
    regs.write(Reg.GSTS, 0n, 4);
    expect(Number(regs.read(Reg.GSTS, 4))).toBe(((1 << 31) | (1 << 30) | (1 << 26)) >>> 0);
  });

  it("[VTD-REG-9] SRTP latches RTADDR and TTM, sets RTPS, flushes every cache (ESRTPS) and tells the listener", () => {
    const { regs, sink, events } = platform();
    expect(regs.rootPointer).toBeUndefined();
    regs.write(Reg.RTADDR, 0x0034_5000n | (1n << 10n), 8);
    expect(regs.rootPointer).toBeUndefined();
    gcmd(regs, Gcmd.SRTP, true);
    expect(regs.rootPointer).toEqual({ address: 0x34_5000, ttm: 1 });
    expect(regs.mode).toBe("scalable");
    expect(Number(regs.read(Reg.GSTS, 4)) >>> 30).toBe(1);
    expect(events).toEqual([{ rootPointer: { address: 0x34_5000, ttm: 1 } }]);
    expect(sink.calls).toEqual([
      { scope: { kind: "context", granularity: "global" }, mode: "scalable" },
      { scope: { kind: "pasid-cache", granularity: "global" }, mode: "scalable" },
      { scope: { kind: "iotlb", granularity: "global" }, mode: "scalable" },
    ]);
    // A new RTADDR value takes effect only at the next SRTP.
    regs.write(Reg.RTADDR, 0x9000n, 8);
    expect(regs.rootPointer).toEqual({ address: 0x34_5000, ttm: 1 });
    gcmd(regs, Gcmd.SRTP, true);
    expect(regs.rootPointer).toEqual({ address: 0x9000, ttm: 0 });
    expect(regs.mode).toBe("legacy");
  });

  it("[VTD-REG-10] RTADDR bits at and above HAW and bits 9:0 are not implemented", () => {
    const { regs } = platform({ hawBits: 40 });
    regs.write(Reg.RTADDR, 0xffff_ffff_ffff_ffffn, 8);
    expect(regs.read(Reg.RTADDR, 8)).toBe(((1n << 40n) - 1n) & ~0x3ffn);
    gcmd(regs, Gcmd.SRTP, true);
    expect(regs.rootPointer).toEqual({ address: 2 ** 40 - 4096, ttm: 3 });
  });

  it("[VTD-REG-11] TE enables and disables translation; disabling in a scalable-capable unit flushes every cache", () => {
    const { regs, sink, events } = platform();
    setRootTable(regs, 0x1000, 1);
    sink.clear();
    gcmd(regs, Gcmd.TE, true);
    expect(regs.translationEnabled).toBe(true);
    expect(sink.calls).toEqual([]);
    gcmd(regs, Gcmd.TE, true);
    gcmd(regs, Gcmd.TE, false);
    expect(regs.translationEnabled).toBe(false);
    expect(sink.scopes()).toEqual([
      { kind: "context", granularity: "global" },
      { kind: "pasid-cache", granularity: "global" },
      { kind: "iotlb", granularity: "global" },
    ]);
    expect(events.slice(1)).toEqual([{ translation: true }, { translation: false }]);
  });

  it("[VTD-REG-11] disabling translation in a legacy-only unit flushes nothing", () => {
    const { regs, sink } = platform({
      scalable: false,
      firstStage: false,
      pasidBits: 0,
      supervisorRequests: false,
      fs1gp: false,
    });
    setRootTable(regs, 0x1000, 0);
    gcmd(regs, Gcmd.TE, true);
    sink.clear();
    gcmd(regs, Gcmd.TE, false);
    expect(sink.calls).toEqual([]);
  });

  it("[VTD-REG-8] a GCMD write that changes TE and sets SRTP does both, TE first", () => {
    const { regs, events } = platform();
    regs.write(Reg.RTADDR, 0x4000n, 8);
    regs.write(Reg.GCMD, BigInt(((1 << Gcmd.TE) | (1 << Gcmd.SRTP)) >>> 0), 4);
    expect(events).toEqual([{ translation: true }, { rootPointer: { address: 0x4000, ttm: 0 } }]);
    // WBF, IRE, SIRTP and CFI are not implemented.
    regs.write(Reg.GCMD, BigInt(((1 << Gcmd.TE) | (1 << 27) | (1 << 25) | (1 << 24) | (1 << 23)) >>> 0), 4);
    expect(Number(regs.read(Reg.GSTS, 4))).toBe(((1 << 31) | (1 << 30)) >>> 0);
  });
});

describe("register-based invalidation", () => {
  const legacy = {
    scalable: false,
    firstStage: false,
    pasidBits: 0,
    supervisorRequests: false,
    fs1gp: false,
  };
  const ccmd = (icc: boolean, cirg: number, did: number, sid = 0, fm = 0) =>
    (icc ? 1n << 63n : 0n) | (BigInt(cirg) << 61n) | (BigInt(fm) << 32n) | (BigInt(sid) << 16n) | BigInt(did);
  const caig = (regs: DmarRegisters) => Number((regs.read(Reg.CCMD, 8) >> 59n) & 3n);

  it("[VTD-REG-13] [VTD-REG-15] CCMD runs global, domain and device context-cache invalidations at once", () => {
    const { regs, sink } = platform(legacy);
    regs.write(Reg.CCMD, ccmd(true, 1, 0), 8);
    expect(regs.read(Reg.CCMD, 8) >> 63n).toBe(0n);
    expect(caig(regs)).toBe(1);
    regs.write(Reg.CCMD, ccmd(true, 2, 42), 8);
    expect(caig(regs)).toBe(2);
    regs.write(Reg.CCMD, ccmd(true, 3, 42, 0x0810, 3), 8);
    expect(caig(regs)).toBe(3);
    expect(sink.calls).toEqual([
      { scope: { kind: "context", granularity: "global" }, mode: "legacy" },
      { scope: { kind: "context", granularity: "domain", did: 42 }, mode: "legacy" },
      { scope: { kind: "context", granularity: "device", did: 42, sid: 0x0810, fm: 3 }, mode: "legacy" },
    ]);
    // FM and SID are write-only: they read back as 0.
    expect(regs.read(Reg.CCMD, 8) & 0x3_ffff_0000n).toBe(0n);
  });

  it("[VTD-REG-13] only a write of CCMD's top byte with ICC set starts the invalidation", () => {
    const { regs, sink } = platform(legacy);
    const v = ccmd(true, 3, 7, 0x10);
    regs.write(Reg.CCMD, v & 0xffff_ffffn, 4);
    expect(sink.calls).toEqual([]);
    regs.write(Reg.CCMD + 4, v >> 32n, 4);
    expect(sink.scopes()).toEqual([{ kind: "context", granularity: "device", did: 7, sid: 0x10, fm: 0 }]);
    regs.write(Reg.CCMD, ccmd(false, 1, 0), 8);
    expect(sink.calls).toHaveLength(1);
  });

  it("[VTD-REG-13] a reserved granularity, a non-legacy TTM or an enabled queue makes the request fail with CAIG 0", () => {
    const a = platform(legacy);
    a.regs.write(Reg.CCMD, ccmd(true, 0, 0), 8);
    expect(caig(a.regs)).toBe(0);
    expect(a.regs.read(Reg.CCMD, 8) >> 63n).toBe(0n);
    const b = platform();
    setRootTable(b.regs, 0x1000, 1);
    b.sink.clear();
    b.regs.write(Reg.CCMD, ccmd(true, 1, 0), 8);
    expect(caig(b.regs)).toBe(0);
    const c = platform(legacy);
    enableQueue(c.regs, 0x20000);
    c.regs.write(Reg.CCMD, ccmd(true, 1, 0), 8);
    expect(caig(c.regs)).toBe(0);
    c.regs.write(IOTLB_OFFSET, (1n << 63n) | (1n << 60n), 8);
    expect((c.regs.read(IOTLB_OFFSET, 8) >> 57n) & 3n).toBe(0n);
    expect([...a.sink.calls, ...b.sink.calls, ...c.sink.calls]).toEqual([]);
  });

  const iotlbCmd = (iirg: number, did: number) => (1n << 63n) | (BigInt(iirg) << 60n) | (BigInt(did) << 32n);
  const iaig = (regs: DmarRegisters) => Number((regs.read(IOTLB_OFFSET, 8) >> 57n) & 3n);

  it("[VTD-REG-14] the IOTLB register runs global, domain and page-selective invalidations with IVA", () => {
    const { regs, sink } = platform(legacy);
    regs.write(IOTLB_OFFSET, iotlbCmd(1, 0), 8);
    expect(iaig(regs)).toBe(1);
    regs.write(IOTLB_OFFSET, iotlbCmd(2, 9) | (3n << 48n), 8);
    expect(iaig(regs)).toBe(2);
    regs.write(IVA_OFFSET, 0x12_3456_7000n | (1n << 6n) | 9n, 8);
    expect(regs.read(IVA_OFFSET, 8)).toBe(0n);
    regs.write(IOTLB_OFFSET, iotlbCmd(3, 9), 8);
    expect(iaig(regs)).toBe(3);
    expect(regs.read(IOTLB_OFFSET, 8) >> 63n).toBe(0n);
    expect(sink.scopes()).toEqual([
      { kind: "iotlb", granularity: "global" },
      { kind: "iotlb", granularity: "domain", did: 9 },
      { kind: "iotlb", granularity: "page", did: 9, addr: 0x12_3440_0000n, am: 9, ih: true },
    ]);
  });

  it("[VTD-REG-14] an address mask above MAMV fails with IAIG 0", () => {
    const { regs, sink } = platform(legacy);
    regs.write(IVA_OFFSET, 19n, 8);
    regs.write(IOTLB_OFFSET + 4, iotlbCmd(3, 1) >> 32n, 4);
    expect(iaig(regs)).toBe(0);
    expect(sink.calls).toEqual([]);
  });
});
