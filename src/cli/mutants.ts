/**
 * `iommu-conformance mutants`: run the properties against every built-in mutant and print the
 * kill matrix: which property kills each mutant, how fast, and how short its trace is.
 * [HARNESS-MUTANT-1]
 */
import { copyFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { loadAdapter } from "../harness/adapter-spec.ts";
import { matchesGlob, type PropertyDefinition } from "../harness/property.ts";
import { type PropertyResult, runProperties } from "../harness/runner.ts";
import { type CliIO, EXIT_ERROR, EXIT_FAILED, EXIT_OK } from "./errors.ts";
import { listMutants } from "./list.ts";
import { createProgress } from "./progress.ts";
import { loadRegistry, selectProperties } from "./registry.ts";

export interface MutantsCommandOptions {
  runs: number;
  seed?: number;
  property?: string;
  out: string;
  timeout: number;
  registry?: string;
  report: "text" | "json";
  /** Only mutants whose id matches this glob (*, ?, comma-separated). */
  mutant?: string;
  /** Also run, against the mutants, the properties that fail on the reference (their kills never count). */
  all?: boolean;
}

interface MutantRow {
  mutant: string;
  status: "killed" | "survived" | "error";
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

export async function mutantsCommand(opts: MutantsCommandOptions, io: CliIO): Promise<number> {
  const properties = selectProperties(await loadRegistry(opts.registry, io.cwd), opts.property);
  const mutants = (await listMutants()).filter(
    (m) => opts.mutant === undefined || matchesGlob(m.id, opts.mutant),
  );
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fff_ffff) | 0;
  const progress = createProgress(io.isTTY);
  const rows: MutantRow[] = [];
  const unsound = await baseline(properties, opts, io, seed);
  const sound = properties.filter((p) => !unsound.has(p.id));
  for (const { id } of mutants) {
    const spec = `mutant:${id}`;
    let model: Awaited<ReturnType<typeof loadAdapter>>;
    try {
      model = await loadAdapter(spec, { timeoutMs: opts.timeout, cwd: io.cwd });
    } catch (e) {
      rows.push({ mutant: id, status: "error", killedBy: [], results: [], message: (e as Error).message });
      continue;
    }
    try {
      let elapsed = 0;
      let timeToKill: number | undefined;
      let firstFailure: { atMs: number; shrinkMs: number } | undefined;
      // Only the first killer shrinks: the later ones fill the matrix, and shrinking each of them
      // would cost far more than finding it did.
      const results: PropertyResult[] = [];
      for (const property of opts.all === true ? properties : sound) {
        const report = await runProperties([property], {
          adapter: spec,
          model,
          runs: opts.runs,
          seed,
          outDir: resolve(io.cwd, opts.out, "mutants", id),
          shrink: timeToKill === undefined,
          onPropertyStart: (p) => progress.start(`${id} ${p.id}`, opts.runs),
          onCases: (done) => progress.update(done),
          onPropertyEnd: (r) => {
            progress.stop();
            // Finding and shrinking are timed apart: the kill-time target is about finding.
            if (r.status === "fail" && !unsound.has(r.id) && timeToKill === undefined) {
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
      const killers = results.filter((r) => r.status === "fail" && !unsound.has(r.id));
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
      if (killers[0] !== undefined) row.casesToKill = killers[0].runs;
      // [HARNESS-MUTANT-3] the first killer's shrunk counterexample, ready for reference-traces/mutants/.
      const first = killers[0];
      if (first?.traceSteps !== undefined) row.shrunkTrace = first.traceSteps;
      if (first?.trace !== undefined) {
        const file = join(resolve(io.cwd, opts.out), "mutants", `${id}.json`);
        await copyFile(first.trace, file);
        row.traceFile = relative(io.cwd, file);
      }
      rows.push(row);
    } finally {
      progress.stop();
      await model.close().catch(() => undefined);
    }
  }
  io.out(
    opts.report === "json"
      ? `${JSON.stringify({ seed, runs: opts.runs, failOnReference: [...unsound.keys()], mutants: rows }, null, 2)}\n`
      : matrix(rows, seed, opts.runs, unsound),
  );
  if (rows.some((r) => r.status === "survived")) return EXIT_FAILED;
  if (rows.some((r) => r.status === "error")) return EXIT_ERROR;
  return EXIT_OK;
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? "? s" : `${(ms / 1000).toFixed(2)} s`;
}

/** Cell of the matrix: K killed, . held, s skipped, E error. */
const CELL: Record<PropertyResult["status"], string> = { fail: "K", pass: ".", skip: "s", error: "E" };

/**
 * [HARNESS-MUTANT-1] The matrix (mutant × property), then one line per mutant: by what, how long
 * until the first failing case and over how many cases, how long shrinking took, and how short
 * the trace shrank.
 */
function matrix(rows: MutantRow[], seed: number, runs: number, unsound: Map<string, string>): string {
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
    } else {
      const why = r.message ?? r.results.find((x) => x.status === "error")?.message ?? "error";
      lines.push(`ERROR    ${r.mutant}: ${why.split("\n")[0]}`);
    }
  }
  const n = (s: MutantRow["status"]): number => rows.filter((r) => r.status === s).length;
  lines.push(
    `${rows.length} mutants: ${n("killed")} killed, ${n("survived")} survived, ${n("error")} errors`,
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
): Promise<Map<string, string>> {
  const model = await loadAdapter("reference", { timeoutMs: opts.timeout, cwd: io.cwd });
  try {
    const report = await runProperties(properties, {
      adapter: "reference",
      model,
      runs: opts.runs,
      seed,
      outDir: resolve(io.cwd, opts.out, "reference"),
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
