/** Exit codes of `iommu-conformance` and the usage error. [HARNESS-EXIT-1] */

export const EXIT_OK = 0;
/** A property failed (or a replayed trace fails). */
export const EXIT_FAILED = 1;
/** Usage, adapter or protocol error. */
export const EXIT_ERROR = 2;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** What the CLI writes to; replaceable in tests. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal (progress display). */
  isTTY: boolean;
  /** Colours in the text on stdout (a terminal without NO_COLOR). */
  color?: boolean;
  /** The terminal to draw the run's progress line on (stdout, when it is one). */
  terminal?: NodeJS.WriteStream;
  /** Base for relative paths. */
  cwd: string;
  /** How the user calls this CLI from cwd (default "npx iommu-conformance"). [HARNESS-SEED-2] */
  invocation?: string;
}

/** Nothing failed or broke, but a property was cut short or not run (time limit). [HARNESS-EXIT-3] */
export const EXIT_INCOMPLETE = 3;

/** 1 if anything failed, else 2 if anything broke, else 3 if anything is incomplete, else 0. */
export function exitCodeFor(failed: number, errors: number, incomplete = 0): number {
  if (failed > 0) return EXIT_FAILED;
  if (errors > 0) return EXIT_ERROR;
  if (incomplete > 0) return EXIT_INCOMPLETE;
  return EXIT_OK;
}
