/**
 * SIGINT and SIGTERM during a run: the first aborts it (the runner stops, the partial report
 * and every trace are written, child processes are ended); a second one ends the process at
 * once. [HARNESS-STOP-1]
 */
import { constants } from "node:os";
import { reapChildren } from "./reap.ts";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/** 128 + the signal's number, as a shell reports a process ended by it (130, 143). */
export function signalExitCode(signal: string): number {
  const n = constants.signals[signal as keyof typeof constants.signals];
  return 128 + (n ?? 15);
}

/** Abort `controller` with the signal's name on the first signal; returns the uninstaller. */
export function abortOnSignals(controller: AbortController, onSignal?: (signal: string) => void): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      reapChildren();
      process.exit(signalExitCode(signal));
    }
    onSignal?.(signal);
    controller.abort(signal);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return () => {
    for (const s of SIGNALS) process.off(s, handler);
  };
}
