/**
 * [ORACLE-JUDGE-9] Where a model's walks may set accessed, extended-accessed and dirty flags: in
 * the words the oracle's own walks used as paging entries, and only the flags of their stage and
 * place — first stage A (bit 5), EA (bit 10) with EAFE, D (bit 6) in a leaf once a write reached
 * it; second stage with SSADE, A (bit 8) and D (bit 9) in a leaf once a write reached it (VT-d 5.10
 * §3.6.2, §3.7.2, §3.8.1). Any other change a guest read finds needs another cause.
 */
import type { Setup } from "./paging.ts";

const FS_A = 1n << 5n;
const FS_D = 1n << 6n;
const FS_EA = 1n << 10n;
const SS_A = 1n << 8n;
const SS_D = 1n << 9n;

export class FlagMarks {
  private readonly may = new Map<number, bigint>();

  /** Bits a walk may set in the word at `addr` (8-byte aligned). */
  mark(addr: number, bits: bigint): void {
    if (bits === 0n) return;
    const had = this.may.get(addr) ?? 0n;
    if ((had | bits) !== had) this.may.set(addr, had | bits);
  }

  /** The flag bits a model may have set in the word at `addr` (8-byte aligned). */
  allowed(addr: number): bigint {
    return this.may.get(addr) ?? 0n;
  }
}

/** The stage of an entry, for its flags: first-stage, or second-stage (flags only with SSADE). */
export type FlagStage = "first" | "second";

/** [ORACLE-JUDGE-9] A and EA an entry used by a walk of `s` may get (none for a second stage without SSADE). */
export function accessedBits(s: Pick<Setup, "eafe" | "ssade">, stage: FlagStage): bigint {
  if (stage === "first") return s.eafe ? FS_A | FS_EA : FS_A;
  return s.ssade ? SS_A : 0n;
}

/** [ORACLE-JUDGE-9] The D flag a leaf entry gets when a write is translated through it. */
export function dirtyBit(s: Pick<Setup, "ssade">, stage: FlagStage): bigint {
  if (stage === "first") return FS_D;
  return s.ssade ? SS_D : 0n;
}
