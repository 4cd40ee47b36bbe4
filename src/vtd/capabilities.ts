/**
 * VER, CAP and ECAP (VT-d 5.10 §11.4.1-§11.4.3): derived from a VIommuConfig, encoded
 * bit-exactly, and decoded back (adapters describe a model from its CAP/ECAP pair).
 * See spec/registers.md, rules VTD-REG-3 .. VTD-REG-7.
 */

import type { VIommuConfig } from "../contract/types.ts";
import { FRO_UNITS, IRO_UNITS } from "../spec/register-offsets.ts";
import { bit, field, withBit, withBits } from "../spec/word.ts";

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

/** [VTD-REG-6] Reasons a configuration cannot be presented by a conforming register file. */
export function configProblems(config: VIommuConfig): string[] {
  const out: string[] = [];
  if (![39, 48, 57].includes(config.awBits)) out.push(`awBits ${config.awBits} is not 39, 48 or 57`);
  if (!Number.isInteger(config.hawBits) || config.hawBits < 32 || config.hawBits > 52)
    out.push(`hawBits ${config.hawBits} is outside 32..52`);
  if (!Number.isInteger(config.faultRecords) || config.faultRecords < 1 || config.faultRecords > 256)
    out.push(`faultRecords ${config.faultRecords} is outside 1..256`);
  if (!Number.isInteger(config.pasidBits) || config.pasidBits < 0 || config.pasidBits > 20)
    out.push(`pasidBits ${config.pasidBits} is outside 0..20`);
  if (config.ssLargePages.oneGiB && !config.ssLargePages.twoMiB)
    out.push("1 GiB second-stage pages need 2 MiB pages (SSLPS 0010b is invalid)");
  if (!config.scalable) {
    if (config.firstStage) out.push("first-stage translation needs scalable mode");
    if (config.nested) out.push("nested translation needs scalable mode");
    if (config.pasidBits > 0) out.push("PASID support needs scalable mode");
    if (config.supervisorRequests) out.push("supervisor requests need scalable mode");
  }
  if (config.nested && !(config.firstStage && config.secondStage))
    out.push("nested translation needs both first- and second-stage translation");
  if ((config.fs1gp || config.fl5lp || config.extendedAccessed) && !config.firstStage)
    out.push("FS1GP, FL5LP and EAFS need first-stage translation");
  return out;
}

/**
 * [VTD-REG-4] [VTD-REG-5] The capabilities the reference vIOMMU reports for a configuration.
 * Fixed choices (QEMU's where it has one): 16-bit domain ids, PSI with MAMV 18, DWD = DRD = 1,
 * ZLR = 0, ESRTPS = 1, QI = C = 1, DT = IR = 0, IRO 0x20, FRO 0x22.
 */
export function capabilitiesFor(config: VIommuConfig): Capabilities {
  const sm = config.scalable;
  const fs = sm && config.firstStage;
  const pasid = sm && config.pasidBits > 0;
  const sagaw = config.awBits === 39 ? 0b0010 : config.awBits === 48 ? 0b0110 : 0b1110;
  return {
    version: sm ? { major: 3, minor: 0 } : { major: 1, minor: 0 },
    domainIdBits: 16,
    rwbf: false,
    plmr: false,
    phmr: false,
    cm: config.cachingMode,
    sagaw,
    mgaw: config.awBits,
    zlr: false,
    faultRecordOffset: FRO_UNITS * 16,
    sslps: (config.ssLargePages.twoMiB ? 1 : 0) | (config.ssLargePages.oneGiB ? 2 : 0),
    psi: true,
    faultRecords: config.faultRecords,
    mamv: 18,
    dwd: true,
    drd: true,
    fs1gp: fs && config.fs1gp,
    pi: false,
    fs5lp: fs && config.fl5lp,
    ecmds: false,
    esirtps: false,
    esrtps: true,
    c: true,
    qi: true,
    dt: false,
    ir: false,
    eim: false,
    pt: config.passThrough,
    sc: config.snoopControl,
    iotlbRegOffset: IRO_UNITS * 16,
    mhmv: 0,
    mts: false,
    nest: sm && config.nested && config.firstStage && config.secondStage,
    prs: false,
    ers: false,
    srs: sm && config.supervisorRequests,
    nwfs: false,
    eafs: fs && config.extendedAccessed,
    pasidBits: pasid ? config.pasidBits : 0,
    pasid,
    dit: false,
    pds: false,
    smts: sm,
    vcs: false,
    ssads: false,
    ssts: sm && config.secondStage,
    fsts: fs,
    smpwcs: sm,
    rps: sm,
    adms: false,
    rprivs: false,
    hpts: false,
    ptrs: false,
    ssirws: false,
    sms: false,
  };
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

/**
 * [VTD-REG-7] The vIOMMU options a CAP/ECAP pair advertises (the inverse of capabilitiesFor,
 * for describing a model under test). hawBits is not in CAP/ECAP (the ACPI DMAR table
 * reports it), so the caller supplies it.
 */
export function configFromCapabilities(c: Capabilities, hawBits: number): VIommuConfig {
  const awBits = c.mgaw === 39 || c.mgaw === 48 || c.mgaw === 57 ? c.mgaw : 48;
  return {
    scalable: c.smts,
    awBits,
    cachingMode: c.cm,
    firstStage: c.fsts,
    secondStage: c.smts ? c.ssts : true,
    nested: c.nest,
    passThrough: c.pt,
    pasidBits: c.pasid ? c.pasidBits : 0,
    snoopControl: c.sc,
    fs1gp: c.fs1gp,
    fl5lp: c.fs5lp,
    ssLargePages: { twoMiB: (c.sslps & 1) !== 0, oneGiB: (c.sslps & 2) !== 0 },
    hawBits,
    faultRecords: c.faultRecords,
    supervisorRequests: c.srs,
    extendedAccessed: c.eafs,
  };
}

/** The register values the reference reports for a configuration. */
export function capabilityRegistersFor(config: VIommuConfig): CapabilityRegisters {
  return encodeCapabilities(capabilitiesFor(config));
}
