/**
 * Test doubles for the guest-driver tests: a PlatformSurface over sparse memory and the
 * reference DMAR register file (real GCMD/GSTS, queue and fault-recording semantics) with a
 * recording invalidation sink and no translation, and configurations for the reference model.
 */

import type {
  DmaRequest,
  DmaResult,
  PlatformConfig,
  PlatformSurface,
  TranslationMode,
  VIommuConfig,
} from "../../src/contract/types.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import type { InvalidationScope } from "../../src/spec/invalidation-scope.ts";
import type { InvalidationSink } from "../../src/vtd/interfaces.ts";
import { DmarRegisters } from "../../src/vtd/registers.ts";

export function viommu(over: Partial<VIommuConfig> = {}): VIommuConfig {
  return {
    scalable: true,
    awBits: 48,
    cachingMode: false,
    firstStage: true,
    secondStage: true,
    nested: false,
    passThrough: true,
    pasidBits: 20,
    snoopControl: true,
    fs1gp: true,
    fl5lp: true,
    ssLargePages: { twoMiB: true, oneGiB: true },
    hawBits: 46,
    faultRecords: 4,
    supervisorRequests: true,
    extendedAccessed: false,
    ...over,
  };
}

export const MIB = 1n << 20n;

export function platformConfig(over: Partial<VIommuConfig> = {}, memory = 64n * MIB): PlatformConfig {
  return {
    viommu: viommu(over),
    devices: [
      { sid: 0x0010, kind: "emulated" },
      { sid: 0x0108, kind: "emulated" },
      { sid: 0x0290, kind: "emulated" },
    ],
    memory: { size: memory, regions: [{ gpa: 0n, size: memory, readOnly: false }] },
    hostIommus: [],
  };
}

class RecordingSink implements InvalidationSink {
  readonly calls: Array<{ scope: InvalidationScope; mode: TranslationMode }> = [];
  invalidate(scope: InvalidationScope, mode: TranslationMode): void {
    this.calls.push({ scope, mode });
  }
}

export type SurfaceCall =
  | { op: "writeReg"; off: number; value: bigint; width: 4 | 8 }
  | { op: "readReg"; off: number; width: 4 | 8 }
  | { op: "writeGuest"; gpa: bigint; len: number }
  | { op: "readGuest"; gpa: bigint; len: number };

/**
 * Memory + register file, no translation: DMA is aborted. `log` records every register write and
 * every memory access; `ignoreRegWrites` drops writes to chosen offsets (a model that never
 * processes them, for timeout tests).
 */
export class DoubleSurface implements PlatformSurface {
  readonly mem: SparseMemory;
  readonly sink = new RecordingSink();
  readonly regs: DmarRegisters;
  readonly log: SurfaceCall[] = [];
  ignoreRegWrites = new Set<number>();

  constructor(over: Partial<VIommuConfig> = {}, memBytes = 64 << 20) {
    this.mem = new SparseMemory(memBytes);
    this.regs = new DmarRegisters(viommu(over), this.mem, this.sink);
  }

  async writeGuest(gpa: bigint, bytes: Uint8Array): Promise<void> {
    this.log.push({ op: "writeGuest", gpa, len: bytes.length });
    this.mem.write(Number(gpa), bytes);
  }

  async readGuest(gpa: bigint, len: number): Promise<Uint8Array> {
    this.log.push({ op: "readGuest", gpa, len });
    return this.mem.read(Number(gpa), len);
  }

  async writeReg(off: number, value: bigint, width: 4 | 8): Promise<void> {
    this.log.push({ op: "writeReg", off, value, width });
    if (this.ignoreRegWrites.has(off)) return;
    this.regs.write(off, value, width);
  }

  async readReg(off: number, width: 4 | 8): Promise<bigint> {
    this.log.push({ op: "readReg", off, width });
    return this.regs.read(off, width);
  }

  async dma(_req: DmaRequest): Promise<DmaResult> {
    return { status: "aborted" };
  }

  regWrites(off: number): bigint[] {
    return this.log.flatMap((c) => (c.op === "writeReg" && c.off === off ? [c.value] : []));
  }
}

/** The memory map of a double (one RAM region covering it). */
export function memoryOf(bytes: number): PlatformConfig["memory"] {
  return { size: BigInt(bytes), regions: [{ gpa: 0n, size: BigInt(bytes), readOnly: false }] };
}
