/**
 * The mutant gallery: `mutant:<id>` adapters, each the reference platform with one realistic
 * bug (src/adapters/mutants/<id>.ts says which and which rule it breaks), spread over the
 * vIOMMU, the host IOMMU and the VMM glue. The suite's power is how many it kills.
 * [HARNESS-MUTANT-1] [HARNESS-MUTANT-2]
 */

import type { Model } from "../contract/types.ts";
import { contextDsiIgnoresFm } from "./mutants/context-dsi-ignores-fm.ts";
import { domainInvDidIgnored } from "./mutants/domain-inv-did-ignored.ts";
import { domainInvKeepsPsc } from "./mutants/domain-inv-keeps-psc.ts";
import { errataRoNestParent } from "./mutants/errata-ro-nest-parent.ts";
import { faultCodesLegacy } from "./mutants/fault-codes-legacy.ts";
import { faultEventMaskIgnored } from "./mutants/fault-event-mask-ignored.ts";
import { fpdOwnEntryIgnored } from "./mutants/fpd-own-entry-ignored.ts";
import { fsAccessedNotSet } from "./mutants/fs-accessed-not-set.ts";
import { fsPointerAsHpa } from "./mutants/fs-pointer-as-hpa.ts";
import { fs1gpUnchecked } from "./mutants/fs1gp-unchecked.ts";
import { hawUnchecked } from "./mutants/haw-unchecked.ts";
import { invalidateEntryNumKept } from "./mutants/invalidate-entry-num-kept.ts";
import { largePageOffset } from "./mutants/large-page-offset.ts";
import { noncoherentIntoEnforcing } from "./mutants/noncoherent-into-enforcing.ts";
import { npCachedWithoutCm } from "./mutants/np-cached-without-cm.ts";
import { pasidGlobalNoUnbind } from "./mutants/pasid-global-no-unbind.ts";
import { pasidIotlbNotForwarded } from "./mutants/pasid-iotlb-not-forwarded.ts";
import { pasidPsiBindsAbsent } from "./mutants/pasid-psi-binds-absent.ts";
import { pasidPsiExistingOnly } from "./mutants/pasid-psi-existing-only.ts";
import { psiMaskOffByOne } from "./mutants/psi-mask-off-by-one.ts";
import { sreUnchecked } from "./mutants/sre-unchecked.ts";
import { structTailAccepted } from "./mutants/struct-tail-accepted.ts";
import type { Mutant, MutantLayer } from "./mutants/types.ts";
import { vmmFs1gpUnchecked } from "./mutants/vmm-fs1gp-unchecked.ts";
import { vmmHostWidthUnchecked } from "./mutants/vmm-host-width-unchecked.ts";
import { waitBeforeInvalidation } from "./mutants/wait-before-invalidation.ts";
import { writeLeafOnly } from "./mutants/write-leaf-only.ts";
import { createReferenceModel } from "./reference.ts";

export type { Mutant, MutantLayer } from "./mutants/types.ts";

/** Every mutant, vIOMMU first, then the VMM glue, then the host. */
export const MUTANTS: readonly Mutant[] = [
  psiMaskOffByOne,
  domainInvDidIgnored,
  domainInvKeepsPsc,
  contextDsiIgnoresFm,
  npCachedWithoutCm,
  largePageOffset,
  writeLeafOnly,
  hawUnchecked,
  fs1gpUnchecked,
  sreUnchecked,
  faultCodesLegacy,
  fpdOwnEntryIgnored,
  faultEventMaskIgnored,
  fsAccessedNotSet,
  waitBeforeInvalidation,
  pasidGlobalNoUnbind,
  pasidPsiBindsAbsent,
  pasidPsiExistingOnly,
  pasidIotlbNotForwarded,
  vmmHostWidthUnchecked,
  vmmFs1gpUnchecked,
  structTailAccepted,
  invalidateEntryNumKept,
  errataRoNestParent,
  noncoherentIntoEnforcing,
  fsPointerAsHpa,
];

export interface MutantInfo {
  id: string;
  title: string;
  layer: MutantLayer;
  rules: string[];
}

/** The built-in mutants, for `list mutants`, the kill matrix and adapter specs. */
export function listMutants(): MutantInfo[] {
  return MUTANTS.map(({ id, title, layer, rules }) => ({ id, title, layer, rules: [...rules] }));
}

/**
 * `mutant:<id>`: the reference model (same options: context=N, pasid=N, iotlb=N) with that
 * mutant's bug in every platform it builds; it describes itself as `mutant:<id>`.
 */
export async function createMutantModel(id: string, options: Record<string, string> = {}): Promise<Model> {
  const mutant = MUTANTS.find((m) => m.id === id);
  if (mutant === undefined)
    throw new Error(`unknown mutant "${id}"; known mutants: ${MUTANTS.map((m) => m.id).join(", ")}`);
  const model = await createReferenceModel(options, mutant.hooks);
  const describe = model.describe.bind(model);
  model.describe = async () => ({ ...(await describe()), name: `mutant:${id}` });
  return model;
}
