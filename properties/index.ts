/**
 * The property registry: every property `iommu-conformance run` knows. Add each property's
 * definition here (see src/cases/property.ts for the interface).
 */

import type { PropertyDefinition } from "../src/cases/property.ts";
import { attachDetach } from "./attach-detach.ts";
import { cacheCoherence } from "./cache-coherence.ts";
import { coherencyMatrix } from "./coherency-matrix.ts";
import { errata772415 } from "./errata-772415.ts";
import { faultRecording } from "./fault-recording.ts";
import { hostDeviceCompatibility } from "./host-device-compatibility.ts";
import { hwptInvalidateProgress } from "./hwpt-invalidate-progress.ts";
import { invalidationForwarding } from "./invalidation-forwarding.ts";
import { ioasMappings } from "./ioas-mappings.ts";
import { nestedEquivalence } from "./nested-equivalence.ts";
import { pasidCacheGranularity } from "./pasid-cache-granularity.ts";
import { queueBehaviour } from "./queue-behaviour.ts";
import { robustness } from "./robustness.ts";
import { shadowEquivalence } from "./shadow-equivalence.ts";
import { stage2Sharing } from "./stage2-sharing.ts";
import { translationEqualsWalk } from "./translation-equals-walk.ts";
import { uapiExtensibility } from "./uapi-extensibility.ts";
import { unbindPropagation } from "./unbind-propagation.ts";

/** Guest side: the vIOMMU through memory, registers and DMA. */
export const guestProperties: PropertyDefinition[] = [
  translationEqualsWalk,
  cacheCoherence,
  pasidCacheGranularity,
  queueBehaviour,
  faultRecording,
  robustness,
];

/**
 * VMM side (passed-through devices) and host side (iommufd), cheapest first: a run (and the
 * mutants matrix) reaches a broken check the quick properties catch without waiting for the
 * slow VMM ones (a case of unbind-propagation costs some 30 times one of host-device-compatibility).
 */
export const vmmHostProperties: PropertyDefinition[] = [
  hostDeviceCompatibility,
  uapiExtensibility,
  coherencyMatrix,
  stage2Sharing,
  attachDetach,
  hwptInvalidateProgress,
  unbindPropagation,
  nestedEquivalence,
  invalidationForwarding,
  errata772415,
];

/**
 * VMM shadowing and host IOAS mappings: their own Vitest file (properties/shadow-ioas.prop.ts),
 * so the three files spread the suite over both cores.
 */
export const shadowIoasProperties: PropertyDefinition[] = [shadowEquivalence, ioasMappings];

export const properties: PropertyDefinition[] = [
  ...guestProperties,
  ...vmmHostProperties,
  ...shadowIoasProperties,
];
