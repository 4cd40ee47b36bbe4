/**
 * `mutants --jobs N`: the mutants spread over N child processes of this CLI, one mutant each at a
 * time, so a matrix uses every core. The parent runs the reference baseline once and hands the
 * children its verdict (`--unsound`), so they skip it; each child prints its row as JSON. A child
 * that dies or prints no row becomes an error row naming its exit and the end of its stderr: no
 * result is lost silently. [HARNESS-MUTANT-1]
 */
import { spawn } from "node:child_process";
import { packageFile } from "../contract/package-files.ts";
import type { CliIO } from "./errors.ts";
import type { MutantRow } from "./mutant-run.ts";
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

function runChild(id: string, args: string[], io: CliIO): Promise<MutantRow> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [BIN, "mutants", ...args, "--mutant", id, "--jobs", "1", "--report", "json"],
      {
        cwd: io.cwd,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
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
    child.on("close", (code, signal) => {
      try {
        const report = JSON.parse(out) as { mutants?: MutantRow[] };
        const row = report.mutants?.find((r) => r.mutant === id);
        if (row !== undefined) return done(row);
        done(broken(`exited ${signal ?? code} without a row for ${id}`));
      } catch {
        done(broken(`exited ${signal ?? code} without a JSON report`));
      }
    });
  });
}

/** Each mutant in a child process, `jobs` at once; rows in the order of `ids`. */
export async function runInChildren(
  ids: string[],
  jobs: number,
  args: string[],
  io: CliIO,
): Promise<MutantRow[]> {
  const rows: MutantRow[] = new Array(ids.length);
  const progress = createProgress(io.isTTY);
  progress.start(`mutants (${jobs} jobs)`, ids.length);
  let next = 0;
  let finished = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const i = next++;
      rows[i] = await runChild(ids[i] as string, args, io);
      progress.update(++finished);
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, worker));
  } finally {
    progress.stop();
  }
  return rows;
}
