/**
 * `iommu-conformance merge REPORT.json…`: the shards' JSON reports as one report, printed as text
 * and written to OUT in the requested formats. [HARNESS-SHARD-2]
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { MergeError, mergeReports } from "../runner/merge.ts";
import type { ReportFormat } from "../runner/reports/index.ts";
import { textReport } from "../runner/reports/text.ts";
import { validateReport } from "../runner/reports/validate.ts";
import type { RunReport } from "../runner/runner.ts";
import { colors } from "./colors.ts";
import { type CliIO, exitCodeFor, UsageError } from "./errors.ts";
import { prepareOutDir } from "./out-dir.ts";
import { writeReports } from "./run.ts";

export interface MergeCommandOptions {
  out: string;
  report: ReportFormat[];
}

async function loadReport(file: string, cwd: string): Promise<RunReport> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, file), "utf8");
  } catch (e) {
    throw new UsageError(`${file}: cannot read it (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not JSON (${(e as Error).message})`);
  }
  const problems = validateReport(value);
  if (problems.length > 0)
    throw new UsageError(`${file}: not a run report of format version 2:\n  ${problems.join("\n  ")}`);
  return value as RunReport;
}

export async function mergeCommand(files: string[], opts: MergeCommandOptions, io: CliIO): Promise<number> {
  const reports = [];
  for (const file of files) reports.push(await loadReport(file, io.cwd));
  let merged: RunReport;
  try {
    merged = mergeReports(reports);
  } catch (e) {
    if (e instanceof MergeError) throw new UsageError(`cannot merge: ${e.message}`);
    throw e;
  }
  const outDir = await prepareOutDir(opts.out, io.cwd);
  io.out(textReport(merged, colors(io.color === true)));
  await writeReports(merged, opts.report, outDir, io);
  const s = merged.summary;
  return exitCodeFor(s.failed, s.errors, s.incomplete);
}
