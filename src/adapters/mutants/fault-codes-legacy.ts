/**
 * Bug: faults of scalable-mode translation are recorded with the legacy-mode reason table
 * (for example "no write" as 0x5 instead of SGN.6 = 0x85), as if the two tables were one.
 * Breaks [VTD-FAULT-2] and [VTD-PASID-9] (scalable mode has its own reason codes).
 */
import { LegacyFault as L, ScalableFault as S } from "../../spec/fault-reasons.ts";
import type { Mutant } from "./types.ts";

/** Scalable-mode reasons and the legacy reason of the same meaning. */
const AS_LEGACY = new Map<number, number>([
  [S.SRT_1_ROOT_ACCESS, L.LRT_1_ROOT_ACCESS],
  [S.SRT_2_ROOT_NOT_PRESENT, L.LRT_2_ROOT_NOT_PRESENT],
  [S.SRT_3_ROOT_RESERVED, L.LRT_3_ROOT_RESERVED],
  [S.SCT_1_CONTEXT_ACCESS, L.LCT_1_CONTEXT_ACCESS],
  [S.SCT_2_CONTEXT_NOT_PRESENT, L.LCT_2_CONTEXT_NOT_PRESENT],
  [S.SCT_3_CONTEXT_RESERVED, L.LCT_3_CONTEXT_RESERVED],
  [S.SCT_4_CONTEXT_INVALID, L.LCT_4_CONTEXT_INVALID],
  [S.SSS_1_SS_ENTRY_ACCESS, L.LSS_1_SS_ENTRY_ACCESS],
  [S.SSS_3_SS_RESERVED, L.LSS_2_SS_RESERVED],
  [S.SFS_1_FS_ENTRY_ACCESS, L.LSS_1_SS_ENTRY_ACCESS],
  [S.SFS_3_FS_RESERVED, L.LSS_2_SS_RESERVED],
  [S.SFS_2_FS_NOT_PRESENT, L.LGN_3_NO_READ],
  [S.SSS_2_SS_NONLEAF_NO_PERMISSION, L.LGN_3_NO_READ],
  [S.SGN_4_ABOVE_HAW, L.LGN_1_ADDRESS_BEYOND_WIDTH],
  [S.SGN_5_SS_INPUT_BEYOND_WIDTH, L.LGN_1_ADDRESS_BEYOND_WIDTH],
  [S.SGN_6_NO_WRITE, L.LGN_2_NO_WRITE],
  [S.SGN_7_NO_READ, L.LGN_3_NO_READ],
  [S.SGN_8_INTERRUPT_RANGE, L.LGN_4_INTERRUPT_RANGE],
]);

export const faultCodesLegacy: Mutant = {
  id: "fault-codes-legacy",
  title: "scalable-mode faults recorded with legacy-mode reason codes",
  layer: "viommu",
  rules: ["VTD-FAULT-2", "VTD-PASID-9"],
  hooks: {
    platform(vm) {
      const faults = vm.viommu.registers.faults;
      const record = faults.recordFault.bind(faults);
      faults.recordFault = (info) => record({ ...info, reason: AS_LEGACY.get(info.reason) ?? info.reason });
    },
  },
};
