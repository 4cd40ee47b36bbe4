/**
 * `iommu-conformance run`: properties against one adapter. The text report streams to stdout as
 * each property finishes (with a progress line on a terminal); every requested format is written
 * to its own file in OUT. [HARNESS-REPORT-1] [HARNESS-OUT-1] [HARNESS-STOP-1]
 */
import { join } from "node:path";
import { loadAdapter, parseAdapterSpec } from "../adapters/adapter-spec.ts";
import { suiteVersion } from "../contract/suite-version.ts";
import type { Model } from "../contract/types.ts";
import { REPORTERS, type ReportFormat } from "../runner/reports/index.ts";
import { textHeader, textResult, textSummary } from "../runner/reports/text.ts";
import { type RunReport, runProperties, type Shard } from "../runner/runner.ts";
import { writeFileAtomic } from "../trace/write.ts";
import { colors } from "./colors.ts";
import { type CliIO, EXIT_FAILED, exitCodeFor, UsageError } from "./errors.ts";
import { abortOnSignals, signalExitCode } from "./interrupt.ts";
import { resolveKnown } from "./known.ts";
import { prepareOutDir } from "./out-dir.ts";
import { createRunProgress } from "./progress.ts";
import { reapChildren } from "./reap.ts";
import { loadRegistry, selectProperties } from "./registry.ts";
import { shardOf } from "./shard.ts";

export interface RunCommandOptions {
  adapter: string;
  property?: string;
  runs: number;
  seed?: number;
  path?: string;
  replayPath?: string;
  /** The formats written to OUT; the text report is on stdout whatever they are. */
  report: ReportFormat[];
  out: string;
  timeLimit?: number;
  /** False with --no-shrink. */
  shrink?: boolean;
  timeout: number;
  registry?: string;
  shard?: Shard;
  /** Known deviations to tolerate: ids, a file, or none (default: qemu's recorded findings). */
  known?: string;
}

/** Write each requested report to its file in `outDir`; a failed write is reported, never thrown. */
export async function writeReports(
  report: RunReport,
  formats: readonly ReportFormat[],
  outDir: string,
  io: CliIO,
): Promise<boolean> {
  let ok = true;
  for (const format of new Set(formats)) {
    const reporter = REPORTERS[format];
    const file = join(outDir, reporter.file);
    try {
      await writeFileAtomic(file, reporter.render(report));
    } catch (e) {
      ok = false;
      io.err(`iommu-conformance: cannot write the ${format} report ${file}: ${(e as Error).message}\n`);
    }
  }
  return ok;
}

export async function runCommand(opts: RunCommandOptions, io: CliIO): Promise<number> {
  parseAdapterSpec(opts.adapter); // a bad spec is a usage error before anything runs
  const all = await loadRegistry(opts.registry, io.cwd);
  const selected = selectProperties(all, opts.property);
  if (opts.path !== undefined && (opts.seed === undefined || selected.length !== 1)) {
    throw new UsageError(
      "--path replays one case: give --seed too and a --property that selects exactly one property",
    );
  }
  if (opts.replayPath !== undefined && opts.path === undefined)
    throw new UsageError("--replay-path goes with --path (both are printed with a failure)");
  if (opts.shard !== undefined && opts.seed === undefined)
    throw new UsageError("--shard needs --seed, so that every shard runs the same cases");
  const chosen = opts.shard === undefined ? selected : shardOf(selected, opts.shard);
  const outDir = await prepareOutDir(opts.out, io.cwd);
  // [HARNESS-REPORT-2] without --seed a random one is chosen and printed, so any run can be repeated.
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fff_ffff) | 0;

  const controller = new AbortController();
  const uninstall = abortOnSignals(controller, (signal) =>
    io.err(`\niommu-conformance: ${signal}: stopping; writing the partial report\n`),
  );
  let model: Model | undefined;
  try {
    model = await loadAdapter(opts.adapter, { timeoutMs: opts.timeout, cwd: io.cwd, seed });
    // [HARNESS-KNOWN-1] [QEMU-FIND-3] what the run tolerates (qemu: its version's recorded findings).
    const known = await resolveKnown(
      opts.known,
      parseAdapterSpec(opts.adapter).kind,
      (await model.describe()).version,
      io.cwd,
    );
    const paint = colors(io.color === true);
    const progress = createRunProgress(io.terminal, chosen.length * opts.runs, (t) => io.out(t));
    let report: RunReport;
    try {
      report = await runProperties(chosen, {
        adapter: opts.adapter,
        model,
        runs: opts.runs,
        seed,
        outDir,
        known,
        signal: controller.signal,
        ...(opts.shard === undefined ? {} : { shard: opts.shard }),
        ...(opts.path === undefined ? {} : { path: opts.path }),
        ...(opts.replayPath === undefined ? {} : { replayPath: opts.replayPath }),
        // [HARNESS-SEED-2] the commands printed with failures, as the user types them here.
        commands: {
          invocation: io.invocation ?? "npx iommu-conformance",
          cwd: io.cwd,
          extraArgs: [
            ...(opts.registry === undefined ? [] : ["--registry", opts.registry]),
            ...(opts.timeout === 10_000 ? [] : ["--timeout", String(opts.timeout)]),
          ],
        },
        ...(opts.timeLimit === undefined ? {} : { timeLimitMs: opts.timeLimit * 1000 }),
        ...(opts.shrink === false ? { shrink: false } : {}),
        onRunStart: (description) =>
          io.out(
            textHeader({
              suite: suiteVersion(),
              adapter: opts.adapter,
              model: description,
              seed,
              runs: opts.runs,
              known: known.map((d) => d.id),
              ...(opts.shard === undefined ? {} : { shard: opts.shard }),
            }),
          ),
        onPropertyStart: (p, index) => progress.property(p.id, index * opts.runs),
        onCases: (done) => progress.cases(done),
        onPropertyEnd: (result) => progress.print(textResult(result, opts.adapter, paint)),
      });
    } finally {
      progress.stop();
    }
    io.out(textSummary(report, paint));
    await writeReports(report, opts.report, outDir, io);
    const { failed, errors, incomplete } = report.summary;
    if (report.interrupted !== undefined)
      return failed > 0 ? EXIT_FAILED : signalExitCode(report.interrupted);
    return exitCodeFor(failed, errors, incomplete);
  } finally {
    if (controller.signal.aborted) reapChildren(); // models and QEMU, with whatever they started
    await model?.close().catch(() => undefined);
    uninstall();
  }
}
