/**
 * ioas-mappings: IOAS_MAP and IOAS_UNMAP sequences on one IOAS whose paging HWPT a host device
 * is attached to, judged against an interval model of the IOAS built here from the HOST-UAPI rules
 * (not from any model's code): each call's errno in the rules' order, the IOVA or length written
 * back, allocated IOVAs at the lowest aligned free place, EEXIST on overlap, unmaps of whole
 * mappings only (stopping at the first one split, keeping what went before), apertures of every
 * HWPT of the IOAS, a second HWPT refused while a mapping lies beyond its aperture. After each
 * step a host DMA must reach exactly the page the model maps there with the mapping's rights,
 * and be blocked where nothing is mapped, so the HWPT's tables follow the IOAS.
 */
import fc from "fast-check";
import {
  HIGH_IOVA_BASE,
  type IoasMapOp,
  type IoasOp,
  type IoasUnmapOp,
  ioasOpsArb,
} from "../src/arbitraries/host-ioas.ts";
import { hostSetupArb } from "../src/arbitraries/host-vm.ts";
import { failCase } from "../src/cases/case-failed.ts";
import { HostClient, hostProblem, U64_MAX, USER_BASE, withoutDeviceFiles } from "../src/cases/host-client.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases, type VmmCase } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import { hostStage2Levels } from "../src/contract/host-iommu.ts";
import { decodeFingerprint, fingerprintPage, fingerprintWord } from "../src/oracle/index.ts";
import { Errno, errnoName, IOMMU_IOAS_MAP, IoasMapFlags, ioasMapCodec } from "../src/spec/iommufd/index.ts";

const PAGE = 0x1000n;
const GIB = 1n << 30n;
/** Guest RAM of host VMs (src/arbitraries/host-vm.ts): user memory beyond it is the table pool. */
const VM_RAM = 16n << 20n;

interface Area {
  iova: bigint;
  length: bigint;
  userVa: bigint;
  read: boolean;
  write: boolean;
}

/** The IOAS as the rules describe it: areas in IOVA order, and the apertures of its HWPTs. */
class IoasModel {
  areas: Area[] = [];
  apertures: bigint[] = [];

  private sort(): void {
    this.areas.sort((a, b) => (a.iova < b.iova ? -1 : a.iova > b.iova ? 1 : 0));
  }

  meeting(iova: bigint, length: bigint): Area[] {
    return this.areas.filter((a) => a.iova < iova + length && iova < a.iova + a.length);
  }

  at(iova: bigint): Area | undefined {
    return this.areas.find((a) => iova >= a.iova && iova < a.iova + a.length);
  }

  /** [HOST-UAPI-47] The lowest free IOVA aligned as the rule says, below every aperture; undefined: ENOSPC. */
  allocate(length: bigint, userVa: bigint): bigint | undefined {
    let align = PAGE;
    while (align < length && align < GIB) align *= 2n;
    while (userVa !== 0n && userVa % align !== 0n) align /= 2n;
    let limit = 1n << 64n;
    for (const a of this.apertures) if (a < limit) limit = a;
    // Gaps between areas, in order; the first aligned start that fits wins.
    let from = 0n;
    for (const a of [...this.areas, { iova: limit, length: 0n }]) {
      const start = ((from + align - 1n) / align) * align;
      if (start + length <= a.iova && start + length <= limit) return start;
      if (a.iova + a.length > from) from = a.iova + a.length;
    }
    return undefined;
  }

  /** [HOST-UAPI-41] .. [HOST-UAPI-44] [HOST-UAPI-47] [HOST-XLATE-5] IOAS_MAP: the errno and the IOVA. */
  map(m: Area & { fixed: boolean; flaw: IoasMapOp["flaw"] }): { errno: number; iova?: bigint } {
    if (m.flaw === "unknown-flag" || m.flaw === "reserved") return { errno: Errno.EOPNOTSUPP };
    if (m.fixed && m.iova >= U64_MAX) return { errno: Errno.EOVERFLOW };
    if (!m.read && !m.write) return { errno: Errno.EINVAL };
    if (m.length === 0n || m.length % PAGE !== 0n || m.userVa % PAGE !== 0n) return { errno: Errno.EINVAL };
    if (m.fixed && m.iova % PAGE !== 0n) return { errno: Errno.EINVAL };
    if (m.userVa < USER_BASE || m.userVa + m.length > USER_BASE + VM_RAM) return { errno: Errno.EFAULT };
    const iova = m.fixed ? m.iova : this.allocate(m.length, m.userVa);
    if (iova === undefined) return { errno: Errno.ENOSPC };
    if (m.fixed && this.meeting(iova, m.length).length > 0) return { errno: Errno.EEXIST };
    if (this.apertures.some((a) => iova + m.length > a)) return { errno: Errno.EINVAL };
    this.areas.push({ iova, length: m.length, userVa: m.userVa, read: m.read, write: m.write });
    this.sort();
    return { errno: 0, iova };
  }

  /** [HOST-UAPI-45] [HOST-UAPI-46] IOAS_UNMAP: the errno and the bytes unmapped. */
  unmap(iova: bigint, length: bigint): { errno: number; length?: bigint } {
    if (iova === 0n && length === U64_MAX) {
      const n = this.areas.reduce((s, a) => s + a.length, 0n);
      this.areas = [];
      return { errno: 0, length: n };
    }
    if (iova >= U64_MAX || length >= U64_MAX) return { errno: Errno.EOVERFLOW };
    if (length === 0n) return { errno: Errno.EINVAL };
    let n = 0n;
    for (const a of this.meeting(iova, length)) {
      if (a.iova < iova || a.iova + a.length > iova + length) return { errno: Errno.ENOENT };
      this.areas.splice(this.areas.indexOf(a), 1);
      n += a.length;
    }
    return n === 0n ? { errno: Errno.ENOENT } : { errno: 0, length: n };
  }
}

/** The raw IOAS_MAP of an op: flags, addresses and lengths with the op's flaw. */
function mapFields(o: IoasMapOp): Area & { fixed: boolean; flags: number; reserved: number } {
  const base = o.high ? HIGH_IOVA_BASE : 0n;
  let iova = base + BigInt(o.iovaPage) * PAGE;
  let length = BigInt(o.pages) * PAGE;
  let userVa = USER_BASE + BigInt(o.gpaPage) * PAGE;
  let flags =
    (o.fixed ? IoasMapFlags.FIXED_IOVA : 0) |
    (o.read ? IoasMapFlags.READABLE : 0) |
    (o.write ? IoasMapFlags.WRITEABLE : 0);
  let reserved = 0;
  switch (o.flaw) {
    case "no-permission":
      flags &= ~(IoasMapFlags.READABLE | IoasMapFlags.WRITEABLE);
      break;
    case "unknown-flag":
      flags |= 1 << 3;
      break;
    case "reserved":
      reserved = 1;
      break;
    case "zero-length":
      length = 0n;
      break;
    case "unaligned-length":
      length += 0x800n;
      break;
    case "unaligned-va":
      userVa += 0x10n;
      break;
    case "unaligned-iova":
      iova += 0x200n;
      break;
    case "outside-memory":
      userVa = 1n << 40n;
      break;
    case "table-pool":
      userVa = USER_BASE + VM_RAM;
      break;
    case "iova-max":
      flags |= IoasMapFlags.FIXED_IOVA;
      iova = U64_MAX;
      break;
    case "none":
      break;
  }
  return {
    iova,
    length,
    userVa,
    read: (flags & IoasMapFlags.READABLE) !== 0,
    write: (flags & IoasMapFlags.WRITEABLE) !== 0,
    fixed: (flags & IoasMapFlags.FIXED_IOVA) !== 0,
    flags,
    reserved,
  };
}

/** The IOAS_UNMAP range of an op over the model's current areas. */
function unmapRange(o: IoasUnmapOp, model: IoasModel): { iova: bigint; length: bigint } {
  switch (o.kind) {
    case "all":
      return { iova: 0n, length: U64_MAX };
    case "zero-length":
      return { iova: PAGE, length: 0n };
    case "length-max":
      return { iova: PAGE, length: U64_MAX };
    case "range":
      return {
        iova: (o.high ? HIGH_IOVA_BASE : 0n) + BigInt(o.iovaPage) * PAGE,
        length: BigInt(o.pages) * PAGE,
      };
  }
  const a = model.areas.length === 0 ? undefined : model.areas[o.area % model.areas.length];
  if (a === undefined) return { iova: 0x7000_0000n, length: PAGE };
  switch (o.kind) {
    case "exact":
      return { iova: a.iova, length: a.length };
    case "cover":
      return { iova: a.iova >= PAGE ? a.iova - PAGE : a.iova, length: a.length + 2n * PAGE };
    case "inside":
      return { iova: a.iova + (a.length > PAGE ? PAGE : 0n), length: PAGE };
    case "straddle":
      return { iova: a.iova + a.length - PAGE, length: 3n * PAGE };
  }
}

export const ioasMappings: PropertyDefinition = {
  id: "ioas-mappings",
  title:
    "IOAS_MAP and IOAS_UNMAP follow the rules (errno, write-back, allocation, whole mappings only) and DMA through the IOAS's HWPT reaches exactly what is mapped",
  rules: [
    "HOST-UAPI-41",
    "HOST-UAPI-42",
    "HOST-UAPI-43",
    "HOST-UAPI-44",
    "HOST-UAPI-45",
    "HOST-UAPI-46",
    "HOST-UAPI-47",
    "HOST-XLATE-1",
    "HOST-XLATE-4",
    "HOST-XLATE-5",
    "HOST-XLATE-10",
    "HOST-HWPT-2",
  ],
  needs: (d) => hostProblem(d),
  run(ctx) {
    const skip = withoutDeviceFiles(ctx);
    if (skip !== undefined) return skip;
    const input = fc.record({ setup: hostSetupArb(), ops: ioasOpsArb() });
    return runVmmCases(ctx, input, async (vc, v) => {
      await vc.model.reset(v.setup.config);
      const host = new HostClient(vc.model.host as NonNullable<typeof vc.model.host>);
      const iommuOf = (dev: number) => v.setup.iommus.find((i) => i.id === v.setup.hosts[dev]?.iommu);
      const aperture = (dev: number) => 1n << BigInt(12 + 9 * hostStage2Levels(iommuOf(dev)?.awBits ?? 39));
      const model = new IoasModel();
      const ioas = (await host.ioasAlloc()).value as number;
      const h1 = await host.hwptAllocPaging(1, ioas);
      const at = await host.attach(1, undefined, h1.value as number);
      if (h1.errno !== 0 || at.errno !== 0)
        failCase(`setup: HWPT_ALLOC ${errnoName(h1.errno)}, attach ${errnoName(at.errno)}`, {
          step: vc.check(),
        });
      model.apertures.push(aperture(0));
      const tags = new Map<bigint, number>();
      let second = false;
      for (const o of v.ops)
        await step(vc, host, model, ioas, o, tags, () => {
          if (second) return undefined;
          second = true;
          return aperture(1);
        });
    });
  },
  judge: (trace) => vmmJudge(trace),
};

async function step(
  vc: VmmCase,
  host: HostClient,
  model: IoasModel,
  ioas: number,
  o: IoasOp,
  tags: Map<bigint, number>,
  secondAperture: () => bigint | undefined,
): Promise<void> {
  const expectErrno = (what: string, got: number, want: number, step: number) => {
    if (got !== want)
      failCase(`${what}: ${errnoName(got)}, the rules give ${errnoName(want)}`, {
        step,
        observed: errnoName(got),
        permitted: errnoName(want),
      });
  };
  switch (o.op) {
    case "map": {
      const f = mapFields(o);
      vc.note(
        `IOAS_MAP ${f.fixed ? `at 0x${f.iova.toString(16)}` : "(allocated)"} 0x${f.length.toString(16)} bytes of user 0x${f.userVa.toString(16)} ${f.read ? "R" : ""}${f.write ? "W" : ""}${o.flaw === "none" ? "" : ` (${o.flaw})`}`,
      );
      const raw = await host.host.ioctl(
        IOMMU_IOAS_MAP,
        ioasMapCodec.encode({
          flags: f.flags,
          ioas_id: ioas,
          __reserved: f.reserved,
          user_va: f.userVa,
          length: f.length,
          iova: f.iova,
        }),
      );
      const s = vc.check();
      const want = model.map({ ...f, flaw: o.flaw });
      expectErrno("IOAS_MAP", raw.errno, want.errno, s);
      const iova = ioasMapCodec.decode(raw.bytes).iova;
      if (want.errno === 0 && iova !== want.iova)
        failCase(
          `IOAS_MAP placed the mapping at 0x${iova.toString(16)}, the rules at 0x${want.iova?.toString(16)}`,
          {
            step: s,
            observed: `0x${iova.toString(16)}`,
            permitted: `0x${want.iova?.toString(16)}`,
          },
        );
      return;
    }
    case "unmap": {
      const r = unmapRange(o, model);
      vc.note(`IOAS_UNMAP 0x${r.iova.toString(16)} + 0x${r.length.toString(16)} (${o.kind})`);
      const got = await host.ioasUnmap(ioas, r.iova, r.length);
      const s = vc.check();
      const want = model.unmap(r.iova, r.length);
      expectErrno("IOAS_UNMAP", got.errno, want.errno, s);
      if (want.errno === 0 && got.value !== want.length)
        failCase(
          `IOAS_UNMAP wrote back length 0x${got.value?.toString(16)}, 0x${want.length?.toString(16)} were unmapped`,
          {
            step: s,
          },
        );
      return;
    }
    case "second-hwpt": {
      const ap = secondAperture();
      if (ap === undefined) return;
      vc.note("a second paging HWPT (device 2) on the IOAS");
      const h = await host.hwptAllocPaging(2, ioas);
      const s = vc.check();
      // [HOST-HWPT-2] refused while a mapping lies beyond its aperture.
      const want = model.areas.some((a) => a.iova + a.length > ap) ? Errno.EADDRINUSE : 0;
      expectErrno("HWPT_ALLOC on the populated IOAS", h.errno, want, s);
      if (want === 0) model.apertures.push(ap);
      return;
    }
    case "dma":
    case "dma-free": {
      const a =
        o.op === "dma" && model.areas.length > 0 ? model.areas[o.area % model.areas.length] : undefined;
      const iova =
        o.op === "dma" && a !== undefined
          ? a.iova + BigInt(o.page) * PAGE + 0x28n
          : BigInt(o.op === "dma-free" ? o.iovaPage : 0) * PAGE + 0x30n;
      const write = o.op === "dma" && o.write;
      const hit = model.at(iova);
      const hpa = hit === undefined ? undefined : hit.userVa + (iova - hit.iova);
      const allowed = hit !== undefined && (write ? hit.write : hit.read);
      // The target page carries its fingerprint (written once, as the guest's memory).
      let word = 0n;
      if (hpa !== undefined) {
        const page = hpa - (hpa % PAGE);
        const gpa = Number(page - USER_BASE);
        let tag = tags.get(page);
        if (tag === undefined) {
          tag = 1 + (tags.size % 250);
          tags.set(page, tag);
          await vc.model.platform.writeGuest(page - USER_BASE, fingerprintPage(gpa, tag));
        }
        word = fingerprintWord(gpa + Number(hpa % PAGE), tag);
      }
      vc.note(`device 1 ${write ? "writes" : "reads"} IOVA 0x${iova.toString(16)}`);
      const data = new Uint8Array(8);
      new DataView(data.buffer).setBigUint64(0, word, true);
      const r = await host.host.dma({ devId: 1, iova, len: 8, write, ...(write ? { data } : {}) });
      const s = vc.check();
      const where = hpa === undefined ? "nothing is mapped there" : `mapped to user 0x${hpa.toString(16)}`;
      if (!allowed && r.status === "ok")
        failCase(
          `DMA ${write ? "write" : "read"} at IOVA 0x${iova.toString(16)} completed; ${where}${hit ? " without that right" : ""}`,
          {
            step: s,
            observed: "completed",
            permitted: "aborted",
          },
        );
      if (allowed && r.status !== "ok")
        failCase(`DMA at IOVA 0x${iova.toString(16)} was blocked; ${where}`, {
          step: s,
          observed: "aborted",
          permitted: "completed",
        });
      if (allowed && !write && r.status === "ok" && hpa !== undefined) {
        const got = decodeFingerprint(r.data ?? new Uint8Array(), Number(hpa % PAGE));
        const want = Number(hpa - USER_BASE);
        if (got?.gpa !== want)
          failCase(
            `DMA read at IOVA 0x${iova.toString(16)} reached ${got === null ? "an unfingerprinted page" : `GPA 0x${got.gpa.toString(16)}`}; ${where}`,
            {
              step: s,
              observed: got === null ? "no fingerprint" : `GPA 0x${got.gpa.toString(16)}`,
              permitted: `GPA 0x${want.toString(16)}`,
            },
          );
      }
      return;
    }
  }
}
