/**
 * pasid-cache-granularity: PASID entries set, changed and cleared on several devices and domains,
 * with domain-, PASID-selective and global PASID-cache invalidations (and PASID-based IOTLB ones):
 * what an invalidation covers must be gone once its wait completed, what it does not cover may
 * stay, judged through DMAs with and without PASID by the oracle.
 */
import type { CommandWeights } from "../src/arbitraries/guest-commands.ts";
import { guestConfigProblem } from "../src/arbitraries/guest-config.ts";
import { runStorm } from "../src/arbitraries/guest-storm.ts";
import { oracleJudge } from "../src/cases/guest-case-judge.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";

const WEIGHTS: CommandWeights = {
  map: 1,
  unmap: 0,
  raw: 0,
  attach: 2,
  pasid: 6,
  context: 0,
  rawStructure: 0,
  dma: 10,
  invalidate: 6,
  flush: 0,
  faults: 1,
};

export const pasidCacheGranularity: PropertyDefinition = {
  id: "pasid-cache-granularity",
  title: "domain, PASID and global PASID-cache invalidations drop what they cover once waited for",
  rules: ["ORACLE-KEY-2", "ORACLE-COV-2", "ORACLE-COV-4", "ORACLE-CTL-4", "VTD-PASID-5", "VTD-CTX-8"],
  needs(d) {
    if (!d.supports.dmaRead) return "the model's devices cannot issue DMA reads";
    if (!d.supports.pasidRequests) return "the model's devices cannot issue requests with PASID";
    return guestConfigProblem(d, { mode: "scalable", pasid: true });
  },
  run: (ctx) =>
    runStorm(ctx, {
      wants: { mode: "scalable", pasid: true },
      weights: WEIGHTS,
      kinds: ["pasid-cache", "pasid-iotlb", "wait"],
      maxCommands: 20,
    }),
  judge: (trace, tolerance) => oracleJudge(trace, undefined, tolerance),
};
