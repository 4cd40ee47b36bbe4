/**
 * How a request is translated now, read from guest memory the way the unit walks it (root,
 * context, PASID directory and table): for relaxations that hold for one translation type only.
 * Undefined when the walk does not get that far (a fault before it, or nothing latched).
 */
import type { DeviationContext } from "../../oracle/index.ts";

export type TranslationType = "legacy translate" | "legacy pass-through" | "pgtt" | "other";

function word(ctx: DeviationContext, gpa: number): bigint {
  const b = ctx.read(gpa, 8);
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number);
  return v;
}

const ADDR = 0x000f_ffff_ffff_f000n;

/**
 * The guest-physical address of the PASID entry a scalable-mode request with `pasid` (else the
 * context entry's RID_PASID) uses, when root, context and PASID-directory entries are present.
 */
export function pasidEntryAddress(ctx: DeviationContext, sid: number, pasid?: number): number | undefined {
  const root = ctx.root;
  if (root === undefined || root.ttm !== 1) return undefined;
  const bus = sid >> 8;
  const devfn = sid & 0xff;
  const r = word(ctx, root.address + bus * 16 + (devfn >= 128 ? 8 : 0));
  if ((r & 1n) === 0n) return undefined;
  const c0 = word(ctx, Number(r & ADDR) + (devfn % 128) * 32);
  if ((c0 & 1n) === 0n) return undefined;
  const p = pasid ?? Number(word(ctx, Number(r & ADDR) + (devfn % 128) * 32 + 8) & 0xfffffn);
  const dir = word(ctx, Number(c0 & ADDR) + (p >> 6) * 8);
  if ((dir & 1n) === 0n) return undefined;
  return Number(dir & ADDR) + (p % 64) * 64;
}

/** Word `i` (64 bits) of the PASID entry at `gpa`. */
export function pasidEntryWord(ctx: DeviationContext, gpa: number, i: number): bigint {
  return word(ctx, gpa + i * 8);
}

/** The legacy context entry's TT, or the scalable PASID entry's PGTT, for sid and pasid. */
export function translationType(
  ctx: DeviationContext,
  sid: number,
  pasid?: number,
): { tt?: number; pgtt?: number } {
  const root = ctx.root;
  if (root === undefined || root.ttm > 1) return {};
  if (root.ttm === 0) {
    const r = word(ctx, root.address + (sid >> 8) * 16);
    if ((r & 1n) === 0n) return {};
    const c = word(ctx, Number(r & ADDR) + (sid & 0xff) * 16);
    return (c & 1n) === 0n ? {} : { tt: Number((c >> 2n) & 3n) };
  }
  const at = pasidEntryAddress(ctx, sid, pasid);
  if (at === undefined) return {};
  const e = word(ctx, at);
  return (e & 1n) === 0n ? {} : { pgtt: Number((e >> 6n) & 7n) };
}
