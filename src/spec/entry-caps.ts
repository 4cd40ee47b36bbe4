/**
 * The capabilities that decide which fields of root, context and PASID entries are reserved
 * ("treated as Reserved(0) for implementations not supporting ..."). Field names match
 * src/vtd/capabilities.ts `Capabilities`, so `{ ...capabilitiesFor(config), haw }` fits.
 */
export interface EntryCaps {
  /** Host address width: pointer bits 63:haw are reserved. */
  haw: number;
  /** Domain-id width (4 + 2 × CAP.ND); DID bits above it are reserved. */
  domainIdBits: number;
  dt: boolean;
  pt: boolean;
  prs: boolean;
  pasid: boolean;
  rps: boolean;
  rprivs: boolean;
  hpts: boolean;
  ptrs: boolean;
  fsts: boolean;
  ssts: boolean;
  ssads: boolean;
  mts: boolean;
  sc: boolean;
  smpwcs: boolean;
  srs: boolean;
  eafs: boolean;
  /** CAP.SAGAW bit mask (bit 1: 39-bit, bit 2: 48-bit, bit 3: 57-bit). */
  sagaw: number;
}

/** Mask of address bits 63:haw (reserved in every table pointer). */
export function aboveHaw(haw: number): bigint {
  return haw >= 64 ? 0n : ((1n << 64n) - 1n) & ~((1n << BigInt(haw)) - 1n);
}
