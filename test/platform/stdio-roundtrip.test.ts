import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createStdioModel } from "../../src/adapters/stdio/client.ts";
import { serveModel } from "../../src/adapters/stdio/server.ts";
import { bytesToHex, encodeConfig, hexToBytes, hexToU64, u64ToHex } from "../../src/contract/codec.ts";
import { ModelRequestError } from "../../src/contract/errors.ts";
import { checkRequest } from "../../src/contract/schema.ts";
import type { Model } from "../../src/contract/types.ts";
import { createMemoryModel, memoryModelConfig } from "../fixtures/harness/memory-model.ts";

const SERVE = `node --import tsx ${new URL("../fixtures/harness/serve-memory-model.ts", import.meta.url).pathname}`;

/** Send request lines to serveModel in-process and collect the reply lines. */
async function exchange(model: Model, lines: string[]): Promise<unknown[]> {
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

describe("codec", () => {
  it("[HARNESS-PROTO-3] 64-bit values are canonical lowercase hex with 0x", () => {
    expect(u64ToHex(0n)).toBe("0x0");
    expect(u64ToHex(0xdead_beefn)).toBe("0xdeadbeef");
    expect(u64ToHex((1n << 64n) - 1n)).toBe("0xffffffffffffffff");
    expect(() => u64ToHex(1n << 64n)).toThrow(RangeError);
    expect(() => u64ToHex(-1n)).toThrow(RangeError);
    expect(hexToU64("0xffffffffffffffff")).toBe((1n << 64n) - 1n);
    expect(() => hexToU64("0x00")).toThrow(/canonical/);
    expect(() => hexToU64("0xABC")).toThrow(/canonical/);
  });

  it("[HARNESS-PROTO-3] bytes are two lowercase hex digits each, empty is empty", () => {
    expect(bytesToHex(new Uint8Array([0, 0xab, 0x7f]))).toBe("00ab7f");
    expect(bytesToHex(new Uint8Array(0))).toBe("");
    expect([...hexToBytes("00ab7f")]).toEqual([0, 0xab, 0x7f]);
    expect(() => hexToBytes("abc")).toThrow(RangeError);
    expect(() => hexToBytes("AB")).toThrow(RangeError);
  });
});

describe("serveModel in-process", () => {
  it("[HARNESS-PROTO-1] [HARNESS-PROTO-2] answers hello and each request with one reply echoing its id", async () => {
    const config = JSON.stringify(encodeConfig(memoryModelConfig()));
    const replies = await exchange(createMemoryModel(), [
      '{"id":1,"method":"hello","params":{"protocol":1,"suite":"0.1.0"}}',
      `{"id":2,"method":"reset","params":{"config":${config}}}`,
      '{"id":3,"method":"writeGuest","params":{"gpa":"0x1000","data":"0102"}}',
      '{"id":4,"method":"readGuest","params":{"gpa":"0x1000","len":3}}',
      '{"id":5,"method":"close","params":{}}',
      '{"id":6,"method":"describe","params":{}}',
    ]);
    expect(replies).toHaveLength(5);
    expect(replies[0]).toMatchObject({
      id: 1,
      ok: true,
      result: { protocol: 1, description: { name: "memory-double" } },
    });
    expect(replies[1]).toEqual({ id: 2, ok: true, result: null });
    expect(replies[2]).toEqual({ id: 3, ok: true, result: null });
    expect(replies[3]).toEqual({ id: 4, ok: true, result: { data: "010200" } });
    expect(replies[4]).toEqual({ id: 5, ok: true, result: null });
  });

  it("[HARNESS-PROTO-2] [HARNESS-PROTO-5] refuses requests before hello and a wrong protocol version", async () => {
    const replies = await exchange(createMemoryModel(), [
      '{"id":1,"method":"describe","params":{}}',
      '{"id":2,"method":"hello","params":{"protocol":2,"suite":"9"}}',
    ]);
    expect(replies[0]).toMatchObject({ id: 1, ok: false, error: { code: "not-ready" } });
    expect(replies[1]).toMatchObject({ id: 2, ok: false, error: { code: "version-mismatch" } });
  });

  it("[HARNESS-PROTO-5] [HARNESS-PROTO-6] reports bad lines with precise codes and keeps serving", async () => {
    const replies = await exchange(createMemoryModel(), [
      "this is not json",
      '{"id":7,"method":"frobnicate","params":{}}',
      '{"id":8,"method":"hello","params":{"protocol":1,"suite":"x"}}',
      '{"id":9,"method":"readReg","params":{"off":16,"width":2}}',
      '{"id":10,"method":"writeGuest","params":{"gpa":"0x10","data":"00"}}',
      '{"id":11,"method":"hostView","params":{}}',
    ]);
    expect(replies[0]).toMatchObject({ id: null, ok: false, error: { code: "invalid-request" } });
    expect(replies[1]).toMatchObject({ id: 7, ok: false, error: { code: "unknown-method" } });
    expect(replies[2]).toMatchObject({ id: 8, ok: true });
    expect(replies[3]).toMatchObject({ id: 9, ok: false, error: { code: "invalid-request" } });
    expect((replies[3] as { error: { message: string } }).error.message).toContain("/params/width");
    // The model itself refuses: no platform before reset.
    expect(replies[4]).toMatchObject({
      id: 10,
      ok: false,
      error: { code: "rejected", message: "reset first: no platform yet" },
    });
    expect(replies[5]).toMatchObject({ id: 11, ok: false, error: { code: "unsupported" } });
  });
});

describe("stdio client against serveModel in a child process", () => {
  const models: Model[] = [];
  afterEach(async () => {
    await Promise.all(models.splice(0).map((m) => m.close()));
  });

  it("[HARNESS-PROTO-4] every surface call gives what the in-process model gives", async () => {
    const remote = await createStdioModel(`${SERVE} --host`, { timeoutMs: 10_000 });
    models.push(remote);
    const local = createMemoryModel({ withHost: true });
    const config = memoryModelConfig([0x10, 0x21]);

    const script = async (m: Model): Promise<unknown[]> => {
      const out: unknown[] = [];
      await m.reset(config);
      await m.platform.writeGuest(0x2000n, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
      out.push([...(await m.platform.readGuest(0x1ffen, 12))]);
      await m.platform.writeReg(0x20, 0xfedc_ba98_7654_3210n, 8);
      await m.platform.writeReg(0x24, 0x1111_2222n, 4);
      out.push(
        await m.platform.readReg(0x20, 8),
        await m.platform.readReg(0x20, 4),
        await m.platform.readReg(0x24, 4),
      );
      out.push(await m.platform.dma({ sid: 0x21, iova: 0x2004n, len: 4, write: false }));
      out.push(
        await m.platform.dma({ sid: 0x10, iova: 0x3000n, len: 2, write: true, data: new Uint8Array([9, 9]) }),
      );
      out.push([...(await m.platform.readGuest(0x3000n, 2))]);
      out.push(await m.platform.dma({ sid: 0x99, iova: 0n, len: 4, write: false }));
      out.push(await m.platform.dma({ sid: 0x10, iova: 0xffff_ffff_ffff_f000n, len: 8, write: false }));
      out.push(await m.platform.hostView?.());
      out.push(await m.host?.ioctl(0x3b80, new Uint8Array([8, 0, 0, 0]), { "0x1000": new Uint8Array([1]) }));
      out.push(await m.host?.dma({ devId: 1, iova: 0n, len: 4, write: false }));
      return out;
    };
    const viaStdio = await script(remote);
    const inProcess = await script(local);
    expect(viaStdio).toEqual(inProcess);
    expect(viaStdio[4]).toEqual({ status: "ok", data: new Uint8Array([5, 6, 7, 8]) });
    expect((await remote.describe()).name).toBe("memory-double");
  });

  it("[HARNESS-PROTO-5] a refusal from a healthy model is a ModelRequestError and the process lives on", async () => {
    const remote = await createStdioModel(SERVE, { timeoutMs: 10_000 });
    models.push(remote);
    await remote.reset(memoryModelConfig());
    const err = await remote.platform.writeGuest(0xfff_ffffn, new Uint8Array(4)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelRequestError);
    expect((err as Error).message).toMatch(
      /writeGuest \(id \d+\) refused by the model \[rejected\]: guest access/,
    );
    const cfg = { ...memoryModelConfig(), viommu: { ...memoryModelConfig().viommu, awBits: 57 as const } };
    await expect(remote.reset(cfg)).rejects.toThrow(
      /reset \(id \d+\) refused by the model \[rejected\]: unsupported awBits 57/,
    );
    await remote.reset(memoryModelConfig());
    expect([...(await remote.platform.readGuest(0n, 2))]).toEqual([0, 0]);
    expect(remote.host).toBeUndefined();
    expect(remote.platform.hostView).toBeUndefined();
  });

  it("[HARNESS-PROTO-3] [HARNESS-PROTO-6] a 4 MiB writeGuest and a 16 MiB readGuest (the largest) cross codec, schema and serve", async () => {
    const big = 4 * 1024 * 1024;
    const data = new Uint8Array(big).map((_, i) => (i * 7) & 0xff);
    // The codec and the schema alone (a hex pattern repeated per byte overflowed the stack here).
    expect([...hexToBytes(bytesToHex(data)).subarray(big - 4)]).toEqual([...data.subarray(big - 4)]);
    expect(() => hexToBytes(`${bytesToHex(data)}0`)).toThrow(RangeError);
    const request = { id: 1, method: "writeGuest", params: { gpa: "0x0", data: bytesToHex(data) } };
    expect(checkRequest(request)).toEqual([]);
    expect(checkRequest({ ...request, params: { gpa: "0x0", data: `${request.params.data}A` } })).toEqual([
      "/params/data: must be a hex byte string (two lowercase hex digits a byte)",
    ]);

    const remote = await createStdioModel(SERVE, { timeoutMs: 30_000 });
    models.push(remote);
    const size = 0x200_0000n;
    await remote.reset({
      ...memoryModelConfig(),
      memory: { size, regions: [{ gpa: 0n, size, readOnly: false }] },
    });
    await remote.platform.writeGuest(0x10_0000n, data);
    const back = await remote.platform.readGuest(0n, 16 * 1024 * 1024);
    expect(back.length).toBe(16 * 1024 * 1024);
    expect(Buffer.compare(back.subarray(0x10_0000, 0x10_0000 + big), data)).toBe(0);
    expect(back[0x10_0000 + big]).toBe(0);
  }, 60_000);
});
