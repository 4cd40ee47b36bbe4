/**
 * Linux errno values (asm-generic/errno-base.h, errno.h) as the iommufd and VFIO
 * ioctls return them (negated in the kernel; positive here). See spec/host-uapi.md.
 */
export const Errno = {
  OK: 0,
  ENOENT: 2,
  E2BIG: 7,
  EBADF: 9,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOTTY: 25,
  ENOSPC: 28,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
} as const;

export type ErrnoValue = (typeof Errno)[keyof typeof Errno];

/** Name of an errno value, for reports ("22 EINVAL"). */
export function errnoName(value: number): string {
  for (const [name, v] of Object.entries(Errno)) if (v === value) return name;
  return `E${value}`;
}

/** Thrown inside the host model to abort an ioctl with an errno; never escapes ioctl(). */
export class IoctlError extends Error {
  constructor(
    readonly errno: number,
    message?: string,
  ) {
    super(message ?? errnoName(errno));
  }
}

/** Abort the current ioctl with errno (and a reason for diagnostics). */
export function fail(errno: number, reason?: string): never {
  throw new IoctlError(errno, reason);
}
