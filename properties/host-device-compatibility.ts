/**
 * host-device-compatibility: a VM whose one passed-through device sits behind an arbitrary host
 * IOMMU (width, nesting, FS1GP, FL5LP, PASID width, SRS, EAFS, vendor) and has an arbitrary host
 * side (iommufd or not, behind a bridge or not). The VMM must accept it exactly when the host
 * covers the vIOMMU's options, and otherwise refuse it naming the first failing check in the order
 * of facts §6. An accepted device works: before the guest enables translation its DMA reaches
 * guest memory (and the host shows it attached).
 */
import { type CompatibilityCase, compatibilityCaseArb } from "../src/arbitraries/vmm-config.ts";
import type { PropertyDefinition } from "../src/harness/property.ts";
import { fingerprintPage } from "../src/oracle/index.ts";
import type { PlatformConfig } from "../src/platform/types.ts";
import { fail, runVmmCases } from "./support/vmm-case.ts";
import { vmmJudge } from "./support/vmm-judge.ts";

/** A refusal: the check that fails first and how its message must read. */
export interface Refusal {
  check: string;
  pattern: RegExp;
}

/**
 * The expected verdict, derived from the rules (not from the VMM's code): [VMM-COMPAT-1] ..
 * [VMM-COMPAT-9] in order, then [VMM-COMPAT-11] / [VMM-SHADOW-1]. undefined: accepted.
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
    if (!v.cachingMode) return { check: "caching-mode", pattern: /caching mode|CM/i };
  }
  return undefined;
}

export const hostDeviceCompatibility: PropertyDefinition = {
  id: "host-device-compatibility",
  title:
    "a host device joins the vIOMMU iff the host capabilities cover the vIOMMU's options; otherwise the first failing check is named",
  rules: [
    "VMM-COMPAT-1",
    "VMM-COMPAT-2",
    "VMM-COMPAT-3",
    "VMM-COMPAT-4",
    "VMM-COMPAT-5",
    "VMM-COMPAT-6",
    "VMM-COMPAT-7",
    "VMM-COMPAT-8",
    "VMM-COMPAT-9",
    "VMM-COMPAT-11",
    "VMM-SHADOW-1",
    "VMM-S2-3",
  ],
  needs(d) {
    if (!d.supports.passthroughDevices) return "the model has no passed-through devices";
    if (!d.supports.dmaRead) return "the model's devices cannot issue DMA reads";
    if (d.supports.maxDevices < 4) return "the model takes fewer than four devices";
    return null;
  },
  run(ctx) {
    return runVmmCases(ctx, compatibilityCaseArb(ctx.description), async (vc, c: CompatibilityCase) => {
      const expected = expectedRefusal(c.config);
      const h = c.config.hostIommus[0];
      vc.note(
        `vIOMMU ${JSON.stringify(c.config.viommu)}; host IOMMU ${JSON.stringify(h)}; device 0x${c.sid.toString(16)} ${JSON.stringify(c.config.devices.find((d) => d.sid === c.sid)?.host)}`,
      );
      vc.note(
        expected === undefined ? "expected: accepted" : `expected: refused by the ${expected.check} check`,
      );
      let refused: string | undefined;
      try {
        await vc.model.reset(c.config);
      } catch (e) {
        refused = e instanceof Error ? e.message : String(e);
      }
      const step = vc.check();
      if (expected === undefined && refused !== undefined)
        fail(`the VMM refused a device whose host covers the vIOMMU: ${refused}`, {
          step,
          observed: refused,
          permitted: "accepted",
        });
      if (expected !== undefined && refused === undefined)
        fail(`the VMM accepted a device the ${expected.check} check must refuse`, {
          step,
          observed: "accepted",
          permitted: `refused: ${expected.pattern.source}`,
        });
      if (expected !== undefined && refused !== undefined && !expected.pattern.test(refused))
        fail(
          `the VMM refused the device for another reason than the first failing check (${expected.check})`,
          {
            step,
            observed: refused,
            permitted: expected.pattern.source,
          },
        );
      if (expected !== undefined) return;
      // [VMM-S2-3] accepted: before translation is enabled the device reaches guest memory.
      const page = 0x20_0000;
      await vc.model.platform.writeGuest(BigInt(page), fingerprintPage(page, 9));
      await vc.model.platform.dma({ sid: c.sid, iova: BigInt(page + 0x18), len: 8, write: false });
    });
  },
  judge: (trace) => vmmJudge(trace),
};
