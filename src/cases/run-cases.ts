/**
 * Runs a property's cases under fast-check, one fresh case object per generated input: a case
 * failure becomes ctx.caseFailed (the trace is written at once and rewritten while shrinking,
 * [HARNESS-TRACE-6]); a guest driver that gives up (timeout, queue error, full queue) is the
 * model's failure too, and so is a model that dies (HARNESS-REPLAY-4); anything else (an adapter or protocol error) is not a verdict and
 * propagates. With ctx.path set, exactly that case is replayed.
 */
import { setImmediate as nextMacrotask } from "node:timers/promises";
import fc from "fast-check";
import { ModelDied } from "../contract/errors.ts";
import { DriverError } from "../driver/errors.ts";
import type { CaseFailure, PropertyContext, PropertyOutcome } from "./property.ts";

/** The failure a DriverError stands for when it shows the model misbehaving. */
export function driverGaveUp(e: unknown): CaseFailure | undefined {
  if (
    e instanceof DriverError &&
    (e.code === "timeout" || e.code === "queue-error" || e.code === "queue-full")
  )
    return { message: `the guest driver gave up: ${e.message}` };
  return undefined;
}

/** [HARNESS-REPLAY-4] A model that died serving a call has failed the case. */
export function modelDied(e: unknown): CaseFailure | undefined {
  return e instanceof ModelDied ? { message: e.message } : undefined;
}

/**
 * A case the model could not carry through (protocol error, crash, timeout, exception): not a
 * verdict but a finding. fast-check's seed and path of that case come with it; the harness wrote
 * its trace when it happened (PropertyContext.caseBroke). [HARNESS-BROKEN-1]
 */
export class CaseBroke extends Error {
  constructor(
    readonly error: unknown,
    readonly seed: number,
    readonly path: string,
    readonly replayPath?: string,
  ) {
    super(error instanceof Error ? error.message : String(error));
    this.name = "CaseBroke";
  }
}

/** Thrown at the start of a case once the run is interrupted: fast-check ends without running it. */
export class RunInterrupted extends Error {
  override readonly name = "RunInterrupted";
}

/**
 * Called at the start of every case: lets signals and timers in (an in-process model runs on
 * microtasks only) and stops at once after an interrupt. [HARNESS-STOP-1]
 */
export async function enterCase(ctx: PropertyContext): Promise<void> {
  await nextMacrotask();
  const interrupted = ctx.interrupted?.();
  if (interrupted !== undefined) throw new RunInterrupted(interrupted);
}

/** The outcome of a run the time limit cut short, or undefined. [HARNESS-STOP-2] */
export function cutShort(ctx: PropertyContext, details: fc.RunDetails<unknown>): PropertyOutcome | undefined {
  const wanted = ctx.path === undefined ? ctx.runs : 1;
  if (details.failed || !details.interrupted || details.numRuns >= wanted) return undefined;
  return {
    status: "incomplete",
    runs: details.numRuns,
    reason: `the time limit stopped it after ${details.numRuns} of ${wanted} cases`,
  };
}

export async function runCases<C, T>(
  ctx: PropertyContext,
  input: fc.Arbitrary<T>,
  newCase: () => C,
  body: (c: C, value: T) => Promise<void>,
  /** The case failure an exception carries, or undefined when it is not a verdict. */
  failureOf: (e: unknown) => CaseFailure | undefined,
  /** What replaying this input by seed and path needs beside them (PropertyContext.replayPath). */
  replayOf?: (value: T) => string | undefined,
): Promise<PropertyOutcome> {
  let done = 0;
  let lastFailure = "";
  let failed = false;
  /** The first case the model could not carry through; no case runs after it. */
  let broken: { error: unknown } | undefined;
  const property = fc.asyncProperty(input, async (value) => {
    // [HARNESS-BROKEN-1] after a break nothing more runs: shrinking a model's death would restart
    // it for every candidate, and the case kept is the one that broke (or the smallest failure).
    if (broken !== undefined) return true;
    await enterCase(ctx);
    ctx.beginCase();
    const c = newCase();
    try {
      await body(c, value);
      return true;
    } catch (e) {
      const failure = failureOf(e) ?? driverGaveUp(e) ?? modelDied(e);
      if (failure === undefined) {
        broken = { error: e };
        await ctx.caseBroke?.(e, failed);
        // After a failure this candidate does not replace it: the smallest failure stays the result.
        if (failed) return true;
        throw e;
      }
      await ctx.caseFailed(failure);
      failed = true;
      lastFailure = failure.message;
      return false;
    } finally {
      ctx.progress(++done);
    }
  });
  const details = await fc.check(property, {
    numRuns: ctx.path === undefined ? ctx.runs : 1,
    seed: ctx.seed,
    ...(ctx.path === undefined ? {} : { path: ctx.path, endOnFailure: true }),
    ...(ctx.shrink === false ? { endOnFailure: true } : {}),
    ...(ctx.timeLimitMs === undefined ? {} : { interruptAfterTimeLimit: ctx.timeLimitMs }),
  });
  const incomplete = cutShort(ctx, details as fc.RunDetails<unknown>);
  if (incomplete !== undefined) return incomplete;
  if (!details.failed) return { status: "pass", runs: details.numRuns };
  const err = details.errorInstance as Error | null | undefined;
  // An interrupt is the run's end, not a case's verdict (its case became fast-check's counterexample).
  if (err instanceof RunInterrupted) throw err;
  const counterexample = details.counterexample?.[0];
  const replayPath = counterexample === undefined ? undefined : replayOf?.(counterexample);
  const replay = replayPath === undefined ? {} : { replayPath };
  const path = details.counterexamplePath ?? "";
  if (broken !== undefined && !failed) throw new CaseBroke(broken.error, details.seed, path, replayPath);
  if (!failed && err !== null && err !== undefined) throw err;
  const brokeToo =
    broken === undefined
      ? ""
      : `; then, while shrinking, the model broke: ${broken.error instanceof Error ? broken.error.message : String(broken.error)}`;
  return {
    status: "fail",
    runs: details.numRuns,
    seed: details.seed,
    path,
    ...replay,
    message: `${lastFailure} (after ${details.numRuns} cases, ${details.numShrinks} shrinks)${brokeToo}`,
    shrinks: details.numShrinks,
  };
}
