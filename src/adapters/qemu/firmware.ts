/**
 * The firmware QEMU 7.2 boots under TCG [QEMU-START-2]: it halts the CPU at once, so that
 * with `-icount shift=0,sleep=off` virtual time jumps straight to the next timer (edu's
 * DMA timer) instead of being spent running guest code. Generated at run time; no binary
 * is committed.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const FIRMWARE_SIZE = 0x10000;
/** Offset of the reset vector in the image (it is mapped so that it ends at 4 GiB). */
export const RESET_VECTOR_OFFSET = 0xfff0;
/** cli; hlt; jmp -3 (back to hlt): the CPU stops and stays stopped even if woken. */
const RESET_CODE = [0xfa, 0xf4, 0xeb, 0xfd];
const HLT = 0xf4;

/** 64 KiB of hlt with cli; hlt; jmp back at the reset vector. */
export function haltingFirmware(): Uint8Array {
  const image = new Uint8Array(FIRMWARE_SIZE).fill(HLT);
  image.set(RESET_CODE, RESET_VECTOR_OFFSET);
  return image;
}

/**
 * Writes the firmware to a file (content-addressed, so concurrent writers agree) and returns
 * its path. An existing file with the right content is reused.
 */
export async function firmwareFile(dir = join(tmpdir(), "iommu-conformance")): Promise<string> {
  const image = haltingFirmware();
  const digest = createHash("sha256").update(image).digest("hex").slice(0, 16);
  const path = join(dir, `halt-firmware-${digest}.bin`);
  try {
    const existing = await readFile(path);
    if (Buffer.compare(existing, image) === 0) return path;
  } catch {
    // absent or unreadable: write it below
  }
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, image);
  await rename(tmp, path);
  return path;
}
