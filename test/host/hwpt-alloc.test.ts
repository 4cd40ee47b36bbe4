import { describe, expect, it } from "vitest";
import { Errno } from "../../src/spec/iommufd/errno.ts";
import { IOMMU_HWPT_ALLOC } from "../../src/spec/iommufd/ioctl-numbers.ts";
import { HwptAllocFlags, HwptDataType, hwptAllocCodec } from "../../src/spec/iommufd/structs.ts";
import {
  ALLOC_PASID,
  destroy,
  device,
  hwptAlloc,
  ioasAlloc,
  ioasMap,
  iommu,
  makeHost,
  NEST_PARENT,
  nestedAlloc,
  vfioAttach,
} from "./helpers.ts";

function alloc(host: ReturnType<typeof makeHost>["host"], v: Parameters<typeof hwptAllocCodec.encode>[0]) {
  return host.ioctl(IOMMU_HWPT_ALLOC, hwptAllocCodec.encode(v)).errno;
}

describe("HWPT_ALLOC: paging", () => {
  it("[HOST-UAPI-52] a paging HWPT on an IOAS; NEST_PARENT and PASID flags accepted where supported", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(hwptAlloc(host, 1, ioas)).toEqual({ errno: 0, id: 3 });
    expect(hwptAlloc(host, 1, ioas, NEST_PARENT)).toEqual({ errno: 0, id: 4 });
    expect(hwptAlloc(host, 1, ioas, ALLOC_PASID)).toEqual({ errno: 0, id: 5 });
    const kinds = host.view().objects.map((o) => [o.id, o.kind, o.nestParent]);
    expect(kinds).toContainEqual([4, "hwpt-paging", true]);
  });

  it("[HOST-UAPI-52] unknown flags, dirty tracking and driver data give EOPNOTSUPP", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(hwptAlloc(host, 1, ioas, 1 << 4).errno).toBe(Errno.EOPNOTSUPP);
    expect(hwptAlloc(host, 1, ioas, HwptAllocFlags.DIRTY_TRACKING).errno).toBe(Errno.EOPNOTSUPP);
    const withData = {
      dev_id: 1,
      pt_id: ioas,
      data_type: HwptDataType.VTD_S1,
      data_len: 24,
      data_uptr: 0x1000n,
    };
    expect(alloc(host, withData)).toBe(Errno.EOPNOTSUPP);
  });

  it("[HOST-UAPI-52] NEST_PARENT without nesting, PASID without PASID support: EOPNOTSUPP", () => {
    const { host } = makeHost([iommu({ nesting: false, pasidBits: 0 })]);
    const ioas = ioasAlloc(host);
    expect(hwptAlloc(host, 1, ioas, NEST_PARENT).errno).toBe(Errno.EOPNOTSUPP);
    expect(hwptAlloc(host, 1, ioas, ALLOC_PASID).errno).toBe(Errno.EOPNOTSUPP);
    const other = makeHost([iommu({ kind: "other" })]).host;
    expect(hwptAlloc(other, 1, ioasAlloc(other), NEST_PARENT).errno).toBe(Errno.EOPNOTSUPP);
  });

  it("[HOST-UAPI-50] nonzero __reserved gives EOPNOTSUPP; data_type and data_len must agree", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(alloc(host, { dev_id: 1, pt_id: ioas, __reserved: 1 })).toBe(Errno.EOPNOTSUPP);
    expect(alloc(host, { dev_id: 1, pt_id: ioas, data_len: 24 })).toBe(Errno.EINVAL);
    expect(alloc(host, { dev_id: 1, pt_id: ioas, data_type: HwptDataType.VTD_S1 })).toBe(Errno.EINVAL);
  });

  it("[HOST-UAPI-51] a bad dev_id gives ENOENT; a bad or unsuitable pt_id gives EINVAL", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(hwptAlloc(host, 9, ioas).errno).toBe(Errno.ENOENT);
    expect(hwptAlloc(host, 1, 99).errno).toBe(Errno.EINVAL);
    expect(hwptAlloc(host, 1, 1).errno).toBe(Errno.EINVAL); // a device is not a page table
  });

  it("[HOST-UAPI-55] FAULT_ID_VALID names a fault queue; none exist, so ENOENT and nothing allocated", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    expect(alloc(host, { flags: HwptAllocFlags.FAULT_ID_VALID, dev_id: 1, pt_id: ioas, fault_id: 5 })).toBe(
      Errno.ENOENT,
    );
    expect(host.view().objects.map((o) => o.kind)).toEqual(["device", "ioas"]);
  });

  it("[HOST-HWPT-2] existing mappings beyond the new HWPT's width give EADDRINUSE", () => {
    const { host } = makeHost(
      [iommu({ id: "a", awBits: 48 }), iommu({ id: "b", awBits: 39 })],
      [device(1, { iommu: "a" }), device(2, { iommu: "b" })],
    );
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 1n << 40n, 0x100000n, 0x1000n)).toBe(0);
    expect(hwptAlloc(host, 2, ioas).errno).toBe(Errno.EADDRINUSE);
    expect(hwptAlloc(host, 1, ioas).errno).toBe(0);
  });
});

describe("HWPT_ALLOC: nested", () => {
  function parent() {
    const ctx = makeHost();
    const ioas = ioasAlloc(ctx.host);
    const p = hwptAlloc(ctx.host, 1, ioas, NEST_PARENT);
    expect(p.errno).toBe(0);
    return { ...ctx, ioas, parent: p.id };
  }

  it("[HOST-UAPI-53] a VTD_S1 nested HWPT on a nest parent", () => {
    const { host, parent: p } = parent();
    const n = nestedAlloc(host, 1, p, { pgtbl: 0x3000n, flags: 1n });
    expect(n.errno).toBe(0);
    expect(host.view().objects.find((o) => o.id === n.id)).toMatchObject({
      kind: "hwpt-nested",
      parent: p,
      stage1: 0x3000n,
    });
  });

  it("[HOST-UAPI-53] a parent that is not a nest parent gives EINVAL", () => {
    const { host, ioas } = parent();
    const plain = hwptAlloc(host, 1, ioas).id;
    expect(nestedAlloc(host, 1, plain, { pgtbl: 0x3000n }).errno).toBe(Errno.EINVAL);
  });

  it("[HOST-UAPI-53] data_len 0 with type NONE on a parent gives EOPNOTSUPP; other types EOPNOTSUPP", () => {
    const { host, parent: p } = parent();
    expect(alloc(host, { dev_id: 1, pt_id: p })).toBe(Errno.EOPNOTSUPP);
    expect(nestedAlloc(host, 1, p, { pgtbl: 0x3000n }, { dataType: HwptDataType.ARM_SMMUV3 }).errno).toBe(
      Errno.EOPNOTSUPP,
    );
    expect(nestedAlloc(host, 1, p, { pgtbl: 0x3000n }, { flags: NEST_PARENT }).errno).toBe(Errno.EOPNOTSUPP);
  });

  it("[HOST-UAPI-6] payload length below or above iommu_hwpt_vtd_s1 gives EINVAL; no buffer EFAULT", () => {
    const { host, parent: p } = parent();
    expect(nestedAlloc(host, 1, p, { pgtbl: 0x3000n }, { dataLen: 16 }).errno).toBe(Errno.EINVAL);
    expect(nestedAlloc(host, 1, p, { pgtbl: 0x3000n }, { dataLen: 32 }).errno).toBe(Errno.EINVAL);
    const r = host.ioctl(
      IOMMU_HWPT_ALLOC,
      hwptAllocCodec.encode({ dev_id: 1, pt_id: p, data_type: 1, data_len: 24, data_uptr: 0x1234000n }),
    );
    expect(r.errno).toBe(Errno.EFAULT);
  });

  it("[HOST-UAPI-54] unknown stage-1 flags or a nonzero reserved field give EOPNOTSUPP", () => {
    const { host, parent: p } = parent();
    expect(nestedAlloc(host, 1, p, { pgtbl: 0x3000n, flags: 8n }).errno).toBe(Errno.EOPNOTSUPP);
    expect(nestedAlloc(host, 1, p, { pgtbl: 0x3000n, reserved: 1 }).errno).toBe(Errno.EOPNOTSUPP);
  });

  it("[HOST-UAPI-53] a nested HWPT cannot be a parent (EINVAL)", () => {
    const { host, parent: p } = parent();
    const n = nestedAlloc(host, 1, p, { pgtbl: 0x3000n }).id;
    expect(nestedAlloc(host, 1, n, { pgtbl: 0x3000n }).errno).toBe(Errno.EINVAL);
  });
});

describe("DESTROY", () => {
  it("[HOST-UAPI-31] objects in use give EBUSY; freed bottom-up; unknown ids ENOENT", () => {
    const { host } = makeHost();
    const ioas = ioasAlloc(host);
    const p = hwptAlloc(host, 1, ioas, NEST_PARENT).id;
    const n = nestedAlloc(host, 1, p, { pgtbl: 0x3000n }).id;
    expect(vfioAttach(host, 1, n).errno).toBe(0);
    expect(destroy(host, ioas)).toBe(Errno.EBUSY);
    expect(destroy(host, p)).toBe(Errno.EBUSY);
    expect(destroy(host, n)).toBe(Errno.EBUSY); // attached
    expect(destroy(host, 1)).toBe(Errno.EBUSY); // a bound device
    expect(vfioAttach(host, 1, p).errno).toBe(0); // replace: n is free now
    expect(destroy(host, n)).toBe(0);
    expect(destroy(host, n)).toBe(Errno.ENOENT);
    expect(destroy(host, ioas)).toBe(Errno.EBUSY);
  });

  it("[HOST-UAPI-30] ids are reused lowest first", () => {
    const { host } = makeHost();
    const a = ioasAlloc(host);
    const b = ioasAlloc(host);
    expect(destroy(host, a)).toBe(0);
    expect(ioasAlloc(host)).toBe(a);
    expect(b).toBe(3);
  });
});
