/**
 * Bug: IOAS_MAP does not apply the ERRATA_772415_SPR17 rule: a read-only mapping is written
 * into a nest-parent HWPT seen by an errata IOMMU instead of being refused.
 * Breaks [HOST-ERRATA-1] (no read-only mappings in an errata nest parent: EINVAL).
 */
import { IOMMU_IOAS_MAP, IoasMapFlags } from "../../host/index.ts";
import type { Mutant } from "./types.ts";

export const errataRoNestParent: Mutant = {
  id: "errata-ro-nest-parent",
  title: "read-only mappings kept in a nest parent on an errata IOMMU",
  layer: "host",
  rules: ["HOST-ERRATA-1"],
  hooks: {
    host(host) {
      const ioctl = host.ioctl.bind(host);
      host.ioctl = (cmd, bytes, buffers) => {
        if (cmd !== IOMMU_IOAS_MAP || bytes.length < 12) return ioctl(cmd, bytes, buffers);
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        if ((view.getUint32(4, true) & IoasMapFlags.WRITEABLE) !== 0) return ioctl(cmd, bytes, buffers);
        // The check reads "nest parent"; while this map runs, none of the IOAS's HWPTs is one.
        const parents = host.state.objects.pagingHwptsOf(view.getUint32(8, true)).filter((h) => h.nestParent);
        for (const h of parents) h.nestParent = false;
        try {
          return ioctl(cmd, bytes, buffers);
        } finally {
          for (const h of parents) h.nestParent = true;
        }
      };
    },
  },
};
