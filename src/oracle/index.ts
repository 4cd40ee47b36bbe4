/**
 * The permitted-outcome oracle (spec/oracle.md).
 *
 *   const oracle = new Oracle(config);                 // PlatformConfig of the reset
 *   const verdict = oracle.observe({ op, args, result }); // every platform-surface call, in order
 *   if (!verdict.ok) report(verdict.violation);        // { message, observed, permitted[] }
 *   oracle.permittedFor(req).text();                   // "completes at 0x… — <walk>" / "fault 0x… — <walk>"
 *
 * A model may cache any entry a walk could have read, evict at any time and flush more than asked,
 * so the oracle computes the set of outcomes the specification permits at each step and judges the
 * model's outcome against it. It is an online function of the step stream (reset, writeGuest,
 * readGuest, writeReg, readReg, dma), deterministic, and never looks inside a model.
 *
 * Harness duties: fill DMA target pages with fingerprints (fingerprintPage), complete queued
 * invalidations with wait descriptors whose status the guest reads back, and read the candidate
 * pages of DMA writes (oracle.unresolvedWrites) to let the oracle see where they landed.
 */

export {
  decodeFingerprint,
  type FingerprintHit,
  fingerprintPage,
  fingerprintWord,
} from "../contract/fingerprint.ts";
export { coversKey } from "./api-helpers.ts";
export type { CacheKey, StageKind } from "./keys.ts";
export {
  isOracleMethod,
  ORACLE_METHODS,
  Oracle,
  type OracleJudgement,
  type OracleMethod,
  type OracleStep,
  type PermittedSet,
  type Violation,
} from "./oracle.ts";
export type { OutcomeValue, Permitted } from "./outcome.ts";
export type { Resolved } from "./resolve.ts";
export type { DeviationContext, Relaxation, ResolvedFault, Tolerance } from "./tolerance.ts";
