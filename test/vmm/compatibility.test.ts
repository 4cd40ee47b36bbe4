import { describe, expect, it } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { PlatformConfig } from "../../src/contract/types.ts";
import { fsViommu, hostIommu, MiB, platformConfig, ptDevice } from "./fixtures.ts";

async function resetWith(config: PlatformConfig): Promise<void> {
  const model = await createReferenceModel();
  await model.reset(config);
}

describe("host-device compatibility when a passed-through device joins", () => {
  it("[VMM-COMPAT-1] refuses aw-bits beyond the host's, naming both widths", async () => {
    const c = platformConfig({ hostIommus: [hostIommu({ awBits: 39 })] });
    await expect(resetWith(c)).rejects.toThrow(/aw-bits 48 > host aw-bits 39/);
  });

  it("[VMM-COMPAT-1] checks the width first, even without first-stage translation", async () => {
    const c = platformConfig({
      viommu: fsViommu({ firstStage: false, secondStage: true, cachingMode: true }),
      hostIommus: [hostIommu({ awBits: 39, kind: "other" })],
    });
    await expect(resetWith(c)).rejects.toThrow(/aw-bits 48 > host aw-bits 39/);
  });

  it("[VMM-COMPAT-2] without first-stage translation any host IOMMU type and backend is accepted", async () => {
    const c = platformConfig({
      viommu: fsViommu({ firstStage: false, secondStage: true, cachingMode: true }),
      devices: [ptDevice(0x10, "iommu0", { iommufd: false, behindBridge: true })],
      hostIommus: [hostIommu({ kind: "other", nesting: false, pasidBits: 0 })],
    });
    await expect(resetWith(c)).resolves.toBeUndefined();
  });

  it("[VMM-COMPAT-3] first-stage translation needs the iommufd backend", async () => {
    const c = platformConfig({ devices: [ptDevice(0x10, "iommu0", { iommufd: false })] });
    await expect(resetWith(c)).rejects.toThrow(/stage-1 translation needs the iommufd backend/);
  });

  it("[VMM-COMPAT-4] first-stage translation needs an Intel VT-d host IOMMU", async () => {
    const c = platformConfig({ hostIommus: [hostIommu({ kind: "other" })] });
    await expect(resetWith(c)).rejects.toThrow(/host IOMMU type 0 is not Intel VT-d/);
  });

  it("[VMM-COMPAT-5] 1 GiB first-stage pages offered need host FS1GP", async () => {
    const c = platformConfig({
      viommu: fsViommu({ fs1gp: true }),
      hostIommus: [hostIommu({ fs1gp: false })],
    });
    await expect(resetWith(c)).rejects.toThrow(/FS1GP/);
    const ok = platformConfig({ viommu: fsViommu({ fs1gp: true }) });
    await expect(resetWith(ok)).resolves.toBeUndefined();
  });

  it("[VMM-COMPAT-6] a device behind a PCI bridge is refused with first-stage translation", async () => {
    const c = platformConfig({ devices: [ptDevice(0x10, "iommu0", { behindBridge: true })] });
    await expect(resetWith(c)).rejects.toThrow(/behind a PCI bridge/);
  });

  it("[VMM-COMPAT-7] first-stage translation needs host nesting", async () => {
    const c = platformConfig({ hostIommus: [hostIommu({ nesting: false })] });
    await expect(resetWith(c)).rejects.toThrow(/does not support nested translation/);
  });

  it("[VMM-COMPAT-8] the guest's PASID width must fit the host's", async () => {
    const c = platformConfig({
      viommu: fsViommu({ pasidBits: 16 }),
      hostIommus: [hostIommu({ pasidBits: 10 })],
    });
    await expect(resetWith(c)).rejects.toThrow(/PASID width 16 > host PASID width 10/);
  });

  it("[VMM-COMPAT-9] FL5LP, SRS and EAFS offered need them on the host", async () => {
    await expect(
      resetWith(
        platformConfig({
          viommu: fsViommu({ fl5lp: true, awBits: 57, hawBits: 52 }),
          hostIommus: [hostIommu({ awBits: 57 })],
        }),
      ),
    ).rejects.toThrow(/FL5LP/);
    await expect(
      resetWith(
        platformConfig({
          viommu: fsViommu({ supervisorRequests: true }),
          hostIommus: [hostIommu({ supervisorRequests: false })],
        }),
      ),
    ).rejects.toThrow(/SRS/);
    await expect(
      resetWith(
        platformConfig({
          viommu: fsViommu({ extendedAccessed: true }),
          hostIommus: [hostIommu({ extendedAccessed: false })],
        }),
      ),
    ).rejects.toThrow(/EAFS/);
  });

  it("[VMM-COMPAT-1] [VMM-COMPAT-3] [VMM-COMPAT-8] the checks run in order: the first failing one is reported", async () => {
    // Fails the backend, type, bridge, nesting and PASID checks at once: the backend is named.
    const c = platformConfig({
      viommu: fsViommu({ pasidBits: 20 }),
      devices: [ptDevice(0x10, "iommu0", { iommufd: false, behindBridge: true })],
      hostIommus: [hostIommu({ kind: "other", nesting: false, pasidBits: 4 })],
    });
    await expect(resetWith(c)).rejects.toThrow(/iommufd backend/);
    // Type before bridge, nesting and PASID width.
    const d = platformConfig({
      viommu: fsViommu({ pasidBits: 20 }),
      devices: [ptDevice(0x10, "iommu0", { behindBridge: true })],
      hostIommus: [hostIommu({ kind: "other", nesting: false, pasidBits: 4 })],
    });
    await expect(resetWith(d)).rejects.toThrow(/not Intel VT-d/);
  });

  it("[VMM-SHADOW-1] second-stage translation for passed-through devices needs caching mode", async () => {
    const legacy = platformConfig({
      viommu: fsViommu({
        scalable: false,
        firstStage: false,
        secondStage: true,
        pasidBits: 0,
        cachingMode: false,
      }),
    });
    await expect(resetWith(legacy)).rejects.toThrow(/legacy mode need caching mode/);
    const ss = platformConfig({ viommu: fsViommu({ secondStage: true, cachingMode: false }) });
    await expect(resetWith(ss)).rejects.toThrow(/caching mode \(CM = 1\)/);
    await expect(
      resetWith(platformConfig({ viommu: fsViommu({ secondStage: true, cachingMode: true }) })),
    ).resolves.toBeUndefined();
  });

  it("[VMM-COMPAT-11] a passed-through device needs caching mode even with first-stage translation only", async () => {
    const fsOnly = platformConfig({ viommu: fsViommu({ cachingMode: false }) });
    await expect(resetWith(fsOnly)).rejects.toThrow(/device 0x0010: .*caching mode \(CM = 1\)/);
    // Emulated devices alone need nothing of the kind.
    const emulatedOnly = platformConfig({
      viommu: fsViommu({ cachingMode: false }),
      devices: [{ sid: 0x08, kind: "emulated" }],
    });
    await expect(resetWith(emulatedOnly)).resolves.toBeUndefined();
    // The host checks come first: a too-narrow host is named before caching mode.
    const narrow = platformConfig({
      viommu: fsViommu({ cachingMode: false }),
      hostIommus: [hostIommu({ awBits: 39 })],
    });
    await expect(resetWith(narrow)).rejects.toThrow(/aw-bits 48 > host aw-bits 39/);
  });

  it("[VMM-COMPAT-10] malformed device lists and memory maps are refused precisely", async () => {
    await expect(resetWith(platformConfig({ devices: [ptDevice(0x10), ptDevice(0x10)] }))).rejects.toThrow(
      /appears twice/,
    );
    await expect(
      resetWith(platformConfig({ devices: [{ sid: 0x10, kind: "passthrough" }] })),
    ).rejects.toThrow(/has no host side/);
    await expect(resetWith(platformConfig({ devices: [ptDevice(0x10, "nope")] }))).rejects.toThrow(/nope/);
    const overlap = platformConfig({
      memory: {
        size: 64n * MiB,
        regions: [
          { gpa: 0n, size: 32n * MiB, readOnly: false },
          { gpa: 16n * MiB, size: 4n * MiB, readOnly: true },
        ],
      },
    });
    await expect(resetWith(overlap)).rejects.toThrow(/overlap/);
  });

  it("[VMM-COMPAT-1] a refused reset leaves no platform behind", async () => {
    const model = await createReferenceModel();
    await model.reset(platformConfig());
    await expect(model.reset(platformConfig({ hostIommus: [hostIommu({ awBits: 39 })] }))).rejects.toThrow();
    await expect(model.platform.readReg(0, 4)).rejects.toThrow(/reset\(config\) must be called/);
  });
});
