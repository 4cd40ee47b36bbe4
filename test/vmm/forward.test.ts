import { describe, expect, it } from "vitest";
import {
  type GuestDriver,
  iotlbDomain,
  iotlbPage,
  pasidCachePasid,
  pasidIotlbPage,
  pasidIotlbPasid,
} from "../../src/driver/index.ts";
import { at, platformConfig, scalable } from "./fixtures.ts";

const D1 = 0x10;
const IOVA = 0x40_0000n;
const OTHER = 0x80_0000n;

async function readAt(drv: GuestDriver, iova: bigint): Promise<number | "aborted"> {
  const r = await drv.dmaRead({ sid: D1, pasid: 1, iova, len: 8 });
  return r.status === "aborted" ? "aborted" : (r.hit?.page ?? -1);
}

/** D1 PASID 1 bound to a first-stage table mapping IOVA → A and OTHER → C, both read once (cached on the host). */
async function boundAndCached() {
  const s = await scalable(platformConfig());
  const { drv, pasids } = s;
  const fs = await drv.newPageTable("first", 4);
  const a = await drv.newDataPage(1);
  const b = await drv.newDataPage(2);
  const c = await drv.newDataPage(3);
  await fs.map(IOVA, a, "4K", { write: true, user: true });
  await fs.map(OTHER, c, "4K", { write: true, user: true });
  await at(pasids, D1).setEntry(1, { present: true, pgtt: 1, did: 5, fsptptr: fs.root });
  await drv.invalidate([pasidCachePasid(5, 1), pasidIotlbPasid(5, 1)]);
  expect(await readAt(drv, IOVA)).toBe(a);
  expect(await readAt(drv, OTHER)).toBe(c);
  // The guest moves both mappings, without invalidating yet.
  await fs.map(IOVA, b, "4K", { write: true, user: true }, { replace: true });
  await fs.map(OTHER, a, "4K", { write: true, user: true }, { replace: true });
  return { ...s, a, b, c };
}

describe("invalidation forwarding to nested HWPTs", () => {
  it("[VMM-INV-1] a stale host translation survives until the guest's PASID-IOTLB invalidation is forwarded", async () => {
    const { drv, a, b, c } = await boundAndCached();
    expect(await readAt(drv, IOVA)).toBe(a); // stale: the host IOTLB still holds it
    await drv.invalidate([pasidIotlbPasid(4, 1)]); // another domain: not forwarded to this HWPT
    expect(await readAt(drv, IOVA)).toBe(a);
    await drv.invalidate([pasidIotlbPasid(5, 2)]); // another PASID
    expect(await readAt(drv, IOVA)).toBe(a);
    await drv.invalidate([pasidIotlbPasid(5, 1)]);
    expect(await readAt(drv, IOVA)).toBe(b);
    expect(await readAt(drv, OTHER)).toBe(a);
    expect(c).not.toBe(a);
  });

  it("[VMM-INV-2] a page-selective PASID-IOTLB invalidation flushes only its range", async () => {
    const { drv, a, b, c } = await boundAndCached();
    await drv.invalidate([pasidIotlbPage(5, 1, IOVA, 0)]);
    expect(await readAt(drv, IOVA)).toBe(b);
    expect(await readAt(drv, OTHER)).toBe(c); // outside the range: still the cached translation
    await drv.invalidate([pasidIotlbPage(5, 1, OTHER & ~0x1f_ffffn, 9)]); // 2 MiB around OTHER
    expect(await readAt(drv, OTHER)).toBe(a);
  });

  it("[VMM-INV-3] IOTLB invalidations of the domain flush the nested HWPT whatever the address", async () => {
    const { drv, a, b } = await boundAndCached();
    await drv.invalidate([iotlbDomain(6)]);
    expect(await readAt(drv, IOVA)).toBe(a);
    await drv.invalidate([iotlbPage(5, 0x1234_5000n, 0)]); // page-selective elsewhere: all nested entries of DID 5
    expect(await readAt(drv, IOVA)).toBe(b);
    expect(await readAt(drv, OTHER)).toBe(a);
  });
});
