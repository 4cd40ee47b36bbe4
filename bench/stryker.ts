/**
 * `npm run bench -- stryker`: the property suite's power over the models, measured by Stryker
 * [HARNESS-MUTANT-5]. Every mutant Stryker's instrumenter makes in src/vtd, src/host, src/vmm and
 * src/paging is listed, a fixed sample is drawn (seedrandom, fixed seed), and Stryker runs the
 * property suite alone (bench/vitest.stryker.config.ts, IOMMU_RUNS cases per property) against
 * each sampled mutant. Prints the score over the sample and writes the survivors to
 * bench/stryker-survivors.json for triage (bench/stryker-triage.md).
 *   npm run bench -- stryker            sample 220, seed 1, 40 runs per property
 *   npm run bench -- stryker=N,SEED,RUNS
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Instrumenter } from "@stryker-mutator/instrumenter";
import seedrandom from "seedrandom";

const ROOT = join(import.meta.dirname, "..");
const FOLDERS = ["src/vtd", "src/host", "src/vmm", "src/paging"];
const CONFIG = join(ROOT, ".stryker-bench.conf.json");
const REPORT = join(ROOT, ".stryker-bench-report.json");

interface Position {
  line: number;
  column: number;
}
interface Sampled {
  fileName: string;
  mutatorName: string;
  replacement: string;
  location: { start: Position; end: Position };
}

const quiet = () => false;
const logger = {
  isTraceEnabled: quiet,
  isDebugEnabled: quiet,
  isInfoEnabled: quiet,
  isWarnEnabled: () => true,
  isErrorEnabled: () => true,
  isFatalEnabled: () => true,
  trace() {},
  debug() {},
  info() {},
  warn: console.warn,
  error: console.error,
  fatal: console.error,
};

/** Every mutant of the model folders, in a stable order. */
async function allMutants(): Promise<Sampled[]> {
  const files = FOLDERS.flatMap((f) =>
    readdirSync(join(ROOT, f), { recursive: true, encoding: "utf8" })
      .filter((p) => p.endsWith(".ts"))
      .map((p) => `${f}/${p}`),
  ).sort();
  const instrumenter = new Instrumenter(logger as never);
  const result = await instrumenter.instrument(
    files.map((name) => ({ name, content: readFileSync(join(ROOT, name), "utf8"), mutate: true })),
    { plugins: null, excludedMutations: [], ignorers: [], noHeader: true } as never,
  );
  // The instrumenter counts lines from 0; Stryker's ranges and report count them from 1.
  const line1 = (p: Position): Position => ({ line: p.line + 1, column: p.column });
  return result.mutants.map((m) => ({
    fileName: m.fileName,
    mutatorName: m.mutatorName,
    replacement: m.replacement,
    location: { start: line1(m.location.start), end: line1(m.location.end) },
  }));
}

/** A deterministic sample of n (Fisher-Yates on a seeded generator). */
function sample<T>(all: readonly T[], n: number, seed: string): T[] {
  const rng = seedrandom(seed);
  const a = [...all];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a.slice(0, Math.min(n, a.length));
}

const key = (m: Sampled): string =>
  `${m.fileName}:${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column} ${m.mutatorName} ${m.replacement}`;

/** A mutate range holding exactly the mutant's location (and any mutants nested inside it). */
const range = (m: Sampled): string =>
  `${m.fileName}:${m.location.start.line}:${m.location.start.column}-${m.location.end.line}:${m.location.end.column}`;

function runStryker(runs: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn("npx", ["stryker", "run", CONFIG], {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, IOMMU_RUNS: String(runs), IOMMU_SEED: "1" },
    });
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

/** The report counts columns from 1, the instrumenter from 0. */
function column0(l: { start: Position; end: Position }): { start: Position; end: Position } {
  return {
    start: { line: l.start.line, column: l.start.column - 1 },
    end: { line: l.end.line, column: l.end.column - 1 },
  };
}

interface ReportMutant {
  mutatorName: string;
  replacement: string;
  location: { start: Position; end: Position };
  status: string;
}

export async function printStrykerBench(args: string[] = []): Promise<void> {
  const [n = 220, seed = 1, runs = 40] = args.map(Number);
  const all = await allMutants();
  const picked = sample(all, n, `stryker-${seed}`);
  console.log(
    `stryker: ${all.length} mutants in ${FOLDERS.join(", ")}; sample ${picked.length} (seed ${seed}), ${runs} cases per property`,
  );
  writeFileSync(
    CONFIG,
    JSON.stringify(
      {
        $schema: "./node_modules/@stryker-mutator/core/schema/stryker-schema.json",
        testRunner: "vitest",
        plugins: ["@stryker-mutator/vitest-runner"],
        vitest: { configFile: "bench/vitest.stryker.config.ts", related: false },
        coverageAnalysis: "perTest",
        mutate: picked.map(range),
        concurrency: 2,
        timeoutMS: 120_000,
        reporters: ["json", "progress"],
        jsonReporter: { fileName: REPORT },
        tempDirName: ".stryker-tmp",
        // No tsconfig rewrite: Stryker does it with the TypeScript 5 API, which TypeScript 7 lacks.
        tsconfigFile: "bench/no-tsconfig-rewrite.json",
        cleanTempDir: "always",
      },
      null,
      2,
    ),
  );
  const started = Date.now();
  const code = await runStryker(runs);
  const seconds = (Date.now() - started) / 1000;
  rmSync(CONFIG, { force: true });
  if (code !== 0) {
    console.log(`stryker: exited ${code} after ${seconds.toFixed(0)} s`);
    return;
  }
  const report = JSON.parse(readFileSync(REPORT, "utf8")) as {
    files: Record<string, { mutants: ReportMutant[] }>;
  };
  // A range can hold nested mutants beside the sampled one: count the sampled ones only.
  const wanted = new Set(picked.map(key));
  const results = Object.entries(report.files).flatMap(([fileName, f]) =>
    f.mutants
      .map((m) => ({ ...m, fileName, location: column0(m.location) }))
      .filter((m) => wanted.has(key(m))),
  );
  const by = (s: string) => results.filter((m) => m.status === s);
  const killed = by("Killed").length + by("Timeout").length;
  const survived = by("Survived");
  const noCoverage = by("NoCoverage");
  const judged = killed + survived.length + noCoverage.length;
  console.log(
    `  matched ${results.length} of ${picked.length} sampled mutants in ${seconds.toFixed(0)} s: ` +
      `${killed} killed (timeouts included), ${survived.length} survived, ${noCoverage.length} not covered, ` +
      `${results.length - judged} other (compile errors, ignored)`,
  );
  console.log(
    `  mutation score over the sample: ${((100 * killed) / Math.max(judged, 1)).toFixed(1)}% ` +
      "(target >= 90% of non-equivalent mutants: see bench/stryker-triage.md for the equivalent ones)",
  );
  const survivors = [...survived, ...noCoverage].map((m) => ({
    id: key(m),
    status: m.status,
  }));
  writeFileSync(join(ROOT, "bench/stryker-survivors.json"), `${JSON.stringify(survivors, null, 2)}\n`);
  console.log(`  survivors written to bench/stryker-survivors.json (${survivors.length})`);
}
