/**
 * qemu:nested end to end, when the nested setup exists (`qemu setup --nested`, root privileges):
 * one L0 + L1 boot, L1 commands, an L2 with a passed-through and an emulated edu, DMA by both, and
 * every process ended on close. Skipped with the reason otherwise.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { properties } from "../../../properties/index.ts";
import { createNestedModel } from "../../../src/adapters/qemu-nested/adapter.ts";
import { nestedStatus } from "../../../src/adapters/qemu-nested/setup.ts";
import type { PlatformConfig } from "../../../src/contract/types.ts";
import { legacyViommu } from "../../../src/contract/viommu-options.ts";
import { replayTrace } from "../../../src/runner/replay.ts";
import { loadTraceFile } from "../../../src/trace/load.ts";

const root = process.env.IOMMU_QEMU_ROOT ?? "/var/cache/iommu-conformance/qemu-sid";
const status = await nestedStatus(root);
const why = !status.ready
  ? `no nested setup beside ${root} (missing ${status.missing.join(", ")})`
  : process.getuid?.() !== 0
    ? "needs root (chroot)"
    : undefined;

describe.skipIf(why !== undefined)(`qemu:nested end to end${why ? ` (skipped: ${why})` : ""}`, () => {
  it("[QEMU-NEST-1] [QEMU-NEST-3] [QEMU-NEST-6] [QEMU-NEST-8] boots, drives L1, DMAs by both devices, ends everything", async () => {
    expect(status.stamp?.qemu).toMatch(/QEMU emulator version 11\./);
    const model = await createNestedModel({ root });
    let l0Pid = -1;
    try {
      const d = await model.describe();
      const chain = model.chain;
      if (!chain) throw new Error("no chain after describe()");
      l0Pid = chain.l0Pid;
      expect(l0Pid).toBeGreaterThan(0);
      // [QEMU-NEST-3] a command's output and status.
      expect(await chain.run("echo hello; false")).toEqual({ status: 1, out: ["hello"] });
      expect((await chain.must("ls /dev/vfio")).join(" ")).toMatch(/vfio/);
      const pt = d.limits?.passthrough;
      if (!pt) throw new Error("no passthrough limits");
      const v = { ...legacyViommu({ cachingMode: true }), ...(d.limits?.viommu?.[0] ?? {}) };
      const config: PlatformConfig = {
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
      };
      await model.reset(config);
      // Translation off: both devices reach guest memory; the passed-through one returns the bytes.
      const bytes = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
      await model.platform.writeGuest(0x200000n, bytes);
      expect(await model.platform.dma({ sid: 0x10, iova: 0x200000n, len: 16, write: false })).toEqual({
        status: "ok",
        data: bytes,
      });
      expect(await model.platform.dma({ sid: 0x08, iova: 0x200000n, len: 16, write: false })).toEqual({
        status: "ok",
      });
      const data = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(await model.platform.dma({ sid: 0x10, iova: 0x300000n, len: 8, write: true, data })).toEqual({
        status: "ok",
      });
      expect(await model.platform.readGuest(0x300000n, 8)).toEqual(data);
    } finally {
      await model.close();
    }
    // [QEMU-NEST-8] L0 (and everything inside it) is gone.
    expect(existsSync(`/proc/${l0Pid}`)).toBe(false);
  }, 600_000);

  it("[QEMU-FIND-2] the VMM-side findings reproduce on qemu:nested", async () => {
    const dir = join(import.meta.dirname, "../../../reference-traces/qemu-nested");
    const model = await createNestedModel({ root });
    try {
      for (const name of readdirSync(dir).filter((f) => f.endsWith(".expect"))) {
        const expectation = JSON.parse(readFileSync(join(dir, name), "utf8")) as {
          expected: Record<string, string>;
        };
        const trace = await loadTraceFile(join(dir, name.replace(/\.expect$/, ".json")));
        const judge = properties.find((p) => p.id === trace.property)?.judge?.(trace);
        if (judge === undefined) throw new Error(`${trace.property} has no judge`);
        const r = await replayTrace(trace, model, judge);
        expect(r.outcome, `${name}: ${r.message}`).toBe(expectation.expected["11.1"]);
      }
    } finally {
      await model.close();
    }
  }, 900_000);
});
