/**
 * Golden register offsets and CAP/ECAP field positions, typed from VT-d 5.10 §11.4 (the register
 * table), §11.4.2 (Figure 11-2, CAP_REG) and §11.4.3 (Figure 11-3, ECAP_REG); register values are
 * built here from the figures' bit positions, then decoded by the codec the reference, the oracle
 * and the driver share (src/spec/capabilities.ts).
 */
import { describe, expect, it } from "vitest";
import { decodeCapabilities, encodeCapabilities } from "../../src/spec/capabilities.ts";
import { Reg } from "../../src/spec/register-offsets.ts";

describe("register offsets (§11.4 register table)", () => {
  it("[VTD-REG-1] VER 000h, CAP 008h, ECAP 010h, GCMD 018h, GSTS 01Ch, RTADDR 020h, CCMD 028h, FSTS 034h, FECTL 038h, FEDATA 03Ch, FEADDR 040h, FEUADDR 044h, IQH 080h, IQT 088h, IQA 090h, ICS 09Ch, IECTL 0A0h, IEDATA 0A4h, IEADDR 0A8h, IEUADDR 0ACh, IQERCD 0B0h", () => {
    expect(Reg).toEqual({
      VER: 0x000,
      CAP: 0x008,
      ECAP: 0x010,
      GCMD: 0x018,
      GSTS: 0x01c,
      RTADDR: 0x020,
      CCMD: 0x028,
      FSTS: 0x034,
      FECTL: 0x038,
      FEDATA: 0x03c,
      FEADDR: 0x040,
      FEUADDR: 0x044,
      IQH: 0x080,
      IQT: 0x088,
      IQA: 0x090,
      ICS: 0x09c,
      IECTL: 0x0a0,
      IEDATA: 0x0a4,
      IEADDR: 0x0a8,
      IEUADDR: 0x0ac,
      IQERCD: 0x0b0,
    });
  });
});

describe("CAP_REG fields (§11.4.2, Figure 11-2)", () => {
  // ND 2:0, RWBF 4, PLMR 5, PHMR 6, CM 7, SAGAW 12:8, MGAW 21:16, ZLR 22, FRO 33:24, SSLPS 37:34,
  // PSI 39, NFR 47:40, MAMV 53:48, DWD 54, DRD 55, FS1GP 56, PI 59, FS5LP 60, ECMDS 61, ESIRTPS 62,
  // ESRTPS 63.
  const cap =
    (0b010n << 0n) |
    (1n << 4n) |
    (1n << 7n) |
    (0b00110n << 8n) |
    (47n << 16n) |
    (1n << 22n) |
    (0x22n << 24n) |
    (0b0011n << 34n) |
    (1n << 39n) |
    (7n << 40n) |
    (18n << 48n) |
    (1n << 54n) |
    (1n << 55n) |
    (1n << 56n) |
    (1n << 59n) |
    (1n << 60n) |
    (1n << 62n);

  it("[VTD-REG-3] [VTD-REG-7] every field decodes from its position", () => {
    const c = decodeCapabilities({ ver: 0x10, cap, ecap: 0n });
    expect(c).toMatchObject({
      version: { major: 1, minor: 0 },
      domainIdBits: 8, // ND 010b: 8-bit domain-ids
      rwbf: true,
      plmr: false,
      phmr: false,
      cm: true,
      sagaw: 0b00110, // 39- and 48-bit AGAW
      mgaw: 48, // MGAW field 47 = 48-bit
      zlr: true,
      faultRecordOffset: 0x220, // FRO × 16
      sslps: 0b0011,
      psi: true,
      faultRecords: 8, // NFR + 1
      mamv: 18,
      dwd: true,
      drd: true,
      fs1gp: true,
      pi: true,
      fs5lp: true,
      ecmds: false,
      esirtps: true,
      esrtps: false,
    });
    expect(encodeCapabilities(c).cap).toBe(cap);
  });
});

describe("ECAP_REG fields (§11.4.3, Figure 11-3)", () => {
  // C 0, QI 1, DT 2, IR 3, EIM 4, PT 6, SC 7, IRO 17:8, MHMV 23:20, MTS 25, NEST 26, PRS 29,
  // ERS 30, SRS 31, NWFS 33, EAFS 34, PSS 39:35, PASID 40, DIT 41, PDS 42, SMTS 43, VCS 44,
  // SSADS 45, SSTS 46, FSTS 47, SMPWCS 48, RPS 49, ADMS 52, RPRIVS 53, HPTS 55, PTRS 56,
  // SSIRWS 57, SMS 58.
  const fields: Array<[string, bigint]> = [
    ["c", 1n << 0n],
    ["qi", 1n << 1n],
    ["dt", 1n << 2n],
    ["ir", 1n << 3n],
    ["eim", 1n << 4n],
    ["pt", 1n << 6n],
    ["sc", 1n << 7n],
    ["mts", 1n << 25n],
    ["nest", 1n << 26n],
    ["prs", 1n << 29n],
    ["ers", 1n << 30n],
    ["srs", 1n << 31n],
    ["nwfs", 1n << 33n],
    ["eafs", 1n << 34n],
    ["pasid", 1n << 40n],
    ["dit", 1n << 41n],
    ["pds", 1n << 42n],
    ["smts", 1n << 43n],
    ["vcs", 1n << 44n],
    ["ssads", 1n << 45n],
    ["ssts", 1n << 46n],
    ["fsts", 1n << 47n],
    ["smpwcs", 1n << 48n],
    ["rps", 1n << 49n],
    ["adms", 1n << 52n],
    ["rprivs", 1n << 53n],
    ["hpts", 1n << 55n],
    ["ptrs", 1n << 56n],
    ["ssirws", 1n << 57n],
    ["sms", 1n << 58n],
  ];

  it("[VTD-REG-3] [VTD-REG-7] each flag decodes from its own bit and no other", () => {
    for (const [name, bitValue] of fields) {
      const c = decodeCapabilities({ ver: 0x10, cap: 0n, ecap: bitValue }) as unknown as Record<
        string,
        unknown
      >;
      expect(c[name], name).toBe(true);
      for (const [other] of fields) if (other !== name) expect(c[other], `${other} from ${name}`).toBe(false);
    }
  });

  it("[VTD-REG-3] [VTD-REG-4] IRO 17:8 (offset IRO × 16), MHMV 23:20, PSS 39:35 (PASID width PSS + 1)", () => {
    const ecap = (0x20n << 8n) | (0xfn << 20n) | (19n << 35n) | (1n << 40n);
    const c = decodeCapabilities({ ver: 0x10, cap: 0n, ecap });
    expect(c.iotlbRegOffset).toBe(0x200);
    expect(c.mhmv).toBe(0xf);
    expect(c.pasidBits).toBe(20);
    expect(encodeCapabilities(c).ecap).toBe(ecap);
  });
});
