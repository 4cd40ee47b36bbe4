/**
 * A client of QEMU's qtest protocol over a child process's stdio [QEMU-QTEST-1..6].
 * Commands are text lines; each gets exactly one reply line starting with OK or FAIL, in
 * order, so commands are pipelined: written at once, their replies matched from a FIFO of
 * pending commands. Asynchronous `IRQ ...` lines and any other line (trace output merged
 * into the same stream) are not replies and go to `onOtherLine`.
 */
import type { Readable, Writable } from "node:stream";

/** What the client needs from a process: its stdin, its stdout and a way to learn it ended. */
export interface QtestTransport {
  input: Writable;
  output: Readable;
  /** Registers a callback run once when the process has ended (code or signal). */
  onExit(cb: (how: string) => void): void;
}

export class QtestError extends Error {
  constructor(
    message: string,
    /** The command this error is about. */
    readonly command: string,
  ) {
    super(message);
    this.name = "QtestError";
  }
}

interface Pending {
  command: string;
  resolve: (words: string[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface QtestClientOptions {
  /** Milliseconds a command may wait for its reply [QEMU-QTEST-4]; 0 = forever. */
  timeoutMs?: number;
  /** Lines that are neither replies nor IRQ notices (for example trace output). */
  onOtherLine?: (line: string) => void;
}

/** Commands the client refuses to send because they crash or wedge QEMU [QEMU-QTEST-6]. */
function checkCommand(command: string): void {
  if (/[\r\n]/.test(command)) throw new QtestError("a qtest command is one line", command);
  const words = command.split(" ");
  if (words[0] === "clock_step" && (words.length !== 2 || !/^\d+$/.test(words[1] ?? ""))) {
    // A bare `clock_step ` makes QEMU abort; always name the step.
    throw new QtestError("clock_step needs exactly one decimal number of nanoseconds", command);
  }
}

export class QtestClient {
  private readonly pending: Pending[] = [];
  private partial = "";
  private failure: Error | undefined;
  private readonly timeoutMs: number;
  private readonly onOtherLine: ((line: string) => void) | undefined;
  /** Commands sent since creation (for measurements). */
  sent = 0;

  constructor(
    private readonly transport: QtestTransport,
    options: QtestClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.onOtherLine = options.onOtherLine;
    transport.output.setEncoding("latin1");
    transport.output.on("data", (chunk: string) => this.receive(chunk));
    transport.output.on("error", (err: Error) => this.fail(new Error(`qtest output failed: ${err.message}`)));
    transport.input.on("error", (err: Error) => this.fail(new Error(`qtest input failed: ${err.message}`)));
    transport.onExit((how) => this.fail(new Error(`QEMU ended (${how})`)));
  }

  /** The error that ended this client, if any; every later command is rejected with it. */
  get broken(): Error | undefined {
    return this.failure;
  }

  /** Sends one command; resolves with the words after OK, rejects on FAIL, timeout or exit. */
  command(command: string): Promise<string[]> {
    try {
      checkCommand(command);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.failure) return Promise.reject(this.wrap(this.failure, command));
    return new Promise<string[]>((resolve, reject) => {
      const entry: Pending = { command, resolve, reject, timer: undefined };
      if (this.timeoutMs > 0) {
        entry.timer = setTimeout(() => {
          // Replies are matched by position: after a lost reply none can be trusted [QEMU-QTEST-4].
          this.fail(new Error(`no reply within ${this.timeoutMs} ms`), entry);
        }, this.timeoutMs);
        entry.timer.unref?.();
      }
      this.pending.push(entry);
      this.sent++;
      this.transport.input.write(`${command}\n`);
    });
  }

  /** Sends several commands at once [QEMU-QTEST-2]; resolves with each reply's words, in order. */
  pipeline(commands: readonly string[]): Promise<string[][]> {
    return Promise.all(commands.map((c) => this.command(c)));
  }

  // --- typed helpers -----------------------------------------------------------------

  async readMem(width: 1 | 2 | 4 | 8, addr: bigint): Promise<bigint> {
    return parseValue(await this.command(`read${suffix(width)} ${hex(addr)}`), `read${suffix(width)}`);
  }

  async writeMem(width: 1 | 2 | 4 | 8, addr: bigint, value: bigint): Promise<void> {
    await this.command(`write${suffix(width)} ${hex(addr)} ${hex(value)}`);
  }

  async inPort(width: 1 | 2 | 4, port: number): Promise<number> {
    return Number(parseValue(await this.command(`in${suffix(width)} ${hex(port)}`), `in${suffix(width)}`));
  }

  async outPort(width: 1 | 2 | 4, port: number, value: number): Promise<void> {
    await this.command(`out${suffix(width)} ${hex(port)} ${hex(value)}`);
  }

  /** Guest-physical bytes (qtest `read`, hex-encoded reply). */
  async read(addr: bigint, len: number): Promise<Uint8Array> {
    if (len === 0) return new Uint8Array(0);
    const words = await this.command(`read ${hex(addr)} ${hex(len)}`);
    return parseHexBytes(words[0] ?? "", len);
  }

  async write(addr: bigint, bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    await this.command(`write ${hex(addr)} ${hex(bytes.length)} 0x${Buffer.from(bytes).toString("hex")}`);
  }

  async memset(addr: bigint, len: number, byte: number): Promise<void> {
    if (len === 0) return;
    await this.command(`memset ${hex(addr)} ${hex(len)} ${hex(byte & 0xff)}`);
  }

  /** Advances virtual time (qtest accelerator only); returns the new clock in ns. */
  async clockStep(ns: bigint | number): Promise<bigint> {
    const words = await this.command(`clock_step ${BigInt(ns).toString(10)}`);
    return parseValue(words, "clock_step");
  }

  // --- reply handling ------------------------------------------------------------------

  private receive(chunk: string): void {
    this.partial += chunk;
    let nl = this.partial.indexOf("\n");
    while (nl >= 0) {
      const line = this.partial.slice(0, nl).replace(/\r$/, "");
      this.partial = this.partial.slice(nl + 1);
      this.line(line);
      nl = this.partial.indexOf("\n");
    }
  }

  private line(line: string): void {
    const isOk = line === "OK" || line.startsWith("OK ");
    const isFail = line === "FAIL" || line.startsWith("FAIL ");
    if (!isOk && !isFail) {
      // [QEMU-QTEST-3] IRQ notices and foreign lines are never replies.
      if (!line.startsWith("IRQ ")) this.onOtherLine?.(line);
      return;
    }
    const entry = this.pending.shift();
    if (!entry) {
      this.fail(new Error(`unexpected reply with no command pending: ${line}`));
      return;
    }
    if (entry.timer) clearTimeout(entry.timer);
    const words = line.split(" ").slice(1);
    if (isOk) entry.resolve(words);
    else entry.reject(new QtestError(`qtest FAIL for "${entry.command}": ${words.join(" ")}`, entry.command));
  }

  /** Ends the client: every pending command (and every later one) is rejected, naming it. */
  private fail(err: Error, culprit?: Pending): void {
    if (!this.failure) this.failure = err;
    const all = this.pending.splice(0);
    for (const p of all) {
      if (p.timer) clearTimeout(p.timer);
      const reason = p === culprit || !culprit ? err : new Error(`an earlier command failed: ${err.message}`);
      p.reject(this.wrap(reason, p.command));
    }
  }

  private wrap(err: Error, command: string): QtestError {
    return new QtestError(`qtest command "${command}" failed: ${err.message}`, command);
  }
}

function suffix(width: 1 | 2 | 4 | 8): string {
  return width === 1 ? "b" : width === 2 ? "w" : width === 4 ? "l" : "q";
}

function hex(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

function parseValue(words: string[], what: string): bigint {
  const w = words[0];
  if (w === undefined || !/^(0x[0-9a-fA-F]+|\d+)$/.test(w)) {
    throw new QtestError(`malformed reply to ${what}: "OK ${words.join(" ")}"`, what);
  }
  return BigInt(w);
}

/** Decodes `0xHEX` of exactly len bytes. */
export function parseHexBytes(word: string, len: number): Uint8Array {
  const digits = word.startsWith("0x") ? word.slice(2) : word;
  if (digits.length !== len * 2 || !/^[0-9a-fA-F]*$/.test(digits)) {
    throw new QtestError(`malformed read reply (${word.length} chars for ${len} bytes)`, "read");
  }
  return new Uint8Array(Buffer.from(digits, "hex"));
}
