/**
 * uapi-extensibility: iommufd structs (and the VFIO attach struct, which uses argsz framing
 * instead) passed with sizes below, at and above the kernel's, with zero and nonzero tails, too
 * few readable bytes, unknown flag bits, nonzero reserved fields and bad object ids. The errno
 * must be the one the HOST-UAPI rules give, derived here independently of any model: framing
 * first (EFAULT, EINVAL, E2BIG), then each command's own checks in the kernel's order. A failed
 * command writes nothing back; a successful one writes only within the caller's size.
 */

import fc from "fast-check";
import { hostIommuArb } from "../src/arbitraries/host-caps.ts";
import { sidsArb } from "../src/arbitraries/host-devices.ts";
import { declaredSize, STRUCT_SIZES, type UapiInput, uapiInputArb } from "../src/arbitraries/host-ioctl.ts";
import { hostVm } from "../src/arbitraries/host-vm.ts";
import { failCase } from "../src/cases/case-failed.ts";
import { HostClient, hostProblem, U64_MAX, USER_BASE } from "../src/cases/host-client.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import { bytesToHex } from "../src/contract/codec.ts";
import {
  destroyCodec,
  Errno,
  errnoName,
  hwInfoCodec,
  hwptAllocCodec,
  IOMMU_DESTROY,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_UNMAP,
  IoasMapFlags,
  ioasAllocCodec,
  ioasMapCodec,
  ioasUnmapCodec,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  vfioAttachCodec,
} from "../src/spec/iommufd/index.ts";

const BAD_ID = 999;

interface Objects {
  ioas: number;
  victim: number;
  hwpt: number;
}

/** The struct's fields for this input, encoded at the kernel's size. */
function fields(i: UapiInput, o: Objects, size: number): { cmd: number; bytes: Uint8Array } {
  const full = STRUCT_SIZES[i.struct].full;
  switch (i.struct) {
    case "ioas-alloc":
      return {
        cmd: IOMMU_IOAS_ALLOC,
        bytes: ioasAllocCodec.encode({ size, flags: i.unknownFlag ? 1 << 5 : 0 }, full),
      };
    case "ioas-map":
      return {
        cmd: IOMMU_IOAS_MAP,
        bytes: ioasMapCodec.encode(
          {
            size,
            flags:
              IoasMapFlags.FIXED_IOVA |
              IoasMapFlags.READABLE |
              IoasMapFlags.WRITEABLE |
              (i.unknownFlag ? 1 << 9 : 0),
            ioas_id: i.badId ? BAD_ID : o.ioas,
            __reserved: i.reserved ? 1 : 0,
            user_va: USER_BASE + 0x50_0000n,
            length: 0x1000n,
            iova: 0x20_0000n,
          },
          full,
        ),
      };
    case "ioas-unmap":
      return {
        cmd: IOMMU_IOAS_UNMAP,
        bytes: ioasUnmapCodec.encode(
          { size, ioas_id: i.badId ? BAD_ID : o.ioas, iova: 0n, length: U64_MAX },
          full,
        ),
      };
    case "hwpt-alloc":
      return {
        cmd: IOMMU_HWPT_ALLOC,
        bytes: hwptAllocCodec.encode(
          {
            size,
            flags: i.unknownFlag ? 1 << 10 : 0,
            dev_id: i.badId ? BAD_ID : 1,
            pt_id: o.ioas,
            __reserved: i.reserved ? 7 : 0,
          },
          full,
        ),
      };
    case "hw-info":
      return {
        cmd: IOMMU_GET_HW_INFO,
        bytes: hwInfoCodec.encode(
          {
            size,
            flags: i.unknownFlag ? 1 << 3 : 0,
            dev_id: i.badId ? BAD_ID : 1,
            __reserved1: i.reserved ? 1 : 0,
          },
          full,
        ),
      };
    case "destroy":
      return {
        cmd: IOMMU_DESTROY,
        bytes: destroyCodec.encode({ size, id: i.badId ? BAD_ID : o.victim }, full),
      };
    case "vfio-attach":
      return {
        cmd: VFIO_DEVICE_ATTACH_IOMMUFD_PT,
        bytes: vfioAttachCodec.encode(
          {
            argsz: size,
            flags: (i.unknownFlag ? 2 : 0) | (i.reserved ? 1 : 0),
            pt_id: i.badId ? BAD_ID : o.hwpt,
            pasid: 0,
          },
          full,
        ),
      };
  }
}

/** The bytes user space passes: the struct cut or extended to the declared size, maybe fewer readable. */
export function userBytes(i: UapiInput, kernel: Uint8Array, size: number): Uint8Array {
  const full = STRUCT_SIZES[i.struct].full;
  if (i.size === "tiny") return kernel.slice(0, 2);
  const out = new Uint8Array(size);
  out.set(kernel.subarray(0, Math.min(size, full)));
  if (size > full && i.tail === "nonzero") out[full + 3] = 0x5a;
  return i.shortBuffer ? out.slice(0, size - 4) : out;
}

/** [HOST-UAPI-3] then the command's checks; [HOST-UAPI-70] [HOST-UAPI-72] for VFIO's argsz framing. */
export function expectedErrno(i: UapiInput, size: number, readable: number): number {
  const { min, full } = STRUCT_SIZES[i.struct];
  if (i.struct === "vfio-attach") {
    if (readable < min) return Errno.EFAULT;
    if (size < min) return Errno.EINVAL;
    if (i.unknownFlag) return Errno.EINVAL;
    if (i.reserved) {
      if (size < full) return Errno.EINVAL;
      if (readable < full) return Errno.EFAULT;
      return Errno.EINVAL; // PASID 0 is the RID's own
    }
    return i.badId ? Errno.ENOENT : 0;
  }
  if (readable < 4) return Errno.EFAULT;
  if (size < min) return Errno.EINVAL;
  if (size > readable) return Errno.EFAULT;
  if (size > full && i.tail === "nonzero") return Errno.E2BIG;
  switch (i.struct) {
    case "ioas-alloc": // [HOST-UAPI-40]
      return i.unknownFlag ? Errno.EOPNOTSUPP : 0;
    case "ioas-map": // [HOST-UAPI-41] [HOST-UAPI-26]
      if (i.unknownFlag || i.reserved) return Errno.EOPNOTSUPP;
      return i.badId ? Errno.ENOENT : 0;
    case "ioas-unmap":
      return i.badId ? Errno.ENOENT : 0;
    case "hwpt-alloc": // [HOST-UAPI-50] [HOST-UAPI-52]
      if (i.reserved) return Errno.EOPNOTSUPP;
      if (i.badId) return Errno.ENOENT;
      return i.unknownFlag ? Errno.EOPNOTSUPP : 0;
    case "hw-info": // [HOST-UAPI-21] [HOST-UAPI-26]
      if (i.unknownFlag || i.reserved) return Errno.EOPNOTSUPP;
      return i.badId ? Errno.ENOENT : 0;
    case "destroy": // [HOST-UAPI-31]
      return i.badId ? Errno.ENOENT : 0;
  }
}

export const uapiExtensibility: PropertyDefinition = {
  id: "uapi-extensibility",
  title: "iommufd structs follow the size, tail, flag and reserved-field rules as the kernel applies them",
  rules: [
    "HOST-UAPI-2",
    "HOST-UAPI-3",
    "HOST-UAPI-5",
    "HOST-UAPI-21",
    "HOST-UAPI-26",
    "HOST-UAPI-31",
    "HOST-UAPI-40",
    "HOST-UAPI-41",
    "HOST-UAPI-50",
    "HOST-UAPI-52",
    "HOST-UAPI-70",
    "HOST-UAPI-72",
  ],
  needs: (d) => hostProblem(d),
  run(ctx) {
    const input = fc.record({
      iommu: hostIommuArb("h0"),
      sids: sidsArb(2),
      calls: fc.array(uapiInputArb(), { minLength: 1, maxLength: 8 }),
    });
    const deviceFiles = ctx.model.host?.deviceIoctl !== undefined;
    return runVmmCases(ctx, input, async (vc, v) => {
      const config = hostVm(
        [v.iommu],
        [{ iommu: "h0", noSnoop: false, behindBridge: false, iommufd: true }],
        v.sids,
      );
      await vc.model.reset(config);
      const hostSurface = vc.model.host as NonNullable<typeof vc.model.host>;
      const host = new HostClient(hostSurface);
      for (const i of v.calls) {
        if (i.struct === "vfio-attach" && !deviceFiles) continue;
        const ioas = await host.ioasAlloc();
        const victim = await host.ioasAlloc();
        const hwpt = await host.hwptAllocPaging(1, ioas.value as number);
        if (ioas.errno !== 0 || victim.errno !== 0 || hwpt.errno !== 0)
          failCase(`setup failed: ${[ioas, victim, hwpt].map((c) => errnoName(c.errno)).join(", ")}`, {
            step: vc.check(),
          });
        const objects = {
          ioas: ioas.value as number,
          victim: victim.value as number,
          hwpt: hwpt.value as number,
        };
        const size = declaredSize(i.struct, i.size);
        const f = fields(i, objects, size);
        const bytes = userBytes(i, f.bytes, size);
        const expected = expectedErrno(i, size, bytes.length);
        vc.note(
          `${i.struct}: size ${size}, ${bytes.length} bytes readable, tail ${i.tail}${i.unknownFlag ? ", unknown flag" : ""}${i.reserved ? ", reserved set" : ""}${i.badId ? ", bad id" : ""}`,
        );
        const r =
          i.struct === "vfio-attach"
            ? await host.deviceIoctl()(1, f.cmd, bytes)
            : await hostSurface.ioctl(f.cmd, bytes);
        const step = vc.check();
        if (r.errno !== expected)
          failCase(
            `${i.struct} with size ${size} (${bytes.length} bytes): errno ${errnoName(r.errno)}, the rules give ${errnoName(expected)}`,
            {
              step,
              observed: r.errno,
              permitted: expected,
            },
          );
        // [HOST-UAPI-5] nothing written back on failure; on success only within the caller's size.
        const keep = r.errno === 0 ? Math.min(size, STRUCT_SIZES[i.struct].full) : 0;
        if (
          r.bytes.length !== bytes.length ||
          bytesToHex(r.bytes.subarray(keep)) !== bytesToHex(bytes.subarray(keep))
        )
          failCase(
            `${i.struct}: the kernel wrote outside what it may (${r.errno === 0 ? `beyond byte ${keep}` : "after a failure"})`,
            {
              step,
              observed: bytesToHex(r.bytes),
              permitted: bytesToHex(bytes),
            },
          );
      }
    });
  },
  judge: (trace) => vmmJudge(trace),
};
