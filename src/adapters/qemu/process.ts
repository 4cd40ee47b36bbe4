/**
 * Finding and starting qemu-system-x86_64 [QEMU-START-1..5]: the system's binary, or the
 * one inside a root directory (run as `chroot ROOT qemu-system-x86_64`). Every process
 * started here is ended: on close(), on a start-up error, and when the Node process exits
 * or gets SIGINT/SIGTERM [QEMU-START-4].
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { QtestClient, type QtestClientOptions } from "./qtest-client.ts";

const run = promisify(execFile);

export const QEMU_BINARY = "qemu-system-x86_64";

/** Which QEMU to run. */
export interface QemuInstall {
  /** The binary: a path or a name looked up in PATH (inside `root` when given). */
  binary: string;
  /** A root directory QEMU is run in with chroot (needs root privileges). */
  root?: string;
  version: QemuVersion;
  features: QemuFeatures;
}

export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
  /** The first line of `--version`, for reports. */
  text: string;
}

/** What this binary offers, probed rather than guessed from the version [QEMU-START-1]. */
export interface QemuFeatures {
  /** The qtest accelerator (clock_step); Debian 12's 7.2 lacks it. */
  qtestAccel: boolean;
  /** Property names of -device intel-iommu. */
  iommuProps: string[];
  /** -device names of interest present in the binary. */
  edu: boolean;
  iommuTestdev: boolean;
  /** Log items of `-d help` (11.1 splits `invalid_mem` off `guest_errors`) [QEMU-DMA-3]. */
  logItems: string[];
}

/** How this QEMU must be driven [QEMU-START-2][QEMU-START-3]. */
export interface QemuFlavour {
  clock: "qtest" | "icount";
  scalableProp: "x-scalable-mode" | "scalable-mode" | undefined;
  /** 7.2 has x-pasid-mode (on/off); later ones have pasid-bits (a width). */
  pasidProp: "x-pasid-mode" | "pasid-bits" | undefined;
  /** fsts: first-stage translation. */
  firstStage: boolean;
  fs1gp: boolean;
  /** The `pt` property (7.2); later versions always offer pass-through. */
  ptProp: boolean;
}

export function flavourOf(f: QemuFeatures): QemuFlavour {
  const has = (p: string) => f.iommuProps.includes(p);
  return {
    clock: f.qtestAccel ? "qtest" : "icount",
    scalableProp: has("scalable-mode")
      ? "scalable-mode"
      : has("x-scalable-mode")
        ? "x-scalable-mode"
        : undefined,
    pasidProp: has("pasid-bits") ? "pasid-bits" : has("x-pasid-mode") ? "x-pasid-mode" : undefined,
    firstStage: has("fsts"),
    fs1gp: has("fs1gp"),
    ptProp: has("pt"),
  };
}

export function parseVersion(text: string): QemuVersion {
  const first = text.split("\n")[0] ?? "";
  const m = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(first);
  if (!m) throw new Error(`cannot read a QEMU version from: ${JSON.stringify(first)}`);
  return { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3] ?? 0), text: first.trim() };
}

/** The command line prefix: [file, ...args] running QEMU (through chroot for a root). */
export function commandPrefix(install: Pick<QemuInstall, "binary" | "root">): string[] {
  return install.root ? ["chroot", install.root, install.binary] : [install.binary];
}

/** Text telling the user how to get QEMU, for errors. */
export const INSTALL_HINT =
  "QEMU 7.2 (Debian 12): apt-get install -y qemu-system-x86. " +
  "QEMU 11.1 (Debian sid, in a root): npx iommu-conformance qemu setup (or see docs/qemu.md).";

/** Finds QEMU, reads its version and probes its features; rejects with how to install it. */
export async function detectQemu(opts: { qemu?: string; root?: string } = {}): Promise<QemuInstall> {
  const binary = opts.qemu ?? QEMU_BINARY;
  if (opts.root && !opts.qemu && !existsSync(join(opts.root, "usr/bin", QEMU_BINARY))) {
    throw new Error(`no ${QEMU_BINARY} in the root ${opts.root}. ${INSTALL_HINT}`);
  }
  const where = opts.root ? { binary, root: opts.root } : { binary };
  const [file, ...prefix] = commandPrefix(where);
  const ask = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(file!, [...prefix, ...args], { timeout: 20_000 });
      return stdout;
    } catch (err) {
      const why = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
      throw new Error(`cannot run ${[file, ...prefix, ...args].join(" ")} (${why}). ${INSTALL_HINT}`);
    }
  };
  const version = parseVersion(await ask(["--version"]));
  const props = await ask(["-device", "intel-iommu,help"]);
  const devices = await ask(["-device", "help"]);
  // 7.2 prints the list and exits with status 1.
  const logHelp = await run(file!, [...prefix, "-d", "help"], { timeout: 20_000 }).then(
    (r) => r.stdout,
    (err: { stdout?: string }) => err.stdout ?? "",
  );
  const features: QemuFeatures = {
    qtestAccel: await probeQtestAccel(where),
    iommuProps: [...props.matchAll(/^\s+([\w-]+)=/gm)].map((m) => m[1]!),
    edu: devices.includes('name "edu"'),
    iommuTestdev: devices.includes('name "iommu-testdev"'),
    logItems: [...logHelp.matchAll(/^([a-z_]+)\s{2,}/gm)].map((m) => m[1]!),
  };
  if (!features.edu) throw new Error(`${version.text}: no edu device in this build; the adapter needs it`);
  return { ...where, version, features };
}

/** True when `-accel qtest` starts and answers clock_step (it is not listed by -accel help). */
async function probeQtestAccel(where: Pick<QemuInstall, "binary" | "root">): Promise<boolean> {
  const probe = launchQemu(where, {
    args: ["-machine", "none", "-accel", "qtest", "-qtest", "stdio", "-qtest-log", "/dev/null"].concat([
      "-display",
      "none",
      "-nodefaults",
    ]),
    timeoutMs: 10_000,
  });
  try {
    await probe.client.clockStep(1);
    return true;
  } catch {
    return false;
  } finally {
    await probe.close();
  }
}

// ---------------------------------------------------------------------------
// Every live QEMU, ended when Node ends [QEMU-START-4].

const live = new Set<ChildProcess>();
/** Processes that are not our children (a grandchild behind a watchdog), by pid. */
const livePids = new Set<number>();
let hooksInstalled = false;

function killAll(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  livePids.clear();
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      killAll();
      // Keep the default outcome of the signal when nobody else handles it.
      if (process.listenerCount(sig) <= 1) process.kill(process.pid, sig);
    });
  }
}

/**
 * Registers a process started elsewhere (the nested adapter's L0 and its helpers) so that it is
 * ended with the others when Node exits or gets SIGINT/SIGTERM [QEMU-START-4].
 */
export function trackChild(child: ChildProcess): void {
  installExitHooks();
  live.add(child);
  child.once("exit", () => live.delete(child));
  child.once("error", () => live.delete(child));
}

/** Registers a process by pid (not a child of ours) to be killed with the others; returns its release. */
export function trackPid(pid: number): () => void {
  installExitHooks();
  livePids.add(pid);
  return () => livePids.delete(pid);
}

/** Number of QEMU processes started here and not yet ended (for tests). */
export function liveQemuCount(): number {
  return live.size;
}

// ---------------------------------------------------------------------------

export interface QemuProcess {
  client: QtestClient;
  pid: number;
  /** Output that was not a qtest reply (stderr and non-reply stdout), the last 64 lines. */
  log(): string[];
  /** Ends QEMU (SIGKILL: it holds nothing worth flushing) and waits for it. */
  close(): Promise<void>;
  /** How QEMU ended ("signal SIGKILL", "exit code 1"), once it has; undefined while it runs. */
  ended(): string | undefined;
  readonly exited: Promise<string>;
}

export interface LaunchOptions {
  /** Arguments after the binary. */
  args: string[];
  timeoutMs?: number;
  /** Lines on stdout that are not qtest replies (trace output sent to stdout). */
  onOtherLine?: QtestClientOptions["onOtherLine"];
  /**
   * Sends QEMU's stderr into its stdout pipe, so trace lines arrive in order with the qtest
   * replies [QEMU-DMA-2]. Done by a shell that execs QEMU (same pid).
   */
  mergeStderr?: boolean;
}

/** Starts QEMU with the given arguments and a qtest client on its stdio. */
export function launchQemu(install: Pick<QemuInstall, "binary" | "root">, opts: LaunchOptions): QemuProcess {
  installExitHooks();
  const [file, ...prefix] = commandPrefix(install);
  const child = opts.mergeStderr
    ? spawn("/bin/sh", ["-c", 'exec "$@" 2>&1', "sh", file!, ...prefix, ...opts.args], {
        stdio: ["pipe", "pipe", "pipe"],
      })
    : spawn(file!, [...prefix, ...opts.args], { stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 64) tail.shift();
  };
  child.stderr!.setEncoding("latin1");
  child.stderr!.on("data", (s: string) => {
    for (const l of s.split("\n")) if (l) remember(l);
  });
  let endedHow: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.on("exit", (code, signal) => {
      live.delete(child);
      endedHow = signal ? `signal ${signal}` : `exit code ${code}`;
      resolve(endedHow);
    });
    child.on("error", (err) => {
      live.delete(child);
      resolve(`failed to start: ${err.message}`);
    });
  });
  const client = new QtestClient(
    {
      input: child.stdin!,
      output: child.stdout!,
      onExit: (cb) => {
        exited.then((how) => {
          // Give stderr a moment so the reason QEMU printed is in the message.
          setTimeout(() => cb(`${how}${tail.length ? `; it said: ${tail.slice(-3).join(" | ")}` : ""}`), 20);
        });
      },
    },
    {
      timeoutMs: opts.timeoutMs ?? 10_000,
      onOtherLine: (line) => {
        remember(line);
        opts.onOtherLine?.(line);
      },
    },
  );
  return {
    client,
    pid: child.pid ?? -1,
    log: () => [...tail],
    exited,
    ended: () => endedHow,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
