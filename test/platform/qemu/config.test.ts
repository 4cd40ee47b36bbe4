import { describe, expect, it } from "vitest";
import { isFaultOf } from "../../../src/adapters/qemu/adapter.ts";
import {
  decodeViommuConfig,
  machineSpecFor,
  platformLimits,
  registerMismatches,
} from "../../../src/adapters/qemu/config.ts";
import { uniquePattern } from "../../../src/adapters/qemu/device-buffer.ts";
import { checkBufferRange } from "../../../src/adapters/qemu/edu.ts";
import { haltingFirmware } from "../../../src/adapters/qemu/firmware.ts";
import { eduDevices, iommuDevice, machineArgs } from "../../../src/adapters/qemu/machine.ts";
import type { QemuInstall } from "../../../src/adapters/qemu/process.ts";
import { flavourOf, parseVersion } from "../../../src/adapters/qemu/process.ts";
import type { PlatformConfig, VIommuConfig } from "../../../src/contract/types.ts";

const v72: QemuInstall = {
  binary: "qemu-system-x86_64",
  version: parseVersion("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"),
  features: {
    qtestAccel: false,
    iommuProps: ["aw-bits", "caching-mode", "pt", "snoop-control", "x-pasid-mode", "x-scalable-mode"],
    edu: true,
    iommuTestdev: false,
    logItems: ["guest_errors", "unimp"],
  },
};
const v111: QemuInstall = {
  binary: "qemu-system-x86_64",
  root: "/r",
  version: parseVersion("QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-1)"),
  features: {
    qtestAccel: true,
    iommuProps: ["aw-bits", "caching-mode", "fs1gp", "fsts", "pasid-bits", "scalable-mode", "snoop-control"],
    edu: true,
    iommuTestdev: true,
    logItems: ["guest_errors", "invalid_mem", "unimp"],
  },
};

/** QEMU 7.2's defaults, as read back: CAP 0x00d2008c22260206, ECAP 0xf42. */
const CAP72 = 0x00d2008c22260206n;
const ECAP72 = 0xf42n;

function legacyConfig(over: Partial<VIommuConfig> = {}): PlatformConfig {
  return {
    viommu: { ...decodeViommuConfig(CAP72, ECAP72), ...over },
    devices: [{ sid: 0x08, kind: "emulated" }],
    memory: { size: 64n << 20n, regions: [{ gpa: 0x100000n, size: 63n << 20n, readOnly: false }] },
    hostIommus: [],
  };
}

describe("qemu configuration", () => {
  it("[QEMU-CONF-2] decodes QEMU 7.2's default CAP/ECAP", () => {
    const c = decodeViommuConfig(CAP72, ECAP72);
    expect(c).toMatchObject({
      scalable: false,
      awBits: 39,
      cachingMode: false,
      secondStage: true,
      firstStage: false,
      passThrough: true,
      pasidBits: 0,
      faultRecords: 1,
      ssLargePages: { twoMiB: true, oneGiB: true },
      fs1gp: false,
    });
    // 7.2 scalable mode with x-pasid-mode: SMTS, SSTS, SRS, PASID with PSS 0.
    const s = decodeViommuConfig(CAP72, 0x490080000f42n);
    expect(s).toMatchObject({ scalable: true, secondStage: true, supervisorRequests: true, pasidBits: 1 });
    // ECAP bit 45 (SSADS) is clear in both, so SSADE is reserved in QEMU's PASID entries.
    expect([c.secondStageAccessedDirty, s.secondStageAccessedDirty]).toEqual([false, false]);
  });

  it("[QEMU-CONF-2] lists every field where QEMU differs from the request", () => {
    expect(registerMismatches(legacyConfig().viommu, CAP72, ECAP72)).toEqual([]);
    const m = registerMismatches(legacyConfig({ cachingMode: true, faultRecords: 4 }).viommu, CAP72, ECAP72);
    expect(m.join("\n")).toMatch(/cachingMode: asked true, QEMU has false/);
    expect(m.join("\n")).toMatch(/faultRecords: asked 4, QEMU has 1/);
    expect(
      registerMismatches(legacyConfig({ awBits: 48, hawBits: 48 }).viommu, CAP72, ECAP72).join(),
    ).toMatch(/awBits/);
  });

  it("[QEMU-CONF-1] maps options per version", () => {
    const base = { scalable: true, awBits: 48, cachingMode: true, firstStage: false, pasidBits: 20 } as const;
    const opts = { ...base, snoopControl: false, passThrough: true, fs1gp: false };
    expect(iommuDevice(v72, opts)).toBe(
      "intel-iommu,intremap=off,aw-bits=48,caching-mode=on,x-scalable-mode=on,x-pasid-mode=on,pt=on",
    );
    expect(iommuDevice(v111, { ...opts, firstStage: true, fs1gp: true })).toBe(
      "intel-iommu,intremap=off,aw-bits=48,caching-mode=on,scalable-mode=on,pasid-bits=20,fsts=on,fs1gp=on",
    );
    expect(() => iommuDevice(v72, { ...opts, firstStage: true })).toThrow(/fsts/);
    expect(() => iommuDevice(v111, { ...opts, passThrough: false })).toThrow(/always offers pass-through/);
  });

  it("[QEMU-START-2][QEMU-START-3] icount + firmware for 7.2, qtest accelerator for 11.1", () => {
    const spec = { iommu: { ...legacyConfig().viommu, awBits: 39 as const }, eduDevfns: [0x08], memMiB: 64 };
    const a72 = machineArgs(v72, spec, "/tmp/fw.bin").join(" ");
    expect(a72).toContain("-accel tcg -icount shift=0,sleep=off -bios /tmp/fw.bin");
    expect(a72).toContain("-device edu,addr=0x1.0,dma_mask=0xffffffffffffffff");
    const a111 = machineArgs(v111, { ...spec, iommu: { ...spec.iommu, passThrough: true } }, undefined).join(
      " ",
    );
    expect(a111).toContain("-accel qtest");
    expect(a111).not.toContain("-bios");
    expect(() => machineArgs(v72, spec, undefined)).toThrow(/firmware/);
  });

  it("[QEMU-PCI-2] functions sharing a slot are marked multifunction", () => {
    expect(eduDevices([0x08, 0x09, 0x10])).toEqual([
      "edu,addr=0x1.0,dma_mask=0xffffffffffffffff,multifunction=on",
      "edu,addr=0x1.1,dma_mask=0xffffffffffffffff,multifunction=on",
      "edu,addr=0x2.0,dma_mask=0xffffffffffffffff",
    ]);
  });

  it("[QEMU-CONF-1][QEMU-CONF-3] rejects what QEMU cannot take, with every reason", () => {
    const bad = legacyConfig({
      nested: true,
      awBits: 57,
      hawBits: 57,
      firstStage: true,
      secondStageAccessedDirty: true,
    });
    bad.devices = [
      { sid: 0x100, kind: "emulated" },
      { sid: 0x10, kind: "passthrough" },
      { sid: 0xf8, kind: "emulated" },
    ];
    bad.memory.regions.push({ gpa: 0x90000n, size: 0x20000n, readOnly: true });
    const r = machineSpecFor(v72, bad);
    expect(r.ok).toBe(false);
    const text = r.ok ? "" : r.reasons.join("\n");
    for (const want of [
      /awBits 57/,
      /nested/,
      /first-stage/,
      /bus 0/,
      /passed-through/,
      /slots 0 and 0x1f/,
      /SSADS/,
    ]) {
      expect(text).toMatch(want);
    }
    expect(text).toMatch(/read-only/);
    expect(text).toMatch(/0xa0000-0xfffff/);
    const good = machineSpecFor(v72, legacyConfig());
    expect(good).toMatchObject({ ok: true, spec: { eduDevfns: [0x08], memMiB: 64 } });
  });

  it("[QEMU-EDU-2] refuses buffer ranges that would make edu abort QEMU", () => {
    expect(() => checkBufferRange(0x40000, 0xfff)).not.toThrow();
    expect(() => checkBufferRange(0x40000, 0x1000)).toThrow(/refused/);
    expect(() => checkBufferRange(0x40800, 0x800)).toThrow(/refused/);
    expect(() => checkBufferRange(0x3ffff, 1)).toThrow(/refused/);
    expect(() => checkBufferRange(0x40000, 0)).toThrow(/positive/);
    expect(() => checkBufferRange(0x41000, 1)).toThrow(/refused/);
  });

  it("[QEMU-START-2] firmware: 64 KiB of hlt with cli; hlt; jmp back at the reset vector", () => {
    const fw = haltingFirmware();
    expect(fw.length).toBe(0x10000);
    expect([...fw.subarray(0xfff0, 0xfff4)]).toEqual([0xfa, 0xf4, 0xeb, 0xfd]);
    expect(fw.filter((b) => b !== 0xf4).length).toBe(3);
  });

  it("[QEMU-READ-1] locating patterns have no repeated 8-byte word", () => {
    const p = uniquePattern(7);
    const words = new Set<bigint>();
    const view = new DataView(p.buffer);
    for (let i = 0; i < p.length; i += 8) words.add(view.getBigUint64(i, true));
    expect(words.size).toBe(512);
    expect(uniquePattern(8)).not.toEqual(p);
  });

  it("[QEMU-DMA-2] a fault line counts for its own SID; fault-disabled lines count for the running DMA", () => {
    expect(isFaultOf("vtd_dmar_fault sid 0x8 fault 1 addr 0x5000 write 0", 8)).toBe(true);
    expect(isFaultOf("vtd_dmar_fault sid 0x10 fault 1 addr 0x5000 write 0", 8)).toBe(false);
    expect(isFaultOf("12@1.5:vtd_fault_disabled Fault processing disabled for context entry", 8)).toBe(true);
    expect(isFaultOf("qemu-system-x86_64: vtd_iommu_translate: detected translation failure", 8)).toBe(false);
  });

  it("[QEMU-CONF-2] compares nested values whatever their key order", () => {
    const want = { ...legacyConfig().viommu, ssLargePages: { oneGiB: true, twoMiB: true } };
    expect(registerMismatches(want, CAP72, ECAP72)).toEqual([]);
  });

  it("[QEMU-CONF-4] limits: fixed facts in every template, modes and first stage per version", () => {
    const probe = decodeViommuConfig(CAP72, ECAP72);
    const l72 = platformLimits(flavourOf(v72.features), probe);
    const l111 = platformLimits(flavourOf(v111.features), probe);
    for (const t of [...(l72.viommu ?? []), ...(l111.viommu ?? [])]) {
      expect(t).toMatchObject({
        nested: false,
        faultRecords: 1,
        fl5lp: false,
        extendedAccessed: false,
        secondStageAccessedDirty: false,
      });
      expect(t.hawBits).toBe(t.awBits);
      expect(t.ssLargePages).toEqual({ twoMiB: true, oneGiB: true });
    }
    expect(l72.viommu?.some((t) => t.firstStage)).toBe(false);
    expect(l72.viommu?.every((t) => t.passThrough === undefined)).toBe(true);
    expect(l111.viommu?.filter((t) => t.firstStage)).toEqual([
      expect.objectContaining({ scalable: true, awBits: 48, secondStage: false, supervisorRequests: false }),
    ]);
    expect(l111.viommu?.every((t) => t.passThrough === true)).toBe(true);
    expect(l111.viommu?.filter((t) => t.scalable && !t.firstStage).map((t) => t.supervisorRequests)).toEqual([
      true,
      true,
    ]);
    expect(l72.sids).toContain(0x08);
    expect(l72.sids).toContain(0xf7);
    expect(l72.sids).not.toContain(0x07);
    expect(l72.sids).not.toContain(0xf8);
    expect(l72.memoryHoles).toEqual([{ gpa: 0xa0000n, size: 0x60000n }]);
  });

  it("[QEMU-DMA-3] a rejected-access log line counts for the running DMA", () => {
    expect(isFaultOf("Invalid write at addr 0x300000, size 4, region '(null)', reason: rejected", 8)).toBe(
      true,
    );
    expect(isFaultOf("Invalid read at addr 0xF0000000, size 4, region '(null)', reason: rejected", 8)).toBe(
      true,
    );
    expect(isFaultOf("vtd_inv_desc invalid wait desc", 8)).toBe(false);
  });

  it("[QEMU-START-1] reads the version line", () => {
    expect(v111.version).toMatchObject({ major: 11, minor: 1, micro: 3 });
    expect(() => parseVersion("nope")).toThrow(/version/);
  });
});
