/**
 * Bug: the iommufd framing copies a struct larger than the kernel's without checking that the
 * bytes past the kernel's size are zero (copy_struct_from_user's E2BIG check is missing), so a
 * newer caller's nonzero extension is silently ignored.
 * Breaks [HOST-UAPI-3] (size > kernel size with a nonzero tail → E2BIG).
 */
import {
  IOMMU_DESTROY,
  IOMMU_DESTROY_LAYOUT,
  IOMMU_GET_HW_INFO,
  IOMMU_HW_INFO_LAYOUT,
  IOMMU_HWPT_ALLOC,
  IOMMU_HWPT_ALLOC_LAYOUT,
  IOMMU_HWPT_INVALIDATE,
  IOMMU_HWPT_INVALIDATE_LAYOUT,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_ALLOC_LAYOUT,
  IOMMU_IOAS_MAP,
  IOMMU_IOAS_MAP_LAYOUT,
  IOMMU_IOAS_UNMAP,
  IOMMU_IOAS_UNMAP_LAYOUT,
} from "../../host/index.ts";
import type { Mutant } from "./types.ts";

/** The kernel's struct size of each command. */
const KERNEL_SIZE = new Map<number, number>([
  [IOMMU_DESTROY, IOMMU_DESTROY_LAYOUT.size],
  [IOMMU_IOAS_ALLOC, IOMMU_IOAS_ALLOC_LAYOUT.size],
  [IOMMU_IOAS_MAP, IOMMU_IOAS_MAP_LAYOUT.size],
  [IOMMU_IOAS_UNMAP, IOMMU_IOAS_UNMAP_LAYOUT.size],
  [IOMMU_HWPT_ALLOC, IOMMU_HWPT_ALLOC_LAYOUT.size],
  [IOMMU_GET_HW_INFO, IOMMU_HW_INFO_LAYOUT.size],
  [IOMMU_HWPT_INVALIDATE, IOMMU_HWPT_INVALIDATE_LAYOUT.size],
]);

export const structTailAccepted: Mutant = {
  id: "struct-tail-accepted",
  title: "iommufd structs larger than the kernel's accepted with a nonzero tail",
  layer: "host",
  rules: ["HOST-UAPI-3"],
  hooks: {
    host(host) {
      const ioctl = host.ioctl.bind(host);
      host.ioctl = (cmd, bytes, buffers) => {
        const ksize = KERNEL_SIZE.get(cmd);
        if (ksize === undefined || bytes.length <= ksize) return ioctl(cmd, bytes, buffers);
        const usize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
        if (usize <= ksize || usize > bytes.length) return ioctl(cmd, bytes, buffers);
        // The tail is never looked at: the command sees it as zeros, the caller gets its bytes back.
        const zeroed = bytes.slice();
        zeroed.fill(0, ksize, usize);
        const r = ioctl(cmd, zeroed, buffers);
        const out = r.bytes.slice();
        out.set(bytes.subarray(ksize, usize), ksize);
        return { ...r, bytes: out };
      };
    },
  },
};
