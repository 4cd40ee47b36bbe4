import { describe, expect, it } from "vitest";
import { Errno } from "../../src/spec/iommufd/errno.ts";
import { IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP } from "../../src/spec/iommufd/ioctl-numbers.ts";
import {
  IoasMapFlags,
  ioasAllocCodec,
  ioasMapCodec,
  ioasUnmapCodec,
} from "../../src/spec/iommufd/structs.ts";
import { hwptAlloc, ioasAlloc, ioasMap, iommu, MiB, makeHost, vfioAttach } from "./helpers.ts";

const U64_MAX = (1n << 64n) - 1n;
const RW = IoasMapFlags.READABLE | IoasMapFlags.WRITEABLE;

function map(host: ReturnType<typeof makeHost>["host"], v: Parameters<typeof ioasMapCodec.encode>[0]) {
  const r = host.ioctl(IOMMU_IOAS_MAP, ioasMapCodec.encode(v));
  return { errno: r.errno, iova: ioasMapCodec.decode(r.bytes).iova };
}

function unmap(host: ReturnType<typeof makeHost>["host"], ioas: number, iova: bigint, length: bigint) {
  const r = host.ioctl(IOMMU_IOAS_UNMAP, ioasUnmapCodec.encode({ ioas_id: ioas, iova, length }));
  return { errno: r.errno, length: ioasUnmapCodec.decode(r.bytes).length };
}

describe("IOAS_ALLOC", () => {
  it("[HOST-UAPI-40] allocates ids from 1 up past the bound devices; flags must be 0", () => {
    const { host } = makeHost();
    expect(ioasAlloc(host)).toBe(2);
    expect(ioasAlloc(host)).toBe(3);
    expect(host.ioctl(IOMMU_IOAS_ALLOC, ioasAllocCodec.encode({ flags: 1 })).errno).toBe(Errno.EOPNOTSUPP);
  });
});

describe("IOAS_MAP", () => {
  it("[HOST-UAPI-41] unknown flags or a nonzero reserved field give EOPNOTSUPP", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    const base = { ioas_id: ioas, user_va: 0x100000n, length: 0x1000n, iova: 0x1000n };
    expect(map(host, { ...base, flags: RW | 8 }).errno).toBe(Errno.EOPNOTSUPP);
    expect(map(host, { ...base, flags: RW, __reserved: 1 }).errno).toBe(Errno.EOPNOTSUPP);
  });

  it("[HOST-UAPI-42] a mapping with neither READABLE nor WRITEABLE gives EINVAL", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0n, 0x100000n, 0x1000n, "rw")).toBe(0);
    const r = map(host, {
      flags: IoasMapFlags.FIXED_IOVA,
      ioas_id: ioas,
      user_va: 0x100000n,
      length: 0x1000n,
      iova: 0x8000n,
    });
    expect(r.errno).toBe(Errno.EINVAL);
  });

  it("[HOST-UAPI-43] zero length and unaligned addresses give EINVAL; huge values EOVERFLOW", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    const f = RW | IoasMapFlags.FIXED_IOVA;
    expect(map(host, { flags: f, ioas_id: ioas, user_va: 0x100000n, length: 0n }).errno).toBe(Errno.EINVAL);
    expect(map(host, { flags: f, ioas_id: ioas, user_va: 0x100800n, length: 0x1000n }).errno).toBe(
      Errno.EINVAL,
    );
    expect(
      map(host, { flags: f, ioas_id: ioas, user_va: 0x100000n, length: 0x1000n, iova: 0x10n }).errno,
    ).toBe(Errno.EINVAL);
    expect(map(host, { flags: f, ioas_id: ioas, user_va: 0x100000n, length: U64_MAX }).errno).toBe(
      Errno.EOVERFLOW,
    );
  });

  it("[HOST-UAPI-26] an unknown or wrong-kind ioas_id gives ENOENT", () => {
    const { host } = makeHost();
    expect(map(host, { flags: RW, ioas_id: 7, user_va: 0x100000n, length: 0x1000n }).errno).toBe(
      Errno.ENOENT,
    );
    expect(map(host, { flags: RW, ioas_id: 1, user_va: 0x100000n, length: 0x1000n }).errno).toBe(
      Errno.ENOENT,
    );
  });

  it("[HOST-UAPI-44] a fixed IOVA range that overlaps a mapping gives EEXIST", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x4000n)).toBe(0);
    expect(ioasMap(host, ioas, 0x13000n, 0x200000n, 0x2000n)).toBe(Errno.EEXIST);
    expect(ioasMap(host, ioas, 0xf000n, 0x200000n, 0x2000n)).toBe(Errno.EEXIST);
    expect(ioasMap(host, ioas, 0x14000n, 0x200000n, 0x2000n)).toBe(0);
  });

  it("[HOST-XLATE-1] user_va must be host memory outside the page-table pool, else EFAULT", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0n, BigInt(64 * MiB), 0x1000n)).toBe(Errno.EFAULT);
    expect(ioasMap(host, ioas, 0n, BigInt(60 * MiB), 0x1000n)).toBe(Errno.EFAULT); // top 16 MiB: page tables
    expect(ioasMap(host, ioas, 0n, BigInt(47 * MiB), 0x1000n)).toBe(0);
  });

  it("[HOST-UAPI-47] without FIXED_IOVA the lowest free, size-aligned IOVA is chosen and returned", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0n, 0x100000n, 0x1000n)).toBe(0);
    const a = map(host, { flags: RW, ioas_id: ioas, user_va: 0x200000n, length: 0x4000n });
    expect(a).toEqual({ errno: 0, iova: 0x4000n });
    const b = map(host, { flags: RW, ioas_id: ioas, user_va: 0x300000n, length: 0x1000n });
    expect(b).toEqual({ errno: 0, iova: 0x1000n });
  });

  it("[HOST-XLATE-5] an IOVA beyond an attached HWPT's address width gives EINVAL", () => {
    const { host } = makeHost([iommu({ awBits: 39 })]);
    const ioas = ioasAlloc(host);
    expect(hwptAlloc(host, 1, ioas).errno).toBe(0);
    expect(ioasMap(host, ioas, 1n << 39n, 0x100000n, 0x1000n)).toBe(Errno.EINVAL);
    expect(ioasMap(host, ioas, (1n << 39n) - 0x1000n, 0x100000n, 0x1000n)).toBe(0);
  });
});

describe("IOAS_UNMAP", () => {
  it("[HOST-UAPI-45] whole mappings only: a range splitting one gives ENOENT; the length is returned", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x4000n)).toBe(0);
    expect(ioasMap(host, ioas, 0x20000n, 0x200000n, 0x2000n)).toBe(0);
    expect(unmap(host, ioas, 0x10000n, 0x2000n).errno).toBe(Errno.ENOENT);
    expect(unmap(host, ioas, 0x11000n, 0x4000n).errno).toBe(Errno.ENOENT);
    expect(unmap(host, ioas, 0x0n, 0x30000n)).toEqual({ errno: 0, length: 0x6000n });
    expect(unmap(host, ioas, 0x10000n, 0x4000n).errno).toBe(Errno.ENOENT); // nothing there any more
  });

  it("[HOST-UAPI-45] areas before the first split one are unmapped; the call still fails", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n)).toBe(0);
    expect(ioasMap(host, ioas, 0x20000n, 0x200000n, 0x4000n)).toBe(0);
    expect(unmap(host, ioas, 0x10000n, 0x11000n).errno).toBe(Errno.ENOENT);
    expect(unmap(host, ioas, 0x10000n, 0x1000n).errno).toBe(Errno.ENOENT); // already gone
    expect(unmap(host, ioas, 0x20000n, 0x4000n)).toEqual({ errno: 0, length: 0x4000n });
  });

  it("[HOST-UAPI-46] iova 0 and length 2^64-1 unmap everything, also when nothing is mapped", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(unmap(host, ioas, 0n, U64_MAX)).toEqual({ errno: 0, length: 0n });
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n)).toBe(0);
    expect(ioasMap(host, ioas, 1n << 40n, 0x200000n, 0x2000n)).toBe(0);
    expect(unmap(host, ioas, 0n, U64_MAX)).toEqual({ errno: 0, length: 0x3000n });
  });

  it("[HOST-UAPI-45] length 0 gives EINVAL, an unknown IOAS ENOENT", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(unmap(host, ioas, 0x1000n, 0n).errno).toBe(Errno.EINVAL);
    expect(unmap(host, 9, 0x1000n, 0x1000n).errno).toBe(Errno.ENOENT);
  });

  it("[HOST-XLATE-11] after unmap a DMA to the range is blocked", () => {
    const { host, memory } = makeHost();
    const ioas = ioasAlloc(host);
    memory.write(0x100000, Uint8Array.of(0x5a));
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n)).toBe(0);
    expect(vfioAttach(host, 1, ioas).errno).toBe(0);
    expect(host.dma({ devId: 1, iova: 0x10000n, len: 1, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(0x5a),
    });
    expect(unmap(host, ioas, 0x10000n, 0x1000n).errno).toBe(0);
    expect(host.dma({ devId: 1, iova: 0x10000n, len: 1, write: false }).status).toBe("aborted");
  });
});
