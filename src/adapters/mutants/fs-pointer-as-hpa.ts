/**
 * Bug: the host's nested walk uses the guest's first-stage pointers as host physical addresses:
 * FSPTPTR and every table pointer below it are read from host memory as they are, without the
 * stage-2 walk; only the final output address goes through stage 2. A passed-through device
 * bound to a guest first stage then reads its tables from the wrong host pages.
 * Breaks [HOST-XLATE-12] (guest stage 1 through the parent's stage 2) and [VTD-NEST-2].
 */

import type { DmaResult } from "../../contract/types.ts";
import { pagingOf } from "../../host/attach.ts";
import type { HostDmaRequest, HostIommufd } from "../../host/index.ts";
import { VtdS1Flags } from "../../host/index.ts";
import { attachedHwpt, hwptById, NO_PASID } from "../../host/state.ts";
import { stage2Params } from "../../host/translate.ts";
import { hi32, lo32, type PagingResult, walkNested, walkSecondStage } from "../../paging/index.ts";
import type { Mutant } from "./types.ts";

/** A "second stage" that leaves every address as it is. */
function identity(gpa: number): PagingResult {
  return {
    ok: true,
    base: gpa - (gpa % 4096),
    pageShift: 12,
    addr: gpa,
    fsW: true,
    fsU: true,
    ssR: true,
    ssW: true,
    dirty: true,
  };
}

/** The buggy nested translation, or undefined when the request is not through a nested HWPT. */
function buggyNested(host: HostIommufd, req: HostDmaRequest): { hpa?: number } | undefined {
  const state = host.state;
  const dev = state.objects.get(req.devId);
  if (dev?.kind !== "device") return undefined;
  const pasid = req.pasid ?? NO_PASID;
  const id = attachedHwpt(state, dev.id, pasid);
  const h = id === undefined ? undefined : hwptById(state, id);
  if (h?.kind !== "hwpt-nested") return undefined;
  const priv = req.priv ?? false;
  if (priv && (h.s1.flags & VtdS1Flags.SRE) === 0n) return {};
  const s2 = stage2Params(dev, pagingOf(state, h));
  const fs = walkNested(
    state.memory,
    {
      fs: {
        root: Number(h.s1.pgtblAddr & ~0xfffn),
        levels: h.s1.addrWidth === 57 ? 5 : 4,
        haw: dev.iommu.awBits,
        fs1gp: dev.iommu.fs1gp,
        wpe: (h.s1.flags & VtdS1Flags.WPE) !== 0n,
        eafe: (h.s1.flags & VtdS1Flags.EAFE) !== 0n,
      },
      stage2: identity,
      gpaWidth: 64,
      ssade: false,
    },
    hi32(req.iova),
    lo32(req.iova),
    req.write,
    priv,
  );
  if (!fs.ok) return {};
  const out = walkSecondStage(state.memory, s2, hi32(BigInt(fs.addr)), lo32(BigInt(fs.addr)), req.write);
  return out.ok ? { hpa: out.addr } : {};
}

export const fsPointerAsHpa: Mutant = {
  id: "fs-pointer-as-hpa",
  title: "host nested walk uses first-stage table pointers as host addresses (no stage-2 walk)",
  layer: "host",
  rules: ["HOST-XLATE-12", "VTD-NEST-2"],
  hooks: {
    host(host) {
      const dma = host.dma.bind(host);
      host.dma = (req): DmaResult => {
        const offset = Number(req.iova & 0xfffn);
        if (req.len < 0 || offset + req.len > 4096 || (req.write && (req.data?.length ?? -1) !== req.len))
          return dma(req);
        const t = buggyNested(host, req);
        if (t === undefined) return dma(req);
        const mem = host.state.memory;
        if (t.hpa === undefined || !mem.contains(t.hpa, req.len)) return { status: "aborted" };
        if (req.write) {
          mem.write(t.hpa, req.data as Uint8Array);
          return { status: "ok" };
        }
        return { status: "ok", data: mem.read(t.hpa, req.len) };
      };
    },
  },
};
