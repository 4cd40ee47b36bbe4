/**
 * qemu:nested beside the direct qemu adapter, in one run (issue 14, "Measured"):
 *   npx tsx bench/qemu-nested.ts side-by-side [root=DIR] [runs=10] [seed=1]
 * For each adapter: setup (first time and cached), start (L0 + L1 boot and bind for qemu:nested;
 * the first QEMU for qemu), the time of one reset (a fresh L2, or a fresh QEMU) per case, cases/s
 * and DMA/s over the same properties, seed and case count (translation-equals-walk and
 * cache-coherence: their guest form on qemu, their passed-through form on qemu:nested). The
 * first-time nested setup is built into a temporary directory beside a link to the sid root (the
 * cached one and the plain root are not touched) and removed after; it needs root and the network.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { loadAdapter } from "../src/adapters/adapter-spec.ts";
import type { NestedModel } from "../src/adapters/qemu-nested/adapter.ts";
import { loadRegistry, selectProperties } from "../src/cli/registry.ts";
import type { Model, PlatformSurface } from "../src/contract/types.ts";
import { runProperties } from "../src/runner/runner.ts";

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, "../bin/iommu-conformance.js");
const PROPERTIES = "translation-equals-walk,cache-coherence";
/** Recorded findings each adapter steers around (QEMU-AVOID-1), so both run their cases to the end. */
const AVOID_QEMU_11 =
  "wait-descriptor-without-sw-or-if+fault-info-above-agaw+first-stage-width-from-pasid-aw+scalable-write-fault-legacy-reason+scalable-root-not-present-legacy-reason";
const AVOID_NESTED =
  "shadow-write-only-mapping-readable+compat-caching-mode-checked-before-width+snoop-control-passthrough-aborts+scalable-write-fault-legacy-reason";

interface Counts {
  resets: number[];
  dmas: number;
  dmaMs: number;
}

/** The model with resets and DMAs timed. */
function counted(inner: Model, c: Counts): Model {
  const p = (): PlatformSurface => inner.platform;
  return {
    describe: () => inner.describe(),
    close: () => inner.close(),
    async reset(config) {
      const t0 = performance.now();
      try {
        return await inner.reset(config);
      } finally {
        c.resets.push((performance.now() - t0) / 1000);
      }
    },
    platform: {
      writeGuest: (a, b) => p().writeGuest(a, b),
      readGuest: (a, n) => p().readGuest(a, n),
      writeReg: (o, v, w) => p().writeReg(o, v, w),
      readReg: (o, w) => p().readReg(o, w),
      async dma(r) {
        const t0 = performance.now();
        try {
          return await p().dma(r);
        } finally {
          c.dmas++;
          c.dmaMs += performance.now() - t0;
        }
      },
    },
  };
}

/** Seconds a CLI command takes (it must succeed). */
async function timed(args: string[]): Promise<number> {
  const t0 = performance.now();
  await run(process.execPath, [CLI, ...args], { maxBuffer: 1 << 24 });
  return (performance.now() - t0) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function measure(adapter: string, runs: number, seed: number) {
  const properties = selectProperties(await loadRegistry(undefined, process.cwd()), PROPERTIES);
  const c: Counts = { resets: [], dmas: 0, dmaMs: 0 };
  const inner = await loadAdapter(adapter);
  const t0 = performance.now();
  await inner.describe();
  const startS = (performance.now() - t0) / 1000;
  const times = (inner as Partial<NestedModel>).times;
  const model = counted(inner, c);
  const t1 = performance.now();
  let cases = 0;
  let statuses = "";
  try {
    const report = await runProperties(properties, {
      adapter,
      model,
      runs,
      seed,
      outDir: mkdtempSync(join(tmpdir(), "iommu-bench-side-")),
    });
    cases = report.results.reduce((n, r) => n + (r.runs ?? 0), 0);
    statuses = report.results
      .map((r) => `${r.id} ${r.status}${r.message ? ` (${r.message.slice(0, 120)})` : ""}`)
      .join("; ");
  } finally {
    await inner.close();
  }
  const wallS = (performance.now() - t1) / 1000;
  return { startS, times, resets: c.resets, cases, wallS, dmas: c.dmas, dmaS: c.dmaMs / 1000, statuses };
}

export async function sideBySide(opts: Record<string, string>): Promise<void> {
  const root = resolve(opts.root ?? process.env.IOMMU_QEMU_ROOT ?? ".cache/qemu-sid");
  const runs = Number(opts.runs ?? 10);
  const seed = Number(opts.seed ?? 1);
  // Setup: the nested one first time (into a temporary directory) and cached; the sid root cached.
  const scratch = mkdtempSync(join(tmpdir(), "iommu-bench-setup-"));
  let nestedFirst: number | string;
  try {
    symlinkSync(root, join(scratch, "qemu-sid"));
    nestedFirst = await timed(["qemu", "setup", "--nested", "--root", join(scratch, "qemu-sid")]);
  } catch (e) {
    nestedFirst = `not measured (${(e as Error).message.split("\n")[0]})`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const nestedCached = await timed(["qemu", "setup", "--nested", "--root", root]);
  const sidCached = await timed(["qemu", "setup", "--root", root]);
  // One chain at a time: the direct adapter first, then the nested one.
  const direct = await measure(`qemu:root=${root},avoid=${AVOID_QEMU_11}`, runs, seed);
  const nested = await measure(`qemu:nested,root=${root},avoid=${AVOID_NESTED}`, runs, seed);
  const f = (x: number, d = 1) => x.toFixed(d);
  const rows: Array<[string, string, string]> = [
    [
      "setup, first time",
      "not re-measured (debootstrap of the sid root, docs/qemu.md)",
      typeof nestedFirst === "number" ? `${f(nestedFirst)} s (qemu setup --nested)` : nestedFirst,
    ],
    ["setup, cached", `${f(sidCached)} s (qemu setup)`, `${f(nestedCached)} s (qemu setup --nested)`],
    [
      "start (describe)",
      `${f(direct.startS)} s (a probe QEMU)`,
      `${f(nested.startS)} s: L0 + L1 boot ${f(nested.times?.boot ?? Number.NaN)} s, bind ${f(nested.times?.bind ?? Number.NaN)} s, buffer location ${f(nested.times?.locate ?? Number.NaN)} s, probe L2`,
    ],
    [
      "reset per case (fresh QEMU / fresh L2)",
      `median ${f(median(direct.resets), 2)} s over ${direct.resets.length}`,
      `median ${f(median(nested.resets), 2)} s over ${nested.resets.length} (L2 start to first reply: median ${f(median(nested.times?.l2Starts ?? []), 2)} s)`,
    ],
    [
      "cases/s",
      `${f(direct.cases / direct.wallS, 2)} (${direct.cases} cases in ${f(direct.wallS)} s)`,
      `${f(nested.cases / nested.wallS, 3)} (${nested.cases} cases in ${f(nested.wallS)} s)`,
    ],
    [
      "DMA/s (time inside dma calls)",
      `${f(direct.dmas / direct.dmaS)} (${direct.dmas} DMAs)`,
      `${f(nested.dmas / nested.dmaS)} (${nested.dmas} DMAs, emulated and passed through)`,
    ],
  ];
  console.log(`${PROPERTIES}, ${runs} cases per property, seed ${seed}; root ${root}\n`);
  console.log("| figure | qemu (QEMU 11.1 on this machine) | qemu:nested (L2 QEMU 11.1 in L1 in L0) |");
  console.log("|---|---|---|");
  for (const [a, b, c] of rows) console.log(`| ${a} | ${b} | ${c} |`);
  console.log(`\nqemu: ${direct.statuses}\nqemu:nested: ${nested.statuses}`);
}
