import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAvoid, qemuDescription, withAvoided } from "../../../src/adapters/qemu/adapter.ts";
import { machineSpecFor } from "../../../src/adapters/qemu/config.ts";
import { parseVersion, type QemuInstall } from "../../../src/adapters/qemu/process.ts";
import { avoidSet } from "../../../src/arbitraries/guest-avoid.ts";
import { descriptorArb, iovaArb } from "../../../src/arbitraries/guest-commands.ts";
import { guestConfigProblem, guestPlatformArb } from "../../../src/arbitraries/guest-config.ts";

const v72: QemuInstall = {
  binary: "qemu-system-x86_64",
  version: parseVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"),
  features: {
    qtestAccel: false,
    iommuProps: ["aw-bits", "caching-mode", "pt", "snoop-control", "x-pasid-mode", "x-scalable-mode"],
    edu: true,
    iommuTestdev: false,
    logItems: ["guest_errors", "unimp"],
  },
};
const v111: QemuInstall = {
  binary: "qemu-system-x86_64",
  root: "/r",
  version: parseVersion("QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-1)"),
  features: {
    qtestAccel: true,
    iommuProps: ["aw-bits", "caching-mode", "fs1gp", "fsts", "pasid-bits", "scalable-mode", "snoop-control"],
    edu: true,
    iommuTestdev: true,
    logItems: ["guest_errors", "invalid_mem", "unimp"],
  },
};
/** Default CAP/ECAP read back from each version (legacy, aw-bits 39). */
const DEFAULTS: Array<[string, QemuInstall, bigint, bigint]> = [
  ["7.2", v72, 0xd2008c22260206n, 0xf42n],
  ["11.1", v111, 0xd2008c22260206n, 0xf42n],
];

describe("generated platforms stay inside the model's limits [QEMU-CONF-4]", () => {
  for (const [name, install, cap, ecap] of DEFAULTS)
    it(`[QEMU-CONF-4] [QEMU-CONF-1] every generated platform is one QEMU ${name} takes`, () => {
      const d = qemuDescription(install, cap, ecap, true);
      const seen = new Set<string>();
      for (const c of fc.sample(guestPlatformArb(d), { numRuns: 300, seed: 5 })) {
        const built = machineSpecFor(install, c);
        expect(built.ok ? [] : built.reasons).toEqual([]);
        for (const dev of c.devices) expect(d.limits?.sids).toContain(dev.sid);
        for (const r of c.memory.regions) expect(r.gpa + r.size <= 0xa0000n || r.gpa >= 0x100000n).toBe(true);
        const v = c.viommu;
        seen.add(
          `${v.scalable ? "sm" : "legacy"}/${v.awBits}/${v.firstStage ? "fs" : "ss"}/cm${+v.cachingMode}`,
        );
      }
      // Both modes, both widths, caching mode on and off; first stage where QEMU has it.
      for (const k of ["legacy/39/ss/cm0", "legacy/48/ss/cm1", "sm/39/ss/cm1", "sm/48/ss/cm0"])
        expect(seen).toContain(k);
      expect([...seen].some((k) => k.includes("/fs/"))).toBe(name === "11.1");
    });
});

describe("known findings the generators steer around [QEMU-AVOID-1]", () => {
  const d = qemuDescription(v72, 0xd2008c22260206n, 0xf42n, true);

  it("[QEMU-AVOID-1] nothing is avoided by default, and what is avoided is in the version", () => {
    expect(parseAvoid(undefined)).toEqual([]);
    expect(withAvoided(d, [])).toBe(d);
    const a = withAvoided(d, parseAvoid("wait-descriptor-without-sw-or-if+fault-info-above-agaw"));
    expect(a.version).toMatch(
      /avoid known findings: wait-descriptor-without-sw-or-if, fault-info-above-agaw/,
    );
    expect(avoidSet(a).size).toBe(2);
  });

  it("[QEMU-AVOID-1] an id the generators cannot avoid is an error", () => {
    expect(() => avoidSet(withAvoided(d, ["no-such-finding"]))).toThrow(/cannot avoid no-such-finding/);
    expect(() => parseAvoid("Bad Id")).toThrow(/not a finding id/);
  });

  it("[QEMU-AVOID-1] [VTD-QI-12] avoiding the wait finding gives waits with IF; otherwise SW = IF = 0 occurs", () => {
    const waits = (avoid: ReadonlySet<string>) =>
      fc
        .sample(descriptorArb(avoid), { numRuns: 400, seed: 3 })
        .filter((x) => x.kind === "wait")
        .map((x) => x.kind === "wait" && (x.sw || x.intr));
    expect(waits(new Set(["wait-descriptor-without-sw-or-if"])).every((x) => x)).toBe(true);
    expect(waits(new Set()).some((x) => !x)).toBe(true);
  });

  it("[QEMU-AVOID-1] [VTD-FAULT-5] avoiding the FI finding keeps addresses below 2^39", () => {
    const top = (avoid: ReadonlySet<string>) =>
      // biome-ignore lint/complexity/useMathMinMax: Math.max does not take bigint
      fc.sample(iovaArb(avoid), { numRuns: 2000, seed: 9 }).reduce((m, a) => (a > m ? a : m), 0n);
    expect(top(new Set(["fault-info-above-agaw"])) < 1n << 39n).toBe(true);
    expect(top(new Set()) >= 1n << 39n).toBe(true);
  });
});

describe("avoided findings narrow the platforms, visibly [QEMU-AVOID-1]", () => {
  const d111 = qemuDescription(v111, 0x80d2008c22260206n, 0xf42n, true);

  it("[QEMU-AVOID-1] scalable-mode reason findings leave legacy mode only; a property needing scalable mode is skipped", () => {
    const d = withAvoided(d111, ["scalable-write-fault-legacy-reason"]);
    for (const c of fc.sample(guestPlatformArb(d), { numRuns: 100, seed: 4 }))
      expect(c.viommu.scalable).toBe(false);
    expect(guestConfigProblem(d, { mode: "scalable" })).toMatch(/leave legacy mode only/);
  });

  it("[QEMU-AVOID-1] the first-stage finding leaves no first-stage platform", () => {
    const d = withAvoided(d111, ["first-stage-width-from-pasid-aw"]);
    const cs = fc.sample(guestPlatformArb(d), { numRuns: 200, seed: 4 });
    expect(cs.some((c) => c.viommu.firstStage)).toBe(false);
    expect(cs.some((c) => c.viommu.scalable)).toBe(true);
  });

  it("[QEMU-AVOID-1] a finding no generator can steer around is refused, not ignored", () => {
    expect(() => avoidSet(withAvoided(d111, ["fault-record-pv-without-pasid"]))).toThrow(/cannot avoid/);
  });
});
