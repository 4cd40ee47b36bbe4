/**
 * The shared paging walkers: first stage, second stage and nested, used by the vIOMMU
 * (src/vtd) and the host IOMMU (src/host). Input addresses are passed as 32-bit halves
 * (see `hi32`/`lo32`); faults are abstract kinds each user maps to its own reason codes.
 */
export { entryAddress, hi32, joinHalves, lo32, tableIndex } from "./address.ts";
export { type FirstStageParams, isCanonical, walkFirstStage } from "./first-stage.ts";
export { type NestedParams, walkNested } from "./nested.ts";
export { type SecondStageParams, walkSecondStage, withinWidth } from "./second-stage.ts";
export {
  type PagingFault,
  type PagingFaultKind,
  type PagingResult,
  type PagingTranslation,
  PERM_FS_U,
  PERM_FS_W,
  PERM_SS_R,
  PERM_SS_W,
  pagingFault,
  permits,
  type Stage2Translate,
  type WalkStart,
  WalkTrace,
} from "./types.ts";
