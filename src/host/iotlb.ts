/**
 * The host IOMMU's IOTLB for nested HWPTs: translations of the guest stage-1 composed
 * with the parent's stage-2, tagged by PASID (the RID's requests use PASID 0, the host's
 * RID_PASID) and privilege, one 4 KiB page per entry. Hardware keeps them until an
 * invalidation: only HWPT_INVALIDATE, a stage-2 change of the parent, and detach,
 * replace or destroy drop them, so a VMM that does not forward a guest invalidation is
 * observable. [HOST-HWPT-20]
 */
export interface IotlbEntry {
  /** Host physical page base. */
  hpa: number;
  read: boolean;
  write: boolean;
  /** The leaf's D flag was set: a write hit needs no walk to set it. */
  dirty: boolean;
}

const PAGE_MASK = ~0xfffn;

export class NestedIotlb {
  private readonly entries = new Map<string, IotlbEntry>();

  lookup(pasid: number, priv: boolean, iova: bigint): IotlbEntry | undefined {
    return this.entries.get(key(pasid, priv, iova));
  }

  fill(pasid: number, priv: boolean, iova: bigint, entry: IotlbEntry): void {
    this.entries.set(key(pasid, priv, iova), entry);
  }

  /** [HOST-HWPT-21] Drop entries whose page lies in [addr, addr + npages × 4 KiB), any PASID. */
  invalidateRange(addr: bigint, npages: bigint): void {
    const first = addr & PAGE_MASK;
    const end = first + npages * 4096n;
    for (const k of [...this.entries.keys()]) {
      const page = BigInt(k.slice(k.lastIndexOf(":") + 1));
      if (page >= first && page < end) this.entries.delete(k);
    }
  }

  flushAll(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

function key(pasid: number, priv: boolean, iova: bigint): string {
  return `${pasid}:${priv ? 1 : 0}:${iova & PAGE_MASK}`;
}
