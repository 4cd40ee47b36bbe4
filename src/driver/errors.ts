/**
 * Errors the guest driver raises. Each names what the driver was doing and what it saw, so a
 * failing property reports "queue wait timed out with 3 descriptors pending at IQH 0x40" rather
 * than a bare timeout. Models never throw these; only the driver does.
 */

export type DriverErrorCode =
  /** A bounded poll of a register or a status word did not see the expected value. */
  | "timeout"
  /** FSTS.IQE was set while the driver waited on the invalidation queue. */
  | "queue-error"
  /** The queue stayed full: the hardware did not advance IQH. */
  | "queue-full"
  /** Guest memory layout: no room, bad region, address outside the layout. */
  | "layout"
  /** A table builder was asked for something its tables cannot hold. */
  | "table"
  /** The model does not offer what the call needs (capability bit clear). */
  | "unsupported"
  /** A call's arguments are out of range. */
  | "argument";

export class DriverError extends Error {
  constructor(
    readonly code: DriverErrorCode,
    message: string,
    /** Structured detail for reports (register values, pending descriptors). */
    readonly detail: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "DriverError";
  }
}

export function hex(v: number | bigint): string {
  return `0x${v.toString(16)}`;
}
