/**
 * Test fixtures for the vIOMMU control path: a configuration, a recording InvalidationSink,
 * and the register sequences a guest driver (Linux's intel-iommu) issues.
 */

import type { TranslationMode, VIommuConfig } from "../../src/contract/types.ts";
import { writeWords } from "../../src/memory/physical-memory.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import { type Descriptor, encodeDescriptor } from "../../src/spec/descriptor.ts";
import type { InvalidationScope } from "../../src/spec/invalidation-scope.ts";
import { Gcmd, Reg } from "../../src/spec/register-offsets.ts";
import type { InvalidationSink, RootPointer } from "../../src/vtd/interfaces.ts";
import { DmarRegisters } from "../../src/vtd/registers.ts";

export function viommuConfig(over: Partial<VIommuConfig> = {}): VIommuConfig {
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
    fl5lp: false,
    ssLargePages: { twoMiB: true, oneGiB: true },
    hawBits: 46,
    faultRecords: 4,
    supervisorRequests: true,
    extendedAccessed: false,
    ...over,
  };
}

export class RecordingSink implements InvalidationSink {
  readonly calls: Array<{ scope: InvalidationScope; mode: TranslationMode }> = [];
  invalidate(scope: InvalidationScope, mode: TranslationMode): void {
    this.calls.push({ scope, mode });
  }
  scopes(): InvalidationScope[] {
    return this.calls.map((c) => c.scope);
  }
  clear(): void {
    this.calls.length = 0;
  }
}

export const MEM_SIZE = 16 << 20;

export function platform(over: Partial<VIommuConfig> = {}) {
  const mem = new SparseMemory(MEM_SIZE);
  const sink = new RecordingSink();
  const events: Array<{ rootPointer: RootPointer } | { translation: boolean }> = [];
  const regs = new DmarRegisters(viommuConfig(over), mem, sink, {
    onRootPointer: (rp) => events.push({ rootPointer: rp }),
    onTranslationEnable: (on) => events.push({ translation: on }),
  });
  return { mem, sink, regs, events };
}

const gsts = (regs: DmarRegisters) => Number(regs.read(Reg.GSTS, 4));

/** The Linux sequence: read GSTS, keep the persistent bits, set or clear one, write GCMD. */
export function gcmd(regs: DmarRegisters, bitNo: number, on: boolean): void {
  const status = gsts(regs) & 0x96ff_ffff;
  const cmd = on ? status | (1 << bitNo) : status & ~(1 << bitNo);
  regs.write(Reg.GCMD, BigInt(cmd >>> 0), 4);
}

export function setRootTable(regs: DmarRegisters, addr: number, ttm = 0): void {
  regs.write(Reg.RTADDR, BigInt(addr) | (BigInt(ttm) << 10n), 8);
  gcmd(regs, Gcmd.SRTP, true);
}

export interface QueueHandle {
  base: number;
  wide: boolean;
  sizeBytes: number;
}

/** Enable queued invalidation: IQT = 0, IQA = base | DW | QS, GCMD.QIE = 1. */
export function enableQueue(regs: DmarRegisters, base: number, qs = 0, wide = false): QueueHandle {
  regs.write(Reg.IQT, 0n, 8);
  regs.write(Reg.IQA, BigInt(base) | (wide ? 1n << 11n : 0n) | BigInt(qs), 8);
  gcmd(regs, Gcmd.QIE, true);
  return { base, wide, sizeBytes: 4096 << qs };
}

/** Write descriptors at IQT (wrapping) and then advance IQT once. */
export function submit(regs: DmarRegisters, mem: SparseMemory, q: QueueHandle, descs: Descriptor[]): void {
  submitRaw(
    regs,
    mem,
    q,
    descs.map((d) => encodeDescriptor(d, q.wide ? 256 : 128)),
  );
}

export function submitRaw(regs: DmarRegisters, mem: SparseMemory, q: QueueHandle, descs: bigint[][]): void {
  let tail = Number(regs.read(Reg.IQT, 8));
  const step = q.wide ? 32 : 16;
  for (const words of descs) {
    writeWords(mem, q.base + tail, words);
    tail = (tail + step) % q.sizeBytes;
  }
  regs.write(Reg.IQT, BigInt(tail), 8);
}

export function wait(
  statusAddr: number,
  statusData: number,
  intr = false,
): Extract<Descriptor, { kind: "wait" }> {
  return { kind: "wait", intr, sw: true, fn: true, pd: false, statusData, statusAddr: BigInt(statusAddr) };
}
