/** How any judged case (guest or VMM) ends early: the model did something the property does not permit. */
import type { Json } from "../contract/wire.ts";
import type { CaseFailure } from "./property.ts";

/** A case ends early with this: the model did something the property does not permit. */
export class CaseFailed extends Error {
  constructor(readonly failure: CaseFailure) {
    super(failure.message);
    this.name = "CaseFailed";
  }
}

/** Fail the current case (a check of a property beyond the oracle's judgement). */
export function failCase(
  message: string,
  detail: { step?: number; observed?: Json; permitted?: Json } = {},
): never {
  throw new CaseFailed({ message, ...detail });
}
