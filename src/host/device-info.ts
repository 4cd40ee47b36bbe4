/**
 * GET_HW_INFO (drivers/iommu/iommufd/device.c, iommufd_get_hw_info; drivers/iommu/
 * intel/iommu.c, intel_iommu_hw_info). spec/host-uapi.md, HOST-UAPI-2x.
 */
import { Errno, fail } from "../spec/iommufd/errno.ts";
import { encodeLayout } from "../spec/iommufd/layout.ts";
import {
  HwCapabilities,
  HwInfoFlags,
  HwInfoType,
  HwInfoVtdFlags,
  IOMMU_HW_INFO_VTD_LAYOUT,
  type IommuHwInfo,
  type IommuHwInfoVtd,
} from "../spec/iommufd/structs.ts";
import type { UserMemory } from "../spec/iommufd/user-memory.ts";
import { hostCap, hostEcap } from "./hw-info.ts";
import type { HostState } from "./state.ts";

/** Fills the output fields of cmd (data_len, data_type, out_*) and the user buffer. */
export function getHwInfo(state: HostState, cmd: IommuHwInfo, mem: UserMemory): void {
  // [HOST-UAPI-21] unknown flags or reserved bytes.
  if ((cmd.flags & ~HwInfoFlags.INPUT_TYPE) !== 0) fail(Errno.EOPNOTSUPP, "GET_HW_INFO flags");
  if (cmd.__reserved0 !== 0 || cmd.__reserved1 !== 0 || cmd.__reserved2 !== 0) {
    fail(Errno.EOPNOTSUPP, "GET_HW_INFO __reserved");
  }
  const requested = (cmd.flags & HwInfoFlags.INPUT_TYPE) !== 0 ? cmd.data_type : HwInfoType.DEFAULT;
  const dev = state.objects.device(cmd.dev_id);
  const iommu = dev.iommu;
  let data: Uint8Array;
  let type: number;
  if (iommu.kind === "intel-vtd") {
    // [HOST-UAPI-22] the VT-d driver answers DEFAULT or INTEL_VTD only.
    if (requested !== HwInfoType.DEFAULT && requested !== HwInfoType.INTEL_VTD) {
      fail(Errno.EOPNOTSUPP, `info type ${requested}`);
    }
    // [HOST-UAPI-20] [HOST-ERRATA-3] flags, CAP and ECAP of the device's IOMMU.
    data = encodeLayout<IommuHwInfoVtd>(IOMMU_HW_INFO_VTD_LAYOUT, {
      flags: iommu.errata772415 ? HwInfoVtdFlags.ERRATA_772415_SPR17 : 0,
      cap_reg: hostCap(iommu),
      ecap_reg: hostEcap(iommu),
    });
    type = HwInfoType.INTEL_VTD;
  } else {
    // [HOST-UAPI-23] a driver without hw_info: type NONE, no data.
    if (requested !== HwInfoType.DEFAULT) fail(Errno.EOPNOTSUPP, `info type ${requested}`);
    data = new Uint8Array(0);
    type = HwInfoType.NONE;
  }
  // [HOST-UAPI-24] copy min(user, driver) bytes, zero the rest of the user buffer.
  const copyLen = Math.min(cmd.data_len, data.length);
  if (cmd.data_len > 0) {
    const out = new Uint8Array(cmd.data_len);
    out.set(data.subarray(0, copyLen));
    mem.write(cmd.data_uptr, out);
  }
  cmd.data_len = data.length;
  cmd.data_type = type;
  // [HOST-UAPI-25] no dirty tracking; PRIV when the IOMMU takes supervisor requests; never EXEC.
  let caps = 0n;
  if (iommu.pasidBits > 0 && iommu.supervisorRequests) caps |= BigInt(HwCapabilities.PCI_PASID_PRIV);
  cmd.out_capabilities = caps;
  cmd.out_max_pasid_log2 = iommu.pasidBits;
}
