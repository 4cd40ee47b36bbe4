/**
 * `--out DIR` is checked before anything runs: it must be a directory the suite can create and
 * write, or the command stops at once with a usage error naming the problem (exit 2). Stale
 * temporary files of a killed run are removed. [HARNESS-OUT-1] [HARNESS-TRACE-4]
 */
import { randomBytes } from "node:crypto";
import { open, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { makeDir, removeStaleTemps } from "../trace/write.ts";
import { UsageError } from "./errors.ts";

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === undefined ? err.message : `${err.code}: ${err.message}`;
}

/** The absolute output directory, created and known to be writable. */
export async function prepareOutDir(out: string, cwd: string): Promise<string> {
  const dir = resolve(cwd, out);
  const existing = await stat(dir).catch(() => undefined);
  if (existing !== undefined && !existing.isDirectory())
    throw new UsageError(`--out ${out}: exists and is not a directory`);
  if (existing === undefined) {
    try {
      await makeDir(dir);
    } catch (e) {
      throw new UsageError(`--out ${out}: cannot create the directory (${reason(e)})`);
    }
  }
  const probe = join(dir, `.write-check.${process.pid}.${randomBytes(4).toString("hex")}`);
  try {
    await (await open(probe, "wx")).close();
    await rm(probe, { force: true });
  } catch (e) {
    throw new UsageError(`--out ${out}: cannot write in the directory (${reason(e)})`);
  }
  await removeStaleTemps(dir);
  await removeStaleTemps(join(dir, "traces"));
  return dir;
}
