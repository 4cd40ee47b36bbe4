import { describe, expect, it } from "vitest";
import type { PlatformConfig } from "../../src/contract/types.ts";
import {
  contextGlobal,
  type GuestDriver,
  iotlbDomain,
  iotlbGlobal,
  iotlbPage,
  pasidCachePasid,
  pasidIotlbPasid,
  writeGuestWords,
} from "../../src/driver/index.ts";
import { encodeSsEntry } from "../../src/spec/paging-entry.ts";
import { at, boot, fsViommu, platformConfig, ptDevice, scalable } from "./fixtures.ts";

const EMU = 0x08;
const D1 = 0x10;
const IOVA = 0x30_0000n;

function legacyConfig(): PlatformConfig {
  return platformConfig({
    viommu: fsViommu({
      scalable: false,
      firstStage: false,
      secondStage: true,
      cachingMode: true,
      pasidBits: 0,
    }),
    devices: [{ sid: EMU, kind: "emulated" }, ptDevice(D1)],
  });
}

async function read(drv: GuestDriver, sid: number, iova = IOVA): Promise<number | "aborted"> {
  const r = await drv.dmaRead({ sid, iova: iova + 8n, len: 8 });
  return r.status === "aborted" ? "aborted" : (r.hit?.page ?? -1);
}

/** Legacy mode: EMU and D1 share one guest second-stage table (DID 3) mapping IOVA → A. */
async function legacyShadow() {
  const { model, drv } = await boot(legacyConfig(), 128); // 256-bit descriptors need scalable mode
  const root = await drv.newRootTable("legacy");
  const ss = await drv.newPageTable("second", 4);
  const a = await drv.newDataPage(1);
  const b = await drv.newDataPage(2);
  await ss.map(IOVA, a, "4K", { read: true, write: false });
  for (const sid of [EMU, D1])
    await root.setLegacyContext(sid, { present: true, tt: 0, ssptptr: ss.root, aw: 2, did: 3 });
  await drv.enable(root);
  return { model, drv, root, ss, a, b };
}

describe("second-stage shadowing for passed-through devices", () => {
  it("[VMM-SHADOW-2] [VMM-SHADOW-3] legacy mode: the shadow reaches what the guest's second stage reaches", async () => {
    const { model, drv, a } = await legacyShadow();
    expect(await read(drv, D1)).toBe(a);
    expect(await read(drv, EMU)).toBe(a);
    expect(await read(drv, D1, IOVA + 0x1000n)).toBe("aborted");
    // Read-only leaf: a write is refused on both sides.
    const w = { iova: IOVA, len: 1, write: true, data: Uint8Array.of(1) };
    expect((await model.platform.dma({ sid: D1, ...w })).status).toBe("aborted");
    expect((await model.platform.dma({ sid: EMU, ...w })).status).toBe("aborted");
  });

  it("[VMM-SHADOW-5] a guest change reaches the shadow with the covering IOTLB invalidation", async () => {
    const { drv, ss, a, b } = await legacyShadow();
    await ss.map(IOVA, b, "4K", { read: true, write: true }, { replace: true });
    expect(await read(drv, D1)).toBe(a); // not invalidated yet: the shadow is stale (permitted)
    await drv.invalidate([iotlbDomain(4)]);
    expect(await read(drv, D1)).toBe(a);
    await drv.invalidate([iotlbPage(3, IOVA, 0)]);
    expect(await read(drv, D1)).toBe(b);
    await ss.map(IOVA + 0x20_0000n, a, "4K", { read: true, write: true });
    await drv.invalidate([iotlbGlobal()]);
    expect(await read(drv, D1, IOVA + 0x20_0000n)).toBe(a);
  });

  it("[VMM-BIND-8] [VMM-SHADOW-2] legacy pass-through binds the stage 2; a cleared context blocks", async () => {
    const { drv, root, ss } = await legacyShadow();
    const page = await drv.newDataPage(5);
    await root.setLegacyContext(D1, { present: true, tt: 2, ssptptr: ss.root, aw: 2, did: 3 });
    await drv.invalidate([contextGlobal()]);
    expect(await read(drv, D1, BigInt(page))).toBe(page);
    await root.clearContext(D1);
    await drv.invalidate([contextGlobal()]);
    expect(await read(drv, D1, BigInt(page))).toBe("aborted");
  });

  it("[VMM-SHADOW-2] scalable mode: a second-stage-only PASID entry is shadowed", async () => {
    const config = platformConfig({ viommu: fsViommu({ secondStage: true, cachingMode: true }) });
    const { drv, pasids } = await scalable(config);
    const ss = await drv.newPageTable("second", 4);
    const a = await drv.newDataPage(1);
    await ss.map(IOVA, a, "4K", { read: true, write: true });
    await at(pasids, D1).setEntry(0, { present: true, pgtt: 2, did: 4, aw: 2, ssptptr: ss.root });
    await drv.invalidate([pasidCachePasid(4, 0), pasidIotlbPasid(4, 0)]);
    expect(await read(drv, D1)).toBe(a);
    expect(await read(drv, EMU)).toBe("aborted"); // the emulated device's entry is absent
  });

  it("[VMM-SHADOW-4] a self-referencing guest table is not shadowed beyond the bound, and does not hang", async () => {
    const { model, drv, root, ss } = await legacyShadow();
    // Every top-level entry points back at the top table: 512^4 reachable leaves.
    const loop = encodeSsEntry({ read: true, write: true, addr: ss.root });
    await writeGuestWords(model.platform, ss.root, new Array<bigint>(512).fill(loop));
    await root.setLegacyContext(D1, { present: true, tt: 0, ssptptr: ss.root, aw: 2, did: 3 });
    await drv.invalidate([contextGlobal(), iotlbDomain(3)]);
    expect(await read(drv, D1)).toBe("aborted");
  });
});
