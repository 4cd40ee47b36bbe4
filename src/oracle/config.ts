/**
 * What the oracle needs of a platform configuration: the capabilities the guest sees, decoded
 * once (the same derivation the reference register file uses, src/vtd/capabilities.ts).
 */
import type { PlatformConfig } from "../contract/types.ts";
import { capabilitiesFor } from "../contract/viommu-capabilities.ts";
import { type Capabilities, decodeCapabilities, encodeCapabilities } from "../spec/capabilities.ts";

export interface OracleConfig {
  /** CAP.CM: not-present and faulting non-first-stage entries may be cached. */
  cm: boolean;
  mgaw: number;
  haw: number;
  /** SAGAW mask: bit n set = AW value n supported (1: 39-bit, 2: 48-bit, 3: 57-bit). */
  sagaw: number;
  ssLarge: { twoMiB: boolean; oneGiB: boolean };
  fs1gp: boolean;
  fs5lp: boolean;
  snoopControl: boolean;
  pt: boolean;
  ssts: boolean;
  fsts: boolean;
  nest: boolean;
  srs: boolean;
  eafs: boolean;
  /** ECAP.SSADS, SMPWCS, MTS, HPTS: fields of a PASID entry reserved without them (VTD-PASID-4). */
  ssads: boolean;
  smpwcs: boolean;
  mts: boolean;
  hpts: boolean;
  /** ECAP.DT, PASID, PRS, RPS, RPRIVS, PTRS: context-entry fields reserved without them (VTD-CTX-4). */
  ctx: { dt: boolean; pasid: boolean; prs: boolean; rps: boolean; rprivs: boolean; ptrs: boolean };
  pasidBits: number;
  memSize: number;
  domainIdBits: number;
  faultRecords: number;
  frcdOffset: number;
  iotlbRegOffset: number;
  /** What decides whether a queued descriptor is valid (VTD-QI-5, VTD-QI-9, ORACLE-CTL-5). */
  queue: {
    smts: boolean;
    adms: boolean;
    dt: boolean;
    psi: boolean;
    mamv: number;
    pds: boolean;
    dit: boolean;
  };
}

export function oracleConfig(config: PlatformConfig): OracleConfig {
  return configFrom(config, capabilitiesFor(config.viommu));
}

/**
 * [ORACLE-CAP-1] The configuration as the model's own CAP and ECAP say: each register the
 * driver was seen to read replaces the value the reference would report for `config`. What no
 * register holds (the host address width, memory) stays the configuration's.
 */
export function oracleConfigFromRegisters(
  config: PlatformConfig,
  seen: { cap?: bigint; ecap?: bigint },
  own: { ver: number; cap: bigint; ecap: bigint } = ownCapabilities(config),
): OracleConfig {
  return configFrom(
    config,
    decodeCapabilities({ ver: own.ver, cap: seen.cap ?? own.cap, ecap: seen.ecap ?? own.ecap }),
  );
}

/** VER, CAP and ECAP the reference reports for `config` (what oracleConfigFromRegisters starts from). */
export function ownCapabilities(config: PlatformConfig): { ver: number; cap: bigint; ecap: bigint } {
  return encodeCapabilities(capabilitiesFor(config.viommu));
}

/** Two configurations alike field by field (the same as comparing their JSON text). */
export function sameOracleConfig(a: OracleConfig, b: OracleConfig): boolean {
  return sameFields(a, b);
}

function sameFields(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i] as string;
    if (k !== kb[i]) return false;
    if (!sameFields((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

function configFrom(config: PlatformConfig, c: Capabilities): OracleConfig {
  return {
    cm: c.cm,
    mgaw: c.mgaw,
    haw: config.viommu.hawBits,
    sagaw: c.sagaw,
    ssLarge: { twoMiB: (c.sslps & 1) !== 0, oneGiB: (c.sslps & 2) !== 0 },
    fs1gp: c.fs1gp,
    fs5lp: c.fs5lp,
    snoopControl: c.sc,
    pt: c.pt,
    ssts: config.viommu.scalable ? c.ssts : true,
    fsts: c.fsts,
    nest: c.nest,
    srs: c.srs,
    eafs: c.eafs,
    ssads: c.ssads,
    smpwcs: c.smpwcs,
    mts: c.mts,
    hpts: c.hpts,
    ctx: { dt: c.dt, pasid: c.pasid, prs: c.prs, rps: c.rps, rprivs: c.rprivs, ptrs: c.ptrs },
    pasidBits: c.pasidBits,
    memSize: Number(config.memory.size),
    domainIdBits: c.domainIdBits,
    faultRecords: c.faultRecords,
    frcdOffset: c.faultRecordOffset,
    iotlbRegOffset: c.iotlbRegOffset,
    queue: { smts: c.smts, adms: c.adms, dt: c.dt, psi: c.psi, mamv: c.mamv, pds: c.pds, dit: c.dit },
  };
}
