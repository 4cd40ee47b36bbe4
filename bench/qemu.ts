/**
 * `npx tsx bench/qemu.ts [--runs N] [--seed S] [--property GLOB] [--root DIR] [--avoid ID+ID]`: the guest-side
 * catalogue against the reference, the system QEMU and the QEMU in the sid root, in one run,
 * with the same seed and cases. Reports platform-surface steps per second for each (reset
 * excluded), the ratios to the reference, and the time of one reset (a fresh QEMU) per case.
 * QEMUs that are not installed are skipped with the reason. `--avoid` passes recorded findings
 * for the QEMU adapters to steer around (QEMU-AVOID-1), so properties run past them. Not part
 * of `npm run bench`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadAdapter } from "../src/adapters/adapter-spec.ts";
import { findQemus, rootOf } from "../src/cli/qemu.ts";
import { loadRegistry, selectProperties } from "../src/cli/registry.ts";
import type { Model, PlatformSurface } from "../src/contract/types.ts";
import { runProperties } from "../src/runner/runner.ts";

interface Counts {
  steps: number;
  stepMs: number;
  resets: number;
  resetMs: number;
}

/** The model with every surface call timed: resets apart from the other steps. */
function counted(inner: Model, c: Counts): Model {
  const time = async <T>(f: () => Promise<T>, reset: boolean): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      const dt = performance.now() - t0;
      if (reset) {
        c.resets++;
        c.resetMs += dt;
      } else {
        c.steps++;
        c.stepMs += dt;
      }
    }
  };
  const p = (): PlatformSurface => inner.platform;
  return {
    describe: () => inner.describe(),
    reset: (config) => time(() => inner.reset(config), true),
    close: () => inner.close(),
    platform: {
      writeGuest: (a, b) => time(() => p().writeGuest(a, b), false),
      readGuest: (a, n) => time(() => p().readGuest(a, n), false),
      writeReg: (o, v, w) => time(() => p().writeReg(o, v, w), false),
      readReg: (o, w) => time(() => p().readReg(o, w), false),
      dma: (r) => time(() => p().dma(r), false),
    },
  };
}

async function measure(adapter: string, runs: number, seed: number, glob: string | undefined) {
  const properties = selectProperties(await loadRegistry(undefined, process.cwd()), glob);
  const c: Counts = { steps: 0, stepMs: 0, resets: 0, resetMs: 0 };
  const inner = await loadAdapter(adapter);
  const model = counted(inner, c);
  const t0 = performance.now();
  let statuses = "";
  try {
    const report = await runProperties(properties, {
      adapter,
      model,
      runs,
      seed,
      outDir: mkdtempSync(join(tmpdir(), "iommu-bench-qemu-")),
    });
    statuses = report.results.map((r) => `${r.id} ${r.status}`).join(", ");
  } finally {
    await inner.close();
  }
  const wallMs = performance.now() - t0;
  return { ...c, wallMs, statuses, stepsPerSecond: c.steps / (c.stepMs / 1000) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "20" },
      seed: { type: "string", default: "1" },
      property: { type: "string" },
      root: { type: "string" },
      avoid: { type: "string" },
    },
  });
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  const targets: Array<{ name: string; adapter: string }> = [{ name: "reference", adapter: "reference" }];
  for (const f of await findQemus(rootOf(values.root, process.cwd()))) {
    if (f.target) {
      const avoid = values.avoid ? `avoid=${values.avoid}` : "";
      const adapter =
        avoid === ""
          ? f.target.adapter
          : `${f.target.adapter}${f.target.adapter.includes(":") ? "," : ":"}${avoid}`;
      targets.push({ name: f.target.install.version.text, adapter });
    } else console.log(`skipped ${f.name}: ${f.missing}`);
  }
  console.log(`catalogue, ${runs} cases per property, seed ${seed}`);
  let reference = 0;
  for (const t of targets) {
    const m = await measure(t.adapter, runs, seed, values.property);
    if (t.adapter === "reference") reference = m.stepsPerSecond;
    const ratio = t.adapter === "reference" ? "" : `, ${(reference / m.stepsPerSecond).toFixed(0)}x slower`;
    console.log(`${t.name}`);
    console.log(
      `  ${m.steps} steps in ${(m.stepMs / 1000).toFixed(1)} s: ${m.stepsPerSecond.toFixed(0)} steps/s${ratio}`,
    );
    console.log(
      `  ${m.resets} resets, ${(m.resetMs / Math.max(1, m.resets)).toFixed(1)} ms each; wall ${(m.wallMs / 1000).toFixed(1)} s; ${m.statuses}`,
    );
  }
}

await main();
