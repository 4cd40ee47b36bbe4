/**
 * [HARNESS-DRV-4] Bounded polling. The platform surface is asynchronous and a model may complete a command
 * later than the write that started it (a stdio model, QEMU), so every wait is a loop of reads
 * with an upper bound on iterations, never an unbounded spin.
 */
import { DriverError } from "./errors.ts";

export interface PollOptions {
  /** Reads before giving up (default 1000). */
  maxPolls?: number;
  /** Milliseconds between reads (default 0: only yield to the event loop). */
  delayMs?: number;
}

export const DEFAULT_MAX_POLLS = 1000;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Read with `read` until `done` holds for the value; return that value. After `maxPolls` reads,
 * throw a "timeout" DriverError whose message is `what` plus the last value seen.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (v: T) => boolean,
  what: string,
  opts: PollOptions = {},
  describe: (v: T) => string = (v) => String(v),
): Promise<T> {
  const max = Math.max(1, opts.maxPolls ?? DEFAULT_MAX_POLLS);
  let last: T | undefined;
  for (let i = 0; i < max; i++) {
    last = await read();
    if (done(last)) return last;
    if (opts.delayMs !== undefined && opts.delayMs > 0) await pause(opts.delayMs);
  }
  throw new DriverError("timeout", `${what}: not done after ${max} reads (last ${describe(last as T)})`, {
    polls: max,
    last,
  });
}
