/**
 * One trace step as a call on a Model: decode the step's args, make the call, encode what
 * came back. Errors become outcomes too, so a trace keeps the step that failed. [HARNESS-TRACE-2]
 */
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
} from "../contract/codec.ts";
import { ModelRequestError, ProtocolError } from "../contract/errors.ts";
import type { Model } from "../contract/types.ts";
import type { Json, ParamsOf } from "../contract/wire.ts";
import type { StepError, StepOp, StepOutcome } from "./types.ts";

export function errorOutcome(e: unknown): StepError {
  if (e instanceof ModelRequestError) return { code: e.code, message: e.reason };
  if (e instanceof ProtocolError) return { code: "protocol", message: e.message };
  return { code: "exception", message: e instanceof Error ? e.message : String(e) };
}

/** Make the call a step describes; never throws. */
export async function performStep(model: Model, op: StepOp, args: Json): Promise<StepOutcome> {
  try {
    return { result: await call(model, op, args) };
  } catch (e) {
    return { error: errorOutcome(e) };
  }
}

async function call(model: Model, op: StepOp, args: Json): Promise<Json> {
  switch (op) {
    case "reset":
      await model.reset(decodeConfig((args as ParamsOf["reset"]).config));
      return null;
    case "writeGuest": {
      const p = args as ParamsOf["writeGuest"];
      await model.platform.writeGuest(hexToU64(p.gpa), hexToBytes(p.data));
      return null;
    }
    case "readGuest": {
      const p = args as ParamsOf["readGuest"];
      return { data: bytesToHex(await model.platform.readGuest(hexToU64(p.gpa), p.len)) };
    }
    case "writeReg": {
      const p = args as ParamsOf["writeReg"];
      await model.platform.writeReg(p.off, hexToU64(p.value), p.width);
      return null;
    }
    case "readReg": {
      const p = args as ParamsOf["readReg"];
      return { value: u64ToHex(await model.platform.readReg(p.off, p.width)) };
    }
    case "dma":
      return encodeDmaResult(
        await model.platform.dma(decodeDmaRequest(args as unknown as ParamsOf["dma"])),
      ) as unknown as Json;
    case "hostView":
      if (model.platform.hostView === undefined)
        throw new ModelRequestError("hostView", 0, "unsupported", "the adapter has no hostView");
      return encodeHostView(await model.platform.hostView()) as unknown as Json;
    case "ioctl": {
      if (model.host === undefined)
        throw new ModelRequestError("ioctl", 0, "unsupported", "the adapter has no host surface");
      const p = args as unknown as ParamsOf["ioctl"];
      const buffers = p.buffers === undefined ? undefined : decodeBufferMap(p.buffers);
      return encodeIoctlResult(
        await model.host.ioctl(p.cmd, hexToBytes(p.bytes), buffers),
      ) as unknown as Json;
    }
    case "deviceIoctl": {
      const deviceIoctl = model.host?.deviceIoctl?.bind(model.host);
      if (deviceIoctl === undefined)
        throw new ModelRequestError("deviceIoctl", 0, "unsupported", "the adapter has no VFIO device ioctls");
      const p = args as unknown as ParamsOf["deviceIoctl"];
      return encodeIoctlResult(await deviceIoctl(p.devId, p.cmd, hexToBytes(p.bytes))) as unknown as Json;
    }
    case "hostDma":
      if (model.host === undefined)
        throw new ModelRequestError("hostDma", 0, "unsupported", "the adapter has no host surface");
      return encodeDmaResult(
        await model.host.dma(decodeHostDmaRequest(args as unknown as ParamsOf["hostDma"])),
      ) as unknown as Json;
  }
}
