/**
 * Direct access to an edu device's 4 KiB DMA buffer inside the QEMU process, through
 * /proc/PID/mem [QEMU-READ-1]. This is how the adapter gives a DMA read its bytes back and
 * gives a DMA write its data, without a second DMA and without touching the IOMMU (see
 * docs/qemu.md, "Getting the bytes of a DMA read"). Needs ptrace-level access to QEMU (the
 * adapter's own child, or root).
 *
 * The buffer is found once, right after start-up, while translation is off: a unique
 * pattern is DMAed from guest RAM into the buffer, the RAM copy is wiped, and QEMU's
 * writable mappings are searched for the pattern. The hit is then confirmed the other way
 * round (pattern written at the hit, DMAed out to RAM, read back over qtest).
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from "node:fs";

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  name: string;
}

/** Writable private mappings of a process, from /proc/PID/maps. */
export function writableMappings(pid: number): Mapping[] {
  const out: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, "latin1").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (!m) continue;
    const perms = m[3]!;
    if (!perms.startsWith("rw")) continue;
    out.push({ start: Number.parseInt(m[1]!, 16), end: Number.parseInt(m[2]!, 16), perms, name: m[4] ?? "" });
  }
  return out;
}

/** A deterministic 4 KiB pattern with no repeated 8-byte word (so it cannot match by accident). */
export function uniquePattern(seed: number, len = 4096): Uint8Array {
  const out = new Uint8Array(len);
  const view = new DataView(out.buffer);
  // splitmix64-like sequence: distinct words for distinct counters.
  let x = (BigInt(seed >>> 0) << 32n) ^ 0x9e3779b97f4a7c15n;
  for (let i = 0; i + 8 <= len; i += 8) {
    x = (x + 0x9e3779b97f4a7c15n) & 0xffff_ffff_ffff_ffffn;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffff_ffff_ffff_ffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffff_ffff_ffff_ffffn;
    view.setBigUint64(i, z ^ (z >> 31n), true);
  }
  return out;
}

/** Mappings larger than this are guest RAM or the TCG code buffer, never QEMU's heap. */
const MAX_SCAN_MAPPING = 256 * 1024 * 1024;
const SCAN_BLOCK = 1 << 20;

/** An open handle on a process's memory. */
export class ProcessMemory {
  private fd: number;

  constructor(readonly pid: number) {
    this.fd = openSync(`/proc/${pid}/mem`, "r+");
  }

  read(addr: number, len: number): Uint8Array {
    const buf = Buffer.alloc(len);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, buf, done, len - done, addr + done);
      if (n <= 0) throw new Error(`short read of QEMU memory at 0x${(addr + done).toString(16)}`);
      done += n;
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, len);
  }

  write(addr: number, bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) {
      const n = writeSync(this.fd, bytes, done, bytes.length - done, addr + done);
      if (n <= 0) throw new Error(`short write of QEMU memory at 0x${(addr + done).toString(16)}`);
      done += n;
    }
  }

  /**
   * Addresses where needle occurs, searching writable mappings up to MAX_SCAN_MAPPING bytes,
   * the [heap] first (where QEMU allocates its devices). With `first`, stops at the first hit.
   */
  find(needle: Uint8Array, first = false): number[] {
    const hits: number[] = [];
    const probe = Buffer.from(needle.subarray(0, 64));
    const maps = writableMappings(this.pid).sort(
      (a, b) => Number(b.name === "[heap]") - Number(a.name === "[heap]"),
    );
    for (const m of maps) {
      if (first && hits.length > 0) break;
      if (m.end - m.start > MAX_SCAN_MAPPING) continue;
      for (let at = m.start; at < m.end; at += SCAN_BLOCK) {
        // Overlap blocks by the needle length so a match across a block edge is not missed.
        const len = Math.min(SCAN_BLOCK + needle.length, m.end - at);
        let block: Buffer;
        try {
          block = Buffer.from(this.read(at, len));
        } catch {
          continue; // guard pages and the like
        }
        let i = block.indexOf(probe);
        while (i >= 0 && i < SCAN_BLOCK) {
          if (i + needle.length <= block.length && block.subarray(i, i + needle.length).equals(needle)) {
            hits.push(at + i);
          }
          i = block.indexOf(probe, i + 1);
        }
      }
    }
    return hits;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** True when this process may open QEMU's memory (ptrace access). */
export function canAccessProcessMemory(pid: number): boolean {
  try {
    const fd = openSync(`/proc/${pid}/mem`, "r+");
    closeSync(fd);
    return true;
  } catch {
    return false;
  }
}
