import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ContextTables } from "../../src/driver/context-tables.ts";
import { DriverError } from "../../src/driver/errors.ts";
import { GuestLayout } from "../../src/driver/layout.ts";
import { PAGE_SIZE_BYTES, type PageSize, PageTable } from "../../src/driver/page-table.ts";
import { PasidTables } from "../../src/driver/pasid-tables.ts";
import { TableMemory } from "../../src/driver/table-memory.ts";
import { readWords } from "../../src/memory/physical-memory.ts";
import { hi32, lo32, walkFirstStage, walkSecondStage } from "../../src/paging/index.ts";
import {
  decodeLegacyContext,
  decodeScalableContext,
  encodeLegacyContext,
} from "../../src/spec/context-entry.ts";
import { decodePasidDir, decodePasidEntry, encodePasidEntry, PGTT } from "../../src/spec/pasid-entry.ts";
import { decodeLegacyRoot, decodeScalableRoot } from "../../src/spec/root-entry.ts";
import { DoubleSurface, memoryOf } from "./driver-fixtures.ts";

const GIB = 1 << 30;

function setup(memBytes = 64 << 20) {
  const s = new DoubleSurface({}, memBytes);
  const layout = new GuestLayout(memoryOf(memBytes));
  const tm = new TableMemory(s, layout.tables);
  return { s, layout, tm };
}

describe("root and context tables", () => {
  it("[VTD-ROOT-1] [VTD-CTX-1] a legacy context entry is written bit-exactly behind a present root entry", async () => {
    const { s, tm } = setup();
    const rt = await ContextTables.create(tm, "legacy");
    const e = { present: true, fpd: true, tt: 2, ssptptr: 0x0012_3000, aw: 2, did: 0x4d2 };
    const addr = await rt.setLegacyContext(0x0108, e);
    const root = decodeLegacyRoot(readWords(s.mem, rt.root + 1 * 16, 2));
    expect(root.present).toBe(true);
    expect(addr).toBe(root.ctp + 0x08 * 16);
    const words = readWords(s.mem, addr, 2);
    expect(words).toEqual(encodeLegacyContext(e));
    expect(decodeLegacyContext(words)).toMatchObject(e);
    // Another device on the same bus shares the context table.
    expect(await rt.setLegacyContext(0x0110, e)).toBe(root.ctp + 0x10 * 16);
  });

  it("[VTD-ROOT-3] [VTD-CTX-3] scalable context entries go to the lower or upper table by devfn", async () => {
    const { s, tm } = setup();
    const rt = await ContextTables.create(tm, "scalable");
    const e = { present: true, fpd: false, paside: true, pdts: 3, pasidDirPtr: 0x0040_0000, ridPasid: 7 };
    const lower = await rt.setScalableContext(0x0210, e);
    const upper = await rt.setScalableContext(0x0290, e);
    const root = decodeScalableRoot(readWords(s.mem, rt.root + 2 * 16, 2));
    expect(root.lowerPresent && root.upperPresent).toBe(true);
    expect(lower).toBe(root.lctp + 0x10 * 32);
    expect(upper).toBe(root.uctp + 0x10 * 32);
    const d = decodeScalableContext(readWords(s.mem, upper, 4));
    expect(d).toMatchObject(e);
    expect(readWords(s.mem, upper + 16, 2)).toEqual([0n, 0n]);
  });

  it("[VTD-CTX-2] raw entries and clearing write exactly what was asked", async () => {
    const { s, tm } = setup();
    const rt = await ContextTables.create(tm, "legacy");
    const addr = await rt.setContextRaw(0x0010, [0xffff_ffff_ffff_fff1n, 0x80n]);
    expect(readWords(s.mem, addr, 2)).toEqual([0xffff_ffff_ffff_fff1n, 0x80n]);
    expect(await rt.clearContext(0x0010)).toBe(true);
    expect(readWords(s.mem, addr, 2)).toEqual([0n, 0n]);
    expect(await rt.clearContext(0x0500)).toBe(false);
    await rt.setRootRaw(3, [0x1234_5001n, 0xdeadn]);
    expect(readWords(s.mem, rt.root + 48, 2)).toEqual([0x1234_5001n, 0xdeadn]);
    await expect(rt.setScalableContext(0x10, { present: true, pdts: 0, pasidDirPtr: 0 })).rejects.toThrow(
      DriverError,
    );
  });

  it("[HARNESS-DRV-2] every table write goes through writeGuest, into the table region", async () => {
    const { s, layout, tm } = setup();
    const rt = await ContextTables.create(tm, "legacy");
    await rt.setLegacyContext(0x0108, { present: true, tt: 0, ssptptr: 0x5000, aw: 2, did: 1 });
    const writes = s.log.filter((c) => c.op === "writeGuest");
    expect(writes.length).toBeGreaterThan(0);
    for (const w of writes) expect(layout.tables.contains(Number((w as { gpa: bigint }).gpa))).toBe(true);
    expect(s.log.some((c) => c.op === "writeReg")).toBe(false);
  });
});

describe("PASID directory and tables", () => {
  it("[VTD-PASID-1] [VTD-PASID-3] every PGTT kind round-trips through guest memory", async () => {
    const { s, tm } = setup();
    const pt = await PasidTables.create(tm, 0);
    const kinds = [PGTT.FIRST_STAGE, PGTT.SECOND_STAGE, PGTT.NESTED, PGTT.PASS_THROUGH];
    for (const [i, pgtt] of kinds.entries()) {
      const pasid = 0x1234 + i * 0x41;
      const e = {
        present: true,
        fpd: i % 2 === 1,
        aw: 2,
        pgtt,
        ssade: i === 1,
        ssptptr: 0x0020_0000 + i * 0x1000,
        did: 100 + i,
        pwsnp: true,
        pgsnp: i === 2,
        sre: true,
        fspm: i % 2,
        wpe: true,
        eafe: i === 0,
        fsptptr: 0x0030_0000 + i * 0x1000,
      };
      const addr = await pt.setEntry(pasid, e);
      const de = decodePasidDir(readWords(s.mem, pt.dir + (pasid >> 6) * 8, 1)[0]!);
      expect(de.present).toBe(true);
      expect(addr).toBe(de.ptp + (pasid & 0x3f) * 64);
      const words = readWords(s.mem, addr, 8);
      expect(words).toEqual(encodePasidEntry(e));
      expect(decodePasidEntry(words)).toMatchObject(e);
    }
  });

  it("[VTD-PASID-2] PDTS bounds the directory; larger directories are aligned blocks", async () => {
    const { tm } = setup();
    const small = await PasidTables.create(tm, 0);
    expect(small.dirEntries).toBe(128);
    await expect(small.setEntry(128 << 6, { present: true, pgtt: 4 })).rejects.toThrow(
      /beyond the directory/,
    );
    const big = await PasidTables.create(tm, 4);
    expect(big.dir % (2048 * 8)).toBe(0);
    await big.setEntry(2047 << 6, { present: true, pgtt: 4, did: 3 });
    expect(await big.clearEntry(2047 << 6)).toBe(true);
    expect(await big.readEntry(2047 << 6)).toEqual(new Array(8).fill(0n));
    expect(await big.clearEntry(5 << 6)).toBe(false);
    await expect(big.setEntry(1 << 20, { present: true, pgtt: 4 })).rejects.toThrow(DriverError);
  });
});

const HAW = 46;
const ssParams = (root: number, levels: 3 | 4 | 5) => ({
  root,
  levels,
  inputWidth: 12 + 9 * levels,
  haw: HAW,
  snoopControl: true,
  largePages: { twoMiB: true, oneGiB: true },
  ssade: false,
});
const fsParams = (root: number, levels: 4 | 5) => ({
  root,
  levels,
  haw: HAW,
  fs1gp: true,
  wpe: false,
  eafe: false,
});

describe("page tables", () => {
  it("[VTD-SS-2] [VTD-SS-3] second-stage map() gives exactly the walk the hardware does, 3/4/5 levels", async () => {
    const { s, tm } = setup(4 * GIB);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<3 | 4 | 5>(3, 4, 5),
        fc.array(
          fc.record({
            size: fc.constantFrom<PageSize>("4K", "2M", "1G"),
            page: fc.bigInt({ min: 0n, max: (1n << 45n) - 1n }),
            target: fc.integer({ min: 0, max: 3 }),
            read: fc.boolean(),
            write: fc.boolean(),
            off: fc.integer({ min: 0, max: 4095 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        async (levels, maps) => {
          const pt = await PageTable.create(tm, { stage: "second", levels });
          const expected = new Map<
            bigint,
            { target: number; read: boolean; write: boolean; size: PageSize }
          >();
          for (const m of maps) {
            const bytes = BigInt(PAGE_SIZE_BYTES[m.size]);
            const iova = ((m.page << 12n) % (1n << BigInt(pt.width))) & ~(bytes - 1n);
            const target = m.target * GIB;
            await pt.map(iova, target, m.size, { read: m.read, write: m.write }, { replace: true });
            // A later map may shadow an earlier one; keep only the last mapping of each iova.
            for (const k of [...expected.keys()]) {
              const e = expected.get(k)!;
              const eb = BigInt(PAGE_SIZE_BYTES[e.size]);
              if ((k >= iova && k < iova + bytes) || (iova >= k && iova < k + eb)) expected.delete(k);
            }
            expected.set(iova, { target, read: m.read, write: m.write, size: m.size });
          }
          for (const [iova, e] of expected) {
            const at = iova + BigInt(maps[0]!.off);
            // A read where R is granted, else a write: the walk must succeed exactly when either is.
            const r = walkSecondStage(s.mem, ssParams(pt.root, levels), hi32(at), lo32(at), !e.read);
            if (!e.read && !e.write) {
              expect(r.ok).toBe(false);
              continue;
            }
            expect(r.ok).toBe(true);
            if (!r.ok) continue;
            expect(r.addr).toBe(e.target + maps[0]!.off);
            expect([r.ssR, r.ssW]).toEqual([e.read, e.write]);
            expect(r.pageShift).toBe(e.size === "4K" ? 12 : e.size === "2M" ? 21 : 30);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("[VTD-FS-2] [VTD-FS-6] first-stage map() gives the walk's output and rights, 4/5 levels, canonical high half", async () => {
    const { s, tm } = setup(4 * GIB);
    for (const levels of [4, 5] as const) {
      const pt = await PageTable.create(tm, { stage: "first", levels });
      const high = levels === 4 ? 0xffff_8000_0000_0000n : 0xff00_0000_0000_0000n;
      const cases: Array<[bigint, number, PageSize, boolean, boolean]> = [
        [0x1000n, 0x7000, "4K", true, true],
        [0x4020_0000n, 0x60_0000, "2M", false, true],
        [0x80_0000_0000n, GIB, "1G", true, false],
        [high | 0x5000n, 0x9000, "4K", false, false],
      ];
      for (const [iova, target, size, write, user] of cases)
        await pt.map(iova, target, size, { write, user });
      for (const [iova, target, size, write, user] of cases) {
        const r = walkFirstStage(
          s.mem,
          fsParams(pt.root, levels),
          hi32(iova + 8n),
          lo32(iova + 8n),
          false,
          true,
        );
        expect(r.ok).toBe(true);
        if (!r.ok) continue;
        expect(r.addr).toBe(target + 8);
        expect([r.fsW, r.fsU]).toEqual([write, user]);
        expect(r.pageShift).toBe(size === "4K" ? 12 : size === "2M" ? 21 : 30);
      }
      await expect(pt.map(1n << 60n, 0, "4K", { write: true, user: true })).rejects.toThrow(/canonical/);
    }
    await expect(PageTable.create(tm, { stage: "first", levels: 3 })).rejects.toThrow(DriverError);
  });

  it("[VTD-SS-2] unmap clears the leaf; the walk then finds it not present", async () => {
    const { s, tm } = setup();
    const pt = await PageTable.create(tm, { stage: "second", levels: 4 });
    await pt.map(0x20_0000n, 0x40_0000, "2M", { read: true, write: true });
    await pt.map(0x1000n, 0x5000, "4K", { read: true, write: false });
    expect(await pt.unmap(0x20_0000n, "2M")).toBe(true);
    expect(await pt.unmap(0x8000_0000n, "4K")).toBe(false);
    const r = walkSecondStage(s.mem, ssParams(pt.root, 4), 0, 0x20_0000, false);
    expect(r).toMatchObject({ ok: false, kind: "not-present", level: 2 });
    const ok = walkSecondStage(s.mem, ssParams(pt.root, 4), 0, 0x1000, false);
    expect(ok).toMatchObject({ ok: true, addr: 0x5000 });
  });

  it("[VTD-SS-4] [VTD-SS-5] [VTD-FS-9] setEntry writes reserved bits and loops verbatim", async () => {
    const { s, tm } = setup();
    const pt = await PageTable.create(tm, { stage: "second", levels: 4 });
    await pt.map(0x3000n, 0x7000, "4K", { read: true, write: true });
    // A reserved bit (IW, bit 62) in the level-2 entry.
    const steps = await pt.walk(0x3000n);
    expect(steps.map((x) => x.level)).toEqual([4, 3, 2, 1]);
    const l2 = steps[2]!;
    await pt.setEntry(0x3000n, 2, l2.word | (1n << 62n));
    expect(readWords(s.mem, l2.addr, 1)[0]).toBe(l2.word | (1n << 62n));
    expect(walkSecondStage(s.mem, ssParams(pt.root, 4), 0, 0x3000, false)).toMatchObject({
      ok: false,
      kind: "reserved",
      level: 2,
    });
    // A self-loop: the level-3 entry points back at the root table.
    await pt.setEntry(0x3000n, 3, BigInt(pt.root) | 3n);
    const loop = walkSecondStage(s.mem, ssParams(pt.root, 4), 0, 0x3000, false);
    // The walk ends after 4 reads, wherever the loop leads: here at an empty slot of the L3 table.
    expect(loop).toMatchObject({ ok: false, kind: "not-present", level: 1 });
    expect((await pt.walk(0x3000n)).length).toBe(4);
  });

  it("[HARNESS-DRV-2] a large page in the way is an error unless replaced", async () => {
    const { tm } = setup();
    const pt = await PageTable.create(tm, { stage: "second", levels: 4 });
    await pt.map(0x20_0000n, 0x40_0000, "2M", { read: true, write: true });
    await expect(pt.map(0x20_1000n, 0x5000, "4K", { read: true, write: true })).rejects.toMatchObject({
      code: "table",
    });
    await pt.map(0x20_1000n, 0x5000, "4K", { read: true, write: true }, { replace: true });
    const steps = await pt.walk(0x20_1000n);
    expect(steps.at(-1)!.word & ~0xfffn).toBe(0x5000n);
    await expect(pt.map(0x1001n, 0x5000, "4K", { read: true, write: true })).rejects.toThrow(/aligned/);
    await expect(pt.map(1n << 48n, 0x5000, "4K", { read: true, write: true })).rejects.toThrow(
      /beyond 48 bits/,
    );
  });

  it("[HARNESS-DRV-2] the mirror follows hardware A/D updates after refresh", async () => {
    const { s, tm } = setup();
    const pt = await PageTable.create(tm, { stage: "first", levels: 4 });
    await pt.map(0x1000n, 0x9000, "4K", { write: true, user: true });
    const r = walkFirstStage(s.mem, fsParams(pt.root, 4), 0, 0x1000, true, false);
    expect(r.ok).toBe(true);
    const before = await pt.walk(0x1000n);
    expect(before.at(-1)!.word & (1n << 6n)).toBe(0n);
    await tm.refresh(before.at(-1)!.addr);
    const after = await pt.walk(0x1000n);
    expect(after.at(-1)!.word & (1n << 6n)).toBe(1n << 6n); // D set by the walker
  });
});
