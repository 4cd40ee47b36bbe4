/**
 * coherency-matrix: host devices that can or cannot issue no-snoop requests, behind host IOMMUs with
 * or without snoop control, in one VM. After the VMM builds the VM's stage 2, no HWPT holds devices
 * of both coherency classes, and the host view says the VM can observe non-coherent DMA exactly
 * when a device can issue no-snoop behind an IOMMU without snoop control (box 3). Then, through the
 * host surface, HWPTs are allocated for one device (on an empty IOAS or one with a mapping,
 * with that device attached first or not) and another device attaches: the host must accept exactly
 * what the coherency rules allow (an enforcing HWPT refuses an IOMMU without snoop control; a
 * non-enforcing one is upgraded for a device with it only when it never had a mapping and every
 * IOMMU it is attached through has snoop control).
 *
 * The expected answers come from the rules (`hostAccepts`), not from the model's code; the errata
 * and sharing properties use the same helper.
 */
import fc from "fast-check";
import { hostCaseArb } from "../src/arbitraries/host-vm.ts";
import { failCase } from "../src/cases/case-failed.ts";
import {
  expectAcceptance,
  expectedNonCoherent,
  type HostVmMode,
  hostAccepts,
  hostViewOf,
  iommuOf,
  joined,
  resetAccepted,
  ridHwpts,
  type Stage2State,
} from "../src/cases/host-case.ts";
import { HostClient, hostProblem, withoutDeviceFiles } from "../src/cases/host-client.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import { errnoName } from "../src/spec/iommufd/index.ts";

// ---------------------------------------------------------------------------
// The property

interface Trial {
  owner: number;
  joiner: number;
  ownerFirst: boolean;
  mapped: boolean;
}

const trialArb: fc.Arbitrary<Trial> = fc.record({
  owner: fc.integer({ min: 0, max: 2 }),
  joiner: fc.integer({ min: 0, max: 2 }),
  ownerFirst: fc.boolean(),
  mapped: fc.boolean(),
});

const TRIAL_IOVA = 0x10_0000n;
const TRIAL_GPA = 0x20_0000n;
/** ECAP.SC (bit 7) in GET_HW_INFO's VT-d payload. */
const ECAP_SC = 1n << 7n;

export const coherencyMatrix: PropertyDefinition = {
  id: "coherency-matrix",
  title:
    "device no-snoop × IOMMU snoop control: attach outcomes follow the coherency rules and non-coherent DMA is reported exactly for box 3",
  rules: [
    "HOST-COH-1",
    "HOST-COH-2",
    "HOST-COH-3",
    "HOST-COH-4",
    "HOST-COH-5",
    "HOST-COH-6",
    "HOST-HWPT-1",
    "HOST-HWPT-32",
    "HOST-HWPT-34",
    "VMM-S2-5",
    "VMM-S2-9",
    "VMM-S2-10",
    "VMM-S2-11",
  ],
  needs: (d) => hostProblem(d),
  run(ctx) {
    const skip = withoutDeviceFiles(ctx);
    if (skip !== undefined) return skip;
    const input = fc
      .constantFrom<HostVmMode>("plain", "nesting")
      .chain((mode) =>
        fc.record({ c: hostCaseArb(mode), trials: fc.array(trialArb, { minLength: 2, maxLength: 5 }) }),
      );
    return runVmmCases(ctx, input, async (vc, { c, trials }) => {
      vc.note(
        `${c.mode} VM; IOMMUs ${c.iommus.map((i) => `${i.id}(${i.kind}, ${i.awBits}-bit, SC ${i.snoopControl ? 1 : 0})`).join(", ")}; devices ${c.hosts.map((h, i) => `${i + 1}@${h.iommu}${h.noSnoop ? " no-snoop" : ""}`).join(", ")}`,
      );
      await resetAccepted(vc, c);
      const host = new HostClient(vc.model.host as NonNullable<typeof vc.model.host>);
      // [HOST-COH-1] GET_HW_INFO reports snoop control as the IOMMU has it (VT-d IOMMUs).
      for (let dev = 0; dev < c.hosts.length; dev++) {
        const iommu = iommuOf(c, dev);
        if (iommu.kind !== "intel-vtd") continue;
        const info = await host.getHwInfo(dev + 1);
        const step = vc.check();
        const sc = ((info.value?.ecap ?? 0n) & ECAP_SC) !== 0n;
        if (info.errno !== 0 || sc !== iommu.snoopControl)
          failCase(
            `GET_HW_INFO of host device ${dev + 1}: ECAP.SC ${sc ? 1 : 0}, its IOMMU ${iommu.id} has ${iommu.snoopControl ? 1 : 0}`,
            {
              step,
              observed: info.errno === 0 ? `SC ${sc ? 1 : 0}` : errnoName(info.errno),
              permitted: `SC ${iommu.snoopControl ? 1 : 0}`,
            },
          );
      }
      const view = await hostViewOf(vc);
      let home: number[] | undefined;
      if (view !== undefined) {
        const step = vc.check();
        home = ridHwpts(vc, c, view);
        // [HOST-COH-3] [HOST-COH-4] [VMM-S2-5] one HWPT never serves both coherency classes.
        for (let i = 0; i < home.length; i++)
          for (let j = i + 1; j < home.length; j++)
            if (home[i] === home[j] && iommuOf(c, i).snoopControl !== iommuOf(c, j).snoopControl)
              failCase(
                `host devices ${i + 1} and ${j + 1} share HWPT ${home[i]}, but only one of their IOMMUs has snoop control`,
                { step, observed: `shared HWPT ${home[i]}`, permitted: "a HWPT per coherency class" },
              );
        // [HOST-COH-6] [VMM-S2-11] non-coherent DMA is visible exactly with a box-3 device.
        const want = expectedNonCoherent(c.config);
        if (view.nonCoherentDma === undefined) vc.note("the host view does not report nonCoherentDma");
        else if (view.nonCoherentDma !== want)
          failCase(
            `host view: nonCoherentDma is ${view.nonCoherentDma}, but ${want ? "a device can issue no-snoop behind an IOMMU without snoop control" : "no device can issue no-snoop behind an IOMMU without snoop control"}`,
            { step, observed: view.nonCoherentDma, permitted: want },
          );
      }
      for (const t of trials) {
        const owner = iommuOf(c, t.owner);
        const joiner = iommuOf(c, t.joiner);
        vc.note(
          `trial: HWPT for device ${t.owner + 1} on an IOAS ${t.mapped ? "with a mapping" : "without mappings"}${t.ownerFirst ? ", device attached" : ""}; device ${t.joiner + 1} attaches`,
        );
        const ioas = await host.ioasAlloc();
        if (ioas.errno !== 0) failCase(`IOAS_ALLOC gave ${errnoName(ioas.errno)}`, { step: vc.check() });
        const ioasId = ioas.value as number;
        if (t.mapped) {
          // [VMM-S2-10] guest page TRIAL_GPA is user address 0x4000_0000 + TRIAL_GPA.
          const m = await host.ioasMap(ioasId, TRIAL_IOVA, TRIAL_GPA, 0x1000n);
          if (m.errno !== 0)
            failCase(`IOAS_MAP of a guest page gave ${errnoName(m.errno)}`, { step: vc.check() });
        }
        const h = await host.hwptAllocPaging(t.owner + 1, ioasId);
        if (h.errno !== 0)
          failCase(`HWPT_ALLOC for host device ${t.owner + 1} gave ${errnoName(h.errno)}`, {
            step: vc.check(),
          });
        const hwpt = h.value as number;
        // [HOST-COH-2] enforcing from allocation exactly when the owner's IOMMU has snoop control.
        const s2: Stage2State = {
          owner,
          nestParent: false,
          enforcing: owner.snoopControl,
          hasMappings: t.mapped,
          readOnly: false,
          through: [],
        };
        const moved: number[] = [];
        if (t.ownerFirst) {
          const a = hostAccepts(s2, owner);
          const r = await host.attach(t.owner + 1, undefined, hwpt);
          expectAcceptance(
            `host device ${t.owner + 1} joins the HWPT allocated for it`,
            r.errno,
            a,
            vc.check(),
          );
          joined(s2, owner, a);
          if (r.errno === 0) moved.push(t.owner);
        }
        if (!(t.ownerFirst && t.joiner === t.owner)) {
          const a = hostAccepts(s2, joiner);
          const r = await host.attach(t.joiner + 1, undefined, hwpt);
          const step = vc.check();
          expectAcceptance(
            `host device ${t.joiner + 1} (IOMMU ${joiner.id}, SC ${joiner.snoopControl ? 1 : 0}) joins HWPT ${hwpt} of device ${t.owner + 1} (IOMMU ${owner.id}, ${s2.enforcing ? "enforcing" : "not enforcing"}${t.mapped ? ", mapped" : ""})`,
            r.errno,
            a,
            step,
          );
          joined(s2, joiner, a);
          if (r.errno === 0 && !moved.includes(t.joiner)) moved.push(t.joiner);
          if (view !== undefined && home !== undefined) {
            const now = await hostViewOf(vc);
            const vstep = vc.check();
            const sid = c.config.devices.filter((d) => d.kind === "passthrough")[t.joiner]?.sid;
            const shown = now?.attachments.find((x) => x.sid === sid && x.pasid === undefined)?.hwptId;
            const want = a.ok ? hwpt : home[t.joiner];
            if (shown !== want)
              failCase(
                `host view: host device ${t.joiner + 1} shows HWPT ${shown ?? "none"}, expected ${want}`,
                {
                  step: vstep,
                },
              );
          }
        }
        // Put the devices back on their stage 2 and free the trial's objects.
        for (const dev of moved) {
          const back = home?.[dev];
          if (back === undefined) continue;
          const r = await host.attach(dev + 1, undefined, back);
          if (r.errno !== 0)
            failCase(
              `host device ${dev + 1}: replacing back to its stage 2 (HWPT ${back}) gave ${errnoName(r.errno)}`,
              {
                step: vc.check(),
              },
            );
        }
        if (home !== undefined) {
          if ((await host.destroy(hwpt)) !== 0)
            failCase(`DESTROY of the unused HWPT ${hwpt} failed`, { step: vc.check() });
          if ((await host.destroy(ioasId)) !== 0)
            failCase(`DESTROY of the unused IOAS ${ioasId} failed`, { step: vc.check() });
        }
      }
    });
  },
  judge: (trace) => vmmJudge(trace),
};
