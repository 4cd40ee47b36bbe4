/**
 * [HARNESS-REACH-1] Measures what the generators reach: runs properties against a model whose
 * every surface call is decoded into reach-matrix cells (ReachDecoder), then lists each row's
 * cells reached and missed. What is measured is what a model saw, not what a generator meant.
 */
import type { PropertyDefinition } from "../../cases/property.ts";
import type { Model, PlatformSurface } from "../../contract/types.ts";
import { runProperties } from "../runner.ts";
import { catalogue } from "./cells.ts";
import { type CacheProbe, ReachDecoder } from "./decoder.ts";

export interface ReachReport {
  rows: Array<{ row: string; reached: string[]; missed: string[] }>;
  /**
   * Properties that did not pass on the reference: their cases stopped early, so what they would
   * have reached is missing from the matrix.
   */
  stopped: Array<{ id: string; status: string; message: string }>;
  reached: number;
  total: number;
}

/**
 * The model with every call fed to the decoder before it is made. Members of the platform the
 * decoder does not watch (hostView and the like) reach the model's own platform, bound to it.
 */
function observed(model: Model, decoder: ReachDecoder): Model {
  const watched: Partial<PlatformSurface> = {
    writeGuest: (gpa, bytes) => {
      decoder.writeGuest(Number(gpa), bytes);
      return model.platform.writeGuest(gpa, bytes);
    },
    // Before the call: an invalidation's cache state is what the caches held when it came.
    writeReg: (off, value, width) => {
      decoder.writeReg(off, value);
      return model.platform.writeReg(off, value, width);
    },
    dma: (req) => {
      decoder.dma(req);
      return model.platform.dma(req);
    },
  };
  const platform = new Proxy(watched, {
    get(target, key) {
      if (key in target) return target[key as keyof PlatformSurface];
      const real = model.platform as unknown as Record<PropertyKey, unknown>;
      const v = real[key];
      return typeof v === "function" ? v.bind(model.platform) : v;
    },
    has: (target, key) => key in target || key in model.platform,
  }) as PlatformSurface;
  return {
    describe: () => model.describe(),
    reset: async (config) => {
      decoder.reset(config);
      await model.reset(config);
    },
    platform,
    close: () => model.close(),
    ...(model.host === undefined ? {} : { host: model.host }),
  };
}

export async function measureReach(
  properties: PropertyDefinition[],
  o: { model: Model; probe?: CacheProbe; runs: number; seed: number },
): Promise<ReachReport> {
  const decoder = new ReachDecoder(o.probe);
  const run = await runProperties(properties, {
    adapter: "reference",
    model: observed(o.model, decoder),
    runs: o.runs,
    seed: o.seed,
    shrink: false,
  });
  const rows = catalogue().map(({ row, cells }) => ({
    row,
    reached: cells.filter((c) => decoder.hits.has(`${row} ${c}`)),
    missed: cells.filter((c) => !decoder.hits.has(`${row} ${c}`)),
  }));
  const total = rows.reduce((n, r) => n + r.reached.length + r.missed.length, 0);
  const reached = rows.reduce((n, r) => n + r.reached.length, 0);
  const stopped = run.results
    .filter((r) => r.status === "fail" || r.status === "error" || r.status === "incomplete")
    .map((r) => ({ id: r.id, status: r.status, message: r.message ?? "" }));
  return { rows, reached, total, stopped };
}

export function reachText(r: ReachReport): string {
  const lines: string[] = [];
  for (const row of r.rows) {
    const all = row.reached.length + row.missed.length;
    const missed = row.missed.length === 0 ? "" : `   missed: ${row.missed.join(", ")}`;
    lines.push(`${row.row.padEnd(44)} ${String(row.reached.length).padStart(2)}/${all}${missed}`);
  }
  for (const p of r.stopped)
    lines.push(`not measured in full: ${p.id} (${p.status} on the reference: ${p.message.split("\n")[0]})`);
  lines.push(`reach: ${r.reached} of ${r.total} cells (${((100 * r.reached) / r.total).toFixed(1)}%)`);
  return `${lines.join("\n")}\n`;
}
