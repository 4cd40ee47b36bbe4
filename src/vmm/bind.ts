/**
 * Bind propagation: the host attachments of each passed-through device follow the guest's
 * remapping structures, re-read on the guest actions that tell the vIOMMU to re-read them
 * (PASID-cache and context-cache invalidations, SRTP, TE), and the guest's IOTLB invalidations
 * are forwarded to the host. spec/vmm.md, VMM-BIND-*, VMM-INV-*, VMM-SHADOW-*.
 */

import type { TranslationMode } from "../contract/types.ts";
import { VtdS1Flags } from "../host/index.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import { FULL_FLUSH, nestedFlush, shadowCovered } from "./forward.ts";
import type { GuestState, GuestTables, Want } from "./guest-entries.ts";
import type { GuestMemoryView } from "./guest-memory.ts";
import type { HostIo } from "./host-io.ts";
import { type ShadowCaps, ShadowDomain, shadowMappings } from "./shadow.ts";
import type { Stage2Binding } from "./stage2.ts";

/** Slot key of the device's requests without PASID (the host's RID attachment). */
export const RID = -1;

/** A passed-through device as the binder tracks it. */
export interface BoundDevice {
  sid: number;
  devId: number;
  stage2: Stage2Binding;
  /** HWPTs allocated PASID-capable (the host IOMMU has PASIDs). */
  hostPasid: boolean;
  /** Current host state per slot (RID or PASID); absent = detached (blocked). */
  slots: Map<number, Bound>;
}

interface Bound {
  want: Want;
  /** The nested HWPT this slot owns. */
  nested?: number;
  shadow?: ShadowDomain;
}

type Filter = (old: Want | undefined, now: Want) => boolean;

export class Binder {
  /** Host calls that failed, newest last (diagnostics). */
  readonly problems: string[] = [];

  constructor(
    private readonly devices: readonly BoundDevice[],
    private readonly tables: GuestTables,
    private readonly io: HostIo,
    private readonly mem: GuestMemoryView,
    private readonly shadowCaps: ShadowCaps,
    private readonly state: () => GuestState,
  ) {
    for (const d of devices) d.slots.set(RID, { want: { kind: "stage2" } });
  }

  /** [VMM-BIND-7] SRTP, TE and global invalidations: every slot re-validated against guest memory. */
  revalidateAll(): void {
    for (const d of this.devices) this.revalidateDevice(d, () => true);
  }

  /** The vIOMMU processed an invalidation; follow it on the host. */
  onInvalidate(scope: InvalidationScope, mode: TranslationMode): void {
    switch (scope.kind) {
      case "pasid-cache":
        if (scope.granularity === "global") this.revalidateAll();
        else if (scope.granularity === "domain") this.revalidateMatching(didMatch(scope.did));
        else this.revalidatePasid(scope.did, scope.pasid);
        return;
      case "context":
        this.onContext(scope, mode);
        return;
      case "iotlb":
      case "pasid-iotlb":
        this.forward(scope, mode);
        return;
      default:
        return;
    }
  }

  /**
   * [VMM-BIND-8] Context-cache invalidations: global (and, in scalable mode, domain-selective,
   * processed as global) re-validate everything; domain-selective in legacy mode the slots of
   * that DID; device-selective every slot of the devices its SID and FM cover.
   */
  private onContext(scope: Extract<InvalidationScope, { kind: "context" }>, mode: TranslationMode): void {
    if (scope.granularity === "global" || (scope.granularity === "domain" && mode === "scalable")) {
      this.revalidateAll();
    } else if (scope.granularity === "domain") {
      this.revalidateMatching(didMatch(scope.did));
    } else {
      const keep = 0xffff & ~([0, 4, 6, 7][scope.fm & 3] as number);
      for (const d of this.devices)
        if ((d.sid & keep) === (scope.sid & keep)) this.revalidateDevice(d, () => true);
    }
  }

  /** [VMM-BIND-9] Domain-selective: only slots whose old or new DID matches. */
  private revalidateMatching(filter: Filter): void {
    for (const d of this.devices) this.revalidateDevice(d, filter);
  }

  /**
   * [VMM-BIND-10] PASID-selective within a domain: each device's slot for that PASID (and its
   * RID slot when RID_PASID is that PASID), only when the old or new entry has that DID.
   * A device whose entry is absent and was not bound is left alone.
   */
  private revalidatePasid(did: number, pasid: number): void {
    const s = this.state();
    const filter: Filter = (old, now) =>
      (old?.pasid === pasid && old.did === did) || (now.pasid === pasid && now.did === did);
    for (const d of this.devices) {
      this.apply(d, RID, this.tables.wantRid(d.sid, s), filter);
      this.apply(d, pasid, this.tables.wantPasid(d.sid, pasid, s), filter);
    }
  }

  private revalidateDevice(d: BoundDevice, filter: Filter): void {
    const s = this.state();
    this.apply(d, RID, this.tables.wantRid(d.sid, s), filter);
    const keys = new Set<number>();
    for (const [k, b] of d.slots) if (k !== RID && b.want.kind !== "blocked") keys.add(k);
    for (const p of this.tables.presentPasids(d.sid, s)) keys.add(p);
    for (const p of [...keys].sort((a, b) => a - b))
      this.apply(d, p, this.tables.wantPasid(d.sid, p, s), filter);
  }

  /** Make the host slot match `now` if the filter selects it: attach, replace or detach. */
  private apply(d: BoundDevice, key: number, now: Want, filter: Filter): void {
    const cur = d.slots.get(key);
    if (!filter(cur?.want, now)) return;
    if (cur !== undefined && sameHostState(cur.want, now)) {
      cur.want = now; // [VMM-BIND-11] unchanged for the host: nothing to do (DID/PASID kept current)
      return;
    }
    const pasid = key === RID ? undefined : key;
    let next: Bound | undefined;
    if (now.kind === "stage2") next = this.attachStage2(d, pasid, now);
    else if (now.kind === "nested") next = this.attachNested(d, pasid, now);
    else if (now.kind === "shadow") next = this.attachShadow(d, pasid, now);
    if (next === undefined) {
      // [VMM-BIND-12] blocked (or the host refused): detach, so the device's DMA is blocked.
      if (cur !== undefined && cur.want.kind !== "blocked")
        this.check(this.io.detach(d.devId, pasid), d, "detach", key);
      next = { want: now.kind === "blocked" ? now : { kind: "blocked", did: now.did, pasid: now.pasid } };
    }
    if (cur !== undefined) this.release(cur, next);
    // A blocked PASID slot is remembered only while its entry has a DID (for later matching).
    if (key !== RID && next.want.kind === "blocked" && next.want.did === undefined) d.slots.delete(key);
    else d.slots.set(key, next);
  }

  private attachStage2(d: BoundDevice, pasid: number | undefined, now: Want): Bound | undefined {
    const r = this.io.attach(d.devId, pasid, d.stage2.ptId);
    return this.check(r.errno, d, "attach stage 2", pasid) ? { want: now } : undefined;
  }

  /** [VMM-BIND-3] HWPT_ALLOC nested VTD_S1 with the guest's FSPTPTR, then attach (replacing). */
  private attachNested(
    d: BoundDevice,
    pasid: number | undefined,
    now: Extract<Want, { kind: "nested" }>,
  ): Bound | undefined {
    if (d.stage2.nestParent === undefined) {
      this.problems.push(`device 0x${d.sid.toString(16)}: no nest parent for a first-stage entry`);
      return undefined;
    }
    const flags =
      (now.sre ? VtdS1Flags.SRE : 0n) | (now.eafe ? VtdS1Flags.EAFE : 0n) | (now.wpe ? VtdS1Flags.WPE : 0n);
    const h = this.io.hwptAllocNested(
      d.devId,
      d.stage2.nestParent,
      { flags, pgtblAddr: BigInt(now.fsptptr), addrWidth: now.addrWidth },
      d.hostPasid,
    );
    if (!this.check(h.errno, d, "HWPT_ALLOC nested", pasid)) return undefined;
    const id = h.value as number;
    const r = this.io.attach(d.devId, pasid, id);
    if (!this.check(r.errno, d, `attach nested HWPT ${id}`, pasid)) {
      this.io.destroy(id);
      return undefined;
    }
    return { want: now, nested: id };
  }

  /** [VMM-SHADOW-2] A shadow domain of the guest's second stage, attached (replacing). */
  private attachShadow(
    d: BoundDevice,
    pasid: number | undefined,
    now: Extract<Want, { kind: "shadow" }>,
  ): Bound | undefined {
    const dom = ShadowDomain.create(this.io, d.devId, d.hostPasid);
    if (typeof dom === "number") {
      this.check(dom, d, "shadow domain allocation", pasid);
      return undefined;
    }
    if (
      !this.fillShadow(d, dom, now) ||
      !this.check(this.io.attach(d.devId, pasid, dom.hwptId).errno, d, "attach shadow", pasid)
    ) {
      dom.destroy();
      return undefined;
    }
    return { want: now, shadow: dom };
  }

  private fillShadow(d: BoundDevice, dom: ShadowDomain, w: Extract<Want, { kind: "shadow" }>): boolean {
    const m = shadowMappings(this.mem, w, this.shadowCaps);
    if (!m.ok) {
      this.problems.push(`device 0x${d.sid.toString(16)}: cannot shadow: ${m.reason}`);
      return false;
    }
    return this.check(dom.rebuild(m.mappings), d, "shadow IOAS_MAP", undefined);
  }

  /** Free what the old binding owned and the new one does not. */
  private release(old: Bound, next: Bound): void {
    if (old.nested !== undefined && old.nested !== next.nested) this.io.destroy(old.nested);
    if (old.shadow !== undefined && old.shadow !== next.shadow) old.shadow.destroy();
  }

  /**
   * [VMM-INV-1] [VMM-INV-2] [VMM-INV-3] Forward IOTLB and PASID-IOTLB invalidations to nested
   * HWPTs; [VMM-SHADOW-5] rebuild covered shadow domains.
   */
  private forward(scope: InvalidationScope, mode: TranslationMode): void {
    for (const d of this.devices) {
      for (const [key, b] of [...d.slots]) {
        const flush = b.nested === undefined ? undefined : nestedFlush(scope, mode, b.want);
        if (flush !== undefined && b.nested !== undefined) {
          const errno = this.io.hwptInvalidate(b.nested, flush);
          // [VMM-INV-4] a failed forward must not leave stale translations: rebind, which flushes.
          if (errno !== 0) {
            this.problems.push(
              `device 0x${d.sid.toString(16)}: HWPT_INVALIDATE failed (errno ${errno}); rebinding`,
            );
            const now = b.want;
            d.slots.delete(key);
            this.io.detach(d.devId, key === RID ? undefined : key);
            this.io.destroy(b.nested);
            this.apply(d, key, now, () => true);
          }
        }
        if (b.shadow !== undefined && shadowCovered(scope, mode, b.want) && b.want.kind === "shadow") {
          if (!this.fillShadow(d, b.shadow, b.want))
            this.apply(d, key, { kind: "blocked", did: b.want.did, pasid: b.want.pasid }, () => true);
        }
      }
    }
  }

  private check(errno: number, d: BoundDevice, what: string, pasid: number | undefined): boolean {
    if (errno === 0) return true;
    const slot = pasid === undefined || pasid === RID ? "RID" : `PASID ${pasid}`;
    this.problems.push(`device 0x${d.sid.toString(16)} ${slot}: ${what} failed (errno ${errno})`);
    return false;
  }
}

const didMatch =
  (did: number): Filter =>
  (old, now) =>
    old?.did === did || now.did === did;

/**
 * [VMM-BIND-11] Two wants give the same host state: stage 2 for stage 2 (DID irrelevant: the
 * host caches nothing for it); nested or shadow only with every field equal (a new DID means
 * the guest's old cached translations are gone, so the host's must go too).
 */
function sameHostState(a: Want, b: Want): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "stage2" || a.kind === "blocked") return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

export { FULL_FLUSH };
