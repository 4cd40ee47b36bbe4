import { describe, expect, it } from "vitest";
import { stage2Sharing } from "../../properties/stage2-sharing.ts";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import { hostVm } from "../../src/arbitraries/host-vm.ts";
import { HostClient } from "../../src/cases/host-client.ts";
import type { Model, PlatformSurface } from "../../src/contract/types.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("stage2-sharing against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[VMM-S2-5] [VMM-S2-4] [VMM-S2-6] [VMM-S2-8] [VMM-S2-10] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(stage2Sharing, { runs: 30, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }
});

describe("stage2-sharing finds wrong sharing", () => {
  it("[HOST-COH-3] [VMM-S2-5] kills mutant:noncoherent-into-enforcing", async () => {
    const model = await createMutantModel("noncoherent-into-enforcing");
    try {
      const r = await runAgainst(stage2Sharing, { runs: 60, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/coherency class|EINVAL|must not share/);
    } finally {
      await model.close();
    }
  }, 300_000);

  it("[VMM-S2-8] finds a host surface that still serves the previous VM", async () => {
    // Odd resets build VM A on `first`, even ones VM B on `later`; the host surface stays A's.
    const first = await createReferenceModel();
    const later = await createReferenceModel();
    let resets = 0;
    const cur = (): PlatformSurface => (resets % 2 === 1 ? first : later).platform;
    const model: Model = {
      describe: () => first.describe(),
      async reset(c) {
        resets++;
        await (resets % 2 === 1 ? first : later).reset(c);
      },
      platform: {
        writeGuest: (g, b) => cur().writeGuest(g, b),
        readGuest: (g, l) => cur().readGuest(g, l),
        writeReg: (o, v, w) => cur().writeReg(o, v, w),
        readReg: (o, w) => cur().readReg(o, w),
        dma: (r) => cur().dma(r),
        hostView: () => (cur().hostView as NonNullable<PlatformSurface["hostView"]>)(),
      },
      host: first.host as NonNullable<Model["host"]>,
      async close() {
        await first.close();
        await later.close();
      },
    };
    try {
      const r = await runAgainst(stage2Sharing, { runs: 20, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/second VM: host device 1 reached/);
    } finally {
      await model.close();
    }
  }, 300_000);
});

describe("host device ids", () => {
  it("[VMM-S2-9] passed-through devices are iommufd devices 1, 2, … in the order of the device list", async () => {
    const widths = [57, 39, 48];
    const iommus = widths.map((awBits, i) => ({
      id: `h${i}`,
      awBits,
      nesting: true,
      snoopControl: true,
      fs1gp: false,
      fl5lp: false,
      pasidBits: 8,
      errata772415: false,
      kind: "intel-vtd" as const,
      supervisorRequests: false,
      extendedAccessed: false,
    }));
    const hosts = iommus.map((h) => ({ iommu: h.id, noSnoop: false, behindBridge: false, iommufd: true }));
    // An emulated device first and one between the passed-through ones: they take no id.
    const base = hostVm(iommus, hosts, [0x08, 0x30, 0x20, 0x10]);
    const [emulated, ...passed] = base.devices;
    const config = {
      ...base,
      devices: [emulated, passed[0], { sid: 0x18, kind: "emulated" as const }, ...passed.slice(1)],
    };
    const model = await createReferenceModel();
    try {
      await model.reset(config as typeof base);
      const host = new HostClient(model.host as NonNullable<Model["host"]>);
      for (const [i, w] of widths.entries()) {
        const info = await host.getHwInfo(i + 1);
        expect(info.errno).toBe(0);
        expect(Number((info.value?.cap ?? 0n) >> 16n) & 0x3f).toBe(w - 1); // CAP.MGAW
      }
      expect((await host.getHwInfo(widths.length + 1)).errno).not.toBe(0);
      // The host view names device k by the SID of the k-th passed-through device.
      const view = await (model.platform.hostView as NonNullable<PlatformSurface["hostView"]>)();
      expect(view.attachments.map((a) => a.sid).sort()).toEqual([0x10, 0x20, 0x30]);
      const ioas = await host.ioasAlloc();
      const h = await host.hwptAllocPaging(2, ioas.value as number);
      expect((await host.attach(2, undefined, h.value as number)).errno).toBe(0);
      const after = await (model.platform.hostView as NonNullable<PlatformSurface["hostView"]>)();
      expect(after.attachments.find((a) => a.hwptId === h.value)?.sid).toBe(0x20);
    } finally {
      await model.close();
    }
  });
});
