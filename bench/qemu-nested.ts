/**
 * qemu:nested measured, and QEMU's start-up compatibility decisions tabulated [QEMU-NEST-4..7]:
 *   npx tsx bench/qemu-nested.ts [root=DIR] [l0-aw-bits=39]
 *   npx tsx bench/qemu-nested.ts side-by-side [root=DIR] [runs=10] [seed=1]   (bench/qemu-side-by-side.ts)
 * Prints L0 + L1 boot, vfio bind, buffer location, L2 start per reset (median of the option
 * sets), DMA/s by the passed-through and the emulated device, and for each vIOMMU option set
 * whether L2 accepts the passed-through device (with its message) and the VMM-COMPAT rule that
 * judges it (src/cases/vmm-compat.ts).
 */

import { createNestedModel } from "../src/adapters/qemu-nested/adapter.ts";
import { expectedRefusal } from "../src/cases/vmm-compat.ts";
import type { PlatformConfig, VIommuConfig } from "../src/contract/types.ts";

const args = process.argv.slice(2);
if (args[0] === "side-by-side") {
  const { sideBySide } = await import("./qemu-side-by-side.ts");
  await sideBySide(Object.fromEntries(args.slice(1).map((a) => a.split("=") as [string, string])));
  process.exit(0);
}
const opts = Object.fromEntries(args.map((a) => a.split("=") as [string, string]));
const t0 = Date.now();
const model = await createNestedModel(opts);
const d = await model.describe();
const describeSeconds = (Date.now() - t0) / 1000;
const pt = d.limits?.passthrough;
if (!pt) throw new Error("no passthrough limits");
const base = (over: Partial<VIommuConfig>): VIommuConfig => {
  const t = (d.limits?.viommu ?? []).find(
    (x) =>
      x.scalable === (over.scalable ?? false) &&
      x.firstStage === (over.firstStage ?? false) &&
      (x.awBits === undefined || x.awBits === (over.awBits ?? 39)),
  );
  return {
    scalable: false,
    awBits: 39,
    cachingMode: true,
    firstStage: false,
    secondStage: true,
    nested: false,
    passThrough: true,
    pasidBits: 0,
    snoopControl: false,
    fs1gp: false,
    fl5lp: false,
    ssLargePages: { twoMiB: true, oneGiB: true },
    hawBits: 39,
    faultRecords: 1,
    supervisorRequests: false,
    extendedAccessed: false,
    ...(t ?? {}),
    ...over,
  };
};
const config = (v: VIommuConfig): PlatformConfig => ({
  viommu: v,
  devices: [
    { sid: 0x08, kind: "emulated" },
    { sid: 0x10, kind: "passthrough", host: { ...pt.host } },
  ],
  memory: {
    size: 16n << 20n,
    regions: [
      { gpa: 0n, size: 0xa0000n, readOnly: false },
      { gpa: 0x100000n, size: (16n << 20n) - 0x100000n, readOnly: false },
    ],
  },
  hostIommus: pt.hostIommus.map((h) => ({ ...h })),
});
const sets: Array<[string, Partial<VIommuConfig>]> = [
  ["legacy, aw-bits 39, CM on", { awBits: 39 }],
  ["legacy, aw-bits 48, CM on", { awBits: 48, hawBits: 48 }],
  ["legacy, aw-bits 39, CM off", { awBits: 39, cachingMode: false }],
  ["legacy, aw-bits 48, CM off", { awBits: 48, hawBits: 48, cachingMode: false }],
  ["scalable, aw-bits 39, CM on", { scalable: true, awBits: 39 }],
  ["scalable, aw-bits 48, CM on", { scalable: true, awBits: 48, hawBits: 48 }],
  ["scalable, aw-bits 39, CM off", { scalable: true, awBits: 39, cachingMode: false }],
  [
    "scalable fsts, aw-bits 48, CM on",
    { scalable: true, firstStage: true, secondStage: false, awBits: 48, hawBits: 48 },
  ],
  [
    "scalable fsts, aw-bits 48, CM off",
    { scalable: true, firstStage: true, secondStage: false, awBits: 48, hawBits: 48, cachingMode: false },
  ],
  [
    "scalable fsts fs1gp, aw-bits 48, CM on",
    { scalable: true, firstStage: true, secondStage: false, awBits: 48, hawBits: 48, fs1gp: true },
  ],
];
const starts: number[] = [];
const rows: string[] = [];
for (const [name, over] of sets) {
  const c = config(base(over));
  const exp = expectedRefusal(c);
  const t = Date.now();
  let got: string;
  try {
    await model.reset(c);
    starts.push((Date.now() - t) / 1000);
    got = "accepted";
  } catch (e) {
    got = `refused: ${(e as Error).message.replace(/^L2 refused the configuration: /, "")}`;
  }
  const verdict = exp === undefined ? "accepted" : `refused by the ${exp.check} check`;
  const agrees = exp === undefined ? got === "accepted" : got !== "accepted" && exp.pattern.test(got);
  rows.push(`| ${name} | ${got} | ${verdict} | ${agrees ? "agrees" : "DIFFERS"} |`);
}
// DMA rates on the first accepted legacy platform.
await model.reset(config(base({ awBits: 39 })));
const page = 0x200000n;
await model.platform.writeGuest(page, new Uint8Array(4096).fill(0x5a));
const rate = async (sid: number, n: number, write: boolean) => {
  const t = Date.now();
  for (let i = 0; i < n; i++)
    await model.platform.dma({
      sid,
      iova: page + BigInt(i * 8),
      len: 8,
      write,
      ...(write ? { data: new Uint8Array(8).fill(i) } : {}),
    });
  return n / ((Date.now() - t) / 1000);
};
const ptRead = await rate(0x10, 20, false);
const ptWrite = await rate(0x10, 20, true);
const emRead = await rate(0x08, 50, false);
await model.close();
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
console.log(`describe (L0 + L1 boot, bind, buffer location, probe L2): ${describeSeconds.toFixed(1)} s`);
console.log(
  `  boot ${model.times.boot.toFixed(1)} s, bind ${model.times.bind.toFixed(1)} s, locate ${model.times.locate.toFixed(1)} s`,
);
console.log(
  `L2 start per reset: median ${med(starts).toFixed(2)} s over ${starts.length} (min ${Math.min(...starts).toFixed(2)}, max ${Math.max(...starts).toFixed(2)})`,
);
console.log(
  `passed-through edu: ${ptRead.toFixed(1)} DMA reads/s, ${ptWrite.toFixed(1)} DMA writes/s (8 bytes, translation off)`,
);
console.log(`emulated edu in L2: ${emRead.toFixed(1)} DMA reads/s (8 bytes, status only)`);
console.log(
  "\n| vIOMMU options (L1 host aw-bits " +
    pt.hostIommus[0]?.awBits +
    ", legacy VFIO) | L2 | VMM-COMPAT rules | |",
);
console.log("|---|---|---|---|");
for (const r of rows) console.log(r);
