/**
 * The host surface over the stdio protocol: iommufd ioctls, VFIO device ioctls (deviceIoctl) and
 * host DMA with PASID and privilege, both as decoded by the server and end to end against the
 * reference model behind `iommu-conformance serve`.
 */
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createReferenceModel } from "../../src/adapters/reference.ts";
import { createStdioModel } from "../../src/adapters/stdio/client.ts";
import { serveModel } from "../../src/adapters/stdio/server.ts";
import { ModelRequestError } from "../../src/contract/errors.ts";
import { checkRequest } from "../../src/contract/schema.ts";
import type { HostSurface, Model, PlatformConfig } from "../../src/contract/types.ts";
import {
  Errno,
  HwptAllocFlags,
  hwInfoCodec,
  hwptAllocCodec,
  IOMMU_GET_HW_INFO,
  IOMMU_HWPT_ALLOC,
  IOMMU_IOAS_ALLOC,
  IOMMU_IOAS_MAP,
  IoasMapFlags,
  ioasAllocCodec,
  ioasMapCodec,
  pointerKey,
  VFIO_DEVICE_ATTACH_IOMMUFD_PT,
  VFIO_DEVICE_DETACH_IOMMUFD_PT,
  vfioAttachCodec,
  vfioDetachCodec,
} from "../../src/host/index.ts";

const BIN = new URL("../../bin/iommu-conformance.js", import.meta.url).pathname;

/** Send request lines to serveModel in-process and collect the reply lines. */
async function exchange(model: Model, lines: string[]): Promise<Array<Record<string, unknown>>> {
  const input = new PassThrough();
  const output = new PassThrough();
  const replies: string[] = [];
  output.setEncoding("utf8");
  let buffer = "";
  output.on("data", (chunk: string) => {
    buffer += chunk;
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    replies.push(...parts);
  });
  const done = serveModel(model, input, output);
  for (const l of lines) input.write(`${l}\n`);
  input.end();
  await done;
  return replies.map((r) => JSON.parse(r));
}

/** A model that records the host calls it receives and answers them with fixed values. */
function spyModel(withDeviceIoctl: boolean): { model: Model; calls: unknown[] } {
  const calls: unknown[] = [];
  const host: HostSurface = {
    async ioctl(cmd, bytes) {
      calls.push({ ioctl: cmd, bytes: [...bytes] });
      return { errno: 0, bytes };
    },
    async dma(req) {
      calls.push({ hostDma: req });
      return { status: "aborted" };
    },
  };
  if (withDeviceIoctl) {
    host.deviceIoctl = async (devId, cmd, bytes) => {
      calls.push({ deviceIoctl: { devId, cmd, bytes: [...bytes] } });
      return { errno: Errno.EBADF, bytes: bytes.slice(0, 2) };
    };
  }
  const model: Model = {
    describe: async () => {
      const d = (await createReferenceModel()).describe();
      return { ...(await d), name: "spy" };
    },
    reset: async () => undefined,
    platform: {
      writeGuest: async () => undefined,
      readGuest: async (_gpa, len) => new Uint8Array(len),
      writeReg: async () => undefined,
      readReg: async () => 0n,
      dma: async () => ({ status: "aborted" }),
    },
    host,
    close: async () => undefined,
  };
  return { model, calls };
}

const HELLO = '{"id":1,"method":"hello","params":{"protocol":1,"suite":"0.1.0"}}';

describe("host surface requests on the wire", () => {
  it("[HARNESS-PROTO-4] [HOST-UAPI-70] deviceIoctl and hostDma priv reach the model as sent", async () => {
    const { model, calls } = spyModel(true);
    const replies = await exchange(model, [
      HELLO,
      '{"id":2,"method":"deviceIoctl","params":{"devId":3,"cmd":15223,"bytes":"10000000010000000500000007000000"}}',
      '{"id":3,"method":"hostDma","params":{"devId":1,"pasid":7,"priv":true,"iova":"0x1000","len":4,"write":false}}',
    ]);
    expect(calls).toEqual([
      {
        deviceIoctl: { devId: 3, cmd: 0x3b77, bytes: [16, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0] },
      },
      { hostDma: { devId: 1, pasid: 7, priv: true, iova: 0x1000n, len: 4, write: false } },
    ]);
    expect(replies[1]).toEqual({ id: 2, ok: true, result: { errno: Errno.EBADF, bytes: "1000" } });
    expect(replies[2]).toEqual({ id: 3, ok: true, result: { status: "aborted" } });
  });

  it("[HARNESS-PROTO-5] a host surface without device files answers deviceIoctl unsupported", async () => {
    const { model, calls } = spyModel(false);
    const replies = await exchange(model, [
      HELLO,
      '{"id":2,"method":"deviceIoctl","params":{"devId":1,"cmd":15224,"bytes":"08000000"}}',
    ]);
    expect(calls).toEqual([]);
    expect(replies[1]).toMatchObject({ id: 2, ok: false, error: { code: "unsupported" } });
  });

  it("[HARNESS-PROTO-6] the schema checks deviceIoctl params and hostDma priv", () => {
    const ok = { id: 1, method: "deviceIoctl", params: { devId: 1, cmd: 15223, bytes: "0c000000" } };
    expect(checkRequest(ok)).toEqual([]);
    expect(checkRequest({ ...ok, params: { devId: 1, cmd: 15223 } })).toEqual([
      "/params: must have required property 'bytes'",
    ]);
    expect(checkRequest({ ...ok, params: { ...ok.params, devId: -1 } })).toEqual([
      "/params/devId: must be >= 0",
    ]);
    const dma = { devId: 1, pasid: 3, iova: "0x0", len: 4, write: false };
    expect(checkRequest({ id: 2, method: "hostDma", params: { ...dma, priv: true } })).toEqual([]);
    expect(checkRequest({ id: 2, method: "hostDma", params: { ...dma, priv: 1 } })).toEqual([
      "/params/priv: must be boolean",
    ]);
  });
});

/** One VM: a scalable vIOMMU with first-stage translation and two passed-through devices. */
function hostConfig(): PlatformConfig {
  return {
    viommu: {
      scalable: true,
      awBits: 48,
      cachingMode: true,
      firstStage: true,
      secondStage: false,
      nested: false,
      passThrough: true,
      pasidBits: 8,
      snoopControl: true,
      fs1gp: false,
      fl5lp: false,
      ssLargePages: { twoMiB: true, oneGiB: false },
      hawBits: 48,
      faultRecords: 8,
      supervisorRequests: true,
      extendedAccessed: false,
    },
    devices: [
      { sid: 0x10, kind: "emulated" },
      {
        sid: 0x18,
        kind: "passthrough",
        host: { iommu: "h0", noSnoop: false, behindBridge: false, iommufd: true },
      },
      {
        sid: 0x20,
        kind: "passthrough",
        host: { iommu: "h0", noSnoop: true, behindBridge: false, iommufd: true },
      },
    ],
    memory: { size: 0x800000n, regions: [] },
    hostIommus: [
      {
        id: "h0",
        awBits: 48,
        nesting: true,
        snoopControl: true,
        fs1gp: true,
        fl5lp: false,
        pasidBits: 10,
        errata772415: false,
        kind: "intel-vtd",
        supervisorRequests: true,
        extendedAccessed: false,
      },
    ],
  };
}

/** Host calls whose results must not depend on the transport. */
async function hostScript(m: Model): Promise<unknown[]> {
  const host = m.host as HostSurface;
  const out: unknown[] = [];
  await m.reset(hostConfig());
  const info = await host.ioctl(
    IOMMU_GET_HW_INFO,
    hwInfoCodec.encode({ dev_id: 1, data_len: 24, data_uptr: 0x9000n }),
    { [pointerKey(0x9000n)]: new Uint8Array(24) },
  );
  out.push(info);
  const ioas = ioasAllocCodec.decode((await host.ioctl(IOMMU_IOAS_ALLOC, ioasAllocCodec.encode({}))).bytes);
  out.push(ioas);
  const flags = IoasMapFlags.FIXED_IOVA | IoasMapFlags.READABLE | IoasMapFlags.WRITEABLE;
  const map = ioasMapCodec.encode({
    flags,
    ioas_id: ioas.out_ioas_id,
    user_va: 0x4000_0000n + 0x20_0000n,
    length: 0x1000n,
    iova: 0x10_0000n,
  });
  out.push(await host.ioctl(IOMMU_IOAS_MAP, map));
  const alloc = await host.ioctl(
    IOMMU_HWPT_ALLOC,
    hwptAllocCodec.encode({ flags: HwptAllocFlags.PASID, dev_id: 1, pt_id: ioas.out_ioas_id }),
  );
  out.push(alloc);
  const hwpt = hwptAllocCodec.decode(alloc.bytes).out_hwpt_id;
  const deviceIoctl = host.deviceIoctl?.bind(host);
  if (deviceIoctl === undefined) throw new Error("no deviceIoctl");
  out.push(
    await deviceIoctl(
      1,
      VFIO_DEVICE_ATTACH_IOMMUFD_PT,
      vfioAttachCodec.encode({ flags: 1, pt_id: hwpt, pasid: 5 }),
    ),
  );
  await m.platform.writeGuest(0x20_0000n, new Uint8Array([1, 2, 3, 4]));
  out.push(await host.dma({ devId: 1, pasid: 5, priv: false, iova: 0x10_0000n, len: 4, write: false }));
  out.push(await host.dma({ devId: 1, pasid: 5, priv: true, iova: 0x10_0000n, len: 4, write: false }));
  out.push(await m.platform.hostView?.());
  out.push(
    await deviceIoctl(1, VFIO_DEVICE_DETACH_IOMMUFD_PT, vfioDetachCodec.encode({ flags: 1, pasid: 5 })),
  );
  out.push(await host.dma({ devId: 1, pasid: 5, iova: 0x10_0000n, len: 4, write: false }));
  out.push(await deviceIoctl(77, VFIO_DEVICE_ATTACH_IOMMUFD_PT, vfioAttachCodec.encode({ pt_id: hwpt })));
  out.push(await deviceIoctl(1, 0x3b79, new Uint8Array(16)));
  return out;
}

describe("the reference's host surface through `iommu-conformance serve`", () => {
  const models: Model[] = [];
  afterEach(async () => {
    await Promise.all(models.splice(0).map((m) => m.close()));
  });

  it("[HARNESS-PROTO-4] [HOST-UAPI-70] [HOST-UAPI-71] [HOST-XLATE-11] ioctls, device ioctls and host DMA give what the in-process reference gives", async () => {
    const remote = await createStdioModel(`node ${BIN} serve`, { timeoutMs: 20_000 });
    models.push(remote);
    const local = await createReferenceModel();
    models.push(local);
    const viaStdio = await hostScript(remote);
    const inProcess = await hostScript(local);
    expect(viaStdio).toEqual(inProcess);
    // The attach worked, the DMA read the guest's bytes, detach blocked it, bad files and commands fail.
    expect((inProcess[4] as { errno: number }).errno).toBe(0);
    expect(inProcess[5]).toEqual({ status: "ok", data: new Uint8Array([1, 2, 3, 4]) });
    expect((inProcess[8] as { errno: number }).errno).toBe(0);
    expect(inProcess[9]).toEqual({ status: "aborted" });
    expect((inProcess[10] as { errno: number }).errno).toBe(Errno.EBADF);
    expect((inProcess[11] as { errno: number }).errno).toBe(Errno.ENOTTY);
  }, 60_000);

  it("[HARNESS-PROTO-5] a refused deviceIoctl from a remote model is a ModelRequestError", async () => {
    const remote = await createStdioModel(`node ${BIN} serve`, { timeoutMs: 20_000 });
    models.push(remote);
    // Before reset the reference has no platform: the request is rejected, the process lives on.
    await expect(
      remote.host?.deviceIoctl?.(1, VFIO_DEVICE_DETACH_IOMMUFD_PT, new Uint8Array(8)),
    ).rejects.toThrow(ModelRequestError);
    expect((await remote.describe()).name).toBe("reference");
  }, 60_000);
});
