/**
 * Runs a property's cases under fast-check, one fresh case object per generated input: a case
 * failure becomes ctx.caseFailed (the trace is written at once and rewritten while shrinking,
 * [HARNESS-TRACE-6]); a guest driver that gives up (timeout, queue error, full queue) is the
 * model's failure too; anything else (an adapter or protocol error) is not a verdict and
 * propagates. With ctx.path set, exactly that case is replayed.
 */
import fc from "fast-check";
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

export async function runCases<C, T>(
  ctx: PropertyContext,
  input: fc.Arbitrary<T>,
  newCase: () => C,
  body: (c: C, value: T) => Promise<void>,
  /** The case failure an exception carries, or undefined when it is not a verdict. */
  failureOf: (e: unknown) => CaseFailure | undefined,
): Promise<PropertyOutcome> {
  let done = 0;
  let lastFailure = "";
  const property = fc.asyncProperty(input, async (value) => {
    ctx.beginCase();
    const c = newCase();
    try {
      await body(c, value);
      return true;
    } catch (e) {
      const failure = failureOf(e) ?? driverGaveUp(e);
      if (failure === undefined) throw e;
      await ctx.caseFailed(failure);
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
  if (!details.failed) return { status: "pass", runs: details.numRuns };
  const err = details.errorInstance as Error | null | undefined;
  if (err !== null && err !== undefined && !/Property failed by returning false/.test(err.message)) throw err;
  return {
    status: "fail",
    runs: details.numRuns,
    seed: details.seed,
    path: details.counterexamplePath ?? "",
    message: `${lastFailure} (after ${details.numRuns} cases, ${details.numShrinks} shrinks)`,
    shrinks: details.numShrinks,
  };
}
