/** The host kernel's IOMMU page-table pool, directly and through the ioctls. [HOST-XLATE-2] */
import { describe, expect, it } from "vitest";
import { HostIommufd } from "../../src/host/host-iommufd.ts";
import { defaultPoolWindow, PagePool } from "../../src/host/page-pool.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import { Errno, IoctlError } from "../../src/spec/iommufd/errno.ts";
import { IOMMU_IOAS_UNMAP } from "../../src/spec/iommufd/ioctl-numbers.ts";
import { ioasUnmapCodec } from "../../src/spec/iommufd/structs.ts";
import { device, hwptAlloc, ioasAlloc, ioasMap, iommu, MiB } from "./helpers.ts";

const PAGE = 4096;

describe("IOMMU page-table pool", () => {
  it("[HOST-XLATE-2] the default window is the top quarter of host memory, at most 16 MiB", () => {
    expect(defaultPoolWindow(64 * MiB)).toEqual({ base: 48 * MiB, size: 16 * MiB });
    expect(defaultPoolWindow(16 * MiB)).toEqual({ base: 12 * MiB, size: 4 * MiB });
    expect(defaultPoolWindow(256 * MiB)).toEqual({ base: 240 * MiB, size: 16 * MiB });
  });

  it("[HOST-XLATE-2] pages come zeroed, lowest address first, and freed pages are reused lowest first", () => {
    const memory = new SparseMemory(1 * MiB);
    const pool = new PagePool(memory, 0x8_0000, 4 * PAGE);
    const a = pool.alloc();
    const b = pool.alloc();
    const c = pool.alloc();
    expect([a, b, c]).toEqual([0x8_0000, 0x8_1000, 0x8_2000]);
    memory.write(c, new Uint8Array(PAGE).fill(0xee));
    memory.write(a, new Uint8Array(PAGE).fill(0xaa));
    pool.release(c);
    pool.release(a);
    expect(pool.alloc()).toBe(a);
    expect(memory.read(a, PAGE).every((x) => x === 0)).toBe(true);
    expect(pool.alloc()).toBe(c);
    expect(memory.read(c, PAGE).every((x) => x === 0)).toBe(true);
  });

  it("[HOST-XLATE-2] an exhausted pool is ENOMEM", () => {
    const pool = new PagePool(new SparseMemory(1 * MiB), 0x8_0000, 2 * PAGE);
    pool.alloc();
    pool.alloc();
    let err: unknown;
    try {
      pool.alloc();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IoctlError);
    expect((err as IoctlError).errno).toBe(Errno.ENOMEM);
  });

  it("[HOST-XLATE-2] [HOST-XLATE-1] through the ioctls: tables come from the window, exhaustion is ENOMEM, the window is not user memory", () => {
    const memory = new SparseMemory(64 * MiB);
    // Room for a 4-level HWPT's root and two more tables: a first map needs three below the root.
    const host = new HostIommufd({
      iommus: [iommu()],
      devices: [device(1)],
      memory,
      tablePool: { base: 32 * MiB, size: 3 * PAGE },
    });
    const ioas = ioasAlloc(host);
    const h = hwptAlloc(host, 1, ioas);
    expect(h.errno).toBe(0);
    expect(host.stage2Root(h.id)).toBe(32 * MiB);
    expect(ioasMap(host, ioas, 0x10_0000n, 0x10_0000n, 0x1000n)).toBe(Errno.ENOMEM);
    // The failed map left nothing behind in the IOAS.
    const unmap = host.ioctl(
      IOMMU_IOAS_UNMAP,
      ioasUnmapCodec.encode({ ioas_id: ioas, iova: 0x10_0000n, length: 0x1000n }),
    );
    expect(unmap.errno).toBe(Errno.ENOENT);
    // The window is kernel memory: user space cannot map it.
    expect(ioasMap(host, ioas, 0x20_0000n, BigInt(32 * MiB), 0x1000n)).toBe(Errno.EFAULT);
  });
});
