/**
 * Seed replay of properties built on fc.commands. [HARNESS-SEED-1]
 *
 * fast-check follows a shrink path by shrinking again without running the cases on the way; a
 * command list shrinks only to the commands that ran, which such a replay cannot know. fast-check
 * records them per `fc.commands` instance (its "replayPath") and takes the record back through
 * `fc.commands(…, { replayPath })`. A command list chained from a generated configuration is a new
 * instance for each configuration tried, so the record names the instance too: its number in
 * creation order counted from the generation of the failing case (a replay generates that case
 * alone, then walks the same shrink streams as the run did) and its replayPath, written
 * `N@REPLAYPATH`.
 */
import fc from "fast-check";
import type { CommandsReplayPath } from "./commands-replay-path.ts";

export {
  type CommandsReplayPath,
  formatCommandsReplayPath,
  parseCommandsReplayPath,
} from "./commands-replay-path.ts";

/**
 * Numbers the fc.commands instances of one fast-check run and hands the replayed one its record.
 */
export class CommandsInstances {
  private next = 0;

  constructor(private readonly replay?: CommandsReplayPath) {}

  /** `arb`, counting its instances anew at each generated case (not at each shrink). */
  perCase<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> {
    return new CountPerCase(arb, () => {
      this.next = 0;
    });
  }

  /** A new instance: its number, and the replayPath to build it with (only the replayed one). */
  create(): { instance: number; replayPath?: string } {
    const instance = this.next++;
    return this.replay?.instance === instance ? { instance, replayPath: this.replay.path } : { instance };
  }
}

/**
 * The record of the instance that made `commands` (a generated command list), read from the
 * comment fast-check appends to its text; undefined when nothing was shrunk (nothing to record).
 */
export function commandsReplayPathOf(
  instance: number,
  commands: Iterable<unknown>,
): CommandsReplayPath | undefined {
  const m = /\/\*replayPath="([^"]*)"\*\/$/.exec(String(commands));
  if (m === null || m[1] === ":" || m[1] === undefined) return undefined;
  return { instance, path: m[1] };
}

/** An arbitrary that tells when it generates a case; shrinking is the inner one's. */
class CountPerCase<T> extends fc.Arbitrary<T> {
  constructor(
    private readonly inner: fc.Arbitrary<T>,
    private readonly onGenerate: () => void,
  ) {
    super();
  }

  generate(mrng: fc.Random, biasFactor: number | undefined): fc.Value<T> {
    this.onGenerate();
    return this.inner.generate(mrng, biasFactor);
  }

  canShrinkWithoutContext(value: unknown): value is T {
    return this.inner.canShrinkWithoutContext(value);
  }

  shrink(value: T, context: unknown): fc.Stream<fc.Value<T>> {
    return this.inner.shrink(value, context);
  }
}
