/**
 * One running QEMU machine as the adapter uses it: q35 with an intel-iommu, edu devices at
 * chosen device/function numbers, the qtest client, each edu's BAR0 programmed and its DMA
 * buffer located in QEMU's memory [QEMU-START-2][QEMU-START-3][QEMU-READ-1].
 */
import { join } from "node:path";
import { canAccessProcessMemory, ProcessMemory, uniquePattern } from "./device-buffer.ts";
import { EDU_BUFFER_SIZE, EDU_BUFFER_START, EduDevice } from "./edu.ts";
import { firmwareFile } from "./firmware.ts";
import { devfnString, EDU_ID, enableDevice, type PciFunction, scanBus0 } from "./pci.ts";
import { flavourOf, launchQemu, type QemuInstall, type QemuProcess } from "./process.ts";
import type { QtestClient } from "./qtest-client.ts";

/** intel-iommu options the adapter can ask for. */
export interface IommuOptions {
  scalable: boolean;
  awBits: 39 | 48;
  cachingMode: boolean;
  firstStage: boolean;
  /** 0: no PASID support; 7.2 takes only on/off (x-pasid-mode). */
  pasidBits: number;
  snoopControl: boolean;
  passThrough: boolean;
  fs1gp: boolean;
}

export interface MachineSpec {
  iommu: IommuOptions;
  /** devfn of each edu device on bus 0 (its SID). */
  eduDevfns: number[];
  /** Guest RAM in MiB. */
  memMiB: number;
}

/** The DMAR register block of q35's intel-iommu. */
export const DMAR_BASE = 0xfed90000n;
/** Where BAR0 of the n-th edu goes: in the PCI hole, 1 MiB apart (edu's BAR is 1 MiB). */
export const EDU_BAR_BASE = 0xe0000000n;
export const EDU_BAR_STRIDE = 0x100000n;

const onOff = (b: boolean) => (b ? "on" : "off");

/** The intel-iommu -device string for this QEMU [QEMU-CONF-1]. Throws when it cannot express opts. */
export function iommuDevice(install: QemuInstall, o: IommuOptions): string {
  const f = flavourOf(install.features);
  const props = [
    "intel-iommu",
    "intremap=off",
    `aw-bits=${o.awBits}`,
    `caching-mode=${onOff(o.cachingMode)}`,
  ];
  if (o.scalable) {
    if (!f.scalableProp) throw new Error("this QEMU has no scalable mode");
    props.push(`${f.scalableProp}=on`);
  }
  if (o.pasidBits > 0) {
    if (!o.scalable) throw new Error("PASID support needs scalable mode");
    if (f.pasidProp === "x-pasid-mode") props.push("x-pasid-mode=on");
    else if (f.pasidProp === "pasid-bits") props.push(`pasid-bits=${o.pasidBits}`);
    else throw new Error("this QEMU has no PASID support");
  }
  if (o.firstStage) {
    if (!f.firstStage) throw new Error("this QEMU has no first-stage translation (fsts)");
    props.push("fsts=on");
  }
  if (f.fs1gp) props.push(`fs1gp=${onOff(o.fs1gp)}`);
  else if (o.fs1gp) throw new Error("this QEMU has no fs1gp option");
  if (o.snoopControl) props.push("snoop-control=on");
  if (f.ptProp) props.push(`pt=${onOff(o.passThrough)}`);
  else if (!o.passThrough) throw new Error("this QEMU always offers pass-through (no pt option)");
  return props.join(",");
}

/** edu -device strings; a slot with several functions is marked multifunction. */
export function eduDevices(devfns: readonly number[]): string[] {
  const slots = new Map<number, number>();
  for (const d of devfns) slots.set(d >> 3, (slots.get(d >> 3) ?? 0) + 1);
  return devfns.map((d) => {
    const multi = (slots.get(d >> 3) ?? 0) > 1 ? ",multifunction=on" : "";
    return `edu,addr=0x${(d >> 3).toString(16)}.${d & 7},dma_mask=0xffffffffffffffff${multi}`;
  });
}

/** The whole command line after the binary [QEMU-START-2][QEMU-START-3]. */
export function machineArgs(install: QemuInstall, spec: MachineSpec, firmware: string | undefined): string[] {
  const f = flavourOf(install.features);
  const args = ["-machine", "q35"];
  if (f.clock === "qtest") args.push("-accel", "qtest");
  else {
    if (!firmware) throw new Error("QEMU without the qtest accelerator needs the halting firmware");
    args.push("-accel", "tcg", "-icount", "shift=0,sleep=off", "-bios", firmware);
  }
  args.push("-qtest", "stdio", "-qtest-log", "/dev/null", "-display", "none", "-nodefaults");
  args.push("-m", `${spec.memMiB}M`);
  // Trace events of failed translations: how the adapter learns a DMA was aborted [QEMU-DMA-2].
  args.push("-trace", "enable=vtd_dmar_fault", "-trace", "enable=vtd_fault_disabled");
  // Accesses QEMU's memory core rejects (a cached translation without the permission, an
  // output outside RAM) are logged as guest errors and nowhere else [QEMU-DMA-3].
  const log = install.features.logItems.includes("invalid_mem") ? "guest_errors,invalid_mem" : "guest_errors";
  args.push("-d", log);
  args.push("-device", iommuDevice(install, spec.iommu));
  for (const d of eduDevices(spec.eduDevfns)) args.push("-device", d);
  return args;
}

export interface EduSlot {
  fn: PciFunction;
  edu: EduDevice;
  /** Address of its 4 KiB DMA buffer inside QEMU, when it could be located. */
  bufferAddr: number | undefined;
  /** The process holding that buffer when it is not the machine's own QEMU (a passed-through edu in L0). */
  mem?: ProcessMemory;
}

/**
 * Finds an edu's 4 KiB buffer in the memory of the QEMU process that emulates it
 * [QEMU-READ-1][QEMU-NEST-6]. Runs while translation is off (these DMAs are untranslated and fill
 * no cache) and leaves guest RAM at the scratch page zeroed where it worked. `q` is the qtest of
 * the machine whose guest RAM the device reaches; `mem` the process emulating the device (the same
 * QEMU, or L0 for a device passed through to a nested guest).
 */
export async function locateEduBuffer(
  q: QtestClient,
  edu: EduDevice,
  mem: ProcessMemory,
  seed: number,
): Promise<number | undefined> {
  const scratch = 0x10000n; // guest RAM below 640 KiB
  const len = EDU_BUFFER_SIZE - 1; // edu refuses a transfer that ends at 0x41000
  const pattern = uniquePattern(0x5eed0000 + seed, len);
  // writeq commands, not `write`: no binary copy of the pattern is left in QEMU's heap.
  const view = new DataView(pattern.buffer);
  const cmds: string[] = [];
  for (let i = 0; i + 8 <= len; i += 8) {
    cmds.push(`writeq 0x${(scratch + BigInt(i)).toString(16)} 0x${view.getBigUint64(i, true).toString(16)}`);
  }
  await q.pipeline(cmds);
  await edu.readToBuffer(scratch, EDU_BUFFER_START, len & ~7);
  await q.memset(scratch, EDU_BUFFER_SIZE, 0);
  const needle = pattern.subarray(0, len & ~7);
  // The first hit is enough: the confirmation below proves it is the device's buffer.
  const at = mem.find(needle, true)[0];
  if (at === undefined) return undefined;
  // Confirm the other way: a second pattern written there must come out of the device.
  const check = uniquePattern(0x5eed1000 + seed, len & ~7);
  mem.write(at, check);
  await edu.writeFromBuffer(scratch, EDU_BUFFER_START, check.length);
  const out = await q.read(scratch, check.length);
  await q.memset(scratch, EDU_BUFFER_SIZE, 0);
  mem.write(at, new Uint8Array(EDU_BUFFER_SIZE));
  return Buffer.from(out).equals(Buffer.from(check)) ? at : undefined;
}

export class Machine {
  /** Translation failures seen in QEMU's trace output since the last take [QEMU-DMA-2]. */
  private faults: string[] = [];
  readonly edus = new Map<number, EduSlot>();
  mem: ProcessMemory | undefined;

  private constructor(
    readonly install: QemuInstall,
    readonly spec: MachineSpec,
    readonly proc: QemuProcess,
  ) {}

  get q() {
    return this.proc.client;
  }

  static async start(
    install: QemuInstall,
    spec: MachineSpec,
    opts: { locateBuffers: boolean; timeoutMs?: number },
  ): Promise<Machine> {
    const f = flavourOf(install.features);
    let firmware: string | undefined;
    if (f.clock === "icount") {
      // Inside a root the path must name a file under it, as QEMU sees it.
      const dir = install.root ? join(install.root, "tmp", "iommu-conformance") : undefined;
      const host = await firmwareFile(dir);
      firmware = install.root ? host.slice(install.root.replace(/\/+$/, "").length) : host;
    }
    const holder: { m?: Machine } = {};
    const proc = launchQemu(install, {
      args: machineArgs(install, spec, firmware),
      mergeStderr: true,
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      onOtherLine: (line) => holder.m?.noteLine(line),
    });
    const m = new Machine(install, spec, proc);
    holder.m = m;
    try {
      await m.setUpDevices(opts.locateBuffers);
    } catch (err) {
      await proc.close();
      throw err;
    }
    return m;
  }

  private noteLine(line: string): void {
    if (/vtd_dmar_fault|vtd_fault_disabled|^Invalid (read|write) at addr /.test(line)) this.faults.push(line);
  }

  /** Translation-failure trace lines and rejected-access log lines since the last call, and forget them. */
  takeFaultLines(): string[] {
    const out = this.faults;
    this.faults = [];
    return out;
  }

  private async setUpDevices(locateBuffers: boolean): Promise<void> {
    const found = await scanBus0(this.q);
    const clock = flavourOf(this.install.features).clock;
    let index = 0;
    for (const devfn of this.spec.eduDevfns) {
      const fn = found.find((p) => p.devfn === devfn);
      if (!fn || fn.vendor !== EDU_ID.vendor || fn.device !== EDU_ID.device) {
        throw new Error(
          `no edu device at ${devfnString(devfn)} (found ${found.map((p) => devfnString(p.devfn))})`,
        );
      }
      const bar0 = EDU_BAR_BASE + EDU_BAR_STRIDE * BigInt(index++);
      await enableDevice(this.q, fn, Number(bar0));
      const ident = await this.q.readMem(4, bar0);
      if ((ident & 0xffffn) !== 0xedn)
        throw new Error(`edu at ${devfnString(devfn)} answers 0x${ident.toString(16)}`);
      this.edus.set(devfn, { fn, edu: new EduDevice(this.q, bar0, clock), bufferAddr: undefined });
    }
    if (locateBuffers && this.proc.pid > 0 && canAccessProcessMemory(this.proc.pid)) {
      this.mem = new ProcessMemory(this.proc.pid);
      for (const [devfn, slot] of this.edus) slot.bufferAddr = await this.locateBuffer(devfn, slot);
    }
  }

  /** [QEMU-READ-1] Finds an edu's buffer in this QEMU's memory. */
  private locateBuffer(devfn: number, slot: EduSlot): Promise<number | undefined> {
    return locateEduBuffer(this.q, slot.edu, this.mem!, devfn);
  }

  async close(): Promise<void> {
    this.mem?.close();
    await this.proc.close();
  }
}
