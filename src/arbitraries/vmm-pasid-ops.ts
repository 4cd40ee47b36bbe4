/**
 * PASID bind/unbind sequences for a VM with emulated and passed-through devices: guest
 * first-stage tables, PASID entries set, changed and cleared on several devices at once (the same
 * PASID on several devices, several PASIDs in one domain), each followed by domain-, PASID-
 * selective or global PASID-cache invalidations (with or without the matching IOTLB
 * invalidation), context-cache invalidations, SRTP and TE changes, and DMAs.
 * [VMM-BIND-1] .. [VMM-BIND-13] [VMM-INV-1] [VMM-INV-2] [VMM-INV-3]
 */
import fc from "fast-check";

/** IOVAs of the first-stage slots: far above guest memory, so pass-through entries see no RAM there. */
export const SLOT_BASE = 0x1000_0000n;
export const SLOTS = 6;
export function slotIova(slot: number): bigint {
  return SLOT_BASE + BigInt(slot) * 0x1000n;
}

/** PASIDs used: three in the first PASID table, one in the second (directory entry 1). */
export const VMM_PASIDS = [1, 2, 5, 0x41] as const;
/**
 * Domain ids used by PASID entries. A (DID, PASID) pair names one address space: software must
 * not tag two different tables alike (VT-d 5.10 §6.2.1), since cached translations are shared by
 * tag across devices. So the DID follows the table: table t uses DID t + 1, pass-through DID 4.
 */
export const VMM_DIDS = [1, 2, 3, 4] as const;

/** The DID software gives an entry: one per address space (see VMM_DIDS). */
export function didFor(entry: { table: number; passThrough: boolean }): number {
  return entry.passThrough ? 4 : entry.table + 1;
}

/** One leaf of a guest first-stage table: where the slot goes and with which rights. */
export interface LeafPlan {
  target: "ram" | "rom";
  write: boolean;
  user: boolean;
}

/** A guest first-stage table: per slot, a leaf or nothing. */
export interface TablePlan {
  leaves: Array<LeafPlan | null>;
}

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

export type VmmCommand =
  /** Write the same PASID entry on every listed device: first stage on `table`, or pass-through. */
  | {
      op: "set";
      devs: number[];
      pasid: number;
      did: number;
      table: number;
      passThrough: boolean;
      sre: boolean;
    }
  /** Clear the PASID entry on every listed device. */
  | { op: "clear"; devs: number[]; pasid: number }
  /** PASID-cache invalidation, optionally followed by the IOTLB invalidation software pairs it with. */
  | { op: "pasid-cache"; g: "global" | "domain" | "pasid"; did: number; pasid: number; iotlb: boolean }
  /** PASID-selective PASID-IOTLB invalidation alone. */
  | { op: "pasid-iotlb"; did: number; pasid: number }
  /** Context-cache invalidation: global, or device-selective for one device. */
  | { op: "context"; g: "global" | "device"; dev: number }
  /** Set the root-table pointer again (SRTP). */
  | { op: "srtp" }
  /** Translation off, then on again. */
  | { op: "te" }
  /** A DMA by device `dev`: PASID 0 means a request without PASID (RID_PASID 0). */
  | { op: "dma"; dev: number; pasid: number; slot: number; offset: number; write: boolean; priv: boolean };

export interface CommandOptions {
  devices: number;
  /** Pass-through entries allowed (ECAP.PT). */
  passThrough: boolean;
  /** Supervisor requests allowed (ECAP.SRS). */
  supervisor: boolean;
  maxCommands?: number;
}

const pasidArb = fc.constantFrom(0, ...VMM_PASIDS);

export function vmmCommandArb(o: CommandOptions): fc.Arbitrary<VmmCommand> {
  const dev = fc.integer({ min: 0, max: o.devices - 1 });
  const devs = fc.uniqueArray(dev, { minLength: 1, maxLength: Math.min(3, o.devices) });
  const did = fc.constantFrom(...VMM_DIDS);
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc
        .record({
          op: fc.constant("set" as const),
          devs,
          pasid: pasidArb,
          table: fc.integer({ min: 0, max: 2 }),
          passThrough: o.passThrough ? fc.boolean() : fc.constant(false),
          sre: o.supervisor ? fc.boolean() : fc.constant(false),
        })
        .map((c) => ({ ...c, did: didFor(c) })),
    },
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
  );
}

export function vmmCommandsArb(o: CommandOptions): fc.Arbitrary<VmmCommand[]> {
  return fc.array(vmmCommandArb(o), { minLength: 1, maxLength: o.maxCommands ?? 30 });
}

/** One line per command, for traces. */
export function describeCommand(c: VmmCommand): string {
  switch (c.op) {
    case "set":
      return `set PASID ${c.pasid} on devices [${c.devs}] to ${c.passThrough ? "pass-through" : `table ${c.table}`} DID ${c.did}${c.sre ? " SRE" : ""}`;
    case "clear":
      return `clear PASID ${c.pasid} on devices [${c.devs}]`;
    case "pasid-cache":
      return `PASID-cache ${c.g} invalidation (DID ${c.did}, PASID ${c.pasid})${c.iotlb ? " + IOTLB" : ""}, wait`;
    case "pasid-iotlb":
      return `PASID-IOTLB invalidation DID ${c.did} PASID ${c.pasid}, wait`;
    case "context":
      return `context-cache ${c.g} invalidation${c.g === "device" ? ` of device ${c.dev}` : ""}, wait`;
    case "srtp":
      return "set root-table pointer";
    case "te":
      return "translation off and on";
    case "dma":
      return `device ${c.dev} ${c.write ? "writes" : "reads"} slot ${c.slot}+0x${c.offset.toString(16)}${c.pasid === 0 ? "" : ` PASID ${c.pasid}`}${c.priv ? " (supervisor)" : ""}`;
  }
}
