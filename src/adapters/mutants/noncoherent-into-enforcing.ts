/**
 * Bug: attaching checks the coherency upgrade but not the other direction: a device behind an
 * IOMMU without snoop control joins a HWPT that enforces coherency, although that IOMMU cannot
 * force its no-snoop DMA to snoop. So a non-coherent device shares an "enforcing" stage 2.
 * Breaks [HOST-COH-3] (an enforcing HWPT needs snoop control: EINVAL).
 */
import { pagingOf } from "../../host/attach.ts";
import type { HostIommufd } from "../../host/index.ts";
import { VFIO_DEVICE_ATTACH_IOMMUFD_PT } from "../../host/index.ts";
import type { PagingHwpt } from "../../host/objects.ts";
import type { Mutant } from "./types.ts";

/** The enforcing stage 2 that this device's missing check would have refused, if any. */
function refusedStage2(host: HostIommufd, devId: number, ptId: number): PagingHwpt | undefined {
  const { objects } = host.state;
  const dev = objects.get(devId);
  const pt = objects.get(ptId);
  if (dev?.kind !== "device" || dev.iommu.snoopControl) return undefined;
  if (pt?.kind !== "hwpt-paging" && pt?.kind !== "hwpt-nested") return undefined;
  const s2 = pagingOf(host.state, pt);
  return s2.enforceCoherency ? s2 : undefined;
}

/** Run f with the HWPT looking non-enforcing to the attach checks, then restore it. */
function withoutCheck<T>(s2: PagingHwpt | undefined, f: () => T): T {
  if (s2 === undefined) return f();
  s2.enforceCoherency = false;
  try {
    return f();
  } finally {
    s2.enforceCoherency = true;
  }
}

export const noncoherentIntoEnforcing: Mutant = {
  id: "noncoherent-into-enforcing",
  title: "a device behind an IOMMU without snoop control accepted into an enforcing HWPT",
  layer: "host",
  rules: ["HOST-COH-3"],
  hooks: {
    host(host) {
      const attach = host.attach.bind(host);
      host.attach = (devId, pasid, ptId, mode) =>
        withoutCheck(refusedStage2(host, devId, ptId), () => attach(devId, pasid, ptId, mode));
      const deviceIoctl = host.deviceIoctl.bind(host);
      host.deviceIoctl = (devId, cmd, bytes) => {
        if (cmd !== VFIO_DEVICE_ATTACH_IOMMUFD_PT || bytes.length < 12) return deviceIoctl(devId, cmd, bytes);
        const ptId = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
        return withoutCheck(refusedStage2(host, devId, ptId), () => deviceIoctl(devId, cmd, bytes));
      };
    },
  },
};
