/**
 * Runs a guest-side property's cases under fast-check: each case gets a fresh GuestCase (its own
 * oracle), a violation or a failed check becomes ctx.caseFailed, and fast-check shrinks the
 * failing input. [HARNESS-TRACE-6] An adapter or protocol error is not a verdict: it propagates.
 */
import fc from "fast-check";
import { DriverError } from "../harness/driver/errors.ts";
import { CaseFailed, GuestCase } from "../harness/guest-case.ts";
import type { PropertyContext, PropertyOutcome } from "../harness/property.ts";

/** What ended a case, when a DriverError shows the model misbehaving (a hang, a queue error). */
function modelFault(e: unknown): string | undefined {
  if (
    e instanceof DriverError &&
    (e.code === "timeout" || e.code === "queue-error" || e.code === "queue-full")
  )
    return `the guest driver gave up: ${e.message}`;
  return undefined;
}

export async function runGuestCases<T>(
  ctx: PropertyContext,
  input: fc.Arbitrary<T>,
  body: (gc: GuestCase, value: T) => Promise<void>,
): Promise<PropertyOutcome> {
  let done = 0;
  const property = fc.asyncProperty(input, async (value) => {
    ctx.beginCase();
    const gc = new GuestCase(ctx);
    try {
      await body(gc, value);
      return true;
    } catch (e) {
      const failure =
        e instanceof CaseFailed
          ? e.failure
          : modelFault(e) !== undefined
            ? { message: modelFault(e) as string }
            : undefined;
      if (failure === undefined) throw e;
      await ctx.caseFailed(failure);
      lastFailure = failure.message;
      return false;
    } finally {
      ctx.progress(++done);
    }
  });
  let lastFailure = "";
  const details = await fc.check(property, {
    numRuns: ctx.path === undefined ? ctx.runs : 1,
    seed: ctx.seed,
    ...(ctx.path === undefined ? {} : { path: ctx.path, endOnFailure: true }),
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
