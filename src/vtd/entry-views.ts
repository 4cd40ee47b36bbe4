/** Context and PASID entries as the translation path decodes them once and the caches keep them. */
import type { FirstStageParams, NestedParams, SecondStageParams } from "../paging/index.ts";

/**
 * A legacy context entry decoded once, when it is read [VTD-CTX-5]: the fault it gives (0 when
 * valid) and, when valid, what translation through it needs.
 */
export interface LegacyContextView {
  fault: number;
  fpd: boolean;
  tt: number;
  did: number;
  plan: WalkPlan | undefined;
}

/** A scalable-mode context entry decoded once [VTD-CTX-4] [VTD-CTX-8]. */
export interface ScalableContextView {
  fault: number;
  fpd: boolean;
  paside: boolean;
  /** PASIDs below this are inside the directory (PDTS). */
  pasidLimit: number;
  ridPasid: number;
  pasidDirPtr: number;
}

/** A PASID-table entry decoded once [VTD-PASID-6] [VTD-PASID-7]. */
export interface PasidView {
  fault: number;
  fpd: boolean;
  pgtt: number;
  sre: boolean;
  plan: WalkPlan | undefined;
}

/** What produced an IOTLB entry: decides which invalidations cover it [VTD-CACHE-6] [VTD-CACHE-7]. */
export type IotlbKind = "second-stage" | "pass-through" | "first-stage" | "nested";

/** How the tables of a domain are walked, and what the IOTLB files the result as. */
export interface WalkPlan {
  kind: IotlbKind;
  did: number;
  /** PASID entry WPE (first stage); false otherwise. */
  wpe: boolean;
  /** Second stage (second-stage and nested kinds). */
  ss?: SecondStageParams;
  /** First stage (first-stage kind). */
  fs?: FirstStageParams;
  nested?: NestedParams;
}
