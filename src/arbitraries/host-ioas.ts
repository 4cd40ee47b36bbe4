/**
 * IOAS_MAP / IOAS_UNMAP sequences on one IOAS with paging HWPTs: fixed and allocated IOVAs,
 * lengths from one page to several 2 MiB blocks (2 MiB-aligned ones get large leaves), every
 * permission, overlaps, unmaps of a whole mapping, of several, of part of one, of a range with
 * nothing, of everything; the malformed cases of each command (flags, reserved, zero or unaligned
 * lengths and addresses, user memory outside host RAM or in the IOMMU's table pool, IOVAs beyond a
 * HWPT's aperture, 2^64 − 1); a second HWPT allocated on the populated IOAS; DMAs that must
 * reach exactly what the mappings say. [HOST-UAPI-41] .. [HOST-UAPI-47] [HOST-XLATE-4]
 * [HOST-XLATE-5] [HOST-HWPT-2]
 */
import fc from "fast-check";

/** 39-bit apertures end here: mappings near it reach beyond 3-level HWPTs. */
export const HIGH_IOVA_BASE = (1n << 39n) - 0x40_0000n;
/** Guest pages mappings may use: the 16 MiB of generated guest RAM. */
export const IOAS_GPA_PAGES = 4096;

export type MapFlaw =
  | "none"
  | "no-permission"
  | "unknown-flag"
  | "reserved"
  | "zero-length"
  | "unaligned-length"
  | "unaligned-va"
  | "unaligned-iova"
  | "outside-memory"
  | "table-pool"
  | "iova-max";

export interface IoasMapOp {
  op: "map";
  fixed: boolean;
  /** IOVA page from the low base (0) or the high one (near 2^39). */
  high: boolean;
  iovaPage: number;
  pages: number;
  gpaPage: number;
  read: boolean;
  write: boolean;
  flaw: MapFlaw;
}

export type IoasUnmapOp =
  | { op: "unmap"; kind: "exact" | "cover" | "inside" | "straddle"; area: number }
  | { op: "unmap"; kind: "range"; high: boolean; iovaPage: number; pages: number }
  | { op: "unmap"; kind: "all" | "zero-length" | "length-max" };

export type IoasDmaOp =
  | { op: "dma"; area: number; page: number; write: boolean }
  | { op: "dma-free"; iovaPage: number };

export type IoasOp = IoasMapOp | IoasUnmapOp | IoasDmaOp | { op: "second-hwpt" };

const pagesArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 8 }) },
  { weight: 2, arbitrary: fc.constantFrom(512, 1024) },
  { weight: 1, arbitrary: fc.constantFrom(511, 513, 600) },
);

const flawArb = fc.oneof(
  { weight: 20, arbitrary: fc.constant<MapFlaw>("none") },
  {
    weight: 1,
    arbitrary: fc.constantFrom<MapFlaw>(
      "no-permission",
      "unknown-flag",
      "reserved",
      "zero-length",
      "unaligned-length",
      "unaligned-va",
      "unaligned-iova",
      "outside-memory",
      "table-pool",
      "iova-max",
    ),
  },
);

export const ioasMapArb: fc.Arbitrary<IoasMapOp> = fc
  .record({
    op: fc.constant("map" as const),
    fixed: fc.oneof(
      { weight: 3, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
    high: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    iovaPage: fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 0, max: 40 }) },
      { weight: 1, arbitrary: fc.constantFrom(512, 1024, 1536) },
    ),
    pages: pagesArb,
    gpaPage: fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 1, max: IOAS_GPA_PAGES - 1 }) },
      { weight: 1, arbitrary: fc.constantFrom(512, 1024, 2048, 3072) },
    ),
    read: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    write: fc.boolean(),
    flaw: flawArb,
  })
  .map((m) => ({
    ...m,
    // Inside guest RAM; a mapping without any right is the no-permission flaw's business.
    gpaPage: Math.min(m.gpaPage, IOAS_GPA_PAGES - m.pages),
    read: m.read || !m.write,
  }));

export const ioasUnmapArb: fc.Arbitrary<IoasUnmapOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant("unmap" as const),
      kind: fc.constantFrom(
        "exact" as const,
        "exact" as const,
        "cover" as const,
        "inside" as const,
        "straddle" as const,
      ),
      area: fc.nat(7),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("unmap" as const),
      kind: fc.constant("range" as const),
      high: fc.boolean(),
      iovaPage: fc.integer({ min: 0, max: 1600 }),
      pages: fc.integer({ min: 1, max: 1100 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("unmap" as const),
      kind: fc.constantFrom("all" as const, "zero-length" as const, "length-max" as const),
    }),
  },
);

export const ioasDmaArb: fc.Arbitrary<IoasDmaOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("dma" as const),
      area: fc.nat(7),
      page: fc.oneof(fc.nat(3), fc.constantFrom(511, 512, 1023, 100_000)),
      write: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dma-free" as const), iovaPage: fc.nat(1700) }) },
);

export function ioasOpsArb(max = 20): fc.Arbitrary<IoasOp[]> {
  return fc.array(
    fc.oneof(
      { weight: 5, arbitrary: ioasMapArb },
      { weight: 3, arbitrary: ioasUnmapArb },
      { weight: 5, arbitrary: ioasDmaArb },
      { weight: 1, arbitrary: fc.constant({ op: "second-hwpt" as const }) },
    ),
    { minLength: 3, maxLength: max },
  );
}
