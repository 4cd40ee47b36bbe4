/**
 * One mutant's row of the kill matrix: the properties run against `mutant:<id>` in order; the
 * first that fails shrinks its counterexample, the later ones stop at their first failing case
 * (they only fill the matrix, and shrinking each would cost far more than finding it did).
 * [HARNESS-MUTANT-1] [HARNESS-MUTANT-3]
 */
import { copyFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { loadAdapter } from "../adapters/adapter-spec.ts";
import type { PropertyDefinition } from "../cases/property.ts";
import { type PropertyResult, runProperties } from "../runner/runner.ts";
import type { CliIO } from "./errors.ts";
import type { Progress } from "./progress.ts";

export interface MutantRow {
  mutant: string;
  /** incomplete: a signal stopped the run before this mutant was killed or all its properties ran. */
  status: "killed" | "survived" | "error" | "incomplete";
  killedBy: string[];
  /** Time until the first killing property finished (finding and shrinking), in ms. */
  timeToKillMs?: number;
  /** Time until that property's first failing case was found, in ms. [HARNESS-MUTANT-1] */
  timeToFirstFailureMs?: number;
  /** Time that property then spent shrinking, in ms. */
  shrinkMs?: number;
  /** Steps in the shrunk trace of the first killing property (the later ones do not shrink). */
  shrunkTrace?: number;
  /** Cases the first killing property ran until it failed. */
  casesToKill?: number;
  /** Where that trace was copied: OUT/mutants/<id>.json. [HARNESS-MUTANT-3] */
  traceFile?: string;
  results: PropertyResult[];
  message?: string;
}

export interface MutantRunOptions {
  runs: number;
  seed: number;
  out: string;
  timeout: number;
  properties: PropertyDefinition[];
  /** Properties that fail on the reference: their failures kill nothing. */
  unsound: ReadonlyMap<string, string>;
  /** Aborted (reason: the signal's name) by SIGINT/SIGTERM: stop before the next case. [HARNESS-STOP-4] */
  signal?: AbortSignal;
}

/** The row of a mutant a signal kept from running or from finishing. [HARNESS-STOP-4] */
export function incompleteRow(id: string, message: string, results: PropertyResult[] = []): MutantRow {
  return { mutant: id, status: "incomplete", killedBy: [], results, message };
}

/** Why a mutant did not run at all. */
export const notRunMessage = (reason: string): string => `not run: the run was interrupted (${reason})`;

export async function runMutant(
  id: string,
  opts: MutantRunOptions,
  io: CliIO,
  progress: Progress,
): Promise<MutantRow> {
  const spec = `mutant:${id}`;
  let model: Awaited<ReturnType<typeof loadAdapter>>;
  try {
    model = await loadAdapter(spec, { timeoutMs: opts.timeout, cwd: io.cwd });
  } catch (e) {
    return { mutant: id, status: "error", killedBy: [], results: [], message: (e as Error).message };
  }
  try {
    let elapsed = 0;
    let timeToKill: number | undefined;
    let firstFailure: { atMs: number; shrinkMs: number } | undefined;
    const results: PropertyResult[] = [];
    for (const property of opts.properties) {
      const report = await runProperties([property], {
        adapter: spec,
        model,
        runs: opts.runs,
        seed: opts.seed,
        outDir: resolve(io.cwd, opts.out, "mutants", id),
        shrink: timeToKill === undefined,
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
        onPropertyStart: (p) => progress.start(`${id} ${p.id}`, opts.runs),
        onCases: (done) => progress.update(done),
        onPropertyEnd: (r) => {
          progress.stop();
          // Finding and shrinking are timed apart: the kill-time target is about finding.
          if (r.status === "fail" && !opts.unsound.has(r.id) && timeToKill === undefined) {
            const found = r.firstFailureMs ?? r.durationMs;
            firstFailure = { atMs: elapsed + found, shrinkMs: r.durationMs - found };
            timeToKill = elapsed + r.durationMs;
          }
          elapsed += r.durationMs;
        },
      });
      results.push(...report.results);
    }
    // A property that fails on the reference too proves nothing about the mutant.
    const killers = results.filter((r) => r.status === "fail" && !opts.unsound.has(r.id));
    // [HARNESS-STOP-4] a kill found before the signal stands; anything else cut short is incomplete.
    if (killers.length === 0 && results.some((r) => r.status === "incomplete"))
      return incompleteRow(
        id,
        `interrupted by ${String(opts.signal?.reason)} after ${results.filter((r) => r.status !== "incomplete").length} of ${results.length} properties`,
        results,
      );
    const row: MutantRow = {
      mutant: id,
      status:
        killers.length > 0 ? "killed" : results.some((r) => r.status === "error") ? "error" : "survived",
      killedBy: killers.map((r) => r.id),
      results,
    };
    if (timeToKill !== undefined) row.timeToKillMs = timeToKill;
    if (firstFailure !== undefined) {
      row.timeToFirstFailureMs = firstFailure.atMs;
      row.shrinkMs = firstFailure.shrinkMs;
    }
    const first = killers[0];
    if (first !== undefined) row.casesToKill = first.runs;
    if (first?.traceSteps !== undefined) row.shrunkTrace = first.traceSteps;
    // [HARNESS-MUTANT-3] the first killer's shrunk counterexample, ready for reference-traces/mutants/.
    if (first?.trace !== undefined) {
      const file = join(resolve(io.cwd, opts.out), "mutants", `${id}.json`);
      await copyFile(first.trace, file);
      row.traceFile = relative(io.cwd, file);
    }
    return row;
  } finally {
    progress.stop();
    await model.close().catch(() => undefined);
  }
}
