/**
 * Whether a VMM must accept a platform configuration, derived from the rules (not from the VMM's
 * code), and the judgement of a reset against it. The live host-device-compatibility cases and
 * the replay judge of every VMM property use the same judgement, so a wrong acceptance or
 * refusal is found again on replay. [VMM-COMPAT-1] .. [VMM-COMPAT-11] [VMM-SHADOW-1] [ORACLE-JUDGE-7]
 */

import type { MemoryRegion, PlatformConfig } from "../contract/types.ts";
import type { Violation } from "../oracle/index.ts";
import type { StepOutcome } from "../trace/types.ts";

/** A refusal: the check that fails first and how its message must read. */
export interface Refusal {
  check: string;
  pattern: RegExp;
  /** The rule of that check. */
  rule: string;
}

/**
 * The expected verdict: the memory map [VMM-COMPAT-10], then [VMM-COMPAT-1] .. [VMM-COMPAT-9] in order, then [VMM-COMPAT-11] /
 * [VMM-SHADOW-1]. undefined: accepted.
 */
export function expectedRefusal(config: PlatformConfig): Refusal | undefined {
  // [VMM-COMPAT-10] a malformed memory map is refused whatever the devices.
  if (memoryMapProblem(config.memory) !== undefined)
    return { check: "memory-map", rule: "VMM-COMPAT-10", pattern: /memory (region|map)/i };
  const v = config.viommu;
  for (const d of config.devices) {
    if (d.kind !== "passthrough" || d.host === undefined) continue;
    const h = config.hostIommus.find((x) => x.id === d.host?.iommu);
    if (h === undefined) return { check: "config", rule: "VMM-COMPAT-10", pattern: /IOMMU/ };
    if (v.awBits > h.awBits)
      return {
        check: "aw-bits",
        rule: "VMM-COMPAT-1",
        pattern: new RegExp(`aw-bits ${v.awBits} > host aw-bits ${h.awBits}`),
      };
    if (v.scalable && v.firstStage) {
      if (!d.host.iommufd) return { check: "backend", rule: "VMM-COMPAT-3", pattern: /iommufd/i };
      if (h.kind !== "intel-vtd")
        return { check: "iommu-type", rule: "VMM-COMPAT-4", pattern: /VT-d|IOMMU type/i };
      if (v.fs1gp && !h.fs1gp) return { check: "fs1gp", rule: "VMM-COMPAT-5", pattern: /FS1GP|1 ?GiB|1GB/i };
      if (d.host.behindBridge) return { check: "bridge", rule: "VMM-COMPAT-6", pattern: /bridge/i };
      if (!h.nesting) return { check: "nesting", rule: "VMM-COMPAT-7", pattern: /nest/i };
      if (v.pasidBits > h.pasidBits)
        return { check: "pasid-width", rule: "VMM-COMPAT-8", pattern: /PASID width/i };
      if (v.fl5lp && !h.fl5lp) return { check: "fl5lp", rule: "VMM-COMPAT-9", pattern: /FL5LP|5-level/i };
      if (v.supervisorRequests && !h.supervisorRequests)
        return { check: "supervisor", rule: "VMM-COMPAT-9", pattern: /SRS|supervisor/i };
      if (v.extendedAccessed && !h.extendedAccessed)
        return { check: "extended-accessed", rule: "VMM-COMPAT-9", pattern: /EAFS|extended accessed/i };
    }
    // [VMM-COMPAT-11] every passed-through device needs caching mode ([VMM-SHADOW-1] its second-stage case).
    if (!v.cachingMode)
      return { check: "caching-mode", rule: "VMM-COMPAT-11", pattern: /caching[ -]mode|\bCM\b/i };
  }
  return undefined;
}

/** [VMM-COMPAT-10] What is wrong with a memory map, or undefined: aligned, inside, disjoint regions. */
export function memoryMapProblem(memory: PlatformConfig["memory"]): string | undefined {
  const page = 0x1000n;
  const sorted = [...memory.regions].sort((a, b) => (a.gpa < b.gpa ? -1 : a.gpa > b.gpa ? 1 : 0));
  for (const r of sorted) {
    if (
      r.gpa < 0n ||
      r.size <= 0n ||
      r.gpa % page !== 0n ||
      r.size % page !== 0n ||
      r.gpa + r.size > memory.size
    )
      return `region 0x${r.gpa.toString(16)}+0x${r.size.toString(16)}`;
  }
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1] as MemoryRegion;
    const b = sorted[i] as MemoryRegion;
    if (a.gpa + a.size > b.gpa)
      return `regions at 0x${a.gpa.toString(16)} and 0x${b.gpa.toString(16)} overlap`;
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
      rule: "VMM-COMPAT-2",
      message: `the VMM refused a device whose host covers the vIOMMU: ${refused}`,
      observed: refused,
      permitted: ["accepted"],
    };
  }
  if (refused === undefined)
    return {
      rule: expected.rule,
      message: `the VMM accepted a device the ${expected.check} check must refuse`,
      observed: "accepted",
      permitted: [`refused: ${expected.pattern.source}`],
    };
  if (expected.pattern.test(refused)) return undefined;
  return {
    rule: expected.rule,
    message: `the VMM refused the device for another reason than the first failing check (${expected.check})`,
    observed: refused,
    permitted: [expected.pattern.source],
  };
}
