import type { EntryCaps } from "../../src/spec/entry-caps.ts";

/** Scalable-mode vIOMMU capabilities as the reference reports them (capabilities.ts), HAW 46. */
export const CAPS: EntryCaps = {
  haw: 46,
  domainIdBits: 16,
  dt: false,
  pt: true,
  prs: false,
  pasid: true,
  rps: true,
  rprivs: false,
  hpts: false,
  ptrs: false,
  fsts: true,
  ssts: true,
  ssads: false,
  mts: false,
  sc: false,
  smpwcs: true,
  srs: true,
  eafs: true,
  sagaw: 0b0110,
};
