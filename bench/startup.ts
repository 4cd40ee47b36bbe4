/**
 * Start-up of the compiled CLI: wall time from spawning `node bin/iommu-conformance.js …` to the
 * first line on stdout, and the CPU time the process had used by then (read from /proc, in clock
 * ticks of 10 ms; less sensitive to a loaded machine than wall time). Target: the first line
 * within 0.5 s (issue 13). [HARNESS-PACKAGE-2] Needs `npm run build` first: the bin runs the TypeScript sources
 * through tsx when dist/ is older than them, and this bench says so.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const BIN = join(ROOT, "bin", "iommu-conformance.js");
const TARGET_MS = 500;
const TICK_MS = 10; // USER_HZ is 100 on Linux

interface Sample {
  firstLineMs: number;
  /** user + system CPU of the process up to its first line; undefined without /proc. */
  cpuMs: number | undefined;
}

function cpuMsOf(pid: number): number | undefined {
  try {
    // Fields after the command name (which may hold spaces, so split after its closing ")").
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime, stime
  } catch {
    return undefined;
  }
}

/** One start: the time to the first newline on stdout, then the child is ended (SIGKILL). */
function startOnce(args: string[]): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] });
    let sample: Sample | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      if (sample === undefined && chunk.includes(10)) {
        const firstLineMs = Number(process.hrtime.bigint() - t0) / 1e6;
        sample = { firstLineMs, cpuMs: child.pid === undefined ? undefined : cpuMsOf(child.pid) };
        child.kill("SIGKILL");
      }
    });
    child.on("error", reject);
    child.on("exit", () => {
      if (sample === undefined) reject(new Error(`${args.join(" ")}: no line on stdout`));
      else resolve(sample);
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function printStartupBench(runs = 10): Promise<void> {
  const stamp = join(ROOT, "dist", ".build-stamp");
  if (!existsSync(stamp) || statSync(stamp).mtimeMs < statSync(join(ROOT, "src", "cli", "main.ts")).mtimeMs)
    console.log(
      "  (dist/ is missing or older than the sources: the bin runs tsx; run `npm run build` first)",
    );
  const out = mkdtempSync(join(tmpdir(), "iommu-startup-"));
  const commands: Array<[string, string[]]> = [
    ["--help", ["--help"]],
    ["list properties", ["list", "properties"]],
    ["run (header line)", ["run", "--runs", "1", "--seed", "1", "--out", out]],
  ];
  console.log(
    `CLI start-up to the first line (${runs} starts each after 2 warm-ups; load average ${loadavg()[0]?.toFixed(1)})`,
  );
  try {
    for (const [label, args] of commands) {
      await startOnce(args);
      await startOnce(args);
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) samples.push(await startOnce(args));
      const wall = samples.map((s) => s.firstLineMs);
      const cpu = samples.flatMap((s) => (s.cpuMs === undefined ? [] : [s.cpuMs]));
      const m = median(wall);
      console.log(
        `  ${label.padEnd(18)} wall median ${m.toFixed(0)} ms (min ${Math.min(...wall).toFixed(0)}, max ${Math.max(...wall).toFixed(0)}), CPU median ${cpu.length > 0 ? `${median(cpu)} ms` : "n/a"}; target ${TARGET_MS} ms: ${m <= TARGET_MS ? "met" : "MISSED"}`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
