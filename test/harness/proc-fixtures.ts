/** What the signal tests read from /proc: whether a process runs, and what a process started. */
import { readdirSync, readFileSync } from "node:fs";

/** "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")". */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** Running (a killed process whose parent has not reaped it yet is a zombie: not running). */
export function alive(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== "Z";
}

/** A process below another, with its command line (arguments joined by spaces). */
export interface Descendant {
  pid: number;
  pgid: number;
  cmdline: string;
}

/** Every living process below `root` (children, grandchildren, ...). */
export function descendants(root: number): Descendant[] {
  const all: Array<{ pid: number; ppid: number; pgid: number }> = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(Number(name));
    if (fields === undefined || fields[0] === "Z") continue;
    all.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]) });
  }
  const out: Descendant[] = [];
  const visit = (parent: number): void => {
    for (const p of all.filter((x) => x.ppid === parent)) {
      let cmdline = "";
      try {
        cmdline = readFileSync(`/proc/${p.pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      } catch {
        continue; // gone meanwhile
      }
      out.push({ pid: p.pid, pgid: p.pgid, cmdline });
      visit(p.pid);
    }
  };
  visit(root);
  return out;
}

/** Polls `probe` every 50 ms until it returns a value, or rejects after `ms` naming `what`. */
export async function until<T>(what: string, ms: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
