/**
 * PASID bind/unbind sequences for a VM with emulated and passed-through devices: guest
 * first-stage tables, PASID entries set, changed and cleared on several devices at once (the same
 * PASID on several devices, several PASIDs in one domain), each followed by domain-, PASID-
 * selective or global PASID-cache invalidations (with or without the matching IOTLB
 * invalidation), context-cache invalidations, SRTP and TE changes, DMAs, and read-backs of the
 * tables' entries (an OS harvesting accessed and dirty flags, ORACLE-JUDGE-11).
 * [VMM-BIND-1] .. [VMM-BIND-13] [VMM-INV-1] [VMM-INV-2] [VMM-INV-3]
 */
import fc from "fast-check";
import {
  didFor,
  type LeafPlan,
  SLOTS,
  type TablePlan,
  VMM_DIDS,
  VMM_PASIDS,
  type VmmCommand,
} from "../cases/vmm-plan.ts";

export function leafPlanArb(rom: boolean): fc.Arbitrary<LeafPlan | null> {
  return fc.option(
    fc.record({
      target: rom
        ? fc.constantFrom("ram" as const, "ram" as const, "rom" as const)
        : fc.constant("ram" as const),
      write: fc.boolean(),
      user: fc.oneof(
        { weight: 4, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    }),
    { freq: 5 },
  );
}

export function tablePlansArb(rom: boolean, count = 3): fc.Arbitrary<TablePlan[]> {
  return fc.array(
    fc.array(leafPlanArb(rom), { minLength: SLOTS, maxLength: SLOTS }).map((leaves) => ({ leaves })),
    { minLength: count, maxLength: count },
  );
}

export interface CommandOptions {
  devices: number;
  /** Pass-through entries allowed (ECAP.PT). */
  passThrough: boolean;
  /** Supervisor requests allowed (ECAP.SRS). */
  supervisor: boolean;
  /** EAFE allowed (ECAP.EAFS): walks then set EA with A [ORACLE-JUDGE-9]. */
  extendedAccessed?: boolean;
  maxCommands?: number;
}

const pasidArb = fc.constantFrom(0, ...VMM_PASIDS);

type SetCommand = Extract<VmmCommand, { op: "set" }>;

function setArb(o: CommandOptions): fc.Arbitrary<SetCommand> {
  const dev = fc.integer({ min: 0, max: o.devices - 1 });
  return fc
    .record({
      op: fc.constant("set" as const),
      devs: fc.uniqueArray(dev, { minLength: 1, maxLength: Math.min(3, o.devices) }),
      pasid: pasidArb,
      table: fc.integer({ min: 0, max: 2 }),
      passThrough: o.passThrough ? fc.boolean() : fc.constant(false),
      sre: o.supervisor ? fc.boolean() : fc.constant(false),
      eafe: o.extendedAccessed === true ? fc.boolean() : fc.constant(false),
    })
    .map((c) => ({ ...c, did: didFor(c) }));
}

export function vmmCommandArb(o: CommandOptions): fc.Arbitrary<VmmCommand> {
  const dev = fc.integer({ min: 0, max: o.devices - 1 });
  const devs = fc.uniqueArray(dev, { minLength: 1, maxLength: Math.min(3, o.devices) });
  const did = fc.constantFrom(...VMM_DIDS);
  return fc.oneof(
    { weight: 5, arbitrary: setArb(o) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant("clear" as const), devs, pasid: pasidArb }) },
    {
      weight: 5,
      arbitrary: fc.record({
        op: fc.constant("pasid-cache" as const),
        g: fc.constantFrom("global" as const, "domain" as const, "pasid" as const),
        did,
        pasid: pasidArb,
        iotlb: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("pasid-iotlb" as const), did, pasid: pasidArb }) },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant("context" as const),
        g: fc.constantFrom("global" as const, "device" as const),
        dev,
      }),
    },
    { weight: 1, arbitrary: fc.constant({ op: "srtp" as const }) },
    { weight: 1, arbitrary: fc.constant({ op: "te" as const }) },
    {
      weight: 8,
      arbitrary: fc.record({
        op: fc.constant("dma" as const),
        dev,
        pasid: pasidArb,
        slot: fc.integer({ min: 0, max: SLOTS - 1 }),
        offset: fc.integer({ min: 0, max: 511 }).map((w) => w * 8),
        write: fc.boolean(),
        priv: o.supervisor ? fc.boolean() : fc.constant(false),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant("harvest" as const),
        table: fc.integer({ min: 0, max: 2 }),
        slot: fc.integer({ min: 0, max: SLOTS - 1 }),
      }),
    },
  );
}

/**
 * A bind as a guest driver makes it: the entry set, then its own PASID-selective PASID-cache
 * invalidation, with or without the PASID-IOTLB one (the sequence after a PASID entry change,
 * HARNESS-DRV-10; without it a failed PASID-IOTLB forward cannot rebind on the VMM's behalf), then
 * each device DMAs at that PASID: the VMM must bind the new entry on that invalidation alone
 * [VMM-BIND-10]. The wider invalidations of random streams would bind it anyway.
 */
function bindSequenceArb(o: CommandOptions): fc.Arbitrary<VmmCommand[]> {
  return fc
    .record({
      set: setArb(o),
      iotlb: fc.boolean(),
      slot: fc.integer({ min: 0, max: SLOTS - 1 }),
      write: fc.boolean(),
    })
    .map(({ set, iotlb, slot, write }): VmmCommand[] => [
      set,
      { op: "pasid-cache", g: "pasid", did: set.did, pasid: set.pasid, iotlb },
      ...set.devs.map(
        (dev): VmmCommand => ({
          op: "dma",
          dev,
          pasid: set.pasid,
          slot,
          offset: 8 * slot,
          write,
          priv: false,
        }),
      ),
    ]);
}

export function vmmCommandsArb(o: CommandOptions): fc.Arbitrary<VmmCommand[]> {
  const item = fc.oneof(
    { weight: 9, arbitrary: vmmCommandArb(o).map((c) => [c]) },
    { weight: 1, arbitrary: bindSequenceArb(o) },
  );
  return fc.array(item, { minLength: 1, maxLength: o.maxCommands ?? 30 }).map((l) => l.flat());
}
