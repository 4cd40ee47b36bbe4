import type { HostIommuConfig } from "../contract/types.ts";
import { Errno, fail } from "../spec/iommufd/errno.ts";
import type { NestedIotlb } from "./iotlb.ts";
import type { Stage2Tables } from "./stage2-tables.ts";

/**
 * The iommufd object table (drivers/iommu/iommufd/main.c): ids from 1 up, the lowest
 * free one first; `users` counts references from other objects and attachments, and an
 * object can be destroyed only when none remain. [HOST-UAPI-30]
 */

export interface DeviceObject {
  kind: "device";
  id: number;
  users: number;
  iommu: HostIommuConfig;
  noSnoop: boolean;
  behindBridge: boolean;
}

/** One IOVA → user VA mapping of an IOAS (an iopt area). */
export interface IoasArea {
  iova: bigint;
  length: bigint;
  userVa: bigint;
  read: boolean;
  write: boolean;
}

export interface IoasObject {
  kind: "ioas";
  id: number;
  users: number;
  /** Sorted by iova, never overlapping. */
  areas: IoasArea[];
}

export interface PagingHwpt {
  kind: "hwpt-paging";
  id: number;
  users: number;
  ioasId: number;
  /** The IOMMU of the device it was allocated for (its driver owns the domain). */
  owner: HostIommuConfig;
  /** IOMMUs it is attached through (for the snoop-control and errata checks). */
  iommus: Set<HostIommuConfig>;
  nestParent: boolean;
  pasidCompat: boolean;
  enforceCoherency: boolean;
  /** Set by the first map and never cleared (the driver's has_mappings). */
  hasMappings: boolean;
  /** Created by attaching to an IOAS directly; freed with its last attachment. */
  auto: boolean;
  tables: Stage2Tables;
}

export interface NestedHwpt {
  kind: "hwpt-nested";
  id: number;
  users: number;
  parentId: number;
  owner: HostIommuConfig;
  pasidCompat: boolean;
  s1: { flags: bigint; pgtblAddr: bigint; addrWidth: number };
  iotlb: NestedIotlb;
}

export type Hwpt = PagingHwpt | NestedHwpt;
export type HostObject = DeviceObject | IoasObject | Hwpt;

export class ObjectTable {
  private readonly objects = new Map<number, HostObject>();

  add<T extends HostObject>(make: (id: number) => T): T {
    let id = 1;
    while (this.objects.has(id)) id++;
    const obj = make(id);
    this.objects.set(id, obj);
    return obj;
  }

  /** Insert with a fixed id (devices bound before the run). */
  put(obj: HostObject): void {
    if (this.objects.has(obj.id)) throw new RangeError(`object id ${obj.id} in use`);
    this.objects.set(obj.id, obj);
  }

  get(id: number): HostObject | undefined {
    return this.objects.get(id);
  }

  remove(id: number): void {
    this.objects.delete(id);
  }

  all(): HostObject[] {
    return [...this.objects.values()].sort((a, b) => a.id - b.id);
  }

  /** iommufd_get_device: ENOENT unless a device object. */
  device(id: number): DeviceObject {
    const o = this.objects.get(id);
    if (o?.kind !== "device") return fail(Errno.ENOENT, `no device ${id}`);
    return o;
  }

  /** iommufd_get_ioas: ENOENT unless an IOAS. */
  ioas(id: number): IoasObject {
    const o = this.objects.get(id);
    if (o?.kind !== "ioas") return fail(Errno.ENOENT, `no IOAS ${id}`);
    return o;
  }

  pagingHwptsOf(ioasId: number): PagingHwpt[] {
    return this.all().filter((o): o is PagingHwpt => o.kind === "hwpt-paging" && o.ioasId === ioasId);
  }

  nestedChildrenOf(parentId: number): NestedHwpt[] {
    return this.all().filter((o): o is NestedHwpt => o.kind === "hwpt-nested" && o.parentId === parentId);
  }
}
