/**
 * Byte-level ioctl inputs for uAPI extensibility: which struct, the size the caller declares
 * (below the minimum, the minimum, between, the kernel's, above it), how many bytes are really
 * readable, zero or nonzero tails, unknown flag bits, nonzero reserved fields and bad object ids.
 * [HOST-UAPI-2] [HOST-UAPI-3] [HOST-UAPI-5] [HOST-UAPI-70]
 */
import fc from "fast-check";

export type UapiStruct =
  | "ioas-alloc"
  | "ioas-map"
  | "ioas-unmap"
  | "hwpt-alloc"
  | "hw-info"
  | "destroy"
  | "vfio-attach";

/** Minimum and kernel sizes (HOST-UAPI-2; VFIO: minsz and the size with the PASID field). */
export const STRUCT_SIZES: Record<UapiStruct, { min: number; full: number }> = {
  "ioas-alloc": { min: 12, full: 12 },
  "ioas-map": { min: 40, full: 40 },
  "ioas-unmap": { min: 24, full: 24 },
  "hwpt-alloc": { min: 24, full: 48 },
  "hw-info": { min: 32, full: 40 },
  destroy: { min: 8, full: 8 },
  "vfio-attach": { min: 12, full: 16 },
};

export type SizeClass = "tiny" | "below-min" | "min" | "between" | "full" | "above";

export interface UapiInput {
  struct: UapiStruct;
  size: SizeClass;
  /** Bytes past the kernel's size (for "above"): 8 of them, zero or not. */
  tail: "zero" | "nonzero";
  /** Fewer bytes supplied than the size declares. */
  shortBuffer: boolean;
  unknownFlag: boolean;
  reserved: boolean;
  badId: boolean;
}

export function uapiInputArb(): fc.Arbitrary<UapiInput> {
  const rare = fc.oneof(
    { weight: 3, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  );
  return fc.record({
    struct: fc.constantFrom<UapiStruct>(
      "ioas-alloc",
      "ioas-map",
      "ioas-unmap",
      "hwpt-alloc",
      "hw-info",
      "destroy",
      "vfio-attach",
    ),
    size: fc.constantFrom<SizeClass>("tiny", "below-min", "min", "between", "full", "above", "above", "full"),
    tail: fc.constantFrom("zero" as const, "nonzero" as const),
    shortBuffer: fc.oneof(
      { weight: 6, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    unknownFlag: rare,
    reserved: rare,
    badId: rare,
  });
}

/** The size the caller declares for a size class. */
export function declaredSize(s: UapiStruct, c: SizeClass): number {
  const { min, full } = STRUCT_SIZES[s];
  switch (c) {
    case "tiny":
      return 2;
    case "below-min":
      return min - 4;
    case "min":
      return min;
    case "between":
      return min < full ? min + ((full - min) / 2 - (((full - min) / 2) % 4)) : min;
    case "full":
      return full;
    case "above":
      return full + 8;
  }
}
