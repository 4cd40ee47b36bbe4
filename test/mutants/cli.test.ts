import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { listMutants } from "../../src/adapters/mutants.ts";
import { EXIT_FAILED, EXIT_OK } from "../../src/cli/errors.ts";
import { mutantsCommand } from "../../src/cli/mutants.ts";
import { loadTraceFile } from "../../src/trace/load.ts";

const ROOT = join(import.meta.dirname, "../..");

async function run(
  mutant?: string,
  report: "text" | "json" = "text",
  registry = "test/mutants/fixtures/registry.ts",
  jobs = 1,
) {
  const out = await mkdtemp(join(tmpdir(), "iommu-mutants-"));
  let text = "";
  const code = await mutantsCommand(
    {
      runs: 1,
      seed: 3,
      out,
      timeout: 10_000,
      registry,
      report,
      jobs,
      ...(mutant === undefined ? {} : { mutant }),
    },
    { out: (s) => (text += s), err: () => undefined, isTTY: false, cwd: ROOT },
  );
  return { code, text, out };
}

describe("iommu-conformance mutants", () => {
  it("[HARNESS-MUTANT-1] prints the mutant × property matrix and exits 1 when a mutant survives", async () => {
    const { code, text } = await run();
    expect(code).toBe(EXIT_FAILED);
    expect(text).toContain("P1 fixed-psi");
    expect(text).toContain("P2 always-holds");
    expect(text).toMatch(/^psi-mask-off-by-one +K +\.$/m);
    expect(text).toMatch(/^large-page-offset +\. +\.$/m);
    expect(text).toMatch(
      /KILLED {3}psi-mask-off-by-one: by fixed-psi; first failure after [0-9.]+ s \(1 cases\), then shrinking [0-9.]+ s; shrunk trace \d+ steps/,
    );
    expect(text).toContain("SURVIVED large-page-offset: no property failed");
    // The same scenario also catches invalidations that complete after their wait.
    expect(text).toContain("KILLED   wait-before-invalidation: by fixed-psi;");
    expect(text).toMatch(
      new RegExp(`${listMutants().length} mutants: 2 killed, ${listMutants().length - 2} survived, 0 errors`),
    );
  });

  it("[HARNESS-MUTANT-1] [HARNESS-MUTANT-3] exits 0 when every selected mutant is killed, leaving its shortest trace", async () => {
    const { code, text, out } = await run("psi-*", "json");
    expect(code).toBe(EXIT_OK);
    const report = JSON.parse(text) as {
      mutants: Array<{
        mutant: string;
        status: string;
        traceFile: string;
        timeToKillMs: number;
        timeToFirstFailureMs: number;
        shrinkMs: number;
      }>;
    };
    expect(report.mutants.map((m) => [m.mutant, m.status])).toEqual([["psi-mask-off-by-one", "killed"]]);
    // Finding and shrinking are reported apart, and add up to the kill time.
    const m = report.mutants[0]!;
    expect(m.timeToFirstFailureMs).toBeLessThanOrEqual(m.timeToKillMs);
    expect(m.timeToFirstFailureMs + m.shrinkMs).toBe(m.timeToKillMs);
    const file = join(out, "mutants", "psi-mask-off-by-one.json");
    expect(existsSync(file)).toBe(true);
    const trace = await loadTraceFile(file);
    expect(trace.adapter).toBe("mutant:psi-mask-off-by-one");
    expect(trace.property).toBe("fixed-psi");
    expect(trace.verdict).toBe("fail");
  });

  it("[HARNESS-MUTANT-1] a property that fails on the reference too is reported and kills nothing", async () => {
    const { code, text } = await run(
      "psi-mask-*,large-*",
      "text",
      "test/mutants/fixtures/unsound-registry.ts",
    );
    expect(text).toContain("always-fails fails on the reference (broken property)");
    expect(text).toContain("KILLED   psi-mask-off-by-one: by fixed-psi;");
    expect(text).toContain("SURVIVED large-page-offset: no property failed");
    expect(code).toBe(EXIT_FAILED);
  });

  it("[HARNESS-MUTANT-1] --jobs spreads the mutants over child processes and gives the same verdicts", async () => {
    const { code, text } = await run(
      "psi-mask-*,large-*",
      "text",
      "test/mutants/fixtures/unsound-registry.ts",
      2,
    );
    expect(text).toContain("always-fails fails on the reference (broken property)");
    expect(text).toMatch(/^psi-mask-off-by-one +K +\.$/m);
    expect(text).toContain("KILLED   psi-mask-off-by-one: by fixed-psi;");
    expect(text).toContain("SURVIVED large-page-offset: no property failed");
    expect(code).toBe(EXIT_FAILED);
  }, 60_000);
});
