import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createStdioModel } from "../../src/adapters/stdio/client.ts";
import { ProtocolError } from "../../src/contract/errors.ts";
import type { Model } from "../../src/contract/types.ts";
import { memoryModelConfig } from "../fixtures/harness/memory-model.ts";

const BROKEN = `node ${new URL("../fixtures/stdio/broken-model.mjs", import.meta.url).pathname}`;

const models: Model[] = [];
afterEach(async () => {
  await Promise.all(models.splice(0).map((m) => m.close()));
});

/** Linux: a process is running unless it is gone or a zombie (reparented zombies may not be reaped here). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function open(mode: string, trigger = "dma", timeoutMs = 5_000): Promise<Model> {
  const m = await createStdioModel(`${BROKEN} ${mode} ${trigger}`, { timeoutMs, startupTimeoutMs: 10_000 });
  models.push(m);
  return m;
}

async function failingDma(m: Model): Promise<ProtocolError> {
  await m.reset(memoryModelConfig());
  await m.platform.writeGuest(0x1000n, new Uint8Array([1]));
  const err = await m.platform
    .dma({ sid: 0x10, iova: 0x1000n, len: 4, write: false })
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ProtocolError);
  return err as ProtocolError;
}

/** After the failure: calls other than reset are refused, and reset starts a fresh, working process. */
async function expectFreshProcessAfter(m: Model, oldVersion: string): Promise<void> {
  await expect(m.platform.readGuest(0n, 1)).rejects.toThrow(/readGuest \(not sent\).*failed earlier/);
  await m.reset(memoryModelConfig());
  expect([...(await m.platform.readGuest(0n, 2))]).toEqual([0, 0]);
  expect((await m.describe()).version).not.toBe(oldVersion);
}

describe("stdio client with broken models", () => {
  it("[HARNESS-PROTO-7] [HARNESS-PROTO-8] a crash names the request, keeps the model's last stderr, and a fresh process follows", async () => {
    const m = await open("crash");
    const before = (await m.describe()).version;
    const err = await failingDma(m);
    expect(err.problem).toBe("exit");
    expect(err.method).toBe("dma");
    expect(err.message).toMatch(
      /protocol error in dma \(id \d+\): the model process ended \(exit code 3\) before replying/,
    );
    expect(err.message).toContain("broken model (crash): misbehaving now");
    expect(err.stderrTail).toContain(`broken model (crash): got dma id ${err.requestId}`);
    await expectFreshProcessAfter(m, before);
  });

  it("[HARNESS-PROTO-7] [HARNESS-PROTO-8] a hang times out per request, the process is killed, a fresh one follows", async () => {
    const m = await open("hang", "dma", 400);
    const before = (await m.describe()).version;
    const started = Date.now();
    const err = await failingDma(m);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.problem).toBe("timeout");
    expect(err.message).toMatch(
      /protocol error in dma \(id \d+\): no reply within 400 ms; the model process was killed/,
    );
    expect(err.message).toContain("misbehaving now");
    const pid = Number(before.replace("pid-", ""));
    await new Promise((r) => setTimeout(r, 100));
    expect(isRunning(pid)).toBe(false);
    await expectFreshProcessAfter(m, before);
  });

  it("[HARNESS-PROTO-7] output that is not JSON is a protocol error quoting the line", async () => {
    const m = await open("garbage");
    const before = (await m.describe()).version;
    const err = await failingDma(m);
    expect(err.problem).toBe("not-json");
    expect(err.message).toMatch(
      /dma \(id \d+\): the model wrote a line that is not JSON: "Segmentation fault\? no/,
    );
    await expectFreshProcessAfter(m, before);
  });

  it("[HARNESS-PROTO-6] [HARNESS-PROTO-7] a reply that breaks the schema is a protocol error naming the field", async () => {
    const m = await open("schema");
    const before = (await m.describe()).version;
    const err = await failingDma(m);
    expect(err.problem).toBe("schema");
    expect(err.message).toMatch(
      /dma \(id \d+\): the result breaks the protocol schema: \/result\/data: must be string/,
    );
    await expectFreshProcessAfter(m, before);
  });

  it("[HARNESS-PROTO-1] [HARNESS-PROTO-7] a reply with the wrong id is a protocol error", async () => {
    const m = await open("wrong-id", "readGuest");
    await m.reset(memoryModelConfig());
    const err = await m.platform.readGuest(0n, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).message).toMatch(
      /readGuest \(id (\d+)\): the reply carries id \d+; expected \1/,
    );
  });

  it("[HARNESS-PROTO-1] [HARNESS-PROTO-7] a line written while no request is pending is reported at the next request", async () => {
    const m = await open("unsolicited", "writeReg");
    await m.reset(memoryModelConfig());
    await m.platform.writeReg(0x10, 1n, 4);
    // Give the extra line time to arrive; the next call then reports it.
    await new Promise((r) => setTimeout(r, 200));
    const err = await m.platform.readReg(0x10, 4).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(
      /after the reply to writeReg \(id \d+\) while no request was pending/,
    );
  });

  it("[HARNESS-PROTO-7] a process that exits between requests is reported with the last request", async () => {
    const m = await open("silent-exit", "writeGuest");
    await m.reset(memoryModelConfig());
    await m.platform.writeGuest(0n, new Uint8Array([1]));
    await new Promise((r) => setTimeout(r, 400));
    await expect(m.platform.readGuest(0n, 1)).rejects.toThrow(
      /readGuest \(not sent\): the model process failed earlier and was killed \(exit: the model process ended \(exit code 0\) between requests, after replying to writeGuest \(id \d+\)\)/,
    );
    await m.reset(memoryModelConfig());
    expect([...(await m.platform.readGuest(0n, 1))]).toEqual([0]);
  });

  it("[HARNESS-PROTO-2] a model that speaks another protocol version is refused at the handshake", async () => {
    const err = await createStdioModel(`${BROKEN} version`, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/hello.*protocol version 99; this suite speaks 1/);
  });

  it("[HARNESS-PROTO-7] a command that cannot start fails the handshake with the shell's message", async () => {
    const err = await createStdioModel("/nonexistent/iommu-model --flag", { timeoutMs: 5_000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(
      /hello \(id 1\): the model process ended \(exit code 127\) before replying/,
    );
    expect((err as Error).message).toMatch(/not found|No such file/);
  });

  it("[HARNESS-PROTO-9] close lets a well-behaved model exit, and kills one that does not answer", async () => {
    const good = await createStdioModel(`${BROKEN} none`, { timeoutMs: 2_000 });
    const goodPid = Number((await good.describe()).version.replace("pid-", ""));
    await good.close();
    expect(isRunning(goodPid)).toBe(false);
    await expect(good.platform.readGuest(0n, 1)).rejects.toThrow(/the model was closed/);

    const stubborn = await createStdioModel(`${BROKEN} hang close`, { timeoutMs: 300 });
    const pid = Number((await stubborn.describe()).version.replace("pid-", ""));
    const started = Date.now();
    await stubborn.close();
    expect(Date.now() - started).toBeLessThan(3_000);
    await new Promise((r) => setTimeout(r, 100));
    expect(isRunning(pid)).toBe(false);
  });

  it("[HARNESS-PROTO-7] a 70 MiB line without a newline is 'line too long' at once, not a timeout", async () => {
    // The request timeout is long: the only way to pass is to refuse the line as it grows.
    const m = await open("long-line", "readGuest", 60_000);
    await m.reset(memoryModelConfig());
    const err = await m.platform.readGuest(0n, 8).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).problem).toBe("line-too-long");
    expect((err as Error).message).toMatch(
      /readGuest \(id \d+\): the model wrote a line longer than 67108864 bytes/,
    );
  }, 60_000);

  it("[HARNESS-PROTO-9] close ends the model's process group: a model that ignores end of input, and its helper", async () => {
    for (const mode of ["helper", "ignore-eof"]) {
      const m = await createStdioModel(`${BROKEN} ${mode}`, { timeoutMs: 500 });
      const [pid, helper] = ((await m.describe()).version.match(/\d+/g) ?? []).map(Number);
      expect(isRunning(pid ?? 0) && isRunning(helper ?? 0)).toBe(true);
      await m.close();
      await new Promise((r) => setTimeout(r, 200));
      expect({ mode, model: isRunning(pid ?? 0), helper: isRunning(helper ?? 0) }).toEqual({
        mode,
        model: false,
        helper: false,
      });
    }
  });
});
