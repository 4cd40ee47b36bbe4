import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { parseHexBytes, QtestClient, QtestError } from "../../../src/adapters/qemu/qtest-client.ts";

/** A fake QEMU: it sees each command line and answers with whatever the test scripts. */
function fakeQemu(answer: (line: string) => string[] | undefined) {
  const input = new PassThrough();
  const output = new PassThrough();
  const exits: Array<(how: string) => void> = [];
  const received: string[] = [];
  let partial = "";
  input.setEncoding("latin1");
  input.on("data", (s: string) => {
    partial += s;
    for (let nl = partial.indexOf("\n"); nl >= 0; nl = partial.indexOf("\n")) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      received.push(line);
      const reply = answer(line);
      if (reply) for (const r of reply) output.write(`${r}\n`);
    }
  });
  return {
    transport: { input, output, onExit: (cb: (how: string) => void) => exits.push(cb) },
    received,
    output,
    die: (how: string) => {
      for (const cb of exits) cb(how);
    },
  };
}

describe("qtest client", () => {
  it("[QEMU-QTEST-1] matches OK replies to commands in order and returns the words", async () => {
    const fake = fakeQemu((l) => (l.startsWith("readl") ? ["OK 0x10"] : ["OK"]));
    const q = new QtestClient(fake.transport);
    expect(await q.readMem(4, 0xfed90000n)).toBe(0x10n);
    await q.writeMem(8, 0x1000n, 0xdeadbeefn);
    expect(fake.received).toEqual(["readl 0xfed90000", "writeq 0x1000 0xdeadbeef"]);
  });

  it("[QEMU-QTEST-2] pipelines: all commands are written before any reply, replies matched by position", async () => {
    const pending: string[] = [];
    const fake = fakeQemu((l) => {
      pending.push(l);
      return undefined; // answer later, all at once
    });
    const q = new QtestClient(fake.transport);
    const replies = q.pipeline(["inl 0xcfc", "inb 0x70", "readq 0x0"]);
    await new Promise((r) => setTimeout(r, 10));
    expect(pending).toEqual(["inl 0xcfc", "inb 0x70", "readq 0x0"]);
    fake.output.write("OK 0x1\nOK 0x2\nOK 0x3\n");
    expect(await replies).toEqual([["0x1"], ["0x2"], ["0x3"]]);
  });

  it("[QEMU-QTEST-2] replies split across chunks are reassembled", async () => {
    const fake = fakeQemu(() => undefined);
    const q = new QtestClient(fake.transport);
    const a = q.command("readl 0x0");
    const b = q.command("readl 0x4");
    fake.output.write("OK 0x1");
    fake.output.write("2\r\nO");
    fake.output.write("K 0x34\n");
    expect(await a).toEqual(["0x12"]);
    expect(await b).toEqual(["0x34"]);
  });

  it("[QEMU-QTEST-3] skips IRQ lines and hands other foreign lines to the listener", async () => {
    const other: string[] = [];
    const fake = fakeQemu((l) =>
      l.startsWith("readl")
        ? ["IRQ raise 4", "vtd_dmar_fault sid 0x8 fault 1 addr 0x0 write 0", "OK 0x7"]
        : ["OK"],
    );
    const q = new QtestClient(fake.transport, { onOtherLine: (l) => other.push(l) });
    expect(await q.readMem(4, 0n)).toBe(7n);
    expect(other).toEqual(["vtd_dmar_fault sid 0x8 fault 1 addr 0x0 write 0"]);
  });

  it("[QEMU-QTEST-1] FAIL rejects that command with its name; the next command still works", async () => {
    const fake = fakeQemu((l) => (l.startsWith("bogus") ? ["FAIL Unknown command 'bogus'"] : ["OK 0x5"]));
    const q = new QtestClient(fake.transport);
    const bad = q.command("bogus 1");
    const good = q.readMem(4, 0n);
    await expect(bad).rejects.toThrow(/bogus 1.*Unknown command/);
    await expect(bad).rejects.toBeInstanceOf(QtestError);
    expect(await good).toBe(5n);
  });

  it("[QEMU-QTEST-4] a missing reply times out naming the command, and breaks the client", async () => {
    const fake = fakeQemu(() => undefined);
    const q = new QtestClient(fake.transport, { timeoutMs: 30 });
    const first = q.command("readl 0xfed9001c");
    const second = q.command("readl 0xfed90034");
    await expect(first).rejects.toThrow(/readl 0xfed9001c.*no reply within 30 ms/);
    await expect(second).rejects.toThrow(/readl 0xfed90034.*earlier command failed/);
    await expect(q.command("readl 0x0")).rejects.toThrow(/no reply within 30 ms/);
    expect(q.broken).toBeDefined();
  });

  it("[QEMU-QTEST-5] process death mid-command rejects every pending command with how it ended", async () => {
    const fake = fakeQemu(() => undefined);
    const q = new QtestClient(fake.transport);
    const a = q.command("writel 0xe0000098 0x1");
    const b = q.command("readq 0xe0000098");
    fake.die("signal SIGABRT; it said: EDU: DMA range out of bounds");
    await expect(a).rejects.toThrow(/writel 0xe0000098 0x1.*QEMU ended \(signal SIGABRT.*out of bounds/);
    await expect(b).rejects.toThrow(/readq 0xe0000098.*QEMU ended/);
    await expect(q.command("readl 0x0")).rejects.toThrow(/readl 0x0.*QEMU ended/);
  });

  it("[QEMU-QTEST-1] a reply with no pending command breaks the client", async () => {
    const fake = fakeQemu(() => undefined);
    const q = new QtestClient(fake.transport);
    fake.output.write("OK\n");
    await new Promise((r) => setTimeout(r, 5));
    await expect(q.command("readl 0x0")).rejects.toThrow(/unexpected reply/);
  });

  it("[QEMU-QTEST-6] never sends a clock_step without one decimal number, nor multi-line commands", async () => {
    const fake = fakeQemu(() => ["OK 101000000"]);
    const q = new QtestClient(fake.transport);
    await expect(q.command("clock_step ")).rejects.toThrow(/clock_step needs/);
    await expect(q.command("clock_step")).rejects.toThrow(/clock_step needs/);
    await expect(q.command("clock_step 0x10")).rejects.toThrow(/clock_step needs/);
    await expect(q.command("readl 0\nclock_step ")).rejects.toThrow(/one line/);
    expect(fake.received).toEqual([]);
    expect(await q.clockStep(101_000_000)).toBe(101_000_000n);
    expect(fake.received).toEqual(["clock_step 101000000"]);
  });

  it("[QEMU-QTEST-1] read/write encode bytes as hex and decode the read reply exactly", async () => {
    const fake = fakeQemu((l) => (l.startsWith("read ") ? ["OK 0x00ff10"] : ["OK"]));
    const q = new QtestClient(fake.transport);
    await q.write(0x2000n, new Uint8Array([1, 0xab]));
    expect(fake.received[0]).toBe("write 0x2000 0x2 0x01ab");
    expect(await q.read(0x2000n, 3)).toEqual(new Uint8Array([0, 0xff, 0x10]));
    expect(() => parseHexBytes("0x00ff", 3)).toThrow(/malformed/);
    await expect(q.read(0x2000n, 2)).rejects.toThrow(/malformed/);
  });

  it("[QEMU-QTEST-1] a malformed value reply is an error, not a wrong number", async () => {
    const fake = fakeQemu(() => ["OK zz"]);
    const q = new QtestClient(fake.transport);
    await expect(q.readMem(4, 0n)).rejects.toThrow(/malformed reply/);
  });
});
