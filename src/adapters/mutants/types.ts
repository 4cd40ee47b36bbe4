/**
 * What a mutant of the gallery is: the reference platform with one realistic bug, put in through
 * the build hooks of src/vmm/platform.ts (a method of one freshly built part wrapped or replaced).
 * [HARNESS-MUTANT-2]
 */
import type { PlatformBuildHooks } from "../../vmm/platform.ts";

export type MutantLayer = "viommu" | "host" | "vmm";

export interface Mutant {
  /** Stable id: `mutant:<id>` names the adapter. */
  id: string;
  /** The bug, in one line. */
  title: string;
  layer: MutantLayer;
  /** The spec rules the bug breaks. */
  rules: string[];
  /** The hooks that put the bug into each platform a reset builds. */
  hooks: PlatformBuildHooks;
}
