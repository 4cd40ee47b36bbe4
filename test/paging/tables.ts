/** Test helper: lays out first- and second-stage tables in a SparseMemory with the bits encoders. */

import { readU64, writeU64 } from "../../src/memory/physical-memory.ts";
import type { SparseMemory } from "../../src/memory/sparse-memory.ts";
import { encodeFsEntry, encodeSsEntry, type PagingLevel } from "../../src/spec/paging-entry.ts";

export function index(iova: bigint, level: number): number {
  return Number((iova >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
}

export class Tables {
  constructor(
    readonly mem: SparseMemory,
    private next = 0x10_0000,
  ) {}

  alloc(): number {
    const a = this.next;
    this.next += 0x1000;
    return a;
  }

  /** Address of the entry for iova at level in the table at `table`. */
  slot(table: number, iova: bigint, level: number): number {
    return table + index(iova, level) * 8;
  }

  /**
   * Map iova to frame with a leaf at leafLevel in a first-stage tree rooted at root with `levels`
   * levels; non-leaf entries get R/W and U/S set unless overridden per level.
   */
  mapFs(
    root: number,
    levels: number,
    iova: bigint,
    frame: number,
    opts: { leafLevel?: number; write?: boolean; user?: boolean; upper?: Record<number, bigint> } = {},
  ): void {
    const leafLevel = opts.leafLevel ?? 1;
    let table = root;
    for (let level = levels; level > leafLevel; level--) {
      const slot = this.slot(table, iova, level);
      let w = readU64(this.mem, slot);
      if ((w & 1n) === 0n) {
        w = opts.upper?.[level] ?? encodeFsEntry({ addr: this.alloc(), write: true, user: true });
        writeU64(this.mem, slot, w);
      }
      table = Number(w & 0x000f_ffff_ffff_f000n);
    }
    writeU64(
      this.mem,
      this.slot(table, iova, leafLevel),
      encodeFsEntry(
        { addr: frame, write: opts.write ?? true, user: opts.user ?? true, pageSize: leafLevel > 1 },
        leafLevel as PagingLevel,
      ),
    );
  }

  mapSs(
    root: number,
    levels: number,
    iova: bigint,
    frame: number,
    opts: {
      leafLevel?: number;
      read?: boolean;
      write?: boolean;
      snoop?: boolean;
      upper?: Record<number, bigint>;
    } = {},
  ): void {
    const leafLevel = opts.leafLevel ?? 1;
    let table = root;
    for (let level = levels; level > leafLevel; level--) {
      const slot = this.slot(table, iova, level);
      let w = readU64(this.mem, slot);
      if ((w & 3n) === 0n) {
        w = opts.upper?.[level] ?? encodeSsEntry({ addr: this.alloc(), read: true, write: true });
        writeU64(this.mem, slot, w);
      }
      table = Number(w & 0x000f_ffff_ffff_f000n);
    }
    writeU64(
      this.mem,
      this.slot(table, iova, leafLevel),
      encodeSsEntry({
        addr: frame,
        read: opts.read ?? true,
        write: opts.write ?? true,
        snoop: opts.snoop,
        pageSize: leafLevel > 1,
      }),
    );
  }

  /** Address of the entry used at `level` for iova (walks present entries). */
  entryAt(root: number, levels: number, iova: bigint, level: number): number {
    let table = root;
    for (let l = levels; l > level; l--) {
      table = Number(readU64(this.mem, this.slot(table, iova, l)) & 0x000f_ffff_ffff_f000n);
    }
    return this.slot(table, iova, level);
  }
}
