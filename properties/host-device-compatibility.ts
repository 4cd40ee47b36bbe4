/**
 * host-device-compatibility: a VM whose one passed-through device sits behind an arbitrary host
 * IOMMU (width, nesting, FS1GP, FL5LP, PASID width, SRS, EAFS, vendor) and has an arbitrary host
 * side (iommufd or not, behind a bridge or not). The VMM must accept it exactly when the host
 * covers the vIOMMU's options, and otherwise refuse it naming the first failing check in the order
 * of facts §6; a malformed guest memory map is refused naming its region. An accepted device works: before the guest enables translation its DMA reaches
 * guest memory (and the host shows it attached).
 */
import { type CompatibilityCase, compatibilityCaseArb } from "../src/arbitraries/vmm-config.ts";
import { CaseFailed } from "../src/cases/case-failed.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases } from "../src/cases/vmm-case.ts";
import { expectedRefusal } from "../src/cases/vmm-compat.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import { fingerprintPage } from "../src/oracle/index.ts";

export { expectedRefusal, type Refusal } from "../src/cases/vmm-compat.ts";

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
    "VMM-COMPAT-10",
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
      // [ORACLE-JUDGE-7] the case's judge rules on the reset (accepted, or refused by the first
      // failing check) and ends the case on a wrong verdict, live as on replay.
      let refused = false;
      try {
        await vc.model.reset(c.config);
      } catch (e) {
        if (e instanceof CaseFailed) throw e;
        refused = true;
      }
      vc.check();
      if (refused) return;
      // [VMM-S2-3] accepted: before translation is enabled the device reaches guest memory.
      const page = 0x20_0000;
      await vc.model.platform.writeGuest(BigInt(page), fingerprintPage(page, 9));
      await vc.model.platform.dma({ sid: c.sid, iova: BigInt(page + 0x18), len: 8, write: false });
    });
  },
  judge: (trace) => vmmJudge(trace),
};
