import { describe, expect, it } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { Model } from "../../src/contract/types.ts";
import { hwInfoCodec, IOMMU_GET_HW_INFO, pointerKey } from "../../src/host/index.ts";
import { boot, hostIommu, MiB, platformConfig, ptDevice } from "./fixtures.ts";

async function ridHwpts(model: Model): Promise<Map<number, number>> {
  const view = (await model.platform.hostView?.())?.attachments ?? [];
  return new Map(view.filter((a) => a.pasid === undefined).map((a) => [a.sid, a.hwptId]));
}

describe("stage 2 of passed-through devices", () => {
  it("[VMM-S2-5] devices of one coherency class share a nest parent; an IOMMU without snoop control gets its own", async () => {
    const config = platformConfig({
      devices: [
        ptDevice(0x10),
        ptDevice(0x11, "iommu0", { noSnoop: true }),
        ptDevice(0x12, "nosc", { noSnoop: true }),
        ptDevice(0x13, "nosc"),
      ],
      hostIommus: [hostIommu(), hostIommu({ id: "nosc", snoopControl: false })],
    });
    const { model } = await boot(config);
    const ids = await ridHwpts(model);
    expect(ids.get(0x10)).toBe(ids.get(0x11));
    expect(ids.get(0x12)).not.toBe(ids.get(0x10));
    expect(ids.get(0x13)).toBe(ids.get(0x12));
  });

  it("[VMM-S2-4] [VMM-S2-5] an errata IOMMU gets its own stage 2 without read-only regions", async () => {
    const config = platformConfig({
      devices: [{ sid: 0x08, kind: "emulated" }, ptDevice(0x10), ptDevice(0x11, "errata")],
      memory: {
        size: 64n * MiB,
        regions: [
          { gpa: 0n, size: 32n * MiB, readOnly: false },
          { gpa: 32n * MiB, size: 1n * MiB, readOnly: true },
        ],
      },
      hostIommus: [hostIommu(), hostIommu({ id: "errata", errata772415: true })],
    });
    const { model } = await boot(config);
    const ids = await ridHwpts(model);
    expect(ids.get(0x11)).not.toBe(ids.get(0x10));
    const rom = 32n * MiB;
    await model.platform.writeGuest(rom, Uint8Array.of(0x5a));
    const read = (sid: number) => model.platform.dma({ sid, iova: rom, len: 1, write: false });
    expect(await read(0x08)).toEqual({ status: "ok", data: Uint8Array.of(0x5a) });
    expect(await read(0x10)).toEqual({ status: "ok", data: Uint8Array.of(0x5a) });
    expect(await read(0x11)).toEqual({ status: "aborted" }); // left out of the errata container
    // [VMM-S2-2] writes to read-only memory are aborted for every device.
    for (const sid of [0x08, 0x10, 0x11]) {
      const w = await model.platform.dma({ sid, iova: rom, len: 1, write: true, data: Uint8Array.of(1) });
      expect(w.status).toBe("aborted");
    }
    expect(await model.platform.readGuest(rom, 1)).toEqual(Uint8Array.of(0x5a));
  });

  it("[VMM-S2-4] without first-stage translation an errata IOMMU keeps read-only regions (no nest parent)", async () => {
    const config = platformConfig({
      viommu: { ...platformConfig().viommu, firstStage: false, secondStage: true, cachingMode: true },
      devices: [ptDevice(0x11, "errata")],
      memory: {
        size: 64n * MiB,
        regions: [
          { gpa: 0n, size: 32n * MiB, readOnly: false },
          { gpa: 32n * MiB, size: 1n * MiB, readOnly: true },
        ],
      },
      hostIommus: [hostIommu({ id: "errata", errata772415: true })],
    });
    const { model } = await boot(config);
    await model.platform.writeGuest(32n * MiB, Uint8Array.of(0x33));
    expect(await model.platform.dma({ sid: 0x11, iova: 32n * MiB, len: 1, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(0x33),
    });
  });

  it("[VMM-S2-1] guest memory outside its regions is not memory", async () => {
    const config = platformConfig({
      memory: { size: 64n * MiB, regions: [{ gpa: 0n, size: 16n * MiB, readOnly: false }] },
    });
    const { model } = await boot(config);
    await expect(model.platform.writeGuest(32n * MiB, Uint8Array.of(1))).rejects.toThrow(
      /outside guest memory/,
    );
    expect((await model.platform.dma({ sid: 0x10, iova: 32n * MiB, len: 1, write: false })).status).toBe(
      "aborted",
    );
    expect((await model.platform.dma({ sid: 0x08, iova: 32n * MiB, len: 1, write: false })).status).toBe(
      "aborted",
    );
  });

  it("[VMM-S2-6] a VFIO-compat device is attached through the IOAS", async () => {
    const config = platformConfig({
      viommu: { ...platformConfig().viommu, firstStage: false, secondStage: true, cachingMode: true },
      devices: [ptDevice(0x10, "iommu0", { iommufd: false })],
    });
    const { model, drv } = await boot(config);
    expect((await ridHwpts(model)).has(0x10)).toBe(true);
    const page = await drv.newDataPage(2);
    const r = await drv.dmaRead({ sid: 0x10, iova: BigInt(page), len: 8 });
    expect(r.status === "ok" && r.hit?.page).toBe(page);
  });

  it("[VMM-S2-8] each VM has its own host: another platform's stage 2 is not visible", async () => {
    const a = await createReferenceModel();
    const b = await createReferenceModel();
    await a.reset(platformConfig());
    await b.reset(platformConfig());
    await a.platform.writeGuest(0x10000n, Uint8Array.of(0xaa));
    await b.platform.writeGuest(0x10000n, Uint8Array.of(0xbb));
    expect(await a.platform.dma({ sid: 0x10, iova: 0x10000n, len: 1, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(0xaa),
    });
    expect(await b.platform.dma({ sid: 0x10, iova: 0x10000n, len: 1, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(0xbb),
    });
  });

  it("[VMM-S2-3] the host surface is the VMM's host: GET_HW_INFO answers for the passed-through device", async () => {
    const model = await createReferenceModel();
    const d = await model.describe();
    expect(d.supports).toMatchObject({ passthroughDevices: true, hostSurface: true, hostView: true });
    await model.reset(platformConfig());
    const host = model.host;
    if (host === undefined) throw new Error("no host surface");
    const ptr = 0x9000n;
    const r = await host.ioctl(
      IOMMU_GET_HW_INFO,
      hwInfoCodec.encode({ dev_id: 1, data_len: 24, data_uptr: ptr }),
      {
        [pointerKey(ptr)]: new Uint8Array(24),
      },
    );
    expect(r.errno).toBe(0);
    expect(hwInfoCodec.decode(r.bytes).data_type).toBe(1);
    // Host-level DMA by the device (RID attached to the stage 2): IOVA = GPA.
    await model.platform.writeGuest(0x20000n, Uint8Array.of(0x42));
    expect(await host.dma({ devId: 1, iova: 0x20000n, len: 1, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(0x42),
    });
  });
});
