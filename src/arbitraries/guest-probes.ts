/**
 * Probes: a short story told in one command — fill a cache or set up an entry, change it, issue
 * the invalidation a driver issues (or, where the rules let it skip one, none), and look again with
 * a DMA and the fault records. Independent random commands line these steps up only now and then;
 * a probe lines them up every time it is drawn, and shrinks as one step. Each probe exists because
 * a realistic bug hides until exactly that story is told (the mutants in src/adapters/mutants/ are
 * such bugs; the comments name the rules they break).
 */
import fc from "fast-check";
import { type GuestWorld, IOVA_SLOTS, PASID_POOL } from "../cases/guest-case-world.ts";
import { pasidTag } from "../contract/surface.ts";
import { type PageSize, pasidCacheDomain, pasidCacheGlobal } from "../driver/index.ts";
import type { Descriptor } from "../spec/descriptor.ts";
import { type GuestCommand, GuestCommandBase } from "./guest-command-base.ts";
import { coveringInvalidation } from "./guest-reach.ts";

/** What a probe may use: PASID requests, DMA writes, descriptor kinds. */
export interface ProbeOptions {
  pasids: boolean;
  writes: boolean;
  kinds?: ReadonlyArray<Descriptor["kind"]>;
}

/** One read (or write) of 8 bytes at slot by the user `pick` of domain `dom`, if it has one. */
async function userDma(
  w: GuestWorld,
  o: ProbeOptions,
  dom: number,
  pick: number,
  slot: number,
  write = false,
): Promise<void> {
  const users = w.usersOf(dom);
  const u = users[pick % Math.max(users.length, 1)];
  if (u === undefined) return;
  const pasid = o.pasids ? u.pasid : undefined;
  await w.dma({
    dev: u.dev,
    iova: IOVA_SLOTS[slot % IOVA_SLOTS.length] as bigint,
    len: 8,
    write: write && o.writes,
    ...pasidTag(pasid, false),
  });
}

/** The covering invalidation (and its wait) for the newest edit, kept to the kinds allowed. */
async function invalidateNewest(w: GuestWorld, o: ProbeOptions, form: number): Promise<void> {
  const e = w.recent.at(-1);
  if (e === undefined) return;
  const descs = coveringInvalidation(w, e, form, false).filter(
    (d) => o.kinds === undefined || o.kinds.includes(d.kind),
  );
  await w.invalidate(descs, true);
}

/**
 * A device's context entry is cached by a DMA, then cleared (or, in legacy mode, pointed at
 * another domain), invalidated — often device-selectively through a function sibling with a
 * function mask that covers it — and the device tries again: nothing of the old entry may
 * survive [VTD-CACHE-5] [ORACLE-COV-6].
 */
class ContextChangeProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    readonly dev: number,
    readonly to: number | undefined,
    readonly slot: number,
    readonly form: number,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const read = () => w.dma({ dev: this.dev, iova: IOVA_SLOTS[this.slot] as bigint, len: 8, write: false });
    await read();
    if (this.to === undefined || w.scalable) await w.clearContext(this.dev);
    else await w.attach(this.dev, this.to);
    await invalidateNewest(w, this.o, this.form);
    await read();
  }
  toString() {
    const change =
      this.to === undefined ? "clear it" : `move it to domain#${this.to} (legacy; scalable: clear it)`;
    return `probe: device#${this.dev} reads slot ${this.slot} (context entry cached), ${change}, invalidate (form ${this.form}) + wait, read again`;
  }
}

/** Which PASID-cache invalidation a PASID-entry change is followed by. */
export type PasidCacheScope = "pasid" | "domain" | "global";

/**
 * The PASID-cache story, told as the context one is: a DMA with a PASID caches its PASID entry,
 * the entry is cleared or pointed at another domain, and the driver's invalidation follows with
 * the PASID cache invalidated PASID-selectively, domain-selectively (the old DID) or globally,
 * with the IOTLB invalidation the old entry's type needs, and the wait; the DMA again may not use
 * the old entry [VTD-CACHE-4] [VTD-PASID-5] [ORACLE-COV-2].
 */
class PasidChangeProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    readonly dev: number,
    /** Index among the domains the allowed descriptor kinds can invalidate fully. */
    readonly dom: number,
    readonly to: number | undefined,
    readonly pasid: number,
    readonly slot: number,
    readonly scope: PasidCacheScope,
  ) {
    super();
  }
  /**
   * Without IOTLB descriptors only PASID-based IOTLB invalidation is left, which covers first-stage
   * and pass-through entries only (§6.5.2.4): then the domain is one of those.
   */
  domainIndex(w: GuestWorld): number | undefined {
    if (this.o.kinds === undefined || this.o.kinds.includes("iotlb")) return this.dom;
    const fit = w.domains.flatMap((d, i) => (d.kind === "first" || d.kind === "pass-through" ? [i] : []));
    return fit.length === 0 ? undefined : fit[this.dom % fit.length];
  }
  async act(w: GuestWorld) {
    const dom = this.domainIndex(w);
    if (!this.o.pasids || !w.scalable || dom === undefined) return;
    if (!(await w.setPasid(this.dev, this.pasid, dom))) return;
    await invalidateNewest(w, this.o, 0);
    const read = () =>
      w.dma({
        dev: this.dev,
        pasid: this.pasid,
        iova: IOVA_SLOTS[this.slot] as bigint,
        len: 8,
        write: false,
      });
    await read();
    const changed =
      this.to === undefined
        ? await w.clearPasid(this.dev, this.pasid)
        : await w.setPasid(this.dev, this.pasid, this.to);
    const e = w.recent.at(-1);
    if (!changed || e === undefined) return;
    const did = w.domain(dom).did;
    const descs = coveringInvalidation(w, e, 0, false)
      .map((d) =>
        d.kind !== "pasid-cache" || this.scope === "pasid"
          ? d
          : this.scope === "domain"
            ? pasidCacheDomain(did)
            : pasidCacheGlobal(),
      )
      .filter((d) => this.o.kinds === undefined || this.o.kinds.includes(d.kind));
    await w.invalidate(descs, true);
    await read();
  }
  toString() {
    const change = this.to === undefined ? "cleared" : `pointed at domain#${this.to}`;
    return `probe: device#${this.dev} PASID ${this.pasid} set to domain (pick ${this.dom}) and invalidated, reads slot ${this.slot} (PASID entry cached), entry ${change}, ${this.scope} PASID-cache invalidation with the IOTLB's + wait, read again`;
  }
}

/**
 * A device faults on a not-present context or PASID entry, the guest makes the entry present and
 * — as CM = 0 allows — issues no invalidation, and the device tries again: with CM = 0 the
 * not-present entry was never cached, so the retry must use the new entry [VTD-CACHE-1]
 * [VTD-CACHE-2]; with CM = 1 either outcome is permitted.
 */
class PresentAfterFaultProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    readonly dev: number,
    readonly dom: number,
    readonly pasid: number | undefined,
    readonly slot: number,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const pasid = this.o.pasids && w.scalable ? this.pasid : undefined;
    const read = () =>
      w.dma({
        dev: this.dev,
        iova: IOVA_SLOTS[this.slot] as bigint,
        len: 8,
        write: false,
        ...pasidTag(pasid, false),
      });
    const cleared =
      pasid === undefined ? await w.clearContext(this.dev) : await w.clearPasid(this.dev, pasid);
    if (cleared) await invalidateNewest(w, this.o, 0);
    await read();
    if (pasid !== undefined) await w.setPasid(this.dev, pasid, this.dom);
    else if (w.scalable) await w.restoreContext(this.dev, this.dom);
    else await w.attach(this.dev, this.dom);
    await read();
  }
  toString() {
    const which =
      this.pasid === undefined
        ? "context entry"
        : `PASID ${this.pasid} entry (context entry without PASID support)`;
    return `probe: device#${this.dev}'s ${which} cleared and invalidated, DMA at slot ${this.slot} faults, entry set to domain#${this.dom} without invalidation, DMA again`;
  }
}

/**
 * A mapping written and used at once — often a large page, where the offset, the page-size
 * capabilities (FS1GP, second-stage large pages) and the permissions of every level decide the
 * outcome [VTD-FS-4] [VTD-SS-3] [VTD-SS-5] — then the fault records read.
 */
class MapAndUseProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    /** Index among the first-stage domains when `firstStage` and there are any, else among all. */
    readonly dom: number,
    /** First-stage large pages depend on FS1GP; second-stage ones on SLLPS. */
    readonly firstStage: boolean,
    readonly slot: number,
    readonly size: PageSize,
    readonly target: number,
    readonly rights: number,
    readonly pick: number,
    readonly write: boolean,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const firsts = w.domains.flatMap((d, i) => (d.table?.stage === "first" ? [i] : []));
    const dom =
      this.firstStage && firsts.length > 0 ? (firsts[this.dom % firsts.length] as number) : this.dom;
    if (!(await w.map(dom, this.slot, this.size, this.target, this.rights))) return;
    // A cached old translation may stand until invalidated: flush it the way a driver would.
    await invalidateNewest(w, this.o, 0);
    await userDma(w, this.o, dom, this.pick, this.slot, this.write);
    await w.driver.readFaults();
  }
  toString() {
    return `probe: map ${this.firstStage ? "first-stage " : ""}domain#${this.dom} slot ${this.slot} ${this.size} -> target ${this.target} rights ${this.rights}, invalidate + wait, user (pick ${this.pick}) ${this.write ? "writes" : "reads"} it, read the fault records`;
  }
}

/**
 * A live paging entry given one bit it must not have: an address bit at or above the host
 * address width (bits 51:HAW are reserved [VTD-FS-4] [VTD-SS-4]) or a high reserved bit; then a
 * DMA through it and the fault records, which must name a reserved-bit fault.
 */
class TaintProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    readonly dom: number,
    readonly slot: number,
    readonly level: number,
    readonly bitPick: number,
    readonly pick: number,
  ) {
    super();
  }
  bit(w: GuestWorld): number {
    const haw = w.config.viommu.hawBits;
    return haw + (this.bitPick % (52 - haw));
  }
  async act(w: GuestWorld) {
    if (!(await w.taintEntry(this.dom, this.slot, this.level, 1n << BigInt(this.bit(w))))) return;
    await invalidateNewest(w, this.o, 0);
    await userDma(w, this.o, this.dom, this.pick, this.slot);
    await w.driver.readFaults();
  }
  toString() {
    return `probe: domain#${this.dom} slot ${this.slot} level#${this.level} entry gets address bit HAW+${this.bitPick} (modulo the reserved range), invalidate + wait, user (pick ${this.pick}) reads it, read the fault records`;
  }
}

/**
 * An upper-level entry made read-only (bit 1 cleared: W in the second stage, R/W in the first)
 * above a writable leaf, the covering invalidation, and a write through it: the write must fault
 * — write access needs the permission at every level [VTD-SS-3] [VTD-FS-6].
 */
class ReadOnlyUpperProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    readonly dom: number,
    readonly slot: number,
    readonly level: number,
    readonly pick: number,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const d = w.domain(this.dom);
    const levels = d.table?.levels ?? 0;
    if (!this.o.writes || levels < 2) return;
    // Level index 1 .. levels-1: the entries above the 4 KiB leaf.
    if (!(await w.map(this.dom, this.slot, "4K", this.slot, 3))) return;
    if (!(await w.taintEntry(this.dom, this.slot, 1 + (this.level % (levels - 1)), 0n, 2n))) return;
    await invalidateNewest(w, this.o, 0);
    await userDma(w, this.o, this.dom, this.pick, this.slot, true);
    await w.driver.readFaults();
  }
  toString() {
    return `probe: domain#${this.dom} slot ${this.slot} mapped 4K read/write, its upper entry (index ${this.level}) made read-only, invalidate + wait, user (pick ${this.pick}) writes it, read the fault records`;
  }
}

/**
 * A live entry of a mapped slot made not present with the rest kept (P cleared in the first
 * stage, R and W in the second), the covering invalidation, a DMA through it and the fault
 * records, which must name the not-present fault of that level [VTD-FS-3] [VTD-SS-2]. A nested
 * domain is taken when the world has one: nested walks are otherwise rare (bench/stryker-triage.md).
 */
class NotPresentProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    readonly dom: number,
    readonly slot: number,
    readonly level: number,
    readonly pick: number,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    const nested = w.domains.flatMap((d, i) => (d.kind === "nested" ? [i] : []));
    const dom = nested.length > 0 ? (nested[this.dom % nested.length] as number) : this.dom;
    const d = w.domain(dom);
    if (d.table === undefined) return;
    if (!(await w.map(dom, this.slot, "4K", this.slot, 3))) return;
    const present = d.table.stage === "first" ? 1n : 3n;
    if (!(await w.taintEntry(dom, this.slot, this.level, 0n, present))) return;
    await invalidateNewest(w, this.o, 0);
    await userDma(w, this.o, dom, this.pick, this.slot);
    await w.driver.readFaults();
  }
  toString() {
    return `probe: a nested domain (else domain#${this.dom}) slot ${this.slot} mapped 4K, its entry at level#${this.level} made not present, invalidate + wait, user (pick ${this.pick}) reads it, read the fault records`;
  }
}

/**
 * A walk cached by a DMA (IOTLB and paging-structure caches), then an upper-level entry moved
 * to another table, the covering invalidation — often domain-selective — and the same DMA: no
 * walk may start from the old upper entry [VTD-CACHE-12] [VTD-CACHE-6].
 */
class UpperChangeProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    readonly dom: number,
    readonly slot: number,
    readonly level: number,
    readonly fromSlot: number,
    readonly pick: number,
    readonly form: number,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    await userDma(w, this.o, this.dom, this.pick, this.slot);
    if (!(await w.rewire(this.dom, this.slot, this.level, { dom: this.dom, slot: this.fromSlot }))) return;
    await invalidateNewest(w, this.o, this.form);
    await userDma(w, this.o, this.dom, this.pick, this.slot);
  }
  toString() {
    return `probe: user (pick ${this.pick}) of domain#${this.dom} reads slot ${this.slot}, its level#${this.level} entry moved to the table slot ${this.fromSlot} reaches, invalidate (form ${this.form}) + wait, read again`;
  }
}

/**
 * Translation switched off and on again, as a guest does around kexec or a driver reload: with
 * GCMD.TE = 0 a request without PASID reaches its address untranslated and one with PASID is
 * blocked without a fault record [VTD-DMA-4]; after TE = 1 (root pointer latched again) the
 * tables translate as before.
 */
class TranslationOffProbe extends GuestCommandBase {
  constructor(
    readonly o: ProbeOptions,
    readonly dev: number,
    readonly target: number,
    readonly write: boolean,
    readonly pasid: number,
    readonly slot: number,
  ) {
    super();
  }
  async act(w: GuestWorld) {
    await w.driver.disable();
    const gpa = BigInt(w.data[this.target % w.data.length] as number);
    await w.dma({ dev: this.dev, iova: gpa + 8n, len: 8, write: this.write && this.o.writes });
    if (this.o.pasids) await w.dma({ dev: this.dev, pasid: this.pasid, iova: gpa, len: 8, write: false });
    await w.driver.enable(w.root);
    await w.dma({ dev: this.dev, iova: IOVA_SLOTS[this.slot] as bigint, len: 8, write: false });
  }
  toString() {
    return `probe: translation off; device#${this.dev} ${this.write ? "writes" : "reads"} data page ${this.target} by its address${this.o.pasids ? ` and reads it with PASID ${this.pasid}` : ""}; translation on again (root pointer latched), read slot ${this.slot}`;
  }
}

const domIdx = fc.integer({ min: 0, max: 2 });
const devIdx = fc.integer({ min: 0, max: 3 });
const slotIdx = fc.integer({ min: 0, max: IOVA_SLOTS.length - 1 });
/** Forms 2 and 3 of a context change go through a function sibling with FM (guest-reach.ts). */
const contextForm = fc.constantFrom(0, 1, 2, 3, 2, 3);
/** Form 2 of a table change is a domain-selective IOTLB invalidation. */
const tableForm = fc.constantFrom(0, 1, 2, 3, 2);

/** The probes, as one arbitrary command. */
export function probeArb(o: ProbeOptions): fc.Arbitrary<GuestCommand> {
  const rights = fc.nat(3);
  const probes: Array<fc.Arbitrary<GuestCommand>> = [
    fc
      .tuple(devIdx, fc.option(domIdx, { freq: 2 }), slotIdx, contextForm)
      .map(([v, d, s, f]) => new ContextChangeProbe(o, v, d ?? undefined, s, f)),
    fc
      .tuple(devIdx, domIdx, fc.option(fc.constantFrom(...PASID_POOL.slice(1))), slotIdx)
      .map(([v, d, p, s]) => new PresentAfterFaultProbe(o, v, d, p ?? undefined, s)),
    fc
      .tuple(
        domIdx,
        fc.boolean(),
        slotIdx,
        fc.constantFrom<PageSize>("4K", "2M", "1G", "1G"),
        fc.nat(7),
        rights,
        fc.nat(3),
        fc.boolean(),
      )
      .map(([d, f, s, z, t, r, p, wr]) => new MapAndUseProbe(o, d, f, s, z, t, r, p, wr)),
    fc
      .tuple(domIdx, slotIdx, fc.nat(4), fc.nat(12), fc.nat(3))
      .map(([d, s, l, b, p]) => new TaintProbe(o, d, s, l, b, p)),
    fc
      .tuple(domIdx, slotIdx, fc.nat(3), slotIdx, fc.nat(3), tableForm)
      .map(([d, s, l, fs, p, f]) => new UpperChangeProbe(o, d, s, l, fs, p, f)),
    fc
      .tuple(devIdx, fc.nat(7), fc.boolean(), fc.constantFrom(...PASID_POOL), slotIdx)
      .map(([v, t, wr, p, s]) => new TranslationOffProbe(o, v, t, wr, p, s)),
    fc
      .tuple(domIdx, slotIdx, fc.nat(3), fc.nat(3))
      .map(([d, s, l, p]) => new ReadOnlyUpperProbe(o, d, s, l, p)),
    fc.tuple(domIdx, slotIdx, fc.nat(4), fc.nat(3)).map(([d, s, l, p]) => new NotPresentProbe(o, d, s, l, p)),
  ];
  // The not-present PASID entry story (never cached with CM = 0) next to the context one.
  if (o.pasids)
    probes.push(
      ...Array.from({ length: 2 }, () =>
        fc
          .tuple(devIdx, domIdx, fc.constantFrom(...PASID_POOL.slice(1)), slotIdx)
          .map(([v, d, p, s]) => new PresentAfterFaultProbe(o, v, d, p, s)),
      ),
    );
  // The PASID-cache story has three scopes to tell: it is drawn three times as often.
  if (o.pasids)
    probes.push(
      ...Array.from({ length: 3 }, () =>
        fc
          .tuple(
            devIdx,
            domIdx,
            fc.option(domIdx, { freq: 3 }),
            fc.constantFrom(...PASID_POOL.slice(1)),
            slotIdx,
            fc.constantFrom<PasidCacheScope>("pasid", "domain", "global", "domain"),
          )
          .map(([v, d, t, p, s, g]) => new PasidChangeProbe(o, v, d, t ?? undefined, p, s, g)),
      ),
    );
  return fc.oneof(...probes);
}
