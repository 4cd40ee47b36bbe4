/**
 * [ORACLE-JUDGE-5] A fault recording register as the guest reads it, 64 or 32 bits at a time
 * (VT-d 5.10 §11.4.14: FRCD is 128 bits; software may read it in dwords). A record with F = 1 stays
 * as it is until software clears F (§7.2.1: hardware writes a record only where F is clear), so the
 * dwords read after a read showed F = 1 belong to one record; a dword read before that may predate
 * the record and is dropped. Each record is judged once, when its four dwords are known.
 */

interface Slot {
  /** Dwords 0..3 (bits 31:0 .. 127:96) read since F was seen set. */
  dwords: Array<bigint | undefined>;
  /** A read since the last clear showed F = 1. */
  fSeen: boolean;
  /** The record was judged (matched an aborted DMA or failed). */
  judged: boolean;
}

export class FaultRecordReads {
  private slots = new Map<number, Slot>();

  /**
   * A read of `width` bytes at byte `rel` (0, 4, 8 or 12) of record `index`: the whole record
   * (bits 63:0, 127:64) when it is now fully known with F = 1 and not yet judged.
   */
  read(index: number, rel: number, width: 4 | 8, value: bigint): { lo: bigint; hi: bigint } | undefined {
    if (rel % width !== 0) return undefined; // unaligned: not a register access the oracle reads
    const first = rel / 4;
    const parts = width === 8 ? [value & 0xffff_ffffn, value >> 32n] : [value & 0xffff_ffffn];
    const slot = this.slots.get(index) ?? { dwords: [], fSeen: false, judged: false };
    this.slots.set(index, slot);
    const top = parts.findIndex((_p, i) => first + i === 3);
    if (top >= 0) {
      const f = ((parts[top] as bigint) >> 31n) & 1n;
      if (f === 0n) {
        this.slots.delete(index); // no record: whatever was read before is not one
        return undefined;
      }
      if (!slot.fSeen) slot.dwords = [];
      slot.fSeen = true;
    }
    parts.forEach((p, i) => {
      slot.dwords[first + i] = p;
    });
    if (!slot.fSeen || slot.judged) return undefined;
    const [d0, d1, d2, d3] = slot.dwords;
    if (d0 === undefined || d1 === undefined || d2 === undefined || d3 === undefined) return undefined;
    slot.judged = true;
    return { lo: d0 | (d1 << 32n), hi: d2 | (d3 << 32n) };
  }

  /** Software wrote F = 1: the record is gone. */
  clear(index: number): void {
    this.slots.delete(index);
  }

  reset(): void {
    this.slots.clear();
  }
}
