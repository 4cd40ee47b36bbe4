/**
 * Guest memory backed by host memory. The VMM places each guest RAM/ROM region at a host
 * physical address of its choosing; the vIOMMU and emulated devices see guest-physical
 * addresses through a PhysicalMemory view, while the host IOMMU sees host memory.
 * [VMM-S2-1] [VMM-S2-2]
 */

import type { PlatformConfig } from "../contract/types.ts";
import { PAGE_SIZE, type PhysicalMemory } from "../memory/physical-memory.ts";
import { VmmConfigError } from "./errors.ts";

/** [VMM-S2-1] Guest RAM starts at this host physical address: GPA ≠ HPA, so a missed stage 2 shows. */
export const HOST_RAM_BASE = 0x4000_0000;
/** Host memory reserved above guest RAM for the host IOMMU's page tables. */
export const HOST_TABLE_POOL = 16 * 1024 * 1024;

/** One guest region and where it lives in host memory. */
export interface RamSlot {
  gpa: number;
  size: number;
  hpa: number;
  readOnly: boolean;
}

/**
 * [VMM-S2-1] The host placement of the guest memory map: HPA = HOST_RAM_BASE + GPA (which
 * keeps every large-page alignment). No regions means the whole size is RAM.
 */
export function layoutGuestRam(memory: PlatformConfig["memory"]): RamSlot[] {
  const size = memory.size;
  if (size <= 0n || size % BigInt(PAGE_SIZE) !== 0n || size > 1n << 40n) {
    throw new VmmConfigError(
      "config",
      `guest memory size 0x${size.toString(16)} is not a page multiple in 4 KiB..1 TiB`,
    );
  }
  const regions =
    memory.regions.length > 0 ? memory.regions : [{ gpa: 0n, size: memory.size, readOnly: false }];
  const slots: RamSlot[] = [];
  for (const r of regions) {
    if (
      r.gpa < 0n ||
      r.size <= 0n ||
      r.gpa % 4096n !== 0n ||
      r.size % 4096n !== 0n ||
      r.gpa + r.size > size
    ) {
      throw new VmmConfigError(
        "config",
        `memory region 0x${r.gpa.toString(16)}+0x${r.size.toString(16)} is not page-aligned inside guest memory`,
      );
    }
    slots.push({
      gpa: Number(r.gpa),
      size: Number(r.size),
      hpa: HOST_RAM_BASE + Number(r.gpa),
      readOnly: r.readOnly,
    });
  }
  slots.sort((a, b) => a.gpa - b.gpa);
  for (let i = 1; i < slots.length; i++) {
    const prev = slots[i - 1] as RamSlot;
    const cur = slots[i] as RamSlot;
    if (prev.gpa + prev.size > cur.gpa) {
      throw new VmmConfigError(
        "config",
        `memory regions at 0x${prev.gpa.toString(16)} and 0x${cur.gpa.toString(16)} overlap`,
      );
    }
  }
  return slots;
}

/** Host memory size for a guest of this size: guest RAM, then the IOMMU table pool. */
export function hostMemorySize(guestSize: bigint): number {
  return HOST_RAM_BASE + Number(guestSize) + HOST_TABLE_POOL;
}

/** The guest-physical view of host memory: only region bytes are memory. */
export class GuestMemoryView implements PhysicalMemory {
  private last: RamSlot | undefined;

  constructor(
    private readonly host: PhysicalMemory,
    readonly size: number,
    readonly slots: readonly RamSlot[],
  ) {}

  /** The slot holding addr, or undefined. */
  slotAt(addr: number): RamSlot | undefined {
    const l = this.last;
    if (l !== undefined && addr >= l.gpa && addr < l.gpa + l.size) return l;
    for (const s of this.slots) {
      if (addr >= s.gpa && addr < s.gpa + s.size) {
        this.last = s;
        return s;
      }
    }
    return undefined;
  }

  /** [VTD-MEM-2] Inside memory: every byte of the range lies in a region. */
  contains(addr: number, len: number): boolean {
    if (!Number.isSafeInteger(addr) || addr < 0 || len < 0) return false;
    let at = addr;
    const end = addr + len;
    while (at < end) {
      const s = this.slotAt(at);
      if (s === undefined) return false;
      at = s.gpa + s.size;
    }
    return len > 0 || this.slotAt(addr) !== undefined;
  }

  /** Host physical address of a guest-physical one, or undefined outside the regions. */
  toHost(gpa: number): number | undefined {
    const s = this.slotAt(gpa);
    return s === undefined ? undefined : s.hpa + (gpa - s.gpa);
  }

  readU32(addr: number): number {
    const h = this.toHost(addr);
    return h === undefined ? 0 : this.host.readU32(h);
  }

  writeU32(addr: number, value: number): void {
    const h = this.toHost(addr);
    if (h !== undefined) this.host.writeU32(h, value);
  }

  read(addr: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.chunks(addr, len, (hpa, off, n) => out.set(this.host.read(hpa, n), off));
    return out;
  }

  write(addr: number, data: Uint8Array): void {
    this.chunks(addr, data.length, (hpa, off, n) => this.host.write(hpa, data.subarray(off, off + n)));
  }

  /**
   * [VMM-S2-2] A device access: inside the regions, and not a write to a read-only region.
   */
  deviceAccessOk(addr: number, len: number, write: boolean): boolean {
    if (!this.contains(addr, len)) return false;
    if (!write) return true;
    const s = this.slotAt(addr);
    const e = this.slotAt(addr + len - 1);
    return s !== undefined && e !== undefined && !s.readOnly && !e.readOnly;
  }

  /** Split [addr, addr+len) at region boundaries; parts outside regions are skipped. */
  private chunks(addr: number, len: number, f: (hpa: number, off: number, n: number) => void): void {
    let off = 0;
    while (off < len) {
      const s = this.slotAt(addr + off);
      if (s === undefined) {
        off++;
        continue;
      }
      const n = Math.min(len - off, s.gpa + s.size - (addr + off));
      f(s.hpa + (addr + off - s.gpa), off, n);
      off += n;
    }
  }
}
