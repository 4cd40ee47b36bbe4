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
  /** Base for relative paths. */
  cwd: string;
  /** How the user calls this CLI from cwd (default "npx iommu-conformance"). [HARNESS-SEED-2] */
  invocation?: string;
}

/** 1 if anything failed, else 2 if anything broke, else 0. */
export function exitCodeFor(failed: number, errors: number): number {
  if (failed > 0) return EXIT_FAILED;
  if (errors > 0) return EXIT_ERROR;
  return EXIT_OK;
}
