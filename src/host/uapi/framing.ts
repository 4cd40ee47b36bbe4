/**
 * The generic iommufd ioctl framing (drivers/iommu/iommufd/main.c, iommufd_fops_ioctl;
 * include/linux/uaccess.h, copy_struct_from_user) and the driver-payload copy rules
 * (include/linux/iommu.h, __iommu_copy_struct_from_user and its array form).
 */
import { Errno, fail } from "../../spec/iommufd/errno.ts";
import type { StructLayout } from "../../spec/iommufd/layout.ts";
import type { UserMemory } from "../../spec/iommufd/user-memory.ts";

/** The ioctl argument as the kernel holds it: its own-size copy plus the caller's size. */
export interface UserCommand {
  /** The kernel's view: exactly layout.size bytes, zero-extended from the user struct. */
  readonly cmd: Uint8Array;
  /** The size the caller declared in the first u32. */
  readonly userSize: number;
}

/**
 * Read the size word and copy the struct in.
 * [HOST-UAPI-3] fewer than 4 readable bytes → EFAULT; size < minSize → EINVAL;
 * size beyond the bytes supplied → EFAULT; size > kernel size with a nonzero tail → E2BIG;
 * a shorter struct is zero-extended.
 */
export function copyStructIn(layout: StructLayout, bytes: Uint8Array): UserCommand {
  if (bytes.length < 4) fail(Errno.EFAULT, "size word not readable");
  const userSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true);
  if (userSize < layout.minSize) fail(Errno.EINVAL, `size ${userSize} < minimum ${layout.minSize}`);
  return { cmd: copyStructFromUser(layout.size, bytes, userSize), userSize };
}

/** copy_struct_from_user(dst, ksize, src, usize) over a byte array holding the user struct. */
export function copyStructFromUser(ksize: number, src: Uint8Array, usize: number): Uint8Array {
  if (usize > src.length) fail(Errno.EFAULT, `struct of ${usize} bytes, only ${src.length} readable`);
  if (usize > ksize) {
    for (let i = ksize; i < usize; i++) if (src[i] !== 0) fail(Errno.E2BIG, `nonzero byte at ${i}`);
  }
  const dst = new Uint8Array(ksize);
  dst.set(src.subarray(0, Math.min(ksize, usize)));
  return dst;
}

/**
 * iommufd_ucmd_respond: copy the kernel struct back, min(user size, kernel size) bytes,
 * into a copy of the caller's bytes. [HOST-UAPI-5]
 */
export function respond(userBytes: Uint8Array, user: UserCommand, cmd: Uint8Array): Uint8Array {
  const out = userBytes.slice();
  const n = Math.min(user.userSize, cmd.length, out.length);
  out.set(cmd.subarray(0, n));
  return out;
}

/** A driver payload named by type, length and user pointer (struct iommu_user_data). */
export interface UserData {
  type: number;
  len: number;
  uptr: bigint;
}

/**
 * __iommu_copy_struct_from_user: the type must match (EINVAL); the length must be at
 * least the minimum and at most the kernel's struct (EINVAL); then copy_struct_from_user
 * (EFAULT on an unreadable buffer). [HOST-UAPI-6]
 */
export function copyDriverData(
  mem: UserMemory,
  data: UserData,
  type: number,
  layout: StructLayout,
): Uint8Array {
  if (data.type !== type) fail(Errno.EINVAL, `driver data type ${data.type} ≠ ${type}`);
  if (data.len < layout.minSize || data.len > layout.size) {
    fail(Errno.EINVAL, `driver data length ${data.len} outside ${layout.minSize}..${layout.size}`);
  }
  return copyStructFromUser(layout.size, mem.read(data.uptr, data.len), data.len);
}

/** One element of a driver array (struct iommu_user_data_array), index < entry_num. */
export function copyDriverArrayEntry(
  mem: UserMemory,
  array: { type: number; uptr: bigint; entryLen: number; entryNum: number },
  type: number,
  index: number,
  layout: StructLayout,
): Uint8Array {
  if (array.entryNum === 0 || index >= array.entryNum) fail(Errno.EINVAL, "index beyond entry_num");
  const uptr = BigInt.asUintN(64, array.uptr + BigInt(array.entryLen) * BigInt(index));
  return copyDriverData(mem, { type: array.type, len: array.entryLen, uptr }, type, layout);
}
