/**
 * [HARNESS-DRV-9] Register-based invalidation (VT-d 5.10 §6.5.1, §11.4.6), for when queued invalidation is off:
 * the context command register (CCMD, ICC polled until clear) and the IOTLB registers at
 * ECAP.IRO × 16 (IVA for the page-selective address, then IOTLB_REG with IVT polled until clear).
 * Each returns the actual granularity the hardware reports (CAIG / IAIG; 0 means refused).
 */

import { Ccmd, Iotlb, Iva, Reg } from "../spec/register-offsets.ts";
import { bits } from "../spec/word.ts";
import { DriverError, hex } from "./errors.ts";
import type { PollOptions } from "./poll.ts";
import { pollUntil } from "./poll.ts";
import type { RegisterAccess } from "./registers.ts";

export type ContextRequest =
  | { granularity: "global" }
  | { granularity: "domain"; did: number }
  | { granularity: "device"; did: number; sid: number; fm?: number };

export type IotlbRequest = (
  | { granularity: "global" }
  | { granularity: "domain"; did: number }
  | { granularity: "page"; did: number; addr: bigint; am: number; ih?: boolean }
) & { dr?: boolean; dw?: boolean };

const GRANULARITY = { global: 1n, domain: 2n, device: 3n, page: 3n } as const;
const IVT = 1n << BigInt(Iotlb.IVT);
const ICC = 1n << BigInt(Ccmd.ICC);

/** The CCMD value for a request, ICC set. */
export function ccmdValue(r: ContextRequest): bigint {
  let v = ICC | (GRANULARITY[r.granularity] << BigInt(Ccmd.CIRG_LO));
  if (r.granularity !== "global") v |= BigInt(r.did & 0xffff) << BigInt(Ccmd.DID_LO);
  if (r.granularity === "device")
    v |= (BigInt(r.sid & 0xffff) << BigInt(Ccmd.SID_LO)) | (BigInt((r.fm ?? 0) & 3) << BigInt(Ccmd.FM_LO));
  return v;
}

/** [VTD-REG-13] Context-cache invalidation through CCMD; returns CAIG. */
export async function invalidateContextByRegister(
  regs: RegisterAccess,
  r: ContextRequest,
  poll: PollOptions = {},
): Promise<number> {
  const value = ccmdValue(r);
  await regs.writeReg(Reg.CCMD, value, 8);
  const done = await pollUntil(
    () => regs.readReg(Reg.CCMD, 8),
    (v) => (v & ICC) === 0n,
    `CCMD ${r.granularity} invalidation (wrote ${hex(value)}): ICC`,
    poll,
    hex,
  );
  return Number(bits(done, Ccmd.CAIG_HI, Ccmd.CAIG_LO));
}

/** The IVA and IOTLB_REG values for a request, IVT set. */
export function iotlbRegisterValues(r: IotlbRequest): { iva?: bigint; iotlb: bigint } {
  let iotlb = IVT | (GRANULARITY[r.granularity] << BigInt(Iotlb.IIRG_LO));
  if (r.dr) iotlb |= 1n << BigInt(Iotlb.DR);
  if (r.dw) iotlb |= 1n << BigInt(Iotlb.DW);
  if (r.granularity === "global") return { iotlb };
  iotlb |= BigInt(r.did & 0xffff) << BigInt(Iotlb.DID_LO);
  if (r.granularity === "domain") return { iotlb };
  if (!Number.isInteger(r.am) || r.am < 0 || r.am > 63)
    throw new DriverError("argument", `address mask ${r.am}`);
  const iva =
    (r.addr & ~((1n << 12n) - 1n) & ((1n << 64n) - 1n)) | (r.ih ? 1n << BigInt(Iva.IH) : 0n) | BigInt(r.am);
  return { iva, iotlb };
}

/**
 * [VTD-REG-14] IOTLB invalidation through the IOTLB registers at `iotlbRegOffset` (ECAP.IRO × 16):
 * IVA first for a page-selective request, then IOTLB_REG; returns IAIG.
 */
export async function invalidateIotlbByRegister(
  regs: RegisterAccess,
  iotlbRegOffset: number,
  r: IotlbRequest,
  poll: PollOptions = {},
): Promise<number> {
  const { iva, iotlb } = iotlbRegisterValues(r);
  if (iva !== undefined) await regs.writeReg(iotlbRegOffset, iva, 8);
  await regs.writeReg(iotlbRegOffset + 8, iotlb, 8);
  const done = await pollUntil(
    () => regs.readReg(iotlbRegOffset + 8, 8),
    (v) => (v & IVT) === 0n,
    `IOTLB_REG ${r.granularity} invalidation (wrote ${hex(iotlb)}): IVT`,
    poll,
    hex,
  );
  return Number(bits(done, Iotlb.IAIG_HI, Iotlb.IAIG_LO));
}
