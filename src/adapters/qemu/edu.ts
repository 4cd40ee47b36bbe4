/**
 * DMA through QEMU's `edu` test device [QEMU-EDU-1..4]. edu copies between an IOVA and its
 * 4 KiB internal buffer (device addresses 0x40000-0x40fff): command 1 reads RAM into the
 * buffer (a translated DMA read), command 3 writes the buffer to RAM (a translated DMA
 * write). The copy runs from a 100 ms virtual-clock timer.
 */
import type { QtestClient } from "./qtest-client.ts";

export const EDU_BUFFER_START = 0x40000;
export const EDU_BUFFER_SIZE = 0x1000;
/** One edu DMA moves at most this much here [QEMU-EDU-2]; longer requests are split. */
export const EDU_CHUNK = 0x800;

const REG_SRC = 0x80n;
const REG_DST = 0x88n;
const REG_CNT = 0x90n;
export const REG_CMD = 0x98n;
const CMD_RUN = 1n;
const CMD_TO_RAM = 2n;
/** edu's timer is 100 ms of virtual time; step just past it [QEMU-EDU-3]. */
export const EDU_CLOCK_STEP_NS = 101_000_000;
/**
 * How long a DMA may take in wall time before it counts as hung. Under icount the timer fires
 * when QEMU's vCPU thread lets virtual time jump, which on a loaded machine can take a while of
 * real time: a count of 10,000 polls gave spurious "did not complete" errors
 * there, so the budget is time, and polls after the first few yield to let QEMU run. [QEMU-EDU-3]
 */
const DMA_WALL_BUDGET_MS = 30_000;
const BUSY_POLLS = 100;

/**
 * The buffer range edu accepts without aborting QEMU [QEMU-EDU-2]: edu checks that the
 * transfer starts inside 0x40000-0x40fff and that its end (start + count) lies strictly
 * below 0x41000; anything else is a hw_error that kills the process. Checked before every
 * command is sent.
 */
export function checkBufferRange(offset: number, len: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(len) || len <= 0) {
    throw new RangeError(`edu DMA needs a positive whole length (got offset ${offset}, len ${len})`);
  }
  const end = offset + len;
  if (offset < EDU_BUFFER_START || end >= EDU_BUFFER_START + EDU_BUFFER_SIZE) {
    throw new RangeError(
      `edu buffer range 0x${offset.toString(16)}+0x${len.toString(16)} is outside 0x40000-0x40ffe; refused`,
    );
  }
}

export class EduDevice {
  constructor(
    private readonly q: QtestClient,
    /** Guest-physical address of BAR0 (edu's registers). */
    readonly bar0: bigint,
    /** How virtual time is made to pass: clock_step (qtest accel) or icount with a halted CPU. */
    private readonly clock: "qtest" | "icount",
  ) {}

  /** Reads len bytes at iova into the buffer at offset (device address). */
  readToBuffer(iova: bigint, offset: number, len: number): Promise<void> {
    return this.run(iova, offset, len, false);
  }

  /** Writes len bytes of the buffer at offset to iova. */
  writeFromBuffer(iova: bigint, offset: number, len: number): Promise<void> {
    return this.run(iova, offset, len, true);
  }

  private async run(iova: bigint, offset: number, len: number, toRam: boolean): Promise<void> {
    checkBufferRange(offset, len);
    const b = this.bar0;
    const buf = BigInt(offset);
    const iovaWord = iova & 0xffff_ffff_ffff_ffffn;
    const [src, dst] = toRam ? [buf, iovaWord] : [iovaWord, buf];
    const cmd = toRam ? CMD_RUN | CMD_TO_RAM : CMD_RUN;
    const commands = [
      `writeq 0x${(b + REG_SRC).toString(16)} 0x${src.toString(16)}`,
      `writeq 0x${(b + REG_DST).toString(16)} 0x${dst.toString(16)}`,
      `writeq 0x${(b + REG_CNT).toString(16)} 0x${len.toString(16)}`,
      `writeq 0x${(b + REG_CMD).toString(16)} 0x${cmd.toString(16)}`,
    ];
    if (this.clock === "qtest") commands.push(`clock_step ${EDU_CLOCK_STEP_NS}`);
    commands.push(`readq 0x${(b + REG_CMD).toString(16)}`);
    const replies = await this.q.pipeline(commands);
    let status = BigInt(replies[replies.length - 1]?.[0] ?? "1");
    // Under icount the timer fires once the halted CPU lets virtual time jump; poll for it.
    const started = Date.now();
    for (let polls = 0; status & CMD_RUN; polls++) {
      if (Date.now() - started > DMA_WALL_BUDGET_MS)
        throw new Error(
          `edu DMA at 0x${iova.toString(16)} did not complete within ${DMA_WALL_BUDGET_MS / 1000} s (${polls} polls)`,
        );
      if (polls >= BUSY_POLLS) await new Promise((r) => setTimeout(r, 1));
      status = await this.q.readMem(8, b + REG_CMD);
    }
  }
}
