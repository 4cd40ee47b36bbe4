import { describe, expect, it } from "vitest";
import { coherencyBox, vmObservesNonCoherentDma } from "../../src/host/coherency.ts";
import { Errno } from "../../src/spec/iommufd/errno.ts";
import {
  device,
  hwptAlloc,
  ioasAlloc,
  ioasMap,
  iommu,
  makeHost,
  NEST_PARENT,
  vfioAttach,
} from "./helpers.ts";

/** Two IOMMUs: "sc" with snoop control, "nosc" without; devices 1 (sc) and 2 (nosc). */
function twoIommus(noSnoop = { 1: false, 2: false }) {
  return makeHost(
    [iommu({ id: "sc", snoopControl: true }), iommu({ id: "nosc", snoopControl: false })],
    [device(1, { iommu: "sc", noSnoop: noSnoop[1] }), device(2, { iommu: "nosc", noSnoop: noSnoop[2] })],
  );
}

describe("coherency matrix", () => {
  it("[HOST-COH-5] boxes: device no-snoop × IOMMU blocks no-snoop; only box 3 is non-coherent", () => {
    const sc = iommu({ snoopControl: true });
    const nosc = iommu({ snoopControl: false });
    expect(coherencyBox({ noSnoop: true }, sc)).toBe(1);
    expect(coherencyBox({ noSnoop: false }, sc)).toBe(2);
    expect(coherencyBox({ noSnoop: true }, nosc)).toBe(3);
    expect(coherencyBox({ noSnoop: false }, nosc)).toBe(4);
  });

  it("[HOST-COH-6] a VM observes non-coherent DMA exactly when one of its devices is in box 3", () => {
    const iommus = [iommu({ id: "sc", snoopControl: true }), iommu({ id: "nosc", snoopControl: false })];
    for (const ns1 of [false, true]) {
      for (const ns2 of [false, true]) {
        const devs = [
          { noSnoop: ns1, iommu: "sc" },
          { noSnoop: ns2, iommu: "nosc" },
        ];
        expect(vmObservesNonCoherentDma(devs, iommus)).toBe(ns2);
        expect(vmObservesNonCoherentDma([devs[0] as (typeof devs)[0]], iommus)).toBe(false);
      }
    }
    const { host } = twoIommus({ 1: true, 2: true });
    expect(host.nonCoherentDma([1])).toBe(false);
    expect(host.nonCoherentDma([1, 2])).toBe(true);
  });
});

describe("coherency at allocation and attach", () => {
  it("[HOST-COH-2] a HWPT allocated for a device behind a snoop-control IOMMU enforces coherency", () => {
    const { host } = twoIommus();
    const ioas = ioasAlloc(host);
    const cc = hwptAlloc(host, 1, ioas).id;
    const ncc = hwptAlloc(host, 2, ioas).id;
    const byId = (id: number) => host.view().objects.find((o) => o.id === id);
    expect(byId(cc)?.enforceCoherency).toBe(true);
    expect(byId(ncc)?.enforceCoherency).toBe(false);
  });

  it("[HOST-COH-3] a device whose IOMMU lacks snoop control cannot join an enforcing HWPT (EINVAL)", () => {
    const { host } = twoIommus();
    const ioas = ioasAlloc(host);
    const cc = hwptAlloc(host, 1, ioas).id;
    expect(vfioAttach(host, 2, cc).errno).toBe(Errno.EINVAL);
    expect(vfioAttach(host, 1, cc).errno).toBe(0);
  });

  it("[HOST-COH-4] a non-enforcing HWPT takes both kinds while it can still be upgraded; upgrade makes it enforce", () => {
    const { host } = makeHost(
      [
        iommu({ id: "sc", snoopControl: true }),
        iommu({ id: "sc2", snoopControl: true }),
        iommu({ id: "nosc", snoopControl: false }),
      ],
      [device(1, { iommu: "sc" }), device(2, { iommu: "nosc" }), device(3, { iommu: "sc2" })],
    );
    const ioas = ioasAlloc(host);
    const h = hwptAlloc(host, 2, ioas).id; // non-enforcing, no mappings yet
    expect(vfioAttach(host, 2, h).errno).toBe(0);
    // The domain spans an IOMMU without SC: it cannot be made to enforce, so a CC device is refused.
    expect(vfioAttach(host, 1, h).errno).toBe(Errno.EINVAL);
    // A fresh non-enforcing HWPT with no SC-less IOMMU and no mappings is upgraded by a CC device.
    const lone = hwptAlloc(host, 2, ioas).id;
    expect(vfioAttach(host, 3, lone).errno).toBe(0);
    expect(host.view().objects.find((o) => o.id === lone)?.enforceCoherency).toBe(true);
  });

  it("[HOST-COH-4] a stage-2 HWPT that already has mappings cannot be upgraded (EINVAL)", () => {
    const { host } = twoIommus();
    const ioas = ioasAlloc(host);
    const h = hwptAlloc(host, 2, ioas).id;
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n)).toBe(0);
    expect(vfioAttach(host, 1, h).errno).toBe(Errno.EINVAL);
    // Attaching to the IOAS instead gives the CC device its own automatic, enforcing HWPT.
    const auto = vfioAttach(host, 1, ioas);
    expect(auto.errno).toBe(0);
    expect(host.view().objects.find((o) => o.id === auto.pt)).toMatchObject({
      auto: true,
      enforceCoherency: true,
    });
  });
});

describe("ERRATA_772415", () => {
  function errataHost() {
    const ctx = makeHost(
      [iommu({ id: "bad", errata772415: true }), iommu({ id: "good" })],
      [device(1, { iommu: "bad" }), device(2, { iommu: "good" })],
    );
    return { ...ctx, ioas: ioasAlloc(ctx.host) };
  }

  it("[HOST-ERRATA-1] a read-only mapping into an IOAS backing an errata nest parent gives EINVAL", () => {
    const { host, ioas } = errataHost();
    expect(hwptAlloc(host, 1, ioas, NEST_PARENT).errno).toBe(0);
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n, "r")).toBe(Errno.EINVAL);
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n, "w")).toBe(0);
    expect(ioasMap(host, ioas, 0x20000n, 0x200000n, 0x1000n, "rw")).toBe(0);
  });

  it("[HOST-ERRATA-1] the same IOAS takes read-only mappings without the errata, or without a nest parent", () => {
    const { host, ioas } = errataHost();
    expect(hwptAlloc(host, 2, ioas, NEST_PARENT).errno).toBe(0);
    expect(hwptAlloc(host, 1, ioas).errno).toBe(0); // a plain paging HWPT on the errata IOMMU
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n, "r")).toBe(0);
  });

  it("[HOST-ERRATA-1] an errata nest parent cannot be made on an IOAS that holds read-only mappings", () => {
    const { host, ioas } = errataHost();
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n, "r")).toBe(0);
    expect(hwptAlloc(host, 1, ioas, NEST_PARENT).errno).toBe(Errno.EINVAL);
    expect(hwptAlloc(host, 2, ioas, NEST_PARENT).errno).toBe(0);
  });

  it("[HOST-ERRATA-2] a device behind an errata IOMMU cannot join a nest parent holding read-only mappings", () => {
    const { host, ioas } = errataHost();
    const p = hwptAlloc(host, 2, ioas, NEST_PARENT).id;
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n, "r")).toBe(0);
    expect(vfioAttach(host, 1, p).errno).toBe(Errno.EINVAL);
    expect(vfioAttach(host, 2, p).errno).toBe(0);
  });

  it("[HOST-ERRATA-1] once an errata IOMMU uses the nest parent, read-only mappings are refused", () => {
    const { host, ioas } = errataHost();
    const p = hwptAlloc(host, 2, ioas, NEST_PARENT).id;
    expect(vfioAttach(host, 1, p).errno).toBe(0);
    expect(ioasMap(host, ioas, 0x10000n, 0x100000n, 0x1000n, "r")).toBe(Errno.EINVAL);
  });
});
