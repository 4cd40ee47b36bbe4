import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { shardOf } from "../../src/cli/shard.ts";
import { MergeError, mergeReports } from "../../src/runner/merge.ts";
import { validateReport } from "../../src/runner/reports/validate.ts";
import type { PropertyResult, RunReport } from "../../src/runner/runner.ts";
import { BIN, ROOT } from "./cli-fixtures.ts";

const REGISTRY = "test/fixtures/harness/test-properties.ts";
const BUGGY = "module:test/fixtures/harness/buggy-memory-module.ts";

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("node", [BIN, ...args], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({
        code: error === null ? 0 : typeof error.code === "number" ? error.code : -1,
        stdout,
        stderr,
      });
    });
  });
}

const result = (id: string): PropertyResult => ({
  id,
  title: id,
  rules: [],
  status: "pass",
  runs: 1,
  durationMs: 1,
});

function shardReport(index: number, count: number, ids: string[]): RunReport {
  const results = ids.map(result);
  return {
    format: "iommu-conformance-report",
    version: 2,
    suite: "0.1.0",
    adapter: "reference",
    model: { name: "m", version: "1" },
    seed: 4,
    runs: 1,
    shard: { index, count },
    results,
    summary: { passed: results.length, failed: 0, skipped: 0, errors: 0, incomplete: 0 },
    durationMs: 10 * index,
  };
}

describe("sharding", () => {
  it("[HARNESS-SHARD-1] shards are disjoint, cover the catalogue and keep its order", () => {
    const ids = ["a", "b", "c", "d", "e"];
    const shards = [1, 2, 3].map((index) => shardOf(ids, { index, count: 3 }));
    expect(shards).toEqual([["a", "d"], ["b", "e"], ["c"]]);
    expect(shardOf(ids, { index: 1, count: 1 })).toEqual(ids);
  });

  it("[HARNESS-SHARD-2] merging puts the results back in catalogue order", () => {
    const merged = mergeReports([shardReport(2, 2, ["b", "d"]), shardReport(1, 2, ["a", "c", "e"])]);
    expect(merged.results.map((r) => r.id)).toEqual(["a", "b", "c", "d", "e"]);
    expect(merged.shard).toBeUndefined();
    expect(merged.summary.passed).toBe(5);
    expect(merged.durationMs).toBe(20);
    expect(validateReport(merged)).toEqual([]);
  });

  it("[HARNESS-SHARD-2] shards that do not belong together are refused with the reason", () => {
    const a = shardReport(1, 2, ["a"]);
    expect(() => mergeReports([a])).toThrow(new MergeError("shard 2/2 missing"));
    expect(() => mergeReports([a, a])).toThrow(new MergeError("shard 1/2 is given twice"));
    expect(() => mergeReports([a, { ...shardReport(2, 2, ["b"]), seed: 5 }])).toThrow(
      new MergeError("report 2 has seed 5, report 1 has 4"),
    );
    expect(() => mergeReports([a, shardReport(2, 3, ["b"])])).toThrow(/report 2 is shard 2\/3, not one of 2/);
    expect(() => mergeReports([a, shardReport(2, 2, ["b", "c"])])).toThrow(/do not split one catalogue/);
    const { shard: _, ...whole } = a;
    expect(() => mergeReports([whole])).toThrow(/report 1 is not a shard/);
  });

  it("[HARNESS-SHARD-1] [HARNESS-SHARD-2] a two-shard run merged gives the verdicts of one run", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iommu-shard-"));
    const base = [
      "run",
      "--registry",
      REGISTRY,
      "--adapter",
      BUGGY,
      "--runs",
      "100",
      "--seed",
      "9",
      "--report",
      "json",
    ];
    const whole = await cli(...base, "--out", join(dir, "whole"));
    const one = await cli(...base, "--shard", "1/2", "--out", join(dir, "s1"));
    const two = await cli(...base, "--shard", "2/2", "--out", join(dir, "s2"));
    expect([whole.code, one.code, two.code]).toEqual([1, 1, 0]);
    expect(one.stdout).toMatch(/, shard 1\/2\n/);
    const merge = await cli(
      "merge",
      join(dir, "s2", "report.json"),
      join(dir, "s1", "report.json"),
      "--out",
      join(dir, "merged"),
    );
    expect(merge.code).toBe(1);
    const read = async (d: string): Promise<RunReport> =>
      JSON.parse(await readFile(join(dir, d, "report.json"), "utf8"));
    const merged = await read("merged");
    const single = await read("whole");
    expect(validateReport(merged)).toEqual([]);
    const verdicts = (r: RunReport) => r.results.map((x) => [x.id, x.status, x.runs, x.message, x.path]);
    expect(verdicts(merged)).toEqual(verdicts(single));
    expect(merged.summary).toEqual(single.summary);
    expect(await readFile(join(dir, "merged", "junit.xml"), "utf8")).toContain(
      'tests="3" failures="1" errors="0" skipped="1"',
    );
    expect(merge.stdout).toMatch(/^1 passed, 1 failed, 1 skipped, 0 errors in /m);
  });

  it("[HARNESS-SHARD-2] merge names a file that is not a report", async () => {
    const r = await cli("merge", "package.json");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^iommu-conformance: package.json: not a run report of format version 2:\n {2}\/: must have required property 'format'/,
    );
  });
});
