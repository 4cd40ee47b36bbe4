/**
 * The flags a passed-through device's DMA leaves in the guest's first-stage tables: the host's
 * nested walk reads them as the vIOMMU's would, so after the VMM judge rules on such a DMA the
 * oracle learns its walk (ORACLE-JUDGE-7) and judges later guest reads of those entries by
 * ORACLE-JUDGE-9 and ORACLE-JUDGE-11, as for an emulated device with the same tables.
 */
import { describe, expect, it } from "vitest";
import { VmmStepJudge } from "../../src/cases/vmm-judge.ts";
import { encodeArgs, encodeResult, type SurfaceCall } from "../../src/contract/surface.ts";
import type { DmaRequest, DmaResult, PlatformConfig } from "../../src/contract/types.ts";
import { fingerprintPage, fingerprintWord, type OracleStep } from "../../src/oracle/index.ts";
import { encodeFsEntry } from "../../src/spec/paging-entry.ts";
import { Reg } from "../../src/spec/register-offsets.ts";
import { wordsToBytes } from "../../src/spec/word.ts";
import { fsViommu, hostIommu, ptDevice } from "../vmm/fixtures.ts";
import { FS_CHAIN, FS_PDE, FS_PDPE, FS_PTE, scalableFirstStageDevice } from "./stream.ts";

const A = 1n << 5n;
const D = 1n << 6n;
const EA = 1n << 10n;
const PT = 0x10; // the passed-through device
const ROM = 0x300000;
const PTE_ROM = encodeFsEntry({ addr: ROM, write: true, user: true }, 1);

function word(value: bigint): Uint8Array {
  return wordsToBytes([value]);
}

/** Steps fed to the VMM judge as a trace encodes them. */
class PtStream {
  readonly judge = new VmmStepJudge();

  constructor(cfg: PlatformConfig) {
    this.step({ op: "reset", args: [cfg] });
  }

  step(s: OracleStep) {
    const call = { op: s.op, args: s.args } as SurfaceCall;
    return this.judge.feed({ op: s.op, args: encodeArgs(call) }, { result: encodeResult(s.op, s.result) });
  }

  w64(addr: number, value: bigint): void {
    this.step({ op: "writeGuest", args: [BigInt(addr), word(value)] });
  }

  guestRead(gpa: number, value: bigint) {
    return this.step({ op: "readGuest", args: [BigInt(gpa), 8], result: word(value) });
  }

  dma(req: DmaRequest, result: DmaResult) {
    return this.step({ op: "dma", args: [req], result });
  }
}

/**
 * A VM with a scalable-mode first-stage vIOMMU and a passed-through device 0x10 behind a nesting
 * host IOMMU; the device's RID_PASID entry (FSPTPTR 0x50000, 4 levels) maps input page 0 to RAM
 * and page 1 to the read-only region.
 */
function vm(eafe = false): PtStream {
  const s = new PtStream({
    viommu: fsViommu({ extendedAccessed: eafe }),
    devices: [{ sid: 0x08, kind: "emulated" }, ptDevice(PT)],
    memory: {
      size: 0x400000n,
      regions: [
        { gpa: 0n, size: BigInt(ROM), readOnly: false },
        { gpa: BigInt(ROM), size: 0x100000n, readOnly: true },
      ],
    },
    hostIommus: [hostIommu()],
  });
  scalableFirstStageDevice(s, PT, { eafe });
  s.w64(0x53008, PTE_ROM);
  s.step({ op: "writeGuest", args: [0x60000n, fingerprintPage(0x60000, 7)] });
  s.step({ op: "writeReg", args: [Reg.RTADDR, 0x10000n | (1n << 10n), 8] });
  s.step({ op: "writeReg", args: [Reg.GCMD, 1n << 30n, 4] });
  s.step({ op: "writeReg", args: [Reg.GCMD, 1n << 31n, 4] });
  return s;
}

/** A passed-through read of input page 0: the fingerprinted word of 0x60000. */
function ptRead(s: PtStream) {
  return s.dma(
    { sid: PT, iova: 0n, len: 8, write: false },
    { status: "ok", data: word(fingerprintWord(0x60000, 7)) },
  );
}

function ptWrite(s: PtStream, iova: bigint, value: bigint, status: DmaResult["status"] = "ok") {
  return s.dma({ sid: PT, iova, len: 8, write: true, data: word(value) }, { status });
}

describe("flags of a passed-through device's walk in the guest's tables (ORACLE-JUDGE-7)", () => {
  it("[ORACLE-JUDGE-11] [ORACLE-JUDGE-7] after a passed-through read, every first-stage entry it walked must show A", () => {
    for (const [at, value] of FS_CHAIN) {
      const s = vm();
      expect(ptRead(s)).toBeUndefined();
      expect(s.guestRead(at, value)?.rule).toBe("ORACLE-JUDGE-11");
      const t = vm();
      expect(ptRead(t)).toBeUndefined();
      expect(t.guestRead(at, value | A)).toBeUndefined();
    }
  });

  it("[ORACLE-JUDGE-9] [ORACLE-JUDGE-7] EA is refused where the guest PASID entry has EAFE = 0, and required with EAFE = 1", () => {
    const s = vm();
    expect(ptRead(s)).toBeUndefined();
    expect(s.guestRead(0x51000, FS_PDPE | A | EA)?.rule).toBe("ORACLE-JUDGE-4");
    const e = vm(true);
    expect(ptRead(e)).toBeUndefined();
    expect(e.guestRead(0x51000, FS_PDPE | A)?.rule).toBe("ORACLE-JUDGE-11");
    const e2 = vm(true);
    expect(ptRead(e2)).toBeUndefined();
    expect(e2.guestRead(0x51000, FS_PDPE | A | EA)).toBeUndefined();
  });

  it("[ORACLE-JUDGE-9] [ORACLE-JUDGE-11] [ORACLE-JUDGE-7] a completed passed-through write permits and requires D on its leaf", () => {
    const fp = fingerprintWord(0x60000, 7);
    const s = vm();
    expect(ptWrite(s, 0n, fp)).toBeUndefined();
    expect(s.guestRead(0x53000, FS_PTE | A | D)).toBeUndefined();
    expect(s.guestRead(0x52000, FS_PDE | A)).toBeUndefined(); // D is no flag of a non-leaf entry
    const t = vm();
    expect(ptWrite(t, 0n, fp)).toBeUndefined();
    expect(t.guestRead(0x53000, FS_PTE | A)?.rule).toBe("ORACLE-JUDGE-11");
    // A read sets no D.
    const r = vm();
    expect(ptRead(r)).toBeUndefined();
    expect(r.guestRead(0x53000, FS_PTE | A | D)?.rule).toBe("ORACLE-JUDGE-4");
  });

  it("[ORACLE-JUDGE-4] [ORACLE-JUDGE-7] a passed-through write's data lands where stage 2 let it", () => {
    const s = vm();
    expect(ptWrite(s, 0x10n, 0x1234n)).toBeUndefined();
    expect(s.guestRead(0x60010, 0x1234n)).toBeUndefined();
    const t = vm();
    expect(ptWrite(t, 0x10n, 0x1234n)).toBeUndefined();
    expect(t.guestRead(0x60010, fingerprintWord(0x60010, 7))?.rule).toBe("ORACLE-JUDGE-4");
  });

  it("[VMM-S2-7] [ORACLE-JUDGE-7] a write stage 2 blocks (read-only region) requires nothing and sets no D", () => {
    const s = vm();
    expect(ptWrite(s, 0x1000n, 0n, "aborted")).toBeUndefined();
    expect(s.guestRead(0x53008, PTE_ROM)).toBeUndefined();
    expect(s.guestRead(0x53008, PTE_ROM | A | D)?.rule).toBe("ORACLE-JUDGE-4");
    // It must be blocked: the oracle permits only a completion for an emulated device.
    expect(ptWrite(vm(), 0x1000n, 0n)?.rule).toBe("VMM-S2-7");
  });
});
