/**
 * The reference as `iommu-conformance reach` measures with it [HARNESS-REACH-1]: the plain
 * reference model, and a probe that says whether its caches hold anything an invalidation
 * targets at the moment the invalidation is processed (the matrix's cache-state columns).
 */
import type { Model } from "../contract/types.ts";
import type { Descriptor } from "../spec/descriptor.ts";
import type { VmPlatform } from "../vmm/platform.ts";
import { createReferenceModel } from "./reference.ts";

export async function reachReference(): Promise<{
  model: Model;
  holds: (d: Descriptor) => boolean | undefined;
}> {
  let vm: VmPlatform | undefined;
  const model = await createReferenceModel({}, { platform: (v) => (vm = v) });
  const holds = (d: Descriptor): boolean | undefined => {
    if (vm === undefined) return undefined;
    const c = vm.viommu.caches.entries();
    const inRange = (iova: bigint, shift: number, addr: bigint, am: number) => {
      const size = 1n << BigInt(12 + am);
      const start = addr & ~(size - 1n);
      return iova < start + size && start < iova + (1n << BigInt(shift));
    };
    switch (d.kind) {
      case "context-cache":
        return c.context.some((e) => d.g === 1 || (d.g === 2 ? e.did === d.did : e.sid === d.sid));
      case "iotlb":
        return [...c.iotlb, ...c.psc].some(
          (e) =>
            d.g === 1 ||
            (e.did === d.did && (d.g === 2 || !("iova" in e) || inRange(e.iova, e.pageShift, d.addr, d.am))),
        );
      case "pasid-cache":
        return c.pasid.some((e) => d.g === 3 || (e.did === d.did && (d.g === 0 || e.pasid === d.pasid)));
      case "pasid-iotlb":
        return c.iotlb.some(
          (e) =>
            e.did === d.did &&
            e.pasid === d.pasid &&
            (d.g === 2 || inRange(e.iova, e.pageShift, d.addr, d.am)),
        );
      default:
        return undefined;
    }
  };
  return { model, holds };
}
