/**
 * Kill-time benchmark of the mutant gallery [HARNESS-MUTANT-4]. For each mutant with a
 * counterexample in reference-traces/mutants/<id>.json, the property that killed it there is run
 * against the mutant with 10 seeds; reported: the median time to the first failing case (finding;
 * target <= 2 s), the median time then spent shrinking and the median total, the median number of
 * cases until the first failure, the shrunk trace's length (the recorded one) and the length of
 * the shortest trace we could write by hand.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { properties } from "../properties/index.ts";
import { runProperties } from "../src/harness/runner.ts";
import { loadTraceFile } from "../src/harness/trace/load.ts";
import { createMutantModel, listMutants } from "../src/platform/mutants.ts";

const TRACES = fileURLToPath(new URL("../reference-traces/mutants/", import.meta.url));
const SEEDS = 10;
const RUNS = 200;
export const KILL_TARGET_MS = 2000;

/**
 * Steps of the shortest trace written by hand (reset, writeGuest, writeReg, dma, ioctl calls), each
 * with why it cannot be shorter. Legacy set-up = reset, root entry, context entry, RTADDR, SRTP,
 * TE (6); a 4-level mapping = 4 entries; queued invalidation = IQA, QIE, descriptors, IQT (4).
 */
export const HAND_WRITTEN: Record<string, { steps: number; why: string }> = {
  "psi-mask-off-by-one": {
    steps: 19,
    why: "set-up 6, two 4K leaves under one table 5, fill DMA, remap 1, queue 4, DMA",
  },
  "domain-inv-did-ignored": { steps: 17, why: "set-up 6, mapping 4, fill DMA, remap 1, queue 4, DMA" },
  "domain-inv-keeps-psc": {
    steps: 17,
    why: "set-up 6, mapping 4, fill DMA, PDE made a 2M leaf 1, queue 4, DMA",
  },
  "context-dsi-ignores-fm": {
    steps: 18,
    why: "set-up 6 + a second context entry, mapping 4, fill DMA, clear 1, queue 4, DMA",
  },
  "np-cached-without-cm": {
    steps: 13,
    why: "set-up 6 with the entry not present, mapping 4, DMA, make present 1, DMA",
  },
  "large-page-offset": { steps: 10, why: "set-up 6, a 2M mapping 3, one DMA past the first 4K" },
  "write-leaf-only": { steps: 11, why: "set-up 6, a mapping 4 with a read-only PDE, one write DMA" },
  "haw-unchecked": { steps: 12, why: "set-up 6, mapping 4 to beyond HAW, DMA, FRCD read" },
  "fs1gp-unchecked": {
    steps: 15,
    why: "scalable set-up 9 (root, context, PASID dir + entry, queue for SRTP flush), PML4E + 1G PDPE, DMA, FRCD read, +1",
  },
  "sre-unchecked": {
    steps: 16,
    why: "scalable set-up 9, 4-level mapping 4, supervisor DMA, +2 for PASID entry SRE=0 and QIE",
  },
  "fault-codes-legacy": {
    steps: 16,
    why: "scalable set-up 9, read-only mapping 4, write DMA, FSTS and FRCD reads",
  },
  "wait-before-invalidation": {
    steps: 17,
    why: "set-up 6, mapping 4, fill DMA, remap 1, queue 4 (one batch: invalidation + wait), DMA",
  },
  "vmm-host-width-unchecked": { steps: 1, why: "one reset with a host narrower than aw-bits: accepted" },
  "vmm-fs1gp-unchecked": { steps: 1, why: "one reset offering FS1GP over a host without it: accepted" },
  "pasid-global-no-unbind": {
    steps: 22,
    why: "scalable set-up 9, mapping 4, PASID entry + PSI 3, DMA, clear + global 3, DMA, +1",
  },
  "pasid-psi-binds-absent": {
    steps: 19,
    why: "scalable set-up for two devices 11, mapping 4, PASID entry + PSI 3, DMA from the other",
  },
  "pasid-iotlb-not-forwarded": {
    steps: 22,
    why: "scalable set-up 9, mapping 4, PASID entry + PSI 3, DMA, remap 1, P-IOTLB 3, DMA",
  },
  "struct-tail-accepted": { steps: 2, why: "reset, one IOAS_ALLOC with a nonzero tail" },
  "invalidate-entry-num-kept": {
    steps: 5,
    why: "reset, IOAS_ALLOC, nest parent, nested HWPT, HWPT_INVALIDATE with a bad second entry",
  },
  "errata-ro-nest-parent": { steps: 4, why: "reset, IOAS_ALLOC, nest-parent HWPT_ALLOC, read-only IOAS_MAP" },
  "noncoherent-into-enforcing": { steps: 2, why: "reset with an SC and a non-SC device, hostView" },
  "fs-pointer-as-hpa": {
    steps: 18,
    why: "scalable set-up 9, mapping 4, PASID entry + PSI 3, passed-through DMA, +1",
  },
};

export interface MutantFigure {
  id: string;
  property: string;
  /** Median time from the property's start to its first failing case (the target's measure). */
  medianFirstFailureMs: number;
  /** Median time spent shrinking after it. */
  medianShrinkMs: number;
  /** Median time to kill: finding and shrinking. */
  medianKillMs: number;
  medianCases: number;
  killedSeeds: number;
  shrunkSteps: number;
  handSteps: number | undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : (s[Math.floor((s.length - 1) / 2)] as number);
}

export async function runMutantBench(
  onFigure: (f: MutantFigure) => void = () => undefined,
): Promise<{ figures: MutantFigure[]; missing: string[] }> {
  const figures: MutantFigure[] = [];
  const missing: string[] = [];
  for (const { id } of listMutants()) {
    const file = join(TRACES, `${id}.json`);
    if (!existsSync(file)) {
      missing.push(id);
      continue;
    }
    const trace = await loadTraceFile(file);
    const property = properties.find((p) => p.id === trace.property);
    if (property === undefined) {
      missing.push(id);
      continue;
    }
    const model = await createMutantModel(id);
    const times: number[] = [];
    const found: number[] = [];
    const shrinking: number[] = [];
    const cases: number[] = [];
    try {
      for (let seed = 1; seed <= SEEDS; seed++) {
        const report = await runProperties([property], { adapter: `mutant:${id}`, model, runs: RUNS, seed });
        const r = report.results[0];
        if (r?.status !== "fail") continue;
        const first = r.firstFailureMs ?? r.durationMs;
        times.push(r.durationMs);
        found.push(first);
        shrinking.push(r.durationMs - first);
        cases.push(r.runs);
      }
    } finally {
      await model.close();
    }
    const figure: MutantFigure = {
      id,
      property: property.id,
      medianFirstFailureMs: median(found),
      medianShrinkMs: median(shrinking),
      medianKillMs: median(times),
      medianCases: median(cases),
      killedSeeds: times.length,
      shrunkSteps: trace.steps.length,
      handSteps: HAND_WRITTEN[id]?.steps,
    };
    figures.push(figure);
    onFigure(figure);
  }
  return { figures, missing };
}

/** Print the figures with their target (called from bench/run.ts). */
export async function printMutantBench(): Promise<void> {
  console.log(
    `mutant kill times (${SEEDS} seeds, up to ${RUNS} cases each, killing property of the trace; medians; target: first failure <= ${KILL_TARGET_MS / 1000} s)`,
  );
  const s = (ms: number): string => (Number.isNaN(ms) ? "never" : `${(ms / 1000).toFixed(2)} s`);
  const { missing } = await runMutantBench((f) => {
    console.log(
      `  ${f.id.padEnd(28)} ${f.property.padEnd(28)} first failure ${s(f.medianFirstFailureMs).padStart(7)} ${f.medianFirstFailureMs <= KILL_TARGET_MS ? "met" : "MISSED"}` +
        `  shrinking ${s(f.medianShrinkMs).padStart(7)}  total ${s(f.medianKillMs).padStart(7)}` +
        `  killed ${f.killedSeeds}/${SEEDS}  cases ${f.medianCases}  trace ${f.shrunkSteps} steps (by hand ${f.handSteps ?? "?"})`,
    );
  });
  for (const id of missing)
    console.log(`  ${id.padEnd(28)} no counterexample trace in reference-traces/mutants/`);
}
