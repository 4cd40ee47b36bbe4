/**
 * fault-recording: faulting DMAs from several devices against few fault recording registers, read
 * and cleared at random points. Every record read must belong to an aborted DMA with a permitted,
 * recordable reason and the right page (FPD-suppressed faults leave none); PPF is the OR of the F
 * bits, FRI points at a pending record, F and PFO are write-1-to-clear. [VTD-FAULT-6..8]
 */
import type { CommandWeights } from "../src/arbitraries/guest-commands.ts";
import { guestConfigProblem } from "../src/arbitraries/guest-config.ts";
import type { ReachWeights } from "../src/arbitraries/guest-reach.ts";
import { runStorm } from "../src/arbitraries/guest-storm.ts";
import { failCase } from "../src/cases/case-failed.ts";
import { oracleJudge } from "../src/cases/guest-case-judge.ts";
import type { GuestWorld } from "../src/cases/guest-case-world.ts";
import type { PropertyDefinition } from "../src/cases/property.ts";

const WEIGHTS: CommandWeights & Partial<ReachWeights> = {
  map: 1,
  unmap: 3,
  raw: 0,
  attach: 1,
  pasid: 1,
  context: 2,
  rawStructure: 0,
  dma: 10,
  invalidate: 1,
  flush: 1,
  faults: 4,
  // Event registers (IM unmasked, or pulsed and masked) between faults and record reads, so FECTL.IP
  // is seen held, sent and not raised again while a status is set [ORACLE-JUDGE-10].
  events: 4,
};

/** Read every record and clear it; then FSTS must show nothing pending and no overflow. */
async function statusAfterClearing(w: WorldLike): Promise<void> {
  const first = await w.driver.readFaults();
  const pending = first.faults.length > 0;
  w.gc.check();
  if (pending && !first.status.ppf)
    failCase("fault records with F set while FSTS.PPF is clear [VTD-FAULT-7]", {
      observed: `PPF 0, ${first.faults.length} records pending`,
      permitted: ["PPF 1"],
    });
  if (pending && first.faults[0]?.index !== first.status.fri)
    failCase("FSTS.FRI does not index the first pending record [VTD-FAULT-8]", {
      observed: `FRI ${first.status.fri}`,
      permitted: first.faults.map((f) => `FRI ${f.index}`),
    });
  // Nothing faults in between: after clearing, nothing is pending.
  const again = await w.driver.readFaults({ clear: false });
  w.gc.check();
  if (again.faults.length > 0 || again.status.ppf || again.status.pfo)
    failCase("fault records or PPF/PFO survive a write-1-to-clear [VTD-FAULT-7] [VTD-FAULT-8]", {
      observed: `PPF ${+again.status.ppf} PFO ${+again.status.pfo}, ${again.faults.length} records with F`,
      permitted: ["PPF 0 PFO 0, no record with F"],
    });
}

type WorldLike = Pick<GuestWorld, "driver" | "gc">;

export const faultRecording: PropertyDefinition = {
  id: "fault-recording",
  title: "fault records, PPF/PFO/FRI, compression and write-1-to-clear are as permitted",
  rules: [
    "ORACLE-JUDGE-3",
    "ORACLE-JUDGE-5",
    "ORACLE-JUDGE-10",
    "VTD-FAULT-9",
    "VTD-FAULT-5",
    "VTD-FAULT-6",
    "VTD-FAULT-7",
    "VTD-FAULT-8",
  ],
  needs(d) {
    if (!d.supports.dmaRead) return "the model's devices cannot issue DMA reads";
    return guestConfigProblem(d);
  },
  run: (ctx) => runStorm(ctx, { weights: WEIGHTS, maxCommands: 16, after: statusAfterClearing }),
  judge: (trace, tolerance) => oracleJudge(trace, undefined, tolerance),
};
