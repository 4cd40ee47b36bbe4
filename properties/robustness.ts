/**
 * robustness: arbitrary words in root, context, PASID and paging entries (reserved bits, junk
 * pointers, self-referencing tables) give faults or translations the oracle permits; never a
 * crash (an exception or protocol error fails the run as an error), never a hang (every wait is
 * bounded, and a queue that stops is a failure).
 */
import type { CommandWeights } from "../src/arbitraries/guest-commands.ts";
import { guestConfigProblem } from "../src/arbitraries/guest-config.ts";
import { runStorm } from "../src/arbitraries/guest-storm.ts";
import { oracleJudge } from "../src/cases/guest-case-judge.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";

const WEIGHTS: CommandWeights = {
  map: 2,
  unmap: 1,
  raw: 5,
  attach: 1,
  pasid: 1,
  context: 1,
  rawStructure: 3,
  dma: 10,
  invalidate: 2,
  flush: 2,
  faults: 2,
};

export const robustness: PropertyDefinition = {
  id: "robustness",
  title:
    "arbitrary bytes in translation structures give permitted faults or translations, never a crash or hang",
  rules: ["ORACLE-WALK-1", "ORACLE-WALK-2", "ORACLE-WALK-3", "ORACLE-JUDGE-3", "ORACLE-JUDGE-5"],
  needs(d) {
    if (!d.supports.dmaRead) return "the model's devices cannot issue DMA reads";
    return guestConfigProblem(d);
  },
  run: (ctx) => runStorm(ctx, { weights: WEIGHTS, maxCommands: 16 }),
  judge: (trace, tolerance) => oracleJudge(trace, undefined, tolerance),
};
