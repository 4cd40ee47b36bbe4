/**
 * The `qemu` adapter: QEMU's emulated intel-iommu as a model under test, driven through the
 * qtest protocol, with DMA by edu devices [QEMU-ADAPT-1..5]. See docs/qemu.md.
 *
 * Options: `qemu=PATH` (binary), `root=DIR` (run `chroot DIR qemu-system-x86_64`),
 * `timeout=MS` (per qtest command), `readback=proc|none` (how DMA data is exchanged),
 * `avoid=ID+ID…` (recorded findings the generators steer around, QEMU-AVOID-1).
 */
import type {
  DmaRequest,
  DmaResult,
  Model,
  ModelDescription,
  PlatformConfig,
  PlatformSurface,
} from "../../contract/types.ts";
import {
  decodeViommuConfig,
  MAX_EDU_DEVICES,
  machineSpecFor,
  platformLimits,
  registerMismatches,
} from "./config.ts";
import type { ProcessMemory } from "./device-buffer.ts";
import { EDU_BUFFER_START, EDU_CHUNK } from "./edu.ts";
import { DMAR_BASE, type EduSlot, Machine, type MachineSpec } from "./machine.ts";
import { detectQemu, flavourOf, type QemuInstall } from "./process.ts";

/** Size of the DMAR register block. */
const DMAR_SIZE = 0x1000;
/** Guest memory moves in pieces of this size per qtest command. */
export const GUEST_CHUNK = 0x10000;

export interface QemuModel extends Model {
  /** Which QEMU runs, for reports. */
  readonly install: QemuInstall;
  /** The running machine (after reset), for white-box tests and measurements. */
  readonly machine: Machine | undefined;
}

export async function createQemuModel(options: Record<string, string> = {}): Promise<QemuModel> {
  const install = await detectQemu({
    ...(options.qemu ? { qemu: options.qemu } : {}),
    ...(options.root ? { root: options.root } : {}),
  });
  const readback = options.readback ?? "proc";
  if (readback !== "proc" && readback !== "none") throw new Error(`readback=${readback}: use proc or none`);
  const timeoutMs = options.timeout ? Number(options.timeout) : 10_000;
  const avoid = parseAvoid(options.avoid);
  let machine: Machine | undefined;
  let config: PlatformConfig | undefined;
  let description: ModelDescription | undefined;

  const current = (): { m: Machine; c: PlatformConfig } => {
    if (!machine || !config) throw new Error("qemu adapter: reset(config) first");
    if (machine.q.broken) throw new Error(`qemu adapter: QEMU is gone (${machine.q.broken.message})`);
    return { m: machine, c: config };
  };

  const start = async (spec: MachineSpec): Promise<Machine> =>
    Machine.start(install, spec, { locateBuffers: readback === "proc", timeoutMs });

  const platform: PlatformSurface = {
    async writeGuest(gpa, bytes) {
      const { m, c } = current();
      checkGuestRange(c, gpa, bytes.length);
      for (let at = 0; at < bytes.length; at += GUEST_CHUNK) {
        await m.q.write(gpa + BigInt(at), bytes.subarray(at, at + GUEST_CHUNK));
      }
    },
    async readGuest(gpa, len) {
      const { m, c } = current();
      checkGuestRange(c, gpa, len);
      const out = new Uint8Array(len);
      for (let at = 0; at < len; at += GUEST_CHUNK) {
        out.set(await m.q.read(gpa + BigInt(at), Math.min(GUEST_CHUNK, len - at)), at);
      }
      return out;
    },
    async writeReg(off, value, width) {
      checkRegister(off, width);
      await current().m.q.writeMem(
        width,
        DMAR_BASE + BigInt(off),
        value & (width === 8 ? (1n << 64n) - 1n : 0xffff_ffffn),
      );
    },
    async readReg(off, width) {
      checkRegister(off, width);
      return current().m.q.readMem(width, DMAR_BASE + BigInt(off));
    },
    async dma(req) {
      return dmaThroughEdu(current().m, req);
    },
  };
  // [QEMU-DEATH-1] a call QEMU died under reports the death (how it ended, its last lines), not
  // the symptom the call met (a short read of its memory, a lost reply).
  for (const key of Object.keys(platform) as Array<keyof PlatformSurface>) {
    const call = platform[key] as ((...args: unknown[]) => Promise<unknown>) | undefined;
    if (call === undefined) continue;
    (platform as unknown as Record<string, unknown>)[key] = async (...args: unknown[]) => {
      const m = machine;
      try {
        const result = await call(...args);
        const how = m?.proc.ended();
        if (m !== undefined && how !== undefined) throw qemuEnded(m, how);
        return result;
      } catch (e) {
        if (m === undefined || (e instanceof Error && e.name === "QemuEnded")) throw e;
        const how = await Promise.race([
          m.proc.exited,
          new Promise<undefined>((resolve) => setTimeout(resolve, 500, undefined)),
        ]);
        throw how === undefined ? e : qemuEnded(m, how);
      }
    };
  }

  return {
    install,
    get machine() {
      return machine;
    },
    platform,
    async describe() {
      description ??= withAvoided(await describeQemu(install, start, readback === "proc"), avoid);
      return description;
    },
    async reset(next) {
      const built = machineSpecFor(install, next);
      if (!built.ok)
        throw new Error(`qemu adapter cannot take this configuration: ${built.reasons.join("; ")}`);
      // A fresh QEMU per reset [QEMU-ADAPT-2]: no register, cache or queue state carries over.
      await machine?.close();
      machine = undefined;
      config = undefined;
      const m = await start(built.spec);
      const cap = await m.q.readMem(8, DMAR_BASE + 0x08n);
      const ecap = await m.q.readMem(8, DMAR_BASE + 0x10n);
      const mismatches = registerMismatches(next.viommu, cap, ecap);
      if (mismatches.length > 0) {
        await m.close();
        throw new Error(`qemu adapter cannot take this configuration: ${mismatches.join("; ")}`);
      }
      if (readback === "proc") {
        const lost = [...m.edus.values()].filter((s) => s.bufferAddr === undefined);
        if (lost.length > 0) {
          await m.close();
          throw new Error(`qemu adapter: could not locate the DMA buffer of ${lost.length} edu device(s)`);
        }
      }
      machine = m;
      config = next;
    },
    async close() {
      await machine?.close();
      machine = undefined;
    },
  };
}

/** QEMU's death as an error: how it ended and its last lines. [QEMU-DEATH-1] */
function qemuEnded(m: Machine, how: string): Error {
  const lines = m.proc.log().slice(-10);
  const e = new Error(
    `QEMU ended (${how}) during this call${lines.length > 0 ? `; its last lines:\n  ${lines.join("\n  ")}` : ""}`,
  );
  e.name = "QemuEnded";
  return e;
}

/** describe(): what this QEMU offers, from its options and CAP/ECAP read back [QEMU-ADAPT-1]. */
async function describeQemu(
  install: QemuInstall,
  start: (spec: MachineSpec) => Promise<Machine>,
  wantReadback: boolean,
): Promise<ModelDescription> {
  const f = flavourOf(install.features);
  const probe = await start({
    iommu: {
      scalable: false,
      awBits: 39,
      cachingMode: false,
      firstStage: false,
      pasidBits: 0,
      snoopControl: false,
      passThrough: true,
      fs1gp: f.fs1gp,
    },
    eduDevfns: [0x08],
    memMiB: 16,
  });
  try {
    const cap = await probe.q.readMem(8, DMAR_BASE + 0x08n);
    const ecap = await probe.q.readMem(8, DMAR_BASE + 0x10n);
    const readback = wantReadback && [...probe.edus.values()].every((s) => s.bufferAddr !== undefined);
    return qemuDescription(install, cap, ecap, readback);
  } finally {
    await probe.close();
  }
}

/** The description of a QEMU whose default CAP and ECAP read back as given [QEMU-ADAPT-1]. */
export function qemuDescription(
  install: QemuInstall,
  cap: bigint,
  ecap: bigint,
  readback: boolean,
): ModelDescription {
  const f = flavourOf(install.features);
  const base = decodeViommuConfig(cap, ecap);
  return {
    name: "qemu",
    version: `${install.version.text}${install.root ? ` in ${install.root}` : ""}; default CAP 0x${cap.toString(16)} ECAP 0x${ecap.toString(16)}`,
    supports: {
      legacy: true,
      scalable: f.scalableProp !== undefined,
      awBits: [39, 48],
      cachingMode: [false, true],
      firstStage: f.firstStage,
      secondStage: true,
      nested: base.nested,
      passThrough: base.passThrough,
      pasidRequests: false,
      dmaRead: readback,
      dmaWrite: readback,
      passthroughDevices: false,
      hostSurface: false,
      hostView: false,
      maxDevices: MAX_EDU_DEVICES,
    },
    limits: platformLimits(f, base),
  };
}

/**
 * [QEMU-AVOID-1] `avoid=ID+ID…`: recorded findings (reference-traces/qemu/ ids) the generators
 * steer around. Off by default; named in `version`, so every report shows what was avoided.
 */
export function parseAvoid(text: string | undefined): string[] {
  if (text === undefined || text.trim() === "") return [];
  const ids = text
    .split("+")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const id of ids)
    if (!/^[a-z0-9-]+$/.test(id)) throw new Error(`avoid=${text}: "${id}" is not a finding id`);
  return [...new Set(ids)];
}

export function withAvoided(d: ModelDescription, avoid: string[]): ModelDescription {
  if (avoid.length === 0) return d;
  return {
    ...d,
    version: `${d.version}; generators avoid known findings: ${avoid.join(", ")}`,
    limits: { ...(d.limits ?? {}), avoid },
  };
}

function checkRegister(off: number, width: 4 | 8): void {
  if (!Number.isInteger(off) || off < 0 || off + width > DMAR_SIZE || off % width !== 0) {
    throw new RangeError(
      `DMAR register access at 0x${off.toString(16)} width ${width} is outside the block or unaligned`,
    );
  }
}

function checkGuestRange(c: PlatformConfig, gpa: bigint, len: number): void {
  const end = gpa + BigInt(len);
  const inside = c.memory.regions.some((r) => gpa >= r.gpa && end <= r.gpa + r.size);
  if (len > 0 && !inside) {
    throw new RangeError(
      `guest range 0x${gpa.toString(16)}+0x${len.toString(16)} is not inside one memory region`,
    );
  }
}

/** What a DMA through edu needs of a machine: its edu devices by SID and its fault lines. */
export interface EduDmaHost {
  edus: Map<number, EduSlot>;
  mem: ProcessMemory | undefined;
  /** Lines showing a blocked request since the last call; `write` says which access it was. */
  takeFaultLines(write?: boolean): string[];
}

/**
 * One DMA by the edu device with the requested SID [QEMU-DMA-1..4]. Requests longer than
 * EDU_CHUNK are split into two edu transfers over the same page.
 */
export async function dmaThroughEdu(m: EduDmaHost, req: DmaRequest): Promise<DmaResult> {
  if (req.pasid !== undefined || req.priv) {
    throw new Error(
      "qemu adapter: edu issues requests without PASID only (describe().supports.pasidRequests is false)",
    );
  }
  const slot = m.edus.get(req.sid);
  if (!slot) throw new Error(`qemu adapter: no device with SID 0x${req.sid.toString(16)}`);
  if (!Number.isInteger(req.len) || req.len <= 0 || req.len > 0x1000) {
    throw new RangeError(`qemu adapter: DMA length ${req.len} is not 1..4096`);
  }
  if ((req.iova & 0xfffn) + BigInt(req.len) > 0x1000n)
    throw new RangeError("qemu adapter: a DMA may not cross a 4 KiB page");
  if (req.iova < 0n || req.iova >> 64n !== 0n)
    throw new RangeError("qemu adapter: the IOVA is not a 64-bit value");
  const mem = slot.bufferAddr !== undefined ? (slot.mem ?? m.mem) : undefined;
  if (req.write) {
    if (!req.data || req.data.length !== req.len)
      throw new RangeError("qemu adapter: a write needs data of length len");
    if (!mem) throw new Error("qemu adapter: DMA writes need the device buffer located (readback=proc)");
  }
  m.takeFaultLines();
  const data = req.write ? undefined : new Uint8Array(req.len);
  let aborted = false;
  for (let at = 0; at < req.len; at += EDU_CHUNK) {
    const n = Math.min(EDU_CHUNK, req.len - at);
    const iova = req.iova + BigInt(at);
    if (req.write) {
      mem!.write(slot.bufferAddr!, req.data!.subarray(at, at + n));
      await slot.edu.writeFromBuffer(iova, EDU_BUFFER_START, n);
    } else {
      await slot.edu.readToBuffer(iova, EDU_BUFFER_START, n);
      if (mem) data!.set(mem.read(slot.bufferAddr!, n), at);
    }
    // [QEMU-DMA-2] [QEMU-DMA-3] A failed translation or an access QEMU's memory core rejected
    // shows as a line before the completion poll's reply.
    if (m.takeFaultLines(req.write).some((l) => isFaultOf(l, req.sid))) aborted = true;
  }
  if (aborted) return { status: "aborted" };
  return data && mem ? { status: "ok", data } : { status: "ok" };
}

/**
 * Whether a line reports that this device's request was blocked:
 * `vtd_dmar_fault sid 0x8 ...`, `vtd_fault_disabled` (FPD set; it names no SID, and only
 * one DMA runs at a time), or `Invalid write at addr ...` (QEMU's memory core rejected the
 * access: a cached translation without the permission, or an output that is not memory;
 * again only one DMA runs at a time) [QEMU-DMA-2] [QEMU-DMA-3].
 */
export function isFaultOf(line: string, sid: number): boolean {
  if (line.includes("vtd_fault_disabled")) return true;
  if (/^Invalid (read|write) at addr /.test(line)) return true;
  const m = /vtd_dmar_fault sid 0x([0-9a-f]+)/.exec(line);
  return m !== null && Number.parseInt(m[1]!, 16) === sid;
}
