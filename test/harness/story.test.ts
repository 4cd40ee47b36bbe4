/**
 * [HARNESS-STORY-1] A trace told in words: registers by name with their fields, descriptors in
 * the queue decoded (granularity, DID, PASID, address, AM as a page range, IH; SW/IF/FN for waits),
 * table entries decoded as the table they are in, found from RTADDR and the pointers below it.
 */
import { describe, expect, it } from "vitest";
import { descriptorText, storyText, traceStory } from "../../src/runner/story.ts";
import { loadTraceFile } from "../../src/trace/load.ts";

describe("trace story", () => {
  it("[HARNESS-STORY-1] register-based invalidation and table entries of a legacy trace", async () => {
    const lines = storyText(
      traceStory(await loadTraceFile("reference-traces/mutants/psi-mask-off-by-one.json")),
    );
    const text = lines.join("\n");
    expect(text).toContain("write RTADDR = 0xa000 (root table 0xa000, legacy mode)");
    expect(text).toContain("0xa010: root entry bus 1: present, context table 0x24000");
    expect(text).toContain(
      "0x24000: context entry devfn 0: present, translate, DID 2, AW 2 (48-bit), second-stage table 0xc000",
    );
    expect(text).toContain("0xc000: second-stage L4[0]: points to L3 table 0x15000 R W");
    expect(text).toContain("0x17008: second-stage L1[1]: maps 4 KiB page 0x20a000 R W");
    expect(text).toContain(
      "write IVA = 0x40000001 (address 0x40000000, AM 1: 2 pages, 0x40000000-0x40001fff, IH 0)",
    );
    expect(text).toContain(
      "write IOTLB = 0xb000000200000000 (IVT: IOTLB invalidation, page-selective within domain (address in IVA), DID 2)",
    );
    expect(text).toContain("write GCMD = 0x80000000 (TE)");
    // The failing step is marked.
    expect(lines.filter((l) => l.startsWith(">>"))).toEqual([
      expect.stringMatching(/^>> +101 DMA read by SID 0x100 at IOVA 0x40001000, 8 bytes: ok/),
    ]);
  });

  it("[HARNESS-STORY-1] queued descriptors: waits with SW/IF/FN, scalable tables", async () => {
    const text = storyText(
      traceStory(await loadTraceFile("reference-traces/qemu/wait-descriptor-without-sw-or-if.json")),
    ).join("\n");
    expect(text).toMatch(/write IQA = 0x[0-9a-f]+ \(queue 0x[0-9a-f]+, 128-bit descriptors, 256 entries\)/);
    expect(text).toContain("descriptor 0: context-cache invalidation, global");
    expect(text).toMatch(
      /descriptor \d+: wait: SW 1 \(status write of 0x1 to 0x[0-9a-f]+\), IF 0 \(completion interrupt\), FN 1/,
    );
    expect(text).toMatch(/descriptor \d+: wait: SW 0 \(status write\), IF 0 \(completion interrupt\), FN 0/);
  });

  it("[HARNESS-STORY-1] every descriptor kind in words, AM as a page range", () => {
    expect(
      descriptorText({
        kind: "iotlb",
        g: 3,
        dr: true,
        dw: false,
        did: 5,
        am: 2,
        ih: true,
        addr: 0x40003000n,
      }),
    ).toBe(
      "IOTLB invalidation, page-selective within domain, DID 5, address 0x40003000, AM 2: 4 pages, 0x40000000-0x40003fff, IH 1, DR",
    );
    expect(
      descriptorText({ kind: "pasid-iotlb", g: 3, did: 1, pasid: 7, am: 0, ih: false, addr: 0x1000n }),
    ).toBe(
      "PASID-based IOTLB invalidation, page-selective within PASID, DID 1, PASID 7, address 0x1000, AM 0: 1 page, 0x1000-0x1fff, IH 0",
    );
    expect(descriptorText({ kind: "pasid-cache", g: 1, did: 3, pasid: 9 })).toBe(
      "PASID-cache invalidation, PASID-selective within domain, DID 3, PASID 9",
    );
    expect(descriptorText({ kind: "context-cache", g: 3, did: 2, sid: 0x10, fm: 1 })).toBe(
      "context-cache invalidation, device-selective, DID 2, SID 0x10 FM 1",
    );
    expect(
      descriptorText({
        kind: "wait",
        intr: true,
        sw: false,
        fn: false,
        pd: false,
        statusData: 0,
        statusAddr: 0n,
      }),
    ).toBe("wait: SW 0 (status write), IF 1 (completion interrupt), FN 0 (fence: later descriptors wait)");
  });
});
