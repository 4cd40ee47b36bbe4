/**
 * Lines of a byte stream, each at most `maxBytes` long: a line that grows past the limit is
 * reported as soon as it does, and the reader stops (a runaway writer is a protocol error, not a
 * timeout or an out-of-memory). Each chunk is scanned once, so reading is linear in the input.
 * [HARNESS-PROTO-7]
 */
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

  /** Read no further (after a failure). */
  stop(): void {
    this.stopped = true;
    this.parts = [];
    this.size = 0;
  }
}
