/**
 * The shape most guest-side properties share: a generated platform and world, then a generated
 * command list run model-based (fc.asyncModelRun), every step judged by the oracle.
 */
import fc from "fast-check";
import { runGuestCases } from "../cases/guest-case-run.ts";
import type { DomainKind } from "../cases/guest-case-world.ts";
import { GuestWorld } from "../cases/guest-case-world.ts";
import type { PropertyContext, PropertyOutcome } from "../cases/property.ts";
import type { Descriptor } from "../spec/descriptor.ts";
import {
  CommandsInstances,
  commandsReplayPathOf,
  formatCommandsReplayPath,
  parseCommandsReplayPath,
} from "./commands-replay.ts";
import { avoidSet } from "./guest-avoid.ts";
import { type CommandWeights, guestCommandsArb } from "./guest-commands.ts";
import { describeConfig, type GuestConfigWants, guestPlatformArb } from "./guest-config.ts";
import type { ReachWeights } from "./guest-reach.ts";
import { worldPlanArb } from "./world-plan.ts";

export interface StormOptions {
  wants?: GuestConfigWants;
  domainKinds?: readonly DomainKind[];
  /** Reach weights (guest-reach.ts) left out are derived from the others. */
  weights: CommandWeights & Partial<ReachWeights>;
  kinds?: ReadonlyArray<Descriptor["kind"]>;
  maxCommands: number;
  /** After the commands: a global flush and wait, then these checks on the world. */
  after?: (world: GuestWorld) => Promise<void>;
}

export function runStorm(ctx: PropertyContext, o: StormOptions): Promise<PropertyOutcome> {
  const d = ctx.description;
  const avoid = avoidSet(d);
  // [HARNESS-SEED-1] each configuration makes a new command-list instance; its number rides along
  // (a constant draws nothing) so the failure's replay record can name it.
  const replay = ctx.replayPath === undefined ? undefined : parseCommandsReplayPath(ctx.replayPath);
  const instances = new CommandsInstances(replay);
  const input = instances.perCase(
    guestPlatformArb(d, o.wants).chain((config) => {
      const { instance, replayPath } = instances.create();
      return fc.tuple(
        fc.constant(config),
        worldPlanArb(config, o.domainKinds),
        guestCommandsArb({
          weights: o.weights,
          ...(o.kinds === undefined ? {} : { kinds: o.kinds }),
          pasids: config.viommu.scalable && d.supports.pasidRequests,
          writes: d.supports.dmaWrite,
          maxCommands: o.maxCommands,
          avoid,
          ...(replayPath === undefined ? {} : { replayPath }),
        }),
        fc.constant(instance),
      );
    }),
  );
  return runGuestCases(
    ctx,
    input,
    async (gc, [config, plan, commands]) => {
      gc.note(describeConfig(config));
      const world = await GuestWorld.build(gc, config, plan);
      await fc.asyncModelRun(() => ({ model: {}, real: world }), commands);
      if (o.after !== undefined) await o.after(world);
    },
    ([, , commands, instance]) => {
      const r = commandsReplayPathOf(instance, commands);
      return r === undefined ? undefined : formatCommandsReplayPath(r);
    },
  );
}
