/**
 * VER, CAP and ECAP (VT-d 5.10 §11.4.1-§11.4.3): every architected field, encoded bit-exactly
 * and decoded back (adapters describe a model from its CAP/ECAP pair). See spec/registers.md,
 * rules VTD-REG-3 and VTD-REG-7. What the reference reports for a configuration is in
 * src/contract/viommu-capabilities.ts.
 */

import { bit, field, withBit, withBits } from "./word.ts";

/** Every architected CAP/ECAP field, decoded. Widths are in bits (MGAW, PSS already +1). */
export interface Capabilities {
  version: { major: number; minor: number };
  // CAP_REG
  /** Domain-id width in bits (4 + 2 × ND). */
  domainIdBits: number;
  rwbf: boolean;
  plmr: boolean;
  phmr: boolean;
  cm: boolean;
  /** SAGAW bit mask (bit 1: 39-bit, bit 2: 48-bit, bit 3: 57-bit). */
  sagaw: number;
  /** Maximum guest address width in bits (MGAW field + 1). */
  mgaw: number;
  zlr: boolean;
  /** Offset of the first fault recording register, in bytes (FRO × 16). */
  faultRecordOffset: number;
  /** SSLPS bit mask (bit 0: 2 MiB, bit 1: 1 GiB). */
  sslps: number;
  psi: boolean;
  /** Number of fault recording registers (NFR + 1). */
  faultRecords: number;
  mamv: number;
  dwd: boolean;
  drd: boolean;
  fs1gp: boolean;
  pi: boolean;
  fs5lp: boolean;
  ecmds: boolean;
  esirtps: boolean;
  esrtps: boolean;
  // ECAP_REG
  c: boolean;
  qi: boolean;
  dt: boolean;
  ir: boolean;
  eim: boolean;
  pt: boolean;
  sc: boolean;
  /** Offset of the IOTLB registers (IVA_REG), in bytes (IRO × 16). */
  iotlbRegOffset: number;
  mhmv: number;
  mts: boolean;
  nest: boolean;
  prs: boolean;
  ers: boolean;
  srs: boolean;
  nwfs: boolean;
  eafs: boolean;
  /** PASID width in bits (PSS + 1); 0 when ECAP.PASID = 0. */
  pasidBits: number;
  pasid: boolean;
  dit: boolean;
  pds: boolean;
  smts: boolean;
  vcs: boolean;
  ssads: boolean;
  ssts: boolean;
  fsts: boolean;
  smpwcs: boolean;
  rps: boolean;
  adms: boolean;
  rprivs: boolean;
  hpts: boolean;
  ptrs: boolean;
  ssirws: boolean;
  sms: boolean;
}

/** The three register values. */
export interface CapabilityRegisters {
  ver: number;
  cap: bigint;
  ecap: bigint;
}

const b = (v: boolean): bigint => (v ? 1n : 0n);

/** [VTD-REG-3] Bit-exact VER, CAP and ECAP values (§11.4.1-§11.4.3). */
export function encodeCapabilities(c: Capabilities): CapabilityRegisters {
  const ver = ((c.version.major & 0xf) << 4) | (c.version.minor & 0xf);
  let cap = 0n;
  cap = withBits(cap, 2, 0, Math.max(0, (c.domainIdBits - 4) >> 1));
  cap = withBit(cap, 4, c.rwbf);
  cap = withBit(cap, 5, c.plmr);
  cap = withBit(cap, 6, c.phmr);
  cap = withBit(cap, 7, c.cm);
  cap = withBits(cap, 12, 8, c.sagaw);
  cap = withBits(cap, 21, 16, c.mgaw - 1);
  cap = withBit(cap, 22, c.zlr);
  cap = withBits(cap, 33, 24, c.faultRecordOffset >> 4);
  cap = withBits(cap, 37, 34, c.sslps);
  cap = withBit(cap, 39, c.psi);
  cap = withBits(cap, 47, 40, c.faultRecords - 1);
  cap = withBits(cap, 53, 48, c.mamv);
  cap = withBit(cap, 54, c.dwd);
  cap = withBit(cap, 55, c.drd);
  cap = withBit(cap, 56, c.fs1gp);
  cap = withBit(cap, 59, c.pi);
  cap = withBit(cap, 60, c.fs5lp);
  cap = withBit(cap, 61, c.ecmds);
  cap = withBit(cap, 62, c.esirtps);
  cap = withBit(cap, 63, c.esrtps);
  let ecap = 0n;
  const flags: Array<[number, boolean]> = [
    [0, c.c],
    [1, c.qi],
    [2, c.dt],
    [3, c.ir],
    [4, c.eim],
    [6, c.pt],
    [7, c.sc],
    [25, c.mts],
    [26, c.nest],
    [29, c.prs],
    [30, c.ers],
    [31, c.srs],
    [33, c.nwfs],
    [34, c.eafs],
    [40, c.pasid],
    [41, c.dit],
    [42, c.pds],
    [43, c.smts],
    [44, c.vcs],
    [45, c.ssads],
    [46, c.ssts],
    [47, c.fsts],
    [48, c.smpwcs],
    [49, c.rps],
    [52, c.adms],
    [53, c.rprivs],
    [55, c.hpts],
    [56, c.ptrs],
    [57, c.ssirws],
    [58, c.sms],
  ];
  for (const [n, v] of flags) ecap |= b(v) << BigInt(n);
  ecap = withBits(ecap, 17, 8, c.iotlbRegOffset >> 4);
  ecap = withBits(ecap, 23, 20, c.mhmv);
  ecap = withBits(ecap, 39, 35, c.pasidBits > 0 ? c.pasidBits - 1 : 0);
  return { ver, cap, ecap };
}

/** [VTD-REG-7] Decode VER/CAP/ECAP values read from any model. */
export function decodeCapabilities(regs: CapabilityRegisters): Capabilities {
  const { cap, ecap } = regs;
  const pasid = bit(ecap, 40);
  return {
    version: { major: (regs.ver >> 4) & 0xf, minor: regs.ver & 0xf },
    domainIdBits: 4 + 2 * field(cap, 2, 0),
    rwbf: bit(cap, 4),
    plmr: bit(cap, 5),
    phmr: bit(cap, 6),
    cm: bit(cap, 7),
    sagaw: field(cap, 12, 8),
    mgaw: field(cap, 21, 16) + 1,
    zlr: bit(cap, 22),
    faultRecordOffset: field(cap, 33, 24) * 16,
    sslps: field(cap, 37, 34),
    psi: bit(cap, 39),
    faultRecords: field(cap, 47, 40) + 1,
    mamv: field(cap, 53, 48),
    dwd: bit(cap, 54),
    drd: bit(cap, 55),
    fs1gp: bit(cap, 56),
    pi: bit(cap, 59),
    fs5lp: bit(cap, 60),
    ecmds: bit(cap, 61),
    esirtps: bit(cap, 62),
    esrtps: bit(cap, 63),
    c: bit(ecap, 0),
    qi: bit(ecap, 1),
    dt: bit(ecap, 2),
    ir: bit(ecap, 3),
    eim: bit(ecap, 4),
    pt: bit(ecap, 6),
    sc: bit(ecap, 7),
    iotlbRegOffset: field(ecap, 17, 8) * 16,
    mhmv: field(ecap, 23, 20),
    mts: bit(ecap, 25),
    nest: bit(ecap, 26),
    prs: bit(ecap, 29),
    ers: bit(ecap, 30),
    srs: bit(ecap, 31),
    nwfs: bit(ecap, 33),
    eafs: bit(ecap, 34),
    pasidBits: pasid ? field(ecap, 39, 35) + 1 : 0,
    pasid,
    dit: bit(ecap, 41),
    pds: bit(ecap, 42),
    smts: bit(ecap, 43),
    vcs: bit(ecap, 44),
    ssads: bit(ecap, 45),
    ssts: bit(ecap, 46),
    fsts: bit(ecap, 47),
    smpwcs: bit(ecap, 48),
    rps: bit(ecap, 49),
    adms: bit(ecap, 52),
    rprivs: bit(ecap, 53),
    hpts: bit(ecap, 55),
    ptrs: bit(ecap, 56),
    ssirws: bit(ecap, 57),
    sms: bit(ecap, 58),
  };
}

/** Address widths (39/48/57) whose SAGAW bit is set. */
export function supportedAddressWidths(c: Capabilities): Array<39 | 48 | 57> {
  const out: Array<39 | 48 | 57> = [];
  if (c.sagaw & 0b0010) out.push(39);
  if (c.sagaw & 0b0100) out.push(48);
  if (c.sagaw & 0b1000) out.push(57);
  return out;
}
