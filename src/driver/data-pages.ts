/**
 * [HARNESS-DRV-12] DMA target pages filled with fingerprints (src/oracle/fingerprint.ts, [ORACLE-FP-1]): every
 * 8-byte word names its own guest-physical address and a tag, so the bytes a DMA read returns tell
 * which page, and where in it, the IOMMU sent the request.
 */

import { decodeFingerprint, type FingerprintHit, fingerprintPage } from "../contract/fingerprint.ts";
import type { DmaRequest, DmaResult, PlatformSurface } from "../contract/types.ts";
import { DriverError, hex } from "./errors.ts";
import type { GuestMemory } from "./guest-io.ts";
import { PAGE } from "./layout.ts";

/** Fill the 4 KiB page at `page` with its fingerprint. */
export async function fillFingerprint(mem: GuestMemory, page: number, tag = 0): Promise<void> {
  if (page % PAGE !== 0)
    throw new DriverError("argument", `fingerprint page ${hex(page)} is not page aligned`);
  await mem.writeGuest(BigInt(page), fingerprintPage(page, tag));
}

/**
 * Fill `bytes` from `base` page by page. For a 2 MiB or 1 GiB target, `stride` (a multiple of
 * 4 KiB) fills only every stride-th page, so a large page can be sampled without writing all of it.
 */
export async function fillFingerprintRange(
  mem: GuestMemory,
  base: number,
  bytes: number,
  tag = 0,
  stride = PAGE,
): Promise<number[]> {
  if (stride % PAGE !== 0 || stride <= 0) throw new DriverError("argument", `stride ${stride}`);
  const filled: number[] = [];
  for (let p = base; p < base + bytes; p += stride) {
    await fillFingerprint(mem, p, tag);
    filled.push(p);
  }
  return filled;
}

/** Which page a DMA read at iova reached, from the bytes it returned (null: not fingerprint data). */
export function identifyRead(data: Uint8Array, iova: bigint): FingerprintHit | null {
  return decodeFingerprint(data, Number(iova & 0xfffn));
}

export type DmaReadOutcome =
  | { status: "aborted" }
  | { status: "ok"; data: Uint8Array; hit: FingerprintHit | null };

/** A DMA read (at least 8 bytes, inside one page) and where it landed. */
export async function dmaReadIdentify(
  dma: PlatformSurface["dma"],
  req: Omit<DmaRequest, "write" | "data">,
): Promise<DmaReadOutcome> {
  const r: DmaResult = await dma({ ...req, write: false });
  if (r.status === "aborted") return { status: "aborted" };
  const data = r.data ?? new Uint8Array(0);
  return { status: "ok", data, hit: identifyRead(data, req.iova) };
}
