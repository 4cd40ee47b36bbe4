/**
 * The property registry: every property `iommu-conformance run` knows. Add each property's
 * definition here (see src/harness/property.ts for the interface).
 */
import type { PropertyDefinition } from "../src/harness/property.ts";
import { attachDetach } from "./attach-detach.ts";
import { cacheCoherence } from "./cache-coherence.ts";
import { hostDeviceCompatibility } from "./host-device-compatibility.ts";
import { hwptInvalidateProgress } from "./hwpt-invalidate-progress.ts";
import { invalidationForwarding } from "./invalidation-forwarding.ts";
import { nestedEquivalence } from "./nested-equivalence.ts";
import { unbindPropagation } from "./unbind-propagation.ts";

export const properties: PropertyDefinition[] = [
  cacheCoherence,
  // VMM side (passed-through devices)
  unbindPropagation,
  nestedEquivalence,
  invalidationForwarding,
  hostDeviceCompatibility,
  // Host side (iommufd)
  hwptInvalidateProgress,
  attachDetach,
];
