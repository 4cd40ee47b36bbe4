/**
 * Small helpers for the mutants: wrap one method of one instance, keeping the original for the
 * cases the bug does not touch. Only the instance changes; the class and other platforms do not.
 */

import type { TranslationMode } from "../../contract/types.ts";
import type { InvalidationScope } from "../../spec/invalidation-scope.ts";
import type { VtdCaches } from "../../vtd/caches.ts";

/** Replace caches.invalidate by f, which gets the original to call. */
export function wrapCacheInvalidate(
  caches: VtdCaches,
  f: (
    original: (scope: InvalidationScope, mode: TranslationMode) => void,
    scope: InvalidationScope,
    mode: TranslationMode,
  ) => void,
): void {
  const original = caches.invalidate.bind(caches);
  caches.invalidate = (scope, mode) => f(original, scope, mode);
}
