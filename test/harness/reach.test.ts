import { describe, expect, it } from "vitest";
import { translationEqualsWalk } from "../../properties/translation-equals-walk.ts";
import { unbindPropagation } from "../../properties/unbind-propagation.ts";
import { reachReference } from "../../src/adapters/reach-reference.ts";
import type { PlatformConfig } from "../../src/contract/types.ts";
import { catalogue } from "../../src/runner/reach/cells.ts";
import { ReachDecoder } from "../../src/runner/reach/decoder.ts";
import { measureReach, reachText } from "../../src/runner/reach/reach.ts";
import { Reg } from "../../src/spec/register-offsets.ts";

const le = (...words: bigint[]) => {
  const b = new Uint8Array(words.length * 8);
  words.forEach((w, i) => {
    for (let k = 0; k < 8; k++) b[i * 8 + k] = Number((w >> BigInt(8 * k)) & 0xffn);
  });
  return b;
};

describe("reach [HARNESS-REACH-1]", () => {
  it("decodes structures from what the model saw, tables written before they are linked included", async () => {
    const d = new ReachDecoder();
    d.reset({
      viommu: {
        scalable: false,
        awBits: 39,
        hawBits: 39,
        cachingMode: false,
        pasidBits: 0,
        firstStage: false,
        secondStage: true,
        nested: false,
        passThrough: true,
        ssLargePages: { twoMiB: true, oneGiB: true },
        snoopControl: false,
        faultRecords: 1,
        extendedAccessed: false,
        fl5lp: false,
        fs1gp: false,
        supervisorRequests: false,
      },
      devices: [{ kind: "emulated", sid: 8 }],
      hostIommus: [],
      memory: { size: 0x1000000n, regions: [{ gpa: 0n, size: 0x1000000n, readOnly: false }] },
    } as unknown as PlatformConfig);
    // A context table (page 0x3000) written first, then the root entry linking it, then RTADDR.
    d.writeGuest(0x3000 + 8 * 16, le(0x5001n, 0x102n)); // devfn 8: present, TT 0, AW 2 (48-bit), DID 1
    d.writeGuest(0x2000, le(0x3001n, 0n));
    d.writeReg(Reg.RTADDR, 0x2000n);
    d.writeReg(Reg.GCMD, 1n << 30n);
    // The second-stage PML4 the context entry points to: one present entry, then present cleared.
    d.writeGuest(0x5000, le(0x6003n));
    d.writeGuest(0x5000, le(0x6000n));
    for (const cell of [
      "legacy root.P 1",
      "legacy context.P 1",
      "legacy context.AW unsupported",
      "legacy context.DID in range",
      "paging second L4.R 1",
      "paging second L4.R 0",
      "edit paging second first write",
      "edit paging second present cleared, rest kept",
      "registers RTADDR TTM=00",
      "registers GCMD SRTP",
    ])
      expect(d.hits, cell).toContain(cell);
  });

  it("measures a property's cases and ends with the reach line", async () => {
    const { model, holds } = await reachReference();
    const r = await measureReach([translationEqualsWalk], { model, probe: holds, runs: 5, seed: 3 });
    await model.close();
    expect(r.total).toBe(catalogue().reduce((n, row) => n + row.cells.length, 0));
    expect(r.reached).toBeGreaterThan(50);
    expect(r.reached).toBeLessThan(r.total);
    expect(reachText(r).trim().split("\n").at(-1)).toMatch(/^reach: \d+ of \d+ cells \(\d+\.\d%\)$/);
  });

  it("passes the platform's other members (hostView) through, so VMM properties run their cases in full", async () => {
    const { model, holds } = await reachReference();
    const r = await measureReach([unbindPropagation], { model, probe: holds, runs: 20, seed: 1 });
    await model.close();
    expect(r.stopped).toEqual([]);
    const vmm = r.rows.filter((row) => row.row.startsWith("vmm passthrough PASID entry"));
    expect(vmm.flatMap((row) => row.reached)).toContain("pasid-cache");
  });

  it("names a property that did not pass on the reference: its cells are not measured in full", () => {
    const text = reachText({
      rows: [{ row: "registers", reached: ["a"], missed: [] }],
      reached: 1,
      total: 1,
      stopped: [{ id: "p", status: "error", message: "boom\nstack" }],
    });
    expect(text).toContain("not measured in full: p (error on the reference: boom)\n");
  });
});
