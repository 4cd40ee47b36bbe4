/**
 * Bug: HWPT_INVALIDATE writes entry_num back only on success; when an entry fails, the caller
 * still reads the number it asked for and cannot tell how many entries were handled.
 * Breaks [HOST-UAPI-60] (entry_num is written back on success and on error).
 */
import { IOMMU_HWPT_INVALIDATE } from "../../host/index.ts";
import type { Mutant } from "./types.ts";

const ENTRY_NUM = 24;

export const invalidateEntryNumKept: Mutant = {
  id: "invalidate-entry-num-kept",
  title: "HWPT_INVALIDATE does not write entry_num back on error",
  layer: "host",
  rules: ["HOST-UAPI-60"],
  hooks: {
    host(host) {
      const ioctl = host.ioctl.bind(host);
      host.ioctl = (cmd, bytes, buffers) => {
        const r = ioctl(cmd, bytes, buffers);
        if (cmd !== IOMMU_HWPT_INVALIDATE || r.errno === 0 || bytes.length < ENTRY_NUM + 4) return r;
        const out = r.bytes.slice();
        out.set(bytes.subarray(ENTRY_NUM, ENTRY_NUM + 4), ENTRY_NUM);
        return { ...r, bytes: out };
      };
    },
  },
};
