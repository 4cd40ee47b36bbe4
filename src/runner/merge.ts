/**
 * Merging the JSON reports of the shards of one run (`run --shard i/n`) into the report the
 * unsharded run would have given: same metadata, results back in catalogue order. Shards that do
 * not belong together are refused with the reason. [HARNESS-SHARD-2]
 */
import { type PropertyResult, type RunReport, summarize } from "./runner.ts";

export class MergeError extends Error {
  override readonly name = "MergeError";
}

const SAME = ["suite", "adapter", "seed", "runs"] as const;

export function mergeReports(reports: readonly RunReport[]): RunReport {
  const first = reports[0];
  if (first === undefined) throw new MergeError("no reports to merge");
  const unsharded = reports.findIndex((r) => r.shard === undefined);
  if (unsharded >= 0) throw new MergeError(`report ${unsharded + 1} is not a shard (it has no "shard")`);
  const count = first.shard?.count ?? 0;
  for (const [i, r] of reports.entries()) {
    if (r.shard?.count !== count)
      throw new MergeError(
        `report ${i + 1} is shard ${r.shard?.index}/${r.shard?.count}, not one of ${count}`,
      );
    for (const key of SAME) {
      if (r[key] !== first[key])
        throw new MergeError(
          `report ${i + 1} has ${key} ${JSON.stringify(r[key])}, report 1 has ${JSON.stringify(first[key])}`,
        );
    }
    if (r.model.name !== first.model.name || r.model.version !== first.model.version)
      throw new MergeError(
        `report ${i + 1} is of model ${r.model.name} ${r.model.version}, report 1 of ${first.model.name} ${first.model.version}`,
      );
  }
  const byIndex = new Map<number, RunReport>();
  for (const r of reports) {
    const index = r.shard?.index ?? 0;
    if (byIndex.has(index)) throw new MergeError(`shard ${index}/${count} is given twice`);
    byIndex.set(index, r);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length > 0)
    throw new MergeError(
      `shard${missing.length > 1 ? "s" : ""} ${missing.map((i) => `${i}/${count}`).join(", ")} missing`,
    );

  // Property k of the catalogue ran in shard (k mod count) + 1, as its (k div count)-th result.
  const total = reports.reduce((n, r) => n + r.results.length, 0);
  const results: PropertyResult[] = [];
  for (let k = 0; k < total; k++) {
    const result = byIndex.get((k % count) + 1)?.results[Math.floor(k / count)];
    if (result === undefined)
      throw new MergeError("the shards do not split one catalogue (their result counts do not fit)");
    results.push(result);
  }
  const interrupted = [
    ...new Set(reports.flatMap((r) => (r.interrupted === undefined ? [] : [r.interrupted]))),
  ];
  const { shard: _shard, interrupted: _interrupted, ...meta } = first;
  return {
    ...meta,
    ...(interrupted.length > 0 ? { interrupted: interrupted.join(", ") } : {}),
    results,
    summary: summarize(results),
    durationMs: Math.max(...reports.map((r) => r.durationMs)),
  };
}
