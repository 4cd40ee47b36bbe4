/**
 * [HARNESS-DRV-2] A device's PASID directory and PASID tables in guest memory (VT-d 5.10 §9.5, §9.6): the
 * directory holds 2^(PDTS+7) 8-byte entries indexed by PASID[19:6], each pointing to a 4 KiB table
 * of 64 64-byte PASID entries indexed by PASID[5:0]. Entries are encoded by
 * src/spec/pasid-entry.ts; raw setters write any bytes for generators.
 */
import { encodePasidEntry, type PasidEntry } from "../spec/pasid-entry.ts";
import { mask } from "../spec/word.ts";
import { DriverError } from "./errors.ts";
import type { TableMemory } from "./table-memory.ts";

const PTR = mask(51, 12);
const PASID_LIMIT = 1 << 20;

export class PasidTables {
  private constructor(
    private readonly tm: TableMemory,
    /** PASID directory address (the context entry's PASIDDIRPTR). */
    readonly dir: number,
    /** PDTS: the directory holds 2^(pdts+7) entries. */
    readonly pdts: number,
  ) {}

  /**
   * A zeroed directory with 2^(pdts+7) entries (default 0: 128 entries, PASIDs below 8192).
   * Larger directories are contiguous and aligned to their size.
   */
  static async create(tm: TableMemory, pdts = 0): Promise<PasidTables> {
    if (!Number.isInteger(pdts) || pdts < 0 || pdts > 7) throw new DriverError("argument", `pdts ${pdts}`);
    const bytes = 2 ** (pdts + 7) * 8;
    return new PasidTables(tm, await tm.newBlock(Math.max(bytes, 4096)), pdts);
  }

  /** Entries the directory holds (the context entry's PDTS limit). */
  get dirEntries(): number {
    return 2 ** (this.pdts + 7);
  }

  /** [VTD-PASID-1] Address of the directory entry for pasid. */
  dirEntryAddress(pasid: number): number {
    this.check(pasid);
    const i = pasid >> 6;
    if (i >= this.dirEntries)
      throw new DriverError("argument", `pasid ${pasid} is beyond the directory (PDTS ${this.pdts})`);
    return this.dir + i * 8;
  }

  /**
   * Address of pasid's PASID-table entry; with `create`, a missing PASID table is made and the
   * directory entry set present.
   */
  async entryAddress(pasid: number, create = true): Promise<number | undefined> {
    const dirAddr = this.dirEntryAddress(pasid);
    let de = await this.tm.read(dirAddr);
    if ((de & 1n) === 0n) {
      if (!create) return undefined;
      const table = await this.tm.newPage();
      de = BigInt(table) | 1n;
      await this.tm.write(dirAddr, [de]);
    }
    return Number(de & PTR) + (pasid & 0x3f) * 64;
  }

  /** [VTD-PASID-3] Write pasid's entry; `extra` bits are OR-ed in per word. */
  async setEntry(pasid: number, e: PasidEntry, extra: readonly bigint[] = []): Promise<number> {
    const addr = (await this.entryAddress(pasid)) as number;
    await this.tm.write(addr, encodePasidEntry(e, extra));
    return addr;
  }

  /** Clear pasid's entry (not present); false when its PASID table does not exist. */
  async clearEntry(pasid: number): Promise<boolean> {
    const addr = await this.entryAddress(pasid, false);
    if (addr === undefined) return false;
    await this.tm.write(addr, new Array<bigint>(8).fill(0n));
    return true;
  }

  /** Write pasid's entry verbatim (8 words). */
  async setEntryRaw(pasid: number, words: readonly bigint[]): Promise<number> {
    if (words.length !== 8) throw new DriverError("argument", "a PASID entry has 8 words");
    const addr = (await this.entryAddress(pasid)) as number;
    await this.tm.write(addr, words);
    return addr;
  }

  /** Write the directory entry covering pasid verbatim. */
  async setDirEntryRaw(pasid: number, word: bigint): Promise<number> {
    const addr = this.dirEntryAddress(pasid);
    await this.tm.write(addr, [word]);
    return addr;
  }

  /** The 8 words of pasid's entry as last written, or undefined when there is no PASID table. */
  async readEntry(pasid: number): Promise<bigint[] | undefined> {
    const addr = await this.entryAddress(pasid, false);
    return addr === undefined ? undefined : this.tm.readWords(addr, 8);
  }

  private check(pasid: number): void {
    if (!Number.isInteger(pasid) || pasid < 0 || pasid >= PASID_LIMIT)
      throw new DriverError("argument", `pasid ${pasid} is not a 20-bit value`);
  }
}
