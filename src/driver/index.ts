/**
 * The guest-driver helpers: everything a guest IOMMU driver does, through the platform surface.
 * See docs/guest-driver.md.
 */
export * from "./context-tables.ts";
export * from "./data-pages.ts";
export * from "./driver.ts";
export * from "./entries.ts";
export * from "./errors.ts";
export * from "./faults.ts";
export * from "./guest-io.ts";
export * from "./invalidations.ts";
export * from "./layout.ts";
export * from "./page-table.ts";
export * from "./pasid-tables.ts";
export * from "./poll.ts";
export * from "./queue.ts";
export * from "./register-invalidation.ts";
export * from "./registers.ts";
export * from "./table-memory.ts";
export * from "./translation.ts";
