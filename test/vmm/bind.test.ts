import { describe, expect, it } from "vitest";
import type { Model } from "../../src/contract/types.ts";
import {
  contextGlobal,
  type GuestDriver,
  type PageTable,
  pasidCacheDomain,
  pasidCacheGlobal,
  pasidCachePasid,
  pasidIotlbPasid,
} from "../../src/driver/index.ts";
import { at, boot, platformConfig, ptDevice, scalable } from "./fixtures.ts";

const EMU = 0x08;
const D1 = 0x10;
const D2 = 0x11;
const D3 = 0x12;
const IOVA = 0x40_0000n;

/** A first-stage table mapping IOVA onto a fresh fingerprinted data page; returns both. */
async function fsMapping(drv: GuestDriver, tag: number): Promise<{ fs: PageTable<"first">; page: number }> {
  const fs = await drv.newPageTable("first", 4);
  const page = await drv.newDataPage(tag);
  await fs.map(IOVA, page, "4K", { write: true, user: true });
  return { fs, page };
}

async function readPage(drv: GuestDriver, sid: number, pasid?: number): Promise<number | "aborted"> {
  const r = await drv.dmaRead({ sid, iova: IOVA + 0x10n, len: 8, ...(pasid !== undefined ? { pasid } : {}) });
  if (r.status === "aborted") return "aborted";
  return r.hit?.page ?? -1;
}

async function attachments(model: Model) {
  return (await model.platform.hostView?.())?.attachments ?? [];
}

describe("bind propagation to the host", () => {
  it("[VMM-S2-3] [VMM-S2-7] with translation off a passed-through device reads guest-physical memory", async () => {
    const { model, drv } = await boot(platformConfig());
    const page = await drv.newDataPage(3);
    const r = await drv.dmaRead({ sid: D1, iova: BigInt(page) + 8n, len: 8 });
    expect(r.status === "ok" && r.hit?.page).toBe(page);
    const w = await model.platform.dma({
      sid: D1,
      iova: BigInt(page),
      len: 2,
      write: true,
      data: Uint8Array.of(7, 9),
    });
    expect(w.status).toBe("ok");
    expect(await model.platform.readGuest(BigInt(page), 2)).toEqual(Uint8Array.of(7, 9));
    expect(await attachments(model)).toEqual([{ sid: D1, hwptId: expect.any(Number), kind: "paging" }]);
  });

  it("[VMM-BIND-3] [VMM-BIND-10] a PASID-selective invalidation binds a nested HWPT with the guest's FSPTPTR", async () => {
    const { model, drv, pasids } = await scalable(platformConfig());
    const { fs, page } = await fsMapping(drv, 1);
    await at(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: fs.root });
    expect(await readPage(drv, D1, 1)).toBe("aborted"); // not yet invalidated: the host has nothing
    await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
    expect(await readPage(drv, D1, 1)).toBe(page);
    const nested = (await attachments(model)).find((a) => a.pasid === 1);
    expect(nested).toMatchObject({ sid: D1, kind: "nested", stage1: BigInt(fs.root) });
  });

  it("[VMM-S2-1] [VMM-BIND-3] equivalence: the same guest tables give the same bytes to an emulated and a passed-through device", async () => {
    const { model, drv, pasids } = await scalable(platformConfig());
    const fs = await drv.newPageTable("first", 4);
    const pages: number[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await drv.newDataPage(i + 1);
      pages.push(p);
      await fs.map(IOVA + BigInt(i) * 0x1000n, p, "4K", { write: i % 2 === 0, user: true });
    }
    // PWSNP as Linux sets it: the host always walks snooped (VMM-BIND-3).
    for (const sid of [EMU, D1])
      await at(pasids, sid).setEntry(2, { present: true, pgtt: 1, did: 9, fsptptr: fs.root, pwsnp: true });
    await drv.invalidate([pasidCacheDomain(9), pasidIotlbPasid(9, 2)]);
    for (let i = 0; i < 5; i++) {
      const req = { pasid: 2, iova: IOVA + BigInt(i) * 0x1000n + 0x20n, len: 16, write: false };
      const a = await model.platform.dma({ sid: EMU, ...req });
      const b = await model.platform.dma({ sid: D1, ...req });
      expect(b).toEqual(a);
      const wreq = {
        pasid: 2,
        iova: IOVA + BigInt(i) * 0x1000n,
        len: 1,
        write: true,
        data: Uint8Array.of(i),
      };
      expect((await model.platform.dma({ sid: D1, ...wreq })).status).toBe(
        (await model.platform.dma({ sid: EMU, ...wreq })).status,
      );
    }
  });

  it("[VMM-BIND-7] historic bug: a cleared entry and a GLOBAL PASID-cache invalidation detach the host", async () => {
    const { model, drv, pasids } = await scalable(platformConfig());
    const a = await fsMapping(drv, 1);
    const b = await fsMapping(drv, 2);
    const pt = at(pasids, D1);
    await pt.setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
    await pt.setEntry(2, { present: true, pgtt: 1, did: 6, fsptptr: b.fs.root });
    await drv.invalidate([pasidCacheGlobal()]);
    expect(await readPage(drv, D1, 1)).toBe(a.page);
    expect(await readPage(drv, D1, 2)).toBe(b.page);
    await pt.clearEntry(1);
    await drv.invalidate([pasidCacheGlobal(), pasidIotlbPasid(5, 1)]);
    expect(await readPage(drv, D1, 1)).toBe("aborted");
    expect(await readPage(drv, D1, 2)).toBe(b.page); // still present: still working
    const view = await attachments(model);
    expect(view.some((x) => x.sid === D1 && x.pasid === 1)).toBe(false);
    expect(view.some((x) => x.sid === D1 && x.pasid === 2)).toBe(true);
  });

  it("[VMM-BIND-10] thread 003: D1 and D3 with PASID 1, D2 with PASID 2, bound only where present", async () => {
    const config = platformConfig({ devices: [ptDevice(D1), ptDevice(D2), ptDevice(D3)] });
    const { model, drv, pasids } = await scalable(config);
    const t1 = await fsMapping(drv, 1);
    const t2 = await fsMapping(drv, 2);
    const t3 = await fsMapping(drv, 3);
    const pasidOf = async () =>
      (await attachments(model)).filter((x) => x.pasid !== undefined).map((x) => [x.sid, x.pasid]);
    // a) D1 PASID 1, invalidated against PASID 1.
    await at(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 1, fsptptr: t1.fs.root });
    await drv.invalidate([pasidCachePasid(1, 1)]);
    expect(await pasidOf()).toEqual([[D1, 1]]);
    // c) D2 PASID 2: nothing is bound for D2 PASID 1 or D1 PASID 2.
    await at(pasids, D2).setEntry(2, { present: true, pgtt: 1, did: 1, fsptptr: t2.fs.root });
    await drv.invalidate([pasidCachePasid(1, 2)]);
    expect(await pasidOf()).toEqual([
      [D1, 1],
      [D2, 2],
    ]);
    // e) D3 PASID 1: D1 unchanged (same HWPT), D2 still nothing with PASID 1, D3 bound.
    const before = (await attachments(model)).find((x) => x.sid === D1 && x.pasid === 1)?.hwptId;
    await at(pasids, D3).setEntry(1, { present: true, pgtt: 1, did: 1, fsptptr: t3.fs.root });
    await drv.invalidate([pasidCachePasid(1, 1)]);
    expect(await pasidOf()).toEqual([
      [D1, 1],
      [D2, 2],
      [D3, 1],
    ]);
    expect((await attachments(model)).find((x) => x.sid === D1 && x.pasid === 1)?.hwptId).toBe(before);
    expect(await readPage(drv, D2, 1)).toBe("aborted");
    expect(await readPage(drv, D3, 1)).toBe(t3.page);
    expect(await readPage(drv, D1, 1)).toBe(t1.page);
  });

  it("[VMM-BIND-9] a domain-selective invalidation touches only entries of that domain", async () => {
    const { model, drv, pasids } = await scalable(platformConfig());
    const a = await fsMapping(drv, 1);
    const pt = at(pasids, D1);
    await pt.setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
    await pt.setEntry(2, { present: true, pgtt: 1, did: 6, fsptptr: a.fs.root });
    await drv.invalidate([pasidCacheDomain(5)]);
    expect((await attachments(model)).filter((x) => x.pasid !== undefined).map((x) => x.pasid)).toEqual([1]);
    // Clearing PASID 1 (DID 5) and invalidating DID 6 leaves PASID 1 bound: its old DID is 5.
    await pt.clearEntry(1);
    await drv.invalidate([pasidCacheDomain(6)]);
    expect((await attachments(model)).filter((x) => x.pasid !== undefined).map((x) => x.pasid)).toEqual([
      1, 2,
    ]);
    await drv.invalidate([pasidCacheDomain(5)]);
    expect((await attachments(model)).filter((x) => x.pasid !== undefined).map((x) => x.pasid)).toEqual([2]);
  });

  it("[VMM-BIND-10] a PASID-selective invalidation with another DID leaves the entry alone", async () => {
    const { model, drv, pasids } = await scalable(platformConfig());
    const a = await fsMapping(drv, 1);
    await at(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
    await drv.invalidate([pasidCachePasid(4, 1)]);
    expect((await attachments(model)).some((x) => x.pasid === 1)).toBe(false);
  });

  it("[VMM-BIND-1] [VMM-BIND-4] requests without PASID follow the RID_PASID entry; pass-through binds the stage 2", async () => {
    const { model, drv, root, pasids } = await scalable(platformConfig());
    const pt = at(pasids, D1);
    await root.setScalableContext(D1, {
      present: true,
      paside: true,
      pdts: 0,
      pasidDirPtr: pt.dir,
      ridPasid: 3,
    });
    await drv.invalidate([contextGlobal()]);
    // RID_PASID 3 has no entry yet: requests without PASID are blocked.
    const page = await drv.newDataPage(4);
    const raw = await drv.dmaRead({ sid: D1, iova: BigInt(page), len: 8 });
    expect(raw.status).toBe("aborted");
    await pt.setEntry(3, { present: true, pgtt: 4, did: 2 });
    await drv.invalidate([pasidCachePasid(2, 3)]);
    const r = await drv.dmaRead({ sid: D1, iova: BigInt(page), len: 8 });
    expect(r.status === "ok" && r.hit?.page).toBe(page);
    expect((await attachments(model)).find((x) => x.sid === D1 && x.pasid === undefined)?.kind).toBe(
      "paging",
    );
    // Pass-through for PASID 4 as well.
    await pt.setEntry(4, { present: true, pgtt: 4, did: 2 });
    await drv.invalidate([pasidCachePasid(2, 4)]);
    const p4 = await drv.dmaRead({ sid: D1, pasid: 4, iova: BigInt(page), len: 8 });
    expect(p4.status === "ok" && p4.hit?.page).toBe(page);
  });

  it("[VMM-BIND-1] [VMM-BIND-7] translation disable returns requests without PASID to the stage 2 and blocks PASIDs", async () => {
    const { model, drv, pasids } = await scalable(platformConfig());
    const a = await fsMapping(drv, 1);
    await at(pasids, D1).setEntry(0, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
    await at(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
    await drv.invalidate([pasidCacheDomain(5)]);
    expect(await readPage(drv, D1)).toBe(a.page);
    expect(await readPage(drv, D1, 1)).toBe(a.page);
    await drv.disable();
    expect(await readPage(drv, D1, 1)).toBe("aborted");
    const page = await drv.newDataPage(8);
    const r = await drv.dmaRead({ sid: D1, iova: BigInt(page), len: 8 });
    expect(r.status === "ok" && r.hit?.page).toBe(page);
    expect(await attachments(model)).toEqual([{ sid: D1, hwptId: expect.any(Number), kind: "paging" }]);
  });

  it("[VMM-BIND-11] an unchanged entry keeps its HWPT; a changed DID or table replaces it", async () => {
    const { model, drv, pasids } = await scalable(platformConfig());
    const a = await fsMapping(drv, 1);
    const b = await fsMapping(drv, 2);
    const pt = at(pasids, D1);
    await pt.setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
    await drv.invalidate([pasidCachePasid(5, 1)]);
    const id = async () => (await attachments(model)).find((x) => x.pasid === 1)?.hwptId;
    const first = await id();
    await drv.invalidate([pasidCacheGlobal()]);
    expect(await id()).toBe(first);
    await pt.setEntry(1, { present: true, pgtt: 1, did: 7, fsptptr: a.fs.root });
    await drv.invalidate([pasidCachePasid(7, 1)]);
    const second = await id();
    expect(second).not.toBe(first);
    await pt.setEntry(1, { present: true, pgtt: 1, did: 7, fsptptr: b.fs.root });
    await drv.invalidate([pasidCachePasid(7, 1)]);
    expect(await id()).not.toBe(second);
    expect(await readPage(drv, D1, 1)).toBe(b.page);
  });

  it("[VMM-BIND-5] [VMM-BIND-12] invalid and guest-nested entries are not bound", async () => {
    const config = platformConfig({
      viommu: { ...platformConfig().viommu, secondStage: true, nested: true, cachingMode: true },
    });
    const { model, drv, pasids } = await scalable(config);
    const a = await fsMapping(drv, 1);
    const pt = at(pasids, D1);
    await pt.setEntry(1, { present: true, pgtt: 3, did: 5, aw: 2, ssptptr: a.fs.root, fsptptr: a.fs.root });
    await pt.setEntry(2, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root }, [1n << 5n]); // reserved bit 5
    await pt.setEntry(3, { present: true, pgtt: 6, did: 5 });
    await drv.invalidate([pasidCacheDomain(5)]);
    expect((await attachments(model)).filter((x) => x.pasid !== undefined)).toEqual([]);
    for (const p of [1, 2, 3]) expect(await readPage(drv, D1, p)).toBe("aborted");
  });

  it("[VMM-BIND-13] a PASID-0 request of a passed-through device is aborted", async () => {
    const { drv } = await scalable(platformConfig());
    const page = await drv.newDataPage(1);
    expect((await drv.dmaRead({ sid: D1, pasid: 0, iova: BigInt(page), len: 8 })).status).toBe("aborted");
  });

  it("[VMM-BIND-8] a context entry cleared with a global context invalidation detaches the device", async () => {
    const { model, drv, root, pasids } = await scalable(platformConfig());
    const a = await fsMapping(drv, 1);
    await at(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
    await drv.invalidate([pasidCacheDomain(5)]);
    await root.clearContext(D1);
    await drv.invalidate([contextGlobal()]);
    expect(await attachments(model)).toEqual([]);
    expect(await readPage(drv, D1, 1)).toBe("aborted");
  });

  it("[VMM-BIND-6] [VMM-BIND-7] a new root table re-reads every device's PASID directory", async () => {
    const { model, drv, pasids, root } = await scalable(platformConfig());
    const a = await fsMapping(drv, 1);
    await at(pasids, D1).setEntry(70, { present: true, pgtt: 1, did: 5, fsptptr: a.fs.root });
    await drv.setRoot(root);
    expect((await attachments(model)).map((x) => x.pasid)).toEqual([70]); // RID_PASID 0 has no entry: blocked
    expect(await readPage(drv, D1, 70)).toBe(a.page);
  });
});
