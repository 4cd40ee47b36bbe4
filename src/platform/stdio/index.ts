/** The stdio protocol: client adapter, server, codec and errors. See docs/protocol.md. */
export { createStdioModel, type StdioModelOptions } from "./client.ts";
export * from "./codec.ts";
export { ModelRequestError, ProtocolError, type ProtocolProblem } from "./errors.ts";
export {
  checkReply,
  checkRequest,
  checkResult,
  createAjv,
  describeErrors,
  protocolSchema,
} from "./schema.ts";
export { type ServeOptions, serveModel } from "./server.ts";
export { suiteVersion } from "./suite-version.ts";
export * from "./wire.ts";
