/**
 * `iommu-conformance reach [--runs N] [--seed S]`: what the generators produce, measured on the
 * reference from the surface calls of every case [HARNESS-REACH-1]. Prints the matrix, the cells
 * missed, and last `reach: N of M cells (P%)`.
 */
import { reachReference } from "../adapters/reach-reference.ts";
import { measureReach, reachText } from "../runner/reach/reach.ts";
import { type CliIO, EXIT_OK } from "./errors.ts";
import { loadRegistry } from "./registry.ts";

export interface ReachCommandOptions {
  runs: number;
  seed: number;
  registry?: string;
}

export async function reachCommand(opts: ReachCommandOptions, io: CliIO): Promise<number> {
  const properties = await loadRegistry(opts.registry, io.cwd);
  const { model, holds } = await reachReference();
  try {
    const report = await measureReach(properties, { model, probe: holds, runs: opts.runs, seed: opts.seed });
    io.out(reachText(report));
  } finally {
    await model.close();
  }
  return EXIT_OK;
}
