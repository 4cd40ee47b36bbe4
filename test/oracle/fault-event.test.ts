/**
 * [ORACLE-JUDGE-10] FECTL as the specification fixes it (VT-d 5.10 §7.3, §11.4.7.2): IM reads back
 * what software wrote (1 after reset); an interrupt condition (PPF set while no status field was
 * set) sets IP, which IM = 1 holds until software clears IM or services every status field; a
 * fault while a status field is still set is no new condition. With IM = 0, IP may read either
 * way after a condition ("held pending due to ... other transient hardware conditions").
 */
import { describe, expect, it } from "vitest";
import { faultEventIpKeptAfterRecordsCleared } from "../../src/cases/known/fault-event-ip-kept-after-records-cleared.ts";
import { oracleConfig } from "../../src/oracle/config.ts";
import { Reg } from "../../src/spec/register-offsets.ts";
import { config, Stream } from "./stream.ts";

const IM = 0x8000_0000n;
const IP = 0x4000_0000n;
const PPF = 0x2n;

/** Legacy root entry present, every context entry not present: each DMA faults LCT.2, recorded. */
function platform(): { s: Stream; frcd: number } {
  const cfg = config();
  const s = new Stream(cfg);
  s.w64(0x10000, 0x11000n | 1n);
  s.enable(0x10000);
  return { s, frcd: oracleConfig(cfg).frcdOffset };
}

function fault(s: Stream, sid = 0x08): void {
  expect(s.dma({ sid, iova: 0x5000n, len: 4, write: false }, { status: "aborted" }).ok).toBe(true);
}

function fectl(s: Stream, value: bigint) {
  return s.step({ op: "readReg", args: [Reg.FECTL, 4], result: value });
}

function rule(v: ReturnType<typeof fectl>): string | undefined {
  return v.ok ? undefined : v.violation.rule;
}

describe("[ORACLE-JUDGE-10] FECTL.IP and IM", () => {
  it("IP is clear after reset, and IM set", () => {
    expect(rule(fectl(platform().s, IM | IP))).toBe("ORACLE-JUDGE-10");
    expect(rule(fectl(platform().s, 0n))).toBe("ORACLE-JUDGE-10");
    expect(fectl(platform().s, IM).ok).toBe(true);
  });

  it("a recorded fault with IM = 1 sets IP and holds it", () => {
    const { s } = platform();
    fault(s);
    const bad = platform().s;
    fault(bad);
    expect(rule(fectl(bad, IM))).toBe("ORACLE-JUDGE-10"); // an IM-ignoring model sent it and cleared IP
    expect(fectl(s, IM | IP).ok).toBe(true);
    expect(fectl(s, IM | IP).ok).toBe(true); // held: reading does not clear it
  });

  it("IP clears once every status field is clear, not before", () => {
    const { s, frcd } = platform();
    fault(s);
    expect(s.step({ op: "readReg", args: [Reg.FSTS, 4], result: PPF }).ok).toBe(true);
    expect(fectl(s, IM | IP).ok).toBe(true);
    s.reg(frcd + 12, 0x8000_0000n, 4); // clear F
    expect(s.step({ op: "readReg", args: [Reg.FSTS, 4], result: 0n }).ok).toBe(true);
    expect(rule(fectl(s, IM | IP))).toBe("ORACLE-JUDGE-10");
    expect(fectl(s, IM).ok).toBe(true);
  });

  it("IM reads back as written", () => {
    const { s } = platform();
    s.reg(Reg.FECTL, 0n, 4);
    expect(rule(fectl(s, IM))).toBe("ORACLE-JUDGE-10");
    expect(fectl(s, 0n).ok).toBe(true);
  });

  it("with IM = 0 a condition may leave IP either way (a transient hold)", () => {
    for (const seen of [0n, IP]) {
      const { s } = platform();
      s.reg(Reg.FECTL, 0n, 4);
      fault(s);
      expect(fectl(s, seen).ok).toBe(true);
    }
  });

  it("a fault while PPF is still set raises no new condition (§7.3)", () => {
    const { s } = platform();
    fault(s, 0x08);
    expect(fectl(s, IM | IP).ok).toBe(true);
    s.reg(Reg.FECTL, 0n, 4); // the held message is sent
    expect(fectl(s, 0n).ok).toBe(true);
    s.reg(Reg.FECTL, IM, 4);
    fault(s, 0x10); // another requester: recorded, but PPF was set
    expect(rule(fectl(s, IM | IP))).toBe("ORACLE-JUDGE-10");
    expect(fectl(s, IM).ok).toBe(true);
  });

  it("an 8-byte read at FSTS judges FECTL in its upper half", () => {
    const { s } = platform();
    fault(s);
    const v = s.step({ op: "readReg", args: [Reg.FSTS, 8], result: (IM << 32n) | PPF });
    expect(v.ok ? undefined : v.violation.rule).toBe("ORACLE-JUDGE-10");
  });
});

describe("[ORACLE-TOL-1] a model that keeps IP after the records are cleared", () => {
  function tolerant(): { s: Stream; frcd: number; used: string[] } {
    const used: string[] = [];
    const cfg = config();
    const s = new Stream(cfg, {
      relaxations: [faultEventIpKeptAfterRecordsCleared],
      tolerated: (id) => used.push(id),
    });
    s.w64(0x10000, 0x11000n | 1n);
    s.enable(0x10000);
    return { s, frcd: oracleConfig(cfg).frcdOffset, used };
  }

  it("is tolerated after F is cleared through the record, and counted", () => {
    const { s, frcd, used } = tolerant();
    fault(s);
    expect(fectl(s, IM | IP).ok).toBe(true);
    s.reg(frcd + 12, 0x8000_0000n, 4); // clear F: PPF clear
    expect(s.step({ op: "readReg", args: [Reg.FSTS, 4], result: 0n }).ok).toBe(true);
    expect(fectl(s, IM | IP).ok).toBe(true);
    expect(used).toEqual(["fault-event-ip-kept-after-records-cleared"]);
  });

  it("is not tolerated where IP was never set, nor after IM was cleared", () => {
    const never = tolerant();
    expect(rule(fectl(never.s, IM | IP))).toBe("ORACLE-JUDGE-10");
    const { s, frcd } = tolerant();
    fault(s);
    s.reg(frcd + 12, 0x8000_0000n, 4);
    s.reg(Reg.FECTL, 0n, 4); // IM cleared: the held message goes, IP clears
    s.reg(Reg.FECTL, IM, 4);
    expect(s.step({ op: "readReg", args: [Reg.FSTS, 4], result: 0n }).ok).toBe(true);
    expect(rule(fectl(s, IM | IP))).toBe("ORACLE-JUDGE-10");
  });
});
