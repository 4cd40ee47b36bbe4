/**
 * `mutants` interrupted as a CI job or a Ctrl-C interrupts it: a real signal to the real command,
 * in one process and over --jobs child processes. [HARNESS-STOP-4]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BIN, ROOT } from "../harness/cli-fixtures.ts";
import { alive, descendants, until } from "../harness/proc-fixtures.ts";

const REGISTRY = "test/mutants/fixtures/slow-registry.ts";
const noStack = /\n\s+at /;

/**
 * `mutants` with a case budget no run reaches: psi-mask-off-by-one dies at its first case, every
 * other mutant would run for hours. `--unsound ""` skips the baseline (it would run for hours too).
 */
function start(out: string, mutants: string, jobs: number, report: string): ChildProcess {
  const args = ["mutants", "--registry", REGISTRY, "--unsound", ""];
  args.push("--runs", "100000000", "--seed", "3", "--mutant", mutants, "--jobs", String(jobs));
  return spawn("node", [BIN, ...args, "--report", report, "--out", out], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function collect(child: ChildProcess): { out: string; err: string; exited: Promise<number | null> } {
  const seen = {
    out: "",
    err: "",
    exited: new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code))),
  };
  child.stdout?.on("data", (c: Buffer) => {
    seen.out += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    seen.err += c.toString();
  });
  return seen;
}

interface Row {
  mutant: string;
  status: string;
  message?: string;
  results: Array<{ id: string; status: string }>;
}

describe("interrupting mutants", () => {
  it("[HARNESS-STOP-4] SIGINT in one process: the rows so far, the rest incomplete, exit 130", async () => {
    const out = await mkdtemp(join(tmpdir(), "iommu-mutants-int-"));
    const child = start(out, "psi-mask-off-by-one,large-page-offset,write-leaf-only", 1, "json");
    const seen = collect(child);
    // psi-mask-off-by-one's row is finished once its counterexample is copied out.
    await until("the first mutant's row", 45_000, () =>
      existsSync(join(out, "mutants", "psi-mask-off-by-one.json")) ? true : undefined,
    );
    child.kill("SIGINT");
    expect(await seen.exited).toBe(130);
    expect(seen.err).toContain("SIGINT: stopping; writing the partial kill matrix");
    expect(seen.err).not.toMatch(noStack);
    const report = JSON.parse(seen.out) as { interrupted: string; mutants: Row[] };
    expect(report.interrupted).toBe("SIGINT");
    const [killed, cut, notRun] = report.mutants;
    expect([killed?.mutant, killed?.status]).toEqual(["psi-mask-off-by-one", "killed"]);
    // The signal lands while large-page-offset runs fixed-psi, or just before it starts.
    expect([cut?.mutant, cut?.status]).toEqual(["large-page-offset", "incomplete"]);
    expect(cut?.message).toMatch(
      /^(interrupted by SIGINT after 0 of 1 properties|not run: the run was interrupted \(SIGINT\))$/,
    );
    expect(notRun).toEqual({
      mutant: "write-leaf-only",
      status: "incomplete",
      killedBy: [],
      results: [],
      message: "not run: the run was interrupted (SIGINT)",
    });
  }, 60_000);

  it("[HARNESS-STOP-4] SIGTERM with --jobs 2: children's groups killed, partial text and HTML matrix, exit 143", async () => {
    const out = await mkdtemp(join(tmpdir(), "iommu-mutants-term-"));
    const mutants = "psi-mask-off-by-one,large-page-offset,write-leaf-only,haw-unchecked";
    const child = start(out, mutants, 2, "html");
    const seen = collect(child);
    // psi-mask-off-by-one's child is done once write-leaf-only's has started in its place.
    const third = await until("the third mutant's child", 45_000, () =>
      descendants(child.pid as number).find((p) => p.cmdline.includes("--mutant write-leaf-only")),
    );
    const workers = descendants(child.pid as number);
    expect(workers.length).toBeGreaterThanOrEqual(2);
    // Each child leads a process group of its own.
    expect(third.pgid).toBe(third.pid);
    child.kill("SIGTERM");
    expect(await seen.exited).toBe(143);
    expect(seen.err).toContain("SIGTERM: stopping; writing the partial kill matrix");
    expect(seen.err).not.toMatch(noStack);
    expect(seen.out).toMatch(/^KILLED {3}psi-mask-off-by-one: by psi-repeated;/m);
    expect(seen.out).toContain("INCOMPLETE large-page-offset: interrupted by SIGTERM while it ran");
    expect(seen.out).toContain("INCOMPLETE write-leaf-only: interrupted by SIGTERM while it ran");
    expect(seen.out).toContain("INCOMPLETE haw-unchecked: not run: the run was interrupted (SIGTERM)");
    expect(seen.out).toMatch(
      /^4 mutants: 1 killed, 0 survived, 0 errors, 3 incomplete \(interrupted: SIGTERM\)$/m,
    );
    const html = await readFile(join(out, "mutants.html"), "utf8");
    expect(html).toContain("Interrupted by SIGTERM: 3 mutants incomplete.");
    for (const w of workers) expect(alive(w.pid), w.cmdline).toBe(false);
  }, 60_000);
});
