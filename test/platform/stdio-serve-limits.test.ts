/**
 * The server side of the stdio protocol reads bounded lines, as the client does: a runaway
 * request is refused as it grows, not read to its end. [HARNESS-PROTO-10]
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { boundedLines, LineTooLong, MAX_LINE_BYTES } from "../../src/adapters/stdio/lines.ts";
import { BIN, ROOT } from "../harness/cli-fixtures.ts";

async function collect(chunks: Array<string | Buffer>, maxBytes: number): Promise<string[] | Error> {
  const lines: string[] = [];
  try {
    for await (const line of boundedLines(Readable.from(chunks), maxBytes)) lines.push(line);
    return lines;
  } catch (e) {
    return e as Error;
  }
}

/** The peak resident set of a live process in KiB (VmHWM), or undefined once it is gone. */
function peakKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

describe("bounded request lines", () => {
  it("[HARNESS-PROTO-10] lines across chunks, CRLF and a last line without newline; a long line throws before the input ends", async () => {
    expect(await collect(["ab", "c\r\nd", "e\n\nf"], 8)).toEqual(["abc", "de", "", "f"]);
    const tooLong = await collect(["12345\n", "123456789"], 8);
    expect(tooLong).toBeInstanceOf(LineTooLong);
    expect((tooLong as Error).message).toBe("line too long: more than 8 bytes without a newline");
    // Refused while the line grows: a source that never ends is not read to its end.
    const endless = Readable.from(
      (function* () {
        for (;;) yield Buffer.alloc(4, 0x61);
      })(),
    );
    await expect(async () => {
      for await (const _ of boundedLines(endless, 64)) void _;
    }).rejects.toThrow(LineTooLong);
  });

  it("[HARNESS-PROTO-10] serve: a 70 MiB request without a newline is 'line too long' at once, in bounded memory, exit 2", async () => {
    const child = spawn("node", [BIN, "serve"], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    child.stdin.on("error", () => undefined); // EPIPE once the server has stopped reading and exited
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, peakKiB(child.pid as number) ?? 0);
    }, 20);
    child.stdin.write('{"id":1,"method":"hello","params":{"protocol":1,"suite":"test"}}\n');
    // 70 MiB and no newline; stdin stays open, so only the limit can end the wait.
    child.stdin.write(Buffer.alloc(70 * 1024 * 1024, 0x61));
    const code = await exited;
    clearInterval(sampler);
    const lines = out.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ id: 1, ok: true });
    expect(JSON.parse(lines[1] as string)).toEqual({
      id: null,
      ok: false,
      error: {
        code: "invalid-request",
        message: `line too long: more than ${MAX_LINE_BYTES} bytes without a newline`,
      },
    });
    expect(err).toContain("serve: refused a request: line too long: more than 67108864 bytes");
    expect(err).not.toMatch(/\n\s+at /);
    expect(code).toBe(2);
    // The limit's 64 MiB held once, plus Node itself: far from the line's size times a few.
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(400 * 1024);
  }, 60_000);
});
