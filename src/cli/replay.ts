/** `iommu-conformance replay FILE|DIR`: re-run traces against an adapter. [HARNESS-REPLAY-1] */
import { relative, resolve } from "node:path";
import { loadAdapter, parseAdapterSpec } from "../adapters/adapter-spec.ts";
import { recordedResultJudge, type StepJudge } from "../cases/judge.ts";
import { countingTolerance } from "../cases/known/index.ts";
import type { PropertyDefinition } from "../cases/property.ts";
import { suiteVersion } from "../contract/suite-version.ts";
import type { Model } from "../contract/types.ts";
import type { Tolerance } from "../oracle/index.ts";
import { type ReplayResult, replayTrace } from "../runner/replay.ts";
import { listTraceFiles, loadTraceFile, TraceLoadError } from "../trace/load.ts";
import type { Trace } from "../trace/types.ts";
import { type CliIO, exitCodeFor } from "./errors.ts";
import { resolveKnown } from "./known.ts";
import { loadRegistry } from "./registry.ts";

export interface ReplayCommandOptions {
  adapter?: string;
  timeout: number;
  report: "text" | "json";
  registry?: string;
  /** Known deviations to judge with their relaxations: ids or a file [HARNESS-KNOWN-1]. */
  known?: string;
}

interface Row {
  file: string;
  property?: string;
  adapter?: string;
  result: ReplayResult;
}

const LABEL: Record<ReplayResult["outcome"], string> = {
  reproduced: "REPRODUCED",
  fails: "FAILS     ",
  "passes-now": "PASSES NOW",
  passes: "PASSES    ",
  error: "ERROR     ",
};

export async function replayCommand(target: string, opts: ReplayCommandOptions, io: CliIO): Promise<number> {
  if (opts.adapter !== undefined) parseAdapterSpec(opts.adapter);
  const files = await listTraceFiles(resolve(io.cwd, target));
  let properties: PropertyDefinition[] = [];
  try {
    properties = await loadRegistry(opts.registry, io.cwd);
  } catch (e) {
    // Without a registry every trace is judged by its recording.
    if (opts.registry !== undefined) throw e;
  }
  const models = new Map<string, Model>();
  const rows: Row[] = [];
  // Replay tolerates only what --known names (no adapter default: a finding must reproduce).
  const known = opts.known === undefined ? [] : await resolveKnown(opts.known, "", "", io.cwd);
  const counts = new Map<string, number>();
  const tolerance = known.length === 0 ? undefined : countingTolerance(known, counts);
  try {
    for (const file of files) {
      const rel = relative(io.cwd, file);
      const name = rel === "" || rel.startsWith("..") ? file : rel;
      let trace: Trace;
      try {
        trace = await loadTraceFile(file);
      } catch (e) {
        const message = e instanceof TraceLoadError ? e.problems.join("; ") : (e as Error).message;
        rows.push({ file: name, result: { outcome: "error", recorded: "error", message, stepsRun: 0 } });
        continue;
      }
      // [HARNESS-REPLAY-1] without --adapter each trace replays against the adapter that recorded it.
      const spec = opts.adapter ?? trace.adapter;
      const result = await replayOne(trace, spec, models, properties, opts, io, tolerance);
      rows.push({ file: name, property: trace.property, adapter: spec, result });
    }
  } finally {
    for (const m of models.values()) await m.close().catch(() => undefined);
  }
  const count = (o: ReplayResult["outcome"][]): number =>
    rows.filter((r) => o.includes(r.result.outcome)).length;
  io.out(opts.report === "json" ? `${JSON.stringify(replayReport(rows), null, 2)}\n` : textRows(rows));
  if (counts.size > 0 && opts.report !== "json")
    io.out(`tolerated: ${[...counts].map(([id, n]) => `${id} ×${n}`).join(", ")}\n`);
  return exitCodeFor(count(["reproduced", "fails"]), count(["error"]));
}

async function replayOne(
  trace: Trace,
  spec: string,
  models: Map<string, Model>,
  properties: PropertyDefinition[],
  opts: ReplayCommandOptions,
  io: CliIO,
  tolerance: Tolerance | undefined,
): Promise<ReplayResult> {
  let model = models.get(spec);
  try {
    if (model === undefined) {
      model = await loadAdapter(spec, { timeoutMs: opts.timeout, cwd: io.cwd, seed: trace.seed });
      models.set(spec, model);
    }
  } catch (e) {
    return { outcome: "error", recorded: trace.verdict, message: (e as Error).message, stepsRun: 0 };
  }
  const property = properties.find((p) => p.id === trace.property);
  const judge: StepJudge = property?.judge?.(trace, tolerance) ?? recordedResultJudge(trace);
  return replayTrace(trace, model, judge);
}

/** `replay --report json`: versioned like the run report (docs/reports.md). [HARNESS-REPORT-3] */
function replayReport(rows: Row[]) {
  const n = (o: ReplayResult["outcome"]): number => rows.filter((r) => r.result.outcome === o).length;
  return {
    format: "iommu-conformance-replay",
    version: 1,
    suite: suiteVersion(),
    traces: rows,
    summary: {
      reproduced: n("reproduced"),
      fails: n("fails"),
      passesNow: n("passes-now"),
      passes: n("passes"),
      errors: n("error"),
    },
  };
}

function textRows(rows: Row[]): string {
  const lines: string[] = [];
  for (const r of rows) {
    const what = r.property === undefined ? "" : ` (${r.property} on ${r.adapter})`;
    lines.push(`${LABEL[r.result.outcome]} ${r.file}${what}`);
    const at = r.result.step === undefined ? "" : `step ${r.result.step} (${r.result.op ?? "?"}): `;
    for (const l of `${at}${r.result.message}`.split("\n")) lines.push(`    ${l}`);
    if (r.result.observed !== undefined) lines.push(`    observed:  ${JSON.stringify(r.result.observed)}`);
    if (r.result.permitted !== undefined) lines.push(`    permitted: ${JSON.stringify(r.result.permitted)}`);
  }
  const n = (o: ReplayResult["outcome"]): number => rows.filter((r) => r.result.outcome === o).length;
  lines.push(
    `${rows.length} traces: ${n("reproduced")} reproduced, ${n("fails")} fail, ${n("passes-now")} pass now, ${n("passes")} pass, ${n("error")} errors`,
  );
  return `${lines.join("\n")}\n`;
}
