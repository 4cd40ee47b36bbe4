import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { PropertyDefinition } from "../../src/cases/property.ts";
import { matchesGlob } from "../../src/cli/glob.ts";
import { jsonReport } from "../../src/runner/reports/json.ts";
import { junitReport } from "../../src/runner/reports/junit.ts";
import { textReport } from "../../src/runner/reports/text.ts";
import { runProperties } from "../../src/runner/runner.ts";
import { loadTraceFile } from "../../src/trace/load.ts";
import { createMemoryModel } from "../fixtures/harness/memory-model.ts";
import { dmaReadSeesGuestWrite, properties } from "../fixtures/harness/test-properties.ts";

const out = (): Promise<string> => mkdtemp(join(tmpdir(), "iommu-run-"));

describe("runProperties", () => {
  it("[HARNESS-SKIP-1] [HARNESS-TRACE-6] finds the bug, writes the shrunk case's trace, skips what the model cannot do", async () => {
    const dir = await out();
    const report = await runProperties(properties, {
      adapter: "module:buggy",
      model: createMemoryModel({ corruptReadAt: 0x5020n }),
      runs: 200,
      seed: 7,
      outDir: dir,
    });
    expect(report.results.map((r) => [r.id, r.status])).toEqual([
      ["test-dma-read-sees-guest-write", "fail"],
      ["test-needs-host", "skip"],
      ["test-register-round-trip", "pass"],
    ]);
    expect(report.summary).toEqual({ passed: 1, failed: 1, skipped: 1, errors: 0, incomplete: 0 });
    const fail = report.results[0]!;
    expect(fail.trace).toBe(join(dir, "traces", "test-dma-read-sees-guest-write-7.json"));
    expect(report.results[1]?.message).toBe("the model has no host surface (iommufd ioctls)");
    const trace = await loadTraceFile(fail.trace!);
    // The file holds the final (shrunk) case, with its path, ending at the judged DMA.
    expect(trace.path).toBe(fail.path);
    expect(trace.verdict).toBe("fail");
    expect(trace.steps.map((s) => s.op)).toEqual(["reset", "writeGuest", "dma"]);
    expect(trace.failure?.step).toBe(2);
    expect(trace.steps[2]?.checked).toBe(true);
    const dma = trace.steps[2]!.args as { iova: string; len: number };
    const start = BigInt(dma.iova);
    expect(start <= 0x5020n && 0x5020n < start + BigInt(dma.len)).toBe(true);
    expect(trace.commands?.[0]).toMatch(
      /^guest writes \d+ bytes at 0x50[0-9a-f]{2}; device 0x10 reads them back$/,
    );
  });

  it("[HARNESS-TRACE-6] --seed and --path rerun exactly the failing case", async () => {
    const first = await runProperties([dmaReadSeesGuestWrite], {
      adapter: "a",
      model: createMemoryModel({ corruptReadAt: 0x5020n }),
      runs: 200,
      seed: 11,
    });
    const f = first.results[0]!;
    expect(f.status).toBe("fail");
    const again = await runProperties([dmaReadSeesGuestWrite], {
      adapter: "a",
      model: createMemoryModel({ corruptReadAt: 0x5020n }),
      runs: 200,
      seed: 11,
      path: f.path!,
    });
    expect(again.results[0]?.status).toBe("fail");
    expect(again.results[0]?.message).toBe(f.message?.replace(/after \d+ runs/, "after 1 runs"));
  });

  it("[HARNESS-SKIP-1] an honest model passes; nothing is written", async () => {
    const dir = await out();
    const report = await runProperties([dmaReadSeesGuestWrite], {
      adapter: "m",
      model: createMemoryModel(),
      runs: 50,
      seed: 1,
      outDir: dir,
    });
    expect(report.results[0]).toMatchObject({ status: "pass", runs: 50 });
    expect(report.results[0]?.trace).toBeUndefined();
  });

  it("[HARNESS-SKIP-2] [HARNESS-STOP-2] properties not started when the time limit is spent are incomplete, with the reason", async () => {
    let t = 0;
    const slow: PropertyDefinition = {
      id: "slow",
      title: "takes the whole budget",
      rules: [],
      needs: () => null,
      async run(ctx) {
        expect(ctx.timeLimitMs).toBe(5_000);
        t += 6_000;
        return { status: "pass", runs: 1 };
      },
    };
    const report = await runProperties([slow, dmaReadSeesGuestWrite], {
      adapter: "m",
      model: createMemoryModel(),
      runs: 5,
      seed: 1,
      timeLimitMs: 5_000,
      now: () => t,
    });
    expect(report.results[1]).toMatchObject({
      status: "incomplete",
      message: "not run: the run's time limit was reached before it started",
    });
  });

  it("[HARNESS-STOP-2] a property the time limit cuts short is incomplete, not a pass", async () => {
    const report = await runProperties([dmaReadSeesGuestWrite], {
      adapter: "m",
      model: createMemoryModel(),
      runs: 10_000_000,
      seed: 1,
      timeLimitMs: 300,
    });
    const r = report.results[0]!;
    expect(r.status).toBe("incomplete");
    expect(r.runs).toBeLessThan(10_000_000);
    expect(r.message).toBe(`the time limit stopped it after ${r.runs} of 10000000 cases`);
    expect(report.summary.incomplete).toBe(1);
    expect(report.summary.passed).toBe(0);
  });

  it("[HARNESS-STOP-1] an interrupt stops the running property (incomplete) and leaves the rest unrun", async () => {
    const controller = new AbortController();
    const report = await runProperties(properties, {
      adapter: "m",
      model: createMemoryModel(),
      runs: 10_000_000,
      seed: 1,
      signal: controller.signal,
      onCases: (done) => {
        if (done === 5) controller.abort("SIGINT");
      },
    });
    expect(report.interrupted).toBe("SIGINT");
    expect(report.results.map((r) => [r.id, r.status, r.message])).toEqual([
      ["test-dma-read-sees-guest-write", "incomplete", "interrupted by SIGINT after 5 of 10000000 cases"],
      ["test-needs-host", "incomplete", "not run: the run was interrupted (SIGINT)"],
      ["test-register-round-trip", "incomplete", "not run: the run was interrupted (SIGINT)"],
    ]);
  });

  it("[HARNESS-STOP-1] an interrupt while shrinking keeps the failure and its trace", async () => {
    const dir = await out();
    const controller = new AbortController();
    const report = await runProperties([dmaReadSeesGuestWrite], {
      adapter: "m",
      model: createMemoryModel({ corruptReadAt: 0x5020n }),
      runs: 200,
      seed: 7,
      outDir: dir,
      signal: controller.signal,
      onTraceWritten: () => controller.abort("SIGTERM"), // at the first failing case
    });
    const r = report.results[0]!;
    expect(r.status).toBe("fail");
    expect(r.message).toMatch(/interrupted by SIGTERM while shrinking/);
    const trace = await loadTraceFile(r.trace!);
    expect(trace.verdict).toBe("fail");
    expect(report.interrupted).toBe("SIGTERM");
  });

  it("[HARNESS-MUTANT-4] a failure reports when its first failing case was found, apart from shrinking", async () => {
    let t = 1_000;
    const shrinking: PropertyDefinition = {
      id: "shrinking",
      title: "fails after 120 ms, shrinks for 380 ms",
      rules: [],
      needs: () => null,
      async run(ctx) {
        ctx.beginCase();
        t += 120;
        await ctx.caseFailed({ message: "first" });
        t += 300;
        await ctx.caseFailed({ message: "smaller" });
        t += 80;
        return { status: "fail", runs: 4, seed: 1, path: "3:0", message: "smaller", shrinks: 1 };
      },
    };
    const report = await runProperties([shrinking, dmaReadSeesGuestWrite], {
      adapter: "m",
      model: createMemoryModel(),
      runs: 5,
      seed: 1,
      now: () => t,
    });
    expect(report.results[0]).toMatchObject({ status: "fail", firstFailureMs: 120, durationMs: 500 });
    expect(report.results[1]?.status).toBe("pass");
    expect(report.results[1]?.firstFailureMs).toBeUndefined();
  });

  it("[HARNESS-EXIT-1] an exception inside a property is an error with its message, and its steps are kept", async () => {
    const dir = await out();
    const broken: PropertyDefinition = {
      id: "broken",
      title: "throws",
      rules: [],
      needs: () => null,
      async run(ctx) {
        ctx.beginCase();
        await ctx.model.reset(createConfig());
        await ctx.model.platform.readGuest(0xfff_0000n, 4);
        return { status: "pass", runs: 1 };
      },
    };
    const report = await runProperties([broken], {
      adapter: "m",
      model: createMemoryModel(),
      runs: 1,
      seed: 3,
      outDir: dir,
    });
    expect(report.results[0]).toMatchObject({
      status: "error",
      message: expect.stringContaining("outside guest memory"),
    });
    const trace = await loadTraceFile(report.results[0]!.trace!);
    expect(trace.verdict).toBe("error");
    expect(trace.steps[1]?.error?.message).toContain("outside guest memory");
    expect(trace.failure?.step).toBe(1);
  });
});

function createConfig() {
  return {
    viommu: {
      scalable: false,
      awBits: 48 as const,
      cachingMode: false,
      firstStage: false,
      secondStage: true,
      nested: false,
      passThrough: false,
      pasidBits: 0,
      snoopControl: false,
      fs1gp: false,
      fl5lp: false,
      ssLargePages: { twoMiB: false, oneGiB: false },
      hawBits: 46,
      faultRecords: 8,
      supervisorRequests: false,
      extendedAccessed: false,
    },
    devices: [],
    memory: { size: 0x1000n, regions: [] },
    hostIommus: [],
  };
}

describe("reports", () => {
  it("[HARNESS-REPORT-1] text, JSON and JUnit reports carry the same verdicts", async () => {
    const report = await runProperties(properties, {
      adapter: "module:buggy",
      model: createMemoryModel({ corruptReadAt: 0x5020n }),
      runs: 100,
      seed: 7,
    });
    const text = textReport(report);
    expect(text).toMatch(/^FAIL {2}test-dma-read-sees-guest-write: /m);
    expect(text).toMatch(/^SKIP {2}test-needs-host: /m);
    expect(text).toMatch(
      /^ {6}again: npx iommu-conformance run --adapter module:buggy --property test-dma-read-sees-guest-write --seed 7 --path [0-9:]+$/m,
    );
    expect(text).toMatch(/^1 passed, 1 failed, 1 skipped, 0 errors in /m);
    expect(JSON.parse(jsonReport(report))).toEqual(JSON.parse(JSON.stringify(report)));
    const xml = junitReport(report);
    expect(xml).toContain(
      '<testsuites name="iommu-conformance" tests="3" failures="1" errors="0" skipped="1"',
    );
    expect(xml).toMatch(
      /<testcase classname="iommu-conformance.test-dma-read-sees-guest-write"[^>]*>\s*<failure message="counterexample/,
    );
  });

  it("[HARNESS-REPORT-1] --property globs match whole ids, with * ? and commas", () => {
    expect(matchesGlob("guest-walk-legacy", "guest-*")).toBe(true);
    expect(matchesGlob("guest-walk-legacy", "walk")).toBe(false);
    expect(matchesGlob("host-a", "guest-*,host-?")).toBe(true);
    expect(matchesGlob("a.b", "a?b")).toBe(true);
    expect(matchesGlob("axb", "a.b")).toBe(false);
  });

  it("[HARNESS-SELECT-1] a glob starting with ! excludes; alone it means everything else", () => {
    expect(matchesGlob("cache-coherence", "!cache-coherence")).toBe(false);
    expect(matchesGlob("queue-behaviour", "!cache-coherence")).toBe(true);
    expect(matchesGlob("guest-a", "guest-*,!guest-a")).toBe(false);
    expect(matchesGlob("guest-b", "guest-*,!guest-a")).toBe(true);
    expect(matchesGlob("host-b", "guest-*,!guest-a")).toBe(false);
    expect(matchesGlob("ioas-mappings", "{ioas,attach}-*")).toBe(true);
    expect(matchesGlob("attach-detach", "{ioas,attach}-*,!attach-detach")).toBe(false);
  });
});

describe("report files", () => {
  it("[HARNESS-REPORT-1] the JSON report round-trips through a file", async () => {
    const report = await runProperties([dmaReadSeesGuestWrite], {
      adapter: "m",
      model: createMemoryModel(),
      runs: 5,
      seed: 2,
    });
    const dir = await out();
    const { writeFileAtomic } = await import("../../src/trace/write.ts");
    await writeFileAtomic(join(dir, "r.json"), jsonReport(report));
    expect(JSON.parse(await readFile(join(dir, "r.json"), "utf8")).summary.passed).toBe(1);
  });
});
