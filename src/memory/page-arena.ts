/**
 * Zeroed blocks carved from larger buffers: memories that allocate a 4 KiB page at a time (the
 * model's sparse memory, the oracle's shadow) get one ArrayBuffer per many pages instead of one
 * per page, which is most of what allocating a page costs (and what the garbage collector then
 * tracks). Blocks are never reused: a block reads as zeros until its owner writes it.
 */
export class PageArena {
  private buffer: ArrayBuffer | undefined;
  private used = 0;
  private chunk: number;

  /**
   * Buffers start at `first` bytes and double up to `max`: a memory that stays small stays small,
   * and buffers stay below the size the C allocator maps on its own (128 KiB by default).
   */
  constructor(
    first = 4 * 4096,
    private readonly max = 16 * 4096,
  ) {
    this.chunk = first;
  }

  /** A fresh zeroed block of `bytes` bytes (a multiple of 8), 8-byte aligned in its buffer. */
  block(bytes: number): { buffer: ArrayBuffer; byteOffset: number } {
    if (this.buffer === undefined || this.used + bytes > this.buffer.byteLength) {
      this.buffer = new ArrayBuffer(Math.max(this.chunk, bytes));
      this.used = 0;
      this.chunk = Math.min(this.chunk * 2, this.max);
    }
    const byteOffset = this.used;
    this.used += bytes;
    return { buffer: this.buffer, byteOffset };
  }
}
