/**
 * Ends every process this one started, with whatever they started: a child in its own process
 * group (stdio models, QEMU) is killed with its whole group, any other child with its
 * descendants. Read from /proc, so it reaches children no adapter keeps track of; elsewhere it
 * does nothing. [HARNESS-STOP-1]
 */
import { readdirSync, readFileSync } from "node:fs";

interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
}

function processes(): Proc[] {
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: Proc[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function kill(target: number): void {
  try {
    process.kill(target, "SIGKILL");
  } catch {
    // already gone
  }
}

/** SIGKILL the descendants of this process; returns the pids and groups signalled. */
export function reapChildren(): number[] {
  const all = processes();
  const own = all.find((p) => p.pid === process.pid)?.pgid ?? process.pid;
  const signalled: number[] = [];
  const visit = (parent: number): void => {
    for (const child of all.filter((p) => p.ppid === parent)) {
      visit(child.pid);
      if (child.pgid !== own && child.pgid === child.pid) {
        kill(-child.pgid);
        signalled.push(-child.pgid);
      }
      kill(child.pid);
      signalled.push(child.pid);
    }
  };
  visit(process.pid);
  return signalled;
}
