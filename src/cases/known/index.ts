/**
 * The catalogue of known deviations a run can tolerate [HARNESS-KNOWN-1]: one module each, the
 * id of each a recorded QEMU finding (reference-traces/qemu/<id>.json). A run names the ones it
 * tolerates with --known; the oracle then judges each step strictly first and with these
 * relaxations only where the strict judgement fails (ORACLE-TOL-1).
 */
import type { Tolerance } from "../../oracle/index.ts";
import { cachedReadOnlyWriteNotRecorded } from "./cached-read-only-write-not-recorded.ts";
import { cachedWriteOnlyReadNotRecorded } from "./cached-write-only-read-not-recorded.ts";
import { contextReservedRecordedDespiteFpd } from "./context-reserved-recorded-despite-fpd.ts";
import { faultEventIpKeptAfterRecordsCleared } from "./fault-event-ip-kept-after-records-cleared.ts";
import { faultInfoAboveAgaw } from "./fault-info-above-agaw.ts";
import { faultRecordPpWithoutPasid } from "./fault-record-pp-without-pasid.ts";
import { faultRecordPvWithoutPasid } from "./fault-record-pv-without-pasid.ts";
import { firstStageWidthFromPasidAw } from "./first-stage-width-from-pasid-aw.ts";
import { pasidDirectoryNotPresentReason } from "./pasid-directory-not-present-reason.ts";
import { pasidDirectoryReservedNotChecked } from "./pasid-directory-reserved-not-checked.ts";
import { pasidEntryNotPresentReason } from "./pasid-entry-not-present-reason.ts";
import { pasidEntryPwsnpNotChecked } from "./pasid-entry-pwsnp-not-checked.ts";
import { passThroughAboveHawNotRecorded } from "./pass-through-above-haw-not-recorded.ts";
import { passThroughPasidEntryAwChecked } from "./pass-through-pasid-entry-aw-checked.ts";
import { scalableContextNotPresentLegacyReason } from "./scalable-context-not-present-legacy-reason.ts";
import { scalableContextReservedLegacyReason } from "./scalable-context-reserved-legacy-reason.ts";
import { scalableRootNotPresentLegacyReason } from "./scalable-root-not-present-legacy-reason.ts";
import { scalableRootReservedLegacyReason } from "./scalable-root-reserved-legacy-reason.ts";
import { scalableSecondStageReservedLegacyReason } from "./scalable-second-stage-reserved-legacy-reason.ts";
import { scalableWriteFaultLegacyReason } from "./scalable-write-fault-legacy-reason.ts";
import { secondStageReservedWritePermission } from "./second-stage-reserved-write-permission.ts";
import type { KnownDeviation } from "./types.ts";

export type { KnownDeviation } from "./types.ts";

export const KNOWN_DEVIATIONS: readonly KnownDeviation[] = [
  faultInfoAboveAgaw,
  faultRecordPvWithoutPasid,
  faultRecordPpWithoutPasid,
  cachedReadOnlyWriteNotRecorded,
  cachedWriteOnlyReadNotRecorded,
  scalableRootNotPresentLegacyReason,
  scalableRootReservedLegacyReason,
  scalableContextNotPresentLegacyReason,
  scalableWriteFaultLegacyReason,
  scalableSecondStageReservedLegacyReason,
  secondStageReservedWritePermission,
  pasidDirectoryNotPresentReason,
  passThroughAboveHawNotRecorded,
  firstStageWidthFromPasidAw,
  passThroughPasidEntryAwChecked,
  pasidEntryNotPresentReason,
  pasidDirectoryReservedNotChecked,
  scalableContextReservedLegacyReason,
  pasidEntryPwsnpNotChecked,
  faultEventIpKeptAfterRecordsCleared,
  contextReservedRecordedDespiteFpd,
];

/** The deviations with these ids; an unknown id is an error naming the known ones. */
export function knownDeviations(ids: readonly string[]): KnownDeviation[] {
  const unknown = ids.filter((id) => !KNOWN_DEVIATIONS.some((d) => d.id === id));
  if (unknown.length > 0)
    throw new Error(
      `unknown deviation ${unknown.join(", ")}; the suite can tolerate ${KNOWN_DEVIATIONS.map((d) => d.id).join(", ")}`,
    );
  return KNOWN_DEVIATIONS.filter((d) => ids.includes(d.id));
}

/** A tolerance over `deviations` whose uses are counted in `counts` (id → steps). */
export function countingTolerance(
  deviations: readonly KnownDeviation[],
  counts: Map<string, number>,
): Tolerance {
  return {
    relaxations: deviations,
    tolerated: (id) => counts.set(id, (counts.get(id) ?? 0) + 1),
  };
}
