import { describe, expect, it } from "vitest";
import { SsPte } from "../../src/host/stage2-tables.ts";
import { readU64 } from "../../src/memory/physical-memory.ts";
import { Errno } from "../../src/spec/iommufd/errno.ts";
import { IOMMU_HWPT_INVALIDATE, IOMMU_IOAS_UNMAP } from "../../src/spec/iommufd/ioctl-numbers.ts";
import {
  encodeVtdInvalidateEntries,
  hwptInvalidateCodec,
  ioasUnmapCodec,
} from "../../src/spec/iommufd/structs.ts";
import {
  FS,
  hwptAlloc,
  ioasAlloc,
  ioasMap,
  makeHost,
  NEST_PARENT,
  nestedAlloc,
  vfioAttach,
  writeGuestStage1,
} from "./helpers.ts";

/** Guest RAM: GPA [0, 4 MiB) is host memory at 8 MiB (identity-pinned user_va). */
const HOST_BASE = 8 * 1024 * 1024;
const GUEST_SIZE = 4n * 1024n * 1024n;
const S1_TABLES = 0x10000; // guest-physical
const U64_MAX = (1n << 64n) - 1n;

function nestedSetup(opts: { roGpa?: bigint } = {}) {
  const ctx = makeHost();
  const { host } = ctx;
  const ioas = ioasAlloc(host);
  if (opts.roGpa === undefined) {
    expect(ioasMap(host, ioas, 0n, BigInt(HOST_BASE), GUEST_SIZE)).toBe(0);
  } else {
    // A read-only 4 KiB hole at roGpa, the rest read/write.
    const ro = opts.roGpa;
    expect(ioasMap(host, ioas, 0n, BigInt(HOST_BASE), ro)).toBe(0);
    expect(ioasMap(host, ioas, ro, BigInt(HOST_BASE) + ro, 0x1000n, "r")).toBe(0);
    expect(
      ioasMap(host, ioas, ro + 0x1000n, BigInt(HOST_BASE) + ro + 0x1000n, GUEST_SIZE - ro - 0x1000n),
    ).toBe(0);
  }
  const parent = hwptAlloc(host, 1, ioas, NEST_PARENT).id;
  return { ...ctx, ioas, parent };
}

function invalidate(
  host: ReturnType<typeof nestedSetup>["host"],
  hwpt: number,
  entries: Parameters<typeof encodeVtdInvalidateEntries>[0],
  over: Parameters<typeof hwptInvalidateCodec.encode>[0] = {},
) {
  const data = encodeVtdInvalidateEntries(entries);
  const r = host.ioctl(
    IOMMU_HWPT_INVALIDATE,
    hwptInvalidateCodec.encode({
      hwpt_id: hwpt,
      data_uptr: 0x9000n,
      entry_len: 24,
      entry_num: entries.length,
      ...over,
    }),
    { "0x9000": data },
  );
  return { errno: r.errno, done: hwptInvalidateCodec.decode(r.bytes).entry_num };
}

describe("paging HWPT: real second-stage tables", () => {
  it("[HOST-XLATE-3] [HOST-XLATE-4] leaves carry R/W/SNP and the host address; 2 MiB leaves where aligned", () => {
    const { host, memory, parent } = nestedSetup();
    const root = host.view().objects.find((o) => o.id === parent);
    expect(root?.enforceCoherency).toBe(true);
    // Walk the tables by hand to find the 2 MiB leaf of GPA 0.
    let table = host.stage2Root(parent) as number;
    for (let level = 4; level > 2; level--) table = Number(readU64(memory, table) & SsPte.ADDR);
    const leaf = readU64(memory, table);
    expect(leaf & SsPte.PS).toBe(SsPte.PS);
    expect(leaf & (SsPte.R | SsPte.W | SsPte.SNP)).toBe(SsPte.R | SsPte.W | SsPte.SNP);
    expect(leaf & SsPte.ADDR).toBe(BigInt(HOST_BASE));
  });

  it("[HOST-XLATE-10] a device attached to the paging HWPT reaches host memory through the walk", () => {
    const { host, memory, parent } = nestedSetup();
    expect(vfioAttach(host, 1, parent)).toEqual({ errno: 0, pt: parent });
    memory.write(HOST_BASE + 0x234567, Uint8Array.of(1, 2, 3));
    expect(host.dma({ devId: 1, iova: 0x234567n, len: 3, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(1, 2, 3),
    });
    expect(host.dma({ devId: 1, iova: GUEST_SIZE, len: 1, write: false }).status).toBe("aborted");
  });
});

describe("nested HWPT: guest stage 1 at a guest-physical pointer, through stage 2", () => {
  it("[HOST-XLATE-12] a DMA goes GIOVA → GPA (guest tables) → HPA (stage 2)", () => {
    const { host, memory, parent } = nestedSetup();
    writeGuestStage1(memory, HOST_BASE, S1_TABLES, 0x4000_0000n, 0x30_0000n);
    const n = nestedAlloc(host, 1, parent, { pgtbl: BigInt(S1_TABLES) }).id;
    expect(vfioAttach(host, 1, n).errno).toBe(0);
    memory.write(HOST_BASE + 0x30_0010, Uint8Array.of(0xab));
    expect(host.dma({ devId: 1, iova: 0x4000_0010n, len: 1, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(0xab),
    });
    expect(host.translate({ devId: 1, iova: 0x4000_0010n, write: false })).toBe(HOST_BASE + 0x30_0010);
    // The table pointer is guest-physical: the accessed flag lands at HOST_BASE + S1_TABLES.
    expect(readU64(memory, HOST_BASE + S1_TABLES) & (1n << 5n)).toBe(1n << 5n);
  });

  it("[HOST-XLATE-13] permissions intersect: a read-only stage 2 blocks writes a writable stage 1 allows", () => {
    const roGpa = 0x30_0000n;
    const { host, memory, parent } = nestedSetup({ roGpa });
    writeGuestStage1(memory, HOST_BASE, S1_TABLES, 0x4000_0000n, roGpa);
    writeGuestStage1(memory, HOST_BASE, S1_TABLES, 0x4000_1000n, 0x31_0000n, FS.P | FS.US); // stage-1 read-only
    const n = nestedAlloc(host, 1, parent, { pgtbl: BigInt(S1_TABLES) }).id;
    expect(vfioAttach(host, 1, n).errno).toBe(0);
    const w = (iova: bigint) =>
      host.dma({ devId: 1, iova, len: 1, write: true, data: Uint8Array.of(7) }).status;
    const r = (iova: bigint) => host.dma({ devId: 1, iova, len: 1, write: false }).status;
    expect(r(0x4000_0000n)).toBe("ok");
    expect(w(0x4000_0000n)).toBe("aborted"); // stage 2 read-only
    expect(r(0x4000_1000n)).toBe("ok");
    expect(w(0x4000_1000n)).toBe("aborted"); // stage 1 read-only
  });

  it("[HOST-XLATE-12] supervisor requests need SRE", () => {
    const { host, memory, parent } = nestedSetup();
    writeGuestStage1(memory, HOST_BASE, S1_TABLES, 0x4000_0000n, 0x30_0000n);
    const plain = nestedAlloc(host, 1, parent, { pgtbl: BigInt(S1_TABLES) }).id;
    const sre = nestedAlloc(host, 1, parent, { pgtbl: BigInt(S1_TABLES), flags: 1n }).id;
    expect(vfioAttach(host, 1, plain).errno).toBe(0);
    expect(host.dma({ devId: 1, priv: true, iova: 0x4000_0000n, len: 1, write: false }).status).toBe(
      "aborted",
    );
    expect(vfioAttach(host, 1, sre).errno).toBe(0);
    expect(host.dma({ devId: 1, priv: true, iova: 0x4000_0000n, len: 1, write: false }).status).toBe("ok");
  });

  it("[HOST-XLATE-12] a stage-1 pointer outside the stage 2 faults (the GPA is never used as an HPA)", () => {
    const { host, memory, parent } = nestedSetup();
    // Tables written at HPA S1_TABLES (not through stage 2): a model using the GPA directly would translate.
    writeGuestStage1(memory, 0, S1_TABLES, 0x4000_0000n, 0x30_0000n);
    const n = nestedAlloc(host, 1, parent, { pgtbl: BigInt(S1_TABLES) }).id;
    expect(vfioAttach(host, 1, n).errno).toBe(0);
    expect(host.dma({ devId: 1, iova: 0x4000_0000n, len: 1, write: false }).status).toBe("aborted");
  });
});

describe("host IOTLB and HWPT_INVALIDATE", () => {
  function cached() {
    const ctx = nestedSetup();
    const { host, memory, parent } = ctx;
    writeGuestStage1(memory, HOST_BASE, S1_TABLES, 0x4000_0000n, 0x30_0000n);
    const n = nestedAlloc(host, 1, parent, { pgtbl: BigInt(S1_TABLES) }).id;
    expect(vfioAttach(host, 1, n).errno).toBe(0);
    expect(host.translate({ devId: 1, iova: 0x4000_0000n, write: false })).toBe(HOST_BASE + 0x30_0000);
    // The guest moves the page; until invalidated the host keeps the old translation.
    writeGuestStage1(memory, HOST_BASE, S1_TABLES, 0x4000_0000n, 0x31_0000n);
    return { ...ctx, n };
  }

  it("[HOST-HWPT-20] a stale translation stays in use until HWPT_INVALIDATE", () => {
    const { host, n } = cached();
    expect(host.translate({ devId: 1, iova: 0x4000_0000n, write: false })).toBe(HOST_BASE + 0x30_0000);
    expect(invalidate(host, n, [{ addr: 0x4000_0000n, npages: 1n }])).toEqual({ errno: 0, done: 1 });
    expect(host.translate({ devId: 1, iova: 0x4000_0000n, write: false })).toBe(HOST_BASE + 0x31_0000);
  });

  it("[HOST-HWPT-21] an invalidation of another range keeps the entry", () => {
    const { host, n } = cached();
    expect(invalidate(host, n, [{ addr: 0x4000_1000n, npages: 4n }]).errno).toBe(0);
    expect(host.translate({ devId: 1, iova: 0x4000_0000n, write: false })).toBe(HOST_BASE + 0x30_0000);
  });

  it("[HOST-UAPI-64] addr 0 with npages 2^64-1 flushes everything", () => {
    const { host, n } = cached();
    expect(invalidate(host, n, [{ addr: 0n, npages: U64_MAX, flags: 1 }])).toEqual({ errno: 0, done: 1 });
    expect(host.iotlbSize(n)).toBe(0);
    expect(host.translate({ devId: 1, iova: 0x4000_0000n, write: false })).toBe(HOST_BASE + 0x31_0000);
  });

  it("[HOST-HWPT-23] detach and re-attach (or replace) drop the cached translations", () => {
    const { host, parent, n } = cached();
    expect(vfioAttach(host, 1, parent).errno).toBe(0);
    expect(vfioAttach(host, 1, n).errno).toBe(0);
    expect(host.translate({ devId: 1, iova: 0x4000_0000n, write: false })).toBe(HOST_BASE + 0x31_0000);
  });

  it("[HOST-HWPT-22] a stage-2 unmap flushes the nested HWPTs on that parent", () => {
    const { host, ioas, n } = cached();
    expect(ioasMap(host, ioas, GUEST_SIZE, BigInt(HOST_BASE) + GUEST_SIZE, 0x1000n)).toBe(0);
    expect(host.iotlbSize(n)).toBe(1); // a new mapping changes nothing cached
    const r = host.ioctl(
      IOMMU_IOAS_UNMAP,
      ioasUnmapCodec.encode({ ioas_id: ioas, iova: GUEST_SIZE, length: 0x1000n }),
    );
    expect(r.errno).toBe(0);
    expect(host.iotlbSize(n)).toBe(0);
    expect(host.translate({ devId: 1, iova: 0x4000_0000n, write: false })).toBe(HOST_BASE + 0x31_0000);
  });

  it("[HOST-UAPI-62] [HOST-UAPI-63] processing stops at the first bad entry; entry_num says how many were done", () => {
    const { host, n } = cached();
    const good = { addr: 0x5000_0000n, npages: 1n };
    expect(invalidate(host, n, [good, good, { addr: 0x5000_0800n, npages: 1n }, good])).toEqual({
      errno: Errno.EINVAL,
      done: 2,
    });
    expect(invalidate(host, n, [good, { addr: 0x1000n, npages: U64_MAX }])).toEqual({
      errno: Errno.EINVAL,
      done: 1,
    });
    expect(invalidate(host, n, [good, good, good, { ...good, flags: 2 }])).toEqual({
      errno: Errno.EOPNOTSUPP,
      done: 3,
    });
    expect(invalidate(host, n, [{ ...good, __reserved: 1 }, good])).toEqual({
      errno: Errno.EOPNOTSUPP,
      done: 0,
    });
    // The stale entry survived all of these (none covered it).
    expect(host.translate({ devId: 1, iova: 0x4000_0000n, write: false })).toBe(HOST_BASE + 0x30_0000);
  });

  it("[HOST-UAPI-61] entry_num 0 probes the data type; a wrong type gives EINVAL", () => {
    const { host, n } = cached();
    expect(invalidate(host, n, [], { data_uptr: 0n, entry_len: 0 })).toEqual({ errno: 0, done: 0 });
    expect(invalidate(host, n, [], { data_type: 1 })).toEqual({ errno: Errno.EINVAL, done: 0 });
  });

  it("[HOST-UAPI-65] entry_len other than 24 gives EINVAL; entries without a pointer or length EINVAL", () => {
    const { host, n } = cached();
    const e = [{ addr: 0x4000_0000n, npages: 1n }];
    expect(invalidate(host, n, e, { entry_len: 16 })).toEqual({ errno: Errno.EINVAL, done: 0 });
    expect(invalidate(host, n, e, { entry_len: 32 })).toEqual({ errno: Errno.EINVAL, done: 0 });
    expect(invalidate(host, n, e, { entry_len: 0 })).toEqual({ errno: Errno.EINVAL, done: 0 });
    expect(invalidate(host, n, e, { data_uptr: 0n })).toEqual({ errno: Errno.EINVAL, done: 0 });
    expect(invalidate(host, n, e, { entry_num: 2 })).toEqual({ errno: Errno.EFAULT, done: 1 });
  });

  it("[HOST-UAPI-60] reserved, bad ids and non-nested HWPTs; entry_num is written back as 0", () => {
    const { host, parent, n } = cached();
    const e = [{ addr: 0x4000_0000n, npages: 1n }];
    expect(invalidate(host, n, e, { __reserved: 1 })).toEqual({ errno: Errno.EOPNOTSUPP, done: 0 });
    expect(invalidate(host, 77, e)).toEqual({ errno: Errno.ENOENT, done: 0 });
    expect(invalidate(host, parent, e)).toEqual({ errno: Errno.EINVAL, done: 0 });
  });
});
