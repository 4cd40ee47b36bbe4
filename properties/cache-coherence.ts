/**
 * cache-coherence: model-based storms of table edits, context and PASID changes, DMAs and
 * invalidations of every type and granularity (with and without waits, queue wrap-around,
 * register-based invalidation when the queue is off). Every DMA outcome and every fault record
 * must be one the oracle permits, and after a covering invalidation and its wait the stale values
 * it covers are no longer permitted: a model that keeps using them fails.
 */
import { COHERENCE_WEIGHTS } from "../src/arbitraries/guest-commands.ts";
import { runStorm } from "../src/arbitraries/guest-storm.ts";
import {
  guestFormOf,
  hasPassthrough,
  runPassthroughStorm,
  usesPassthroughForm,
} from "../src/arbitraries/passthrough-storm.ts";
import { oracleJudge } from "../src/cases/guest-case-judge.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";

export const cacheCoherence: PropertyDefinition = {
  id: "cache-coherence",
  title:
    "every outcome under invalidation storms is permitted; no stale outcome survives a completed covering invalidation",
  rules: [
    "ORACLE-TIME-1",
    "ORACLE-COV-1",
    "ORACLE-COV-2",
    "ORACLE-COV-3",
    "ORACLE-COV-4",
    "ORACLE-COV-6",
    "ORACLE-CTL-2",
    "ORACLE-CTL-3",
    "ORACLE-CTL-4",
    "ORACLE-JUDGE-2",
    "ORACLE-JUDGE-4",
    "VTD-CACHE-1",
    "VTD-CACHE-2",
    "VTD-CACHE-5",
    "VTD-CACHE-6",
    "VTD-CACHE-12",
    "VMM-S2-7",
    "VMM-SHADOW-3",
    "VMM-SHADOW-5",
  ],
  // The guest form; for a model whose guest side is judged only beside passed-through devices
  // (qemu:nested), the passed-through form (src/arbitraries/passthrough-storm.ts).
  needs(d) {
    const f = guestFormOf(d);
    return "problem" in f ? f.problem : null;
  },
  // Upper-level rewiring and follow-ups on the latest edit weigh more than the defaults: a model
  // keeping second-stage paging-structure entries past a page-selective invalidation with IH = 0 is
  // then caught in 4 of 6 seeds within 300 cases (none before the rewiring commands existed).
  run: (ctx) =>
    usesPassthroughForm(ctx.description)
      ? runPassthroughStorm(ctx, { mode: "coherence", maxRounds: 5 })
      : runStorm(ctx, {
          weights: { ...COHERENCE_WEIGHTS, rewire: 5, recentInvalidate: 6, recentDma: 8 },
          maxCommands: 24,
        }),
  judge: (trace, tolerance) =>
    hasPassthrough(trace) ? vmmJudge(trace) : oracleJudge(trace, undefined, tolerance),
};
