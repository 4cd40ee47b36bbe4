/** The stdio protocol: client adapter, server, codec and errors. See docs/protocol.md. */

export * from "../../contract/codec.ts";
export { ModelRequestError, ProtocolError, type ProtocolProblem } from "../../contract/errors.ts";
export {
  checkReply,
  checkRequest,
  checkResult,
  createAjv,
  describeErrors,
  protocolSchema,
} from "../../contract/schema.ts";
export { suiteVersion } from "../../contract/suite-version.ts";
export { METHODS, SURFACE, SURFACE_METHODS } from "../../contract/surface.ts";
export * from "../../contract/wire.ts";
export { createStdioModel, type StdioModelOptions } from "./client.ts";
export { type ServeOptions, serveModel } from "./server.ts";
