/**
 * Runs a guest-side property's cases under fast-check: each case gets a fresh GuestCase (its own
 * oracle), a violation or a failed check becomes ctx.caseFailed, and fast-check shrinks the
 * failing input. [HARNESS-TRACE-6] An adapter or protocol error is not a verdict: it propagates.
 */
import type fc from "fast-check";
import { CaseFailed } from "./case-failed.ts";
import { GuestCase } from "./guest-case.ts";
import type { PropertyContext, PropertyOutcome } from "./property.ts";
import { runCases } from "./run-cases.ts";

export function runGuestCases<T>(
  ctx: PropertyContext,
  input: fc.Arbitrary<T>,
  body: (gc: GuestCase, value: T) => Promise<void>,
  replayOf?: (value: T) => string | undefined,
): Promise<PropertyOutcome> {
  return runCases(
    ctx,
    input,
    () => new GuestCase(ctx),
    body,
    (e) => (e instanceof CaseFailed ? e.failure : undefined),
    replayOf,
  );
}
