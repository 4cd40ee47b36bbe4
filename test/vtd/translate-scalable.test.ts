import { describe, expect, it } from "vitest";
import { readU64, writeU64 } from "../../src/memory/physical-memory.ts";
import { ScalableFault as S } from "../../src/spec/fault-reasons.ts";
import { PGTT } from "../../src/spec/pasid-entry.ts";
import { platform, RTA, reason, scalableDevice } from "./setup.ts";

const SID = 0x0108;

function fsDevice(over: Parameters<typeof platform>[0] = {}) {
  const p = platform(over);
  const d = scalableDevice(p, SID, { ridPasid: 1 });
  const fsRoot = p.t.alloc();
  const entry = (e: Record<string, unknown> = {}) =>
    d.setPasid(1, { present: true, pgtt: PGTT.FIRST_STAGE, did: 3, fsptptr: fsRoot, pwsnp: true, ...e });
  return { p, d, fsRoot, entry };
}

describe("scalable-mode translation", () => {
  it("[VTD-PASID-8] first-stage translation for requests without PASID through RID_PASID", () => {
    const { p, fsRoot, entry } = fsDevice();
    entry();
    p.t.mapFs(fsRoot, 4, 0x1000n, 0x9000);
    expect(p.scalable({ iova: 0x1234n })).toEqual({ ok: true, hpa: 0x9234 });
  });

  it("[VTD-ROOT-4] [VTD-CTX-5] root and context faults", () => {
    const p = platform();
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SRT_2_ROOT_NOT_PRESENT);
    const d = scalableDevice(p, SID);
    expect(reason(p.scalable({ iova: 0n, sid: 0x0188 }))).toBe(S.SRT_2_ROOT_NOT_PRESENT);
    writeU64(p.mem, RTA + 16, readU64(p.mem, RTA + 16) | 0x10n);
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SRT_3_ROOT_RESERVED);
    writeU64(p.mem, RTA + 16, readU64(p.mem, RTA + 16) & ~0x10n);
    writeU64(p.mem, d.ceAddr, readU64(p.mem, d.ceAddr) | 4n); // DTE without DT
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SCT_3_CONTEXT_RESERVED);
    writeU64(p.mem, d.ceAddr, 0n);
    expect(p.scalable({ iova: 0n })).toMatchObject({
      fault: { reason: S.SCT_2_CONTEXT_NOT_PRESENT },
      record: true,
    });
    writeU64(p.mem, d.ceAddr, 2n);
    expect(p.scalable({ iova: 0n })).toMatchObject({
      fault: { reason: S.SCT_2_CONTEXT_NOT_PRESENT },
      record: false,
    });
  });

  it("[VTD-CTX-8] [VTD-PASID-5] PASID checks: PSS, PASIDE, PDTS, RID_PASID", () => {
    const p = platform({ pasidBits: 10 });
    scalableDevice(p, SID, { pdts: 0, ridPasid: 5, paside: true });
    expect(reason(p.scalable({ iova: 0n, pasid: 1 << 10 }))).toBe(S.SGN_10_PASID_BEYOND_PSS);
    expect(reason(p.scalable({ iova: 0n, pasid: (1 << 13) >> 0 }))).toBe(S.SGN_10_PASID_BEYOND_PSS);
    expect(reason(p.scalable({ iova: 0n, pasid: 5 }))).toBe(S.SCT_9_PASID_EQUALS_RID_PASID);
    const q = platform();
    scalableDevice(q, SID, { pdts: 0 });
    expect(reason(q.scalable({ iova: 0n, pasid: 1 << 13 }))).toBe(S.SCT_7_PASID_BEYOND_PDTS);
    expect(reason(q.scalable({ iova: 0n, pasid: 7 }))).toBe(S.SPD_2_PASID_DIR_NOT_PRESENT);
    const r = platform();
    scalableDevice(r, SID, { paside: false });
    expect(reason(r.scalable({ iova: 0n, pasid: 7 }))).toBe(S.SCT_6_PASID_DISABLED);
    const s = platform();
    scalableDevice(s, SID, { pdts: 0, ridPasid: 1 << 13 });
    expect(reason(s.scalable({ iova: 0n }))).toBe(S.SCT_4_CONTEXT_INVALID);
  });

  it("[VTD-PASID-6] PASID entry faults: not present, reserved, unsupported PGTT, AW, FSPM", () => {
    const { p, entry, d } = fsDevice({ fl5lp: false, nested: false });
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SPD_2_PASID_DIR_NOT_PRESENT);
    d.setPasid(2, { present: false, pgtt: 0 });
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SPT_2_PASID_ENTRY_NOT_PRESENT);
    entry({ pgtt: 0 });
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SPT_4_PASID_ENTRY_INVALID);
    entry({ pgtt: PGTT.NESTED, aw: 2 });
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SPT_4_PASID_ENTRY_INVALID);
    entry({ fspm: 1 });
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SPT_4_PASID_ENTRY_INVALID);
    entry({ pgtt: PGTT.SECOND_STAGE, aw: 3 });
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SPT_4_PASID_ENTRY_INVALID);
    entry({ pgsnp: true });
    expect(reason(p.scalable({ iova: 0n }))).toBe(S.SPT_3_PASID_ENTRY_RESERVED);
    const nofs = fsDevice({
      firstStage: false,
      fs1gp: false,
      fl5lp: false,
      extendedAccessed: false,
      nested: false,
    });
    nofs.d.setPasid(1, { present: true, pgtt: PGTT.FIRST_STAGE, did: 3, pwsnp: true });
    expect(reason(nofs.p.scalable({ iova: 0n }))).toBe(S.SPT_4_PASID_ENTRY_INVALID);
  });

  it("[VTD-PASID-7] supervisor requests need SRE", () => {
    const { p, fsRoot, d } = fsDevice();
    d.setPasid(9, { present: true, pgtt: PGTT.FIRST_STAGE, did: 3, fsptptr: fsRoot, pwsnp: true });
    p.t.mapFs(fsRoot, 4, 0x1000n, 0x9000);
    expect(reason(p.scalable({ iova: 0x1000n, pasid: 9, priv: true }))).toBe(S.SPT_6_SUPERVISOR_DISABLED);
    d.setPasid(9, { present: true, pgtt: PGTT.FIRST_STAGE, did: 3, fsptptr: fsRoot, pwsnp: true, sre: true });
    expect(p.scalable({ iova: 0x1000n, pasid: 9, priv: true })).toEqual({ ok: true, hpa: 0x9000 });
  });

  it("[VTD-PASID-9] first-stage fault codes and non-snooped A/D (SFS.9)", () => {
    const { p, fsRoot, entry } = fsDevice();
    entry();
    expect(reason(p.scalable({ iova: 0x1000n }))).toBe(S.SFS_2_FS_NOT_PRESENT);
    expect(reason(p.scalable({ iova: 0x8000_0000_0000n, pasid: 1 }))).toBe(S.SCT_9_PASID_EQUALS_RID_PASID);
    expect(reason(p.scalable({ iova: 0x8000_0000_0000n }))).toBe(S.SGN_1_NON_CANONICAL);
    p.t.mapFs(fsRoot, 4, 0x1000n, 0x9000, { user: false, write: false });
    expect(reason(p.scalable({ iova: 0x1000n }))).toBe(S.SGN_2_USER_TO_SUPERVISOR);
    p.t.mapFs(fsRoot, 4, 0x2000n, 0xa000, { write: false });
    expect(reason(p.scalable({ iova: 0x2000n, write: true }))).toBe(S.SGN_6_NO_WRITE);
    entry({ pwsnp: false });
    p.t.mapFs(fsRoot, 4, 0x3000n, 0xb000);
    expect(reason(p.scalable({ iova: 0x3000n }))).toBe(S.SFS_9_AD_NON_SNOOPED);
  });

  it("[VTD-PASID-8] second-stage, pass-through and nested dispatch with their codes", () => {
    const p = platform();
    const d = scalableDevice(p, SID, { ridPasid: 1 });
    const ssRoot = p.t.alloc();
    d.setPasid(1, { present: true, pgtt: PGTT.SECOND_STAGE, aw: 2, did: 4, ssptptr: ssRoot });
    p.t.mapSs(ssRoot, 4, 0x5000n, 0xc000, { write: false });
    expect(p.scalable({ iova: 0x5010n })).toEqual({ ok: true, hpa: 0xc010 });
    expect(reason(p.scalable({ iova: 0x5010n, write: true }))).toBe(S.SGN_6_NO_WRITE);
    expect(reason(p.scalable({ iova: 0x6000n }))).toBe(S.SSS_2_SS_NONLEAF_NO_PERMISSION);
    expect(reason(p.scalable({ iova: 1n << 48n }))).toBe(S.SGN_5_SS_INPUT_BEYOND_WIDTH);
    d.setPasid(1, { present: true, pgtt: PGTT.PASS_THROUGH, did: 4 });
    expect(p.scalable({ iova: 0x1234n })).toEqual({ ok: true, hpa: 0x1234 });
    expect(reason(p.scalable({ iova: 1n << 46n }))).toBe(S.SGN_4_ABOVE_HAW);
    expect(reason(p.scalable({ iova: 0xfee0_0000n, pasid: 2 }))).toBe(S.SPT_2_PASID_ENTRY_NOT_PRESENT);
    // Nested: first-stage tables at GPAs identity-mapped by the second stage.
    const fsRoot = p.t.alloc();
    for (let a = 0x10_0000; a < 0x12_0000; a += 0x1000) p.t.mapSs(ssRoot, 4, BigInt(a), a);
    p.t.mapSs(ssRoot, 4, 0x3_0000n, 0x4_0000);
    d.setPasid(1, {
      present: true,
      pgtt: PGTT.NESTED,
      aw: 2,
      did: 4,
      ssptptr: ssRoot,
      fsptptr: fsRoot,
      pwsnp: true,
    });
    p.t.mapFs(fsRoot, 4, 0x7000n, 0x3_0000);
    expect(p.scalable({ iova: 0x7008n })).toEqual({ ok: true, hpa: 0x4_0008 });
    d.setPasid(1, {
      present: true,
      pgtt: PGTT.NESTED,
      aw: 1,
      did: 4,
      ssptptr: ssRoot,
      fsptptr: 2 ** 40,
      pwsnp: true,
    });
    expect(reason(p.scalable({ iova: 0x7008n }))).toBe(S.SPT_4_PASID_ENTRY_INVALID);
  });

  it("[VTD-DMA-3] outputs in the interrupt range fault SGN.8; inputs with PASID are translated", () => {
    const { p, fsRoot, d } = fsDevice();
    d.setPasid(9, { present: true, pgtt: PGTT.FIRST_STAGE, did: 3, fsptptr: fsRoot, pwsnp: true });
    p.t.mapFs(fsRoot, 4, 0xfee0_0000n, 0x9000);
    expect(p.scalable({ iova: 0xfee0_0010n, pasid: 9 })).toEqual({ ok: true, hpa: 0x9010 });
    expect(reason(p.scalable({ iova: 0xfee0_0010n }))).toBe(S.SGN_8_INTERRUPT_RANGE);
    p.t.mapFs(fsRoot, 4, 0x1000n, 0xfee0_0000);
    expect(reason(p.scalable({ iova: 0x1000n, pasid: 9 }))).toBe(S.SGN_8_INTERRUPT_RANGE);
  });
});
