/**
 * Lines of a byte stream, each at most `maxBytes` long: a line that grows past the limit is
 * reported as soon as it does, and the reader stops (a runaway writer is a protocol error, not a
 * timeout or an out-of-memory). Each chunk is scanned once, so reading is linear in the input.
 * Both ends of the protocol read with it: the client the model's replies, the server the
 * suite's requests. [HARNESS-PROTO-7] [HARNESS-PROTO-10]
 */

/** The longest line either end of the protocol accepts, in bytes. [HARNESS-PROTO-7] */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private stopped = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onLine: (line: string) => void,
    private readonly onTooLong: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    while (!this.stopped) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.size + (end - start) > this.maxBytes) {
        this.stop();
        this.onTooLong();
        return;
      }
      if (nl < 0) {
        if (end > start) {
          this.parts.push(chunk.subarray(start));
          this.size += end - start;
        }
        return;
      }
      const piece = chunk.subarray(start, nl);
      const bytes = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.size = 0;
      start = nl + 1;
      this.onLine(bytes.toString("utf8").replace(/\r$/, ""));
    }
  }

  /** At the end of the input: the unterminated last line, if any, is a line too. */
  finish(): void {
    if (this.stopped || this.size === 0) return;
    const bytes = Buffer.concat(this.parts);
    this.stop();
    this.onLine(bytes.toString("utf8").replace(/\r$/, ""));
  }

  /** Read no further (after a failure). */
  stop(): void {
    this.stopped = true;
    this.parts = [];
    this.size = 0;
  }
}

/** Thrown by `boundedLines` when a line grows past the limit. */
export class LineTooLong extends Error {
  constructor(readonly maxBytes: number) {
    super(`line too long: more than ${maxBytes} bytes without a newline`);
    this.name = "LineTooLong";
  }
}

/**
 * The lines of a stream, pulled one at a time (the stream is read no faster than they are
 * consumed); throws LineTooLong as soon as a line passes `maxBytes`. [HARNESS-PROTO-10]
 */
export async function* boundedLines(
  input: AsyncIterable<Buffer | string>,
  maxBytes = MAX_LINE_BYTES,
): AsyncGenerator<string> {
  const ready: string[] = [];
  let tooLong = false;
  const reader = new LineReader(
    maxBytes,
    (line) => ready.push(line),
    () => {
      tooLong = true;
    },
  );
  for await (const chunk of input) {
    reader.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
    yield* ready.splice(0);
    if (tooLong) throw new LineTooLong(maxBytes);
  }
  reader.finish();
  yield* ready.splice(0);
}
