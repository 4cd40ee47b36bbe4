/**
 * DMAR register access the way a guest driver does it: capability discovery, and the global
 * command register one command at a time, each confirmed by polling GSTS.
 */
import type { PlatformSurface } from "../contract/types.ts";
import { type Capabilities, decodeCapabilities } from "../spec/capabilities.ts";
import { Gcmd, Gsts, Reg } from "../spec/register-offsets.ts";
import { DriverError, hex } from "./errors.ts";
import { type PollOptions, pollUntil } from "./poll.ts";

export type RegisterAccess = Pick<PlatformSurface, "readReg" | "writeReg">;

/**
 * GSTS bits that persist (TES, QIES, IRES, CFIS and the reserved bits): a GCMD write carries them
 * over; the one-shot status bits (RTPS, WBFS, IRTPS) are dropped [VTD-REG-8].
 */
export const GSTS_PERSISTENT = 0x96ff_ffff;

/** [VTD-REG-3] [VTD-REG-7] VER, CAP and ECAP, decoded. */
export async function readCapabilities(regs: RegisterAccess): Promise<Capabilities> {
  const ver = Number(await regs.readReg(Reg.VER, 4));
  const cap = await regs.readReg(Reg.CAP, 8);
  const ecap = await regs.readReg(Reg.ECAP, 8);
  return decodeCapabilities({ ver, cap, ecap });
}

export async function readGsts(regs: RegisterAccess): Promise<number> {
  return Number((await regs.readReg(Reg.GSTS, 4)) & 0xffff_ffffn);
}

/** Names of GCMD bits, for messages. */
const COMMAND_NAMES: Record<number, string> = {
  [Gcmd.TE]: "TE",
  [Gcmd.SRTP]: "SRTP",
  [Gcmd.WBF]: "WBF",
  [Gcmd.QIE]: "QIE",
  [Gcmd.IRE]: "IRE",
  [Gcmd.SIRTP]: "SIRTP",
  [Gcmd.CFI]: "CFI",
};

/** When a command is done, as GSTS shows it: one-shot commands by their status bit. */
function completed(bitNo: number, on: boolean, gsts: number): boolean {
  const set = ((gsts >>> bitNo) & 1) === 1;
  switch (bitNo) {
    case Gcmd.SRTP:
      return ((gsts >>> Gsts.RTPS) & 1) === 1;
    case Gcmd.SIRTP:
      return ((gsts >>> Gsts.IRTPS) & 1) === 1;
    case Gcmd.WBF:
      return ((gsts >>> Gsts.WBFS) & 1) === 0;
    default:
      return set === on;
  }
}

/**
 * [HARNESS-DRV-3] [VTD-REG-8] Issue one global command: read GSTS, keep its persistent bits, set (or clear) the
 * one command bit, write GCMD, then poll GSTS until the command shows as serviced (VT-d 5.10
 * §11.4.4.1: "if multiple control fields need to be modified, software must serialize them").
 * Returns the GSTS value that confirmed it.
 */
export async function globalCommand(
  regs: RegisterAccess,
  bitNo: number,
  on: boolean,
  poll: PollOptions = {},
): Promise<number> {
  const status = (await readGsts(regs)) & GSTS_PERSISTENT;
  const command = (on ? status | (1 << bitNo) : status & ~(1 << bitNo)) >>> 0;
  await regs.writeReg(Reg.GCMD, BigInt(command), 4);
  const name = COMMAND_NAMES[bitNo] ?? `bit ${bitNo}`;
  return pollUntil(
    () => readGsts(regs),
    (g) => completed(bitNo, on, g),
    `GCMD.${name}=${on ? 1 : 0} (wrote ${hex(command)}): GSTS`,
    poll,
    (g) => hex(g),
  );
}

/** Fail early with a precise error when the model lacks a capability the caller needs. */
export function requireCapability(ok: boolean, what: string): void {
  if (!ok) throw new DriverError("unsupported", `the model does not offer ${what}`);
}
