/**
 * [HARNESS-DRV-2] First-stage (VT-d 5.10 §9.7) and second-stage (§9.8) page tables in guest memory, built the way
 * a guest driver builds them: `map` creates the missing intermediate tables and writes one leaf
 * (4 KiB, 2 MiB or 1 GiB), `unmap` clears a leaf, `setEntry` writes any 64-bit value at any level
 * (reserved bits, bad pointers, loops) for generators. 3, 4 or 5 levels (first stage: 4 or 5).
 * Entries are encoded by src/spec/paging-entry.ts; every write goes through the surface.
 */
import { encodeFsEntry, encodeSsEntry, FS, levelShift, type PagingLevel, SS } from "../spec/paging-entry.ts";
import { mask } from "../spec/word.ts";
import { DriverError, hex } from "./errors.ts";
import type { TableMemory } from "./table-memory.ts";

export type PageSize = "4K" | "2M" | "1G";

export const PAGE_SIZE_BYTES: Record<PageSize, number> = { "4K": 1 << 12, "2M": 1 << 21, "1G": 1 << 30 };
const LEAF_LEVEL: Record<PageSize, PagingLevel> = { "4K": 1, "2M": 2, "1G": 3 };

/** Leaf rights of a second-stage mapping [VTD-SS-3]. */
export interface SecondStagePerms {
  read: boolean;
  write: boolean;
  /** SNP (needs ECAP.SC). */
  snoop?: boolean;
  accessed?: boolean;
  dirty?: boolean;
  /** Bits OR-ed in verbatim (reserved bits for robustness runs). */
  extra?: bigint;
}

/** Leaf rights of a first-stage mapping [VTD-FS-6]: P is implied. */
export interface FirstStagePerms {
  write: boolean;
  user: boolean;
  accessed?: boolean;
  dirty?: boolean;
  extendedAccessed?: boolean;
  xd?: boolean;
  extra?: bigint;
}

export type Stage = "first" | "second";
export type Perms<S extends Stage> = S extends "first" ? FirstStagePerms : SecondStagePerms;

export interface PageTableOptions<S extends Stage> {
  stage: S;
  /** 3, 4 or 5 for the second stage (AW + 2); 4 or 5 for the first stage (FSPM). */
  levels: 3 | 4 | 5;
  /**
   * Rights of the non-leaf entries `map` creates (default: second stage R+W, first stage
   * R/W+U/S, as Linux's intel-iommu writes them).
   */
  nonLeaf?: Perms<S>;
}

/** One step of a software walk over the mirror. */
export interface TableStep {
  level: PagingLevel;
  /** Guest-physical address of the entry. */
  addr: number;
  word: bigint;
}

const ADDR = mask(51, 12);

export class PageTable<S extends Stage = Stage> {
  readonly stage: S;
  readonly levels: 3 | 4 | 5;
  private readonly nonLeaf: Perms<S>;

  private constructor(
    private readonly tm: TableMemory,
    /** Address of the top-level table (SSPTPTR / FSPTPTR). */
    readonly root: number,
    opts: PageTableOptions<S>,
  ) {
    this.stage = opts.stage;
    this.levels = opts.levels;
    this.nonLeaf =
      opts.nonLeaf ??
      ((opts.stage === "first" ? { write: true, user: true } : { read: true, write: true }) as Perms<S>);
  }

  /** A new, empty table tree: one zeroed top-level page. */
  static async create<S extends Stage>(tm: TableMemory, opts: PageTableOptions<S>): Promise<PageTable<S>> {
    if (opts.stage === "first" && opts.levels === 3)
      throw new DriverError("argument", "first-stage tables have 4 or 5 levels");
    if (![3, 4, 5].includes(opts.levels)) throw new DriverError("argument", `levels ${opts.levels}`);
    return new PageTable(tm, await tm.newPage(), opts);
  }

  /** A builder over an existing tree (for example one a generator laid out), rooted at `root`. */
  static over<S extends Stage>(tm: TableMemory, root: number, opts: PageTableOptions<S>): PageTable<S> {
    return new PageTable(tm, root, opts);
  }

  /** Input-address width these tables translate: 39, 48 or 57 bits. */
  get width(): number {
    return 12 + 9 * this.levels;
  }

  /**
   * Map the `size` page at iova to target (both aligned to size), creating missing tables. A
   * large leaf in the way of a smaller mapping is an error unless `replace` is set, in which case
   * it is overwritten with a pointer to a new, empty table.
   */
  async map(
    iova: bigint,
    target: number | bigint,
    size: PageSize,
    perms: Perms<S>,
    opts: { replace?: boolean } = {},
  ): Promise<number> {
    const leaf = LEAF_LEVEL[size];
    const bytes = BigInt(PAGE_SIZE_BYTES[size]);
    this.checkInput(iova);
    if (iova % bytes !== 0n || BigInt(target) % bytes !== 0n)
      throw new DriverError(
        "argument",
        `map ${size}: iova ${hex(iova)} and target ${hex(target)} must be aligned`,
      );
    if (leaf > this.levels) throw new DriverError("argument", `${size} page needs at least ${leaf} levels`);
    const slot = await this.slotFor(iova, leaf, true, opts.replace ?? false);
    await this.tm.write(slot, [this.leafWord(leaf, BigInt(target), perms)]);
    return slot;
  }

  /** Clear the leaf of the `size` page at iova; false when the walk does not reach that level. */
  async unmap(iova: bigint, size: PageSize): Promise<boolean> {
    this.checkInput(iova);
    const slot = await this.slotFor(iova, LEAF_LEVEL[size], false, false);
    if (slot === undefined) return false;
    await this.tm.write(slot, [0n]);
    return true;
  }

  /**
   * Write `word` verbatim as the entry for iova at `level`, creating missing tables above it
   * (existing leaves above are replaced by new tables). Returns the entry's address.
   */
  async setEntry(iova: bigint, level: PagingLevel, word: bigint): Promise<number> {
    if (level < 1 || level > this.levels)
      throw new DriverError("argument", `level ${level} of ${this.levels}`);
    const slot = await this.slotFor(iova, level, true, true);
    await this.tm.write(slot, [word]);
    return slot;
  }

  /** The entries a walk for iova reads, top first, as far as the mirror's pointers lead. */
  async walk(iova: bigint): Promise<TableStep[]> {
    const out: TableStep[] = [];
    let table = this.root;
    for (let level = this.levels as PagingLevel; level >= 1; level--) {
      const addr = table + this.index(iova, level) * 8;
      const word = await this.tm.read(addr);
      out.push({ level, addr, word });
      if (!this.isTablePointer(word, level)) break;
      table = Number(word & ADDR);
    }
    return out;
  }

  /**
   * The entries a walk for iova reads, top first, as far as the pointers lead through pages the
   * mirror already holds (it never loads a page: a raw pointer may lead anywhere).
   */
  async mirroredWalk(iova: bigint): Promise<TableStep[]> {
    const out: TableStep[] = [];
    let table = this.root;
    for (let level = this.levels as PagingLevel; level >= 1; level--) {
      if (!this.tm.tracks(table - (table % 4096))) break;
      const addr = table + this.index(iova, level) * 8;
      const word = await this.tm.read(addr);
      out.push({ level, addr, word });
      if (!this.isTablePointer(word, level)) break;
      table = Number(word & ADDR);
    }
    return out;
  }

  /** The encoded leaf the builder writes for these rights at this level. */
  leafWord(level: PagingLevel, target: bigint, perms: Perms<S>): bigint {
    const large = level > 1;
    if (this.stage === "first") {
      const p = perms as FirstStagePerms;
      return encodeFsEntry(
        {
          present: true,
          write: p.write,
          user: p.user,
          accessed: p.accessed,
          dirty: p.dirty,
          extendedAccessed: p.extendedAccessed,
          xd: p.xd,
          pageSize: large,
          addr: target,
          extra: p.extra,
        },
        level,
      );
    }
    const p = perms as SecondStagePerms;
    return encodeSsEntry({
      read: p.read,
      write: p.write,
      snoop: p.snoop,
      accessed: p.accessed,
      dirty: p.dirty,
      pageSize: large,
      addr: target,
      extra: p.extra,
    });
  }

  /** The encoded non-leaf entry pointing at `table`. */
  nonLeafWord(table: number): bigint {
    if (this.stage === "first") {
      const p = this.nonLeaf as FirstStagePerms;
      return encodeFsEntry(
        { present: true, write: p.write, user: p.user, accessed: p.accessed, addr: table, extra: p.extra },
        2,
      );
    }
    const p = this.nonLeaf as SecondStagePerms;
    return encodeSsEntry({ read: p.read, write: p.write, accessed: p.accessed, addr: table, extra: p.extra });
  }

  /** [VTD-FS-2] [VTD-SS-2] Whether `word` at `level` points to a lower table (present, not a leaf). */
  isTablePointer(word: bigint, level: PagingLevel): boolean {
    if (level === 1) return false;
    const present = this.stage === "first" ? (word & (1n << BigInt(FS.P))) !== 0n : (word & 3n) !== 0n;
    const ps = (word >> BigInt(this.stage === "first" ? FS.PS : SS.PS)) & 1n;
    // PS is reserved at levels 4 and 5, so a walk never treats those as leaves.
    return present && (level >= 4 || ps === 0n);
  }

  private index(iova: bigint, level: number): number {
    return Number((iova >> BigInt(levelShift(level))) & 0x1ffn);
  }

  /** Second stage: below 2^width. First stage: canonical for the paging mode [VTD-FS-1]. */
  private checkInput(iova: bigint): void {
    const w = BigInt(this.width);
    if (iova < 0n || iova >= 1n << 64n)
      throw new DriverError("argument", `iova ${hex(iova)} is not a 64-bit value`);
    if (this.stage === "second") {
      if (iova >> w !== 0n)
        throw new DriverError("argument", `iova ${hex(iova)} is beyond ${this.width} bits`);
      return;
    }
    const top = iova >> (w - 1n);
    if (top !== 0n && top !== (1n << (65n - w)) - 1n)
      throw new DriverError("argument", `iova ${hex(iova)} is not canonical for ${this.levels}-level paging`);
  }

  /**
   * The address of the entry for iova at `level`. With `create`, missing tables are made (and,
   * with `replace`, leaves in the way become tables); without, undefined when the path stops.
   */
  private async slotFor(iova: bigint, level: PagingLevel, create: true, replace: boolean): Promise<number>;
  private async slotFor(
    iova: bigint,
    level: PagingLevel,
    create: boolean,
    replace: boolean,
  ): Promise<number | undefined>;
  private async slotFor(
    iova: bigint,
    level: PagingLevel,
    create: boolean,
    replace: boolean,
  ): Promise<number | undefined> {
    let table = this.root;
    for (let l = this.levels as PagingLevel; l > level; l = (l - 1) as PagingLevel) {
      const addr = table + this.index(iova, l) * 8;
      const word = await this.tm.read(addr);
      if (this.isTablePointer(word, l)) {
        table = Number(word & ADDR);
        continue;
      }
      if (!create) return undefined;
      const leafInWay = this.stage === "first" ? (word & 1n) !== 0n : (word & 3n) !== 0n;
      if (leafInWay && !replace)
        throw new DriverError(
          "table",
          `${this.stage}-stage entry at ${hex(addr)} (level ${l}) maps a large page over ${hex(iova)}`,
          { addr, level: l, word },
        );
      table = await this.tm.newPage();
      await this.tm.write(addr, [this.nonLeafWord(table)]);
    }
    return table + this.index(iova, level) * 8;
  }
}
