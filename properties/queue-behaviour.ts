/**
 * queue-behaviour: batches of descriptors through the invalidation queue, checked against
 * spec/queue.md directly: descriptors are processed in order and the head follows the tail
 * (wrapping around the queue), each wait writes its status, and an invalid descriptor sets
 * FSTS.IQE with IQH on it, nothing after it runs, and the queue resumes once it is repaired and
 * IQE cleared. DMAs in between are judged by the oracle as everywhere else.
 */
import fc from "fast-check";
import {
  type AvoidSet,
  avoidSet,
  DEVTLB_WITHOUT_DT,
  WAIT_WITHOUT_SIGNAL,
} from "../src/arbitraries/guest-avoid.ts";
import { descriptorArb, dmaArb } from "../src/arbitraries/guest-commands.ts";
import { describeConfig, guestConfigProblem, guestPlatformArb } from "../src/arbitraries/guest-config.ts";
import { failCase } from "../src/cases/case-failed.ts";
import { oracleJudge } from "../src/cases/guest-case-judge.ts";
import { runGuestCases } from "../src/cases/guest-case-run.ts";
import { GuestWorld } from "../src/cases/guest-case-world.ts";
import { recordedFailureJudge } from "../src/cases/judge.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { readGuestU32, waitNop, waitWithStatus, writeGuestU32 } from "../src/driver/index.ts";
import type { Descriptor } from "../src/spec/descriptor.ts";
import { Reg } from "../src/spec/register-offsets.ts";

const IQE = 1n << 4n;
/** Descriptor type 0xF (bits 3:0 = 0xF, 11:9 = 0): no such type [VTD-QI-5]. */
const INVALID = { raw: [0xfn], label: "invalid descriptor type 0xf" };

/** The invalid descriptors a batch may end with: each is invalid on every unit it is sent to. */
type InvalidKind = "type" | "reserved" | "device-tlb" | "pasid-device-tlb";

/**
 * [VTD-QI-5] [VTD-QI-15] An unknown type; a global IOTLB invalidation with reserved bit 8 set; a
 * device-TLB or PASID-based device-TLB invalidation on a unit without ECAP.DT (type 0xF on one with it).
 */
function invalidDescriptor(
  kind: InvalidKind,
  dt: boolean,
  avoid: AvoidSet,
): { raw: bigint[]; label: string } {
  // [QEMU-AVOID-1] a model that accepts device-TLB descriptors without DT gets the unknown type.
  if (avoid.has(DEVTLB_WITHOUT_DT) && kind.endsWith("device-tlb")) return INVALID;
  if (kind === "reserved")
    return { raw: [0x12n | (1n << 8n), 0n], label: "global IOTLB invalidation with reserved bit 8" };
  if (kind === "device-tlb" && !dt)
    return { raw: [0x3n, 0n], label: "device-TLB invalidation without ECAP.DT" };
  if (kind === "pasid-device-tlb" && !dt)
    return { raw: [0x8n, 0n], label: "PASID-based device-TLB invalidation without ECAP.DT" };
  return INVALID;
}

interface Batch {
  descs: Descriptor[];
  /** Put an invalid descriptor of this kind after the batch's descriptors (before its wait). */
  invalid: InvalidKind | false;
  dma: ReturnType<typeof dmaArb> extends fc.Arbitrary<infer D> ? D : never;
}

export const queueBehaviour: PropertyDefinition = {
  id: "queue-behaviour",
  title: "in-order processing, wait status writes, wrap-around, IQE stops the queue at the bad descriptor",
  rules: [
    "VTD-QI-2",
    "VTD-QI-3",
    "VTD-QI-4",
    "VTD-QI-5",
    "VTD-QI-10",
    "VTD-QI-12",
    "ORACLE-CTL-2",
    "ORACLE-CTL-4",
  ],
  needs(d) {
    if (!d.supports.dmaRead) return "the model's devices cannot issue DMA reads";
    return guestConfigProblem(d);
  },
  run(ctx) {
    const d = ctx.description;
    const avoid = avoidSet(d);
    const input = guestPlatformArb(d).chain((config) =>
      fc.tuple(
        fc.constant(config),
        fc.array(
          fc.record({
            descs: fc.array(descriptorArb(avoid), { maxLength: 12 }),
            invalid: fc.oneof(
              { arbitrary: fc.constant(false as const), weight: 4 },
              {
                arbitrary: fc.constantFrom<InvalidKind>("type", "reserved", "device-tlb", "pasid-device-tlb"),
                weight: 1,
              },
            ),
            dma: dmaArb({ pasids: false, writes: d.supports.dmaWrite, avoid }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
      ),
    );
    return runGuestCases(ctx, input, async (gc, [config, batches]) => {
      gc.note(describeConfig(config));
      const w = await GuestWorld.build(gc, config, {
        domains: [
          { kind: "second", levels: 4 },
          { kind: "first", levels: 4 },
          { kind: "pass-through", levels: 4 },
        ],
        attach: config.devices.map((_d, i) => i % 3),
        queued: true,
        premap: true,
      });
      const q = w.driver.queue;
      const p = gc.model.platform;
      const slot = q.descriptorBytes;
      const size = q.slotCount * slot;
      for (const b of batches as Batch[]) {
        const valid = b.descs.filter(
          (x) =>
            (slot === 32 || !x.kind.startsWith("pasid-")) &&
            (w.driver.caps.dt || !x.kind.endsWith("device-tlb")),
        );
        const invalid =
          b.invalid === false ? undefined : invalidDescriptor(b.invalid, w.driver.caps.dt, avoid);
        gc.note(
          `batch of ${valid.length} descriptors${invalid === undefined ? "" : ` + an invalid one (${invalid.label})`} + wait`,
        );
        if (invalid === undefined) {
          await q.submit(valid);
          await q.wait();
          // [VTD-QI-4] processed in order up to the tail: the head is the tail (wrapping).
          const iqh = Number(await p.readReg(Reg.IQH, 8)) & 0x7fff0;
          gc.check();
          if (iqh !== q.iqt)
            failCase("IQH does not reach IQT after the wait completed [VTD-QI-4]", {
              observed: `IQH 0x${iqh.toString(16)}`,
              permitted: [`IQH 0x${q.iqt.toString(16)}`],
            });
        } else {
          await q.submit(valid);
          const bad = q.iqt;
          const status = w.driver.layout.status.next();
          await writeGuestU32(p, status, 0);
          await q.submit([invalid, waitWithStatus(status, 0x600d)]);
          let fsts = 0n;
          for (let i = 0; i < 64 && (fsts & IQE) === 0n; i++) fsts = await p.readReg(Reg.FSTS, 4);
          gc.check();
          if ((fsts & IQE) === 0n)
            failCase("an invalid descriptor did not set FSTS.IQE [VTD-QI-10]", {
              observed: `FSTS 0x${fsts.toString(16)}`,
              permitted: ["FSTS.IQE = 1"],
            });
          const iqh = Number(await p.readReg(Reg.IQH, 8)) & 0x7fff0;
          gc.check();
          if (iqh !== bad)
            failCase("IQH is not on the invalid descriptor [VTD-QI-10]", {
              observed: `IQH 0x${iqh.toString(16)}`,
              permitted: [`IQH 0x${bad.toString(16)}`],
            });
          const written = await readGuestU32(p, status);
          gc.check();
          if (written === 0x600d)
            failCase("the wait after an invalid descriptor ran while IQE was set [VTD-QI-10]", {
              observed: "status written",
              permitted: ["status not written"],
            });
          // The repair is a wait without status write; with IF when that finding is avoided.
          await q.recover(avoid.has(WAIT_WITHOUT_SIGNAL) ? { ...waitNop(), intr: true } : undefined);
          await q.wait(); // bounded: a queue that does not resume fails the case
          if ((await readGuestU32(p, status)) !== 0x600d)
            failCase(
              "the wait behind the repaired descriptor did not run after IQE was cleared [VTD-QI-10]",
              {
                observed: "status not written",
                permitted: ["status 0x600d"],
              },
            );
          gc.check();
        }
        await w.dma(b.dma);
      }
      void size;
    });
  },
  // The property's own queue checks (IQE after an invalid descriptor) are replayed by their step.
  judge: (trace, tolerance) => oracleJudge(trace, recordedFailureJudge(trace), tolerance),
};
