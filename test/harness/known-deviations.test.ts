import { describe, expect, it } from "vitest";
import { faultRecording } from "../../properties/fault-recording.ts";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import { KNOWN_DEVIATIONS, knownDeviations } from "../../src/cases/known/index.ts";
import { textReport } from "../../src/runner/reports/text.ts";
import { runProperties } from "../../src/runner/runner.ts";
import { LegacyFault as L, ScalableFault as S } from "../../src/spec/fault-reasons.ts";

/** The reference recording some scalable reasons with other codes, as QEMU does (or worse). */
function deviant(codes: ReadonlyMap<number, number>) {
  return createReferenceModel(
    {},
    {
      platform(vm) {
        const faults = vm.viommu.registers.faults;
        const record = faults.recordFault.bind(faults);
        faults.recordFault = (info) => record({ ...info, reason: codes.get(info.reason) ?? info.reason });
      },
    },
  );
}

const QEMU_LIKE = new Map([
  [S.SGN_6_NO_WRITE, L.LGN_2_NO_WRITE],
  [S.SGN_7_NO_READ, L.LGN_3_NO_READ],
]);

async function run(codes: ReadonlyMap<number, number>, known: string[]) {
  const model = await deviant(codes);
  const report = await runProperties([faultRecording], {
    adapter: "reference",
    model,
    runs: 60,
    seed: 2,
    shrink: false,
    known: knownDeviations(known),
  });
  return { report, result: report.results[0] };
}

/** The reference writing PV = 0xFFFF into records without PASID, as QEMU 7.2 does (PV is RsvdZ). */
async function pvDeviant(known: string[]) {
  const model = await createReferenceModel(
    {},
    {
      platform(vm) {
        const faults = vm.viommu.registers.faults;
        const recordFor = faults.recordFor.bind(faults);
        faults.recordFor = (info) => {
          const r = recordFor(info);
          return r.pp ? r : { ...r, pv: 0xffff };
        };
      },
    },
  );
  const report = await runProperties([faultRecording], {
    adapter: "reference",
    model,
    runs: 60,
    seed: 5,
    shrink: false,
    known: knownDeviations(known),
  });
  return report.results[0];
}

describe("known deviations [HARNESS-KNOWN-1] [ORACLE-TOL-1]", () => {
  it("a record relaxation of a field other than the reason (PV) judges the record it stands for", async () => {
    expect((await pvDeviant([]))?.status).toBe("fail");
    const r = await pvDeviant(["fault-record-pv-without-pasid"]);
    expect(r?.status, r?.message).toBe("pass");
    expect(r?.tolerated?.["fault-record-pv-without-pasid"]).toBeGreaterThan(0);
  });

  it("a deviation the run does not name fails the property", async () => {
    const { result } = await run(QEMU_LIKE, []);
    expect(result?.status).toBe("fail");
    expect(result?.message).toMatch(/fault record \d+ matches no aborted DMA/);
  });

  it("named, it is judged with its relaxation, counted and reported", async () => {
    const { report, result } = await run(QEMU_LIKE, ["scalable-write-fault-legacy-reason"]);
    expect(result?.status, result?.message).toBe("pass");
    expect(result?.tolerated?.["scalable-write-fault-legacy-reason"]).toBeGreaterThan(0);
    const text = textReport(report);
    expect(text).toMatch(/known deviations tolerated: scalable-write-fault-legacy-reason/);
    expect(text).toMatch(/tolerated: scalable-write-fault-legacy-reason ×\d+/);
  });

  it("the relaxation is minimal: another wrong code for the same fault still fails", async () => {
    const swapped = new Map([
      [S.SGN_6_NO_WRITE, L.LGN_3_NO_READ],
      [S.SGN_7_NO_READ, L.LGN_2_NO_WRITE],
    ]);
    const { result } = await run(swapped, ["scalable-write-fault-legacy-reason"]);
    expect(result?.status).toBe("fail");
  });

  it("an unknown id is refused with the catalogue", () => {
    expect(() => knownDeviations(["no-such-thing"])).toThrow(
      /unknown deviation no-such-thing; the suite can tolerate/,
    );
    expect(new Set(KNOWN_DEVIATIONS.map((d) => d.id)).size).toBe(KNOWN_DEVIATIONS.length);
  });
});
