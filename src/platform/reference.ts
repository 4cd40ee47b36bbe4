/**
 * The built-in `reference` adapter: the reference platform (vIOMMU, and for passed-through
 * devices the host IOMMU and VMM glue) behind the adapter contract. Options:
 *   context=N, pasid=N, iotlb=N   cache capacities (0 turns a cache off); defaults in caches.ts
 */
import { SparseMemory } from "../memory/sparse-memory.ts";
import { type CacheCapacities, DEFAULT_CAPACITIES } from "../vtd/caches.ts";
import { capabilitiesFor, supportedAddressWidths } from "../vtd/capabilities.ts";
import { VIommu } from "../vtd/viommu.ts";
import type {
  DmaRequest,
  DmaResult,
  Model,
  ModelDescription,
  PlatformConfig,
  PlatformSurface,
} from "./types.ts";

export const REFERENCE_VERSION = "0.1.0";

function capacitiesFrom(options: Record<string, string>): CacheCapacities {
  const caps = { ...DEFAULT_CAPACITIES };
  for (const [key, value] of Object.entries(options)) {
    if (!(key in caps))
      throw new Error(`reference adapter: unknown option '${key}' (known: context, pasid, iotlb)`);
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`reference adapter: option ${key}=${value} is not a count`);
    caps[key as keyof CacheCapacities] = n;
  }
  return caps;
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
      passthroughDevices: false,
      hostSurface: false,
      hostView: false,
      maxDevices: 256,
    },
  };
}

class ReferencePlatform implements PlatformSurface {
  constructor(
    private readonly mem: SparseMemory,
    private readonly viommu: VIommu,
  ) {}

  private checkRange(gpa: bigint, len: number): number {
    if (gpa < 0n || BigInt(len) < 0n || gpa + BigInt(len) > BigInt(this.mem.size)) {
      throw new RangeError(`guest range 0x${gpa.toString(16)}+${len} is outside guest memory`);
    }
    return Number(gpa);
  }

  async writeGuest(gpa: bigint, bytes: Uint8Array): Promise<void> {
    this.mem.write(this.checkRange(gpa, bytes.length), bytes);
  }

  async readGuest(gpa: bigint, len: number): Promise<Uint8Array> {
    return this.mem.read(this.checkRange(gpa, len), len);
  }

  async writeReg(off: number, value: bigint, width: 4 | 8): Promise<void> {
    this.viommu.registers.write(off, value, width);
  }

  async readReg(off: number, width: 4 | 8): Promise<bigint> {
    return this.viommu.registers.read(off, width);
  }

  async dma(req: DmaRequest): Promise<DmaResult> {
    return this.viommu.dma(req);
  }
}

/** A platform surface that fails every call until reset() builds a platform. */
const unset: PlatformSurface = {
  writeGuest: notReset,
  readGuest: notReset,
  writeReg: notReset,
  readReg: notReset,
  dma: notReset,
};

async function notReset(): Promise<never> {
  throw new Error("reference adapter: reset(config) must be called before using the platform");
}

export async function createReferenceModel(options: Record<string, string> = {}): Promise<Model> {
  const capacities = capacitiesFrom(options);
  const model: Model = {
    async describe() {
      return referenceDescription();
    },
    async reset(config: PlatformConfig) {
      const passthrough = config.devices.filter((d) => d.kind === "passthrough");
      if (passthrough.length > 0) {
        throw new Error("reference adapter: passed-through devices need the VMM glue, not built yet");
      }
      const widths = supportedAddressWidths(capabilitiesFor(config.viommu));
      if (!widths.includes(config.viommu.awBits)) {
        throw new Error(`reference adapter: aw-bits ${config.viommu.awBits} is not supported`);
      }
      if (config.memory.size > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("guest memory too large");
      const mem = new SparseMemory(Number(config.memory.size));
      model.platform = new ReferencePlatform(mem, new VIommu(config.viommu, mem, { capacities }));
    },
    platform: unset,
    async close() {
      model.platform = unset;
    },
  };
  return model;
}
