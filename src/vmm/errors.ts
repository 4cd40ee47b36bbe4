/**
 * Why the VMM refuses a platform configuration. reset() rejects with one of these; `kind`
 * names the check (spec/vmm.md, VMM-COMPAT-* and VMM-SHADOW-1) and the message names the values.
 */
export type VmmErrorKind =
  | "config"
  | "aw-bits"
  | "backend"
  | "iommu-type"
  | "fs1gp"
  | "bridge"
  | "nesting"
  | "pasid-width"
  | "fl5lp"
  | "supervisor"
  | "extended-accessed"
  | "caching-mode"
  | "host";

export class VmmConfigError extends Error {
  constructor(
    readonly kind: VmmErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "VmmConfigError";
  }
}
