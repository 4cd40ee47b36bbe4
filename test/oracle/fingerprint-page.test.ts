import { describe, expect, it } from "vitest";
import { fingerprintPage, fingerprintWord } from "../../src/oracle/index.ts";

describe("fingerprintPage", () => {
  it("[ORACLE-FP-1] every word of a page is the fingerprint word of its own GPA", () => {
    const gpas = [
      0, 0x7000, 0xffff_f000, 0x1_0000_0000, 0x1234_5678_9000, 0xffff_ffff_f000, 0x1_0000_0000_0000,
    ];
    for (const gpa of gpas)
      for (const tag of [0, 1, 7, 0x5a, 0xf1a8, 0xffff, 0x1_0001, -3]) {
        const page = fingerprintPage(gpa, tag);
        const view = new DataView(page.buffer);
        for (let off = 0; off < 4096; off += 8)
          expect(view.getBigUint64(off, true)).toBe(fingerprintWord(gpa + off, tag));
      }
  });

  it("[ORACLE-FP-1] each call gives a page of its own: changing one leaves the next intact", () => {
    const a = fingerprintPage(0x9000, 3);
    a.fill(0);
    const b = fingerprintPage(0x9000, 3);
    expect(b).not.toBe(a);
    expect(new DataView(b.buffer).getBigUint64(8, true)).toBe(fingerprintWord(0x9008, 3));
  });
});
