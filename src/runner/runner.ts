/**
 * Runs properties against one model: skips those whose needs are not met, records every
 * case, writes a trace for each failing (or broken) property, and collects the results for
 * the reports. [HARNESS-SKIP-1] [HARNESS-SKIP-2] [HARNESS-TRACE-6]
 */
import { join } from "node:path";
import type { CaseFailure, PropertyContext, PropertyDefinition } from "../cases/property.ts";
import { CaseBroke } from "../cases/run-cases.ts";
import { ProtocolError } from "../contract/errors.ts";
import { suiteVersion } from "../contract/suite-version.ts";
import type { Model, ModelDescription } from "../contract/types.ts";
import { TraceRecorder } from "../trace/recorder.ts";
import type { Trace, Verdict } from "../trace/types.ts";
import { writeTraceFile } from "../trace/write.ts";
import { type CommandContext, type FailureCommands, failureCommands } from "./commands.ts";
import { type Finding, findingOf } from "./finding.ts";

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
  /** With path, fast-check's record for properties built on fc.commands. [HARNESS-SEED-1] */
  replayPath?: string;
  shrinks?: number;
  /** The trace file written for a failure or an error. */
  trace?: string;
  /** Steps in that trace. */
  traceSteps?: number;
  /** Commands that rerun, replay and export a failure, as the user types them. [HARNESS-SEED-2] */
  commands?: FailureCommands;
  /** The failure in words: rule, request, observed against permitted, walks. [HARNESS-FAIL-1] */
  finding?: Finding;
}

export interface RunReport {
  format: "iommu-conformance-report";
  version: 1;
  suite: string;
  adapter: string;
  model: { name: string; version: string };
  seed: number;
  runs: number;
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
  /** With path: fast-check's record for properties built on fc.commands. [HARNESS-SEED-1] */
  replayPath?: string;
  /** Where traces go (DIR/traces/); no traces are written without it. */
  outDir?: string;
  /** Budget for the whole run, in milliseconds. */
  timeLimitMs?: number;
  /** False: report the first failing case as found, without shrinking it (default true). */
  shrink?: boolean;
  onPropertyStart?: (property: PropertyDefinition, index: number, total: number) => void;
  onCases?: (done: number, total: number) => void;
  onPropertyEnd?: (result: PropertyResult) => void;
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
  const results: PropertyResult[] = [];
  for (const [index, property] of properties.entries()) {
    options.onPropertyStart?.(property, index, properties.length);
    const result = await runOne(property, description, options, started, now);
    if (result.status === "fail" || result.status === "error") {
      const commands = failureCommands(options.adapter, result, options.commands ?? DEFAULT_COMMANDS);
      if (Object.keys(commands).length > 0) result.commands = commands;
    }
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
  const done = (status: PropertyStatus, extra: Partial<PropertyResult> = {}): PropertyResult => ({
    ...base,
    status,
    runs: 0,
    durationMs: Math.round(now() - started),
    ...extra,
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
    await writeTraceFile(file, trace);
    if (file === traceFile) written = trace;
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
    // [HARNESS-BROKEN-1] the case that broke, ending at the call that broke; beside a failure
    // already kept, in a file of its own.
    caseBroke: (error, afterFailure) => {
      firstFailureAt ??= now();
      const failure = { message: errorMessage(error), step: recorder.steps.length - 1 };
      const file = afterFailure ? traceFile?.replace(/\.json$/, "-broke.json") : traceFile;
      if (afterFailure) brokeFile = file;
      return writeTrace("error", failure, "", file);
    },
    progress: (n) => options.onCases?.(n, options.runs),
  };

  let outcome: Awaited<ReturnType<PropertyDefinition["run"]>>;
  try {
    outcome = await property.run(ctx);
  } catch (e) {
    if (e instanceof CaseBroke) {
      // The trace was written when the case broke; now it gets the case's final path.
      const replay = e.replayPath === undefined ? {} : { replayPath: e.replayPath };
      if (written !== undefined && traceFile !== undefined) {
        Object.assign(written, { path: e.path, ...replay });
        await writeTraceFile(traceFile, written);
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
  if (outcome.status === "pass") return done("pass", { runs: outcome.runs });
  // The last case reported through caseFailed is the shrunk one; rewrite it with its final path.
  const replay = outcome.replayPath === undefined ? {} : { replayPath: outcome.replayPath };
  if (written !== undefined && traceFile !== undefined) {
    Object.assign(written, { path: outcome.path, ...replay });
    await writeTraceFile(traceFile, written);
  }
  return done("fail", {
    runs: outcome.runs,
    message: brokeFile === undefined ? outcome.message : `${outcome.message} (its trace: ${brokeFile})`,
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
  const finding = findingOf(written);
  return { trace: file, traceSteps: written.steps.length, ...(finding === undefined ? {} : { finding }) };
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, "_");
}
