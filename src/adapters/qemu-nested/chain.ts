/**
 * L0 and L1 of the nested chain [QEMU-NEST-2][QEMU-NEST-3]: L0 is a QEMU on this machine (TCG)
 * with an emulated VT-d (the "physical" IOMMU of L1) and edu devices (the "physical" devices that
 * are passed through); L1 is the sid kernel booted in it over the 9p root of `qemu setup --nested`,
 * which binds the edu devices to vfio-pci and starts the L2 QEMUs under test. The suite talks to
 * L1 through a shell on L0's serial console (stdio) and to L2 through L0's port forward.
 *
 * L0 runs behind a watchdog shell that kills it when the suite's process is gone (even after a
 * SIGKILL of Node); L0's pid is also registered with the exit hooks of the qemu adapter, so it is
 * ended on exit, SIGINT and SIGTERM [QEMU-NEST-8].
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { type QemuInstall, trackPid } from "../qemu/process.ts";
import { L1_READY } from "./l1-files.ts";
import type { NestedLayout } from "./setup.ts";

/** L0's edu devices (the devices L1 passes through), at these slots of L0's bus 0. */
export const L0_EDU_SLOTS = [1, 2] as const;
/** The port L2's qtest listens on inside L1 (forwarded from a host port by L0's user network). */
export const L2_QTEST_PORT = 4444;

export interface ChainOptions {
  install: QemuInstall;
  layout: NestedLayout;
  /** aw-bits of L0's VT-d (L1's host IOMMU width): 39 or 48. */
  l0AwBits: 39 | 48;
  /** Milliseconds L0 + L1 may take to boot and bind the devices. */
  bootTimeoutMs: number;
  /** Milliseconds one L1 shell command may take. */
  commandTimeoutMs: number;
  /** L0 guest memory in MiB. */
  l0MemMiB: number;
  log?: (line: string) => void;
}

/** The host IOMMU L1 sees: L0's VT-d CAP/ECAP, from L1's sysfs. */
export interface L1HostIommu {
  cap: bigint;
  ecap: bigint;
  /** MGAW + 1. */
  awBits: number;
}

export interface L1Device {
  /** L1's PCI address, e.g. 0000:00:01.0. */
  bdf: string;
  /** Its requester id at L0's VT-d (bus 0, so the devfn). */
  l0Sid: number;
  group: string;
}

export class ChainError extends Error {
  constructor(
    message: string,
    readonly l0Log: string[],
  ) {
    super(
      `${message}${l0Log.length > 0 ? `\nL0/L1 console, last lines:\n  ${l0Log.slice(-15).join("\n  ")}` : ""}`,
    );
    this.name = "ChainError";
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

/** The watchdog: runs L0 with the console on stdin/stdout, prints its pid, kills it when Node is gone. */
const WATCHDOG = `exec 3<&0
"$@" <&3 &
q=$!
echo "L0PID $q" >&2
trap 'kill -9 $q 2>/dev/null; exit 0' TERM INT HUP
while kill -0 $q 2>/dev/null; do
  if ! kill -0 $PPID 2>/dev/null; then kill -9 $q 2>/dev/null; exit 0; fi
  sleep 1
done
wait $q`;

export function l0Args(o: Pick<ChainOptions, "layout" | "l0AwBits" | "l0MemMiB">, port: number): string[] {
  return [
    "-machine",
    "q35",
    "-accel",
    "tcg",
    "-smp",
    "1",
    "-m",
    `${o.l0MemMiB}M`,
    "-display",
    "none",
    "-no-reboot",
    "-nodefaults",
    "-serial",
    "stdio",
    "-kernel",
    o.layout.kernel,
    "-initrd",
    o.layout.initrd,
    "-append",
    // no_timer_check: under heavy load TCG is too slow for the kernel's check of the timer
    // through the interrupt-remapped IO-APIC, which then panics (seen at load average 21).
    "console=ttyS0 intel_iommu=on panic=-1 loglevel=1 no_timer_check",
    "-device",
    `intel-iommu,intremap=on,aw-bits=${o.l0AwBits}`,
    ...L0_EDU_SLOTS.flatMap((s) => ["-device", `edu,dma_mask=0xffffffffffffffff,addr=0x${s.toString(16)}.0`]),
    "-virtfs",
    `local,path=${o.layout.root},mount_tag=root,security_model=passthrough,readonly=on`,
    "-netdev",
    `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-10.0.2.15:${L2_QTEST_PORT}`,
    "-device",
    "virtio-net-pci,netdev=n0",
    // Faults of the passed-through devices end here, at L0's VT-d [QEMU-NEST-5].
    "-trace",
    "enable=vtd_dmar_fault",
    "-trace",
    "enable=vtd_fault_disabled",
    // QEMU 7.2 blocks an access through a cached translation without the permission silently (no
    // fault, no record: QEMU's own cached-read-only-write-not-recorded); its IOTLB hit, with the
    // leaf's rights, tells the adapter the request was blocked [QEMU-NEST-5].
    "-trace",
    "enable=vtd_iotlb_page_hit",
  ];
}

export class Chain {
  /** Console lines (L1's shell output and kernel messages), the last 200. */
  private readonly console: string[] = [];
  /** L0's stderr lines (trace events and messages), the last 200. */
  private readonly l0Err: string[] = [];
  private faults: string[] = [];
  private partial = "";
  private waiters: Array<(line: string) => boolean> = [];
  private seq = 0;
  private collecting: string[] | undefined;
  private ended: string | undefined;
  private release: (() => void) | undefined;
  l0Pid = -1;
  devices: L1Device[] = [];
  host: L1HostIommu | undefined;
  kernel = "";
  /** Seconds: L0 start → L1 ready, and the vfio bind. */
  times = { boot: 0, bind: 0 };

  private constructor(
    readonly opts: ChainOptions,
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  /** Boots L0 + L1 and binds L0's edu devices to vfio-pci in L1. */
  static async boot(opts: ChainOptions): Promise<Chain> {
    const port = await freePort();
    const qemu = opts.install.root
      ? ["chroot", opts.install.root, opts.install.binary]
      : [opts.install.binary];
    const child = spawn("/bin/sh", ["-c", WATCHDOG, "l0-watchdog", ...qemu, ...l0Args(opts, port)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    const chain = new Chain(opts, port, child);
    chain.attach();
    const t0 = Date.now();
    try {
      const ready = await chain.waitLine((l) => l.startsWith(L1_READY), opts.bootTimeoutMs, "L1 to boot");
      chain.kernel = ready.slice(L1_READY.length).trim();
      chain.times.boot = (Date.now() - t0) / 1000;
      const t1 = Date.now();
      await chain.bindDevices();
      chain.times.bind = (Date.now() - t1) / 1000;
      chain.host = await chain.readHostIommu();
    } catch (e) {
      await chain.close();
      throw e instanceof ChainError ? e : new ChainError((e as Error).message, chain.log());
    }
    return chain;
  }

  private attach(): void {
    const c = this.child;
    c.stdout?.setEncoding("latin1");
    c.stdout?.on("data", (s: string) => this.receive(s));
    c.stderr?.setEncoding("latin1");
    let errPartial = "";
    c.stderr?.on("data", (s: string) => {
      errPartial += s;
      let nl = errPartial.indexOf("\n");
      while (nl >= 0) {
        const line = errPartial.slice(0, nl);
        errPartial = errPartial.slice(nl + 1);
        this.noteErr(line);
        nl = errPartial.indexOf("\n");
      }
    });
    c.on("exit", (code, signal) => {
      this.ended = signal ? `signal ${signal}` : `exit code ${code}`;
      this.release?.();
      for (const w of this.waiters.splice(0)) w("");
    });
    c.stdin?.on("error", () => undefined);
  }

  private noteErr(line: string): void {
    const pid = /^L0PID (\d+)$/.exec(line);
    if (pid) {
      this.l0Pid = Number(pid[1]);
      this.release = trackPid(this.l0Pid);
      return;
    }
    if (/vtd_iotlb_page_hit/.test(line)) {
      this.faults.push(line);
      return;
    }
    this.l0Err.push(line);
    if (this.l0Err.length > 200) this.l0Err.shift();
    if (/vtd_dmar_fault|vtd_fault_disabled/.test(line)) this.faults.push(line);
  }

  private receive(chunk: string): void {
    this.partial += chunk;
    let nl = this.partial.indexOf("\n");
    while (nl >= 0) {
      const line = this.partial.slice(0, nl).replace(/\r$/, "");
      this.partial = this.partial.slice(nl + 1);
      this.console.push(line);
      this.collecting?.push(line);
      if (this.console.length > 200) this.console.shift();
      this.waiters = this.waiters.filter((w) => !w(line));
      nl = this.partial.indexOf("\n");
    }
  }

  /** The last console and L0 lines, for errors. */
  log(): string[] {
    return [...this.console.slice(-20), ...this.l0Err.slice(-10).map((l) => `L0: ${l}`)];
  }

  get alive(): boolean {
    return this.ended === undefined;
  }

  /** L0 fault trace lines since the last call (the passed-through devices' faults). */
  takeFaultLines(): string[] {
    const out = this.faults;
    this.faults = [];
    return out;
  }

  private waitLine(match: (l: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    return new Promise((resolveLine, reject) => {
      if (this.ended) {
        reject(new ChainError(`L0 ended (${this.ended}) before ${what}`, this.log()));
        return;
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new ChainError(`no sign of ${what} within ${timeoutMs} ms`, this.log()));
      }, timeoutMs);
      timer.unref?.();
      const waiter = (line: string): boolean => {
        if (this.ended) {
          clearTimeout(timer);
          reject(new ChainError(`L0 ended (${this.ended}) while waiting for ${what}`, this.log()));
          return true;
        }
        if (!match(line)) return false;
        clearTimeout(timer);
        resolveLine(line);
        return true;
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * Runs a shell command in L1 and returns its output lines and exit status [QEMU-NEST-3].
   * Commands run one at a time (the console is one stream).
   */
  private queue: Promise<unknown> = Promise.resolve();
  run(command: string, timeoutMs = this.opts.commandTimeoutMs): Promise<{ status: number; out: string[] }> {
    const next = this.queue.then(() => this.runNow(command, timeoutMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async runNow(command: string, timeoutMs: number): Promise<{ status: number; out: string[] }> {
    if (/[\r\n]/.test(command)) throw new Error("an L1 command is one line");
    const token = `@@IOMMU-${++this.seq}`;
    const collected: string[] = [];
    this.collecting = collected;
    const done = this.waitLine((l) => l.startsWith(`${token} `), timeoutMs, `the L1 command "${command}"`);
    this.child.stdin?.write(`{ ${command} ; } 2>&1; echo "${token} $?"\n`);
    try {
      const line = await done;
      return { status: Number(line.split(" ")[1]), out: collected.filter((l) => !l.startsWith(token)) };
    } finally {
      this.collecting = undefined;
    }
  }

  /** Runs a command that must succeed; its output. */
  async must(command: string, timeoutMs?: number): Promise<string[]> {
    const r = await this.run(command, timeoutMs);
    if (r.status !== 0)
      throw new ChainError(
        `L1 command failed (status ${r.status}): ${command}\n${r.out.join("\n")}`,
        this.log(),
      );
    return r.out;
  }

  /** [QEMU-NEST-3] L0's edu devices to vfio-pci (legacy VFIO container and group). */
  private async bindDevices(): Promise<void> {
    for (const slot of L0_EDU_SLOTS) {
      const bdf = `0000:00:${slot.toString(16).padStart(2, "0")}.0`;
      const dev = `/sys/bus/pci/devices/${bdf}`;
      await this.must(
        `echo vfio-pci > ${dev}/driver_override && echo ${bdf} > /sys/bus/pci/drivers_probe && test -e ${dev}/iommu_group`,
      );
      const out = await this.must(`basename $(readlink ${dev}/iommu_group) && ls /dev/vfio`);
      const group = out[0]?.trim() ?? "";
      if (!out.slice(1).join(" ").split(/\s+/).includes(group))
        throw new ChainError(`${bdf}: no /dev/vfio/${group} after binding to vfio-pci`, this.log());
      this.devices.push({ bdf, l0Sid: slot << 3, group });
    }
  }

  private async readHostIommu(): Promise<L1HostIommu> {
    const out = await this.must(
      "cat /sys/class/iommu/dmar0/intel-iommu/cap /sys/class/iommu/dmar0/intel-iommu/ecap",
    );
    const [cap, ecap] = out.map((l) => BigInt(`0x${l.trim()}`));
    if (cap === undefined || ecap === undefined)
      throw new ChainError("cannot read L1's DMAR CAP/ECAP", this.log());
    return { cap, ecap, awBits: Number((cap >> 16n) & 0x3fn) + 1 };
  }

  async close(): Promise<void> {
    if (this.ended) return;
    const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
    if (this.l0Pid > 0) {
      try {
        process.kill(this.l0Pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    this.child.kill("SIGTERM");
    await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    // [QEMU-NEST-8] L0 is not our child (the wrapper's): closed means gone, so wait for it to be
    // reaped, a bounded while.
    for (let waited = 0; this.l0Pid > 0 && existsSync(`/proc/${this.l0Pid}`) && waited < 10_000; waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    this.release?.();
  }
}
