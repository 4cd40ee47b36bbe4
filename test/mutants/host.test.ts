import { describe, expect, it } from "vitest";
import type { HostSurface, Model } from "../../src/contract/types.ts";
import { pasidCachePasid, pasidIotlbPasid } from "../../src/driver/index.ts";
import {
  Errno,
  encodeVtdInvalidateEntries,
  HwptAllocFlags,
  hwptAllocCodec,
  hwptInvalidateCodec,
  IOMMU_HWPT_ALLOC,
  IOMMU_HWPT_INVALIDATE,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP,
  IoasMapFlags,
  ioasAllocCodec,
  ioasMapCodec,
} from "../../src/host/index.ts";
import { HOST_RAM_BASE } from "../../src/vmm/guest-memory.ts";
import { boot, onBoth, reach } from "./helpers.ts";
import { D1, fsMapping, get, hostIommu, nestingConfig, PIOVA, ptDevice, scalableOn } from "./passthrough.ts";

function host(model: Model): HostSurface {
  if (model.host === undefined) throw new Error("no host surface");
  return model.host;
}

async function ioasAlloc(h: HostSurface): Promise<number> {
  return ioasAllocCodec.decode((await h.ioctl(IOMMU_IOAS_ALLOC, ioasAllocCodec.encode({}))).bytes)
    .out_ioas_id;
}

async function hostIds(model: Model): Promise<Map<number, number>> {
  const view = (await model.platform.hostView?.())?.attachments ?? [];
  return new Map(view.filter((a) => a.pasid === undefined).map((a) => [a.sid, a.hwptId]));
}

describe("host mutants misbehave where the reference does not", () => {
  it("[HOST-UAPI-3] struct-tail-accepted: a larger struct with a nonzero tail is E2BIG", async () => {
    const r = await onBoth("struct-tail-accepted", async (model) => {
      await boot(model, nestingConfig());
      const bytes = new Uint8Array(20);
      bytes.set(ioasAllocCodec.encode({}));
      new DataView(bytes.buffer).setUint32(0, 20, true);
      bytes[16] = 1;
      return (await host(model).ioctl(IOMMU_IOAS_ALLOC, bytes)).errno;
    });
    expect(r).toEqual({ reference: Errno.E2BIG, mutant: 0 });
  });

  it("[HOST-UAPI-60] invalidate-entry-num-kept: entry_num tells how many entries were done before the bad one", async () => {
    const r = await onBoth("invalidate-entry-num-kept", async (model) => {
      const { drv, pasids } = await scalableOn(model, nestingConfig());
      const a = await fsMapping(drv, 1);
      await get(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
      await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
      const nested = (await model.platform.hostView?.())?.attachments.find((x) => x.kind === "nested");
      const good = { addr: 0x40_0000n, npages: 1n };
      const res = await host(model).ioctl(
        IOMMU_HWPT_INVALIDATE,
        hwptInvalidateCodec.encode({
          hwpt_id: nested?.hwptId ?? 0,
          data_uptr: 0x9000n,
          entry_len: 24,
          entry_num: 3,
        }),
        { "0x9000": encodeVtdInvalidateEntries([good, { ...good, flags: 2 }, good]) },
      );
      return { errno: res.errno, done: hwptInvalidateCodec.decode(res.bytes).entry_num };
    });
    expect(r.reference).toEqual({ errno: Errno.EOPNOTSUPP, done: 1 });
    expect(r.mutant).toEqual({ errno: Errno.EOPNOTSUPP, done: 3 });
  });

  it("[HOST-ERRATA-1] errata-ro-nest-parent: a read-only map into an errata nest parent is EINVAL", async () => {
    const r = await onBoth("errata-ro-nest-parent", async (model) => {
      await boot(model, nestingConfig({ hostIommus: [hostIommu({ errata772415: true })] }));
      const h = host(model);
      const ioas = await ioasAlloc(h);
      const alloc = await h.ioctl(
        IOMMU_HWPT_ALLOC,
        hwptAllocCodec.encode({ flags: HwptAllocFlags.NEST_PARENT, dev_id: 1, pt_id: ioas }),
      );
      expect(alloc.errno).toBe(0);
      const map = ioasMapCodec.encode({
        flags: IoasMapFlags.FIXED_IOVA | IoasMapFlags.READABLE,
        ioas_id: ioas,
        user_va: BigInt(HOST_RAM_BASE),
        length: 0x1000n,
        iova: 0x1000_0000n,
      });
      return (await h.ioctl(IOMMU_IOAS_MAP, map)).errno;
    });
    expect(r).toEqual({ reference: Errno.EINVAL, mutant: 0 });
  });

  it("[HOST-COH-3] noncoherent-into-enforcing: an IOMMU without snoop control gets its own stage 2", async () => {
    const r = await onBoth("noncoherent-into-enforcing", async (model) => {
      const config = nestingConfig({
        devices: [ptDevice(0x10), ptDevice(0x12, "nosc", true)],
        hostIommus: [hostIommu(), hostIommu({ id: "nosc", snoopControl: false })],
      });
      await boot(model, config);
      const ids = await hostIds(model);
      return ids.get(0x10) === ids.get(0x12);
    });
    expect(r).toEqual({ reference: false, mutant: true });
  });

  it("[HOST-XLATE-12] fs-pointer-as-hpa: the guest's first-stage tables are read through stage 2", async () => {
    const r = await onBoth("fs-pointer-as-hpa", async (model) => {
      const { drv, pasids } = await scalableOn(model, nestingConfig());
      const a = await fsMapping(drv, 1);
      await get(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
      await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
      return (await reach(drv, D1, PIOVA, 1)) === a.page;
    });
    expect(r).toEqual({ reference: true, mutant: false });
  });
});
