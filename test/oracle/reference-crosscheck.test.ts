/**
 * The reference vIOMMU, with any cache capacity, must only produce permitted outcomes. A seeded
 * random mix of table edits, invalidations and DMAs (no fast-check: a small deterministic LCG).
 */
import { describe, expect, it } from "vitest";
import type { DmaRequest } from "../../src/contract/types.ts";
import { SparseMemory } from "../../src/memory/sparse-memory.ts";
import { fingerprintPage, Oracle, type OracleStep } from "../../src/oracle/index.ts";
import { encodeDescriptor } from "../../src/spec/descriptor.ts";
import { Reg } from "../../src/spec/register-offsets.ts";
import { wordsToBytes } from "../../src/spec/word.ts";
import { VIommu } from "../../src/vtd/viommu.ts";
import { config, ss } from "./stream.ts";

function run(capacity: number, seed: number, cm: boolean): string[] {
  const cfg = config({ cachingMode: cm });
  const mem = new SparseMemory(Number(cfg.memory.size));
  const iommu = new VIommu(cfg.viommu, mem, {
    capacities: { context: capacity, pasid: capacity, iotlb: capacity },
  });
  const oracle = new Oracle(cfg);
  const failures: string[] = [];
  let x = seed;
  const rnd = (n: number) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
  const step = (s: OracleStep) => {
    const v = oracle.observe(s);
    if (!v.ok)
      failures.push(`${v.violation.message}: ${v.violation.observed} / ${v.violation.permitted.join(" | ")}`);
  };
  const w64 = (a: number, v: bigint) => {
    const b = wordsToBytes([v]);
    mem.write(a, b);
    step({ op: "writeGuest", args: [BigInt(a), b] });
  };
  const reg = (off: number, v: bigint, width: 4 | 8 = 8) => {
    iommu.registers.write(off, v, width);
    step({ op: "writeReg", args: [off, v, width] });
  };
  step({ op: "reset", args: [cfg] });
  for (const p of [0x20000, 0x21000, 0x22000, 0x23000]) {
    const b = fingerprintPage(p, 1);
    mem.write(p, b);
    step({ op: "writeGuest", args: [BigInt(p), b] });
  }
  // Root, two devices (DIDs 1 and 2) sharing one 4-level second stage mapping pages 0..3.
  w64(0x10000, 0x11000n | 1n);
  for (const [sid, did] of [
    [0x08, 1],
    [0x10, 2],
  ] as const) {
    w64(0x11000 + sid * 16, 0x40000n | 1n);
    w64(0x11000 + sid * 16 + 8, 2n | (BigInt(did) << 8n));
  }
  w64(0x40000, ss(0x41000));
  w64(0x41000, ss(0x42000));
  w64(0x42000, ss(0x43000));
  for (let i = 0; i < 4; i++) w64(0x43000 + i * 8, ss(0x20000 + i * 0x1000));
  reg(Reg.RTADDR, 0x10000n);
  reg(Reg.GCMD, 1n << 30n, 4);
  reg(Reg.IQA, 0x30000n);
  reg(Reg.GCMD, 1n << 26n, 4);
  reg(Reg.GCMD, (1n << 31n) | (1n << 26n), 4);
  let tail = 0;
  let seq = 1;
  for (let i = 0; i < 60; i++) {
    const k = rnd(10);
    if (k < 3) {
      const slot = rnd(4);
      const target = rnd(5);
      w64(0x43000 + slot * 8, target === 4 ? 0n : ss(0x20000 + target * 0x1000, true, rnd(2) === 0));
    } else if (k < 5) {
      const did = 1 + rnd(2);
      const d =
        rnd(2) === 0
          ? { kind: "iotlb" as const, g: 2, dr: false, dw: false, did, am: 0, ih: false, addr: 0n }
          : {
              kind: "iotlb" as const,
              g: 3,
              dr: false,
              dw: false,
              did,
              am: rnd(3),
              ih: rnd(2) === 0,
              addr: BigInt(rnd(4) * 0x1000),
            };
      const status = seq++;
      w64(0x31000, 0n);
      const wait = {
        kind: "wait" as const,
        intr: false,
        sw: true,
        fn: false,
        pd: false,
        statusData: status,
        statusAddr: 0x31000n,
      };
      for (const desc of [d, wait]) {
        const b = wordsToBytes(encodeDescriptor(desc, 128));
        mem.write(0x30000 + tail, b);
        step({ op: "writeGuest", args: [BigInt(0x30000 + tail), b] });
        tail = (tail + 16) % 4096;
      }
      reg(Reg.IQT, BigInt(tail));
      const back = mem.read(0x31000, 4);
      step({ op: "readGuest", args: [0x31000n, 4], result: back });
    } else {
      const req: DmaRequest = {
        sid: rnd(2) === 0 ? 0x08 : 0x10,
        iova: BigInt(rnd(4) * 0x1000 + 8 * rnd(8)),
        len: 8,
        write: false,
      };
      step({ op: "dma", args: [req], result: iommu.dma(req) });
    }
  }
  return failures;
}

describe("reference cross-check", () => {
  for (const capacity of [0, 1, 4, 1024]) {
    for (const cm of [false, true]) {
      it(`[ORACLE-TIME-1] [ORACLE-TIME-2] the reference with cache capacity ${capacity}, CM=${+cm} produces only permitted outcomes`, () => {
        for (let seed = 1; seed <= 5; seed++) expect(run(capacity, seed, cm)).toEqual([]);
      });
    }
  }
});
