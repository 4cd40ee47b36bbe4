import { describe, expect, it } from "vitest";
import { HistoryMemory } from "../../src/oracle/history-memory.ts";

function le(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, true);
  return out;
}

describe("HistoryMemory", () => {
  it("[ORACLE-MEM-1] [VTD-MEM-1] a word reads as zero before its first write and as each version after", () => {
    const m = new HistoryMemory(1 << 20);
    expect(m.wordAt(0x2000)).toBe(0n);
    expect(m.write(3, 0x2000, le(0x1111n))).toBe(1);
    expect(m.write(7, 0x2000, le(0x2222n))).toBe(1);
    expect(m.write(9, 0x2000, le(0x3333n))).toBe(1);
    expect(m.wordAt(0x2000, 2)).toBe(0n);
    expect(m.wordAt(0x2000, 3)).toBe(0x1111n);
    expect(m.wordAt(0x2000, 6)).toBe(0x1111n);
    expect(m.wordAt(0x2000, 7)).toBe(0x2222n);
    expect(m.wordAt(0x2000, 8)).toBe(0x2222n);
    expect(m.wordAt(0x2000)).toBe(0x3333n);
    expect(m.at(4).word(0x2000)).toBe(0x1111n);
  });

  it("[ORACLE-MEM-1] writes in one step make one version; an unchanged word is no change", () => {
    const m = new HistoryMemory(1 << 20);
    m.write(1, 0x100, le(0xaan));
    m.write(4, 0x100, le(0xbbn));
    m.write(4, 0x100, le(0xccn));
    expect(m.write(5, 0x100, le(0xccn))).toBe(0);
    expect(m.wordAt(0x100, 3)).toBe(0xaan);
    expect(m.wordAt(0x100, 4)).toBe(0xccn);
    expect(m.nextChange(0x100, 1)).toBe(4);
    expect(m.nextChange(0x100, 4)).toBe(Number.POSITIVE_INFINITY);
    expect(m.nextChange(0x100, 0)).toBe(1);
    // Zeros over memory never written change nothing.
    expect(m.write(6, 0x9000, new Uint8Array(4096))).toBe(0);
    expect(m.nextChange(0x9000, 0)).toBe(Number.POSITIVE_INFINITY);
  });

  it("[ORACLE-MEM-1] partial and page-crossing writes update the bytes of each word they cover", () => {
    const m = new HistoryMemory(1 << 20);
    m.write(1, 0x0ff8, le(0x8877665544332211n));
    m.write(2, 0x0ffd, Uint8Array.from([0xa1, 0xa2, 0xa3, 0xb1, 0xb2]));
    expect(m.wordAt(0x0ff8, 1)).toBe(0x8877665544332211n);
    expect(m.wordAt(0x0ff8)).toBe(0xa3a2a15544332211n);
    expect(m.wordAt(0x1000)).toBe(0xb2b1n);
    expect(m.wordAt(0x1000, 1)).toBe(0n);
    expect([...m.read(0x0ffc, 6)]).toEqual([0x55, 0xa1, 0xa2, 0xa3, 0xb1, 0xb2]);
    expect([...m.read(0x0ffc, 6, 1)]).toEqual([0x55, 0x66, 0x77, 0x88, 0, 0]);
  });

  it("[ORACLE-MEM-1] the latest contents and a word's history agree with a plain replay of the writes", () => {
    // A deterministic stream of writes of mixed sizes over three pages, checked against a naive model.
    const m = new HistoryMemory(1 << 16);
    const versions: Uint8Array[] = [];
    let cur = new Uint8Array(3 * 4096);
    let x = 12345;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      return x % n;
    };
    for (let t = 0; t < 200; t++) {
      // Half the writes are whole aligned words (the word-at-a-time path), some from an odd offset in their buffer.
      const aligned = rnd(2) === 0;
      const addr = aligned ? 8 * rnd((3 * 4096 - 64) / 8) : rnd(3 * 4096 - 64);
      const length = aligned ? 8 * (1 + rnd(5)) : 1 + rnd(40);
      const skew = rnd(3) === 0 ? 1 : 0;
      const backing = Uint8Array.from({ length: length + skew }, () => (rnd(4) === 0 ? 0 : rnd(256)));
      const data = backing.subarray(skew);
      cur = cur.slice();
      cur.set(data, addr);
      m.write(t, addr, data);
      versions.push(cur);
    }
    expect([...m.read(0, 3 * 4096)]).toEqual([...cur]);
    for (const t of [0, 17, 99, 150, 199])
      for (let a = 0; a < 3 * 4096; a += 8 * 37) {
        const v = versions[t] as Uint8Array;
        const want = new DataView(v.buffer).getBigUint64(a, true);
        expect(m.wordAt(a, t)).toBe(want);
      }
  });

  it("[ORACLE-MEM-1] whole pages: zero words of a first write do not change, a rewrite of the same bytes changes nothing", () => {
    const m = new HistoryMemory(1 << 20);
    const page = new Uint8Array(4096);
    const view = new DataView(page.buffer);
    for (let off = 0; off < 4096; off += 8)
      if (off % 64 !== 0) view.setBigUint64(off, BigInt(off) << 32n, true);
    expect(m.write(1, 0x3000, page)).toBe(512 - 64);
    expect(m.nextChange(0x3000, 0)).toBe(Number.POSITIVE_INFINITY); // word 0 stayed zero
    expect(m.nextChange(0x3008, 0)).toBe(1);
    expect(m.write(2, 0x3000, page.slice())).toBe(0);
    expect(m.nextChange(0x3008, 1)).toBe(Number.POSITIVE_INFINITY);
    const next = page.slice();
    new DataView(next.buffer).setBigUint64(8, 0x77n, true);
    new DataView(next.buffer).setBigUint64(64, 0x99n, true);
    expect(m.write(3, 0x3000, next)).toBe(2);
    expect(m.wordAt(0x3008, 2)).toBe(8n << 32n);
    expect(m.wordAt(0x3008)).toBe(0x77n);
    expect(m.wordAt(0x3040, 2)).toBe(0n);
    expect(m.wordAt(0x3040)).toBe(0x99n);
    expect(m.nextChange(0x3040, 0)).toBe(3);
    // A page with no zero word at all (the fingerprint case).
    const full = new Uint8Array(4096).fill(0xa5);
    expect(m.write(4, 0x5000, full)).toBe(512);
    expect(m.wordAt(0x5ff8, 3)).toBe(0n);
    expect(m.wordAt(0x5ff8, 4)).toBe(0xa5a5a5a5a5a5a5a5n);
    expect(m.nextChange(0x5ff8, 3)).toBe(4);
  });
});
