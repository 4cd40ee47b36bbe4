/** World plans: which domains exist (kind, levels), which devices start attached, queue or registers. */
import fc from "fast-check";
import type { DomainKind, WorldPlan } from "../cases/guest-case-world.ts";
import type { PlatformConfig } from "../contract/types.ts";

export function worldPlanArb(config: PlatformConfig, kinds?: readonly DomainKind[]): fc.Arbitrary<WorldPlan> {
  const all: DomainKind[] = kinds === undefined ? ["second", "first", "pass-through", "nested"] : [...kinds];
  const domain = fc.record({
    kind: fc.constantFrom(...all),
    levels: fc.constantFrom<3 | 4 | 5>(3, 4, 4, 5),
    // [VTD-SS-6] [VTD-NEST-5] SSADE in two thirds of the second-stage and nested domains (only on
    // a unit with SSADS); two thirds of the nested domains with SSADE map their table pages
    // read-only at second stage, so their walks fault on the first table they read.
    ssade: fc.constantFrom(false, true, true),
    readOnlyTables: fc.constantFrom(false, true, true),
  });
  return fc.record({
    domains: fc.array(domain, { minLength: 3, maxLength: 3 }),
    attach: fc.array(fc.option(fc.integer({ min: 0, max: 2 }), { freq: 6, nil: undefined }), {
      minLength: config.devices.length,
      maxLength: config.devices.length,
    }),
    // Register-based invalidation exists for legacy mode only (scalable needs the queue).
    queued: config.viommu.scalable ? fc.constant(true) : fc.boolean(),
    // Mostly premapped, but shrinking tries without: a counterexample that needs no premapped
    // slots shrinks to a far shorter trace.
    premap: fc.oneof(
      { withCrossShrink: true },
      { arbitrary: fc.constant(false), weight: 1 },
      { arbitrary: fc.constant(true), weight: 7 },
    ),
    // A third of the worlds start with a 2 MiB page under slots 0-3.
    premapLarge: fc.oneof(
      { arbitrary: fc.constant(false), weight: 2 },
      { arbitrary: fc.constant(true), weight: 1 },
    ),
    // Mostly the smallest PASID directory and a one-page queue; shrinking goes back to them.
    pdts: fc.oneof(
      { arbitrary: fc.constant(0), weight: 3 },
      { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 1 },
    ),
    queuePages: fc.oneof(
      { arbitrary: fc.constant(0), weight: 3 },
      { arbitrary: fc.integer({ min: 1, max: 2 }), weight: 1 },
    ),
    // Now and then a register flush before the root pointer is latched (legacy mode).
    flushFirst: fc.boolean(),
  });
}
