/**
 * Stage 2 for passed-through devices: the VM's guest memory (GPA → HPA) in an IOAS, and the
 * paging HWPTs (nest parents when the guest is offered first-stage translation) that devices
 * share where the host accepts them. spec/vmm.md, VMM-S2-*.
 */
import { Errno } from "../host/index.ts";
import { VmmConfigError } from "./errors.ts";
import type { RamSlot } from "./guest-memory.ts";
import type { HostIo } from "./host-io.ts";

/** What the stage-2 setup needs to know about a passed-through device. */
export interface Stage2Device {
  sid: number;
  devId: number;
  /** Bound through iommufd (may allocate HWPTs); else through the VFIO-compat container. */
  iommufd: boolean;
  /** The host IOMMU has ERRATA_772415 (from GET_HW_INFO). */
  errata: boolean;
  /** The host IOMMU has PASIDs: HWPTs are allocated PASID-capable. */
  hostPasid: boolean;
}

/** Where a device's stage 2 lives. */
export interface Stage2Binding {
  /** What to attach for "stage 2": the HWPT (iommufd) or the IOAS itself (VFIO compat, automatic HWPT). */
  ptId: number;
  /** The nest parent for nested HWPTs (iommufd devices with nesting), else undefined. */
  nestParent: number | undefined;
  ioasId: number;
}

interface Container {
  ioasId: number;
  withReadOnly: boolean;
  parents: number[];
}

export class Stage2 {
  private readonly containers: Container[] = [];

  constructor(
    private readonly io: HostIo,
    private readonly slots: readonly RamSlot[],
    /** Whether the guest is offered first-stage translation: stage 2 is then a nest parent. */
    private readonly nesting: boolean,
  ) {}

  /**
   * [VMM-S2-3] [VMM-S2-5] Attach the device's requests without PASID to a stage 2 of this VM:
   * an existing HWPT of its container that the host accepts, else a new one.
   */
  attachDevice(d: Stage2Device): Stage2Binding {
    // [VMM-S2-4] an errata IOMMU gets a container without read-only mappings (nest parents only).
    const withReadOnly = !(this.nesting && d.errata);
    const c = this.container(withReadOnly);
    if (!d.iommufd) {
      // [VMM-S2-6] VFIO-compat devices attach to the IOAS; the host picks or makes the HWPT.
      const r = this.io.attach(d.devId, undefined, c.ioasId);
      if (r.errno !== 0) throw hostError(d, "attach to the guest-memory IOAS", r.errno);
      return { ptId: c.ioasId, nestParent: undefined, ioasId: c.ioasId };
    }
    for (const parent of c.parents) {
      const r = this.io.attach(d.devId, undefined, parent);
      if (r.errno === 0)
        return { ptId: parent, nestParent: this.nesting ? parent : undefined, ioasId: c.ioasId };
      // [VMM-S2-5] EINVAL: the host refuses this HWPT for the device (coherency, width, errata): try the next.
      if (r.errno !== Errno.EINVAL) throw hostError(d, `attach to HWPT ${parent}`, r.errno);
    }
    const h = this.io.hwptAllocPaging(d.devId, c.ioasId, { nestParent: this.nesting, pasid: d.hostPasid });
    if (h.errno !== 0) throw hostError(d, "HWPT_ALLOC of a stage-2 HWPT", h.errno);
    const id = h.value as number;
    const r = this.io.attach(d.devId, undefined, id);
    if (r.errno !== 0) {
      this.io.destroy(id);
      throw hostError(d, `attach to its new HWPT ${id}`, r.errno);
    }
    c.parents.push(id);
    return { ptId: id, nestParent: this.nesting ? id : undefined, ioasId: c.ioasId };
  }

  /** [VMM-S2-2] [VMM-S2-4] The IOAS holding guest memory, with or without read-only regions. */
  private container(withReadOnly: boolean): Container {
    const found = this.containers.find((c) => c.withReadOnly === withReadOnly);
    if (found !== undefined) return found;
    const a = this.io.ioasAlloc();
    if (a.errno !== 0) throw new VmmConfigError("host", `IOAS_ALLOC failed: errno ${a.errno}`);
    const ioasId = a.value as number;
    for (const s of this.slots) {
      if (s.readOnly && !withReadOnly) continue;
      const errno = this.io.ioasMap(ioasId, BigInt(s.gpa), BigInt(s.hpa), BigInt(s.size), {
        read: true,
        write: !s.readOnly,
      });
      if (errno !== 0)
        throw new VmmConfigError(
          "host",
          `IOAS_MAP of guest region 0x${s.gpa.toString(16)} failed: errno ${errno}`,
        );
    }
    const c: Container = { ioasId, withReadOnly, parents: [] };
    this.containers.push(c);
    return c;
  }
}

function hostError(d: Stage2Device, what: string, errno: number): VmmConfigError {
  return new VmmConfigError(
    "host",
    `device 0x${d.sid.toString(16).padStart(4, "0")}: ${what} failed: errno ${errno}`,
  );
}
