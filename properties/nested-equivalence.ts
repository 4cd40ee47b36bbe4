/**
 * nested-equivalence (headline): every device of the VM, emulated or passed through, is given the
 * same guest tables (the same PASID entries over the same first-stage tables, requests without
 * PASID through RID_PASID). After a global invalidation, a passed-through device (host nested walk:
 * guest stage 1 through the VM's stage 2) must reach exactly what an emulated device reaches,
 * through the GPA→HPA map, with stage-2 permissions intersected: reads land on the same
 * fingerprinted page, faults are blocks, writes to read-only regions (and anything in a read-only
 * region behind an errata IOMMU's nest parent) are blocked. Every DMA is also judged by the oracle.
 * At the end the guest reads its tables back: the accessed flags there must be those the walks,
 * the host's nested ones included, may and must set (ORACLE-JUDGE-9, ORACLE-JUDGE-11).
 */
import fc from "fast-check";
import { vmmPlatformArb, vmmProblem } from "../src/arbitraries/vmm-config.ts";
import { tablePlansArb } from "../src/arbitraries/vmm-pasid-ops.ts";
import { failCase } from "../src/cases/case-failed.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases } from "../src/cases/vmm-case.ts";
import { stage2Allows, vmmJudge } from "../src/cases/vmm-judge.ts";
import { didFor, SLOTS, slotIova, VMM_PASIDS } from "../src/cases/vmm-plan.ts";
import { VmmWorld } from "../src/cases/vmm-world.ts";
import { decodeFingerprint } from "../src/oracle/index.ts";

const entryArb = (passThrough: boolean, sre: boolean, eafe: boolean) =>
  fc.option(
    fc
      .record({
        table: fc.integer({ min: 0, max: 2 }),
        passThrough: passThrough ? fc.boolean() : fc.constant(false),
        sre: sre ? fc.boolean() : fc.constant(false),
        // [ORACLE-JUDGE-9] with EAFE the host's nested walk must set EA too, without it never.
        eafe: eafe ? fc.boolean() : fc.constant(false),
      })
      .map((e) => ({ ...e, did: didFor(e) })),
    { freq: 6 },
  );

const requestArb = (priv: boolean) =>
  fc.record({
    pasid: fc.constantFrom(0, ...VMM_PASIDS),
    slot: fc.integer({ min: 0, max: SLOTS - 1 }),
    offset: fc.integer({ min: 0, max: 511 }).map((w) => w * 8),
    write: fc.boolean(),
    priv: priv ? fc.boolean() : fc.constant(false),
  });

export const nestedEquivalence: PropertyDefinition = {
  id: "nested-equivalence",
  title:
    "a passed-through device reaches exactly what an emulated device with the same guest tables reaches, stage-2 permissions intersected",
  rules: [
    "VMM-BIND-1",
    "VMM-BIND-3",
    "VMM-BIND-4",
    "VMM-S2-1",
    "VMM-S2-2",
    "VMM-S2-4",
    "VMM-S2-7",
    "HOST-XLATE-12",
    "HOST-XLATE-13",
    "ORACLE-JUDGE-9",
    "ORACLE-JUDGE-11",
  ],
  needs: (d) => vmmProblem(d),
  run(ctx) {
    const input = vmmPlatformArb(ctx.description).chain((config) =>
      fc.record({
        config: fc.constant(config),
        tables: tablePlansArb(config.memory.regions.some((r) => r.readOnly)),
        entries: fc.array(
          entryArb(
            config.viommu.passThrough,
            config.viommu.supervisorRequests,
            config.viommu.extendedAccessed,
          ),
          {
            minLength: 1 + VMM_PASIDS.length,
            maxLength: 1 + VMM_PASIDS.length,
          },
        ),
        requests: fc.array(requestArb(config.viommu.supervisorRequests), { minLength: 4, maxLength: 16 }),
      }),
    );
    return runVmmCases(ctx, input, async (vc, v) => {
      const world = await VmmWorld.build(vc, v.config, v.tables);
      const all = v.config.devices.map((_, i) => i);
      const pasids = [0, ...VMM_PASIDS];
      for (const [i, e] of v.entries.entries()) {
        if (e === null) continue;
        vc.note(
          `every device: PASID ${pasids[i]} → ${e.passThrough ? "pass-through" : `table ${e.table}`} DID ${e.did}${e.eafe ? " EAFE" : ""}`,
        );
        await world.run({ op: "set", devs: all, pasid: pasids[i] as number, ...e });
      }
      vc.note("global PASID-cache and IOTLB invalidation, wait");
      await world.run({ op: "pasid-cache", g: "global", did: 0, pasid: 0, iotlb: true });
      const emulated = all.filter((i) => !world.isPassthrough(i));
      const passed = all.filter((i) => world.isPassthrough(i));
      for (const r of v.requests) {
        const iova = slotIova(r.slot) + BigInt(r.offset);
        vc.note(
          `every device ${r.write ? "writes" : "reads"} slot ${r.slot}+0x${r.offset.toString(16)}${r.pasid === 0 ? "" : ` PASID ${r.pasid}`}${r.priv ? " (supervisor)" : ""}`,
        );
        // The emulated devices read (the reference outcome); the oracle judges them.
        const ref = await world.dma(emulated[0] as number, r.pasid, iova, false, r.priv);
        const refHit =
          ref.status === "ok" ? decodeFingerprint(ref.data ?? new Uint8Array(), Number(iova & 0xfffn)) : null;
        for (const dev of passed) {
          const got = await world.dma(dev, r.pasid, iova, r.write, r.priv);
          const step = vc.check();
          const s2 = vc.judge.stage2Of(world.sidOf(dev));
          // Writes: the oracle judged the write's rights (first stage ∩ stage 2) already.
          if (s2 === undefined || r.write) continue;
          const allowed = refHit !== null && stage2Allows(s2, refHit.gpa, 8, r.write);
          const who = `passed-through device 0x${world.sidOf(dev).toString(16)}`;
          if (!allowed && got.status === "ok")
            failCase(
              `${who}: completed a DMA the emulated device with the same tables ${refHit === null ? "could not make" : "makes only outside this device's stage 2"}`,
              {
                step,
                observed: "completed",
                permitted: "aborted",
              },
            );
          if (allowed && got.status === "aborted")
            failCase(
              `${who}: blocked a DMA the emulated device completes at GPA 0x${refHit?.gpa.toString(16)}`,
              {
                step,
                observed: "aborted",
                permitted: `completes at GPA 0x${refHit?.gpa.toString(16)}`,
              },
            );
          if (allowed && !r.write && got.status === "ok") {
            const hit = decodeFingerprint(got.data ?? new Uint8Array(), Number(iova & 0xfffn));
            if (hit?.gpa !== refHit?.gpa)
              failCase(
                `${who}: read GPA ${hit === null ? "(no fingerprint)" : `0x${hit.gpa.toString(16)}`}, the emulated device reads 0x${refHit?.gpa.toString(16)}`,
                {
                  step,
                },
              );
          }
        }
      }
      // [ORACLE-JUDGE-9] [ORACLE-JUDGE-11] the guest harvests accessed and dirty flags: the host's
      // nested walks set them in these tables as the emulated device's walks do, no other flag.
      vc.note("harvest: read back every table's entries for every slot");
      const slots = Array.from({ length: SLOTS }, (_, i) => i);
      for (let t = 0; t < world.tables.length; t++) await world.harvest(t, slots);
    });
  },
  judge: (trace) => vmmJudge(trace),
};
