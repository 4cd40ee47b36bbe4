import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as inv from "../../src/driver/invalidations.ts";
import { decodeDescriptor, deviceTlbRange, encodeDescriptor } from "../../src/spec/descriptor.ts";
import { PGTT } from "../../src/spec/pasid-entry.ts";

describe("invalidation descriptors and sequences", () => {
  it("[HARNESS-DRV-10] addressMask gives the smallest aligned block covering the range", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }),
        fc.bigInt({ min: 1n, max: 1n << 20n }),
        (addr, pages) => {
          const { addr: base, am } = inv.addressMask(addr, pages);
          const size = 1n << BigInt(12 + am);
          expect(base % size).toBe(0n);
          const first = addr & ~0xfffn;
          expect(base <= first && first + pages * 4096n <= base + size).toBe(true);
          if (am > 0) {
            const half = size >> 1n;
            const b = first & ~(half - 1n);
            expect(first + pages * 4096n <= b + half).toBe(false);
          }
        },
      ),
    );
    // Pages 3 and 4 straddle a 4-page boundary: the smallest block holding both is 8 pages at 0.
    expect(inv.addressMask(0x3000n, 2n)).toEqual({ addr: 0x0n, am: 3 });
    expect(inv.addressMask(0x4000n, 4n)).toEqual({ addr: 0x4000n, am: 2 });
  });

  it("[HARNESS-DRV-10] [VTD-QI-9] a range beyond MAMV (or without PSI) falls back to domain / PASID granularity", () => {
    expect(inv.iotlbRange(4, 0x20_0000n, 512n, { mamv: 18, ih: true })).toEqual(
      inv.iotlbPage(4, 0x20_0000n, 9, true),
    );
    expect(inv.iotlbRange(4, 0n, 1n << 20n, { mamv: 18 })).toEqual(inv.iotlbDomain(4));
    expect(inv.iotlbRange(4, 0n, 1n, { mamv: 18, psi: false })).toEqual(inv.iotlbDomain(4));
    expect(inv.pasidIotlbRange(4, 9, 0x1000n, 1n, { mamv: 0 })).toEqual(inv.pasidIotlbPage(4, 9, 0x1000n, 0));
    expect(inv.pasidIotlbRange(4, 9, 0x1000n, 2n, { mamv: 0 })).toEqual(inv.pasidIotlbPasid(4, 9));
  });

  it("[VTD-QI-17] device-TLB sizes are encoded as the hardware decodes them", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: 63 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (k, addr) => {
          const bytes = 1n << BigInt(k);
          const d = inv.deviceTlb(0x100, addr, bytes);
          if (d.kind !== "device-tlb") throw new Error("kind");
          expect(deviceTlbRange(d.addr, d.s)).toEqual({ addr: addr & ~(bytes - 1n), size: bytes });
        },
      ),
    );
    const all = inv.pasidDeviceTlb(0x100, 3, 0n, 1n << 64n);
    if (all.kind !== "pasid-device-tlb") throw new Error("kind");
    expect(deviceTlbRange(all.addr, all.s)).toEqual({ addr: 0n, size: 1n << 64n });
  });

  it("[VTD-QI-15] [VTD-QI-16] every helper's descriptor is valid and decodes to itself", () => {
    const descs = [
      inv.contextGlobal(),
      inv.contextDomain(3),
      inv.contextDevice(3, 0x0108, 3),
      inv.iotlbGlobal({ dr: true, dw: true }),
      inv.iotlbDomain(3),
      inv.iotlbPage(3, 0x40_0000n, 10, true),
      inv.pasidCacheDomain(3),
      inv.pasidCachePasid(3, 0xfffff),
      inv.pasidCacheGlobal(),
      inv.pasidIotlbPasid(3, 5),
      inv.pasidIotlbPage(3, 5, 0x8000n, 1, true),
      inv.deviceTlb(0x0108, 0x10_0000n, 0x4000n),
      inv.pasidDeviceTlb(0x0108, 5, 0x10_0000n),
      inv.waitWithStatus(0x2000, 0xdead_beef, true),
      inv.waitNop(),
    ];
    for (const d of descs) {
      const r = decodeDescriptor(encodeDescriptor(d, 256), { width: 256 });
      expect(r).toEqual({ ok: true, descriptor: d });
      expect(inv.describeDescriptor(d)).toMatch(/^[a-z-]+/);
    }
  });

  it("[HARNESS-DRV-10] sequences after a change follow the specification's guidance", () => {
    expect(inv.afterRootTableChange(true).map(inv.describeDescriptor)).toEqual([
      "context-cache global",
      "pasid-cache global",
      "iotlb global",
    ]);
    expect(inv.afterRootTableChange(false)).toHaveLength(2);
    expect(inv.afterLegacyContextChange(0x0108, 7).map(inv.describeDescriptor)).toEqual([
      "context-cache device did=7 sid=0x108 fm=0",
      "iotlb domain did=7",
    ]);
    expect(inv.afterScalableContextChange(0x0108, [1, 2], true).map((d) => d.kind)).toEqual([
      "context-cache",
      "pasid-cache",
      "iotlb",
      "pasid-cache",
      "iotlb",
      "device-tlb",
    ]);
    expect(inv.afterPasidEntryChange(5, 9, PGTT.FIRST_STAGE).map(inv.describeDescriptor)).toEqual([
      "pasid-cache pasid did=5 pasid=9",
      "pasid-iotlb pasid did=5 pasid=9",
    ]);
    expect(inv.afterPasidEntryChange(5, 9, PGTT.PASS_THROUGH)[1]?.kind).toBe("pasid-iotlb");
    expect(inv.afterPasidEntryChange(5, 9, PGTT.NESTED, { sid: 0x10 }).map((d) => d.kind)).toEqual([
      "pasid-cache",
      "iotlb",
      "pasid-device-tlb",
    ]);
    expect(inv.afterNewPasidEntry(5, 9, false)).toEqual([]);
    expect(inv.afterNewPasidEntry(5, 9, true)).toHaveLength(2);
  });
});
