import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseAvoid, qemuDescription, withAvoided } from "../../../src/adapters/qemu/adapter.ts";
import { machineSpecFor } from "../../../src/adapters/qemu/config.ts";
import { parseVersion, type QemuInstall } from "../../../src/adapters/qemu/process.ts";
import { avoidSet } from "../../../src/arbitraries/guest-avoid.ts";
import { descriptorArb } from "../../../src/arbitraries/guest-commands.ts";
import { guestPlatformArb } from "../../../src/arbitraries/guest-config.ts";
import { reachArbs, reachWeights } from "../../../src/arbitraries/guest-reach.ts";

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
    const a = withAvoided(d, parseAvoid("wait-descriptor-without-sw-or-if"));
    expect(a.version).toMatch(/avoid known findings: wait-descriptor-without-sw-or-if/);
    expect(avoidSet(a).size).toBe(1);
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

  it("[QEMU-AVOID-1] [VTD-PASID-4] avoiding the PWSNP finding: single-bit edits of PASID entries never flip PWSNP", () => {
    const derived = reachWeights({ map: 3, raw: 0, attach: 1, pasid: 1, dma: 3, invalidate: 1, faults: 1 });
    const pwsnp = (avoid?: ReadonlySet<string>) =>
      fc
        .sample(
          fc.oneof(
            ...reachArbs({ weights: {}, derived, pasids: true, writes: true, ...(avoid ? { avoid } : {}) }),
          ),
          { numRuns: 600, seed: 5 },
        )
        .filter((c) => "pwsnp" in c)
        .map((c) => (c as unknown as { pwsnp: boolean }).pwsnp);
    const avoided = pwsnp(new Set(["pasid-entry-pwsnp-not-checked"]));
    expect(avoided.length).toBeGreaterThan(0);
    expect(avoided.every((x) => !x)).toBe(true);
    expect(pwsnp().every((x) => x)).toBe(true);
  });

  it("[QEMU-AVOID-1] [HARNESS-KNOWN-1] a finding a relaxation tolerates is not avoided: the error points to --known", () => {
    for (const id of [
      "fault-info-above-agaw",
      "scalable-write-fault-legacy-reason",
      "first-stage-width-from-pasid-aw",
    ])
      expect(() => avoidSet(withAvoided(d, [id]))).toThrow(/tolerate the others with --known/);
  });
});
