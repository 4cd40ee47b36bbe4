/**
 * The built-in `reference` adapter: the reference platform (vIOMMU, and for passed-through
 * devices the host IOMMU and VMM glue) behind the adapter contract. Options:
 *   context=N, pasid=N, iotlb=N, psc=N   cache capacities (0 turns a cache off); defaults in caches.ts
 *   evict=fifo|random                    which entry a full cache evicts [VTD-CACHE-13]
 *   seed=N                               the random eviction's seed (default: the run's seed)
 */

import { createRequire } from "node:module";
import type {
  DmaRequest,
  DmaResult,
  HostSurface,
  HostView,
  Model,
  ModelDescription,
  PlatformConfig,
  PlatformSurface,
} from "../contract/types.ts";
import { capabilitiesFor } from "../contract/viommu-capabilities.ts";
import { supportedAddressWidths } from "../spec/capabilities.ts";
import { type PlatformBuildHooks, VmPlatform } from "../vmm/platform.ts";
import { type CacheCapacities, DEFAULT_CAPACITIES, type EvictionChoice } from "../vtd/caches.ts";

export const REFERENCE_VERSION = "0.1.0";

/** Options that are not cache capacities. */
const EVICTION_OPTIONS = ["evict", "seed"];

function capacitiesFrom(options: Record<string, string>): CacheCapacities {
  const caps = { ...DEFAULT_CAPACITIES };
  for (const [key, value] of Object.entries(options)) {
    if (EVICTION_OPTIONS.includes(key)) continue;
    if (!(key in caps))
      throw new Error(
        `reference adapter: unknown option '${key}' (known: ${[...Object.keys(caps), ...EVICTION_OPTIONS].join(", ")})`,
      );
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`reference adapter: option ${key}=${value} is not a count`);
    caps[key as keyof CacheCapacities] = n;
  }
  return caps;
}

/**
 * [VTD-CACHE-13] The eviction choice the options ask for: undefined for FIFO, or a factory that
 * makes a fresh seeded random choice (one per platform reset, so a case replays alike).
 */
function evictionFrom(options: Record<string, string>, runSeed: number): (() => EvictionChoice) | undefined {
  const evict = options.evict ?? "fifo";
  if (evict !== "fifo" && evict !== "random")
    throw new Error(`reference adapter: option evict=${evict} is not fifo or random`);
  if (options.seed !== undefined && !/^-?\d+$/.test(options.seed))
    throw new Error(`reference adapter: option seed=${options.seed} is not an integer`);
  if (evict === "fifo") {
    if (options.seed !== undefined) throw new Error("reference adapter: option seed= needs evict=random");
    return undefined;
  }
  const seed = options.seed ?? String(runSeed);
  // Required on use: only evict=random needs seedrandom, and start-up should not load it.
  const seedrandom = createRequire(import.meta.url)("seedrandom") as typeof import("seedrandom");
  return () => {
    const random = seedrandom(seed);
    return (size) => Math.floor(random() * size);
  };
}

/** The reference platform's description: everything the suite can exercise. */
export function referenceDescription(): ModelDescription {
  return {
    name: "reference",
    version: REFERENCE_VERSION,
    supports: {
      legacy: true,
      scalable: true,
      awBits: [39, 48, 57],
      cachingMode: [false, true],
      firstStage: true,
      secondStage: true,
      nested: true,
      passThrough: true,
      pasidRequests: true,
      dmaRead: true,
      dmaWrite: true,
      passthroughDevices: true,
      hostSurface: true,
      hostView: true,
      maxDevices: 256,
    },
  };
}

/**
 * The platform surface over the current VM (src/vmm/platform.ts). One object for the model's
 * life, so wrappers that hold on to `model.platform` (the trace recorder) see every reset.
 */
class ReferencePlatform implements PlatformSurface {
  constructor(private readonly current: () => VmPlatform | undefined) {}

  private get vm(): VmPlatform {
    const v = this.current();
    if (v === undefined)
      throw new Error("reference adapter: reset(config) must be called before using the platform");
    return v;
  }

  async writeGuest(gpa: bigint, bytes: Uint8Array): Promise<void> {
    this.vm.writeGuest(gpa, bytes);
  }

  async readGuest(gpa: bigint, len: number): Promise<Uint8Array> {
    return this.vm.readGuest(gpa, len);
  }

  async writeReg(off: number, value: bigint, width: 4 | 8): Promise<void> {
    this.vm.viommu.registers.write(off, value, width);
  }

  async readReg(off: number, width: 4 | 8): Promise<bigint> {
    return this.vm.viommu.registers.read(off, width);
  }

  /** Routed by SID: emulated devices through the vIOMMU, passed-through ones through the host IOMMU. */
  async dma(req: DmaRequest): Promise<DmaResult> {
    return this.vm.dma(req);
  }

  async hostView(): Promise<HostView> {
    return this.vm.hostView();
  }
}

/** The host surface: the same host IOMMU instance the VMM uses. */
function hostSurface(current: () => VmPlatform | undefined): HostSurface {
  const vm = (): VmPlatform => {
    const v = current();
    if (v === undefined)
      throw new Error("reference adapter: reset(config) must be called before using the host");
    return v;
  };
  return {
    async ioctl(cmd, bytes, buffers) {
      return vm().host.ioctl(cmd, bytes, buffers);
    },
    async deviceIoctl(devId, cmd, bytes) {
      return vm().host.deviceIoctl(devId, cmd, bytes);
    },
    async dma(req) {
      return vm().host.dma(req);
    },
  };
}

/**
 * hooks: the mutant gallery's seam (src/adapters/mutants.ts), called with the parts of every
 * platform reset builds; the reference itself passes none.
 */
export async function createReferenceModel(
  options: Record<string, string> = {},
  hooks?: PlatformBuildHooks,
  runSeed = 0,
): Promise<Model> {
  const capacities = capacitiesFrom(options);
  const eviction = evictionFrom(options, runSeed);
  let current: VmPlatform | undefined;
  const model: Model = {
    async describe() {
      const d = referenceDescription();
      // The report's model line says which eviction ran, so a failure names it.
      return eviction === undefined ? d : { ...d, version: `${d.version} (evict=random)` };
    },
    async reset(config: PlatformConfig) {
      current = undefined;
      const widths = supportedAddressWidths(capabilitiesFor(config.viommu));
      if (!widths.includes(config.viommu.awBits)) {
        throw new Error(`reference adapter: aw-bits ${config.viommu.awBits} is not supported`);
      }
      // [VMM-COMPAT-1] .. the VMM refuses what it cannot build, with the failing check's message.
      current = new VmPlatform(config, {
        capacities,
        ...(eviction === undefined ? {} : { eviction: eviction() }),
        ...(hooks === undefined ? {} : { hooks }),
      });
    },
    platform: new ReferencePlatform(() => current),
    host: hostSurface(() => current),
    async close() {
      current = undefined;
    },
  };
  return model;
}
