/**
 * The server side of the stdio protocol: exposes an in-process Model on a pair of streams
 * (`iommu-conformance serve` uses stdin/stdout). Requests are handled strictly one at a time,
 * in order, each answered by exactly one reply line. [HARNESS-PROTO-1]
 */
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import {
  bytesToHex,
  decodeBufferMap,
  decodeConfig,
  decodeDmaRequest,
  decodeHostDmaRequest,
  encodeDmaResult,
  encodeHostView,
  encodeIoctlResult,
  hexToBytes,
  hexToU64,
  u64ToHex,
} from "../../contract/codec.ts";
import { checkRequest } from "../../contract/schema.ts";
import type { Model } from "../../contract/types.ts";
import {
  type ErrorCode,
  type Json,
  METHODS,
  type Method,
  type ParamsOf,
  PROTOCOL_VERSION,
  type WireReply,
  type WireRequest,
} from "../../contract/wire.ts";

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

/**
 * Serve `model` until a `close` request has been answered or the input ends; then the model
 * is closed. Resolves when done; never rejects because of what the peer sent.
 */
export async function serveModel(
  model: Model,
  input: Readable,
  output: Writable,
  options: ServeOptions = {},
): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY, terminal: false });
  let greeted = false;
  let closed = false;
  try {
    for await (const line of lines) {
      if (line.trim() === "") continue;
      const reply = await handleLine(line);
      await writeLine(output, JSON.stringify(reply));
      if (closed) break;
    }
  } finally {
    lines.close();
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
    const problems = checkRequest(message);
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
    switch (method) {
      case "describe":
        return (await model.describe()) as unknown as Json;
      case "reset":
        await model.reset(decodeConfig((request.params as ParamsOf["reset"]).config));
        return null;
      case "writeGuest": {
        const p = request.params as ParamsOf["writeGuest"];
        await model.platform.writeGuest(hexToU64(p.gpa), hexToBytes(p.data));
        return null;
      }
      case "readGuest": {
        const p = request.params as ParamsOf["readGuest"];
        return { data: bytesToHex(await model.platform.readGuest(hexToU64(p.gpa), p.len)) };
      }
      case "writeReg": {
        const p = request.params as ParamsOf["writeReg"];
        await model.platform.writeReg(p.off, hexToU64(p.value), p.width);
        return null;
      }
      case "readReg": {
        const p = request.params as ParamsOf["readReg"];
        return { value: u64ToHex(await model.platform.readReg(p.off, p.width)) };
      }
      case "dma":
        return encodeDmaResult(
          await model.platform.dma(decodeDmaRequest(request.params as ParamsOf["dma"])),
        ) as unknown as Json;
      case "hostView": {
        if (model.platform.hostView === undefined)
          throw new Refusal("unsupported", "this model has no hostView");
        return encodeHostView(await model.platform.hostView()) as unknown as Json;
      }
      case "ioctl": {
        if (model.host === undefined) throw new Refusal("unsupported", "this model has no host surface");
        const p = request.params as ParamsOf["ioctl"];
        const buffers = p.buffers === undefined ? undefined : decodeBufferMap(p.buffers);
        return encodeIoctlResult(
          await model.host.ioctl(p.cmd, hexToBytes(p.bytes), buffers),
        ) as unknown as Json;
      }
      case "deviceIoctl": {
        const deviceIoctl = model.host?.deviceIoctl?.bind(model.host);
        if (deviceIoctl === undefined)
          throw new Refusal("unsupported", "this model has no VFIO device ioctls on its host surface");
        const p = request.params as ParamsOf["deviceIoctl"];
        return encodeIoctlResult(await deviceIoctl(p.devId, p.cmd, hexToBytes(p.bytes))) as unknown as Json;
      }
      case "hostDma": {
        if (model.host === undefined) throw new Refusal("unsupported", "this model has no host surface");
        const req = decodeHostDmaRequest(request.params as ParamsOf["hostDma"]);
        return encodeDmaResult(await model.host.dma(req)) as unknown as Json;
      }
      case "close":
        closed = true;
        await model.close();
        return null;
    }
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
