/**
 * A forward the host does not complete: the VMM rebinds the slot, so no stale translation
 * survives a completed guest invalidation. [VMM-INV-4]
 */
import { describe, expect, it } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { HostView } from "../../src/contract/types.ts";
import { GuestDriver, pasidCachePasid, pasidIotlbPasid } from "../../src/driver/index.ts";
import { Errno, hwptInvalidateCodec, IOMMU_HWPT_INVALIDATE } from "../../src/host/index.ts";
import type { VmPlatform } from "../../src/vmm/platform.ts";
import { platformConfig } from "./fixtures.ts";

const D1 = 0x10;
const IOVA = 0x40_0000n;

type HostFault = "errno" | "short";

/** The reference platform whose host fails every HWPT_INVALIDATE in the given way once `armed`. */
async function failingForwards(fault: HostFault) {
  const state = { armed: false, calls: 0 };
  let vm: VmPlatform | undefined;
  const model = await createReferenceModel(
    {},
    {
      host(host) {
        const ioctl = host.ioctl.bind(host);
        host.ioctl = (cmd, bytes, buffers) => {
          if (cmd !== IOMMU_HWPT_INVALIDATE || !state.armed) return ioctl(cmd, bytes, buffers);
          state.calls++;
          if (fault === "errno") return { errno: Errno.EINVAL, bytes: bytes.slice() };
          // Success, but no entry processed (entry_num written back as 0) and nothing flushed.
          const cmdIn = hwptInvalidateCodec.decode(bytes);
          return { errno: 0, bytes: hwptInvalidateCodec.encode({ ...cmdIn, entry_num: 0 }) };
        };
      },
      platform(p) {
        vm = p;
      },
    },
  );
  const config = platformConfig();
  await model.reset(config);
  const drv = await GuestDriver.create(model.platform, config.memory);
  await drv.setupQueue({ dw: 256, qs: 0 });
  const root = await drv.newRootTable("scalable");
  const pasids = await drv.newPasidTables();
  for (const d of config.devices)
    await root.setScalableContext(d.sid, {
      present: true,
      paside: true,
      pdts: 0,
      pasidDirPtr: pasids.dir,
      ridPasid: 0,
    });
  await drv.enable(root);
  const view = () => (model.platform.hostView as () => Promise<HostView>)();
  const slot = async () => (await view()).attachments.find((a) => a.sid === D1 && a.pasid === 1);
  return { model, drv, pasids, state, slot, problems: () => vm?.problems ?? [] };
}

describe("a forward the host does not complete", () => {
  for (const fault of ["errno", "short"] as const) {
    it(`[VMM-INV-4] HWPT_INVALIDATE ${fault === "errno" ? "failing" : "processing no entry"}: the slot is rebound and the stale translation is gone`, async () => {
      const { drv, pasids, state, slot, problems } = await failingForwards(fault);
      const fs = await drv.newPageTable("first", 4);
      const a = await drv.newDataPage(1);
      const b = await drv.newDataPage(2);
      await fs.map(IOVA, a, "4K", { write: true, user: true });
      await pasids.setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: fs.root });
      await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
      const read = async () => {
        const r = await drv.dmaRead({ sid: D1, pasid: 1, iova: IOVA, len: 8 });
        return r.status === "aborted" ? "aborted" : r.hit?.page;
      };
      expect(await read()).toBe(a);
      const before = await slot();
      expect(before?.kind).toBe("nested");
      // The guest moves the page; the host IOTLB still holds the old translation.
      await fs.map(IOVA, b, "4K", { write: true, user: true }, { replace: true });
      expect(await read()).toBe(a);
      state.armed = true;
      await drv.invalidate([pasidIotlbPasid(5, 1)]);
      expect(state.calls).toBeGreaterThan(0);
      // Rebound: a new nested HWPT (empty IOTLB) on the same stage-1 table.
      const after = await slot();
      expect(after?.kind).toBe("nested");
      expect(after?.stage1).toBe(before?.stage1);
      expect(await read()).toBe(b);
      expect(problems().some((p) => /HWPT_INVALIDATE failed/.test(p))).toBe(true);
    });
  }
});
