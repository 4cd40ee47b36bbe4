import { describe, expect, it } from "vitest";
import { Errno } from "../../src/spec/iommufd/errno.ts";
import {
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from "../../src/spec/iommufd/ioctl-numbers.ts";
import { vfioAttachCodec, vfioDetachCodec } from "../../src/spec/iommufd/structs.ts";
import {
  ALLOC_PASID,
  device,
  hwptAlloc,
  ioasAlloc,
  ioasMap,
  iommu,
  makeHost,
  NEST_PARENT,
  nestedAlloc,
  vfioAttach,
  vfioDetach,
} from "./helpers.ts";

function mapped(over: Parameters<typeof iommu>[0] = {}) {
  const ctx = makeHost([iommu(over)], [device(1), device(2)]);
  const ioas = ioasAlloc(ctx.host);
  ctx.memory.write(0x100000, Uint8Array.of(0x11));
  expect(ioasMap(ctx.host, ioas, 0x10000n, 0x100000n, 0x1000n)).toBe(0);
  return { ...ctx, ioas };
}

const read = (host: ReturnType<typeof makeHost>["host"], devId: number, pasid?: number) =>
  host.dma({ devId, pasid, iova: 0x10000n, len: 1, write: false }).status;

describe("VFIO attach / replace / detach", () => {
  it("[HOST-XLATE-11] a device blocks DMA until attached, and again after detach", () => {
    const { host, ioas } = mapped();
    const hwpt = hwptAlloc(host, 1, ioas).id;
    expect(read(host, 1)).toBe("aborted");
    expect(vfioAttach(host, 1, hwpt)).toEqual({ errno: 0, pt: hwpt });
    expect(read(host, 1)).toBe("ok");
    expect(vfioDetach(host, 1)).toBe(0);
    expect(read(host, 1)).toBe("aborted");
    expect(host.view().attachments).toEqual([]);
    expect(vfioDetach(host, 1)).toBe(0); // detaching again is harmless
  });

  it("[HOST-UAPI-71] attaching an attached device replaces its HWPT", () => {
    const { host, ioas, memory } = mapped();
    const a = hwptAlloc(host, 1, ioas).id;
    const ioas2 = ioasAlloc(host);
    memory.write(0x200000, Uint8Array.of(0x22));
    expect(ioasMap(host, ioas2, 0x10000n, 0x200000n, 0x1000n)).toBe(0);
    const b = hwptAlloc(host, 1, ioas2).id;
    expect(vfioAttach(host, 1, a).errno).toBe(0);
    expect(vfioAttach(host, 1, b).errno).toBe(0);
    expect(host.dma({ devId: 1, iova: 0x10000n, len: 1, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(0x22),
    });
    expect(host.view().attachments).toEqual([{ devId: 1, hwptId: b, kind: "paging" }]);
  });

  it("[HOST-HWPT-35] attaching to an IOAS makes or reuses an automatic HWPT, freed with its last user", () => {
    const { host, ioas } = mapped();
    const first = vfioAttach(host, 1, ioas);
    const second = vfioAttach(host, 2, ioas);
    expect(first.errno).toBe(0);
    expect(second).toEqual({ errno: 0, pt: first.pt });
    expect(host.view().objects.find((o) => o.id === first.pt)).toMatchObject({ auto: true, users: 2 });
    expect(vfioDetach(host, 1)).toBe(0);
    expect(vfioDetach(host, 2)).toBe(0);
    expect(host.view().objects.some((o) => o.id === first.pt)).toBe(false);
  });

  it("[HOST-HWPT-34] the core attach refuses an occupied slot (EBUSY); replace needs one (EINVAL)", () => {
    const { host, ioas } = mapped();
    const a = hwptAlloc(host, 1, ioas, ALLOC_PASID).id;
    const b = hwptAlloc(host, 1, ioas, ALLOC_PASID).id;
    expect(host.attach(1, 5, b, "replace").errno).toBe(Errno.EINVAL);
    expect(host.attach(1, 5, a, "attach")).toEqual({ errno: 0, hwptId: a });
    expect(host.attach(1, 5, b, "attach").errno).toBe(Errno.EBUSY);
    expect(host.attach(1, 5, b, "replace")).toEqual({ errno: 0, hwptId: b });
    expect(host.attach(1, undefined, a, "attach").errno).toBe(0);
    expect(host.attach(1, undefined, b, "attach").errno).toBe(Errno.EBUSY);
  });

  it("[HOST-HWPT-31] a PASID attach needs a HWPT allocated with the PASID flag", () => {
    const { host, ioas } = mapped();
    const plain = hwptAlloc(host, 1, ioas).id;
    const pasidOk = hwptAlloc(host, 1, ioas, ALLOC_PASID).id;
    expect(vfioAttach(host, 1, plain, 3).errno).toBe(Errno.EINVAL);
    expect(vfioAttach(host, 1, pasidOk, 3).errno).toBe(0);
    expect(read(host, 1, 3)).toBe("ok");
    expect(read(host, 1, 4)).toBe("aborted");
    expect(read(host, 1)).toBe("aborted"); // the RID is not attached
    // The RID's HWPT must then be PASID-capable too.
    expect(vfioAttach(host, 1, plain).errno).toBe(Errno.EINVAL);
    expect(vfioAttach(host, 1, pasidOk).errno).toBe(0);
    expect(vfioDetach(host, 1, 3)).toBe(0);
    expect(read(host, 1, 3)).toBe("aborted");
    expect(read(host, 1)).toBe("ok");
  });

  it("[HOST-HWPT-31] PASIDs beyond the IOMMU's width, and PASID 0, are refused (EINVAL)", () => {
    const { host, ioas } = mapped({ pasidBits: 4 });
    const h = hwptAlloc(host, 1, ioas, ALLOC_PASID).id;
    expect(vfioAttach(host, 1, h, 16).errno).toBe(Errno.EINVAL);
    expect(vfioAttach(host, 1, h, 15).errno).toBe(0);
    expect(vfioAttach(host, 1, h, 0).errno).toBe(Errno.EINVAL);
  });

  it("[HOST-UAPI-70] VFIO framing: argsz below minsz and unknown flags give EINVAL; the PASID needs its field", () => {
    const { host, ioas } = mapped();
    const h = hwptAlloc(host, 1, ioas).id;
    const small = vfioAttachCodec.encode({ pt_id: h });
    new DataView(small.buffer).setUint32(0, 8, true);
    expect(host.deviceIoctl(1, VFIO_DEVICE_ATTACH_IOMMUFD_PT, small).errno).toBe(Errno.EINVAL);
    const flags = vfioAttachCodec.encode({ flags: 2, pt_id: h });
    expect(host.deviceIoctl(1, VFIO_DEVICE_ATTACH_IOMMUFD_PT, flags).errno).toBe(Errno.EINVAL);
    const noPasidField = vfioAttachCodec.encode({ flags: 1, pt_id: h }, 12);
    expect(host.deviceIoctl(1, VFIO_DEVICE_ATTACH_IOMMUFD_PT, noPasidField).errno).toBe(Errno.EINVAL);
    const detachFlags = vfioDetachCodec.encode({ flags: 4 });
    expect(host.deviceIoctl(1, VFIO_DEVICE_DETACH_IOMMUFD_PT, detachFlags).errno).toBe(Errno.EINVAL);
    // A 12-byte attach (no PASID field) is the original struct and works.
    expect(
      host.deviceIoctl(1, VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfioAttachCodec.encode({ pt_id: h }, 12)).errno,
    ).toBe(0);
    expect(
      host.deviceIoctl(9, VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfioAttachCodec.encode({ pt_id: h })).errno,
    ).toBe(Errno.EBADF);
    expect(host.deviceIoctl(1, 0x3b80, vfioAttachCodec.encode({ pt_id: h })).errno).toBe(Errno.ENOTTY);
  });

  it("[HOST-HWPT-30] attaching to a missing object gives ENOENT, to a device EINVAL", () => {
    const { host, ioas } = mapped();
    expect(vfioAttach(host, 1, 42).errno).toBe(Errno.ENOENT);
    expect(vfioAttach(host, 1, 2).errno).toBe(Errno.EINVAL);
    expect(vfioAttach(host, 1, ioas).errno).toBe(0);
  });
});

describe("attach-time checks of a nested HWPT", () => {
  function nested(attachIommu: Parameters<typeof iommu>[0], s1: { addrWidth?: number; flags?: bigint }) {
    const { host } = makeHost(
      [iommu({ id: "a", fl5lp: true }), iommu({ id: "b", ...attachIommu })],
      [device(1, { iommu: "a" }), device(2, { iommu: "b" })],
    );
    const ioas = ioasAlloc(host);
    const parent = hwptAlloc(host, 1, ioas, NEST_PARENT).id;
    const n = nestedAlloc(host, 1, parent, { pgtbl: 0x3000n, ...s1 });
    expect(n.errno).toBe(0);
    return { host, id: n.id };
  }

  it("[HOST-HWPT-33] addr_width must be 48 or 57", () => {
    const { host, id } = nested({}, { addrWidth: 39 });
    expect(vfioAttach(host, 1, id).errno).toBe(Errno.EINVAL);
    const five = nested({}, { addrWidth: 57 });
    expect(vfioAttach(five.host, 1, five.id).errno).toBe(0);
  });

  it("[HOST-HWPT-33] a 57-bit stage 1 needs FL5LP on the attaching IOMMU", () => {
    const { host, id } = nested({ fl5lp: false }, { addrWidth: 57 });
    expect(vfioAttach(host, 2, id).errno).toBe(Errno.EINVAL);
    expect(vfioAttach(host, 1, id).errno).toBe(0);
  });

  it("[HOST-HWPT-33] SRE needs SRS, EAFE needs EAFS", () => {
    const sre = nested({ supervisorRequests: false }, { flags: 1n });
    expect(vfioAttach(sre.host, 2, sre.id).errno).toBe(Errno.EINVAL);
    const eafe = nested({ extendedAccessed: false }, { flags: 2n });
    expect(vfioAttach(eafe.host, 2, eafe.id).errno).toBe(Errno.EINVAL);
    const wpe = nested({ supervisorRequests: false, extendedAccessed: false }, { flags: 4n });
    expect(vfioAttach(wpe.host, 2, wpe.id).errno).toBe(0);
  });

  it("[HOST-HWPT-33] an IOMMU without nesting cannot run a nested HWPT (ENODEV)", () => {
    const { host, id } = nested({ nesting: false }, {});
    expect(vfioAttach(host, 2, id).errno).toBe(Errno.ENODEV);
  });

  it("[HOST-HWPT-32] a parent incompatible with the IOMMU gives EINVAL (narrower width, other kind)", () => {
    const narrow = nested({ awBits: 39 }, {});
    expect(vfioAttach(narrow.host, 2, narrow.id).errno).toBe(Errno.EINVAL);
    const other = nested({ kind: "other" }, {});
    expect(vfioAttach(other.host, 2, other.id).errno).toBe(Errno.EINVAL);
  });
});
