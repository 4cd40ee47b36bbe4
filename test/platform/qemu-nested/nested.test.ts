/**
 * The qemu:nested adapter without QEMU: spec parsing, L0 and L2 command lines, configurations it
 * takes, L1's host IOMMU, generated VMM configurations fitted to a real host, and the
 * compatibility judge on QEMU's own refusal messages.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { properties } from "../../../properties/index.ts";
import { loadAdapter, parseAdapterSpec } from "../../../src/adapters/adapter-spec.ts";
import type { QemuInstall } from "../../../src/adapters/qemu/process.ts";
import {
  HOST_IOMMU_ID,
  hostIommuOf,
  NESTED_SIDS,
  parseNestedOptions,
  specFor,
} from "../../../src/adapters/qemu-nested/adapter.ts";
import { l0Args } from "../../../src/adapters/qemu-nested/chain.ts";
import { l0Blocked, l2Args } from "../../../src/adapters/qemu-nested/l2.ts";
import { compatibilityCaseArb } from "../../../src/arbitraries/vmm-config.ts";
import {
  AVOID_CM_BEFORE_BACKEND,
  AVOID_SC_PASSTHROUGH,
  fitVmmConfig,
} from "../../../src/arbitraries/vmm-fit.ts";
import { shadowPlatformArb } from "../../../src/arbitraries/vmm-shadow.ts";
import { expectedRefusal, judgeReset } from "../../../src/cases/vmm-compat.ts";
import type { ModelDescription, PlatformConfig } from "../../../src/contract/types.ts";
import { legacyViommu } from "../../../src/contract/viommu-options.ts";
import { replayTrace } from "../../../src/runner/replay.ts";
import { loadTraceFile } from "../../../src/trace/load.ts";

/** CAP/ECAP of L0's VT-d (QEMU 7.2, aw-bits 39) as L1 read them. */
const L1_CAP = 0xd2008c22260206n;
const L1_ECAP = 0xf00f4an;

const install11: QemuInstall = {
  binary: "qemu-system-x86_64",
  version: { major: 11, minor: 1, micro: 3, text: "QEMU emulator version 11.1.3" },
  features: {
    qtestAccel: true,
    iommuProps: ["aw-bits", "caching-mode", "scalable-mode", "pasid-bits", "fsts", "fs1gp", "intremap"],
    edu: true,
    iommuTestdev: true,
    logItems: ["guest_errors", "invalid_mem"],
  },
};

const host = hostIommuOf(L1_CAP, L1_ECAP);
const ptHost = { iommu: HOST_IOMMU_ID, noSnoop: false, behindBridge: false, iommufd: false };

const nestedDescription: ModelDescription = {
  name: "qemu:nested",
  version: "test",
  supports: {
    legacy: true,
    scalable: true,
    awBits: [39, 48],
    cachingMode: [false, true],
    firstStage: true,
    secondStage: true,
    nested: false,
    passThrough: true,
    pasidRequests: false,
    dmaRead: true,
    dmaWrite: true,
    passthroughDevices: true,
    hostSurface: false,
    hostView: false,
    maxDevices: 6,
  },
  limits: {
    viommu: [
      { awBits: 39, hawBits: 39, scalable: false, firstStage: false, faultRecords: 1, passThrough: true },
      { awBits: 48, hawBits: 48, scalable: false, firstStage: false, faultRecords: 1, passThrough: true },
      { awBits: 39, hawBits: 39, scalable: true, firstStage: false, faultRecords: 1, passThrough: true },
      { awBits: 48, hawBits: 48, scalable: true, firstStage: false, faultRecords: 1, passThrough: true },
      { awBits: 48, hawBits: 48, scalable: true, firstStage: true, secondStage: false, faultRecords: 1 },
    ],
    sids: [...NESTED_SIDS],
    memoryHoles: [{ gpa: 0xa0000n, size: 0x60000n }],
    emulatedReadData: false,
    passthrough: { max: 2, hostIommus: [host], host: ptHost, readOnlyMemory: false },
  },
};

const config = (over: Partial<PlatformConfig> = {}): PlatformConfig => ({
  viommu: legacyViommu({ cachingMode: true, awBits: 39, hawBits: 39 }),
  devices: [
    { sid: 0x08, kind: "emulated" },
    { sid: 0x10, kind: "passthrough", host: { ...ptHost } },
  ],
  memory: {
    size: 16n << 20n,
    regions: [
      { gpa: 0n, size: 0xa0000n, readOnly: false },
      { gpa: 0x100000n, size: (16n << 20n) - 0x100000n, readOnly: false },
    ],
  },
  hostIommus: [{ ...host }],
  ...over,
});

const FINDINGS = join(import.meta.dirname, "../../../reference-traces/qemu-nested");

describe("qemu:nested", () => {
  it("[QEMU-FIND-1] [QEMU-FIND-2] every VMM-side finding passes on the reference, judged by its property", async () => {
    const names = readdirSync(FINDINGS).filter((f) => f.endsWith(".expect"));
    expect(names.length).toBeGreaterThanOrEqual(2);
    const reference = await loadAdapter("reference");
    try {
      for (const name of names) {
        const trace = await loadTraceFile(join(FINDINGS, name.replace(/\.expect$/, ".json")));
        const judge = properties.find((p) => p.id === trace.property)?.judge?.(trace);
        if (judge === undefined) throw new Error(`${trace.property} has no judge`);
        const r = await replayTrace(trace, reference, judge);
        expect(r.outcome, `${name}: ${r.message}`).toBe("passes-now");
      }
    } finally {
      await reference.close();
    }
  });

  it("[HARNESS-ADAPTER-1] [QEMU-NEST-7] parses qemu:nested with its options and checks them", () => {
    expect(parseAdapterSpec("qemu:nested,root=/x,timeout=5000")).toEqual({
      kind: "qemu-nested",
      options: { root: "/x", timeout: "5000" },
    });
    expect(parseAdapterSpec("qemu:root=/x")).toEqual({ kind: "qemu", options: { root: "/x" } });
    expect(() => parseAdapterSpec("qemu:nested=1")).toThrow(/qemu:nested/);
    expect(parseNestedOptions({ "boot-timeout": "500" }).bootTimeoutMs).toBe(500_000);
    expect(() => parseNestedOptions({ "l0-aw-bits": "57" })).toThrow(/39 or 48/);
    expect(() => parseNestedOptions({ bogus: "1" })).toThrow(/unknown option/);
  });

  it("[QEMU-NEST-2] L0 plays L1's VT-d and devices, with a port forward and L0's fault trace", () => {
    const layout = {
      dir: "/c",
      root: "/c/root",
      kernel: "/c/vmlinuz",
      initrd: "/c/initrd.cpio",
      stamp: "/c/s",
    };
    const args = l0Args({ layout, l0AwBits: 39, l0MemMiB: 1024 }, 40000).join(" ");
    expect(args).toContain("intel-iommu,intremap=on,aw-bits=39");
    expect(args).toContain("edu,dma_mask=0xffffffffffffffff,addr=0x1.0");
    expect(args).toContain("edu,dma_mask=0xffffffffffffffff,addr=0x2.0");
    expect(args).toContain("hostfwd=tcp:127.0.0.1:40000-10.0.2.15:4444");
    expect(args).toContain("enable=vtd_dmar_fault");
    expect(args).toContain("path=/c/root,mount_tag=root,security_model=passthrough,readonly=on");
  });

  it("[QEMU-NEST-4] L2 holds the passed-through device and the emulated one behind one intel-iommu", () => {
    const spec = specFor(
      config(),
      { devices: [{ bdf: "0000:00:01.0", l0Sid: 8, group: "1" }] },
      [0x1234],
      host,
    );
    expect(spec.devices).toEqual([
      { devfn: 0x08 },
      { devfn: 0x10, passthrough: { bdf: "0000:00:01.0", l0Sid: 8, group: "1", bufferAddr: 0x1234 } },
    ]);
    const args = l2Args(install11, spec).join(" ");
    expect(args).toContain("-accel qtest");
    expect(args).toContain("intel-iommu,intremap=off,aw-bits=39,caching-mode=on");
    expect(args).toContain("edu,addr=0x1.0,dma_mask=0xffffffffffffffff");
    expect(args).toContain("vfio-pci,host=0000:00:01.0,addr=0x2.0");
  });

  it("[QEMU-NEST-4] refuses what it cannot build, naming each reason", () => {
    const chain = { devices: [{ bdf: "0000:00:01.0", l0Sid: 8, group: "1" }] };
    const two = config({
      devices: [
        { sid: 0x08, kind: "passthrough", host: { ...ptHost } },
        { sid: 0x10, kind: "passthrough", host: { ...ptHost } },
      ],
    });
    expect(() => specFor(two, chain, [], host)).toThrow(/L1 has 1 devices to pass through/);
    const iommufd = config({
      devices: [{ sid: 0x08, kind: "passthrough", host: { ...ptHost, iommufd: true } }],
    });
    expect(() => specFor(iommufd, chain, [], host)).toThrow(/legacy VFIO/);
    const otherHost = config({ hostIommus: [{ ...host, awBits: 48 }] });
    expect(() => specFor(otherHost, chain, [], host)).toThrow(/host IOMMU must be L1's/);
    const rom = config({
      memory: { size: 16n << 20n, regions: [{ gpa: 0x100000n, size: 0x100000n, readOnly: true }] },
    });
    expect(() => specFor(rom, chain, [], host)).toThrow(/read-only/);
    expect(() => specFor(config({ devices: [{ sid: 0x09, kind: "emulated" }] }), chain, [], host)).toThrow(
      /function 0/,
    );
  });

  it("[QEMU-NEST-5] a request L0 blocked: its fault, or an IOTLB hit whose leaf lacks the right", () => {
    const fault = "12@1.5:vtd_dmar_fault sid 0x8 fault 5 addr 0x10003000 write 1";
    expect(l0Blocked(fault, true)).toBe(8);
    const hit = (slpte: string) =>
      `12@1.6:vtd_iotlb_page_hit IOTLB page hit sid 0x10 iova 0x10003000 slpte 0x${slpte} domain 0x1`;
    // A read-only leaf: a write through it is blocked (silently, by QEMU 7.2), a read is not.
    expect(l0Blocked(hit("4001"), true)).toBe(0x10);
    expect(l0Blocked(hit("4001"), false)).toBeUndefined();
    // A write-only leaf blocks reads; a read-write leaf blocks nothing.
    expect(l0Blocked(hit("4002"), false)).toBe(0x10);
    expect(l0Blocked(hit("4003"), true)).toBeUndefined();
    expect(l0Blocked("12@1.7:vtd_iotlb_page_update something", true)).toBeUndefined();
  });

  it("[QEMU-NEST-5] L1's host IOMMU from L0's CAP/ECAP: 39 bits, no nesting, no PASIDs", () => {
    expect(host).toMatchObject({ awBits: 39, nesting: false, pasidBits: 0, kind: "intel-vtd", fs1gp: false });
  });

  it("[QEMU-NEST-9] fitted configurations: the real host side and IOMMU, allowed SIDs, RAM around holes", () => {
    const reference = { ...nestedDescription, limits: {} };
    const c = config();
    expect(fitVmmConfig(reference, c, { accepted: true })).toBe(c);
    fc.assert(
      fc.property(shadowPlatformArb(nestedDescription), (cfg) => {
        expect(cfg.hostIommus).toEqual([host]);
        expect(cfg.viommu.cachingMode).toBe(true);
        expect(cfg.viommu.awBits).toBeLessThanOrEqual(host.awBits);
        expect(cfg.viommu.faultRecords).toBe(1);
        const pt = cfg.devices.filter((d) => d.kind === "passthrough");
        expect(pt.length).toBeGreaterThanOrEqual(1);
        expect(pt.length).toBeLessThanOrEqual(2);
        for (const d of pt) expect(d.host).toEqual(ptHost);
        for (const d of cfg.devices) expect(NESTED_SIDS).toContain(d.sid);
        expect(new Set(cfg.devices.map((d) => d.sid)).size).toBe(cfg.devices.length);
        for (const r of cfg.memory.regions) {
          expect(r.readOnly).toBe(false);
          expect(r.gpa + r.size <= 0xa0000n || r.gpa >= 0x100000n).toBe(true);
        }
        expect(() =>
          specFor(
            cfg,
            {
              devices: [
                { bdf: "a", l0Sid: 8, group: "1" },
                { bdf: "b", l0Sid: 16, group: "2" },
              ],
            },
            [],
            host,
          ),
        ).not.toThrow();
      }),
      { numRuns: 100, seed: 7 },
    );
  });

  it("[QEMU-AVOID-1] avoiding snoop-control-passthrough-aborts: VMs with a passed-through device get no snoop control", () => {
    const avoiding = {
      ...nestedDescription,
      limits: { ...nestedDescription.limits, avoid: [AVOID_SC_PASSTHROUGH] },
    };
    const sc = config({
      viommu: legacyViommu({ cachingMode: true, awBits: 39, hawBits: 39, snoopControl: true }),
    });
    expect(fitVmmConfig(nestedDescription, sc, { accepted: true }).viommu.snoopControl).toBe(true);
    expect(fitVmmConfig(avoiding, sc, { accepted: true }).viommu.snoopControl).toBe(false);
    const emulatedOnly = { ...sc, devices: [{ sid: 0x08, kind: "emulated" as const }] };
    expect(fitVmmConfig(avoiding, emulatedOnly, { accepted: true }).viommu.snoopControl).toBe(true);
    // avoiding compat-caching-mode-checked-before-backend: a first-stage vIOMMU keeps caching mode on.
    const fsCmOff = config({
      viommu: {
        ...legacyViommu({ awBits: 48, hawBits: 48 }),
        scalable: true,
        firstStage: true,
        cachingMode: false,
      },
    });
    const backend = {
      ...nestedDescription,
      limits: { ...nestedDescription.limits, avoid: [AVOID_CM_BEFORE_BACKEND] },
    };
    expect(fitVmmConfig(nestedDescription, fsCmOff, { accepted: false }).viommu.cachingMode).toBe(false);
    expect(fitVmmConfig(backend, fsCmOff, { accepted: false }).viommu.cachingMode).toBe(true);
    let drawn = 0;
    fc.assert(
      fc.property(shadowPlatformArb(avoiding), (cfg) => {
        drawn++;
        expect(cfg.viommu.snoopControl).toBe(false);
      }),
      { numRuns: 50, seed: 5 },
    );
    expect(drawn).toBe(50);
  });

  it("[QEMU-NEST-9] compatibility cases vary the vIOMMU against the real host; refusals are still generated", () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(compatibilityCaseArb(nestedDescription), (c) => {
        expect(c.config.hostIommus).toEqual([host]);
        expect(c.config.devices.find((d) => d.sid === c.sid)?.kind).toBe("passthrough");
        seen.add(expectedRefusal(c.config)?.check ?? "accepted");
      }),
      { numRuns: 200, seed: 3 },
    );
    // With L1's 39-bit host, fsts (which needs aw-bits 48) always fails the width check first.
    expect([...seen].sort()).toEqual(["accepted", "aw-bits", "caching-mode"]);
  });

  it("[VMM-COMPAT-1] [VMM-COMPAT-3] [VMM-COMPAT-11] QEMU 11.1's refusal messages name the failing check", () => {
    const refused = (message: string) => ({ error: { code: "exception", message } });
    const cm = config({ viommu: legacyViommu({ cachingMode: false, awBits: 39, hawBits: 39 }) });
    expect(
      judgeReset(
        cm,
        refused(
          "L2 refused the configuration: qemu-system-x86_64: -device vfio-pci,host=0000:00:01.0,addr=0x2.0: vfio 0000:00:01.0: Failed to set vIOMMU: Device assignment is not allowed without enabling caching-mode=on for Intel IOMMU.",
        ),
      ),
    ).toBeUndefined();
    const wide = config({ viommu: legacyViommu({ cachingMode: true, awBits: 48, hawBits: 48 }) });
    expect(
      judgeReset(wide, refused("vfio 0000:00:01.0: Failed to set vIOMMU: aw-bits 48 > host aw-bits 39")),
    ).toBeUndefined();
    // A refusal for another check than the first failing one is still a violation.
    expect(
      judgeReset(wide, refused("Device assignment is not allowed without enabling caching-mode=on")),
    ).toBeDefined();
  });
});
