/**
 * The vIOMMU options of a platform and the CAP/ECAP registers they stand for: which option sets
 * a conforming register file can present [VTD-REG-6], what the reference reports for each
 * [VTD-REG-4] [VTD-REG-5], and the options a read-back CAP/ECAP pair advertises [VTD-REG-7].
 */

import { type Capabilities, type CapabilityRegisters, encodeCapabilities } from "../spec/capabilities.ts";
import { FRO_UNITS, IRO_UNITS } from "../spec/register-offsets.ts";
import type { VIommuConfig } from "./types.ts";

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
    if (config.secondStageAccessedDirty === true)
      out.push("second-stage accessed/dirty support (SSADS) needs scalable mode (SMPWCS)");
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
    ssads: sm && config.secondStageAccessedDirty === true,
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
    secondStageAccessedDirty: c.ssads,
  };
}

/** The register values the reference reports for a configuration. */
export function capabilityRegistersFor(config: VIommuConfig): CapabilityRegisters {
  return encodeCapabilities(capabilitiesFor(config));
}
