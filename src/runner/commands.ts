/**
 * The commands a report prints for a failure: rerun it by seed and path, replay its trace, export
 * a standalone reproducer. They run as printed from the directory the user ran in: the
 * invocation is the one that works there (`npx iommu-conformance` for a local install), file
 * names are relative to that directory, and every argument is quoted for a POSIX shell.
 * [HARNESS-SEED-2]
 */
import { isAbsolute, relative } from "node:path";

export interface CommandContext {
  /** How the user calls the CLI, e.g. "npx iommu-conformance". */
  invocation: string;
  /** The directory the user ran in: file names are printed relative to it. */
  cwd: string;
  /** Options the run was given that a rerun needs too (--registry, --timeout), as arguments. */
  extraArgs?: readonly string[];
}

export interface FailureCommands {
  /** Rerun exactly the failing case by seed and path. */
  again?: string;
  /** Replay the trace without fast-check. */
  replay?: string;
  /** Write a standalone reproducer of the trace. */
  export?: string;
}

/** Quote one word for a POSIX shell (bare when it is safe as it is). */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

function command(ctx: CommandContext, args: readonly string[]): string {
  return [ctx.invocation, ...args.map(shellQuote)].join(" ");
}

/** A file name as the user would type it from ctx.cwd. */
export function displayPath(file: string, cwd: string): string {
  if (!isAbsolute(file) || cwd === "") return file;
  const rel = relative(cwd, file);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

/** What of a property's result the commands need. */
export interface FailureRef {
  id: string;
  seed?: number;
  path?: string;
  replayPath?: string;
  trace?: string;
}

export function failureCommands(adapter: string, r: FailureRef, ctx: CommandContext): FailureCommands {
  const out: FailureCommands = {};
  const extra = ctx.extraArgs ?? [];
  if (r.seed !== undefined && r.path !== undefined && r.path !== "") {
    const args = ["run", "--adapter", adapter, "--property", r.id, "--seed", String(r.seed)];
    args.push("--path", r.path);
    if (r.replayPath !== undefined) args.push("--replay-path", r.replayPath);
    out.again = command(ctx, [...args, ...extra]);
  }
  if (r.trace !== undefined) {
    const file = displayPath(r.trace, ctx.cwd);
    out.replay = command(ctx, ["replay", file, ...extra]);
    out.export = command(ctx, ["export", file, "--format", adapter.startsWith("qemu") ? "qtest" : "jsonl"]);
  }
  return out;
}
