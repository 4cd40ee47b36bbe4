import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Errno } from "../../src/spec/iommufd/errno.ts";
import {
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
} from "../../src/spec/iommufd/ioctl-numbers.ts";
import {
  device,
  hwptAlloc,
  ioasAlloc,
  ioasMap,
  iommu,
  makeHost,
  NEST_PARENT,
  nestedAlloc,
  vfioAttach,
} from "./helpers.ts";

const ERRNOS = new Set<number>(Object.values(Errno));

describe("robustness", () => {
  it("[HOST-UAPI-3] arbitrary bytes on every command give an errno or success, never an exception", () => {
    const { host } = makeHost([iommu()], [device(1), device(2)]);
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0n, 0x100000n, 0x10000n)).toBe(0);
    const parent = hwptAlloc(host, 1, ioas, NEST_PARENT).id;
    expect(nestedAlloc(host, 1, parent, { pgtbl: 0x1000n }).errno).toBe(0);
    fc.assert(
      fc.property(
        fc.integer({ min: 0x80, max: 0x95 }),
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        fc.uint8Array({ minLength: 0, maxLength: 96 }),
        (nr, bytes, buf) => {
          // Small sizes and small ids make the interesting paths reachable.
          if (bytes.length >= 4) new DataView(bytes.buffer).setUint32(0, bytes.length, true);
          const r = host.ioctl(0x3b00 | nr, bytes, { "0x0": buf, "0x1000": buf });
          expect(ERRNOS.has(r.errno)).toBe(true);
          expect(r.bytes.length).toBe(bytes.length);
        },
      ),
      { seed: 42, numRuns: 500 },
    );
  });

  it("[HOST-UAPI-70] arbitrary bytes on the VFIO device commands never throw", () => {
    const { host } = makeHost();
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ minLength: 0, maxLength: 24 }), (attach, bytes) => {
        const cmd = attach ? VFIO_DEVICE_ATTACH_IOMMUFD_PT : VFIO_DEVICE_DETACH_IOMMUFD_PT;
        expect(ERRNOS.has(host.deviceIoctl(1, cmd, bytes).errno)).toBe(true);
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("[HOST-XLATE-11] arbitrary guest stage-1 tables give translations or aborts, never exceptions", () => {
    const { host, memory } = makeHost();
    const ioas = ioasAlloc(host);
    expect(ioasMap(host, ioas, 0n, 0x100000n, 0x100000n)).toBe(0);
    const parent = hwptAlloc(host, 1, ioas, NEST_PARENT).id;
    const n = nestedAlloc(host, 1, parent, { pgtbl: 0x0n }).id;
    expect(vfioAttach(host, 1, n).errno).toBe(0);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 4096, maxLength: 4096 }),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        fc.boolean(),
        (table, iova, write) => {
          memory.write(0x100000, table);
          const r = host.dma({ devId: 1, iova: iova & ~0xfffn, len: 4, write, data: new Uint8Array(4) });
          expect(["ok", "aborted"]).toContain(r.status);
        },
      ),
      { seed: 3, numRuns: 300 },
    );
  });
});
