/** Small exports for properties that want the oracle's coverage rules directly. */
import type { TranslationMode } from "../contract/types.ts";
import type { InvalidationScope } from "../spec/invalidation-scope.ts";
import { covers } from "./coverage.ts";
import type { CacheKey } from "./keys.ts";

/** [ORACLE-COV-1..6] Whether completing `scope` removes every value cached under `key`. */
export function coversKey(scope: InvalidationScope, key: CacheKey, mode: TranslationMode): boolean {
  return covers(scope, key, mode);
}
