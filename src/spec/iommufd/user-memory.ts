import { Errno, fail } from "./errno.ts";

/**
 * The calling process's memory as an ioctl sees it: user buffers named by their
 * start pointer, keyed as lowercase hex ("0x1000"). A read or write must fall wholly
 * inside one buffer, else the copy fails with EFAULT, as copy_from_user/copy_to_user
 * do on an unmapped address. [HOST-UAPI-4]
 */
export class UserMemory {
  private readonly buffers: Array<{ key: string; base: bigint; data: Uint8Array }> = [];
  private readonly written = new Set<string>();

  constructor(buffers: Record<string, Uint8Array> | undefined) {
    for (const [key, data] of Object.entries(buffers ?? {})) {
      if (!/^0x[0-9a-f]+$/.test(key)) continue; // not a pointer key: not user memory
      this.buffers.push({ key, base: BigInt(key), data: data.slice() });
    }
  }

  read(ptr: bigint, len: number): Uint8Array {
    if (len === 0) return new Uint8Array(0);
    const { buf, off } = this.locate(ptr, len);
    return buf.data.slice(off, off + len);
  }

  write(ptr: bigint, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const { buf, off } = this.locate(ptr, bytes.length);
    buf.data.set(bytes, off);
    this.written.add(buf.key);
  }

  /** Buffers the kernel wrote to, whole, keyed by pointer. */
  out(): Record<string, Uint8Array> | undefined {
    if (this.written.size === 0) return undefined;
    const result: Record<string, Uint8Array> = {};
    for (const b of this.buffers) if (this.written.has(b.key)) result[b.key] = b.data;
    return result;
  }

  private locate(
    ptr: bigint,
    len: number,
  ): { buf: { key: string; base: bigint; data: Uint8Array }; off: number } {
    for (const buf of this.buffers) {
      if (ptr >= buf.base && ptr + BigInt(len) <= buf.base + BigInt(buf.data.length)) {
        return { buf, off: Number(ptr - buf.base) };
      }
    }
    return fail(Errno.EFAULT, `no user buffer covers 0x${ptr.toString(16)}+${len}`);
  }
}

/** Key of a user pointer in the buffers record. */
export function pointerKey(ptr: bigint | number): string {
  return `0x${ptr.toString(16)}`;
}
