/** Requests without PASID to the interrupt range are not DMA (found missing by shadow-equivalence). */
import { describe, expect, it } from "vitest";
import { config, legacyDevice, Stream, ss } from "./stream.ts";

/** Legacy device 0x08 (domain 1, tables at 0x40000) with input pages 0xFEE00000 and 0xFEEFF000 mapped. */
function mappedInterruptPage(fpd = false): Stream {
  const s = new Stream(config());
  legacyDevice(s, 0x08, 1, 0x40000, 0x50000);
  // Second-stage walk of 0xFEExx000: PML4E 0 -> 0x41000 (legacyDevice's), PDPTE 3, PDE 0x1f7, PTE 0 / 0xff.
  s.w64(0x41000 + 3 * 8, ss(0x44000));
  s.w64(0x44000 + 0x1f7 * 8, ss(0x45000));
  s.w64(0x45000, ss(0x50000));
  s.w64(0x45000 + 0xff * 8, ss(0x50000));
  // The context entry again, with FPD (bit 1) as asked.
  if (fpd) s.w64(0x11000 + 0x08 * 16, 0x40000n | 1n | 2n);
  s.enable(0x10000);
  return s;
}

describe("interrupt address range", () => {
  it("[ORACLE-WALK-8] [VTD-DMA-3] a request without PASID to 0xFEE00000 faults LGN.4 though the page is mapped", () => {
    const s = mappedInterruptPage();
    expect(s.outcomes({ sid: 0x08, iova: 0xfee0_0000n, len: 4, write: false })).toEqual(["fault 0xe"]);
    expect(s.outcomes({ sid: 0x08, iova: 0xfeef_f000n, len: 4, write: true })).toEqual(["fault 0xe"]);
  });

  it("[ORACLE-WALK-8] [ORACLE-OUT-1] [VTD-DMA-3] the fault is recorded whatever the context entry's FPD says", () => {
    const s = mappedInterruptPage(true);
    const set = s.oracle.permittedFor({ sid: 0x08, iova: 0xfee0_0000n, len: 4, write: false });
    expect(set.outcomes.map((o) => o.outcome)).toEqual([
      expect.objectContaining({ reason: 0xe, record: "yes" }),
    ]);
    // The same entry's FPD does suppress an ordinary fault: a page the tables do not map.
    const np = s.oracle.permittedFor({ sid: 0x08, iova: 0xfedf_f000n, len: 4, write: false });
    expect(np.outcomes.map((o) => o.outcome)).toEqual([expect.objectContaining({ record: "no" })]);
  });

  it("[ORACLE-WALK-8] the pages either side of the range translate as mapped", () => {
    const s = mappedInterruptPage();
    expect(s.outcomes({ sid: 0x08, iova: 0xfedf_f000n, len: 4, write: false })).not.toContain("fault 0xe");
    expect(s.outcomes({ sid: 0x08, iova: 0xfef0_0000n, len: 4, write: false })).not.toContain("fault 0xe");
  });
});
