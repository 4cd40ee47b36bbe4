/** `iommu-conformance run`: properties against one adapter, with reports and traces. */
import { join, resolve } from "node:path";
import { loadAdapter, parseAdapterSpec } from "../adapters/adapter-spec.ts";
import { jsonReport } from "../runner/reports/json.ts";
import { junitReport } from "../runner/reports/junit.ts";
import { textReport } from "../runner/reports/text.ts";
import { type RunReport, runProperties } from "../runner/runner.ts";
import { writeFileAtomic } from "../trace/write.ts";
import { type CliIO, exitCodeFor, UsageError } from "./errors.ts";
import { resolveKnown } from "./known.ts";
import { createProgress } from "./progress.ts";
import { loadRegistry, selectProperties } from "./registry.ts";

export type ReportFormat = "text" | "json" | "junit";

export interface RunCommandOptions {
  adapter: string;
  property?: string;
  runs: number;
  seed?: number;
  path?: string;
  report: ReportFormat;
  out: string;
  timeLimit?: number;
  timeout: number;
  registry?: string;
  /** Known deviations to tolerate: ids, a file, or none (default: qemu's recorded findings). */
  known?: string;
}

export function renderReport(report: RunReport, format: ReportFormat): string {
  if (format === "json") return jsonReport(report);
  if (format === "junit") return junitReport(report);
  return textReport(report);
}

const REPORT_FILE: Record<ReportFormat, string> = {
  text: "report.txt",
  json: "report.json",
  junit: "junit.xml",
};

export async function runCommand(opts: RunCommandOptions, io: CliIO): Promise<number> {
  parseAdapterSpec(opts.adapter); // a bad spec is a usage error before anything runs
  const all = await loadRegistry(opts.registry, io.cwd);
  const chosen = selectProperties(all, opts.property);
  if (opts.path !== undefined && (opts.seed === undefined || chosen.length !== 1)) {
    throw new UsageError(
      "--path replays one case: give --seed too and a --property that selects exactly one property",
    );
  }
  // [HARNESS-REPORT-2] without --seed a random one is chosen and printed, so any run can be repeated.
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fff_ffff) | 0;
  const outDir = resolve(io.cwd, opts.out);
  const model = await loadAdapter(opts.adapter, { timeoutMs: opts.timeout, cwd: io.cwd, seed });
  const progress = createProgress(io.isTTY);
  let report: RunReport;
  try {
    const known = await resolveKnown(
      opts.known,
      parseAdapterSpec(opts.adapter).kind,
      (await model.describe()).version,
      io.cwd,
    );
    report = await runProperties(chosen, {
      adapter: opts.adapter,
      model,
      runs: opts.runs,
      seed,
      outDir,
      known,
      ...(opts.path === undefined ? {} : { path: opts.path }),
      ...(opts.timeLimit === undefined ? {} : { timeLimitMs: opts.timeLimit * 1000 }),
      onPropertyStart: (p) => progress.start(p.id, opts.runs),
      onCases: (done) => progress.update(done),
      onPropertyEnd: () => progress.stop(),
    });
  } finally {
    progress.stop();
    await model.close().catch(() => undefined);
  }
  const text = renderReport(report, opts.report);
  io.out(text);
  await writeFileAtomic(join(outDir, REPORT_FILE[opts.report]), text);
  return exitCodeFor(report.summary.failed, report.summary.errors);
}
