/**
 * Measurements of the qemu adapter (docs/qemu.md, "Measured"). Run:
 *   npx tsx src/adapters/qemu/measure.ts              # the system's QEMU
 *   npx tsx src/adapters/qemu/measure.ts root=.cache/qemu-sid
 * Prints one line per figure. Not part of the test suite.
 */

import type { PlatformConfig } from "../../contract/types.ts";
import { legacyViommu } from "../../contract/viommu-options.ts";
import { encodeSsEntry } from "../../spec/paging-entry.ts";
import { wordsToBytes } from "../../spec/word.ts";
import { createQemuModel } from "./adapter.ts";
import { Machine } from "./machine.ts";

const opts = Object.fromEntries(process.argv.slice(2).map((a) => a.split("=", 2) as [string, string]));
const model = await createQemuModel(opts);
const install = model.install;
const ms = (t0: number) => performance.now() - t0;
const line = (what: string, v: string) => console.log(`${what.padEnd(52)} ${v}`);
line("QEMU", `${install.version.text}${install.root ? ` (root ${install.root})` : ""}`);

const config: PlatformConfig = {
  viommu: legacyViommu({ awBits: 39, hawBits: 39, faultRecords: 1 }),

  devices: [{ sid: 0x08, kind: "emulated" }],
  memory: { size: 512n << 20n, regions: [{ gpa: 0x100000n, size: 511n << 20n, readOnly: false }] },
  hostIommus: [],
};

// Start-up: bare (devices enabled, no buffer search), and a full reset (with the search and CAP check).
const spec = { iommu: { ...config.viommu, awBits: 39 as const }, eduDevfns: [0x08], memMiB: 512 };
for (const locate of [false, true]) {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const m = await Machine.start(install, spec, { locateBuffers: locate });
    times.push(ms(t0));
    await m.close();
  }
  times.sort((a, b) => a - b);
  line(`start-up ${locate ? "with" : "without"} buffer search (median of 10)`, `${times[5]!.toFixed(1)} ms`);
}
{
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await model.reset(config);
    times.push(ms(t0));
  }
  times.sort((a, b) => a - b);
  line("reset(config): close + fresh QEMU (median of 10)", `${times[5]!.toFixed(1)} ms`);
}
const m = model.machine!;
const q = m.q;

// Clearing guest memory in place, for comparison with a fresh start.
{
  const t0 = performance.now();
  await q.memset(0n, 0xa0000, 0);
  await q.memset(0x100000n, (512 << 20) - 0x100000, 0);
  line("in-place: memset of 512 MiB guest RAM", `${ms(t0).toFixed(1)} ms`);
}

// qtest commands per second.
{
  const n = 5000;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await q.readMem(4, 0xfed90000n);
  line("qtest commands/s, sequential (readl)", `${Math.round(n / (ms(t0) / 1000))}`);
  t0 = performance.now();
  for (let b = 0; b < n; b += 500) await q.pipeline(Array.from({ length: 500 }, () => "readl 0xfed90000"));
  line("qtest commands/s, pipelined in batches of 500", `${Math.round(n / (ms(t0) / 1000))}`);
}

// Translated DMAs per second: IOVA 0x200000 → 0x300000 through a 3-level legacy table.
{
  const p = model.platform;
  const w = (...x: bigint[]) => wordsToBytes(x);
  await p.writeGuest(0x100000n, w(0x101000n | 1n, 0n));
  await p.writeGuest(0x101000n + 0x80n, w(0x102000n | 1n, 1n | (1n << 8n)));
  await p.writeGuest(0x102000n, w(encodeSsEntry({ read: true, write: true, addr: 0x103000 })));
  await p.writeGuest(0x103008n, w(encodeSsEntry({ read: true, write: true, addr: 0x104000 })));
  await p.writeGuest(0x104000n, w(encodeSsEntry({ read: true, write: true, addr: 0x300000 })));
  await p.writeReg(0x20, 0x100000n, 8);
  await p.writeReg(0x18, 1n << 30n, 4);
  await p.writeReg(0x18, 1n << 31n, 4);
  const n = 2000;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const r = await p.dma({ sid: 8, iova: 0x200000n + BigInt((i * 64) & 0xfc0), len: 64, write: false });
    if (r.status !== "ok") throw new Error("DMA aborted");
  }
  line("translated DMA reads/s (64 bytes, data returned)", `${Math.round(n / (ms(t0) / 1000))}`);
  const data = new Uint8Array(64).fill(0x5a);
  t0 = performance.now();
  for (let i = 0; i < n; i++)
    await p.dma({ sid: 8, iova: 0x200000n + BigInt((i * 64) & 0xfc0), len: 64, write: true, data });
  line("translated DMA writes/s (64 bytes)", `${Math.round(n / (ms(t0) / 1000))}`);
  t0 = performance.now();
  for (let i = 0; i < n / 4; i++) await p.dma({ sid: 8, iova: 0x200000n, len: 4096, write: false });
  line("translated DMA reads/s (4096 bytes = 2 edu transfers)", `${Math.round(n / 4 / (ms(t0) / 1000))}`);
  t0 = performance.now();
  for (let i = 0; i < n / 4; i++) await p.dma({ sid: 8, iova: 0x500000n, len: 8, write: false });
  line("faulting DMA reads/s (8 bytes, unmapped)", `${Math.round(n / 4 / (ms(t0) / 1000))}`);
}
await model.close();
