/**
 * `mutants --jobs N`: the mutants spread over N child processes of this CLI, one mutant each at a
 * time, so a matrix uses every core. The parent runs the reference baseline once and hands the
 * children its verdict (`--unsound`), so they skip it; each child prints its row as JSON. A child
 * that dies or prints no row becomes an error row naming its exit and the end of its stderr: no
 * result is lost silently. Each child runs in a process group of its own, so that a signal stops
 * the whole matrix from the parent: the children's groups are killed at once, their mutants are
 * incomplete, and those not started are not run. [HARNESS-MUTANT-1] [HARNESS-STOP-4]
 */
import { spawn } from "node:child_process";
import { packageFile } from "../contract/package-files.ts";
import type { CliIO } from "./errors.ts";
import { incompleteRow, type MutantRow, notRunMessage } from "./mutant-run.ts";
import { createProgress } from "./progress.ts";

const BIN = packageFile("bin/iommu-conformance.js");

/** The `--unsound` value: property ids that fail on the reference, comma-separated ("" for none). */
export function formatUnsound(unsound: ReadonlyMap<string, string>): string {
  return [...unsound.keys()].join(",");
}

export function parseUnsound(value: string): Map<string, string> {
  const ids = value.split(",").filter((s) => s !== "");
  return new Map(ids.map((id) => [id, "fails on the reference (found by the parent run)"]));
}

/** SIGKILL a child's whole process group (it leads one: spawned detached). */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function runChild(
  id: string,
  args: string[],
  io: CliIO,
  signal: AbortSignal | undefined,
): Promise<MutantRow> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [BIN, "mutants", ...args, "--mutant", id, "--jobs", "1", "--report", "json"],
      {
        cwd: io.cwd,
        stdio: ["ignore", "pipe", "pipe"],
        // A group of its own: a terminal's Ctrl-C reaches the parent only, which ends the groups.
        detached: true,
      },
    );
    const stop = (): void => killGroup(child.pid);
    signal?.addEventListener("abort", stop, { once: true });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      err = (err + d).slice(-4000);
    });
    const broken = (why: string): MutantRow => {
      const tail = err
        .split("\n")
        .filter((l) => l.trim() !== "" && !l.startsWith("npm warn"))
        .slice(-3)
        .join(" | ");
      return {
        mutant: id,
        status: "error",
        killedBy: [],
        results: [],
        message: `the child process ${why}${tail === "" ? "" : `: ${tail}`}`,
      };
    };
    child.on("error", (e) => done(broken(`could not start (${e.message})`)));
    child.on("close", (code, ended) => {
      signal?.removeEventListener("abort", stop);
      let row: MutantRow | undefined;
      try {
        row = (JSON.parse(out) as { mutants?: MutantRow[] }).mutants?.find((r) => r.mutant === id);
      } catch {
        row = undefined;
      }
      // A child that finished before the signal keeps its row; one the signal ended is incomplete.
      if (row !== undefined) return done(row);
      if (signal?.aborted)
        return done(incompleteRow(id, `interrupted by ${String(signal.reason)} while it ran`));
      done(
        broken(`exited ${ended ?? code} without ${out.trim() === "" ? "a JSON report" : `a row for ${id}`}`),
      );
    });
  });
}

/** Each mutant in a child process, `jobs` at once; rows in the order of `ids`. */
export async function runInChildren(
  ids: string[],
  jobs: number,
  args: string[],
  io: CliIO,
  signal?: AbortSignal,
): Promise<MutantRow[]> {
  const rows: MutantRow[] = new Array(ids.length);
  const progress = createProgress(io.isTTY);
  progress.start(`mutants (${jobs} jobs)`, ids.length);
  let next = 0;
  let finished = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length && signal?.aborted !== true) {
      const i = next++;
      rows[i] = await runChild(ids[i] as string, args, io, signal);
      progress.update(++finished);
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    progress.stop();
  }
  // [HARNESS-STOP-4] the mutants a signal kept from starting.
  return ids.map((id, i) => rows[i] ?? incompleteRow(id, notRunMessage(String(signal?.reason))));
}
