/**
 * [HARNESS-DRV-2] Root and context tables in guest memory (VT-d 5.10 §9.1-§9.4), as a guest driver lays them out.
 * Legacy mode: one root entry per bus pointing to a 256-entry context table of 16-byte entries.
 * Scalable mode: each root entry points to a lower (devfn 0-127) and an upper (devfn 128-255)
 * context table of 32-byte entries. Entries are encoded by src/spec/root-entry.ts and
 * context-entry.ts; `setRootRaw` / `setContextRaw` write any bytes for generators.
 */

import type { TranslationMode } from "../contract/types.ts";
import {
  encodeLegacyContext,
  encodeScalableContext,
  type LegacyContextEntry,
  type ScalableContextEntry,
} from "../spec/context-entry.ts";
import { mask } from "../spec/word.ts";
import { DriverError, hex } from "./errors.ts";
import type { TableMemory } from "./table-memory.ts";

const PTR = mask(51, 12);

/** Bus, devfn and the index inside the context table for a source id. */
export function splitSid(sid: number): { bus: number; devfn: number } {
  if (!Number.isInteger(sid) || sid < 0 || sid > 0xffff) throw new DriverError("argument", `sid ${sid}`);
  return { bus: sid >> 8, devfn: sid & 0xff };
}

export class ContextTables {
  private constructor(
    private readonly tm: TableMemory,
    /** Root table address (RTADDR.RTA). */
    readonly root: number,
    readonly mode: TranslationMode,
  ) {}

  /** A zeroed root table: no bus present. */
  static async create(tm: TableMemory, mode: TranslationMode): Promise<ContextTables> {
    return new ContextTables(tm, await tm.newPage(), mode);
  }

  /** Bytes per context entry: 16 legacy [VTD-CTX-1], 32 scalable [VTD-CTX-3]. */
  get entryBytes(): 16 | 32 {
    return this.mode === "legacy" ? 16 : 32;
  }

  /** Address of the root entry for a bus (word 0; scalable word 1 is the upper half). */
  rootEntryAddress(bus: number): number {
    if (!Number.isInteger(bus) || bus < 0 || bus > 255) throw new DriverError("argument", `bus ${bus}`);
    return this.root + bus * 16;
  }

  /**
   * Address of the context entry of `sid`, creating its context table (and setting the root
   * entry's present bit and pointer) when `create` and the root entry does not point to one yet.
   */
  async contextAddress(sid: number, create = true): Promise<number | undefined> {
    const { bus, devfn } = splitSid(sid);
    // [VTD-ROOT-1] legacy: w0 = P | CTP. [VTD-ROOT-3] scalable: w0 lower half, w1 upper half.
    const word = this.mode === "legacy" || devfn < 128 ? 0 : 1;
    const rootAddr = this.rootEntryAddress(bus) + word * 8;
    let entry = await this.tm.read(rootAddr);
    if ((entry & 1n) === 0n) {
      if (!create) return undefined;
      const table = await this.tm.newPage();
      entry = BigInt(table) | 1n;
      await this.tm.write(rootAddr, [entry]);
    }
    const index = this.mode === "legacy" ? devfn : devfn & 0x7f;
    return Number(entry & PTR) + index * this.entryBytes;
  }

  /** [VTD-CTX-1] Write a legacy context entry for sid; `extra` bits are OR-ed in per word. */
  async setLegacyContext(sid: number, e: LegacyContextEntry, extra: readonly bigint[] = []): Promise<number> {
    this.expect("legacy");
    const addr = (await this.contextAddress(sid)) as number;
    await this.tm.write(addr, encodeLegacyContext(e, extra));
    return addr;
  }

  /** [VTD-CTX-3] Write a scalable-mode context entry for sid. */
  async setScalableContext(
    sid: number,
    e: ScalableContextEntry,
    extra: readonly bigint[] = [],
  ): Promise<number> {
    this.expect("scalable");
    const addr = (await this.contextAddress(sid)) as number;
    await this.tm.write(addr, encodeScalableContext(e, extra));
    return addr;
  }

  /** Clear sid's context entry (not present); false when its context table does not exist. */
  async clearContext(sid: number): Promise<boolean> {
    const addr = await this.contextAddress(sid, false);
    if (addr === undefined) return false;
    await this.tm.write(addr, new Array<bigint>(this.entryBytes / 8).fill(0n));
    return true;
  }

  /** Write sid's context entry verbatim (2 words legacy, 4 scalable). */
  async setContextRaw(sid: number, words: readonly bigint[]): Promise<number> {
    if (words.length !== this.entryBytes / 8)
      throw new DriverError("argument", `a ${this.mode} context entry has ${this.entryBytes / 8} words`);
    const addr = (await this.contextAddress(sid)) as number;
    await this.tm.write(addr, words);
    return addr;
  }

  /** Write a root entry verbatim (two words). */
  async setRootRaw(bus: number, words: readonly [bigint, bigint]): Promise<number> {
    const addr = this.rootEntryAddress(bus);
    await this.tm.write(addr, words);
    return addr;
  }

  /** The words of sid's context entry as last written, or undefined when there is no table. */
  async readContext(sid: number): Promise<bigint[] | undefined> {
    const addr = await this.contextAddress(sid, false);
    return addr === undefined ? undefined : this.tm.readWords(addr, this.entryBytes / 8);
  }

  private expect(mode: TranslationMode): void {
    if (this.mode !== mode)
      throw new DriverError(
        "argument",
        `a ${mode} context entry in a ${this.mode} root table at ${hex(this.root)}`,
      );
  }
}
