/**
 * The client side of the stdio protocol: a Model whose every call is a request to a child
 * process speaking docs/protocol.md. Crashes, hangs, non-JSON output and replies that
 * break the schema become ProtocolErrors naming the request; the process is then killed,
 * and the next reset (or describe) starts a fresh one. [HARNESS-PROTO-7] [HARNESS-PROTO-8]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { ModelRequestError, ProtocolError, type ProtocolProblem } from "../../contract/errors.ts";
import { checkReply, checkResult } from "../../contract/schema.ts";
import { suiteVersion } from "../../contract/suite-version.ts";
import { decodeResult, encodeArgs, offers, surfaceModel } from "../../contract/surface.ts";
import type { Model, ModelDescription } from "../../contract/types.ts";
import {
  type Json,
  type Method,
  type ParamsOf,
  PROTOCOL_VERSION,
  type ResultOf,
} from "../../contract/wire.ts";
import { LineReader, MAX_LINE_BYTES } from "./lines.ts";

export interface StdioModelOptions {
  /** Longest wait for any one reply, in milliseconds. [HARNESS-PROTO-8] */
  timeoutMs: number;
  /** Longest wait for the process to start and answer hello; default max(timeoutMs, 30000). */
  startupTimeoutMs?: number;
  /** How many of the model's last stderr lines to keep for error messages; default 20. */
  stderrLines?: number;
  /** Working directory and environment of the process; default the suite's own. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Each stderr line of the model, as it arrives (for a verbose log). */
  onStderr?: (line: string) => void;
}

/** Longest reply line accepted (64 MiB): a runaway writer is a protocol error, not an OOM. */
/** After the process exits, how long to wait for its pipes to drain. */
const DRAIN_MS = 250;

interface Pending {
  method: Method;
  id: number;
  resolve(line: string): void;
  reject(error: ProtocolError): void;
}

/** One model process. */
class Connection {
  failure: ProtocolError | undefined;
  private readonly child: ChildProcess;
  private readonly stderrTail: string[] = [];
  private readonly stdout: LineReader;
  private stderrBuffer = "";
  private pending: Pending | undefined;
  private last: { method: Method; id: number } | undefined;
  private closing = false;
  private groupEnded = false;
  private readonly gone: Promise<void>;

  constructor(
    command: string,
    private readonly options: StdioModelOptions,
    private readonly nextId: () => number,
  ) {
    // detached: the model gets its own process group, so a kill reaches whatever the shell started.
    this.child = spawn(command, {
      shell: true,
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      cwd: options.cwd,
      env: options.env ?? process.env,
    });
    this.stdout = new LineReader(
      MAX_LINE_BYTES,
      (line) => {
        if (line.trim() !== "") this.onLine(line);
      },
      () => {
        const at = this.pending ?? this.last;
        this.fail(
          "line-too-long",
          at?.method ?? "hello",
          at?.id,
          `the model wrote a line longer than ${MAX_LINE_BYTES} bytes`,
        );
      },
    );
    this.child.stderr?.setEncoding("utf8");
    this.child.stdout?.on("data", (chunk: Buffer) => this.stdout.push(chunk));
    this.child.stderr?.on("data", (chunk: string) => this.onStderr(chunk));
    // A write to a dead process fails with EPIPE; the exit handler reports it.
    this.child.stdin?.on("error", () => undefined);
    this.gone = new Promise((resolve) => {
      let settled = false;
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (settled) return;
        settled = true;
        this.flushStderr();
        this.onGone(code, signal);
        resolve();
      };
      this.child.on("close", done);
      this.child.on("exit", (code, signal) => setTimeout(() => done(code, signal), DRAIN_MS).unref());
      this.child.on("error", (err) => {
        this.stderrTail.push(`(could not start: ${err.message})`);
        done(null, null);
      });
    });
  }

  get tail(): string[] {
    return [...this.stderrTail];
  }

  async request<M extends Method>(method: M, params: ParamsOf[M], timeoutMs: number): Promise<ResultOf[M]> {
    if (this.failure !== undefined) {
      throw new ProtocolError(
        "dead",
        method,
        undefined,
        `the model process failed earlier and was killed (${this.failure.problem}: ${this.failure.detail}); the next reset starts a fresh one`,
        this.failure.stderrTail,
      );
    }
    const id = this.nextId();
    this.last = { method, id };
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail("timeout", method, id, `no reply within ${timeoutMs} ms; the model process was killed`);
      }, timeoutMs);
      this.pending = {
        method,
        id,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.stdin?.write(`${JSON.stringify({ id, method, params })}\n`);
    });
    let reply: unknown;
    try {
      reply = JSON.parse(line);
    } catch {
      throw this.fail("not-json", method, id, `the model wrote a line that is not JSON: ${quote(line)}`);
    }
    const envelope = checkReply(reply);
    if (envelope.length > 0) {
      throw this.fail(
        "schema",
        method,
        id,
        `the reply breaks the protocol schema: ${envelope.join("; ")}; reply: ${quote(line)}`,
      );
    }
    const r = reply as {
      id: number | null;
      ok: boolean;
      result?: unknown;
      error?: { code: string; message: string };
    };
    if (r.id !== id) {
      throw this.fail("id-mismatch", method, id, `the reply carries id ${String(r.id)}; expected ${id}`);
    }
    if (!r.ok) {
      const error = r.error as { code: string; message: string };
      if (error.code === "version-mismatch") throw this.fail("version", method, id, error.message);
      throw new ModelRequestError(method, id, error.code, error.message);
    }
    const problems = checkResult(method, r.result);
    if (problems.length > 0) {
      throw this.fail(
        "schema",
        method,
        id,
        `the result breaks the protocol schema: ${problems.join("; ")}; reply: ${quote(line)}`,
      );
    }
    return r.result as ResultOf[M];
  }

  /** Ask the model to close, then make sure the process is gone. */
  async close(timeoutMs: number): Promise<void> {
    if (this.failure === undefined && !this.closing) {
      this.closing = true;
      try {
        await this.request("close", {}, timeoutMs);
        // [HARNESS-PROTO-9] end of input is the second signal to exit.
        this.child.stdin?.end();
        await Promise.race([this.gone, delay(timeoutMs)]);
      } catch {
        // A model that cannot close cleanly is killed below; there is nothing left to report to.
      }
    }
    this.closing = true;
    this.kill();
    await Promise.race([this.gone, delay(DRAIN_MS * 2)]);
  }

  /** Record the failure, reject the pending request, kill the process; returns the error. */
  private fail(
    problem: ProtocolProblem,
    method: Method,
    id: number | undefined,
    detail: string,
  ): ProtocolError {
    if (this.failure === undefined) {
      this.failure = new ProtocolError(problem, method, id, detail, this.tail);
      this.kill();
    }
    const pending = this.pending;
    this.pending = undefined;
    pending?.reject(this.failure);
    return this.failure;
  }

  /**
   * [HARNESS-PROTO-9] End the model's process group: the model and whatever it started, even when
   * the model itself has exited (its helpers live on in the group). Once: the group id is not
   * used again after that.
   */
  private kill(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.groupEnded) return;
    this.groupEnded = true;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // No such group (already empty): the model alone, if it still runs.
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    }
  }

  private onLine(line: string): void {
    if (this.failure !== undefined) return;
    const pending = this.pending;
    if (pending === undefined) {
      const after =
        this.last === undefined
          ? "before any request"
          : `after the reply to ${this.last.method} (id ${this.last.id})`;
      this.fail(
        "unsolicited",
        this.last?.method ?? "hello",
        this.last?.id,
        `the model wrote a line ${after} while no request was pending: ${quote(line)}`,
      );
      return;
    }
    this.pending = undefined;
    pending.resolve(line);
  }

  private onStderr(chunk: string): void {
    this.stderrBuffer += chunk;
    const lines = this.stderrBuffer.split("\n");
    this.stderrBuffer = lines.pop() ?? "";
    for (const l of lines) this.keepStderr(l);
  }

  private flushStderr(): void {
    if (this.stderrBuffer !== "") this.keepStderr(this.stderrBuffer);
    this.stderrBuffer = "";
  }

  private keepStderr(line: string): void {
    const clean = line.replace(/\r$/, "");
    this.options.onStderr?.(clean);
    this.stderrTail.push(clean.length > 500 ? `${clean.slice(0, 500)}…` : clean);
    const keep = this.options.stderrLines ?? 20;
    while (this.stderrTail.length > keep) this.stderrTail.shift();
  }

  private onGone(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.failure !== undefined) return;
    const how = signal !== null ? `killed by ${signal}` : `exit code ${String(code)}`;
    if (this.pending !== undefined) {
      this.fail(
        "exit",
        this.pending.method,
        this.pending.id,
        `the model process ended (${how}) before replying`,
      );
    } else if (this.closing) {
      this.failure = new ProtocolError(
        "dead",
        "close",
        this.last?.id,
        "the model process was closed",
        this.tail,
      );
    } else {
      this.fail(
        "exit",
        this.last?.method ?? "hello",
        this.last?.id,
        `the model process ended (${how}) between requests, after replying to ${this.last?.method ?? "nothing"} (id ${String(this.last?.id)})`,
      );
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function quote(line: string): string {
  return JSON.stringify(line.length > 200 ? `${line.slice(0, 200)}…` : line);
}

/**
 * Start `command` (through the shell), shake hands, and return a Model that forwards every
 * call as a request. Rejects with a ProtocolError if the handshake fails.
 */
export async function createStdioModel(command: string, options: StdioModelOptions): Promise<Model> {
  let counter = 0;
  const nextId = (): number => ++counter;
  const startupMs = options.startupTimeoutMs ?? Math.max(options.timeoutMs, 30_000);

  const open = async (): Promise<{ conn: Connection; description: ModelDescription }> => {
    const conn = new Connection(command, options, nextId);
    try {
      const hello = await conn.request(
        "hello",
        { protocol: PROTOCOL_VERSION, suite: suiteVersion() },
        startupMs,
      );
      if (hello.protocol !== PROTOCOL_VERSION) {
        await conn.close(options.timeoutMs);
        throw new ProtocolError(
          "version",
          "hello",
          undefined,
          `the model speaks protocol version ${hello.protocol}; this suite speaks ${PROTOCOL_VERSION}`,
        );
      }
      return { conn, description: hello.description };
    } catch (e) {
      await conn.close(options.timeoutMs);
      throw e;
    }
  };

  let { conn, description } = await open();
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  /** Calls go out one at a time, in the order they were made. */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };
  const call = <M extends Method>(method: M, params: ParamsOf[M], fresh = false): Promise<ResultOf[M]> =>
    serial(async () => {
      if (closed) throw new ProtocolError("dead", method, undefined, "the model was closed");
      // [HARNESS-PROTO-8] after a failure, the next case starts on a fresh process.
      if (fresh && conn.failure !== undefined) ({ conn, description } = await open());
      return conn.request(method, params, options.timeoutMs);
    });

  // Every surface call is a request; a reset starts a fresh process after a failure.
  return surfaceModel({
    describe: () => call("describe", {}, true),
    close: () =>
      serial(async () => {
        if (closed) return;
        closed = true;
        await conn.close(options.timeoutMs);
      }),
    has: (method) => offers(description, method),
    call: async (c) => {
      const result = await call(c.op, encodeArgs(c) as never, c.op === "reset");
      return decodeResult(c.op, result as unknown as Json);
    },
  });
}
