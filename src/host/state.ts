import type { HostIommuConfig } from "../contract/types.ts";
import type { PhysicalMemory } from "../memory/physical-memory.ts";
import type { Hwpt, ObjectTable } from "./objects.ts";
import type { PagePool } from "./page-pool.ts";

/** PASID key of a device's RID attachment (IOMMU_NO_PASID). */
export const NO_PASID = 0;

/** Everything one iommufd context and its host IOMMUs hold; the command modules act on it. */
export interface HostState {
  readonly memory: PhysicalMemory;
  readonly pool: PagePool;
  readonly iommus: ReadonlyMap<string, HostIommuConfig>;
  readonly objects: ObjectTable;
  /** devId → (pasid, NO_PASID for the RID) → attached HWPT id. */
  readonly attachments: Map<number, Map<number, number>>;
}

export function attachedHwpt(state: HostState, devId: number, pasid: number): number | undefined {
  return state.attachments.get(devId)?.get(pasid);
}

export function hwptById(state: HostState, id: number): Hwpt | undefined {
  const o = state.objects.get(id);
  return o?.kind === "hwpt-paging" || o?.kind === "hwpt-nested" ? o : undefined;
}
