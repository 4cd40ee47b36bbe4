import { describe, expect, it } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import type { Model, PlatformConfig } from "../../src/contract/types.ts";
import { legacyViommu } from "../../src/contract/viommu-options.ts";
import { encodeLegacyContext } from "../../src/spec/context-entry.ts";
import { encodeSsEntry } from "../../src/spec/paging-entry.ts";
import { encodeLegacyRoot } from "../../src/spec/root-entry.ts";
import { wordsToBytes } from "../../src/spec/word.ts";

const GCMD = 0x18;
const GSTS = 0x1c;
const RTADDR = 0x20;
const TE = 1n << 31n;
const SRTP = 1n << 30n;

function config(): PlatformConfig {
  return {
    viommu: legacyViommu({ awBits: 39, hawBits: 39 }),
    devices: [{ sid: 0x0010, kind: "emulated" }],
    memory: { size: 1n << 26n, regions: [{ gpa: 0n, size: 1n << 26n, readOnly: false }] },
    hostIommus: [],
  };
}

/** Legacy mode: SID 00:02.0 maps IOVA 0x5000 read-write onto GPA 0x40000, 3-level second stage. */
async function legacyPlatform(): Promise<Model> {
  const model = await createReferenceModel();
  await model.reset(config());
  const p = model.platform;
  const write = (gpa: number, words: bigint[]) => p.writeGuest(BigInt(gpa), wordsToBytes(words));
  await write(0x1000, encodeLegacyRoot({ present: true, ctp: 0x2000 })); // bus 0
  await write(
    0x2000 + 0x10 * 16,
    encodeLegacyContext({ present: true, tt: 0, ssptptr: 0x3000, aw: 1, did: 7 }),
  );
  await write(0x3000, [encodeSsEntry({ read: true, write: true, addr: 0x4000 })]);
  await write(0x4000, [encodeSsEntry({ read: true, write: true, addr: 0x6000 })]);
  await write(0x6000 + 5 * 8, [encodeSsEntry({ read: true, write: true, addr: 0x40000 })]);
  // IOVA 0x6000 maps to a GPA beyond guest memory (but within the address width).
  await write(0x6000 + 6 * 8, [encodeSsEntry({ read: true, write: true, addr: 0x1_0000_0000 })]);
  await p.writeGuest(0x40000n, Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
  await p.writeReg(RTADDR, 0x1000n, 8);
  await p.writeReg(GCMD, SRTP, 4);
  await p.writeReg(GCMD, TE, 4);
  return model;
}

describe("reference adapter through the platform surface", () => {
  it("[VTD-DMA-1] [VTD-SS-3] translates a legacy second-stage DMA read to the mapped page", async () => {
    const model = await legacyPlatform();
    expect((await model.platform.readReg(GSTS, 4)) & TE).toBe(TE);
    const r = await model.platform.dma({ sid: 0x10, iova: 0x5000n, len: 4, write: false });
    expect(r).toEqual({ status: "ok", data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) });
  });

  it("[VTD-DMA-1] writes land at the translated address", async () => {
    const model = await legacyPlatform();
    const w = await model.platform.dma({
      sid: 0x10,
      iova: 0x5008n,
      len: 2,
      write: true,
      data: Uint8Array.of(1, 2),
    });
    expect(w.status).toBe("ok");
    expect(await model.platform.readGuest(0x40008n, 2)).toEqual(Uint8Array.of(1, 2));
  });

  it("[VTD-DMA-4] without translation enabled, a request without PASID is not remapped", async () => {
    const model = await createReferenceModel();
    await model.reset(config());
    await model.platform.writeGuest(0x7000n, Uint8Array.of(9));
    expect(await model.platform.dma({ sid: 0x10, iova: 0x7000n, len: 1, write: false })).toEqual({
      status: "ok",
      data: Uint8Array.of(9),
    });
  });

  it("[VTD-DMA-1] refuses a request that crosses a 4 KiB boundary", async () => {
    const model = await legacyPlatform();
    await expect(model.platform.dma({ sid: 0x10, iova: 0x5ffen, len: 4, write: false })).rejects.toThrow(
      /4 KiB boundary/,
    );
  });

  it("[VTD-DMA-5] a translation outside guest memory aborts without a fault record", async () => {
    const model = await legacyPlatform();
    const r = await model.platform.dma({ sid: 0x10, iova: 0x6000n, len: 4, write: false });
    expect(r.status).toBe("aborted");
    expect((await model.platform.readReg(0x34, 4)) & 2n).toBe(0n); // no PPF
  });

  it("[VTD-FAULT-1] an unmapped page aborts and records a fault with the legacy reason", async () => {
    const model = await legacyPlatform();
    const r = await model.platform.dma({ sid: 0x10, iova: 0x9000n, len: 4, write: false });
    expect(r.status).toBe("aborted");
    const fsts = await model.platform.readReg(0x34, 4);
    expect(fsts & 2n).toBe(2n); // PPF
  });

  it("rejects platform use before reset with a clear message", async () => {
    const model = await createReferenceModel();
    await expect(model.platform.readReg(0, 4)).rejects.toThrow(/reset\(config\) must be called/);
  });

  it("rejects unknown adapter options", async () => {
    await expect(createReferenceModel({ tlb: "3" })).rejects.toThrow(/unknown option 'tlb'/);
  });
});
