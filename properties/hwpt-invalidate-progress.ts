/**
 * hwpt-invalidate-progress: HWPT_INVALIDATE arrays of VT-d stage-1 entries, good and bad, on a
 * nested HWPT whose host IOTLB holds translations the guest has since changed. Entries are
 * processed in order and processing stops at the first bad one, with its errno; entry_num is
 * written back as the number processed, on success and on error; the pages every processed entry
 * covers show the new translation afterwards (others may still show the old one).
 */
import fc from "fast-check";
import { sidsArb } from "../src/arbitraries/host-devices.ts";
import { hostVm, nestingHostIommuArb } from "../src/arbitraries/host-vm.ts";
import { VM_RAM } from "../src/arbitraries/vmm-config.ts";
import { failCase } from "../src/cases/case-failed.ts";
import { HostClient, hostProblem, U64_MAX, withoutDeviceFiles } from "../src/cases/host-client.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";
import { runVmmCases, type VmmCase } from "../src/cases/vmm-case.ts";
import { vmmJudge } from "../src/cases/vmm-judge.ts";
import { SLOT_BASE } from "../src/cases/vmm-plan.ts";
import { GuestDriver } from "../src/driver/index.ts";
import { decodeFingerprint } from "../src/oracle/index.ts";
import { Errno, errnoName, type IommuHwptVtdS1Invalidate } from "../src/spec/iommufd/index.ts";

const SLOTS = 8;
const slot = (i: number) => SLOT_BASE + BigInt(i) * 0x1000n;

export type EntrySpec =
  | { kind: "ok"; first: number; pages: number; leaf: boolean }
  | { kind: "full" }
  | { kind: "bad-flags" }
  | { kind: "bad-reserved" }
  | { kind: "unaligned" }
  | { kind: "max-nonzero" };

const entryArb: fc.Arbitrary<EntrySpec> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("ok" as const),
      first: fc.integer({ min: 0, max: SLOTS - 1 }),
      pages: fc.integer({ min: 0, max: 3 }),
      leaf: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "full" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "bad-flags" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "bad-reserved" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "unaligned" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "max-nonzero" as const }) },
);

function encodeEntry(e: EntrySpec): Partial<IommuHwptVtdS1Invalidate> {
  switch (e.kind) {
    case "ok":
      return { addr: slot(e.first), npages: BigInt(e.pages), flags: e.leaf ? 1 : 0 };
    case "full":
      return { addr: 0n, npages: U64_MAX };
    case "bad-flags":
      return { addr: slot(0), npages: 1n, flags: 2 };
    case "bad-reserved":
      return { addr: slot(0), npages: 1n, __reserved: 1 };
    case "unaligned":
      return { addr: slot(1) + 0x80n, npages: 1n };
    case "max-nonzero":
      return { addr: slot(2), npages: U64_MAX };
  }
}

/** [HOST-UAPI-62] [HOST-UAPI-63] The errno an entry stops processing with, or 0. */
function entryErrno(e: EntrySpec): number {
  if (e.kind === "bad-flags" || e.kind === "bad-reserved") return Errno.EOPNOTSUPP;
  if (e.kind === "unaligned" || e.kind === "max-nonzero") return Errno.EINVAL;
  return 0;
}

function covers(e: EntrySpec, i: number): boolean {
  if (e.kind === "full") return true;
  return e.kind === "ok" && i >= e.first && i < e.first + e.pages;
}

/**
 * The errno and entry_num HWPT_INVALIDATE must give, from the rules in the kernel's order:
 * [HOST-UAPI-60] entry_num ≠ 0 with entry_len 0 is refused before the HWPT is looked up, then an
 * unknown id, then a HWPT that is not nested; [HOST-UAPI-65] the entry length; then the entries in
 * order, stopping at the first outside the buffer (EFAULT) or bad ([HOST-UAPI-62], [HOST-UAPI-63]).
 */
export function expectedInvalidate(
  target: "nested" | "paging" | "unknown",
  entries: EntrySpec[],
  entryLen: number,
  bufferBytes: number,
): { errno: number; done: number } {
  if (entries.length > 0 && entryLen === 0) return { errno: Errno.EINVAL, done: 0 };
  if (target === "unknown") return { errno: Errno.ENOENT, done: 0 };
  if (target === "paging") return { errno: Errno.EINVAL, done: 0 };
  if (entries.length > 0 && entryLen !== 24) return { errno: Errno.EINVAL, done: 0 };
  let done = 0;
  for (const [i, e] of entries.entries()) {
    if ((i + 1) * 24 > bufferBytes) return { errno: Errno.EFAULT, done };
    const bad = entryErrno(e);
    if (bad !== 0) return { errno: bad, done };
    done++;
  }
  return { errno: 0, done };
}

/** [HOST-UAPI-31] DESTROY of `id` must give `errno`. */
async function expectDestroy(
  vc: VmmCase,
  host: HostClient,
  id: number,
  errno: number,
  what: string,
): Promise<void> {
  vc.note(`DESTROY ${what} (${id})`);
  const got = await host.destroy(id);
  const step = vc.check();
  if (got !== errno)
    failCase(`DESTROY of ${what} gave ${errnoName(got)}, not ${errnoName(errno)}`, {
      step,
      observed: errnoName(got),
      permitted: errnoName(errno),
    });
}

export const hwptInvalidateProgress: PropertyDefinition = {
  id: "hwpt-invalidate-progress",
  title:
    "HWPT_INVALIDATE processes entries in order, stops at the first bad one and always writes entry_num back",
  rules: [
    "HOST-UAPI-60",
    "HOST-UAPI-61",
    "HOST-UAPI-62",
    "HOST-UAPI-63",
    "HOST-UAPI-64",
    "HOST-UAPI-65",
    "HOST-HWPT-20",
    "HOST-HWPT-21",
    "HOST-HWPT-22",
    "HOST-HWPT-36",
    "HOST-UAPI-31",
  ],
  needs: (d) => hostProblem(d),
  run(ctx) {
    const skip = withoutDeviceFiles(ctx);
    if (skip !== undefined) return skip;
    const input = fc.record({
      iommu: nestingHostIommuArb("h0"),
      sids: sidsArb(2),
      entries: fc.array(entryArb, { minLength: 0, maxLength: 6 }),
      entryLen: fc.oneof(
        { weight: 8, arbitrary: fc.constant(24) },
        { weight: 1, arbitrary: fc.constantFrom(0, 16, 32) },
      ),
      /** Bytes cut off the end of the entry buffer (EFAULT for the entries no longer inside). */
      cut: fc.oneof(
        { weight: 6, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 30 }) },
      ),
      target: fc.oneof(
        { weight: 8, arbitrary: fc.constant("nested" as const) },
        { weight: 1, arbitrary: fc.constantFrom("paging" as const, "unknown" as const) },
      ),
    });
    return runVmmCases(ctx, input, async (vc, v) => {
      const config = hostVm(
        [v.iommu],
        [{ iommu: "h0", noSnoop: false, behindBridge: false, iommufd: true }],
        v.sids,
      );
      await vc.model.reset(config);
      const host = new HostClient(vc.model.host as NonNullable<typeof vc.model.host>);
      const driver = await GuestDriver.create(vc.model.platform, config.memory);
      // Guest stage 1: slot i → page A_i; the VM's stage 2: all guest RAM at IOVA = GPA.
      const table = await driver.newPageTable("first", 4);
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < SLOTS; i++) {
        a.push(await driver.newDataPage(10 + i));
        b.push(await driver.newDataPage(40 + i));
        await table.map(slot(i), a[i] as number, "4K", { write: true, user: true });
      }
      const ioas = await host.ioasAlloc();
      const map = await host.ioasMap(ioas.value as number, 0n, 0n, VM_RAM);
      const parent = await host.hwptAllocPaging(1, ioas.value as number, { nestParent: true });
      const nested = await host.hwptAllocNested(1, parent.value as number, BigInt(table.root));
      const att = await host.attach(1, undefined, nested.value as number);
      if ([ioas, map, parent, nested, att].some((c) => c.errno !== 0))
        failCase(
          `setup failed: ${[ioas, map, parent, nested, att].map((c) => errnoName(c.errno)).join(", ")}`,
          {
            step: vc.check(),
          },
        );
      vc.note(
        "host DMA reads every slot (the host IOTLB fills), then the guest remaps every slot without invalidating",
      );
      for (let i = 0; i < SLOTS; i++) await host.read(1, slot(i));
      for (let i = 0; i < SLOTS; i++)
        await table.map(slot(i), b[i] as number, "4K", { write: true, user: true });

      const target =
        v.target === "nested"
          ? (nested.value as number)
          : v.target === "paging"
            ? (parent.value as number)
            : 999;
      const full = v.entries.length * v.entryLen;
      const bufferBytes = Math.max(0, full - v.cut);
      vc.note(
        `HWPT_INVALIDATE on ${v.target} HWPT ${target}: ${v.entries.length} entries of ${v.entryLen} bytes (${bufferBytes} in user memory): ${JSON.stringify(v.entries)}`,
      );
      const r = await host.hwptInvalidate(target, v.entries.map(encodeEntry), {
        entryLen: v.entryLen,
        bufferBytes,
      });
      const step = vc.check();
      const { errno, done } = expectedInvalidate(v.target, v.entries, v.entryLen, bufferBytes);
      if (r.errno !== errno || r.value !== done)
        failCase(
          `HWPT_INVALIDATE gave ${errnoName(r.errno)} with entry_num ${r.value}; the rules give ${errnoName(errno)} after ${done} entries`,
          {
            step,
            observed: { errno: r.errno, entry_num: r.value ?? null },
            permitted: { errno, entry_num: done },
          },
        );
      // [HOST-HWPT-21] every page a processed entry covers is translated afresh.
      for (let i = 0; i < SLOTS; i++) {
        if (!v.entries.slice(0, done).some((e) => covers(e, i))) continue;
        const got = await host.read(1, slot(i));
        const s = vc.check();
        const hit = got.status === "ok" ? decodeFingerprint(got.data ?? new Uint8Array(), 0) : null;
        if (hit?.gpa !== b[i])
          failCase(
            `slot ${i} was invalidated by a processed entry but the host still translates it to ${hit === null ? "nothing" : `GPA 0x${hit.gpa.toString(16)}`}`,
            {
              step: s,
              permitted: `GPA 0x${(b[i] as number).toString(16)}`,
            },
          );
      }
      const ids = {
        ioas: ioas.value as number,
        parent: parent.value as number,
        nested: nested.value as number,
      };
      // [HOST-UAPI-31] what is in use cannot be destroyed: the attached nested HWPT, its parent
      // (a nest parent with a child), the IOAS under the parent.
      await expectDestroy(vc, host, ids.nested, Errno.EBUSY, "the attached nested HWPT");
      await expectDestroy(vc, host, ids.parent, Errno.EBUSY, "a nest parent with a nested HWPT");
      await expectDestroy(vc, host, ids.ioas, Errno.EBUSY, "the IOAS of a paging HWPT");
      // [HOST-HWPT-22] a stage-2 change flushes the nested HWPTs on it: with guest RAM unmapped
      // from the IOAS, no slot translates, whatever the nested HWPT's IOTLB held.
      vc.note("IOAS_UNMAP of all guest RAM, then host DMA reads every slot again");
      const unmap = await host.ioasUnmap(ids.ioas, 0n, VM_RAM);
      const us = vc.check();
      if (unmap.errno !== 0 || unmap.value !== VM_RAM)
        failCase(`IOAS_UNMAP of the whole guest RAM gave ${errnoName(unmap.errno)}, length ${unmap.value}`, {
          step: us,
          permitted: { errno: 0, length: `0x${VM_RAM.toString(16)}` },
        });
      for (let i = 0; i < SLOTS; i++) {
        const got = await host.read(1, slot(i));
        const s = vc.check();
        if (got.status === "ok")
          failCase(`slot ${i} still translates after its stage 2 was unmapped from the IOAS`, {
            step: s,
            observed: "ok",
            permitted: "aborted",
          });
      }
      // [HOST-UAPI-31] [HOST-HWPT-36] once detached, the nested HWPT, then its parent, then the IOAS go.
      const det = await host.detach(1, undefined);
      if (det !== 0) failCase(`detaching the device gave ${errnoName(det)}`, { step: vc.check() });
      await expectDestroy(vc, host, ids.nested, 0, "the detached nested HWPT");
      await expectDestroy(vc, host, ids.parent, 0, "a nest parent without children");
      await expectDestroy(vc, host, ids.ioas, 0, "an IOAS without HWPTs");
    });
  },
  judge: (trace) => vmmJudge(trace),
};
