/**
 * [HARNESS-DRV-5] Root-table pointer and translation enable (VT-d 5.10 §11.4.4, §11.4.5): RTADDR with the
 * translation table mode, GCMD.SRTP confirmed by GSTS.RTPS, GCMD.TE confirmed by GSTS.TES.
 */
import type { TranslationMode } from "../contract/types.ts";
import { Gcmd, Reg } from "../spec/register-offsets.ts";
import { DriverError, hex } from "./errors.ts";
import type { PollOptions } from "./poll.ts";
import { globalCommand, type RegisterAccess } from "./registers.ts";

/** Root-table modes: the TTM encodings 00b legacy, 01b scalable, 11b abort-DMA. */
export type RootMode = TranslationMode | "abort-dma";

export const TTM: Record<RootMode, number> = { legacy: 0, scalable: 1, "abort-dma": 3 };

/** The RTADDR value for a root table at `root` in `mode` (RTA 63:12, TTM 11:10). */
export function rtaddrValue(root: number | bigint, mode: RootMode): bigint {
  const r = BigInt(root);
  if (r % 4096n !== 0n || r < 0n)
    throw new DriverError("argument", `root table ${hex(r)} is not page aligned`);
  return r | (BigInt(TTM[mode]) << 10n);
}

/** [VTD-REG-9] [VTD-REG-10] Program RTADDR, then SRTP and wait for RTPS. */
export async function setRootTable(
  regs: RegisterAccess,
  root: number | bigint,
  mode: RootMode,
  poll: PollOptions = {},
): Promise<void> {
  await regs.writeReg(Reg.RTADDR, rtaddrValue(root, mode), 8);
  await globalCommand(regs, Gcmd.SRTP, true, poll);
}

/** [VTD-REG-11] GCMD.TE = 1 (or 0), confirmed by GSTS.TES. */
export async function setTranslation(
  regs: RegisterAccess,
  on: boolean,
  poll: PollOptions = {},
): Promise<void> {
  await globalCommand(regs, Gcmd.TE, on, poll);
}
