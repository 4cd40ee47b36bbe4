/**
 * Atomic trace files: write a temporary file in the same directory, fsync it, rename it over
 * the target, fsync the directory. A reader sees the old file or the new one, never a torn
 * one, even if the run is killed mid-write. [HARNESS-TRACE-4]
 */
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { serializeTrace } from "./serialize.ts";
import type { Trace } from "./types.ts";

let counter = 0;

export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
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
