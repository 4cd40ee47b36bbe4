/**
 * Runs properties against one model: skips those whose needs are not met, records every
 * case, writes a trace for each failing (or broken) property, and collects the results for
 * the reports. [HARNESS-SKIP-1] [HARNESS-SKIP-2] [HARNESS-TRACE-6]
 */
import { join } from "node:path";
import { countingTolerance, type KnownDeviation } from "../cases/known/index.ts";
import type { CaseFailure, PropertyContext, PropertyDefinition } from "../cases/property.ts";
import { ProtocolError } from "../contract/errors.ts";
import { suiteVersion } from "../contract/suite-version.ts";
import type { Model, ModelDescription } from "../contract/types.ts";
import { TraceRecorder } from "../trace/recorder.ts";
import type { Trace, Verdict } from "../trace/types.ts";
import { writeTraceFile } from "../trace/write.ts";

export type PropertyStatus = "pass" | "fail" | "skip" | "error";

export interface PropertyResult {
  id: string;
  title: string;
  rules: string[];
  status: PropertyStatus;
  /** Cases run. */
  runs: number;
  durationMs: number;
  /**
   * A failure: milliseconds from the property's start until its first failing case was found;
   * the rest of durationMs went to shrinking. [HARNESS-MUTANT-4]
   */
  firstFailureMs?: number;
  /** Failure or error message, or the reason for a skip. */
  message?: string;
  seed?: number;
  path?: string;
  shrinks?: number;
  /** Steps judged with each known deviation's relaxation (id → count), when any was [HARNESS-KNOWN-1]. */
  tolerated?: Record<string, number>;
  /** The trace file written for a failure or an error. */
  trace?: string;
  /** Steps in that trace. */
  traceSteps?: number;
}

export interface RunReport {
  format: "iommu-conformance-report";
  version: 1;
  suite: string;
  adapter: string;
  model: { name: string; version: string };
  seed: number;
  runs: number;
  /** The known deviations the run tolerated (ids), when any [HARNESS-KNOWN-1]. */
  known?: string[];
  results: PropertyResult[];
  summary: { passed: number; failed: number; skipped: number; errors: number };
  durationMs: number;
}

export interface RunOptions {
  adapter: string;
  model: Model;
  runs: number;
  seed: number;
  path?: string;
  /** Where traces go (DIR/traces/); no traces are written without it. */
  outDir?: string;
  /** Budget for the whole run, in milliseconds. */
  timeLimitMs?: number;
  /** False: report the first failing case as found, without shrinking it (default true). */
  shrink?: boolean;
  /** Known deviations to tolerate (--known) [HARNESS-KNOWN-1]. */
  known?: readonly KnownDeviation[];
  onPropertyStart?: (property: PropertyDefinition, index: number, total: number) => void;
  onCases?: (done: number, total: number) => void;
  onPropertyEnd?: (result: PropertyResult) => void;
  /** Clock, replaceable for tests. */
  now?: () => number;
}

export async function runProperties(
  properties: PropertyDefinition[],
  options: RunOptions,
): Promise<RunReport> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const description = await options.model.describe();
  const results: PropertyResult[] = [];
  for (const [index, property] of properties.entries()) {
    options.onPropertyStart?.(property, index, properties.length);
    const result = await runOne(property, description, options, started, now);
    results.push(result);
    options.onPropertyEnd?.(result);
  }
  const count = (s: PropertyStatus): number => results.filter((r) => r.status === s).length;
  return {
    format: "iommu-conformance-report",
    version: 1,
    suite: suiteVersion(),
    adapter: options.adapter,
    model: { name: description.name, version: description.version },
    seed: options.seed,
    runs: options.runs,
    ...(options.known === undefined || options.known.length === 0
      ? {}
      : { known: options.known.map((d) => d.id) }),
    results,
    summary: { passed: count("pass"), failed: count("fail"), skipped: count("skip"), errors: count("error") },
    durationMs: Math.round(now() - started),
  };
}

async function runOne(
  property: PropertyDefinition,
  description: ModelDescription,
  options: RunOptions,
  runStarted: number,
  now: () => number,
): Promise<PropertyResult> {
  const started = now();
  const base = { id: property.id, title: property.title, rules: property.rules };
  const counts = new Map<string, number>();
  const done = (status: PropertyStatus, extra: Partial<PropertyResult> = {}): PropertyResult => ({
    ...base,
    status,
    runs: 0,
    durationMs: Math.round(now() - started),
    ...extra,
    ...(counts.size === 0 ? {} : { tolerated: Object.fromEntries([...counts].sort()) }),
  });

  const reason = property.needs(description);
  if (reason !== null) return done("skip", { message: reason });
  let timeLimitMs: number | undefined;
  if (options.timeLimitMs !== undefined) {
    timeLimitMs = options.timeLimitMs - (now() - runStarted);
    if (timeLimitMs <= 0)
      return done("skip", { message: "the run's time limit was reached before this property started" });
  }

  const recorder = new TraceRecorder(options.model);
  const traceFile =
    options.outDir === undefined
      ? undefined
      : join(options.outDir, "traces", `${safeName(property.id)}-${options.seed}.json`);
  let written: Trace | undefined;
  let cases = 0;
  let firstFailureAt: number | undefined;

  const writeTrace = async (
    verdict: Verdict,
    failure: CaseFailure | undefined,
    path: string,
  ): Promise<void> => {
    if (
      traceFile === undefined ||
      recorder.steps.length === 0 ||
      !recorder.steps.some((s) => s.op === "reset")
    )
      return;
    const checked = recorder.steps.map((s, i) => (s.checked ? i : -1)).filter((i) => i >= 0);
    const trace = recorder.toTrace({
      property: property.id,
      adapter: options.adapter,
      seed: options.seed,
      path,
      verdict,
      ...(failure === undefined
        ? {}
        : {
            failure: {
              step: failure.step ?? checked.at(-1) ?? recorder.steps.length - 1,
              message: failure.message,
              ...(failure.observed === undefined ? {} : { observed: failure.observed }),
              ...(failure.permitted === undefined ? {} : { permitted: failure.permitted }),
            },
          }),
    });
    await writeTraceFile(traceFile, trace);
    written = trace;
  };

  const ctx: PropertyContext = {
    model: recorder.model,
    description,
    adapter: options.adapter,
    runs: options.runs,
    seed: options.seed,
    ...(options.path === undefined ? {} : { path: options.path }),
    ...(timeLimitMs === undefined ? {} : { timeLimitMs }),
    ...(options.shrink === false ? { shrink: false } : {}),
    ...(options.known === undefined || options.known.length === 0
      ? {}
      : { tolerance: countingTolerance(options.known, counts) }),
    beginCase: () => {
      recorder.clear();
      cases++;
    },
    note: (command) => recorder.note(command),
    check: (index) => recorder.check(index),
    caseFailed: (failure) => {
      firstFailureAt ??= now();
      return writeTrace("fail", failure, "");
    },
    progress: (n) => options.onCases?.(n, options.runs),
  };

  let outcome: Awaited<ReturnType<PropertyDefinition["run"]>>;
  try {
    outcome = await property.run(ctx);
  } catch (e) {
    const message =
      e instanceof ProtocolError
        ? e.message
        : `${(e as Error).name ?? "Error"}: ${(e as Error).message ?? String(e)}`;
    const stepCount = recorder.steps.length;
    await writeTrace("error", stepCount > 0 ? { message, step: stepCount - 1 } : undefined, "").catch(
      () => undefined,
    );
    return done("error", { runs: cases, message, ...traceFields(traceFile, written) });
  }
  if (outcome.status === "skip") return done("skip", { runs: cases, message: outcome.reason });
  if (outcome.status === "pass") return done("pass", { runs: outcome.runs });
  // The last case reported through caseFailed is the shrunk one; rewrite it with its final path.
  if (written !== undefined && traceFile !== undefined) {
    written.path = outcome.path;
    await writeTraceFile(traceFile, written);
  }
  return done("fail", {
    runs: outcome.runs,
    message: outcome.message,
    seed: outcome.seed,
    path: outcome.path,
    ...(firstFailureAt === undefined ? {} : { firstFailureMs: Math.round(firstFailureAt - started) }),
    ...(outcome.shrinks === undefined ? {} : { shrinks: outcome.shrinks }),
    ...traceFields(traceFile, written),
  });
}

function traceFields(file: string | undefined, written: Trace | undefined): Partial<PropertyResult> {
  return file === undefined || written === undefined ? {} : { trace: file, traceSteps: written.steps.length };
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_");
}
