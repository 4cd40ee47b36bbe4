/**
 * Steps per second of the model-based guest properties against the reference (target >= 50,000):
 * every platform-surface call a case makes (reset, guest memory, registers, DMA) is a step, and
 * the time is everything a run costs — generation, the model, recording and the oracle judging
 * each step. Per second of process CPU time, as the other benchmarks, so a busy machine shifts the
 * figures less. Also reported: cases per second and steps per case, per property. The work runs
 * three times in one process: the target is read on the last round, the first (cold) is shown too.
 */
import { properties } from "../properties/index.ts";
import { createReferenceModel } from "../src/adapters/reference.ts";
import type { Model, PlatformSurface } from "../src/contract/types.ts";
import { runProperties } from "../src/runner/runner.ts";

export const STEPS_TARGET = 50_000;
/** The model-based (fc.commands) guest properties. */
const MODEL_BASED = [
  "cache-coherence",
  "translation-equals-walk",
  "pasid-cache-granularity",
  "robustness",
  "fault-recording",
];
const RUNS = 100;
const SEED = 1;
const ROUNDS = 3;

export interface PropertyFigure {
  id: string;
  cases: number;
  steps: number;
  cpuMs: number;
  stepsPerSecond: number;
}

function cpuMilliseconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** The reference with every platform-surface call counted. */
async function countingReference(): Promise<{ model: Model; steps: () => number }> {
  const inner = await createReferenceModel();
  let n = 0;
  // One plain forwarding function per call (no rest/spread): the counting itself should cost nothing.
  const platform: PlatformSurface = {
    writeGuest: (gpa, bytes) => {
      n++;
      return inner.platform.writeGuest(gpa, bytes);
    },
    readGuest: (gpa, len) => {
      n++;
      return inner.platform.readGuest(gpa, len);
    },
    writeReg: (off, value, width) => {
      n++;
      return inner.platform.writeReg(off, value, width);
    },
    readReg: (off, width) => {
      n++;
      return inner.platform.readReg(off, width);
    },
    dma: (req) => {
      n++;
      return inner.platform.dma(req);
    },
  };
  const model: Model = {
    describe: () => inner.describe(),
    reset: (config) => {
      n++;
      return inner.reset(config);
    },
    platform,
    close: () => inner.close(),
  };
  return { model, steps: () => n };
}

/** One round: each model-based property, RUNS cases, seed SEED; the same work every round. */
async function runRound(runs: number): Promise<PropertyFigure[]> {
  const out: PropertyFigure[] = [];
  for (const id of MODEL_BASED) {
    const property = properties.find((p) => p.id === id);
    if (property === undefined) continue;
    const { model, steps } = await countingReference();
    const t0 = cpuMilliseconds();
    const report = await runProperties([property], { adapter: "reference", model, runs, seed: SEED });
    const cpuMs = cpuMilliseconds() - t0;
    await model.close();
    const r = report.results[0];
    if (r?.status !== "pass") throw new Error(`${id} did not pass against the reference: ${r?.message}`);
    out.push({ id, cases: r.runs, steps: steps(), cpuMs, stepsPerSecond: (steps() / cpuMs) * 1000 });
  }
  return out;
}

/**
 * ROUNDS rounds of the same work in one process. The first is cold (modules load, most code is
 * still unoptimized); the last is what a suite run — 18 properties, hundreds of cases each, in one
 * process — mostly sees.
 */
export async function runPropertyBench(
  runs = RUNS,
): Promise<{ cold: PropertyFigure[]; warm: PropertyFigure[] }> {
  const rounds: PropertyFigure[][] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await runRound(runs));
  return { cold: rounds[0] ?? [], warm: rounds.at(-1) ?? [] };
}

function total(figures: PropertyFigure[]): number {
  const steps = figures.reduce((n, f) => n + f.steps, 0);
  const ms = figures.reduce((n, f) => n + f.cpuMs, 0);
  return ms > 0 ? (steps / ms) * 1000 : 0;
}

export async function printPropertyBench(): Promise<void> {
  console.log(
    `model-based guest properties against the reference (${RUNS} cases each, seed ${SEED}; per second of CPU; round ${ROUNDS} of ${ROUNDS} in one process, round 1 cold)`,
  );
  const { cold, warm } = await runPropertyBench();
  const fmt = (n: number): string => Math.round(n).toLocaleString("en").padStart(8);
  for (const f of warm) {
    const c = cold.find((x) => x.id === f.id);
    console.log(
      `  ${f.id.padEnd(26)} ${fmt(f.stepsPerSecond)} steps/s (cold ${fmt(c?.stepsPerSecond ?? 0)})  ${(f.cases / (f.cpuMs / 1000)).toFixed(0).padStart(5)} cases/s  ${Math.round(f.steps / Math.max(f.cases, 1))} steps/case`,
    );
  }
  const all = total(warm);
  console.log(
    `  all: ${Math.round(all).toLocaleString("en")} steps/s (cold: ${Math.round(total(cold)).toLocaleString("en")}); target >= ${STEPS_TARGET.toLocaleString("en")}: ${all >= STEPS_TARGET ? "met" : "MISSED"}`,
  );
}
