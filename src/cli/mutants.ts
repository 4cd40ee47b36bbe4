/**
 * `iommu-conformance mutants`: run the properties against every built-in mutant and print the
 * kill matrix: which property kills each mutant, how fast, and how short its trace is.
 * [HARNESS-MUTANT-1]
 */
import { resolve } from "node:path";
import { loadAdapter } from "../harness/adapter-spec.ts";
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
}

interface MutantRow {
  mutant: string;
  status: "killed" | "survived" | "error";
  killedBy: string[];
  /** Time until the first killing property finished, in ms. */
  timeToKillMs?: number;
  /** Steps in the shortest killing trace. */
  shortestTrace?: number;
  results: PropertyResult[];
  message?: string;
}

export async function mutantsCommand(opts: MutantsCommandOptions, io: CliIO): Promise<number> {
  const properties = selectProperties(await loadRegistry(opts.registry, io.cwd), opts.property);
  const mutants = await listMutants();
  const seed = opts.seed ?? Math.floor(Math.random() * 0x7fff_ffff) | 0;
  const progress = createProgress(io.isTTY);
  const rows: MutantRow[] = [];
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
      const report = await runProperties(properties, {
        adapter: spec,
        model,
        runs: opts.runs,
        seed,
        outDir: resolve(io.cwd, opts.out, "mutants", id),
        onPropertyStart: (p) => progress.start(`${id} ${p.id}`, opts.runs),
        onCases: (done) => progress.update(done),
        onPropertyEnd: (r) => {
          progress.stop();
          elapsed += r.durationMs;
          if (r.status === "fail" && timeToKill === undefined) timeToKill = elapsed;
        },
      });
      const killers = report.results.filter((r) => r.status === "fail");
      const steps = killers.map((r) => r.traceSteps).filter((n): n is number => n !== undefined);
      const row: MutantRow = {
        mutant: id,
        status: killers.length > 0 ? "killed" : report.summary.errors > 0 ? "error" : "survived",
        killedBy: killers.map((r) => r.id),
        results: report.results,
      };
      if (timeToKill !== undefined) row.timeToKillMs = timeToKill;
      if (steps.length > 0) row.shortestTrace = Math.min(...steps);
      rows.push(row);
    } finally {
      progress.stop();
      await model.close().catch(() => undefined);
    }
  }
  io.out(
    opts.report === "json"
      ? `${JSON.stringify({ seed, runs: opts.runs, mutants: rows }, null, 2)}\n`
      : matrix(rows, seed),
  );
  if (rows.some((r) => r.status === "survived")) return EXIT_FAILED;
  if (rows.some((r) => r.status === "error")) return EXIT_ERROR;
  return EXIT_OK;
}

function matrix(rows: MutantRow[], seed: number): string {
  const lines = [`mutant kill matrix (seed ${seed})`];
  for (const r of rows) {
    if (r.status === "killed") {
      lines.push(
        `KILLED   ${r.mutant}: by ${r.killedBy.join(", ")}; first kill after ${((r.timeToKillMs ?? 0) / 1000).toFixed(1)} s; shortest trace ${r.shortestTrace ?? "?"} steps`,
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
