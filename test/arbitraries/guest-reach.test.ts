/**
 * The reach actions of the guest world (src/cases/guest-case-world.ts, src/arbitraries/guest-reach.ts)
 * against the reference model, every step judged by the oracle: upper-level rewiring and shared
 * subtrees, FPD entries, who reaches a domain, and the covering invalidation of a recent edit.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createReferenceModel, referenceDescription } from "../../src/adapters/reference.ts";
import { guestPlatformArb } from "../../src/arbitraries/guest-config.ts";
import { coveringInvalidation, reachArbs } from "../../src/arbitraries/guest-reach.ts";
import { GuestCase } from "../../src/cases/guest-case.ts";
import { GuestWorld, IOVA_SLOTS } from "../../src/cases/guest-case-world.ts";
import type { PlatformConfig } from "../../src/contract/types.ts";
import { fingerprintPage } from "../../src/oracle/index.ts";
import { encodeDescriptor } from "../../src/spec/descriptor.ts";
import { Reg } from "../../src/spec/register-offsets.ts";
import { wordsToBytes } from "../../src/spec/word.ts";
import { TraceRecorder } from "../../src/trace/recorder.ts";
import { legacyDevice, QUEUE, Stream, ss, config as streamConfig } from "../oracle/stream.ts";

function config(mode: "legacy" | "scalable", cm = false): PlatformConfig {
  const [c] = fc.sample(guestPlatformArb(referenceDescription(), { mode }), { numRuns: 1, seed: 3 });
  const cfg = c as PlatformConfig;
  return { ...cfg, viommu: { ...cfg.viommu, cachingMode: cm, awBits: 48 } };
}

async function world(mode: "legacy" | "scalable", cm = false): Promise<GuestWorld> {
  const recorder = new TraceRecorder(await createReferenceModel());
  const gc = new GuestCase({
    model: recorder.model,
    check: (i) => recorder.check(i),
    note: (c) => recorder.note(c),
  });
  return GuestWorld.build(gc, config(mode, cm), {
    domains: [
      { kind: "second", levels: 4 },
      { kind: "second", levels: 4 },
      { kind: "second", levels: 4 },
    ],
    attach: [0, 1, undefined, undefined],
    queued: true,
    premap: true,
  });
}

/** Tag of the fingerprinted page a DMA read reached (data pages carry tags 1..6). */
async function tagOf(w: GuestWorld, dev: number, slot: number): Promise<number | string> {
  const r = await w.driver.dmaRead({ sid: w.sid(dev), iova: IOVA_SLOTS[slot] as bigint, len: 8 });
  return r.status === "ok" ? (r.hit?.tag ?? "?") : r.status;
}

describe("guest world reach", () => {
  it("[VTD-SS-2] [ORACLE-TIME-3] a PDE rewired to another slot's table translates through that table", async () => {
    const w = await world("legacy");
    // Premapped: slot s of domain k maps data page s + k (tag s + k + 1); slot 4 is the next 2 MiB.
    expect(await tagOf(w, 0, 0)).toBe(1);
    expect(await w.rewire(0, 0, 0, { dom: 0, slot: 4 })).toBe(true);
    await w.flushAll();
    expect(await tagOf(w, 0, 0)).toBe(5);
    expect(w.recent.at(-1)).toEqual({ kind: "table", dom: 0, slot: 0, size: "4K" });
  });

  it("[VTD-SS-2] [ORACLE-KEY-3] a subtree shared with another domain is reached through both DIDs", async () => {
    const w = await world("legacy");
    expect(await w.rewire(0, 0, 0, { dom: 1, slot: 0 })).toBe(true);
    await w.flushAll();
    expect(await tagOf(w, 0, 0)).toBe(2); // domain 1's slot 0 page
    expect(await tagOf(w, 1, 0)).toBe(2);
  });

  it("[ORACLE-COV-3] the covering invalidation of a table edit is page-selective at its DID, with IH as asked", async () => {
    const w = await world("legacy");
    await w.map(1, 3, "4K", 0, 3);
    const e = w.recent.at(-1);
    expect(e).toEqual({ kind: "table", dom: 1, slot: 3, size: "4K" });
    if (e === undefined) return;
    expect(coveringInvalidation(w, e, 0, true)).toEqual([
      { kind: "iotlb", g: 3, dr: false, dw: false, did: 2, am: 0, ih: true, addr: IOVA_SLOTS[3] },
    ]);
    expect(coveringInvalidation(w, e, 2, false)).toMatchObject([{ kind: "iotlb", g: 2, did: 2 }]);
  });

  it("[ORACLE-COV-1] [ORACLE-COV-2] entry edits know who reached the domain before, and the invalidation uses that DID", async () => {
    const legacy = await world("legacy");
    expect(legacy.usersOf(0)).toEqual([{ dev: 0 }]);
    await legacy.attach(0, 2);
    expect(legacy.usersOf(0)).toEqual([]);
    expect(legacy.usersOf(2)).toEqual([{ dev: 0 }]);
    const e = legacy.recent.at(-1);
    expect(e).toEqual({ kind: "entry", dev: 0, before: 0 });
    if (e !== undefined)
      expect(coveringInvalidation(legacy, e, 0, false)).toMatchObject([
        { kind: "context-cache", g: 3, did: 1, sid: legacy.sid(0) },
        { kind: "iotlb", g: 2, did: 1 },
      ]);
    const sm = await world("scalable");
    await sm.setPasid(1, 2, 0);
    expect(sm.usersOf(0)).toContainEqual({ dev: 1, pasid: 2 });
    await sm.clearContext(1);
    expect(sm.usersOf(0)).not.toContainEqual({ dev: 1, pasid: 2 });
    await sm.restoreContext(1, 0);
    expect(sm.usersOf(0)).toContainEqual({ dev: 1, pasid: 2 });
  });

  it("[VTD-CTX-7] [VTD-FAULT-3] a context entry with FPD suppresses the record of a later walk fault", async () => {
    const w = await world("legacy");
    await w.attach(0, 0, true);
    await w.unmap(0, 1, "4K");
    await w.flushAll();
    const r = await w.dma({ dev: 0, iova: IOVA_SLOTS[1] as bigint, len: 8, write: false });
    expect(r.status).toBe("aborted");
    expect((await w.driver.readFaults()).faults).toEqual([]);
    await w.attach(0, 0, false);
    await w.flushAll();
    await w.dma({ dev: 0, iova: IOVA_SLOTS[1] as bigint, len: 8, write: false });
    expect((await w.driver.readFaults()).faults).toHaveLength(1);
  });
});

describe("invalidation completion through ICS.IWC", () => {
  const READ = { sid: 0x08, iova: 0x10n, len: 8, write: false };
  const waitIf = (s: Stream, at: number): void => {
    const d = encodeDescriptor(
      { kind: "wait", intr: true, sw: false, fn: false, pd: false, statusData: 0, statusAddr: 0n },
      128,
    );
    s.step({ op: "writeGuest", args: [BigInt(QUEUE + at), wordsToBytes(d)] });
  };
  const ics = (s: Stream, iwc: boolean): void => {
    s.step({ op: "readReg", args: [Reg.ICS, 4], result: iwc ? 1n : 0n });
  };

  it("[ORACLE-CTL-3] [VTD-QI-13] IWC still set from an earlier wait proves nothing; set again after a clear, it does", () => {
    const s = new Stream(streamConfig());
    legacyDevice(s, 0x08, 1, 0x40000, 0x20000);
    for (const p of [0x20000, 0x21000])
      s.step({ op: "writeGuest", args: [BigInt(p), fingerprintPage(p, 7)] });
    s.enable(0x10000);
    expect(s.outcomes(READ)).toEqual(["ok 0x20010"]);
    waitIf(s, 0);
    s.reg(Reg.IQT, 16n);
    ics(s, true); // the first wait with IF completed: IWC set
    s.w64(0x43000, ss(0x21000)); // remap, then a domain IOTLB invalidation and a wait with IF
    const inv = encodeDescriptor(
      { kind: "iotlb", g: 2, dr: false, dw: false, did: 1, am: 0, ih: false, addr: 0n },
      128,
    );
    s.step({ op: "writeGuest", args: [BigInt(QUEUE + 16), wordsToBytes(inv)] });
    waitIf(s, 32);
    s.reg(Reg.IQT, 48n);
    ics(s, true); // IWC was never cleared: this may be the first wait's
    expect(s.outcomes(READ)).toEqual(["ok 0x20010", "ok 0x21010"]);
    s.reg(Reg.ICS, 1n, 4); // write 1 to clear
    ics(s, true); // set again: the second wait completed, and the invalidation before it
    expect(s.outcomes(READ)).toEqual(["ok 0x21010"]);
  });
});

describe("[VTD-FAULT-9] event registers as a driver programs them", () => {
  it("the event data word is a fixed-delivery, edge-triggered MSI (a vector 0x10-0xfe)", () => {
    const zero = { rewire: 0, fpd: 0, recentDma: 0, recentInvalidate: 0, events: 1, probe: 0, bitEdit: 0 };
    const arbs = reachArbs({ weights: {}, derived: zero, pasids: false, writes: false });
    const commands = fc.sample(fc.oneof(...arbs), { numRuns: 300, seed: 11 });
    const data = commands
      .map((c) => /data 0x([0-9a-f]+)/.exec(c.toString())?.[1])
      .filter((d): d is string => d !== undefined)
      .map((d) => Number.parseInt(d, 16));
    expect(data.length).toBeGreaterThan(50);
    // Delivery mode (bits 10:8) fixed and trigger mode (bit 15) edge: an SMI, NMI or INIT would
    // reach a CPU no driver runs on (under QEMU 7.2 it woke the halted CPU and lost an edu DMA).
    for (const d of data) {
      expect((d >> 8) & 7).toBe(0);
      expect(d >> 15).toBe(0);
      expect(d).toBeGreaterThanOrEqual(0x10);
    }
  });
});
