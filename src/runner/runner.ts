/**
 * Runs properties against one model: skips those whose needs are not met, records every
 * case, writes a trace for each failing (or broken) property, and collects the results for
 * the reports. A property the time limit or an interrupt cuts short is incomplete, never a
 * pass. [HARNESS-SKIP-1] [HARNESS-SKIP-2] [HARNESS-TRACE-6] [HARNESS-STOP-1] [HARNESS-STOP-2]
 */
import { join } from "node:path";
import { countingTolerance, type KnownDeviation } from "../cases/known/index.ts";
import type { CaseFailure, PropertyContext, PropertyDefinition } from "../cases/property.ts";
import { CaseBroke } from "../cases/run-cases.ts";
import { ProtocolError } from "../contract/errors.ts";
import { suiteVersion } from "../contract/suite-version.ts";
import type { Model, ModelDescription } from "../contract/types.ts";
import type { Json } from "../contract/wire.ts";
import { TraceRecorder } from "../trace/recorder.ts";
import type { Trace, Verdict } from "../trace/types.ts";
import { writeTraceFile } from "../trace/write.ts";
import { type CommandContext, type FailureCommands, failureCommands } from "./commands.ts";
import { type Finding, findingOf } from "./finding.ts";

export type PropertyStatus = "pass" | "fail" | "skip" | "error" | "incomplete";

/** The report format's version: 2 added "incomplete", `interrupted` and `shard`. [HARNESS-REPORT-3] */
export const REPORT_VERSION = 2;

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
  /** Failure or error message, or the reason for a skip or why it is incomplete. */
  message?: string;
  seed?: number;
  path?: string;
  /** With path, fast-check's record for properties built on fc.commands. [HARNESS-SEED-1] */
  replayPath?: string;
  shrinks?: number;
  /** Steps judged with each known deviation's relaxation (id → count), when any was [HARNESS-KNOWN-1]. */
  tolerated?: Record<string, number>;
  /** The trace file written for a failure or an error. */
  trace?: string;
  /** Steps in that trace. */
  traceSteps?: number;
  /** The judged step of a failure in that trace, what the model did there and what was permitted. */
  failedStep?: number;
  observed?: Json;
  permitted?: Json;
  /** Commands that rerun, replay and export a failure, as the user types them. [HARNESS-SEED-2] */
  commands?: FailureCommands;
  /** The failure in words: rule, request, observed against permitted, walks. [HARNESS-FAIL-1] */
  finding?: Finding;
}

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  errors: number;
  incomplete: number;
}

export interface RunReport {
  format: "iommu-conformance-report";
  version: typeof REPORT_VERSION;
  suite: string;
  adapter: string;
  model: { name: string; version: string };
  seed: number;
  runs: number;
  /** The known deviations the run tolerated (ids), when any [HARNESS-KNOWN-1]. */
  known?: string[];
  /** This run covered one shard of the selected properties. [HARNESS-SHARD-1] */
  shard?: Shard;
  /** Why the run stopped early ("SIGINT", "SIGTERM"); absent when it ran to its end. */
  interrupted?: string;
  results: PropertyResult[];
  summary: RunSummary;
  durationMs: number;
}

export function summarize(results: PropertyResult[]): RunSummary {
  const count = (s: PropertyStatus): number => results.filter((r) => r.status === s).length;
  return {
    passed: count("pass"),
    failed: count("fail"),
    skipped: count("skip"),
    errors: count("error"),
    incomplete: count("incomplete"),
  };
}

export interface RunOptions {
  adapter: string;
  model: Model;
  runs: number;
  seed: number;
  path?: string;
  /** With path: fast-check's record for properties built on fc.commands. [HARNESS-SEED-1] */
  replayPath?: string;
  /** Where traces go (DIR/traces/); no traces are written without it. */
  outDir?: string;
  /** Budget for the whole run, in milliseconds. */
  timeLimitMs?: number;
  /** False: report the first failing case as found, without shrinking it (default true). */
  shrink?: boolean;
  /** Known deviations to tolerate (--known) [HARNESS-KNOWN-1]. */
  known?: readonly KnownDeviation[];
  /** Aborting it (reason: the signal's name) stops the run: the running property and the rest are incomplete. */
  signal?: AbortSignal;
  /** Recorded in the report when the properties are one shard of a catalogue. */
  shard?: Shard;
  /** The model has described itself; the properties are about to run. */
  onRunStart?: (model: { name: string; version: string }) => void;
  onPropertyStart?: (property: PropertyDefinition, index: number, total: number) => void;
  onCases?: (done: number, total: number) => void;
  onPropertyEnd?: (result: PropertyResult) => void;
  /** A trace file has been written (or rewritten while shrinking). */
  onTraceWritten?: (file: string) => void;
  /** How the user calls the CLI, for the commands printed with failures. */
  commands?: CommandContext;
  /** Clock, replaceable for tests. */
  now?: () => number;
}

/** Without the CLI's knowledge: a local install's invocation, file names as they are. */
const DEFAULT_COMMANDS: CommandContext = { invocation: "npx iommu-conformance", cwd: "" };

export async function runProperties(
  properties: PropertyDefinition[],
  options: RunOptions,
): Promise<RunReport> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const description = await options.model.describe();
  options.onRunStart?.({ name: description.name, version: description.version });
  const results: PropertyResult[] = [];
  for (const [index, property] of properties.entries()) {
    const signal = options.signal;
    const result = signal?.aborted
      ? notRun(property, `not run: the run was interrupted (${String(signal.reason)})`)
      : await (async () => {
          options.onPropertyStart?.(property, index, properties.length);
          return runOne(property, description, options, started, now);
        })();
    if (result.status === "fail" || result.status === "error") {
      const commands = failureCommands(options.adapter, result, options.commands ?? DEFAULT_COMMANDS);
      if (Object.keys(commands).length > 0) result.commands = commands;
    }
    results.push(result);
    options.onPropertyEnd?.(result);
  }
  return {
    format: "iommu-conformance-report",
    version: REPORT_VERSION,
    suite: suiteVersion(),
    adapter: options.adapter,
    model: { name: description.name, version: description.version },
    seed: options.seed,
    runs: options.runs,
    ...(options.known === undefined || options.known.length === 0
      ? {}
      : { known: options.known.map((d) => d.id) }),
    ...(options.shard === undefined ? {} : { shard: options.shard }),
    ...(options.signal?.aborted ? { interrupted: String(options.signal.reason) } : {}),
    results,
    summary: summarize(results),
    durationMs: Math.round(now() - started),
  };
}

function notRun(property: PropertyDefinition, message: string): PropertyResult {
  return {
    id: property.id,
    title: property.title,
    rules: property.rules,
    status: "incomplete",
    runs: 0,
    durationMs: 0,
    message,
  };
}

/**
 * Resolves with the abort reason when `signal` is aborted; never, without one. `dispose` removes
 * the listener, so a signal shared by many runs (a kill matrix) does not collect them.
 */
function whenAborted(signal: AbortSignal | undefined): { reason: Promise<string>; dispose: () => void } {
  let listener: (() => void) | undefined;
  const reason = new Promise<string>((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) resolve(String(signal.reason));
    else {
      listener = () => resolve(String(signal.reason));
      signal.addEventListener("abort", listener, { once: true });
    }
  });
  return {
    reason,
    dispose: () => {
      if (listener !== undefined) signal?.removeEventListener("abort", listener);
    },
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
      return done("incomplete", { message: "not run: the run's time limit was reached before it started" });
  }

  const recorder = new TraceRecorder(options.model);
  const traceFile =
    options.outDir === undefined
      ? undefined
      : join(options.outDir, "traces", `${safeName(property.id)}-${options.seed}.json`);
  let written: Trace | undefined;
  /** Trace writes under way: an interrupted run waits for them, so every trace is kept whole. */
  const writing = new Set<Promise<void>>();
  let cases = 0;
  /** Why a trace could not be written, if one could not. */
  let traceProblem: string | undefined;
  let firstFailureAt: number | undefined;
  /** The trace of a case that broke while a failure was being shrunk. */
  let brokeFile: string | undefined;

  const writeTrace = async (
    verdict: Verdict,
    failure: CaseFailure | undefined,
    path: string,
    file = traceFile,
  ): Promise<void> => {
    if (file === undefined || recorder.steps.length === 0 || !recorder.steps.some((s) => s.op === "reset"))
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
              ...(failure.rule === undefined ? {} : { rule: failure.rule }),
              ...(failure.observed === undefined ? {} : { observed: failure.observed }),
              ...(failure.permitted === undefined ? {} : { permitted: failure.permitted }),
            },
          }),
    });
    const write = writeTraceFile(file, trace);
    writing.add(write);
    try {
      await write;
    } finally {
      writing.delete(write);
    }
    if (file === traceFile) written = trace;
    options.onTraceWritten?.(file);
  };

  const ctx: PropertyContext = {
    model: recorder.model,
    description,
    adapter: options.adapter,
    runs: options.runs,
    seed: options.seed,
    ...(options.path === undefined ? {} : { path: options.path }),
    ...(options.replayPath === undefined ? {} : { replayPath: options.replayPath }),
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
    caseFailed: async (failure) => {
      firstFailureAt ??= now();
      // [HARNESS-OUT-1] a trace that cannot be written never turns the failure into an error.
      await writeTrace("fail", failure, "").catch((e: unknown) => {
        traceProblem ??= (e as Error).message;
      });
    },
    // [HARNESS-BROKEN-1] the case that broke, ending at the call that broke; beside a failure
    // already kept, in a file of its own.
    caseBroke: (error, afterFailure) => {
      firstFailureAt ??= now();
      const failure = { message: errorMessage(error), step: recorder.steps.length - 1 };
      const file = afterFailure ? traceFile?.replace(/\.json$/, "-broke.json") : traceFile;
      if (afterFailure) brokeFile = file;
      return writeTrace("error", failure, "", file).catch((e: unknown) => {
        traceProblem ??= (e as Error).message;
      });
    },
    progress: (n) => options.onCases?.(n, options.runs),
    interrupted: () => (options.signal?.aborted ? String(options.signal.reason) : undefined),
  };

  let outcome: Awaited<ReturnType<PropertyDefinition["run"]>>;
  try {
    const running = property.run(ctx);
    running.catch(() => undefined); // after an interrupt nobody awaits it
    const aborted = whenAborted(options.signal);
    const settled = await Promise.race([
      running.then((o) => ({ outcome: o })),
      aborted.reason.then((reason) => ({ reason })),
    ]).finally(aborted.dispose);
    if ("reason" in settled) {
      // [HARNESS-STOP-1] stop now; the traces being written are finished first.
      await Promise.allSettled([...writing]);
      if (written?.verdict === "fail") {
        return done("fail", {
          runs: cases,
          message: `${written.failure?.message ?? "failed"} (interrupted by ${settled.reason} while shrinking; the trace holds the smallest case found so far)`,
          seed: options.seed,
          ...traceFields(traceFile, written),
        });
      }
      return done("incomplete", {
        runs: cases,
        message: `interrupted by ${settled.reason} after ${cases} of ${options.runs} cases`,
      });
    }
    outcome = settled.outcome;
  } catch (e) {
    if (e instanceof CaseBroke) {
      // The trace was written when the case broke; now it gets the case's final path.
      const replay = e.replayPath === undefined ? {} : { replayPath: e.replayPath };
      if (written !== undefined && traceFile !== undefined) {
        Object.assign(written, { path: e.path, ...replay });
        await writeTraceFile(traceFile, written).catch((err: unknown) => {
          traceProblem ??= (err as Error).message;
        });
      }
      return done("error", {
        runs: cases,
        message: errorMessage(e.error),
        seed: e.seed,
        path: e.path,
        ...replay,
        ...traceFields(traceFile, written),
      });
    }
    const message = errorMessage(e);
    const stepCount = recorder.steps.length;
    if (written === undefined)
      await writeTrace("error", stepCount > 0 ? { message, step: stepCount - 1 } : undefined, "").catch(
        () => undefined,
      );
    return done("error", { runs: cases, message, ...traceFields(traceFile, written) });
  }
  if (outcome.status === "skip") return done("skip", { runs: cases, message: outcome.reason });
  if (outcome.status === "incomplete")
    return done("incomplete", { runs: outcome.runs, message: outcome.reason });
  if (outcome.status === "pass") return done("pass", { runs: outcome.runs });
  // The last case reported through caseFailed is the shrunk one; rewrite it with its final path.
  const replay = outcome.replayPath === undefined ? {} : { replayPath: outcome.replayPath };
  if (written !== undefined && traceFile !== undefined) {
    Object.assign(written, { path: outcome.path, ...replay });
    await writeTraceFile(traceFile, written).catch((e: unknown) => {
      traceProblem ??= (e as Error).message;
    });
  }
  const unwritten = traceProblem === undefined ? "" : `\nthe trace could not be written: ${traceProblem}`;
  return done("fail", {
    runs: outcome.runs,
    message: `${brokeFile === undefined ? outcome.message : `${outcome.message} (its trace: ${brokeFile})`}${unwritten}`,
    seed: outcome.seed,
    path: outcome.path,
    ...replay,
    ...(firstFailureAt === undefined ? {} : { firstFailureMs: Math.round(firstFailureAt - started) }),
    ...(outcome.shrinks === undefined ? {} : { shrinks: outcome.shrinks }),
    ...traceFields(traceFile, written),
  });
}

function errorMessage(e: unknown): string {
  if (e instanceof ProtocolError) return e.message;
  if (e instanceof Error) return `${e.name ?? "Error"}: ${e.message}`;
  return String(e);
}

function traceFields(file: string | undefined, written: Trace | undefined): Partial<PropertyResult> {
  if (file === undefined || written === undefined) return {};
  const f = written.failure;
  const finding = findingOf(written);
  return {
    trace: file,
    traceSteps: written.steps.length,
    ...(f === undefined ? {} : { failedStep: f.step }),
    ...(f?.observed === undefined ? {} : { observed: f.observed }),
    ...(f?.permitted === undefined ? {} : { permitted: f.permitted }),
    ...(finding === undefined ? {} : { finding }),
  };
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_");
}
