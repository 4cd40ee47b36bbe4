/**
 * unbind-propagation (headline): PASID bind/unbind sequences over emulated and passed-through
 * devices. Every DMA must be one the oracle permits for an emulated device with the same guest
 * tables (through stage 2 for passed-through ones), so after the guest clears a PASID entry and
 * invalidates (global included) a passed-through device's DMA with that PASID is blocked, and
 * entries still present keep working. With hostView: after a global PASID-cache invalidation the
 * host's attachments are exactly the guest's present entries, and a PASID-selective invalidation
 * binds nothing for a device whose entry is absent (thread 003's three-device flow leads some cases).
 * The guest reads its tables' entries back (in the stream and at the end), as an OS harvesting
 * accessed and dirty flags does: the flags the walks, the host's nested ones included, may and
 * must set there are judged (ORACLE-JUDGE-9, ORACLE-JUDGE-11).
 */
import fc from "fast-check";
import { vmmPlatformArb, vmmProblem } from "../src/arbitraries/vmm-config.ts";
import { tablePlansArb, vmmCommandsArb } from "../src/arbitraries/vmm-pasid-ops.ts";
import { failCase } from "../src/cases/case-failed.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import { describeCommand, SLOTS, VMM_PASIDS, type VmmCommand } from "../src/cases/vmm-plan.ts";
import type { EntryState, VmmWorld } from "../src/cases/vmm-world.ts";
import { VmmWorld as World } from "../src/cases/vmm-world.ts";
import type { HostView } from "../src/contract/types.ts";

/** Thread 003: D1 binds PASID 1, D2 PASID 2, D3 PASID 1, each followed by a PASID-selective invalidation. */
function thread003(did: number): VmmCommand[] {
  const set = (dev: number, pasid: number): VmmCommand => ({
    op: "set",
    devs: [dev],
    pasid,
    did,
    table: dev,
    passThrough: false,
    sre: false,
  });
  const inv = (pasid: number): VmmCommand => ({ op: "pasid-cache", g: "pasid", did, pasid, iotlb: true });
  const reads = (pasid: number): VmmCommand[] =>
    [0, 1, 2].map((dev) => ({ op: "dma", dev, pasid, slot: 0, offset: 0, write: false, priv: false }));
  return [set(0, 1), inv(1), ...reads(1), set(1, 2), inv(2), ...reads(2), set(2, 1), inv(1), ...reads(1)];
}

/** [VMM-BIND-7] [VMM-BIND-12] [VMM-BIND-14] The host's attachments of each passed-through device match the guest. */
function checkAttachments(
  world: VmmWorld,
  view: HostView,
  step: number,
  onlyPasids?: readonly number[],
  only: (e: EntryState) => boolean = () => true,
): void {
  for (const [dev, d] of world.config.devices.entries()) {
    if (d.kind !== "passthrough") continue;
    for (const pasid of onlyPasids ?? [0, ...VMM_PASIDS]) {
      const e = world.entry(dev, pasid);
      if (!only(e)) continue;
      const a = view.attachments.find((x) => x.sid === d.sid && (x.pasid ?? 0) === pasid);
      const slot = pasid === 0 ? "requests without PASID" : `PASID ${pasid}`;
      const where = `device 0x${d.sid.toString(16)} ${slot}`;
      if (!e.present) {
        if (a !== undefined)
          failCase(`${where}: the guest entry is absent, yet the host has it attached to HWPT ${a.hwptId}`, {
            step,
            observed: { hwptId: a.hwptId, kind: a.kind },
            permitted: "no attachment",
          });
        continue;
      }
      if (a === undefined)
        failCase(`${where}: the guest entry is present, yet the host has nothing attached`, {
          step,
          permitted: "attached",
        });
      if (e.passThrough === true) {
        if (a.kind !== "paging")
          failCase(`${where}: a pass-through entry must bind the stage 2 itself, not a ${a.kind} HWPT`, {
            step,
          });
        continue;
      }
      const root = world.tables[e.table as number]?.root;
      if (a.kind !== "nested" || a.stage1 !== BigInt(root ?? -1))
        failCase(
          `${where}: bound to ${a.kind} HWPT with stage 1 ${a.stage1 ?? "none"}, the guest's table is at 0x${root?.toString(16)}`,
          {
            step,
            observed: { kind: a.kind, stage1: a.stage1 === undefined ? null : `0x${a.stage1.toString(16)}` },
            permitted: { kind: "nested", stage1: `0x${root?.toString(16)}` },
          },
        );
    }
  }
}

export const unbindPropagation: PropertyDefinition = {
  id: "unbind-propagation",
  title:
    "after the guest clears a PASID entry and invalidates (global included), a passed-through device's DMA with it is blocked; present entries keep working",
  rules: [
    "VMM-BIND-2",
    "VMM-BIND-3",
    "VMM-BIND-4",
    "VMM-BIND-7",
    "VMM-BIND-8",
    "VMM-BIND-9",
    "VMM-BIND-10",
    "VMM-BIND-12",
    "VMM-BIND-14",
    "VMM-S2-7",
    "HOST-XLATE-11",
    "ORACLE-JUDGE-9",
    "ORACLE-JUDGE-11",
  ],
  needs: (d) => vmmProblem(d),
  run(ctx) {
    const input = vmmPlatformArb(ctx.description).chain((config) =>
      fc.record({
        config: fc.constant(config),
        tables: tablePlansArb(config.memory.regions.some((r) => r.readOnly)),
        lead: fc.oneof(
          { weight: 1, arbitrary: fc.constant(true) },
          { weight: 2, arbitrary: fc.constant(false) },
        ),
        // One world in four is flushed before its root pointer is latched.
        flushFirst: fc.oneof(
          { weight: 1, arbitrary: fc.constant(true) },
          { weight: 3, arbitrary: fc.constant(false) },
        ),
        commands: vmmCommandsArb({
          devices: config.devices.length,
          passThrough: config.viommu.passThrough,
          supervisor: config.viommu.supervisorRequests,
          extendedAccessed: config.viommu.extendedAccessed,
        }),
      }),
    );
    const hostView = ctx.description.supports.hostView;
    return runVmmCases(ctx, input, async (vc, v) => {
      const world = await World.build(vc, v.config, v.tables, { flushFirst: v.flushFirst });
      const commands = [...(v.lead ? thread003(1) : []), ...v.commands];
      // Keys set present since the last global re-validation: a PASID-selective invalidation may bind only those.
      let touched = new Set<string>();
      for (const c of commands) {
        vc.note(describeCommand(c));
        await world.run(c);
        if (c.op === "set") for (const dev of c.devs) touched.add(`${dev}/${c.pasid}`);
        if (!hostView || c.op !== "pasid-cache") continue;
        if (c.g === "global") {
          checkAttachments(
            world,
            await (vc.model.platform.hostView as () => Promise<HostView>)(),
            vc.check(),
          );
          // Entries present at a global re-validation may stay bound after it.
          touched = new Set([...world.entries].filter(([, e]) => e.present).map(([k]) => k));
        } else if (c.g === "pasid") {
          // [VMM-BIND-10] nothing is bound for a device whose entry for that PASID is absent and was never set.
          const view = await (vc.model.platform.hostView as () => Promise<HostView>)();
          const step = vc.check();
          // [VMM-BIND-10] a present entry with the invalidation's DID and PASID is re-validated: the
          // host now holds what it says.
          checkAttachments(world, view, step, [c.pasid], (e) => e.present && e.did === c.did);
          for (const [dev, d] of world.config.devices.entries()) {
            if (d.kind !== "passthrough" || touched.has(`${dev}/${c.pasid}`)) continue;
            const a = view.attachments.find((x) => x.sid === d.sid && (x.pasid ?? 0) === c.pasid);
            if (c.pasid !== 0 && a !== undefined)
              failCase(
                `device 0x${d.sid.toString(16)} never had a PASID ${c.pasid} entry, yet the host bound it`,
                {
                  step,
                },
              );
          }
        }
      }
      // [VMM-BIND-7] settle: a global PASID-cache and IOTLB invalidation, then every slot of every
      // passed-through device must do exactly what its current guest entry says.
      vc.note("settle: global PASID-cache + IOTLB invalidation; every passed-through PASID reads every slot");
      await world.run({ op: "pasid-cache", g: "global", did: 0, pasid: 0, iotlb: true });
      if (hostView)
        checkAttachments(world, await (vc.model.platform.hostView as () => Promise<HostView>)(), vc.check());
      for (const [dev, d] of world.config.devices.entries()) {
        if (d.kind !== "passthrough") continue;
        for (const pasid of [0, ...VMM_PASIDS])
          for (let slot = 0; slot < SLOTS; slot++)
            await world.run({ op: "dma", dev, pasid, slot, offset: 8 * slot, write: false, priv: false });
      }
      // [ORACLE-JUDGE-9] [ORACLE-JUDGE-11] then the guest harvests accessed flags: every table's
      // entries for every slot, where the walks above (the host's nested ones too) set them.
      vc.note("harvest: read back every table's entries for every slot");
      const slots = Array.from({ length: SLOTS }, (_, i) => i);
      for (let t = 0; t < world.tables.length; t++) await world.harvest(t, slots);
    });
  },
  judge: (trace) => vmmJudge(trace),
};
