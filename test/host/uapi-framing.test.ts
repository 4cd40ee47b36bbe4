import { describe, expect, it } from "vitest";
import { Errno } from "../../src/spec/iommufd/errno.ts";
import {
  IOMMU_DESTROY,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_HWPT_INVALIDATE,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP,
  ioctlIO,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from "../../src/spec/iommufd/ioctl-numbers.ts";
import type { StructLayout } from "../../src/spec/iommufd/layout.ts";
import { encodeLayout } from "../../src/spec/iommufd/layout.ts";
import {
  IOMMU_DESTROY_LAYOUT,
  IOMMU_HW_INFO_LAYOUT,
  IOMMU_HWPT_ALLOC_LAYOUT,
  IOMMU_HWPT_INVALIDATE_LAYOUT,
  IOMMU_IOAS_ALLOC_LAYOUT,
  IOMMU_IOAS_MAP_LAYOUT,
  IOMMU_IOAS_UNMAP_LAYOUT,
  ioasAllocCodec,
} from "../../src/spec/iommufd/structs.ts";
import { ioasAlloc, ioasMap, makeHost, u32At } from "./helpers.ts";

describe("ioctl numbers", () => {
  it("[HOST-UAPI-1] iommufd and VFIO numbers are _IO(';', nr)", () => {
    expect(IOMMU_DESTROY).toBe(0x3b80);
    expect(IOMMU_IOAS_ALLOC).toBe(0x3b81);
    expect(IOMMU_IOAS_MAP).toBe(0x3b85);
    expect(IOMMU_IOAS_UNMAP).toBe(0x3b86);
    expect(IOMMU_HWPT_ALLOC).toBe(0x3b89);
    expect(IOMMU_GET_HW_INFO).toBe(0x3b8a);
    expect(IOMMU_HWPT_INVALIDATE).toBe(0x3b8d);
    expect(VFIO_DEVICE_ATTACH_IOMMUFD_PT).toBe(0x3b77);
    expect(VFIO_DEVICE_DETACH_IOMMUFD_PT).toBe(0x3b78);
  });

  it("[HOST-UAPI-1] unknown numbers, other types and size bits give ENOTTY", () => {
    const { host } = makeHost();
    const body = ioasAllocCodec.encode({});
    expect(host.ioctl(ioctlIO(0x3b, 0x7f), body).errno).toBe(Errno.ENOTTY);
    expect(host.ioctl(ioctlIO(0x3c, 0x81), body).errno).toBe(Errno.ENOTTY);
    expect(host.ioctl(IOMMU_IOAS_ALLOC | (12 << 16), body).errno).toBe(Errno.ENOTTY);
    expect(host.ioctl(ioctlIO(0x3b, 0x83), body).errno).toBe(Errno.ENOTTY); // IOAS_COPY: not modelled
    // VFIO device commands belong to the device fd, not the iommufd.
    expect(host.ioctl(VFIO_DEVICE_ATTACH_IOMMUFD_PT, new Uint8Array(16)).errno).toBe(Errno.ENOTTY);
  });
});

describe("struct layouts", () => {
  it("[HOST-UAPI-2] sizes and minimum sizes follow the kernel", () => {
    const sizes = (l: StructLayout) => [l.minSize, l.size];
    expect(sizes(IOMMU_DESTROY_LAYOUT)).toEqual([8, 8]);
    expect(sizes(IOMMU_IOAS_ALLOC_LAYOUT)).toEqual([12, 12]);
    expect(sizes(IOMMU_IOAS_MAP_LAYOUT)).toEqual([40, 40]);
    expect(sizes(IOMMU_IOAS_UNMAP_LAYOUT)).toEqual([24, 24]);
    expect(sizes(IOMMU_HWPT_ALLOC_LAYOUT)).toEqual([24, 48]);
    expect(sizes(IOMMU_HW_INFO_LAYOUT)).toEqual([32, 40]);
    expect(sizes(IOMMU_HWPT_INVALIDATE_LAYOUT)).toEqual([32, 32]);
  });
});

/**
 * One representative valid call per command, so that the framing can be varied around it.
 * Each returns the bytes of a struct of the kernel's size that succeeds on a fresh host.
 */
const commands: Array<{ name: string; cmd: number; layout: StructLayout; body: () => Uint8Array }> = [
  {
    name: "IOAS_ALLOC",
    cmd: IOMMU_IOAS_ALLOC,
    layout: IOMMU_IOAS_ALLOC_LAYOUT,
    body: () => encodeLayout(IOMMU_IOAS_ALLOC_LAYOUT, {}),
  },
  {
    name: "IOAS_MAP",
    cmd: IOMMU_IOAS_MAP,
    layout: IOMMU_IOAS_MAP_LAYOUT,
    body: () =>
      encodeLayout(IOMMU_IOAS_MAP_LAYOUT, {
        flags: 7,
        ioas_id: 2,
        user_va: 0x100000n,
        length: 0x1000n,
        iova: 0x1000n,
      }),
  },
  {
    name: "IOAS_UNMAP",
    cmd: IOMMU_IOAS_UNMAP,
    layout: IOMMU_IOAS_UNMAP_LAYOUT,
    body: () => encodeLayout(IOMMU_IOAS_UNMAP_LAYOUT, { ioas_id: 2, iova: 0n, length: (1n << 64n) - 1n }),
  },
  {
    name: "HWPT_ALLOC",
    cmd: IOMMU_HWPT_ALLOC,
    layout: IOMMU_HWPT_ALLOC_LAYOUT,
    body: () => encodeLayout(IOMMU_HWPT_ALLOC_LAYOUT, { dev_id: 1, pt_id: 2 }),
  },
  {
    name: "GET_HW_INFO",
    cmd: IOMMU_GET_HW_INFO,
    layout: IOMMU_HW_INFO_LAYOUT,
    body: () => encodeLayout(IOMMU_HW_INFO_LAYOUT, { dev_id: 1 }),
  },
  {
    name: "HWPT_INVALIDATE",
    cmd: IOMMU_HWPT_INVALIDATE,
    layout: IOMMU_HWPT_INVALIDATE_LAYOUT,
    body: () => encodeLayout(IOMMU_HWPT_INVALIDATE_LAYOUT, { hwpt_id: 2 }), // IOAS 2: EINVAL after framing
  },
  {
    name: "DESTROY",
    cmd: IOMMU_DESTROY,
    layout: IOMMU_DESTROY_LAYOUT,
    body: () => encodeLayout(IOMMU_DESTROY_LAYOUT, { id: 2 }),
  },
];

/** A host with device 1 and IOAS 2 holding nothing. */
function freshHost() {
  const { host } = makeHost();
  expect(ioasAlloc(host)).toBe(2);
  return host;
}

function withSize(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(Math.max(size, 4));
  out.set(bytes.subarray(0, Math.min(bytes.length, out.length)));
  new DataView(out.buffer).setUint32(0, size, true);
  return out;
}

describe("copy_struct_from_user framing, per struct", () => {
  for (const c of commands) {
    const expected = c.name === "HWPT_INVALIDATE" ? Errno.EINVAL : 0;

    it(`[HOST-UAPI-3] ${c.name}: size equal to the kernel's is accepted`, () => {
      expect(freshHost().ioctl(c.cmd, c.body()).errno).toBe(expected);
    });

    it(`[HOST-UAPI-3] ${c.name}: size below the minimum gives EINVAL`, () => {
      expect(freshHost().ioctl(c.cmd, withSize(c.body(), c.layout.minSize - 1)).errno).toBe(Errno.EINVAL);
    });

    it(`[HOST-UAPI-3] ${c.name}: a larger struct with a zero tail is accepted`, () => {
      expect(freshHost().ioctl(c.cmd, withSize(c.body(), c.layout.size + 16)).errno).toBe(expected);
    });

    it(`[HOST-UAPI-3] ${c.name}: a larger struct with a nonzero tail gives E2BIG`, () => {
      const b = withSize(c.body(), c.layout.size + 16);
      b[c.layout.size + 9] = 1;
      expect(freshHost().ioctl(c.cmd, b).errno).toBe(Errno.E2BIG);
    });

    it(`[HOST-UAPI-3] ${c.name}: a size beyond the bytes supplied gives EFAULT`, () => {
      const b = c.body();
      new DataView(b.buffer).setUint32(0, b.length + 8, true);
      expect(freshHost().ioctl(c.cmd, b).errno).toBe(Errno.EFAULT);
    });
  }

  it("[HOST-UAPI-3] fewer than four bytes give EFAULT", () => {
    expect(freshHost().ioctl(IOMMU_IOAS_ALLOC, new Uint8Array(3)).errno).toBe(Errno.EFAULT);
  });

  it("[HOST-UAPI-3] HWPT_ALLOC of the first version (24 bytes) is zero-extended", () => {
    const host = freshHost();
    const b = withSize(encodeLayout(IOMMU_HWPT_ALLOC_LAYOUT, { dev_id: 1, pt_id: 2 }), 24);
    const r = host.ioctl(IOMMU_HWPT_ALLOC, b);
    expect(r.errno).toBe(0);
    expect(r.bytes.length).toBe(24);
    expect(u32At(r.bytes, 16)).toBe(3); // out_hwpt_id written within the caller's 24 bytes
  });

  it("[HOST-UAPI-3] GET_HW_INFO of 32 bytes works and out_capabilities is not written", () => {
    const host = freshHost();
    const r = host.ioctl(IOMMU_GET_HW_INFO, withSize(encodeLayout(IOMMU_HW_INFO_LAYOUT, { dev_id: 1 }), 32));
    expect(r.errno).toBe(0);
    expect(r.bytes.length).toBe(32);
    expect(u32At(r.bytes, 24)).toBe(1); // out_data_type INTEL_VTD
  });

  it("[HOST-UAPI-5] outputs are written back only within the caller's size, never into its tail", () => {
    const host = freshHost();
    const b = withSize(encodeLayout(IOMMU_IOAS_ALLOC_LAYOUT, {}), 20);
    const r = host.ioctl(IOMMU_IOAS_ALLOC, b);
    expect(r.errno).toBe(0);
    expect(u32At(r.bytes, 8)).toBe(3);
    expect([...r.bytes.subarray(12)]).toEqual(new Array(8).fill(0));
    expect(b[8]).toBe(0); // the caller's bytes are not modified in place
  });

  it("[HOST-UAPI-5] a failed command writes nothing back", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0n, 0x100000n, 0x1000n)).toBe(0);
    const b = encodeLayout(IOMMU_IOAS_MAP_LAYOUT, {
      flags: 7,
      ioas_id: ioas,
      user_va: 0x200000n,
      length: 0x1000n,
    });
    const r = host.ioctl(IOMMU_IOAS_MAP, b);
    expect(r.errno).toBe(Errno.EEXIST);
    expect(r.bytes).toEqual(b);
  });
});
