/**
 * The server side of the stdio protocol: exposes an in-process Model on a pair of streams
 * (`iommu-conformance serve` uses stdin/stdout). Requests are handled strictly one at a time,
 * in order, each answered by exactly one reply line. Request lines are bounded (64 MiB): a longer
 * one is refused at once and ends the session. [HARNESS-PROTO-1] [HARNESS-PROTO-10]
 */
import type { Readable, Writable } from "node:stream";
import { checkRequest } from "../../contract/schema.ts";
import { decodeCall, encodeResult, invoke, isSurfaceMethod, METHODS } from "../../contract/surface.ts";
import type { Model } from "../../contract/types.ts";
import {
  type ErrorCode,
  type Json,
  type Method,
  type ParamsOf,
  PROTOCOL_VERSION,
  type WireReply,
  type WireRequest,
} from "../../contract/wire.ts";
import { boundedLines, LineTooLong } from "./lines.ts";

/** A request the server refuses, with the code it replies with. */
class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ServeOptions {
  /** Called with a one-line note for each refused or failed request (for a log on stderr). */
  log?: (line: string) => void;
}

/** How a session ended: a `close` answered, the end of the input, or a line over the limit. */
export type ServeEnd = "closed" | "end-of-input" | "line-too-long";

/**
 * Serve `model` until a `close` request has been answered, the input ends or a line is too
 * long; then the model is closed. Resolves with how it ended; never rejects because of what the
 * peer sent.
 */
export async function serveModel(
  model: Model,
  input: Readable,
  output: Writable,
  options: ServeOptions = {},
): Promise<ServeEnd> {
  let greeted = false;
  let closed = false;
  try {
    for await (const line of boundedLines(input)) {
      if (line.trim() === "") continue;
      const reply = await handleLine(line);
      await writeLine(output, JSON.stringify(reply));
      if (closed) return "closed";
    }
    return "end-of-input";
  } catch (e) {
    if (!(e instanceof LineTooLong)) throw e;
    // [HARNESS-PROTO-10] refused as soon as it passed the limit; nothing after it is read.
    options.log?.(`refused a request: ${e.message}; reading no further`);
    const reply: WireReply = { id: null, ok: false, error: { code: "invalid-request", message: e.message } };
    await writeLine(output, JSON.stringify(reply)).catch(() => undefined);
    return "line-too-long";
  } finally {
    if (!closed) await model.close().catch(() => undefined);
  }

  async function handleLine(line: string): Promise<WireReply> {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (e) {
      options.log?.(`refused a line that is not JSON: ${(e as Error).message}`);
      return {
        id: null,
        ok: false,
        error: { code: "invalid-request", message: `not JSON: ${(e as Error).message}` },
      };
    }
    const id = readableId(message);
    const problems = checkedRequest(message);
    if (problems.length > 0) {
      const method = (message as { method?: unknown }).method;
      const unknown = typeof method === "string" && !(METHODS as readonly string[]).includes(method);
      const code: ErrorCode = unknown ? "unknown-method" : "invalid-request";
      const text = unknown ? `unknown method ${JSON.stringify(method)}` : problems.join("; ");
      options.log?.(`refused request ${id ?? "?"}: ${text}`);
      return { id, ok: false, error: { code, message: text } };
    }
    const request = message as WireRequest;
    try {
      const result = await dispatch(request);
      return { id: request.id, ok: true, result };
    } catch (e) {
      const code = e instanceof Refusal ? e.code : "rejected";
      const text = e instanceof Error ? e.message : String(e);
      options.log?.(`${request.method} (id ${request.id}) failed: ${text}`);
      return { id: request.id, ok: false, error: { code, message: text } };
    }
  }

  async function dispatch(request: WireRequest): Promise<Json> {
    const method: Method = request.method;
    if (method === "hello") {
      const p = request.params as ParamsOf["hello"];
      if (p.protocol !== PROTOCOL_VERSION) {
        throw new Refusal(
          "version-mismatch",
          `this model speaks protocol version ${PROTOCOL_VERSION}, the suite asked for ${p.protocol}`,
        );
      }
      greeted = true;
      const description = await model.describe();
      return { protocol: PROTOCOL_VERSION, description } as unknown as Json;
    }
    if (!greeted) throw new Refusal("not-ready", `${method} before hello: the handshake comes first`);
    if (method === "describe") return (await model.describe()) as unknown as Json;
    if (method === "close") {
      closed = true;
      await model.close();
      return null;
    }
    if (!isSurfaceMethod(method)) throw new Refusal("unknown-method", `unknown method ${method}`);
    const value = await invoke(
      model,
      decodeCall(method, request.params as unknown as Json),
      (lacks) => new Refusal("unsupported", `this model has no ${lacks}`),
    );
    return encodeResult(method, value);
  }
}

/** The schema's problems with a request; one that cannot be checked at all is refused too. */
function checkedRequest(message: unknown): string[] {
  try {
    return checkRequest(message);
  } catch (e) {
    return [`the request cannot be checked: ${e instanceof Error ? e.message : String(e)}`];
  }
}

/** The id of a request that failed validation, when it has a usable one. */
function readableId(message: unknown): number | null {
  if (typeof message !== "object" || message === null) return null;
  const id = (message as { id?: unknown }).id;
  return typeof id === "number" && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

function writeLine(output: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    output.write(`${text}\n`, (err) => (err ? reject(err) : resolve()));
  });
}
