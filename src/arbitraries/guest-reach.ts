/**
 * Commands that reach what independent random commands rarely line up: upper-level entries moved
 * to other tables and subtrees shared between slots and domains (the stale paging-structure-cache
 * cases of VT-d §6.2.5, §6.2.8), entries with FPD set, and follow-ups on the latest edits — a DMA
 * through what just changed, the invalidation a driver issues for it (with and without IH, at the
 * right DID and PASID) — so a model that keeps what a covering invalidation removed is caught.
 * Commands resolve "the latest edit" from the world at run time, so they shrink like the others.
 */
import fc from "fast-check";
import { type BitEdit, type GuestWorld, IOVA_SLOTS, type RecentEdit } from "../cases/guest-case-world.ts";
import { pasidTag } from "../contract/surface.ts";
import {
  afterLegacyContextChange,
  afterPasidEntryChange,
  afterScalableContextChange,
  contextDevice,
  contextGlobal,
  iotlbDomain,
  iotlbPage,
  pasidCacheGlobal,
  pasidCachePasid,
  pasidIotlbPage,
  pasidIotlbPasid,
  requestPasid,
} from "../driver/index.ts";
import type { Descriptor } from "../spec/descriptor.ts";
import { PGTT } from "../spec/pasid-entry.ts";
import { Reg } from "../spec/register-offsets.ts";
import { type AvoidSet, PWSNP_NOT_CHECKED } from "./guest-avoid.ts";
import { type GuestCommand, GuestCommandBase, hex } from "./guest-command-base.ts";

/** How often each reach command is drawn, next to the CommandWeights of guest-commands.ts. */
export interface ReachWeights {
  /** Upper-level entries pointed at other tables / shared subtrees. */
  rewire: number;
  /** Attach / PASID / context entries with FPD = 1. */
  fpd: number;
  /** DMAs through the latest edits. */
  recentDma: number;
  /** The covering invalidation (and usually its wait) for one of the latest edits. */
  recentInvalidate: number;
  /** Fault-event and invalidation-event registers set up, status registers read, ICS.IWC cleared. */
  events: number;
  /** Whole fill-change-invalidate-look stories (guest-probes.ts; drawn by guestCommandsArb). */
  probe: number;
  /** Single-bit edits of live entries: present cleared, one permission or address bit. */
  bitEdit: number;
}

/**
 * What a guest driver does with the event and status registers: Linux programs the fault event
 * registers at probe and masks or unmasks them, polls FSTS, ICS and the queue registers, and clears
 * ICS.IWC. Nothing here changes translation; the oracle judges the status reads (ORACLE-CTL-3).
 */
class EventRegsCmd extends GuestCommandBase {
  constructor(
    readonly fault: boolean,
    readonly masked: boolean,
    readonly data: number,
    readonly clearIwc: boolean,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const p = w.gc.model.platform;
    const [ctl, data, addr, uaddr] = this.fault
      ? [Reg.FECTL, Reg.FEDATA, Reg.FEADDR, Reg.FEUADDR]
      : [Reg.IECTL, Reg.IEDATA, Reg.IEADDR, Reg.IEUADDR];
    await p.writeReg(data, BigInt(this.data), 4);
    await p.writeReg(addr, 0xfee0_0000n, 4);
    await p.writeReg(uaddr, 0n, 4);
    // Masked: unmasked and masked again (the IRQ core's unmask, mask), so a held event is sent
    // and a later fault while a status is still set must not raise IP again [ORACLE-JUDGE-10].
    if (this.masked) await p.writeReg(ctl, 0n, 4);
    await p.writeReg(ctl, this.masked ? 1n << 31n : 0n, 4);
    await p.readReg(ctl, 4);
    await p.readReg(Reg.FSTS, 4);
    const ics = await p.readReg(Reg.ICS, 4);
    if (this.clearIwc && (ics & 1n) !== 0n) await p.writeReg(Reg.ICS, 1n, 4);
    for (const r of [Reg.IQH, Reg.IQT, Reg.IQA]) await p.readReg(r, 8);
  }
  toString() {
    return `${this.fault ? "fault" : "invalidation"} event registers: data ${hex(this.data)}, ${this.masked ? "unmasked then masked" : "unmasked"}; read FSTS, ICS${this.clearIwc ? " (clear IWC)" : ""}, IQH, IQT, IQA`;
  }
}

class RewireCmd extends GuestCommandBase {
  constructor(
    readonly dom: number,
    readonly slot: number,
    readonly level: number,
    readonly fromDom: number,
    readonly fromSlot: number,
    /** A read-only upper entry above (usually) writable leaves [VTD-SS-3] [VTD-FS-6]. */
    readonly readOnly: boolean,
  ) {
    super();
  }
  act(w: GuestWorld) {
    return w.rewire(
      this.dom,
      this.slot,
      this.level,
      { dom: this.fromDom, slot: this.fromSlot },
      this.readOnly,
    );
  }
  toString() {
    return `rewire domain#${this.dom} slot ${this.slot} level#${this.level}${this.readOnly ? " read-only" : ""} -> the table domain#${this.fromDom} slot ${this.fromSlot} reaches one level lower`;
  }
}

/**
 * A DMA through a slot by one of the domain's users (so the translation is cached), the slot's
 * 4 KiB page remapped to another data page, the covering invalidation (form as in
 * coveringInvalidation) and its wait, then the same read: the stale IOTLB entry must be gone
 * [ORACLE-COV-6]. With size 2M the slot's 2 MiB region becomes one page: the level-2 entry the
 * walk cached in the paging-structure caches stops being a table pointer, so the invalidation
 * goes without IH and must drop that cached entry too [VTD-CACHE-12].
 */
class RemapAfterDmaCmd extends GuestCommandBase {
  constructor(
    readonly dom: number,
    readonly slot: number,
    readonly pick: number,
    readonly target: number,
    readonly form: number,
    readonly ih: boolean,
    readonly pasids: boolean,
    readonly size: "4K" | "2M" = "4K",
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const users = w.usersOf(this.dom);
    const u = users[this.pick % Math.max(users.length, 1)];
    const pasid = u !== undefined && this.pasids ? u.pasid : undefined;
    const read = () =>
      u === undefined
        ? undefined
        : w.dma({
            dev: u.dev,
            iova: IOVA_SLOTS[this.slot % IOVA_SLOTS.length] as bigint,
            len: 8,
            write: false,
            ...pasidTag(pasid, false),
          });
    await read();
    if (!(await w.map(this.dom, this.slot, this.size, this.target, 3))) return;
    const e = w.recent.at(-1);
    // IH = 1 tells the unit only leaves changed (§6.5.2.3): never after a table pointer is replaced.
    const ih = this.ih && this.size === "4K";
    if (e !== undefined) await w.invalidate(coveringInvalidation(w, e, this.form, ih), true);
    await read();
  }
  toString() {
    return `user (pick ${this.pick}) of domain#${this.dom} reads slot ${this.slot}, then map it ${this.size} -> target ${this.target} rights 3, invalidate it (form ${this.form}${this.ih && this.size === "4K" ? ", IH" : ""}) + wait, read it again`;
  }
}

class FpdEntryCmd extends GuestCommandBase {
  constructor(
    readonly what: "attach" | "pasid" | "context",
    readonly dev: number,
    readonly dom: number,
    readonly pasid: number,
    /** Then clear the entry's present bit, FPD kept: a fault in the entry itself [VTD-CTX-7]. */
    readonly cleared = false,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const pasid = this.what === "pasid" && w.scalable;
    if (pasid) await w.setPasid(this.dev, this.pasid, this.dom, true);
    else if (this.what === "context") await w.restoreContext(this.dev, this.dom, true);
    else await w.attach(this.dev, this.dom, true);
    if (this.cleared) await w.editStructureBit(this.dev, pasid ? this.pasid : undefined, "present", 0);
  }
  toString() {
    const then = this.cleared ? ", then present cleared" : "";
    return this.what === "pasid"
      ? `PASID ${this.pasid} of device#${this.dev} -> domain#${this.dom} with FPD${then}`
      : this.what === "context"
        ? `set context entry of device#${this.dev} with FPD (domain#${this.dom})${then}`
        : `attach device#${this.dev} to domain#${this.dom} with FPD${then}`;
  }
}

/** A single-bit edit of a live paging, context or PASID entry (the rest of it kept). */
class BitEditCmd extends GuestCommandBase {
  constructor(
    readonly target: "paging" | "context" | "pasid",
    readonly index: number,
    readonly slot: number,
    readonly level: number,
    readonly edit: BitEdit,
    readonly k: number,
    /** PWSNP may be flipped (not while its finding is avoided, guest-avoid.ts). */
    readonly pwsnp = true,
  ) {
    super();
  }
  act(w: GuestWorld) {
    if (this.target === "paging") return w.editEntryBit(this.index, this.slot, this.level, this.edit, this.k);
    const pasid =
      this.target === "pasid" && w.scalable
        ? (PASID_EDITS[this.k % PASID_EDITS.length] as number)
        : undefined;
    return w.editStructureBit(this.index, pasid, this.edit, this.k, { pwsnp: this.pwsnp });
  }
  toString() {
    const where =
      this.target === "paging"
        ? `domain#${this.index} slot ${this.slot} level#${this.level} entry`
        : `${this.target} entry of device#${this.index}`;
    return `${where}: ${this.edit === "present" ? "present cleared, rest kept" : `one ${this.edit} bit flipped (k ${this.k})`}`;
  }
}

const PASID_EDITS = [0, 1, 2, 0x41] as const;

/**
 * [VTD-REG-9] The root pointer latched again while translation stays enabled (SRTP with TE = 1),
 * then the global invalidations a driver issues without ESRTPS: what a kexec or a table switch does.
 */
class RootRelatchCmd extends GuestCommandBase {
  async act(w: GuestWorld) {
    await w.driver.setRoot(w.root);
  }
  toString() {
    return "latch the root table again with translation enabled (SRTP, TE = 1)";
  }
}

/** Which latest edit: k counts back from the newest. */
function recentEdit(w: GuestWorld, k: number): RecentEdit | undefined {
  const r = w.recent;
  return r.length === 0 ? undefined : r[r.length - 1 - (k % r.length)];
}

class RecentDmaCmd extends GuestCommandBase {
  constructor(
    readonly k: number,
    readonly pick: number,
    readonly offset: number,
    readonly write: boolean,
    readonly priv: boolean,
    /** Devices can issue requests with PASID; otherwise a PASID user is reached without one. */
    readonly pasids: boolean,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const e = recentEdit(w, this.k);
    if (e === undefined) return;
    let dev = this.pick;
    let pasid: number | undefined;
    let slot = this.pick;
    if (e.kind === "table") {
      const users = w.usersOf(e.dom);
      const u = users[this.pick % Math.max(users.length, 1)];
      if (u !== undefined) ({ dev, pasid } = u);
      slot = e.slot;
    } else {
      dev = e.dev;
      pasid = requestPasid(e.pasid);
    }
    if (!this.pasids) pasid = undefined;
    const iova = (IOVA_SLOTS[slot % IOVA_SLOTS.length] as bigint) + BigInt(this.offset);
    return w.dma({
      dev,
      iova,
      len: 8,
      write: this.write,
      ...pasidTag(pasid, this.priv),
    });
  }
  toString() {
    return `device DMA ${this.write ? "write" : "read"} through recent edit #${this.k} (pick ${this.pick}, offset ${hex(this.offset)})`;
  }
}

/** The invalidation a driver issues after edit e; `form` picks among the correct ones. */
export function coveringInvalidation(w: GuestWorld, e: RecentEdit, form: number, ih: boolean): Descriptor[] {
  const v = w.config.viommu;
  if (e.kind === "table") {
    const d = w.domain(e.dom);
    const page = (IOVA_SLOTS[e.slot] as bigint) & ~0xfffn;
    const am = e.size === "4K" ? 0 : e.size === "2M" ? 9 : 18;
    // Form 1 is wider than needed: the smallest mask (up to 9) that puts the page in the upper half
    // of the aligned range, so a model covering only part of it keeps the page [ORACLE-COV-6], else 9.
    const wide = form % 4 === 1 ? Math.max(am, upperHalfMask(page)) : am;
    const addr = (page >> BigInt(12 + wide)) << BigInt(12 + wide);
    const firstLike = d.kind === "first" || d.kind === "nested";
    if (form % 4 === 2) return [iotlbDomain(d.did)];
    // Form 4: PASID-selective PASID-IOTLB invalidations for every user, which also drop the
    // first-stage paging-structure entries [VTD-CACHE-12] (a re-pointed upper entry is covered).
    if (v.scalable && firstLike && form === 4) {
      const users = w.usersOf(e.dom);
      return users.length === 0
        ? [iotlbDomain(d.did)]
        : users.map((u) => pasidIotlbPasid(d.did, u.pasid ?? 0));
    }
    if (v.scalable && firstLike && form % 4 === 3) {
      const users = w.usersOf(e.dom);
      return users.length === 0
        ? [iotlbDomain(d.did)]
        : users.map((u) => pasidIotlbPage(d.did, u.pasid ?? 0, addr, wide, ih));
    }
    if (wide > w.driver.caps.mamv) return [iotlbDomain(d.did)];
    return [iotlbPage(d.did, addr, wide, ih)];
  }
  // Forms 2 and 3 name the device through a function sibling and a function mask that covers it
  // (FM = 1 masks devfn bit 2, §6.5.2.1), as a driver flushing a multi-function device may.
  const masked = form % 4 >= 2;
  const sid = masked ? w.sid(e.dev) ^ 0b100 : w.sid(e.dev);
  const fm = masked ? 1 : 0;
  const before = e.before === undefined ? undefined : w.domain(e.before);
  if (!v.scalable) {
    // A not-present entry cached under CM = 1 carries DID 0 [ORACLE-KEY-1].
    if (before === undefined) return form % 4 !== 1 ? [contextDevice(0, sid, fm)] : [contextGlobal()];
    return form % 4 !== 1
      ? withFm(afterLegacyContextChange(sid, before.did), fm)
      : [contextGlobal(), iotlbDomain(before.did)];
  }
  if (e.pasid === undefined)
    return withFm(afterScalableContextChange(sid, before === undefined ? [] : [before.did]), fm);
  if (before === undefined)
    return form % 2 === 0 ? [pasidCachePasid(0, e.pasid), pasidIotlbPasid(0, e.pasid)] : [pasidCacheGlobal()];
  const pgtt =
    before.kind === "first"
      ? PGTT.FIRST_STAGE
      : before.kind === "pass-through"
        ? PGTT.PASS_THROUGH
        : before.kind === "nested"
          ? PGTT.NESTED
          : PGTT.SECOND_STAGE;
  return form % 2 === 0
    ? afterPasidEntryChange(before.did, e.pasid, pgtt)
    : [pasidCachePasid(before.did, e.pasid), iotlbDomain(before.did)];
}

/** AM whose aligned range from below has the 4 KiB page at `page` in its upper half, at most 9. */
function upperHalfMask(page: bigint): number {
  let n = page >> 12n;
  let zeros = 0;
  while (zeros < 9 && n !== 0n && (n & 1n) === 0n) {
    n >>= 1n;
    zeros++;
  }
  return Math.min(zeros + 1, 9);
}

/** The device-selective context-cache descriptors among descs, given function mask fm. */
function withFm(descs: Descriptor[], fm: number): Descriptor[] {
  return descs.map((d) => (d.kind === "context-cache" && d.g === 3 ? { ...d, fm } : d));
}

class RecentInvalidateCmd extends GuestCommandBase {
  constructor(
    readonly k: number,
    readonly form: number,
    readonly ih: boolean,
    readonly wait: boolean,
    readonly kinds?: ReadonlyArray<Descriptor["kind"]>,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const e = recentEdit(w, this.k);
    if (e === undefined) return;
    const kinds = this.kinds;
    const descs = coveringInvalidation(w, e, this.form, this.ih).filter(
      (d) => kinds === undefined || kinds.includes(d.kind),
    );
    w.gc.note(`  = ${descs.length} descriptor(s) for ${JSON.stringify(e)}`);
    return w.invalidate(descs, this.wait);
  }
  toString() {
    return `invalidate what recent edit #${this.k} changed (form ${this.form}${this.ih ? ", IH" : ""})${this.wait ? " + wait" : ""}`;
  }
}

const domIdx = fc.integer({ min: 0, max: 2 });
const devIdx = fc.integer({ min: 0, max: 3 });
const slotIdx = fc.integer({ min: 0, max: IOVA_SLOTS.length - 1 });
const recent = fc.oneof(
  { arbitrary: fc.constant(0), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 1 },
);

/** Default reach weights, derived from the property's own weights (commands it does not use stay off). */
export function reachWeights(w: {
  map: number;
  raw: number;
  attach: number;
  pasid: number;
  dma: number;
  invalidate: number;
  faults: number;
}): ReachWeights {
  return {
    rewire: w.map > 0 ? Math.max(1, Math.round(w.map / 2)) + w.raw : 0,
    fpd: w.attach + w.pasid > 0 ? 1 : 0,
    recentDma: w.dma > 0 ? Math.max(1, Math.round(w.dma / 2)) : 0,
    recentInvalidate: w.invalidate > 0 ? Math.max(1, Math.round(w.invalidate / 2)) : 0,
    events: w.faults > 0 ? 1 : 0,
    probe: w.dma > 0 ? Math.max(1, Math.round(w.dma / 2)) : 0,
    bitEdit: w.map + w.attach > 0 ? Math.max(1, Math.round(w.map / 3)) : 0,
  };
}

/** The reach commands, weighted, to join the other commands of guestCommandsArb. */
export function reachArbs(o: {
  weights: Partial<ReachWeights>;
  derived: ReachWeights;
  pasids: boolean;
  writes: boolean;
  /** Descriptor kinds invalidations may use (default: all). */
  kinds?: ReadonlyArray<Descriptor["kind"]>;
  avoid?: AvoidSet;
}): Array<fc.WeightedArbitrary<GuestCommand>> {
  const w = { ...o.derived, ...o.weights };
  const out: Array<fc.WeightedArbitrary<GuestCommand>> = [];
  const add = (weight: number, a: fc.Arbitrary<GuestCommand>) => {
    if (weight > 0) out.push({ arbitrary: a, weight });
  };
  add(
    w.rewire,
    fc
      .tuple(domIdx, slotIdx, fc.nat(3), domIdx, slotIdx, fc.nat(3))
      .map(([d, s, l, fd, fs, ro]) => new RewireCmd(d, s, l, fd, fs, o.writes && ro === 0)),
  );
  add(
    w.rewire > 0 ? Math.ceil(w.rewire / 2) : 0,
    fc
      .tuple(
        domIdx,
        slotIdx,
        fc.nat(3),
        fc.nat(7),
        fc.constantFrom(0, 1, 2, 3, 4, 4),
        fc.boolean(),
        fc.constantFrom<"4K" | "2M">("4K", "2M"),
      )
      .map(([d, s, p, t, f, ih, size]) => new RemapAfterDmaCmd(d, s, p, t, f, ih, o.pasids, size)),
  );
  add(
    w.fpd,
    fc
      .tuple(
        fc.constantFrom("attach", "pasid", "context") as fc.Arbitrary<"attach" | "pasid" | "context">,
        devIdx,
        domIdx,
        fc.constantFrom(0, 1, 2, 0x41),
        fc.boolean(),
      )
      .map(
        ([what, v, d, p, c]) =>
          new FpdEntryCmd(o.pasids ? what : what === "pasid" ? "attach" : what, v, d, p, c),
      ),
  );
  add(
    w.recentDma,
    fc
      .tuple(
        recent,
        fc.nat(7),
        fc.constantFrom(0, 8, 0xff0),
        o.writes ? fc.boolean() : fc.constant(false),
        fc.boolean(),
      )
      .map(([k, p, off, wr, pr]) => new RecentDmaCmd(k, p, off, wr, pr, o.pasids)),
  );
  add(
    w.recentInvalidate,
    fc
      .tuple(
        recent,
        fc.nat(4),
        fc.boolean(),
        fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 }),
      )
      .map(([k, f, ih, wt]) => new RecentInvalidateCmd(k, f, ih, wt, o.kinds)),
  );
  add(
    w.bitEdit,
    fc
      .tuple(
        fc.constantFrom("paging", "paging", "context", "pasid") as fc.Arbitrary<
          "paging" | "context" | "pasid"
        >,
        fc.nat(3),
        slotIdx,
        fc.nat(4),
        fc.constantFrom<BitEdit>("present", "permission", "address", "other"),
        fc.nat(15),
      )
      .map(([t, i, s, l, e, k]) => new BitEditCmd(t, i, s, l, e, k, !o.avoid?.has(PWSNP_NOT_CHECKED))),
  );
  add(w.events, fc.constant(new RootRelatchCmd()));
  add(
    w.events,
    fc
      // The event data is an MSI data word as a driver writes it: a vector with fixed delivery,
      // edge-triggered. Any other delivery mode (SMI, NMI, INIT) would reach a CPU that no driver
      // runs on here; under QEMU it woke the halted CPU and lost an edu DMA (issue 11's 7.2 runs).
      .tuple(fc.boolean(), fc.boolean(), fc.integer({ min: 0x10, max: 0xfe }), fc.boolean())
      .map(([f, m, d, c]) => new EventRegsCmd(f, m, d, c)),
  );
  return out;
}
