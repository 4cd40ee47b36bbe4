/**
 * translation-equals-walk: tables built by a guest (legacy second stage, scalable first stage,
 * second stage, pass-through, nested where offered; 4 KiB / 2 MiB / 1 GiB leaves; 3-, 4- and
 * 5-level tables), translation enabled, and after each global flush and wait every DMA must
 * equal the fresh walk: the right page, or a fault with the right reason and fault record.
 */
import type { CommandWeights } from "../src/arbitraries/guest-commands.ts";
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

const WEIGHTS: CommandWeights = {
  map: 5,
  unmap: 1,
  raw: 0,
  attach: 1,
  pasid: 1,
  context: 0,
  rawStructure: 0,
  dma: 10,
  invalidate: 0,
  flush: 3,
  faults: 2,
};

export const translationEqualsWalk: PropertyDefinition = {
  id: "translation-equals-walk",
  title: "after a flush every DMA gives the fresh walk's page or fault, with the right fault record",
  rules: [
    "ORACLE-WALK-1",
    "ORACLE-WALK-2",
    "ORACLE-WALK-3",
    "ORACLE-WALK-4",
    "ORACLE-WALK-5",
    "ORACLE-JUDGE-1",
    "ORACLE-JUDGE-2",
    "ORACLE-JUDGE-3",
    "ORACLE-JUDGE-5",
    "VTD-PASID-5",
    "VTD-PASID-7",
    "VTD-CTX-8",
    "VTD-FAULT-5",
    "ORACLE-WALK-6",
    "ORACLE-NEST-1",
    "VTD-DMA-4",
    "VTD-FS-4",
    "VTD-SS-4",
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
  run: (ctx) =>
    usesPassthroughForm(ctx.description)
      ? runPassthroughStorm(ctx, { mode: "walk", maxRounds: 3 })
      : runStorm(ctx, { weights: WEIGHTS, maxCommands: 16 }),
  judge: (trace, tolerance) =>
    hasPassthrough(trace) ? vmmJudge(trace) : oracleJudge(trace, undefined, tolerance),
};
