/**
 * The public entry of the `iommu-conformance` package: the reference model, the adapter
 * contract a model implements, a helper to wrap or decorate a model, the property catalogue
 * and the runner. [HARNESS-PACKAGE-1]
 *
 *   import { createReferenceModel, wrapModel, properties, runProperties } from "iommu-conformance";
 */

export { properties } from "../properties/index.ts";
export { createReferenceModel } from "./adapters/reference.ts";
export { serveModel } from "./adapters/stdio/server.ts";
export type { CaseFailure, PropertyContext, PropertyDefinition, PropertyOutcome } from "./cases/property.ts";
export { ModelRequestError, ProtocolError } from "./contract/errors.ts";
export { suiteVersion } from "./contract/suite-version.ts";
export * from "./contract/types.ts";
export { type ModelDecoration, wrapModel } from "./contract/wrap.ts";
export type { PropertyResult, PropertyStatus, RunOptions, RunReport } from "./runner/runner.ts";
export { runProperties } from "./runner/runner.ts";
