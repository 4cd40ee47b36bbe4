/**
 * Whether a VMM must accept a platform configuration, derived from the rules (not from the VMM's
 * code), and the judgement of a reset against it. The live host-device-compatibility cases and
 * the replay judge of every VMM property use the same judgement, so a wrong acceptance or
 * refusal is found again on replay. [VMM-COMPAT-1] .. [VMM-COMPAT-11] [VMM-SHADOW-1] [ORACLE-JUDGE-7]
 */

import type { PlatformConfig } from "../contract/types.ts";
import type { Violation } from "../oracle/index.ts";
import type { StepOutcome } from "../trace/types.ts";

/** A refusal: the check that fails first and how its message must read. */
export interface Refusal {
  check: string;
  pattern: RegExp;
}

/**
 * The expected verdict: [VMM-COMPAT-1] .. [VMM-COMPAT-9] in order, then [VMM-COMPAT-11] /
 * [VMM-SHADOW-1]. undefined: accepted.
 */
export function expectedRefusal(config: PlatformConfig): Refusal | undefined {
  const v = config.viommu;
  for (const d of config.devices) {
    if (d.kind !== "passthrough" || d.host === undefined) continue;
    const h = config.hostIommus.find((x) => x.id === d.host?.iommu);
    if (h === undefined) return { check: "config", pattern: /IOMMU/ };
    if (v.awBits > h.awBits)
      return { check: "aw-bits", pattern: new RegExp(`aw-bits ${v.awBits} > host aw-bits ${h.awBits}`) };
    if (v.scalable && v.firstStage) {
      if (!d.host.iommufd) return { check: "backend", pattern: /iommufd/i };
      if (h.kind !== "intel-vtd") return { check: "iommu-type", pattern: /VT-d|IOMMU type/i };
      if (v.fs1gp && !h.fs1gp) return { check: "fs1gp", pattern: /FS1GP|1 ?GiB|1GB/i };
      if (d.host.behindBridge) return { check: "bridge", pattern: /bridge/i };
      if (!h.nesting) return { check: "nesting", pattern: /nest/i };
      if (v.pasidBits > h.pasidBits) return { check: "pasid-width", pattern: /PASID width/i };
      if (v.fl5lp && !h.fl5lp) return { check: "fl5lp", pattern: /FL5LP|5-level/i };
      if (v.supervisorRequests && !h.supervisorRequests)
        return { check: "supervisor", pattern: /SRS|supervisor/i };
      if (v.extendedAccessed && !h.extendedAccessed)
        return { check: "extended-accessed", pattern: /EAFS|extended accessed/i };
    }
    // [VMM-COMPAT-11] every passed-through device needs caching mode ([VMM-SHADOW-1] its second-stage case).
    if (!v.cachingMode) return { check: "caching-mode", pattern: /caching[ -]mode|\bCM\b/i };
  }
  return undefined;
}

/**
 * [ORACLE-JUDGE-7] A reset into `config` gave `outcome`: accepted exactly when no check refuses
 * it, and a refusal names the first failing check. A protocol error is no verdict (undefined).
 */
export function judgeReset(config: PlatformConfig, outcome: StepOutcome): Violation | undefined {
  if (outcome.error?.code === "protocol") return undefined;
  const expected = expectedRefusal(config);
  const refused = outcome.error?.message;
  if (expected === undefined) {
    if (refused === undefined) return undefined;
    return {
      message: `the VMM refused a device whose host covers the vIOMMU: ${refused}`,
      observed: refused,
      permitted: ["accepted"],
    };
  }
  if (refused === undefined)
    return {
      message: `the VMM accepted a device the ${expected.check} check must refuse`,
      observed: "accepted",
      permitted: [`refused: ${expected.pattern.source}`],
    };
  if (expected.pattern.test(refused)) return undefined;
  return {
    message: `the VMM refused the device for another reason than the first failing check (${expected.check})`,
    observed: refused,
    permitted: [expected.pattern.source],
  };
}
