/**
 * Atomic trace files: write a temporary file in the same directory, fsync it, rename it over
 * the target, fsync the directory. A reader sees the old file or the new one, never a torn
 * one, even if the run is killed mid-write. [HARNESS-TRACE-4]
 */
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { serializeTrace } from "./serialize.ts";
import type { Trace } from "./types.ts";

let counter = 0;

/** A temporary file of writeFileAtomic: ".NAME.PID.N.tmp". */
const TEMP = /^\..+\.(\d+)\.\d+\.tmp$/;

/**
 * Create `dir` and its missing parents. Not mkdir({recursive}): on some paths (/proc/nope)
 * Node's recursive mkdir loops forever on ENOENT.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && (await stat(dir)).isDirectory()) return;
    const parent = dirname(dir);
    if (code !== "ENOENT" || parent === dir) throw e;
    await makeDir(parent);
  }
  try {
    await mkdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST" && (await stat(dir)).isDirectory()) return;
    throw e;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove the temporary files a killed writer left in `dir` (those of live processes stay), so
 * no ".tmp" is ever mistaken for a trace. Returns how many were removed. [HARNESS-TRACE-4]
 */
export async function removeStaleTemps(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const pid = TEMP.exec(name)?.[1];
    if (pid === undefined || alive(Number(pid))) continue;
    await rm(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await makeDir(dir);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${++counter}.tmp`);
  const handle = await open(tmp, "wx");
  try {
    await handle.writeFile(text, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  // Make the rename itself durable; not every file system lets a directory be opened.
  try {
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // best effort
  }
}

export async function writeTraceFile(file: string, trace: Trace): Promise<void> {
  await writeFileAtomic(file, serializeTrace(trace));
}
