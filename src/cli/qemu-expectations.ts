/**
 * The recorded QEMU findings on disk: where they live and their `.expect` sidecars (what verdict
 * each QEMU version is recorded with). [QEMU-FIND-1]
 */
import { readFile } from "node:fs/promises";
import type { QemuInstall } from "../adapters/qemu/process.ts";
import type { ReplayOutcome } from "../runner/replay.ts";

/** Where the findings live, relative to the repository. */
export const FINDINGS_DIR = "reference-traces/qemu";

/** A replay verdict, or `refused`: this QEMU cannot build the trace's configuration. */
export type FindingVerdict = ReplayOutcome | "refused";

/** The sidecar `<id>.expect` beside a finding's trace `<id>.json` [QEMU-FIND-1]. */
export interface FindingExpectation {
  finding: string;
  /** The specification rule QEMU breaks (or the spec/ rule that records a choice). */
  rule: string;
  summary: string;
  /** The `--version` line of the QEMU the trace was recorded on. */
  recordedOn: string;
  /** Expected verdict per QEMU version ("7.2", "11.1"). */
  expected: Record<string, FindingVerdict>;
}

export interface QemuTarget {
  /** The adapter spec that runs this QEMU. */
  adapter: string;
  install: QemuInstall;
  /** "major.minor". */
  version: string;
}

export interface FindingRow {
  finding: string;
  rule: string;
  qemu: string;
  expected: FindingVerdict | undefined;
  got: FindingVerdict;
  message: string;
  ok: boolean;
}

export async function readExpectation(file: string): Promise<FindingExpectation> {
  const e = JSON.parse(await readFile(file, "utf8")) as FindingExpectation;
  if (typeof e.finding !== "string" || typeof e.rule !== "string" || typeof e.expected !== "object")
    throw new Error(`${file}: needs finding, rule and expected`);
  return e;
}

/** The expectation for a version: exact, else the newest recorded one of the same major. */
export function expectedFor(e: FindingExpectation, version: string): FindingVerdict | undefined {
  if (e.expected[version] !== undefined) return e.expected[version];
  const major = version.split(".")[0];
  const same = Object.keys(e.expected)
    .filter((v) => v.split(".")[0] === major)
    .sort((a, b) => Number(a.split(".")[1]) - Number(b.split(".")[1]));
  const last = same.at(-1);
  return last === undefined ? undefined : e.expected[last];
}
