import { type PhysicalMemory, readU64, writeU64 } from "../memory/physical-memory.ts";
import type { PagePool } from "./page-pool.ts";

/**
 * The host driver's writer of VT-d second-stage page tables (VT-d 5.10 §9.8) in host
 * memory: what a paging HWPT is. It only writes tables; DMA walks them with the shared
 * walker (src/paging), exactly as hardware would. [HOST-XLATE-3]
 *
 * Entry format: R bit 0, W bit 1, PS bit 7 (2 MiB leaf at level 2), SNP bit 11 (leaf,
 * set when the HWPT enforces snooping), address bits 51:12. Non-leaf entries carry
 * R = W = 1 and the next table's address, as Linux writes them.
 */
export const SsPte = {
  R: 1n << 0n,
  W: 1n << 1n,
  PS: 1n << 7n,
  SNP: 1n << 11n,
  ADDR: ((1n << 52n) - 1n) & ~0xfffn,
} as const;

const SIZE_4K = 1n << 12n;
const SIZE_2M = 1n << 21n;

export interface Stage2Prot {
  read: boolean;
  write: boolean;
  /** Set SNP in leaves (the HWPT enforces cache coherency). */
  snoop: boolean;
}

export class Stage2Tables {
  readonly root: number;
  private readonly pages: number[] = [];

  /** levels: 3 (39-bit), 4 (48-bit) or 5 (57-bit) input addresses. */
  constructor(
    private readonly mem: PhysicalMemory,
    private readonly pool: PagePool,
    readonly levels: number,
  ) {
    this.root = this.newTable();
  }

  /** Input addresses the tables can hold: 12 + 9 × levels bits. */
  get inputBits(): number {
    return 12 + 9 * this.levels;
  }

  /**
   * Map [iova, iova+length) to [hpa, hpa+length); all three 4 KiB aligned. Uses 2 MiB
   * leaves where iova, hpa and the remaining length allow it. [HOST-XLATE-4]
   */
  map(iova: bigint, hpa: bigint, length: bigint, prot: Stage2Prot): void {
    let off = 0n;
    while (off < length) {
      const va = iova + off;
      const pa = hpa + off;
      const big = va % SIZE_2M === 0n && pa % SIZE_2M === 0n && length - off >= SIZE_2M;
      this.setLeaf(va, pa, big ? 2 : 1, prot);
      off += big ? SIZE_2M : SIZE_4K;
    }
  }

  /** Clear the leaves covering [iova, iova+length) (whole mappings only, so no splits). */
  unmap(iova: bigint, length: bigint): void {
    let off = 0n;
    while (off < length) {
      const va = iova + off;
      const slot = this.findLeaf(va);
      if (slot === undefined) {
        off += SIZE_4K;
        continue;
      }
      writeU64(this.mem, slot.addr, 0n);
      off += slot.level === 2 ? SIZE_2M - (va % SIZE_2M) : SIZE_4K;
    }
  }

  /** Return every table page to the pool. */
  destroy(): void {
    for (const p of this.pages.splice(0)) this.pool.release(p);
  }

  private setLeaf(va: bigint, pa: bigint, leafLevel: 1 | 2, prot: Stage2Prot): void {
    let table = this.root;
    for (let level = this.levels; level > leafLevel; level--) {
      const addr = table + index(va, level) * 8;
      let e = readU64(this.mem, addr);
      if ((e & (SsPte.R | SsPte.W)) === 0n) {
        const next = this.newTable();
        e = BigInt(next) | SsPte.R | SsPte.W;
        writeU64(this.mem, addr, e);
      }
      table = Number(e & SsPte.ADDR);
    }
    let leaf = (pa & SsPte.ADDR) | (prot.read ? SsPte.R : 0n) | (prot.write ? SsPte.W : 0n);
    if (leafLevel === 2) leaf |= SsPte.PS;
    if (prot.snoop) leaf |= SsPte.SNP;
    writeU64(this.mem, table + index(va, leafLevel) * 8, leaf);
  }

  private findLeaf(va: bigint): { addr: number; level: number } | undefined {
    let table = this.root;
    for (let level = this.levels; level >= 1; level--) {
      const addr = table + index(va, level) * 8;
      const e = readU64(this.mem, addr);
      if ((e & (SsPte.R | SsPte.W)) === 0n) return undefined;
      if (level === 1 || (level === 2 && (e & SsPte.PS) !== 0n)) return { addr, level };
      table = Number(e & SsPte.ADDR);
    }
    return undefined;
  }

  private newTable(): number {
    const page = this.pool.alloc();
    this.pages.push(page);
    return page;
  }
}

function index(va: bigint, level: number): number {
  return Number((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
}
