/**
 * Host-device compatibility: when a passed-through device joins the vIOMMU, the VMM checks
 * the host IOMMU behind it against the vIOMMU's options, in a fixed order, each check with
 * its own error (facts §6; QEMU hw/i386/intel_iommu.c, vtd_check_hiod). spec/vmm.md, VMM-COMPAT-*.
 */

import type { DeviceConfig, HostIommuConfig, VIommuConfig } from "../contract/types.ts";
import { HwInfoType } from "../host/index.ts";
import { bit, field } from "../spec/word.ts";
import { VmmConfigError } from "./errors.ts";
import type { HwInfo } from "./host-io.ts";

type HostSide = NonNullable<DeviceConfig["host"]>;

const hex = (sid: number) => `0x${sid.toString(16).padStart(4, "0")}`;

/**
 * [VMM-COMPAT-1] The host address width: CAP.MGAW + 1 from GET_HW_INFO when the host reports
 * VT-d registers, else the width the host IOMMU declares (VFIO's IOVA ranges stand-in).
 */
export function hostAwBits(iommu: HostIommuConfig, info: HwInfo | undefined): number {
  if (info?.vtd !== undefined) return field(info.vtd.cap, 21, 16) + 1;
  return iommu.awBits;
}

/**
 * Throws VmmConfigError when the device cannot join: [VMM-COMPAT-1] .. [VMM-COMPAT-9], in order.
 * `info` is the GET_HW_INFO answer (undefined for a device outside iommufd).
 */
export function checkCompatibility(
  viommu: VIommuConfig,
  sid: number,
  dev: HostSide,
  iommu: HostIommuConfig,
  info: HwInfo | undefined,
): void {
  const who = `device ${hex(sid)} (host IOMMU ${iommu.id})`;
  // [VMM-COMPAT-1] the guest's address width must fit the host's.
  const haw = hostAwBits(iommu, info);
  if (viommu.awBits > haw)
    throw new VmmConfigError("aw-bits", `${who}: aw-bits ${viommu.awBits} > host aw-bits ${haw}`);
  // [VMM-COMPAT-2] without first-stage translation offered, the host is not asked for more.
  if (!(viommu.scalable && viommu.firstStage)) return;
  // [VMM-COMPAT-3] stage-1 for a passed-through device needs iommufd (nesting).
  if (!dev.iommufd || info === undefined)
    throw new VmmConfigError("backend", `${who}: stage-1 translation needs the iommufd backend`);
  // [VMM-COMPAT-4] the host must be Intel VT-d, to take VT-d stage-1 tables.
  if (info.type !== HwInfoType.INTEL_VTD || info.vtd === undefined)
    throw new VmmConfigError(
      "iommu-type",
      `${who}: host IOMMU type ${info.type} is not Intel VT-d (${HwInfoType.INTEL_VTD})`,
    );
  const { cap, ecap } = info.vtd;
  // [VMM-COMPAT-5] 1 GiB stage-1 pages offered to the guest need them on the host.
  if (viommu.fs1gp && !bit(cap, 56))
    throw new VmmConfigError(
      "fs1gp",
      `${who}: stage-1 1 GiB pages (FS1GP) offered but unsupported by the host`,
    );
  // [VMM-COMPAT-6] a device behind a PCI bridge shares its RID: no per-device nesting.
  if (dev.behindBridge)
    throw new VmmConfigError(
      "bridge",
      `${who}: a device behind a PCI bridge is unsupported with stage-1 translation`,
    );
  // [VMM-COMPAT-7] nesting (ECAP.NEST) on the host.
  if (!bit(ecap, 26))
    throw new VmmConfigError(
      "nesting",
      `${who}: host IOMMU does not support nested translation (ECAP.NEST = 0)`,
    );
  // [VMM-COMPAT-8] the guest's PASIDs must fit the host's.
  if (viommu.pasidBits > info.maxPasidLog2)
    throw new VmmConfigError(
      "pasid-width",
      `${who}: PASID width ${viommu.pasidBits} > host PASID width ${info.maxPasidLog2}`,
    );
  // [VMM-COMPAT-9] stage-1 features the guest may program must be accepted at attach.
  if (viommu.fl5lp && !bit(cap, 60))
    throw new VmmConfigError("fl5lp", `${who}: 5-level stage 1 (FL5LP) offered but unsupported by the host`);
  if (viommu.supervisorRequests && !bit(ecap, 31))
    throw new VmmConfigError(
      "supervisor",
      `${who}: supervisor requests (SRS) offered but unsupported by the host`,
    );
  if (viommu.extendedAccessed && !bit(ecap, 34))
    throw new VmmConfigError(
      "extended-accessed",
      `${who}: extended accessed flag (EAFS) offered but unsupported by the host`,
    );
}

/**
 * [VMM-COMPAT-11] A passed-through device needs caching mode, whatever the vIOMMU offers: the VMM
 * learns of the guest's entries only from the invalidations after them, and without CM the guest
 * need not invalidate after making an entry present. [VMM-SHADOW-1] is the second-stage case:
 * its message says the second stage cannot be shadowed.
 */
export function checkCachingMode(viommu: VIommuConfig, sid: number): void {
  if (viommu.cachingMode) return;
  const secondStage = !viommu.scalable || viommu.secondStage;
  const why = secondStage
    ? `in ${viommu.scalable ? "scalable mode with second-stage translation" : "legacy mode"} need caching mode (CM = 1) to shadow the guest's second stage`
    : "need caching mode (CM = 1): without it the guest does not invalidate after creating entries, so the VMM never learns of them";
  throw new VmmConfigError("caching-mode", `device ${hex(sid)}: passed-through devices ${why}`);
}
