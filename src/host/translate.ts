/**
 * DMA by a host device: the attached HWPT's tables walked with the shared walkers
 * (src/paging), the same code the vIOMMU uses. spec/host-translation.md, HOST-XLATE-10..13.
 */
import {
  hi32,
  lo32,
  type PagingResult,
  type SecondStageParams,
  walkNested,
  walkSecondStage,
} from "../paging/index.ts";
import { VtdS1Flags } from "../spec/iommufd/structs.ts";
import { pagingOf } from "./attach.ts";
import type { DeviceObject, NestedHwpt, PagingHwpt } from "./objects.ts";
import { attachedHwpt, type HostState, hwptById, NO_PASID } from "./state.ts";

export interface HostDmaRequest {
  devId: number;
  pasid?: number;
  /** Supervisor (privileged) request; meaningful with a nested HWPT. */
  priv?: boolean;
  iova: bigint;
  len: number;
  write: boolean;
  data?: Uint8Array;
}

/** Why a host DMA was blocked, for diagnostics (hardware reports a fault record). */
export type HostDmaBlock =
  | { reason: "no-device" | "bad-request" | "not-attached" | "supervisor-disabled" }
  | { reason: "fault"; fault: PagingResult };

export type HostTranslation = { ok: true; hpa: number } | { ok: false; block: HostDmaBlock };

/** The second-stage walk parameters of a paging HWPT as seen through a device's IOMMU. [HOST-XLATE-10] */
export function stage2Params(dev: DeviceObject, h: PagingHwpt): SecondStageParams {
  return {
    root: h.tables.root,
    levels: h.tables.levels as 3 | 4 | 5,
    inputWidth: Math.min(dev.iommu.awBits, h.tables.inputBits),
    haw: dev.iommu.awBits,
    snoopControl: dev.iommu.snoopControl,
    largePages: { twoMiB: true, oneGiB: false },
    ssade: false,
  };
}

/** Translate one request (within one 4 KiB page) to a host physical address. */
export function translate(state: HostState, req: HostDmaRequest): HostTranslation {
  const dev = state.objects.get(req.devId);
  if (dev?.kind !== "device") return { ok: false, block: { reason: "no-device" } };
  const pasid = req.pasid ?? NO_PASID;
  const hwptId = attachedHwpt(state, dev.id, pasid);
  const h = hwptId === undefined ? undefined : hwptById(state, hwptId);
  // [HOST-XLATE-11] an unattached device or PASID blocks DMA.
  if (h === undefined) return { ok: false, block: { reason: "not-attached" } };
  if (h.kind === "hwpt-paging") {
    const r = walkSecondStage(state.memory, stage2Params(dev, h), hi32(req.iova), lo32(req.iova), req.write);
    return r.ok ? { ok: true, hpa: r.addr } : { ok: false, block: { reason: "fault", fault: r } };
  }
  return translateNested(state, dev, h, pasid, req);
}

/** [HOST-XLATE-12] Guest stage 1 through the parent's stage 2, with the host IOTLB in front. */
function translateNested(
  state: HostState,
  dev: DeviceObject,
  h: NestedHwpt,
  pasid: number,
  req: HostDmaRequest,
): HostTranslation {
  const priv = req.priv ?? false;
  const sre = (h.s1.flags & VtdS1Flags.SRE) !== 0n;
  if (priv && !sre) return { ok: false, block: { reason: "supervisor-disabled" } };
  const offset = Number(req.iova & 0xfffn);
  // [HOST-HWPT-20] a cached translation is used without walking, as long as it permits the access.
  const hit = h.iotlb.lookup(pasid, priv, req.iova);
  if (hit !== undefined && (req.write ? hit.write && hit.dirty : hit.read))
    return { ok: true, hpa: hit.hpa + offset };
  const s2 = stage2Params(dev, pagingOf(state, h));
  const wpe = (h.s1.flags & VtdS1Flags.WPE) !== 0n;
  const r = walkNested(
    state.memory,
    {
      fs: {
        root: Number(h.s1.pgtblAddr & ~0xfffn),
        levels: h.s1.addrWidth === 57 ? 5 : 4,
        haw: dev.iommu.awBits,
        fs1gp: dev.iommu.fs1gp,
        wpe,
        eafe: (h.s1.flags & VtdS1Flags.EAFE) !== 0n,
      },
      stage2: (gpa, write) => walkSecondStage(state.memory, s2, hi32(BigInt(gpa)), lo32(BigInt(gpa)), write),
      gpaWidth: s2.inputWidth,
      ssade: false,
    },
    hi32(req.iova),
    lo32(req.iova),
    req.write,
    priv,
  );
  if (!r.ok) return { ok: false, block: { reason: "fault", fault: r } };
  const page = r.addr - offset;
  const perms = {
    read: r.ssR && (priv || r.fsU),
    write: r.ssW && (priv ? !wpe || r.fsW : r.fsU && r.fsW),
  };
  h.iotlb.fill(pasid, priv, req.iova, { hpa: page, ...perms, dirty: r.dirty });
  return { ok: true, hpa: r.addr };
}
