/**
 * stage2-sharing: a VM's passed-through devices over host IOMMUs that differ in snoop control,
 * errata, address width and vendor, some bound through the VFIO container. The devices must share a
 * stage-2 HWPT exactly as the VMM's rule says (each joins the first HWPT of its container the host
 * accepts, else gets a new one; errata IOMMUs of a nesting guest use a container without read-only
 * regions; VFIO-container devices get the host's automatic HWPTs), so no HWPT mixes coherency or
 * errata classes. Through the host surface, each device is then offered every other stage 2 of the
 * VM: the host must accept exactly what its rules accept. Finally the platform is reset into a
 * second VM: nothing of the first survives into it (a HWPT the first VM made, mapping an IOVA the
 * second never maps, is not reachable from the second VM's devices).
 *
 * What one adapter shows of "never across VMs" is the sequence of VMs it hosts: two VMs at once
 * would need two models, which a property does not get. [VMM-S2-8]
 */
import fc from "fast-check";
import { hostCaseArb } from "../src/arbitraries/host-vm.ts";
import { failCase } from "../src/cases/case-failed.ts";
import {
  expectAcceptance,
  type HostCase,
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
import { runVmmCases, type VmmCase } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import { decodeFingerprint, fingerprintPage } from "../src/oracle/index.ts";
import { Errno, errnoName } from "../src/spec/iommufd/index.ts";

/** The stage 2 the rules predict for each host device: a group index into `states`. */
export interface ExpectedStage2 {
  groups: number[];
  states: Array<Stage2State & { auto: boolean; readOnlyFree: boolean }>;
}

/**
 * [VMM-S2-3] [VMM-S2-4] [VMM-S2-5] [VMM-S2-6] [HOST-HWPT-35] The VMM's sharing, replayed on the
 * rules: containers by errata class (nesting guests only), in each the first HWPT the host accepts
 * (automatic HWPTs for VFIO-container devices), else a new one owned by the device.
 */
export function expectedStage2(c: HostCase): ExpectedStage2 {
  const nesting = c.mode === "nesting";
  const hasReadOnly = c.config.memory.regions.some((r) => r.readOnly);
  const states: ExpectedStage2["states"] = [];
  const groups = c.hosts.map((h, i) => {
    const iommu = iommuOf(c, i);
    const readOnlyFree = nesting && iommu.errata772415;
    const auto = !h.iommufd;
    const candidates = states
      .map((s, k) => ({ s, k }))
      .filter(({ s }) => s.auto === auto && s.readOnlyFree === readOnlyFree);
    for (const { s, k } of candidates) {
      const a = hostAccepts(s, iommu);
      if (a.ok) {
        joined(s, iommu, a);
        return k;
      }
    }
    // Every container holds guest RAM, so a new HWPT has mappings from the start.
    const s = {
      owner: iommu,
      nestParent: nesting && !auto,
      enforcing: iommu.snoopControl,
      hasMappings: true,
      readOnly: hasReadOnly && !readOnlyFree,
      through: [iommu],
      auto,
      readOnlyFree,
    };
    states.push(s);
    return states.length - 1;
  });
  return { groups, states };
}

const X_IOVA = 0x8000_0000n;
const X_GPA = 0x40_0000n;
/** Spare objects the first VM allocates so its marker's id is above anything the second VM holds. */
const SPARE_IDS = 24;

/** Checks the VM's stage 2 against the expectation; returns each device's HWPT id and the HWPT of each group. */
async function checkSharing(
  vc: VmmCase,
  c: HostCase,
  label: string,
): Promise<{ home: number[]; of: number[] }> {
  const view = await hostViewOf(vc);
  if (view === undefined) throw new Error("stage2-sharing needs hostView");
  const step = vc.check();
  const home = ridHwpts(vc, c, view);
  const exp = expectedStage2(c);
  const nesting = c.mode === "nesting";
  for (let i = 0; i < home.length; i++)
    for (let j = i + 1; j < home.length; j++) {
      if (home[i] !== home[j]) continue;
      const a = iommuOf(c, i);
      const b = iommuOf(c, j);
      // [HOST-COH-3] [HOST-COH-4] one coherency class per HWPT.
      if (a.snoopControl !== b.snoopControl)
        failCase(
          `${label}: host devices ${i + 1} and ${j + 1} share HWPT ${home[i]} across coherency classes`,
          {
            step,
            observed: `shared HWPT ${home[i]}`,
            permitted: "a HWPT per coherency class",
          },
        );
      // [VMM-S2-4] errata IOMMUs of a nesting guest never share the nest parent that holds read-only regions.
      if (nesting && a.errata772415 !== b.errata772415)
        failCase(`${label}: host devices ${i + 1} and ${j + 1} share HWPT ${home[i]} across errata classes`, {
          step,
          observed: `shared HWPT ${home[i]}`,
          permitted: "a stage 2 per errata class",
        });
    }
  // [VMM-S2-5] shared exactly as the rule replays: same group, same HWPT; different groups, different HWPTs.
  const of: number[] = [];
  for (let i = 0; i < home.length; i++) {
    const g = exp.groups[i] as number;
    const seen = of[g];
    if (seen === undefined) {
      const clash = of.indexOf(home[i] as number);
      if (clash >= 0)
        failCase(
          `${label}: host device ${i + 1} shares HWPT ${home[i]} with devices it must not share with (the host refuses or the rule gives it another stage 2)`,
          { step, observed: `HWPT ${home[i]}`, permitted: "a stage 2 of its own" },
        );
      of[g] = home[i] as number;
    } else if (seen !== home[i])
      failCase(
        `${label}: host device ${i + 1} got HWPT ${home[i]}, but the first HWPT of its container the host accepts is ${seen}`,
        { step, observed: `HWPT ${home[i]}`, permitted: `HWPT ${seen}` },
      );
  }
  return { home, of };
}

export const stage2Sharing: PropertyDefinition = {
  id: "stage2-sharing",
  title:
    "devices of one VM share a stage-2 HWPT only where the host accepts them, each class has its own, and nothing is shared between VMs",
  rules: [
    "VMM-S2-3",
    "VMM-S2-4",
    "VMM-S2-5",
    "VMM-S2-6",
    "VMM-S2-8",
    "VMM-S2-9",
    "VMM-S2-10",
    "VMM-BIND-14",
    "HOST-COH-3",
    "HOST-COH-4",
    "HOST-ERRATA-2",
    "HOST-HWPT-32",
    "HOST-HWPT-35",
  ],
  needs(d) {
    const p = hostProblem(d);
    if (p !== null) return p;
    if (!d.supports.hostView) return "the model has no hostView (HWPT identities)";
    return null;
  },
  run(ctx) {
    const skip = withoutDeviceFiles(ctx);
    if (skip !== undefined) return skip;
    const vm = (mode: HostVmMode) =>
      fc
        .record({ n: fc.integer({ min: 3, max: 4 }), rom: fc.constantFrom(0n, 0x10_0000n) })
        .chain(({ n, rom }) => hostCaseArb(mode, { devices: n, readOnlyTop: rom, vfioCompat: true }));
    const input = fc
      .constantFrom<HostVmMode>("plain", "nesting")
      .chain((mode) => fc.record({ a: vm(mode), b: vm(mode) }));
    return runVmmCases(ctx, input, async (vc, { a, b }) => {
      const describeVm = (c: HostCase) =>
        `${c.mode} VM; IOMMUs ${c.iommus.map((i) => `${i.id}(${i.kind}, ${i.awBits}-bit, SC ${i.snoopControl ? 1 : 0}${i.errata772415 ? ", errata" : ""})`).join(", ")}; devices ${c.hosts.map((h, i) => `${i + 1}@${h.iommu}${h.iommufd ? "" : " (VFIO container)"}`).join(", ")}${c.config.memory.regions.some((r) => r.readOnly) ? "; with a read-only region" : ""}`;
      vc.note(`first ${describeVm(a)}`);
      await resetAccepted(vc, a);
      const host = new HostClient(vc.model.host as NonNullable<typeof vc.model.host>);
      const { home, of } = await checkSharing(vc, a, "first VM");
      const exp = expectedStage2(a);
      // Offer each iommufd device (whose stage 2 is not automatic: leaving it must not free it)
      // every other stage 2 of the VM; the host accepts exactly what its rules accept.
      for (let i = 0; i < a.hosts.length; i++) {
        const mine = exp.groups[i] as number;
        if (exp.states[mine]?.auto) continue;
        const iommu = iommuOf(a, i);
        for (const [g, hwpt] of of.entries()) {
          const state = exp.states[g];
          if (g === mine || state === undefined) continue;
          const acc = hostAccepts(state, iommu);
          vc.note(`host device ${i + 1} is offered HWPT ${hwpt}`);
          const r = await host.attach(i + 1, undefined, hwpt);
          expectAcceptance(
            `host device ${i + 1} (IOMMU ${iommu.id}) attaching to HWPT ${hwpt} (${state.auto ? "automatic, " : ""}owned by IOMMU ${state.owner.id}${state.enforcing ? ", enforcing" : ""}${state.readOnly ? ", read-only regions" : ""})`,
            r.errno,
            acc,
            vc.check(),
          );
          if (r.errno !== 0) continue;
          const back = await host.attach(i + 1, undefined, home[i] as number);
          if (back.errno !== 0)
            failCase(
              `host device ${i + 1}: replacing back to its stage 2 (HWPT ${home[i]}) gave ${errnoName(back.errno)}`,
              {
                step: vc.check(),
              },
            );
        }
      }
      // A marker in the first VM: a HWPT mapping X_IOVA, an IOVA no VM's stage 2 maps (guest memory is
      // 16 MiB), with an id above any object of the second VM.
      let id = 0;
      while (id < SPARE_IDS) {
        const s = await host.ioasAlloc();
        if (s.errno !== 0) failCase(`IOAS_ALLOC gave ${errnoName(s.errno)}`, { step: vc.check() });
        id = s.value as number;
      }
      const page = fingerprintPage(Number(X_GPA), 0x5a);
      await vc.model.platform.writeGuest(X_GPA, page);
      const m = await host.ioasMap(id, X_IOVA, X_GPA, 0x1000n);
      const h = await host.hwptAllocPaging(1, id);
      if (m.errno !== 0 || h.errno !== 0)
        failCase(`the first VM's marker: IOAS_MAP ${errnoName(m.errno)}, HWPT_ALLOC ${errnoName(h.errno)}`, {
          step: vc.check(),
        });
      const marker = h.value as number;
      // [VMM-S2-10] the marker maps guest page X_GPA (user address 0x4000_0000 + X_GPA): device 1 reads it.
      const on = await host.attach(1, undefined, marker);
      const got = await host.read(1, X_IOVA + 0x18n);
      const mstep = vc.check();
      const hit = got.status === "ok" ? decodeFingerprint(got.data ?? new Uint8Array(), 0x18) : null;
      if (on.errno !== 0 || hit?.gpa !== Number(X_GPA) + 0x18)
        failCase(
          `first VM: host device 1 on the marker HWPT ${marker} (attach ${errnoName(on.errno)}) must read guest page 0x${X_GPA.toString(16)}`,
          {
            step: mstep,
            observed:
              got.status === "ok"
                ? hit === null
                  ? "no fingerprint"
                  : `GPA 0x${hit.gpa.toString(16)}`
                : "aborted",
            permitted: `GPA 0x${X_GPA.toString(16)}`,
          },
        );
      vc.note(`second ${describeVm(b)}`);
      await resetAccepted(vc, b);
      await checkSharing(vc, b, "second VM");
      await vc.model.platform.writeGuest(X_GPA, page);
      // [VMM-S2-8] the first VM's HWPT is not an object of the second: ENOENT, or (if the second VM
      // has an object of that id) not a way to the first VM's mapping.
      const r = await host.attach(1, undefined, marker);
      const step = vc.check();
      const dma = await host.read(1, X_IOVA + 0x18n);
      const dstep = vc.check();
      if (dma.status === "ok")
        failCase(
          `second VM: host device 1 reached IOVA 0x${X_IOVA.toString(16)}, mapped only by the first VM's HWPT ${marker} (attach gave ${errnoName(r.errno)})`,
          { step: dstep, observed: "completed", permitted: "aborted" },
        );
      if (r.errno === 0)
        vc.note(
          `HWPT id ${marker} names an object of the second VM (attach succeeded, the first VM's mapping is not there)`,
        );
      else if (r.errno !== Errno.ENOENT && r.errno !== Errno.EINVAL)
        failCase(`second VM: attaching to the first VM's HWPT id ${marker} gave ${errnoName(r.errno)}`, {
          step,
          observed: errnoName(r.errno),
          permitted: "ENOENT",
        });
    });
  },
  judge: (trace) => vmmJudge(trace),
};
