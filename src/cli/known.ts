/**
 * `--known`: which known deviations a run tolerates [HARNESS-KNOWN-1]. The value is a list of
 * ids (`--known ID,ID`), a known-deviations file (schema/known-deviations.schema.json), or `none`.
 * Without it a `qemu` run tolerates the recorded findings (reference-traces/qemu/*.expect) that
 * reproduce on the QEMU the adapter detected; every other adapter tolerates nothing.
 */
import { existsSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { KNOWN_DEVIATIONS, type KnownDeviation, knownDeviations } from "../cases/known/index.ts";
import { packageFile } from "../contract/package-files.ts";
import { createAjv, describeErrors } from "../contract/schema.ts";
import { UsageError } from "./errors.ts";
import { expectedFor, FINDINGS_DIR, readExpectation } from "./qemu-expectations.ts";

// From source (src/cli/) or compiled (dist/src/cli/) alike.
const SCHEMA_FILE = packageFile("schema/known-deviations.schema.json");

/** The ids of a known-deviations file, validated against its schema. */
export function readKnownFile(file: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new UsageError(`--known ${file}: not a JSON file (${(e as Error).message})`);
  }
  const validate = createAjv().compile(JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as object);
  if (!validate(doc))
    throw new UsageError(
      `--known ${file} is not a known-deviations file:\n  ${describeErrors(validate.errors).join("\n  ")}`,
    );
  return (doc as { deviations: Array<{ id: string }> }).deviations.map((d) => d.id);
}

/** The deviations `--known` names (ids, a file or `none`), or the adapter's default. */
export async function resolveKnown(
  value: string | undefined,
  adapterKind: string,
  modelVersion: string,
  cwd: string,
): Promise<KnownDeviation[]> {
  if (value === undefined) return adapterKind === "qemu" ? qemuDefault(modelVersion) : [];
  if (value === "none") return [];
  const path = resolve(cwd, value);
  const ids = existsSync(path)
    ? readKnownFile(path)
    : value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
  try {
    return knownDeviations(ids);
  } catch (e) {
    throw new UsageError(`--known: ${(e as Error).message}`);
  }
}

/** [QEMU-FIND-3] The recorded findings that reproduce on this QEMU and have a relaxation. */
async function qemuDefault(modelVersion: string): Promise<KnownDeviation[]> {
  const m = /version (\d+)\.(\d+)/.exec(modelVersion);
  const dir = packageFile(FINDINGS_DIR);
  if (m === null || !existsSync(dir)) return [];
  const version = `${m[1]}.${m[2]}`;
  const ids: string[] = [];
  for (const name of (await readdir(dir)).filter((f) => f.endsWith(".expect")).sort()) {
    const e = await readExpectation(join(dir, name));
    if (expectedFor(e, version) === "reproduced") ids.push(e.finding);
  }
  return KNOWN_DEVIATIONS.filter((d) => ids.includes(d.id));
}
