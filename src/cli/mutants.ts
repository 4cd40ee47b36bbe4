/**
 * `iommu-conformance mutants`: run the properties against every built-in mutant and print the
 * kill matrix: which property kills each mutant, how fast, and how short its trace is. SIGINT or
 * SIGTERM stops it: the matrix so far is printed and written, the rest is INCOMPLETE.
 * [HARNESS-MUTANT-1] [HARNESS-STOP-4]
 */
import { join, resolve } from "node:path";
import { loadAdapter } from "../adapters/adapter-spec.ts";
import type { PropertyDefinition } from "../cases/property.ts";
import { displayPath } from "../runner/commands.ts";
import { killMatrixHtml } from "../runner/reports/html.ts";
import { type PropertyResult, runProperties } from "../runner/runner.ts";
import { writeFileAtomic } from "../trace/write.ts";
import { type CliIO, EXIT_ERROR, EXIT_FAILED, EXIT_OK } from "./errors.ts";
import { matchesGlob } from "./glob.ts";
import { abortOnSignals, signalExitCode } from "./interrupt.ts";
import { listMutants } from "./list.ts";
import { incompleteRow, type MutantRow, notRunMessage, runMutant } from "./mutant-run.ts";
import { formatUnsound, parseUnsound, runInChildren } from "./mutants-children.ts";
import { createProgress } from "./progress.ts";
import { reapChildren } from "./reap.ts";
import { loadRegistry, selectProperties } from "./registry.ts";

export interface MutantsCommandOptions {
  runs: number;
  seed?: number;
  property?: string;
  out: string;
  timeout: number;
  registry?: string;
  report: "text" | "json" | "html";
  /** Only mutants whose id matches this glob (*, ?, comma-separated). */
  mutant?: string;
  /** Also run, against the mutants, the properties that fail on the reference (their kills never count). */
  all?: boolean;
  /** Child processes to spread the mutants over (default 1: all in this process). */
  jobs?: number;
  /** Skip the baseline: these property ids (comma-separated) fail on the reference. For --jobs children. */
  unsound?: string;
}

export async function mutantsCommand(opts: MutantsCommandOptions, io: CliIO): Promise<number> {
  const properties = selectProperties(await loadRegistry(opts.registry, io.cwd), opts.property);
  const mutants = (await listMutants()).filter(
    (m) => opts.mutant === undefined || matchesGlob(m.id, opts.mutant),
  );
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fff_ffff) | 0;
  const controller = new AbortController();
  const uninstall = abortOnSignals(controller, (signal) =>
    io.err(`\niommu-conformance: ${signal}: stopping; writing the partial kill matrix\n`),
  );
  try {
    const rows = await killMatrix(
      properties,
      mutants.map((m) => m.id),
      seed,
      opts,
      io,
      controller.signal,
    );
    const interrupted = controller.signal.aborted ? String(controller.signal.reason) : undefined;
    io.out(
      opts.report === "json"
        ? `${JSON.stringify({ seed, runs: opts.runs, ...(interrupted === undefined ? {} : { interrupted }), failOnReference: [...rows.unsound.keys()], mutants: rows.rows }, null, 2)}\n`
        : matrix(rows.rows, seed, opts.runs, rows.unsound, interrupted),
    );
    if (opts.report === "html") {
      // [HARNESS-HTML-1] the kill matrix as a heat map.
      const file = join(resolve(io.cwd, opts.out), "mutants.html");
      await writeFileAtomic(file, killMatrixHtml(rows.rows, seed, opts.runs, interrupted));
      io.out(`HTML kill matrix: ${displayPath(file, io.cwd)}\n`);
    }
    // [HARNESS-EXIT-3] as for run: a survivor first, then the signal, then errors.
    if (rows.rows.some((r) => r.status === "survived")) return EXIT_FAILED;
    if (interrupted !== undefined) return signalExitCode(interrupted);
    if (rows.rows.some((r) => r.status === "error")) return EXIT_ERROR;
    return EXIT_OK;
  } finally {
    if (controller.signal.aborted) reapChildren(); // the --jobs children, with whatever they started
    uninstall();
  }
}

/** The baseline on the reference, then each mutant's row; after a signal, the rest not run. */
async function killMatrix(
  properties: PropertyDefinition[],
  ids: string[],
  seed: number,
  opts: MutantsCommandOptions,
  io: CliIO,
  signal: AbortSignal,
): Promise<{ rows: MutantRow[]; unsound: Map<string, string> }> {
  const progress = createProgress(io.isTTY && (opts.jobs ?? 1) <= 1);
  const unsound =
    opts.unsound === undefined
      ? await baseline(properties, opts, io, seed, signal)
      : parseUnsound(opts.unsound);
  const sound = properties.filter((p) => !unsound.has(p.id));
  const runOne = (id: string): Promise<MutantRow> =>
    runMutant(
      id,
      { ...opts, seed, properties: opts.all === true ? properties : sound, unsound, signal },
      io,
      progress,
    );
  const jobs = Math.min(opts.jobs ?? 1, ids.length);
  const rows =
    jobs > 1
      ? await runInChildren(ids, jobs, childArgs(opts, seed, unsound), io, signal)
      : await sequential(ids, runOne, signal);
  return { rows, unsound };
}

async function sequential(
  ids: string[],
  run: (id: string) => Promise<MutantRow>,
  signal: AbortSignal,
): Promise<MutantRow[]> {
  const rows: MutantRow[] = [];
  for (const id of ids)
    rows.push(signal.aborted ? incompleteRow(id, notRunMessage(String(signal.reason))) : await run(id));
  return rows;
}

/** What a --jobs child is told: the parent's options and seed, and the baseline's verdict. */
function childArgs(opts: MutantsCommandOptions, seed: number, unsound: Map<string, string>): string[] {
  const args = ["--runs", String(opts.runs), "--seed", String(seed), "--out", opts.out];
  args.push("--timeout", String(opts.timeout), "--unsound", formatUnsound(unsound));
  if (opts.property !== undefined) args.push("--property", opts.property);
  if (opts.registry !== undefined) args.push("--registry", opts.registry);
  if (opts.all === true) args.push("--all");
  return args;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? "? s" : `${(ms / 1000).toFixed(2)} s`;
}

/** Cell of the matrix: K killed, . held, s skipped, E error, i incomplete (time limit). */
const CELL: Record<PropertyResult["status"], string> = {
  fail: "K",
  pass: ".",
  skip: "s",
  error: "E",
  incomplete: "i",
};

/**
 * [HARNESS-MUTANT-1] The matrix (mutant × property), then one line per mutant: by what, how long
 * until the first failing case and over how many cases, how long shrinking took, and how short
 * the trace shrank.
 */
function matrix(
  rows: MutantRow[],
  seed: number,
  runs: number,
  unsound: Map<string, string>,
  interrupted: string | undefined,
): string {
  const lines = [`mutant kill matrix (seed ${seed}, ${runs} runs per property)`];
  for (const [id, why] of unsound)
    lines.push(`  ${id} fails on the reference (${why.split("\n")[0]}): not run, its kills would not count`);
  const props = [...new Set(rows.flatMap((r) => r.results.map((x) => x.id)))];
  props.forEach((p, i) => {
    lines.push(`  P${i + 1} ${p}`);
  });
  const width = Math.max(6, ...rows.map((r) => r.mutant.length));
  const head = props.map((_, i) => `P${i + 1}`.padStart(4)).join("");
  lines.push(`${"mutant".padEnd(width)} ${head}`);
  for (const r of rows) {
    const cells = props
      .map((p) => {
        const x = r.results.find((y) => y.id === p);
        return (x === undefined ? "-" : CELL[x.status]).padStart(4);
      })
      .join("");
    lines.push(`${r.mutant.padEnd(width)} ${cells}`);
  }
  lines.push("");
  for (const r of rows) {
    if (r.status === "killed") {
      lines.push(
        `KILLED   ${r.mutant}: by ${r.killedBy.join(", ")}; first failure after ${seconds(r.timeToFirstFailureMs)}` +
          ` (${r.casesToKill ?? "?"} cases), then shrinking ${seconds(r.shrinkMs)}; shrunk trace ${r.shrunkTrace ?? "?"} steps` +
          `${r.traceFile === undefined ? "" : ` (${r.traceFile})`}`,
      );
    } else if (r.status === "survived") {
      lines.push(`SURVIVED ${r.mutant}: no property failed`);
    } else if (r.status === "incomplete") {
      lines.push(`INCOMPLETE ${r.mutant}: ${r.message ?? "interrupted"}`);
    } else {
      const why = r.message ?? r.results.find((x) => x.status === "error")?.message ?? "error";
      lines.push(`ERROR    ${r.mutant}: ${why.split("\n")[0]}`);
    }
  }
  const n = (s: MutantRow["status"]): number => rows.filter((r) => r.status === s).length;
  // [HARNESS-STOP-4] what a signal left undone is counted apart, never as survived.
  const cut =
    interrupted === undefined ? "" : `, ${n("incomplete")} incomplete (interrupted: ${interrupted})`;
  lines.push(
    `${rows.length} mutants: ${n("killed")} killed, ${n("survived")} survived, ${n("error")} errors${cut}`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * [HARNESS-MUTANT-1] The properties run against the reference first, with the same seed and runs:
 * one that fails (or errs) there is unsound for this matrix. Returns their ids with the message.
 */
async function baseline(
  properties: PropertyDefinition[],
  opts: MutantsCommandOptions,
  io: CliIO,
  seed: number,
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const model = await loadAdapter("reference", { timeoutMs: opts.timeout, cwd: io.cwd });
  try {
    const report = await runProperties(properties, {
      adapter: "reference",
      model,
      runs: opts.runs,
      seed,
      outDir: resolve(io.cwd, opts.out, "reference"),
      signal,
    });
    return new Map(
      report.results
        .filter((r) => r.status === "fail" || r.status === "error")
        .map((r) => [r.id, r.message ?? r.status] as const),
    );
  } finally {
    await model.close().catch(() => undefined);
  }
}
