/**
 * One L2: QEMU 11.1 started inside L1 with `-accel qtest`, an intel-iommu, emulated edu devices
 * and L0's edu devices passed through with vfio-pci [QEMU-NEST-4]. L1 runs it under socat, so its
 * qtest on stdio, with stderr merged in (trace events, start-up errors), is a TCP stream that L0's
 * port forward brings to this machine. Stopping it kills the QEMU and socat inside L1 and waits
 * until the QEMU has let go of its vfio devices.
 */
import { connect, type Socket } from "node:net";
import type { EduDmaHost } from "../qemu/adapter.ts";
import type { ProcessMemory } from "../qemu/device-buffer.ts";
import { EduDevice } from "../qemu/edu.ts";
import { EDU_BAR_BASE, type EduSlot, type IommuOptions, iommuDevice } from "../qemu/machine.ts";
import { devfnString, EDU_ID, enableDevice, scanBus0 } from "../qemu/pci.ts";
import type { QemuInstall } from "../qemu/process.ts";
import { QtestClient } from "../qemu/qtest-client.ts";
import { type Chain, ChainError, L2_QTEST_PORT } from "./chain.ts";

export interface L2Device {
  /** devfn on L2's bus 0 (its SID at L2's vIOMMU). */
  devfn: number;
  /** Absent: an emulated edu of L2's own; present: the L1 device passed through with vfio-pci. */
  passthrough?: { bdf: string; l0Sid: number; bufferAddr: number | undefined };
}

export interface L2Spec {
  iommu: IommuOptions;
  devices: L2Device[];
  memMiB: number;
}

/** L2 refused to start (a start-up check of its own): the refusal is its message. */
export class L2Refused extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join(" | "));
    this.name = "L2Refused";
  }
}

const BAR_STRIDE = 0x100000n;
/** Lines of QEMU's CPU state dump (cpu_dump_state after hw_error). */
const CPU_DUMP = /^(CPU ?#\d+:|[A-Z][A-Z0-9]{1,5} ?=)/;

/** QEMU's arguments for L2 [QEMU-NEST-4]. */
export function l2Args(install: QemuInstall, spec: L2Spec): string[] {
  const slots = new Map<number, number>();
  for (const d of spec.devices) slots.set(d.devfn >> 3, (slots.get(d.devfn >> 3) ?? 0) + 1);
  const log = install.features.logItems.includes("invalid_mem") ? "guest_errors,invalid_mem" : "guest_errors";
  const args = [
    "-machine",
    "q35",
    "-accel",
    "qtest",
    "-qtest",
    "stdio",
    "-qtest-log",
    "/dev/null",
    "-display",
    "none",
    "-nodefaults",
    "-m",
    `${spec.memMiB}M`,
    "-trace",
    "enable=vtd_dmar_fault",
    "-trace",
    "enable=vtd_fault_disabled",
    "-d",
    log,
    "-device",
    iommuDevice(install, spec.iommu),
  ];
  for (const d of spec.devices) {
    const addr = `addr=0x${(d.devfn >> 3).toString(16)}.${d.devfn & 7}`;
    const multi = (slots.get(d.devfn >> 3) ?? 0) > 1 ? ",multifunction=on" : "";
    args.push(
      "-device",
      d.passthrough
        ? `vfio-pci,host=${d.passthrough.bdf},${addr}${multi}`
        : `edu,${addr},dma_mask=0xffffffffffffffff${multi}`,
    );
  }
  return args;
}

/** A shell word for L1's sh, single-quoted. */
function quote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * The L0 requester id a line of L0's trace shows blocked, or undefined: a `vtd_dmar_fault`, or an
 * IOTLB hit whose leaf lacks the access's right (R = bit 0, W = bit 1), which QEMU 7.2 then drops
 * without a fault [QEMU-NEST-5]. L1's driver gives upper levels both rights, so the leaf decides.
 */
export function l0Blocked(line: string, write: boolean): number | undefined {
  const fault = /vtd_dmar_fault sid 0x([0-9a-f]+)/.exec(line);
  if (fault) return Number.parseInt(fault[1] as string, 16);
  const hit = /vtd_iotlb_page_hit .*sid 0x([0-9a-f]+) iova 0x[0-9a-f]+ slpte 0x([0-9a-f]+)/.exec(line);
  if (!hit) return undefined;
  const right = write ? 2n : 1n;
  return (BigInt(`0x${hit[2]}`) & right) === 0n ? Number.parseInt(hit[1] as string, 16) : undefined;
}

export class L2 implements EduDmaHost {
  readonly edus = new Map<number, EduSlot>();
  readonly mem: ProcessMemory | undefined = undefined;
  private faults: string[] = [];
  private readonly tail: string[] = [];
  private socket: Socket | undefined;
  q!: QtestClient;
  /** Seconds from the start command to L2's first qtest reply. */
  startSeconds = 0;

  private constructor(
    readonly chain: Chain,
    readonly spec: L2Spec,
    private readonly l0Mem: ProcessMemory | undefined,
  ) {}

  /**
   * The last lines L2 printed (its log: start-up errors, trace events, what it said when it died),
   * without the CPU register dump an aborting QEMU prints after its message [QEMU-NEST-7].
   */
  log(): string[] {
    return this.tail.filter((l) => !CPU_DUMP.test(l));
  }

  /**
   * Starts L2 in L1 and connects to its qtest; rejects with L2Refused when L2 exits at start-up
   * (its message), or with a ChainError when L1 or the connection fails [QEMU-NEST-7].
   */
  static async start(
    chain: Chain,
    install: QemuInstall,
    spec: L2Spec,
    opts: { timeoutMs: number; l0Mem: ProcessMemory | undefined; setUp?: boolean },
  ): Promise<L2> {
    const l2 = new L2(chain, spec, opts.l0Mem);
    const t0 = Date.now();
    const bin = install.binary;
    const script = [
      "#!/bin/sh",
      "echo $$ > /tmp/l2.pid",
      `exec ${bin} ${l2Args(install, spec).map(quote).join(" ")} 2>&1`,
    ];
    await chain.must(`printf '%s\\n' ${script.map(quote).join(" ")} > /tmp/l2.sh && chmod +x /tmp/l2.sh`);
    await chain.must(
      `rm -f /tmp/l2.pid; socat TCP-LISTEN:${L2_QTEST_PORT},reuseaddr EXEC:/tmp/l2.sh </dev/null >/tmp/socat.log 2>&1 & echo $! > /tmp/socat.pid; i=0; while ! ss -ltn | grep -q ':${L2_QTEST_PORT} '; do i=$((i+1)); [ $i -gt 400 ] && exit 1; sleep 0.05; done`,
    );
    await l2.connect(opts.timeoutMs);
    try {
      await l2.q.readMem(4, 0xfed90000n);
    } catch (e) {
      const refusal = l2.tail.filter((l) => /qemu-system|error|Error|fail/i.test(l));
      await l2.stop();
      if (refusal.length > 0) throw new L2Refused(refusal);
      throw new ChainError(`L2 did not answer its first qtest command: ${(e as Error).message}`, [
        ...chain.log(),
        ...l2.tail.map((l) => `L2: ${l}`),
      ]);
    }
    l2.startSeconds = (Date.now() - t0) / 1000;
    if (opts.setUp !== false) {
      try {
        await l2.setUpDevices();
      } catch (e) {
        await l2.stop();
        throw e;
      }
    }
    return l2;
  }

  private connect(timeoutMs: number): Promise<void> {
    return new Promise((resolveConnect, reject) => {
      const s = connect({ host: "127.0.0.1", port: this.chain.port });
      s.setNoDelay(true);
      const onErr = (err: Error) =>
        reject(new ChainError(`cannot reach L2's qtest: ${err.message}`, this.chain.log()));
      s.once("error", onErr);
      s.once("connect", () => {
        s.off("error", onErr);
        s.on("error", () => undefined);
        this.socket = s;
        this.q = new QtestClient(
          {
            input: s,
            output: s,
            onExit: (cb) =>
              s.once("close", () =>
                setTimeout(
                  () => cb(`L2's qtest connection closed; L2 said: ${this.log().slice(-6).join(" | ")}`),
                  50,
                ),
              ),
          },
          {
            timeoutMs,
            onOtherLine: (line) => {
              this.tail.push(line);
              if (this.tail.length > 256) this.tail.shift();
              if (/vtd_dmar_fault|vtd_fault_disabled|^Invalid (read|write) at addr /.test(line))
                this.faults.push(line);
            },
          },
        );
        resolveConnect();
      });
    });
  }

  /** [QEMU-NEST-4] Every device found where the spec put it, BAR0 placed, memory and bus mastering on. */
  private async setUpDevices(): Promise<void> {
    const found = await scanBus0(this.q);
    let index = 0;
    for (const d of this.spec.devices) {
      const fn = found.find((p) => p.devfn === d.devfn);
      if (!fn || fn.vendor !== EDU_ID.vendor || fn.device !== EDU_ID.device)
        throw new Error(
          `L2: no edu device at ${devfnString(d.devfn)} (found ${found.map((p) => devfnString(p.devfn))})`,
        );
      const bar0 = EDU_BAR_BASE + BAR_STRIDE * BigInt(index++);
      await enableDevice(this.q, fn, Number(bar0));
      const ident = await this.q.readMem(4, bar0);
      if ((ident & 0xffn) !== 0xedn)
        throw new Error(`L2: edu at ${devfnString(d.devfn)} answers 0x${ident.toString(16)}`);
      // A passed-through edu runs on L0's clock: its completion is polled [QEMU-NEST-6].
      const edu = new EduDevice(this.q, bar0, d.passthrough ? "icount" : "qtest");
      const slot: EduSlot = { fn, edu, bufferAddr: d.passthrough?.bufferAddr };
      if (d.passthrough && this.l0Mem) slot.mem = this.l0Mem;
      this.edus.set(d.devfn, slot);
    }
  }

  /**
   * L2's own fault lines (its emulated devices), and L0's for the passed-through devices with the
   * L0 requester id replaced by the device's L2 SID [QEMU-NEST-5].
   */
  takeFaultLines(write = false): string[] {
    const out = this.faults;
    this.faults = [];
    for (const line of this.chain.takeFaultLines()) {
      const blocked = l0Blocked(line, write);
      const d = this.spec.devices.find((x) => x.passthrough !== undefined && x.passthrough.l0Sid === blocked);
      if (d) out.push(`vtd_dmar_fault sid 0x${d.devfn.toString(16)} (at L0: ${line})`);
    }
    return out;
  }

  /** Kills L2 and socat in L1 and waits until L2 is gone (its vfio devices free again). */
  async stop(): Promise<void> {
    this.socket?.destroy();
    if (!this.chain.alive) return;
    await this.chain.must(
      'p=$(cat /tmp/l2.pid 2>/dev/null); s=$(cat /tmp/socat.pid 2>/dev/null); [ -n "$p" ] && kill -9 $p 2>/dev/null; [ -n "$s" ] && kill -9 $s 2>/dev/null; i=0; while [ -n "$p" ] && [ -d /proc/$p ] && ! grep -q \'^State:.*Z\' /proc/$p/status 2>/dev/null; do i=$((i+1)); [ $i -gt 600 ] && exit 1; sleep 0.05; done; rm -f /tmp/l2.pid /tmp/socat.pid; true',
    );
  }
}
