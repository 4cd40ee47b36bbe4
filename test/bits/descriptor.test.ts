import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Descriptor,
  type DescriptorWidth,
  decodeDescriptor,
  descriptorType,
  deviceTlbRange,
  encodeDescriptor,
} from "../../src/spec/descriptor.ts";
import { descriptorScope } from "../../src/vtd/descriptor-scope.ts";

const u = (bitsN: number) => fc.integer({ min: 0, max: 2 ** bitsN - 1 });
const pageAddr = fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }).map((p) => p << 12n);

const descriptorArb: fc.Arbitrary<Descriptor> = fc.oneof(
  fc.record({
    kind: fc.constant("context-cache" as const),
    g: fc.integer({ min: 1, max: 3 }),
    did: u(16),
    sid: u(16),
    fm: u(2),
  }),
  fc.record({
    kind: fc.constant("iotlb" as const),
    g: fc.integer({ min: 1, max: 3 }),
    dr: fc.boolean(),
    dw: fc.boolean(),
    did: u(16),
    am: u(6),
    ih: fc.boolean(),
    addr: pageAddr,
  }),
  fc.record({
    kind: fc.constant("device-tlb" as const),
    sid: u(16),
    pfsid: fc.constant(0),
    mip: fc.constant(0),
    s: fc.boolean(),
    addr: pageAddr,
  }),
  fc.record({ kind: fc.constant("iec" as const), g: fc.boolean(), iidx: u(16), im: u(5) }),
  fc.record({
    kind: fc.constant("wait" as const),
    intr: fc.boolean(),
    sw: fc.boolean(),
    fn: fc.boolean(),
    pd: fc.constant(false),
    statusData: fc.integer({ min: 0, max: 0xffff_ffff }),
    statusAddr: fc.bigInt({ min: 0n, max: (1n << 62n) - 1n }).map((a) => a << 2n),
  }),
  fc.record({
    kind: fc.constant("pasid-iotlb" as const),
    g: fc.integer({ min: 2, max: 3 }),
    did: u(16),
    pasid: u(20),
    am: u(6),
    ih: fc.boolean(),
    addr: pageAddr,
  }),
  fc.record({
    kind: fc.constant("pasid-cache" as const),
    g: fc.constantFrom(0, 1, 3),
    did: u(16),
    pasid: u(20),
  }),
  fc.record({
    kind: fc.constant("pasid-device-tlb" as const),
    sid: u(16),
    pfsid: fc.constant(0),
    mip: fc.constant(0),
    pasid: u(20),
    gi: fc.boolean(),
    s: fc.boolean(),
    addr: pageAddr,
  }),
);

const wideOnly = new Set(["pasid-iotlb", "pasid-cache", "pasid-device-tlb"]);

describe("queued-invalidation descriptors", () => {
  it("[VTD-QI-15] every descriptor round-trips through encode and decode, 128- and 256-bit", () => {
    fc.assert(
      fc.property(descriptorArb, fc.constantFrom<DescriptorWidth>(128, 256), (d, width) => {
        if (width === 128 && wideOnly.has(d.kind)) {
          expect(() => encodeDescriptor(d, width)).toThrow(RangeError);
          return;
        }
        const words = encodeDescriptor(d, width);
        expect(words).toHaveLength(width === 256 ? 4 : 2);
        expect(decodeDescriptor(words, { width })).toEqual({ ok: true, descriptor: d });
      }),
    );
  });

  it("[VTD-QI-15] a descriptor that decodes loses no bit: re-encoding gives the same words", () => {
    const word = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(word, { minLength: 4, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 63 }), { maxLength: 6 }),
        fc.boolean(),
        (type, raw, keepBits, wideQ) => {
          // Mostly-zero words with a few random bits, so that valid descriptors come up often.
          const width: DescriptorWidth = wideQ ? 256 : 128;
          const sparse = raw.map((w) => keepBits.reduce((a, b) => a | (w & (1n << BigInt(b))), 0n));
          sparse[0] = ((sparse[0] as bigint) & ~0xe3fn) | BigInt(type) | ((raw[0] as bigint) & 0x30n);
          const words = sparse.slice(0, width / 64);
          const r = decodeDescriptor(words, { width });
          if (r.ok) expect(encodeDescriptor(r.descriptor, width)).toEqual(words);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("[VTD-QI-15] field positions match the figures of §6.5.2 (as Linux builds them)", () => {
    expect(encodeDescriptor({ kind: "context-cache", g: 3, did: 0x1234, sid: 0xabcd, fm: 2 }, 128)).toEqual([
      0x1n | (3n << 4n) | (0x1234n << 16n) | (0xabcdn << 32n) | (2n << 48n),
      0n,
    ]);
    expect(
      encodeDescriptor(
        { kind: "iotlb", g: 3, dr: true, dw: true, did: 7, am: 9, ih: true, addr: 0x12_3400_0000n },
        128,
      ),
    ).toEqual([0x2n | (3n << 4n) | (1n << 6n) | (1n << 7n) | (7n << 16n), 0x12_3400_0000n | (1n << 6n) | 9n]);
    expect(
      encodeDescriptor(
        {
          kind: "wait",
          intr: true,
          sw: true,
          fn: true,
          pd: false,
          statusData: 0xdead_beef,
          statusAddr: 0x5000n,
        },
        256,
      ),
    ).toEqual([0x5n | (1n << 4n) | (1n << 5n) | (1n << 6n) | (0xdead_beefn << 32n), 0x5000n, 0n, 0n]);
    expect(
      encodeDescriptor(
        { kind: "pasid-iotlb", g: 3, did: 2, pasid: 0xfffff, am: 0, ih: false, addr: 0x7000n },
        256,
      ),
    ).toEqual([0x6n | (3n << 4n) | (2n << 16n) | (0xfffffn << 32n), 0x7000n, 0n, 0n]);
    expect(encodeDescriptor({ kind: "pasid-cache", g: 1, did: 5, pasid: 9 }, 256)).toEqual([
      0x7n | (1n << 4n) | (5n << 16n) | (9n << 32n),
      0n,
      0n,
      0n,
    ]);
    expect(
      encodeDescriptor(
        { kind: "pasid-device-tlb", sid: 0x10, pfsid: 0, mip: 0, pasid: 3, gi: true, s: true, addr: 0x8000n },
        256,
      ),
    ).toEqual([0x8n | (0x10n << 16n) | (3n << 32n), 0x8000n | 1n | (1n << 11n), 0n, 0n]);
    expect(descriptorType(0x5n | (1n << 9n))).toBe(0x15);
  });

  it("[VTD-QI-5] unknown types and 256-bit-only types in a 128-bit queue are invalid types", () => {
    for (const w0 of [0x0n, 0x9n, 0xan, 0xfn, 0x1n | (1n << 9n), 0x5n | (1n << 11n)]) {
      expect(decodeDescriptor([w0, 0n, 0n, 0n], { width: 256 })).toMatchObject({
        ok: false,
        error: "invalid-type",
      });
    }
    for (const t of [6n, 7n, 8n]) {
      const base = t === 6n ? 0x20n : 0n;
      expect(decodeDescriptor([t | base, 0n], { width: 128 })).toMatchObject({
        ok: false,
        error: "invalid-type",
      });
      expect(decodeDescriptor([t | base, 0n, 0n, 0n], { width: 256 }).ok).toBe(true);
    }
  });

  it("[VTD-QI-15] [VTD-QI-6] set reserved bits make a descriptor invalid, padding of a 128-bit type included", () => {
    const bad = (words: bigint[], width: DescriptorWidth = 128) =>
      expect(decodeDescriptor(words, { width })).toMatchObject({ ok: false, error: "reserved" });
    const cc = 0x1n | (1n << 4n);
    bad([cc | (1n << 6n), 0n]);
    bad([cc | (1n << 12n), 0n]);
    bad([cc | (1n << 50n), 0n]);
    bad([cc, 1n]);
    const iotlb = 0x2n | (1n << 4n);
    bad([iotlb | (1n << 8n), 0n]);
    bad([iotlb | (1n << 32n), 0n]);
    bad([iotlb, 1n << 7n]);
    bad([0x4n | (1n << 5n), 0n]);
    bad([0x4n | (1n << 48n), 0n]);
    bad([0x5n | (1n << 12n), 0n]);
    bad([0x5n, 0x1001n]);
    bad([0x6n | (2n << 4n) | (1n << 52n), 0n, 0n, 0n], 256);
    bad([0x6n | (2n << 4n), 0n, 1n, 0n], 256);
    bad([0x7n | (1n << 63n), 0n, 0n, 0n], 256);
    bad([0x7n, 1n, 0n, 0n], 256);
    bad([0x8n, 1n << 1n, 0n, 0n], 256);
    // A 128-bit descriptor in a 256-bit queue needs its upper 128 bits zero.
    bad([cc, 0n, 0n, 1n << 40n], 256);
    expect(decodeDescriptor([cc, 0n, 0n, 0n], { width: 256 }).ok).toBe(true);
  });

  it("[VTD-QI-15] PD, PFSID and MIP are reserved unless ECAP.PDS / ECAP.DIT define them", () => {
    const pd = [0x5n | (1n << 7n), 0n];
    expect(decodeDescriptor(pd, { width: 128 }).ok).toBe(false);
    expect(decodeDescriptor(pd, { width: 128, pageRequestDrain: true })).toMatchObject({
      ok: true,
      descriptor: { kind: "wait", pd: true },
    });
    const devTlb = [0x3n | (5n << 16n) | (0xabcn << 52n) | (0xdn << 12n), 0x1000n];
    expect(decodeDescriptor(devTlb, { width: 128 }).ok).toBe(false);
    expect(decodeDescriptor(devTlb, { width: 128, deviceTlbThrottle: true })).toMatchObject({
      ok: true,
      descriptor: { kind: "device-tlb", mip: 5, pfsid: 0xabcd },
    });
  });

  it("[VTD-QI-16] reserved granularities are invalid", () => {
    const r = (w0: bigint, width: DescriptorWidth = 256) => decodeDescriptor([w0, 0n, 0n, 0n], { width });
    expect(r(0x1n)).toMatchObject({ ok: false, error: "reserved" });
    expect(r(0x2n)).toMatchObject({ ok: false, error: "reserved" });
    expect(r(0x6n)).toMatchObject({ ok: false, error: "reserved" });
    expect(r(0x6n | (1n << 4n))).toMatchObject({ ok: false, error: "reserved" });
    expect(r(0x7n | (2n << 4n))).toMatchObject({ ok: false, error: "reserved" });
    for (const g of [0n, 1n, 3n]) expect(r(0x7n | (g << 4n)).ok).toBe(true);
  });
});

describe("descriptor scopes", () => {
  const opts = { domainIdBits: 16, mgaw: 48 };
  it("[VTD-QI-14] context-cache, IOTLB and PASID-cache granularities map to scopes", () => {
    expect(descriptorScope({ kind: "context-cache", g: 1, did: 3, sid: 4, fm: 0 }, opts)).toEqual({
      kind: "context",
      granularity: "global",
    });
    expect(descriptorScope({ kind: "context-cache", g: 2, did: 3, sid: 4, fm: 0 }, opts)).toEqual({
      kind: "context",
      granularity: "domain",
      did: 3,
    });
    expect(descriptorScope({ kind: "context-cache", g: 3, did: 3, sid: 0x108, fm: 3 }, opts)).toEqual({
      kind: "context",
      granularity: "device",
      did: 3,
      sid: 0x108,
      fm: 3,
    });
    expect(descriptorScope({ kind: "pasid-cache", g: 0, did: 9, pasid: 5 }, opts)).toEqual({
      kind: "pasid-cache",
      granularity: "domain",
      did: 9,
    });
    expect(descriptorScope({ kind: "pasid-cache", g: 1, did: 9, pasid: 5 }, opts)).toEqual({
      kind: "pasid-cache",
      granularity: "pasid",
      did: 9,
      pasid: 5,
    });
    expect(descriptorScope({ kind: "pasid-cache", g: 3, did: 9, pasid: 5 }, opts)).toEqual({
      kind: "pasid-cache",
      granularity: "global",
    });
    expect(
      descriptorScope(
        { kind: "wait", intr: false, sw: true, fn: false, pd: false, statusData: 1, statusAddr: 0n },
        opts,
      ),
    ).toBeUndefined();
    expect(descriptorScope({ kind: "iec", g: false, iidx: 0, im: 0 }, opts)).toEqual({ kind: "iec" });
  });

  it("[VTD-QI-14] [VTD-QI-8] page-selective addresses are aligned down to 2^AM pages; IOTLB bits above MGAW are ignored", () => {
    const iotlb = { kind: "iotlb" as const, g: 3, dr: false, dw: false, did: 1, ih: true };
    expect(descriptorScope({ ...iotlb, am: 9, addr: 0x1234_5000n }, opts)).toEqual({
      kind: "iotlb",
      granularity: "page",
      did: 1,
      addr: 0x1220_0000n,
      am: 9,
      ih: true,
    });
    expect(descriptorScope({ ...iotlb, am: 0, addr: (1n << 50n) | 0x3000n }, opts)).toMatchObject({
      addr: 0x3000n,
    });
    expect(
      descriptorScope(
        { kind: "pasid-iotlb", g: 3, did: 1, pasid: 7, am: 1, ih: false, addr: 0xffff_8000_0000_3000n },
        opts,
      ),
    ).toEqual({
      kind: "pasid-iotlb",
      granularity: "page",
      did: 1,
      pasid: 7,
      addr: 0xffff_8000_0000_2000n,
      am: 1,
      ih: false,
    });
    expect(
      descriptorScope({ kind: "pasid-iotlb", g: 2, did: 1, pasid: 7, am: 5, ih: true, addr: 0x5000n }, opts),
    ).toEqual({ kind: "pasid-iotlb", granularity: "pasid", did: 1, pasid: 7 });
  });

  it("[VTD-QI-14] [VTD-QI-8] DID bits above the domain-id width are ignored", () => {
    expect(
      descriptorScope({ kind: "pasid-cache", g: 0, did: 0x1ff, pasid: 0 }, { domainIdBits: 8, mgaw: 48 }),
    ).toEqual({ kind: "pasid-cache", granularity: "domain", did: 0xff });
  });

  it("[VTD-QI-17] device-TLB sizes follow the ATS encoding", () => {
    expect(deviceTlbRange(0x5000n, false)).toEqual({ addr: 0x5000n, size: 4096n });
    expect(deviceTlbRange(0x4000n, true)).toEqual({ addr: 0x4000n, size: 8192n });
    expect(deviceTlbRange(0x5000n, true)).toEqual({ addr: 0x4000n, size: 16384n });
    expect(deviceTlbRange(0x7_f000n, true)).toEqual({ addr: 0n, size: 1n << 20n });
    expect(deviceTlbRange((1n << 64n) - 4096n, true)).toEqual({ addr: 0n, size: 1n << 64n });
    expect(
      descriptorScope(
        { kind: "pasid-device-tlb", sid: 2, pfsid: 0, mip: 0, pasid: 4, gi: false, s: false, addr: 0x9000n },
        {
          domainIdBits: 16,
          mgaw: 48,
        },
      ),
    ).toEqual({ kind: "device-tlb", sid: 2, pasid: 4, addr: 0x9000n, size: 4096n });
  });
});
