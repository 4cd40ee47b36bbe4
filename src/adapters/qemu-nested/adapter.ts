/**
 * The `qemu:nested` adapter: QEMU's VMM side under test [QEMU-NEST-1..9]. L0 (a QEMU here, TCG)
 * plays the host's VT-d and devices; L1 (the sid kernel) binds them to vfio-pci; for each reset an
 * L2 QEMU 11.1 starts in L1 with an intel-iommu holding both the passed-through devices (vfio-pci,
 * legacy VFIO container) and emulated edu devices, and the platform surface is L2's: its guest
 * memory and DMAR registers over qtest, DMA by any of its devices. See docs/qemu-nested.md.
 *
 * Options: `root=DIR` (the sid root; the nested setup is beside it), `l0-aw-bits=39|48` (L1's host
 * IOMMU width, default 39), `boot-timeout=S` (L0 + L1 boot and bind, default 300),
 * `command-timeout=S` (one L1 shell command, default 60), `timeout=MS` (one L2 qtest command,
 * default 30000), `l0-mem=MiB` (default 1024).
 */
import { resolve } from "node:path";
import { ModelDied } from "../../contract/errors.ts";
import type {
  HostIommuConfig,
  Model,
  ModelDescription,
  PlatformConfig,
  PlatformSurface,
  VIommuConfig,
} from "../../contract/types.ts";
import { dmaThroughEdu, parseAvoid, withAvoided } from "../qemu/adapter.ts";
import { decodeViommuConfig, platformLimits, registerMismatches } from "../qemu/config.ts";
import { canAccessProcessMemory, ProcessMemory } from "../qemu/device-buffer.ts";
import { EduDevice } from "../qemu/edu.ts";
import { DMAR_BASE, EDU_BAR_BASE, type IommuOptions, locateEduBuffer } from "../qemu/machine.ts";
import { enableDevice, scanBus0 } from "../qemu/pci.ts";
import { detectQemu, flavourOf, type QemuInstall } from "../qemu/process.ts";
import { Chain, ChainError } from "./chain.ts";
import { L2, type L2Device, L2Refused, type L2Spec } from "./l2.ts";
import { nestedLayout, nestedStatus } from "./setup.ts";

const DMAR_SIZE = 0x1000;
const GUEST_CHUNK = 0x10000;
const MiB = 1024n * 1024n;
/** L2 SIDs: function 0 of slots 1 to 0x1e on bus 0. */
export const NESTED_SIDS: readonly number[] = Array.from({ length: 0x1e }, (_, i) => (i + 1) << 3);
export const NESTED_MAX_DEVICES = 6;
/** The id of L1's host IOMMU in configurations. */
export const HOST_IOMMU_ID = "l1-dmar0";

export interface NestedOptions {
  sidRoot: string;
  l0AwBits: 39 | 48;
  bootTimeoutMs: number;
  commandTimeoutMs: number;
  qtestTimeoutMs: number;
  l0MemMiB: number;
  /** Recorded findings the generators steer around (QEMU-AVOID-1). */
  avoid: string[];
}

export function parseNestedOptions(o: Record<string, string>): NestedOptions {
  const num = (k: string, d: number) => {
    const v = o[k];
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`qemu:nested: ${k}=${v} is not a positive number`);
    return n;
  };
  const aw = num("l0-aw-bits", 39);
  if (aw !== 39 && aw !== 48) throw new Error(`qemu:nested: l0-aw-bits=${aw}: 39 or 48`);
  for (const k of Object.keys(o))
    if (!["root", "avoid", "l0-aw-bits", "boot-timeout", "command-timeout", "timeout", "l0-mem"].includes(k))
      throw new Error(`qemu:nested: unknown option ${k}`);
  return {
    sidRoot: resolve(o.root ?? process.env.IOMMU_QEMU_ROOT ?? ".cache/qemu-sid"),
    l0AwBits: aw,
    bootTimeoutMs: num("boot-timeout", 300) * 1000,
    commandTimeoutMs: num("command-timeout", 60) * 1000,
    qtestTimeoutMs: num("timeout", 30_000),
    l0MemMiB: num("l0-mem", 1024),
    avoid: parseAvoid(o.avoid),
  };
}

/** L1's host IOMMU in configuration terms, from L0's VT-d CAP/ECAP as L1 reads them [QEMU-NEST-5]. */
export function hostIommuOf(cap: bigint, ecap: bigint): HostIommuConfig {
  const v = decodeViommuConfig(cap, ecap);
  return {
    id: HOST_IOMMU_ID,
    awBits: Number((cap >> 16n) & 0x3fn) + 1,
    nesting: v.nested,
    snoopControl: v.snoopControl,
    fs1gp: v.fs1gp,
    fl5lp: v.fl5lp,
    pasidBits: v.pasidBits,
    errata772415: false,
    kind: "intel-vtd",
    supervisorRequests: v.supervisorRequests,
    extendedAccessed: v.extendedAccessed,
  };
}

export interface NestedModel extends Model {
  readonly chain: Chain | undefined;
  readonly l2: L2 | undefined;
  /** Timings for measurements (seconds). */
  readonly times: { setupCheck: number; boot: number; bind: number; locate: number; l2Starts: number[] };
}

export async function createNestedModel(options: Record<string, string> = {}): Promise<NestedModel> {
  const o = parseNestedOptions(options);
  const status = await nestedStatus(o.sidRoot);
  if (!status.ready)
    throw new Error(
      `qemu:nested: the nested setup beside ${o.sidRoot} is missing ${status.missing.join(", ")}: run \`iommu-conformance qemu setup --nested\` (as root)`,
    );
  const layout = nestedLayout(o.sidRoot);
  const l0 = await detectQemu({});
  const l2Install = await detectQemu({ root: layout.root });
  // L2 runs inside L1, where the root is `/`: the same binary, no chroot.
  const l2InL1: QemuInstall = {
    binary: l2Install.binary,
    version: l2Install.version,
    features: l2Install.features,
  };
  const times = { setupCheck: 0, boot: 0, bind: 0, locate: 0, l2Starts: [] as number[] };
  let chain: Chain | undefined;
  let l0Mem: ProcessMemory | undefined;
  let buffers: Array<number | undefined> = [];
  let l2: L2 | undefined;
  let config: PlatformConfig | undefined;
  let description: ModelDescription | undefined;
  let hostIommu: HostIommuConfig | undefined;

  /** Boots L0 + L1 when there is no live chain; locates the L0 edu buffers with a first L2. */
  const ensureChain = async (): Promise<Chain> => {
    if (chain?.alive) return chain;
    await chain?.close();
    l0Mem?.close();
    const boot = () =>
      Chain.boot({
        install: l0,
        layout,
        l0AwBits: o.l0AwBits,
        bootTimeoutMs: o.bootTimeoutMs,
        commandTimeoutMs: o.commandTimeoutMs,
        l0MemMiB: o.l0MemMiB,
      });
    // [QEMU-NEST-7] One more boot when the first fails (a slow, shared machine); then the error.
    chain = await boot().catch(() => boot());
    times.boot = chain.times.boot;
    times.bind = chain.times.bind;
    const t0 = Date.now();
    l0Mem =
      chain.l0Pid > 0 && canAccessProcessMemory(chain.l0Pid) ? new ProcessMemory(chain.l0Pid) : undefined;
    buffers = await locateBuffers(chain);
    times.locate = (Date.now() - t0) / 1000;
    return chain;
  };

  /** [QEMU-NEST-6] With translation off in a plain L2, find each L0 edu's buffer in L0's memory. */
  const locateBuffers = async (c: Chain): Promise<Array<number | undefined>> => {
    if (!l0Mem) return c.devices.map(() => undefined);
    const spec: L2Spec = {
      iommu: plainIommu(39),
      devices: c.devices.map((d, i) => ({
        devfn: NESTED_SIDS[i] as number,
        passthrough: { ...d, bufferAddr: undefined },
      })),
      memMiB: 16,
    };
    const probe = await L2.start(c, l2InL1, spec, { timeoutMs: o.qtestTimeoutMs, l0Mem, setUp: false });
    try {
      const found = await scanBus0(probe.q);
      const out: Array<number | undefined> = [];
      for (const [i, d] of spec.devices.entries()) {
        const fn = found.find((p) => p.devfn === d.devfn);
        if (!fn) throw new Error(`L2 probe: no passed-through device at devfn 0x${d.devfn.toString(16)}`);
        const bar0 = EDU_BAR_BASE + 0x100000n * BigInt(i);
        await enableDevice(probe.q, fn, Number(bar0));
        out.push(await locateEduBuffer(probe.q, new EduDevice(probe.q, bar0, "icount"), l0Mem, 0x100 + i));
      }
      return out;
    } finally {
      await probe.stop();
    }
  };

  const current = (): { l: L2; c: PlatformConfig } => {
    if (!l2 || !config) throw new Error("qemu:nested: reset(config) first");
    if (l2.q.broken)
      throw new Error(
        `qemu:nested: L2 is gone (${l2.q.broken.message}); L2 log: ${l2.log().slice(-5).join(" | ")}`,
      );
    return { l: l2, c: config };
  };

  /**
   * [QEMU-NEST-7] An L2 that died mid-case: its last words (without the register dump) and the
   * end of L1's kernel log, so the death can be triaged from the trace alone.
   */
  const l2Death = async (l: L2, e: unknown): Promise<Error> => {
    if (!l.q.broken) return e as Error;
    const dmesg = chain?.alive
      ? await chain.must("dmesg | tail -n 12").catch((x: Error) => [`(no dmesg: ${x.message})`])
      : ["(L1 is gone)"];
    // L1 still answers, so L2 (the model) ended by itself: its failure [HARNESS-REPLAY-4].
    const said = `L2 said: ${l.log().slice(-8).join(" | ")}; L1 dmesg: ${dmesg.join(" | ")}`;
    const during = (e as Error).message.split(" (L2's qtest")[0];
    return chain?.alive
      ? new ModelDied(`L2 ended (${during}); ${said}`)
      : new Error(`qemu:nested: L1 died (${during}); ${said}`);
  };
  /** Runs one surface operation; an L2 death becomes an error that says what L2 and L1 said. */
  const guarded = async <T>(op: (l: L2, c: PlatformConfig) => Promise<T>): Promise<T> => {
    const { l, c } = current();
    try {
      const r = await op(l, c);
      if (l.q.broken) throw l.q.broken;
      return r;
    } catch (e) {
      throw await l2Death(l, e);
    }
  };

  const platform: PlatformSurface = {
    writeGuest: (gpa, bytes) =>
      guarded(async (l, c) => {
        checkGuestRange(c, gpa, bytes.length);
        for (let at = 0; at < bytes.length; at += GUEST_CHUNK)
          await l.q.write(gpa + BigInt(at), bytes.subarray(at, at + GUEST_CHUNK));
      }),
    readGuest: (gpa, len) =>
      guarded(async (l, c) => {
        checkGuestRange(c, gpa, len);
        const out = new Uint8Array(len);
        for (let at = 0; at < len; at += GUEST_CHUNK)
          out.set(await l.q.read(gpa + BigInt(at), Math.min(GUEST_CHUNK, len - at)), at);
        return out;
      }),
    writeReg: (off, value, width) =>
      guarded(async (l) => {
        checkRegister(off, width);
        await l.q.writeMem(
          width,
          DMAR_BASE + BigInt(off),
          value & (width === 8 ? (1n << 64n) - 1n : 0xffff_ffffn),
        );
      }),
    readReg: (off, width) =>
      guarded(async (l) => {
        checkRegister(off, width);
        return l.q.readMem(width, DMAR_BASE + BigInt(off));
      }),
    dma: (req) => guarded((l) => dmaThroughEdu(l, req)),
  };

  const stopL2 = async () => {
    const old = l2;
    l2 = undefined;
    config = undefined;
    if (old) {
      try {
        await old.stop();
      } catch {
        // L1 is unwell: the chain is rebooted at the next reset.
        await chain?.close();
      }
    }
  };

  return {
    get chain() {
      return chain;
    },
    get l2() {
      return l2;
    },
    times,
    platform,
    async describe() {
      if (description) return description;
      const c = await ensureChain();
      hostIommu = hostIommuOf(c.host?.cap ?? 0n, c.host?.ecap ?? 0n);
      // The L2 vIOMMU's fixed capabilities, from an L2 with the default options.
      const probe = await L2.start(
        c,
        l2InL1,
        { iommu: plainIommu(39), devices: [{ devfn: 0x08 }], memMiB: 16 },
        {
          timeoutMs: o.qtestTimeoutMs,
          l0Mem,
        },
      );
      let cap: bigint;
      let ecap: bigint;
      try {
        cap = await probe.q.readMem(8, DMAR_BASE + 0x08n);
        ecap = await probe.q.readMem(8, DMAR_BASE + 0x10n);
      } finally {
        await probe.stop();
      }
      const f = flavourOf(l2InL1.features);
      const base = decodeViommuConfig(cap, ecap);
      const readback = buffers.length > 0 && buffers.every((b) => b !== undefined);
      description = {
        name: "qemu:nested",
        version: [
          `L2 ${l2InL1.version.text} in L1 Linux ${c.kernel} on L0 ${l0.version.text}`,
          `L1's host IOMMU: L0's VT-d, CAP 0x${c.host?.cap.toString(16)} ECAP 0x${c.host?.ecap.toString(16)} (aw-bits ${hostIommu.awBits})`,
          `passed through (legacy VFIO, no IOMMUFD in L1): ${c.devices.map((d) => `edu ${d.bdf}`).join(", ")}`,
          "no vIOMMU fault records for passed-through devices",
          "emulated devices' DMA reads report status only",
        ].join("; "),
        supports: {
          legacy: true,
          scalable: f.scalableProp !== undefined,
          awBits: [39, 48],
          cachingMode: [false, true],
          firstStage: f.firstStage,
          secondStage: true,
          nested: false,
          passThrough: base.passThrough,
          pasidRequests: false,
          dmaRead: readback,
          dmaWrite: readback,
          passthroughDevices: true,
          hostSurface: false,
          hostView: false,
          maxDevices: NESTED_MAX_DEVICES,
        },
        limits: {
          ...platformLimits(f, base),
          sids: [...NESTED_SIDS],
          emulatedReadData: false,
          passthrough: {
            max: c.devices.length,
            hostIommus: [hostIommu],
            host: { iommu: HOST_IOMMU_ID, noSnoop: false, behindBridge: false, iommufd: false },
            readOnlyMemory: false,
          },
        },
      };
      description = withAvoided(description, o.avoid);
      return description;
    },
    async reset(next) {
      await stopL2();
      const c = await ensureChain();
      hostIommu ??= hostIommuOf(c.host?.cap ?? 0n, c.host?.ecap ?? 0n);
      const spec = specFor(next, c, buffers, hostIommu);
      const t0 = Date.now();
      let started: L2;
      try {
        started = await L2.start(c, l2InL1, spec, { timeoutMs: o.qtestTimeoutMs, l0Mem });
      } catch (e) {
        // [QEMU-NEST-7] L2's own refusal is the VMM's answer; anything else is an adapter error
        // with the L0/L1 console and the L2 log.
        if (e instanceof L2Refused) throw new Error(`L2 refused the configuration: ${e.message}`);
        if (e instanceof ChainError && !c.alive) await c.close();
        throw e;
      }
      times.l2Starts.push((Date.now() - t0) / 1000);
      const cap = await started.q.readMem(8, DMAR_BASE + 0x08n);
      const ecap = await started.q.readMem(8, DMAR_BASE + 0x10n);
      const mismatches = registerMismatches(next.viommu, cap, ecap);
      if (mismatches.length > 0) {
        await started.stop();
        throw new Error(`qemu:nested cannot take this configuration: ${mismatches.join("; ")}`);
      }
      l2 = started;
      config = next;
    },
    async close() {
      await stopL2().catch(() => undefined);
      l0Mem?.close();
      await chain?.close();
      chain = undefined;
    },
  };
}

/** A JSON form independent of key order (configurations decoded from traces order keys alphabetically). */
function canonical(v: object): string {
  return JSON.stringify(
    Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  );
}

function plainIommu(aw: 39 | 48): IommuOptions {
  return {
    scalable: false,
    awBits: aw,
    cachingMode: true,
    firstStage: false,
    pasidBits: 0,
    snoopControl: false,
    passThrough: true,
    fs1gp: false,
  };
}

/** [QEMU-NEST-4] The L2 for a configuration, or every reason it cannot be built. */
export function specFor(
  config: PlatformConfig,
  chain: Pick<Chain, "devices">,
  buffers: Array<number | undefined>,
  host: HostIommuConfig,
): L2Spec {
  const v: VIommuConfig = config.viommu;
  const reasons: string[] = [];
  if (v.awBits !== 39 && v.awBits !== 48) reasons.push(`awBits ${v.awBits}: 39 or 48`);
  if (v.nested) reasons.push("nested translation: QEMU's intel-iommu does not offer it");
  if (v.hawBits !== v.awBits) reasons.push(`hawBits ${v.hawBits}: QEMU's output width equals awBits`);
  if (v.pasidBits > 0 && !v.scalable) reasons.push("PASID support needs scalable mode");
  const devices: L2Device[] = [];
  let pt = 0;
  const seen = new Set<number>();
  for (const d of config.devices) {
    const sid = `SID 0x${d.sid.toString(16)}`;
    if (!NESTED_SIDS.includes(d.sid))
      reasons.push(`${sid}: L2 devices sit at function 0 of slots 1-0x1e on bus 0`);
    if (seen.has(d.sid)) reasons.push(`${sid}: given twice`);
    seen.add(d.sid);
    if (d.kind === "emulated") {
      devices.push({ devfn: d.sid });
      continue;
    }
    const l1 = chain.devices[pt];
    if (l1 === undefined) {
      reasons.push(`${sid}: L1 has ${chain.devices.length} devices to pass through`);
      continue;
    }
    const h = config.hostIommus.find((x) => x.id === d.host?.iommu);
    if (h === undefined || canonical({ ...h, id: host.id }) !== canonical(host))
      reasons.push(`${sid}: its host IOMMU must be L1's (${JSON.stringify(host)})`);
    if (d.host?.iommufd || d.host?.behindBridge || d.host?.noSnoop)
      reasons.push(
        `${sid}: L1 binds through the legacy VFIO container, not behind a bridge, without no-snoop`,
      );
    devices.push({ devfn: d.sid, passthrough: { ...l1, bufferAddr: buffers[pt] } });
    pt++;
  }
  const size = config.memory.size;
  if (size < 2n * MiB || size > 0x4000_0000n || size % MiB !== 0n)
    reasons.push("memory: whole MiB, 2 MiB to 1 GiB");
  for (const r of config.memory.regions) {
    if (r.readOnly) reasons.push("read-only memory regions are not offered");
    if (r.gpa < 0x100000n && r.gpa + r.size > 0xa0000n) reasons.push("0xa0000-0xfffff is not RAM on q35");
  }
  if (reasons.length > 0)
    throw new Error(`qemu:nested cannot take this configuration: ${reasons.join("; ")}`);
  return {
    iommu: {
      scalable: v.scalable,
      awBits: v.awBits as 39 | 48,
      cachingMode: v.cachingMode,
      firstStage: v.firstStage,
      pasidBits: v.pasidBits,
      snoopControl: v.snoopControl,
      passThrough: v.passThrough,
      fs1gp: v.fs1gp,
    },
    devices,
    memMiB: Number(size / MiB),
  };
}

function checkRegister(off: number, width: 4 | 8): void {
  if (!Number.isInteger(off) || off < 0 || off + width > DMAR_SIZE || off % width !== 0)
    throw new RangeError(
      `DMAR register access at 0x${off.toString(16)} width ${width} is outside the block or unaligned`,
    );
}

function checkGuestRange(c: PlatformConfig, gpa: bigint, len: number): void {
  const end = gpa + BigInt(len);
  if (len > 0 && !c.memory.regions.some((r) => gpa >= r.gpa && end <= r.gpa + r.size))
    throw new RangeError(
      `guest range 0x${gpa.toString(16)}+0x${len.toString(16)} is not inside one memory region`,
    );
}
