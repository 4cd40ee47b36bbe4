/**
 * attach-detach: random attach, replace and detach sequences of host devices and their PASIDs
 * over paging HWPTs that map the same IOVA to different fingerprinted pages, through the VFIO
 * cdev ioctls. After each step a host DMA must reach exactly the page of the HWPT the slot is
 * attached to, and be blocked when it is detached; PASID attachments need a PASID-capable HWPT
 * and a PASID within the IOMMU's width; attach writes the HWPT id back; detaching what is not
 * attached succeeds and changes nothing; the host view agrees.
 */
import fc from "fast-check";
import { hostSetupArb } from "../src/arbitraries/host-vm.ts";
import { failCase } from "../src/cases/case-failed.ts";
import { HostClient, hostProblem, withoutDeviceFiles } from "../src/cases/host-client.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import type { HostView } from "../src/contract/types.ts";
import { decodeFingerprint, fingerprintPage } from "../src/oracle/index.ts";
import { Errno, errnoName } from "../src/spec/iommufd/index.ts";

const IOVA = 0x10_0000n;
const PASIDS = [0, 3, 200] as const;

type Op =
  | { op: "attach"; dev: number; pasid: number; hwpt: number }
  | { op: "detach"; dev: number; pasid: number }
  | { op: "dma"; dev: number; pasid: number; mapped: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("attach" as const),
      dev: fc.integer({ min: 0, max: 2 }),
      pasid: fc.constantFrom(...PASIDS),
      hwpt: fc.integer({ min: 0, max: 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("detach" as const),
      dev: fc.integer({ min: 0, max: 2 }),
      pasid: fc.constantFrom(...PASIDS),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("dma" as const),
      dev: fc.integer({ min: 0, max: 2 }),
      pasid: fc.constantFrom(...PASIDS),
      mapped: fc.boolean(),
    }),
  },
);

export const attachDetach: PropertyDefinition = {
  id: "attach-detach",
  title:
    "attach, replace and detach through VFIO: DMA reaches the attached HWPT's pages, and is blocked after detach",
  rules: [
    "HOST-UAPI-70",
    "HOST-UAPI-71",
    "HOST-UAPI-72",
    "HOST-UAPI-31",
    "HOST-UAPI-53",
    "HOST-HWPT-30",
    "HOST-HWPT-31",
    "HOST-HWPT-33",
    "HOST-HWPT-34",
    "HOST-HWPT-36",
    "HOST-XLATE-10",
    "HOST-XLATE-11",
    "VMM-BIND-14",
  ],
  needs: (d) => hostProblem(d),
  run(ctx) {
    const skip = withoutDeviceFiles(ctx);
    if (skip !== undefined) return skip;
    const input = fc.record({ setup: hostSetupArb(), ops: fc.array(opArb, { minLength: 4, maxLength: 24 }) });
    const hostView = ctx.description.supports.hostView;
    return runVmmCases(ctx, input, async (vc, v) => {
      await vc.model.reset(v.setup.config);
      const host = new HostClient(vc.model.host as NonNullable<typeof vc.model.host>);
      const sids = v.setup.config.devices.filter((d) => d.kind === "passthrough").map((d) => d.sid);
      // Per device, two IOASes mapping IOVA to two fingerprinted pages, each under its own HWPT.
      const hwpts: number[][] = [];
      const pageOf = new Map<number, number>();
      const pasidBits = v.setup.hosts.map(
        (h) => v.setup.iommus.find((i) => i.id === h.iommu)?.pasidBits ?? 0,
      );
      for (let dev = 0; dev < 3; dev++) {
        const devId = dev + 1;
        const mine: number[] = [];
        for (let k = 0; k < 2; k++) {
          const gpa = 0x40_0000 + (dev * 2 + k) * 0x1000;
          await vc.model.platform.writeGuest(BigInt(gpa), fingerprintPage(gpa, 1 + dev * 2 + k));
          const ioas = await host.ioasAlloc();
          const m = await host.ioasMap(ioas.value as number, IOVA, BigInt(gpa), 0x1000n);
          const h = await host.hwptAllocPaging(devId, ioas.value as number, {
            pasid: (pasidBits[dev] ?? 0) > 0,
          });
          if (ioas.errno !== 0 || m.errno !== 0 || h.errno !== 0)
            failCase(
              `setup failed: IOAS_ALLOC ${errnoName(ioas.errno)}, IOAS_MAP ${errnoName(m.errno)}, HWPT_ALLOC ${errnoName(h.errno)}`,
              { step: vc.check() },
            );
          mine.push(h.value as number);
          pageOf.set(h.value as number, gpa);
        }
        hwpts.push(mine);
        // Start from a known state: the VMM attached the RID to its stage 2; take it off.
        if ((await host.detach(devId, undefined)) !== 0)
          failCase(`device ${devId}: detaching the RID failed`, { step: vc.check() });
      }
      // [HOST-HWPT-33] a nested HWPT tried through every device's IOMMU: one without nesting (or
      // not VT-d) refuses it — ENODEV, or EINVAL when a stage-2 check comes first (HOST-HWPT-32).
      const iommuOf = (dev: number) => v.setup.iommus.find((i) => i.id === v.setup.hosts[dev]?.iommu);
      const owner = [0, 1, 2].find((dev) => iommuOf(dev)?.nesting && iommuOf(dev)?.kind === "intel-vtd");
      if (owner !== undefined) {
        const ioas = await host.ioasAlloc();
        const parent = await host.hwptAllocPaging(owner + 1, ioas.value as number, { nestParent: true });
        const nested = await host.hwptAllocNested(owner + 1, parent.value as number, 0x40_0000n);
        if (ioas.errno !== 0 || parent.errno !== 0 || nested.errno !== 0)
          failCase(
            `nested setup through device ${owner + 1} failed: IOAS_ALLOC ${errnoName(ioas.errno)}, nest parent ${errnoName(parent.errno)}, nested HWPT ${errnoName(nested.errno)}`,
            { step: vc.check() },
          );
        for (let dev = 0; dev < 3; dev++) {
          const iommu = iommuOf(dev);
          vc.note(`attach device ${dev + 1} RID to nested HWPT ${nested.value} (IOMMU ${iommu?.id})`);
          const r = await host.attach(dev + 1, undefined, nested.value as number);
          const step = vc.check();
          if (
            !(iommu?.nesting && iommu.kind === "intel-vtd") &&
            r.errno !== Errno.ENODEV &&
            r.errno !== Errno.EINVAL
          )
            failCase(
              `device ${dev + 1}: attaching a nested HWPT through an IOMMU without nesting gave ${errnoName(r.errno)}`,
              {
                step,
                observed: errnoName(r.errno),
                permitted: ["ENODEV", "EINVAL"],
              },
            );
          if (r.errno === 0 && (await host.detach(dev + 1, undefined)) !== 0)
            failCase(`device ${dev + 1}: detaching the RID failed`, { step: vc.check() });
          // [HOST-UAPI-53] allocating a nested HWPT on that nest parent through a device whose
          // IOMMU cannot nest gives EOPNOTSUPP (checked before the parent's driver, HOST-UAPI-53).
          if (iommu?.nesting && iommu.kind === "intel-vtd") continue;
          vc.note(`HWPT_ALLOC nested on HWPT ${parent.value} through device ${dev + 1} (IOMMU ${iommu?.id})`);
          const a = await host.hwptAllocNested(dev + 1, parent.value as number, 0x40_0000n);
          const astep = vc.check();
          if (a.errno !== Errno.EOPNOTSUPP)
            failCase(
              `device ${dev + 1}: a nested HWPT_ALLOC through an IOMMU without nesting gave ${errnoName(a.errno)}`,
              { step: astep, observed: errnoName(a.errno), permitted: "EOPNOTSUPP" },
            );
        }
        // [HOST-UAPI-31] nothing uses them any more: the nested HWPT, its parent and the IOAS go.
        for (const [id, what] of [
          [nested.value, "nested HWPT"],
          [parent.value, "nest parent"],
          [ioas.value, "IOAS"],
        ] as const) {
          const errno = await host.destroy(id as number);
          if (errno !== 0)
            failCase(`DESTROY of the unused ${what} gave ${errnoName(errno)}`, { step: vc.check() });
        }
        // [HOST-UAPI-31] once destroyed (and nothing allocated since), each id is unknown: ENOENT.
        for (const [id, what] of [
          [nested.value, "nested HWPT"],
          [parent.value, "nest parent"],
          [ioas.value, "IOAS"],
        ] as const) {
          vc.note(`DESTROY the destroyed ${what} ${id} again`);
          const errno = await host.destroy(id as number);
          const step = vc.check();
          if (errno !== Errno.ENOENT)
            failCase(`DESTROY of the already destroyed ${what} ${id} gave ${errnoName(errno)}`, {
              step,
              observed: errnoName(errno),
              permitted: "ENOENT",
            });
        }
      }
      const state = new Map<string, number>();
      const key = (dev: number, pasid: number) => `${dev}/${pasid}`;
      for (const o of v.ops) {
        const devId = o.dev + 1;
        const pasid = o.pasid === 0 ? undefined : o.pasid;
        const slot = `device ${devId} ${pasid === undefined ? "RID" : `PASID ${pasid}`}`;
        if (o.op === "attach") {
          const target = hwpts[o.dev]?.[o.hwpt] as number;
          vc.note(`attach ${slot} to HWPT ${target}`);
          const r = await host.attach(devId, pasid, target);
          const step = vc.check();
          const bits = pasidBits[o.dev] ?? 0;
          // [HOST-HWPT-31] a PASID must fit the IOMMU's width and the HWPT must be PASID-capable.
          const ok = pasid === undefined || (bits > 0 && pasid < 2 ** bits);
          if (ok && r.errno !== 0)
            failCase(`${slot}: attach failed with ${errnoName(r.errno)}`, {
              step,
              observed: r.errno,
              permitted: 0,
            });
          if (!ok && r.errno !== Errno.EINVAL)
            failCase(`${slot}: attach of a PASID the IOMMU cannot take gave ${errnoName(r.errno)}`, {
              step,
              observed: r.errno,
              permitted: Errno.EINVAL,
            });
          if (ok && r.value !== target)
            failCase(`${slot}: attach wrote back pt_id ${r.value}, not ${target}`, { step });
          if (ok) state.set(key(o.dev, o.pasid), target);
        } else if (o.op === "detach") {
          vc.note(`detach ${slot}`);
          const errno = await host.detach(devId, pasid);
          const step = vc.check();
          const expected = 0; // [HOST-UAPI-71] detaching what is not attached succeeds too
          if (errno !== expected)
            failCase(`${slot}: detach gave ${errnoName(errno)}`, {
              step,
              observed: errno,
              permitted: expected,
            });
          state.delete(key(o.dev, o.pasid));
        } else {
          const iova = o.mapped ? IOVA + 0x18n : IOVA + 0x10_0000n;
          vc.note(`${slot} reads IOVA 0x${iova.toString(16)}`);
          const r = await host.read(devId, iova, pasid);
          const step = vc.check();
          const at = state.get(key(o.dev, o.pasid));
          const gpa = at === undefined || !o.mapped ? undefined : (pageOf.get(at) as number) + 0x18;
          if (gpa === undefined && r.status === "ok")
            failCase(
              `${slot}: DMA completed but the slot is ${at === undefined ? "detached (blocking)" : "attached to a HWPT without that IOVA"}`,
              { step, observed: "ok", permitted: "aborted" },
            );
          if (gpa !== undefined) {
            const hit = r.status === "ok" ? decodeFingerprint(r.data ?? new Uint8Array(), 0x18) : null;
            if (hit?.gpa !== gpa)
              failCase(`${slot}: attached to HWPT ${at}, the DMA must read GPA 0x${gpa.toString(16)}`, {
                step,
                observed:
                  r.status === "ok"
                    ? hit === null
                      ? "no fingerprint"
                      : `GPA 0x${hit.gpa.toString(16)}`
                    : "aborted",
                permitted: `GPA 0x${gpa.toString(16)}`,
              });
          }
        }
        if (hostView && o.op !== "dma") {
          const view = await (vc.model.platform.hostView as () => Promise<HostView>)();
          const step = vc.check();
          for (let dev = 0; dev < 3; dev++)
            for (const p of PASIDS) {
              const a = view.attachments.find((x) => x.sid === sids[dev] && (x.pasid ?? 0) === p);
              const want = state.get(key(dev, p));
              if ((a?.hwptId ?? undefined) !== want)
                failCase(
                  `host view: device ${dev + 1} ${p === 0 ? "RID" : `PASID ${p}`} shows HWPT ${a?.hwptId ?? "none"}, expected ${want ?? "none"}`,
                  { step },
                );
            }
        }
      }
    });
  },
  judge: (trace) => vmmJudge(trace),
};
