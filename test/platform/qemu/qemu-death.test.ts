/**
 * [QEMU-DEATH-1] QEMU killed under a call: the error names how it ended and its last lines (not
 * the symptom, a short write of its memory), and the trace records the DMA of that step as an
 * error, not as ok. Skipped, with the reason, without QEMU 7.2/11.1 on the system.
 */
import { describe, expect, it } from "vitest";
import { createQemuModel } from "../../../src/adapters/qemu/adapter.ts";
import { detectQemu } from "../../../src/adapters/qemu/process.ts";
import type { PlatformConfig } from "../../../src/contract/types.ts";
import { legacyViommu } from "../../../src/contract/viommu-options.ts";
import { TraceRecorder } from "../../../src/trace/recorder.ts";

const missing = await detectQemu({}).then(
  () => undefined,
  (e: Error) => e.message,
);

function config(): PlatformConfig {
  return {
    viommu: legacyViommu({ awBits: 39, hawBits: 39, faultRecords: 1 }),
    devices: [{ sid: 0x08, kind: "emulated" }],
    memory: { size: 64n << 20n, regions: [{ gpa: 0x100000n, size: 63n << 20n, readOnly: false }] },
    hostIommus: [],
  };
}

describe.skipIf(missing !== undefined)(`QEMU's death${missing ? ` (skipped: ${missing})` : ""}`, () => {
  for (const write of [false, true]) {
    it(`[QEMU-DEATH-1] a DMA ${write ? "write" : "read"} under a killed QEMU names the signal and is recorded as an error`, async () => {
      const model = await createQemuModel();
      const recorder = new TraceRecorder(model);
      try {
        await recorder.model.reset(config());
        // Killed as the call starts: the adapter meets the death mid-call (its memory, its pipe).
        process.kill(model.machine!.proc.pid, "SIGKILL");
        const err = await recorder.model.platform
          .dma({ sid: 0x08, iova: 0x200000n, len: 8, write, ...(write ? { data: new Uint8Array(8) } : {}) })
          .then(
            () => undefined,
            (e: Error) => e,
          );
        expect(err?.message).toMatch(/^QEMU ended \(signal SIGKILL\) during this call/);
        expect(err?.message).not.toMatch(/short (read|write)/);
        const step = recorder.steps.at(-1);
        expect(step?.op).toBe("dma");
        expect(step?.result).toBeUndefined();
        expect(step?.error?.message).toMatch(/QEMU ended \(signal SIGKILL\)/);
      } finally {
        await model.close();
      }
    }, 60_000);
  }
});
