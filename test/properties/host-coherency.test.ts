import { describe, expect, it } from "vitest";
import { coherencyMatrix } from "../../properties/coherency-matrix.ts";
import { createMutantModel } from "../../src/adapters/mutants.ts";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import { expectedNonCoherent, hostAccepts, type Stage2State } from "../../src/cases/host-case.ts";
import { decodeHostView, encodeHostView } from "../../src/contract/codec.ts";
import { checkResult } from "../../src/contract/schema.ts";
import type { HostIommuConfig } from "../../src/contract/types.ts";
import { hostIommu } from "../vmm/fixtures.ts";
import { CACHE_CONFIGS, runAgainst } from "./vmm-support.ts";

describe("coherency-matrix against the reference", () => {
  for (const cache of CACHE_CONFIGS.slice(0, 2)) {
    it(`[HOST-COH-3] [HOST-COH-4] [HOST-COH-6] [VMM-S2-11] holds with caches ${JSON.stringify(cache)}`, async () => {
      const r = await runAgainst(coherencyMatrix, { runs: 40, cache });
      expect(r.status, r.message).toBe("pass");
    }, 120_000);
  }
});

describe("coherency-matrix finds a host that lets a non-coherent device into an enforcing HWPT", () => {
  it("[HOST-COH-3] kills mutant:noncoherent-into-enforcing", async () => {
    const model = await createMutantModel("noncoherent-into-enforcing");
    try {
      const r = await runAgainst(coherencyMatrix, { runs: 60, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/enforcing|coherency class|snoop control/);
    } finally {
      await model.close();
    }
  }, 300_000);

  it("[HOST-COH-6] [VMM-S2-11] finds a host view that reports Linux's conservative answer (boxes 3 and 4)", async () => {
    const inner = await createReferenceModel();
    let config: Parameters<typeof inner.reset>[0] | undefined;
    const model = {
      ...inner,
      reset: async (c: Parameters<typeof inner.reset>[0]) => {
        config = c;
        await inner.reset(c);
      },
      platform: {
        ...inner.platform,
        writeGuest: inner.platform.writeGuest.bind(inner.platform),
        readGuest: inner.platform.readGuest.bind(inner.platform),
        writeReg: inner.platform.writeReg.bind(inner.platform),
        readReg: inner.platform.readReg.bind(inner.platform),
        dma: inner.platform.dma.bind(inner.platform),
        async hostView() {
          const v = await (inner.platform.hostView as NonNullable<typeof inner.platform.hostView>)();
          // vfio_file_enforced_coherent: the IOMMU capability alone decides.
          const noSc = (config?.hostIommus ?? []).some((i) => !i.snoopControl);
          return { ...v, nonCoherentDma: noSc };
        },
      },
    };
    try {
      const r = await runAgainst(coherencyMatrix, { runs: 60, model });
      expect(r.status, r.message).toBe("fail");
      expect(r.message).toMatch(/nonCoherentDma/);
    } finally {
      await inner.close();
    }
  }, 300_000);
});

describe("the coherency expectations themselves", () => {
  const sc: HostIommuConfig = hostIommu({ id: "sc", snoopControl: true });
  const nosc: HostIommuConfig = hostIommu({ id: "nosc", snoopControl: false });
  const s2 = (over: Partial<Stage2State>): Stage2State => ({
    owner: sc,
    nestParent: false,
    enforcing: true,
    hasMappings: false,
    readOnly: false,
    through: [],
    ...over,
  });

  it("[HOST-COH-3] an enforcing HWPT refuses an IOMMU without snoop control", () => {
    expect(hostAccepts(s2({}), nosc)).toMatchObject({ ok: false, rule: "HOST-COH-3" });
    expect(hostAccepts(s2({}), sc)).toEqual({ ok: true, upgrade: false });
  });

  it("[HOST-COH-4] a non-enforcing HWPT is upgraded only if never mapped and attached only through SC IOMMUs", () => {
    const plain = s2({ owner: nosc, enforcing: false });
    expect(hostAccepts(plain, sc)).toEqual({ ok: true, upgrade: true });
    expect(hostAccepts({ ...plain, hasMappings: true }, sc)).toMatchObject({ ok: false, rule: "HOST-COH-4" });
    expect(hostAccepts({ ...plain, through: [nosc] }, sc)).toMatchObject({ ok: false, rule: "HOST-COH-4" });
    expect(hostAccepts({ ...plain, hasMappings: true }, nosc)).toEqual({ ok: true, upgrade: false });
  });

  it("[HOST-COH-5] [HOST-COH-6] only box 3 makes non-coherent DMA visible", () => {
    const vm = (noSnoop: boolean, iommu: HostIommuConfig) => ({
      viommu: {} as never,
      devices: [
        {
          sid: 1,
          kind: "passthrough" as const,
          host: { iommu: iommu.id, noSnoop, behindBridge: false, iommufd: true },
        },
      ],
      memory: { size: 0n, regions: [] },
      hostIommus: [iommu],
    });
    expect(expectedNonCoherent(vm(true, sc))).toBe(false);
    expect(expectedNonCoherent(vm(false, sc))).toBe(false);
    expect(expectedNonCoherent(vm(true, nosc))).toBe(true);
    expect(expectedNonCoherent(vm(false, nosc))).toBe(false);
  });
});

describe("nonCoherentDma on the wire", () => {
  it("[VMM-S2-11] [HARNESS-PROTO-6] the optional field survives the codec and the schema accepts it (and only a boolean)", () => {
    const view = { attachments: [{ sid: 0x10, hwptId: 5, kind: "paging" as const }], nonCoherentDma: true };
    const wire = encodeHostView(view);
    expect(checkResult("hostView", wire)).toEqual([]);
    expect(decodeHostView(wire)).toEqual(view);
    const without = { attachments: [] };
    expect(decodeHostView(encodeHostView(without))).toEqual(without);
    expect(checkResult("hostView", { attachments: [], nonCoherentDma: "yes" })).not.toEqual([]);
  });
});
