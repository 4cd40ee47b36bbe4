/**
 * Golden values of the invalidation descriptors, typed from VT-d 5.10 §6.5.2 (Figures 6-1 .. 6-9,
 * Table 26), not computed by the codec under test: each descriptor is written as the words the
 * figure lays out, then decoded (src/spec/descriptor.ts, shared by the reference, the oracle and
 * the driver), encoded back, and read by the oracle's own coverage (ORACLE-COV-7).
 */
import { describe, expect, it } from "vitest";
import { descriptorCovers } from "../../src/oracle/coverage.ts";
import {
  type Descriptor,
  DescriptorType,
  decodeDescriptor,
  descriptorType,
  encodeDescriptor,
} from "../../src/spec/descriptor.ts";

const OPTS = { pageRequestDrain: true, deviceTlbThrottle: true };

function roundTrip(words: bigint[], expected: Descriptor): void {
  const width = words.length === 4 ? 256 : 128;
  const d = decodeDescriptor(words, { width, ...OPTS });
  expect(d).toEqual({ ok: true, descriptor: expected });
  expect(encodeDescriptor(expected, width)).toEqual(words);
}

describe("descriptor type codes (§6.5.2, type = bits 11:9 ‖ 3:0)", () => {
  it("[VTD-QI-14] cc_inv_dsc 1h, iotlb_inv_dsc 2h, dev_tlb_inv_dsc 3h, iec_inv_dsc 4h, inv_wait_dsc 5h, p_iotlb_inv_dsc 6h, pc_inv_dsc 7h, p_dev_tlb_inv_dsc 8h", () => {
    expect(DescriptorType).toEqual({
      CONTEXT_CACHE: 0x1,
      IOTLB: 0x2,
      DEVICE_TLB: 0x3,
      IEC: 0x4,
      WAIT: 0x5,
      PASID_IOTLB: 0x6,
      PASID_CACHE: 0x7,
      PASID_DEVICE_TLB: 0x8,
    });
    // Type[6:4] sits in bits 11:9: type 0x1A would be bits 11:9 = 001b and 3:0 = 1010b.
    expect(descriptorType(0x0000_0000_0000_020an)).toBe(0x1a);
    expect(descriptorType(0x0000_0000_0000_0e07n)).toBe(0x77);
  });
});

describe("descriptor field positions (§6.5.2 figures)", () => {
  it("[VTD-QI-14] Figure 6-1 cc_inv_dsc: G 5:4, DID 31:16, SID 47:32, FM 49:48", () => {
    roundTrip([0x0002_abcd_1234_0031n, 0n], { kind: "context-cache", g: 3, did: 0x1234, sid: 0xabcd, fm: 2 });
  });

  it("[VTD-QI-14] Figure 6-2 pc_inv_dsc (256-bit): G 5:4, DID 31:16, PASID 51:32", () => {
    roundTrip([0x0000_0012_0005_0017n, 0n, 0n, 0n], { kind: "pasid-cache", g: 1, did: 5, pasid: 0x12 });
  });

  it("[VTD-QI-14] Figure 6-3 iotlb_inv_dsc: G 5:4, DW 6, DR 7, DID 31:16, AM 69:64, IH 70, ADDR 127:76", () => {
    roundTrip([0x0000_0000_0042_00f2n, 0x1234_5043n], {
      kind: "iotlb",
      g: 3,
      dr: true,
      dw: true,
      did: 0x42,
      am: 3,
      ih: true,
      addr: 0x1234_5000n,
    });
  });

  it("[VTD-QI-14] Figure 6-4 p_iotlb_inv_dsc (256-bit): G 5:4, DID 31:16, PASID 51:32, AM 69:64, IH 70, ADDR 127:76", () => {
    roundTrip([0x000a_bcde_0007_0036n, 0x7000_0049n, 0n, 0n], {
      kind: "pasid-iotlb",
      g: 3,
      did: 7,
      pasid: 0xabcde,
      am: 9,
      ih: true,
      addr: 0x7000_0000n,
    });
  });

  it("[VTD-QI-14] [VTD-QI-17] Figure 6-5 dev_tlb_inv_dsc: PFSID[3:0] 15:12, MIP 20:16, SID 47:32, PFSID[15:4] 63:52, S 64, ADDR 127:76", () => {
    roundTrip([0x0120_0108_0005_3003n, 0x5_6001n], {
      kind: "device-tlb",
      sid: 0x0108,
      pfsid: 0x0123,
      mip: 5,
      s: true,
      addr: 0x5_6000n,
    });
  });

  it("[VTD-QI-14] Figure 6-6 p_dev_tlb_inv_dsc (256-bit): MIP 8:4, PFSID[3:0] 15:12, SID 31:16, PASID 51:32, PFSID[15:4] 63:52, GI 64, S 75, ADDR 127:76", () => {
    roundTrip([0x0120_0055_0108_3028n, 0x9801n, 0n, 0n], {
      kind: "pasid-device-tlb",
      sid: 0x0108,
      pfsid: 0x0123,
      mip: 2,
      pasid: 0x55,
      gi: true,
      s: true,
      addr: 0x9000n,
    });
  });

  it("[VTD-QI-14] Figure 6-8 iec_inv_dsc: G 4, IM 31:27, IIDX 47:32", () => {
    roundTrip([0x0000_0040_1800_0014n, 0n], { kind: "iec", g: true, iidx: 0x40, im: 3 });
  });

  it("[VTD-QI-12] Figure 6-9 inv_wait_dsc: IF 4, SW 5, FN 6, PD 7, status data 63:32, status address 127:66", () => {
    roundTrip([0xcafe_f00d_0000_00b5n, 0x3_1004n], {
      kind: "wait",
      intr: true,
      sw: true,
      fn: false,
      pd: true,
      statusData: 0xcafe_f00d,
      statusAddr: 0x3_1004n,
    });
  });

  it("[VTD-QI-5] Table 26: PASID-based types exist only as 256-bit descriptors; a 128-bit type in a 256-bit queue has its upper half zero", () => {
    const narrow = decodeDescriptor([0x0000_0012_0005_0017n, 0n], { width: 128 });
    expect(narrow.ok).toBe(false);
    const padded = decodeDescriptor([0x0002_abcd_1234_0031n, 0n, 1n, 0n], { width: 256 });
    expect(padded.ok).toBe(false);
  });
});

describe("the oracle's reading of decoded descriptors (ORACLE-COV-7)", () => {
  const cfg = { domainIdBits: 8, mgaw: 39 };
  const read = (words: bigint[]) => {
    const d = decodeDescriptor(words, { width: words.length === 4 ? 256 : 128 });
    if (!d.ok) throw new Error(`golden descriptor does not decode: ${d.detail}`);
    return descriptorCovers(d.descriptor, cfg);
  };

  it("[ORACLE-COV-7] [ORACLE-COV-1] context-cache G 01b global, 10b domain, 11b device (DID above ND ignored, VTD-QI-8)", () => {
    expect(read([0x0000_0000_0000_0011n, 0n])).toEqual({ kind: "context", granularity: "global" });
    // DID 0x1203 with an 8-bit domain-id width: 0x03.
    expect(read([0x0000_0000_1203_0021n, 0n])).toEqual({ kind: "context", granularity: "domain", did: 3 });
    expect(read([0x0003_0108_0003_0031n, 0n])).toEqual({
      kind: "context",
      granularity: "device",
      did: 3,
      sid: 0x108,
      fm: 3,
    });
  });

  it("[ORACLE-COV-7] [ORACLE-COV-3] [ORACLE-COV-6] IOTLB G 01b, 10b, 11b: the address below MGAW, aligned down to 2^AM pages", () => {
    expect(read([0x0000_0000_0000_0012n, 0n])).toEqual({ kind: "iotlb", granularity: "global" });
    expect(read([0x0000_0000_0009_0022n, 0n])).toEqual({ kind: "iotlb", granularity: "domain", did: 9 });
    // ADDR 0x80_1234_5000 with bit 39 above a 39-bit MGAW, AM = 9 (2 MiB), IH = 1.
    expect(read([0x0000_0000_0009_0032n, 0x80_1234_5049n])).toEqual({
      kind: "iotlb",
      granularity: "page",
      did: 9,
      addr: 0x1220_0000n,
      am: 9,
      ih: true,
    });
  });

  it("[ORACLE-COV-7] [ORACLE-COV-4] PASID-based IOTLB G 10b PASID-selective, 11b page-selective-within-PASID (first-stage addresses keep their high bits)", () => {
    expect(read([0x0000_0007_0009_0026n, 0n, 0n, 0n])).toEqual({
      kind: "pasid-iotlb",
      granularity: "pasid",
      did: 9,
      pasid: 7,
    });
    expect(read([0x0000_0007_0009_0036n, 0xffff_8000_0000_3001n, 0n, 0n])).toEqual({
      kind: "pasid-iotlb",
      granularity: "page",
      did: 9,
      pasid: 7,
      addr: 0xffff_8000_0000_2000n,
      am: 1,
      ih: false,
    });
  });

  it("[ORACLE-COV-7] [ORACLE-COV-2] PASID-cache G 00b domain, 01b PASID-selective, 11b global", () => {
    expect(read([0x0000_0005_0009_0007n, 0n, 0n, 0n])).toEqual({
      kind: "pasid-cache",
      granularity: "domain",
      did: 9,
    });
    expect(read([0x0000_0005_0009_0017n, 0n, 0n, 0n])).toEqual({
      kind: "pasid-cache",
      granularity: "pasid",
      did: 9,
      pasid: 5,
    });
    expect(read([0x0000_0005_0009_0037n, 0n, 0n, 0n])).toEqual({
      kind: "pasid-cache",
      granularity: "global",
    });
  });

  it("[ORACLE-COV-7] [ORACLE-COV-5] a wait covers nothing; device-TLB and interrupt-entry invalidations cover no tracked key", () => {
    expect(read([0x0000_0001_0000_0025n, 0x3_1000n])).toBeUndefined();
    expect(read([0x0000_0000_0000_0004n, 0n])).toEqual({ kind: "iec" });
    expect(read([0x0000_0108_0000_0003n, 0x5000n])).toEqual({
      kind: "device-tlb",
      sid: 0x108,
      addr: 0x5000n,
      size: 4096n,
    });
  });
});
