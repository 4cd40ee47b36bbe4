/**
 * The invalidation queue, driven as a guest driver drives it (VT-d 5.10 §6.5.2, §11.4.9): IQA
 * (base, DW, QS) with IQT = 0, GCMD.QIE confirmed by GSTS.QIES; descriptors written at IQT with
 * wrap-around and then IQT advanced; completion known only from a wait descriptor's status write,
 * polled in guest memory. An invalidation queue error (FSTS.IQE) is detected while waiting and
 * reported with IQH and the descriptor it stopped at.
 */
import { type Descriptor, encodeDescriptor } from "../spec/descriptor.ts";
import { Fsts, Gcmd, Iqa, Iqercd, Reg } from "../spec/register-offsets.ts";
import { DriverError, hex } from "./errors.ts";
import type { GuestMemory } from "./guest-io.ts";
import { readGuestU32, writeGuestU32, writeGuestWords } from "./guest-io.ts";
import { describeDescriptor, waitNop, waitWithStatus } from "./invalidations.ts";
import type { Span, StatusWords } from "./layout.ts";
import { DEFAULT_MAX_POLLS, type PollOptions, pollUntil } from "./poll.ts";
import { globalCommand, type RegisterAccess, readGsts } from "./registers.ts";

export type QueueSurface = RegisterAccess & GuestMemory;

/** A descriptor to queue: a decoded one, or raw words (bad descriptors for robustness runs). */
export type QueuedDescriptor = Descriptor | { raw: readonly bigint[]; label?: string };

export interface QueueSetup {
  /** Descriptor width: 128 (IQA.DW = 0) or 256 (IQA.DW = 1; needed for PASID descriptors). */
  dw: 128 | 256;
  /** IQA.QS: the queue is 2^qs 4 KiB pages. */
  qs: number;
}

/** What one slot of the queue holds, for reports. */
export interface SlotRecord {
  /** Byte offset in the queue (the IQH/IQT value that names it). */
  offset: number;
  label: string;
  words: bigint[];
}

export interface QueueErrorDetail {
  fsts: number;
  iqh: number;
  iqt: number;
  /** IQERCD.IQEI: why the queue stopped (§11.4.9.9). */
  iqei: number;
  /** The descriptor at IQH, where processing stopped. */
  failed?: SlotRecord;
  /** Descriptors from IQH up to IQT, not known to be processed. */
  pending: SlotRecord[];
}

export class InvalidationQueueDriver {
  private width: 128 | 256 = 128;
  private sizeBytes = 0;
  private tail = 0;
  private head = 0;
  private enabled = false;
  private statusSeq = 0;
  private slots = new Map<number, SlotRecord>();

  constructor(
    private readonly io: QueueSurface,
    private readonly area: Span,
    private readonly status: StatusWords,
    private readonly poll: PollOptions = {},
  ) {}

  get descriptorBytes(): 16 | 32 {
    return this.width === 256 ? 32 : 16;
  }

  /** Queue slots (one always stays empty, so at most slots - 1 descriptors are outstanding). */
  get slotCount(): number {
    return this.sizeBytes / this.descriptorBytes;
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  get base(): number {
    return this.area.base;
  }

  /**
   * [HARNESS-DRV-6] [VTD-QI-1] [VTD-QI-3] Program and enable the queue: disable it first if it is on, then
   * IQT = 0, IQA = base | DW | QS, GCMD.QIE = 1 and wait for GSTS.QIES.
   */
  async setup(s: QueueSetup): Promise<void> {
    if (!Number.isInteger(s.qs) || s.qs < 0 || s.qs > 7) throw new DriverError("argument", `IQA.QS ${s.qs}`);
    const bytes = 4096 << s.qs;
    if (bytes > this.area.size)
      throw new DriverError(
        "layout",
        `queue of 2^${s.qs} pages does not fit the ${this.area.size / 4096}-page queue area`,
      );
    if (((await readGsts(this.io)) >>> Gcmd.QIE) & 1) await this.disable();
    this.width = s.dw;
    this.sizeBytes = bytes;
    await this.io.writeReg(Reg.IQT, 0n, 8);
    await this.io.writeReg(
      Reg.IQA,
      BigInt(this.area.base) | (s.dw === 256 ? 1n << BigInt(Iqa.DW) : 0n) | BigInt(s.qs),
      8,
    );
    await globalCommand(this.io, Gcmd.QIE, true, this.poll);
    this.tail = 0;
    this.head = 0;
    this.slots.clear();
    this.enabled = true;
  }

  /**
   * [VTD-QI-3] Disable the queue: wait until the hardware has fetched everything (IQH = IQT), then
   * GCMD.QIE = 0 confirmed by GSTS.QIES = 0.
   */
  async disable(): Promise<void> {
    await pollUntil(
      async () => [await this.readIqh(), Number(await this.io.readReg(Reg.IQT, 8))] as const,
      ([h, t]) => h === t,
      "queue drain before disabling: IQH",
      this.poll,
      ([h, t]) => `IQH ${hex(h)}, IQT ${hex(t)}`,
    );
    await globalCommand(this.io, Gcmd.QIE, false, this.poll);
    this.enabled = false;
  }

  /**
   * [HARNESS-DRV-7] [VTD-QI-4] Write descriptors at IQT (wrapping at the end of the queue) and advance IQT. When the queue is
   * full the driver publishes what it has written and polls IQH for room (bounded).
   */
  async submit(descs: readonly QueuedDescriptor[]): Promise<void> {
    if (!this.enabled) throw new DriverError("argument", "submit: the invalidation queue is not set up");
    const step = this.descriptorBytes;
    let unpublished = false;
    for (const d of descs) {
      if (this.free() === 0) {
        if (unpublished) await this.publish();
        unpublished = false;
        await this.waitForRoom();
      }
      const words = this.encode(d);
      await writeGuestWords(this.io, this.area.base + this.tail, words);
      this.slots.set(this.tail, { offset: this.tail, label: this.label(d), words });
      this.tail = (this.tail + step) % this.sizeBytes;
      unpublished = true;
    }
    if (unpublished) await this.publish();
  }

  /**
   * [HARNESS-DRV-8] [VTD-QI-12] Append a wait descriptor (SW, FN) whose status word is a fresh value in the status
   * area, and poll that word until it appears. Throws a "queue-error" DriverError when FSTS.IQE is
   * seen, and a "timeout" naming the descriptors still pending after the poll bound.
   */
  async wait(): Promise<void> {
    const addr = this.status.next();
    this.statusSeq = (this.statusSeq + 1) >>> 0 || 1;
    const value = this.statusSeq;
    await writeGuestU32(this.io, addr, 0);
    await this.submit([waitWithStatus(addr, value)]);
    const max = Math.max(1, this.poll.maxPolls ?? DEFAULT_MAX_POLLS);
    for (let i = 0; i < max; i++) {
      if ((await readGuestU32(this.io, addr)) === value) {
        this.head = this.tail;
        return;
      }
      const fsts = Number(await this.io.readReg(Reg.FSTS, 4));
      if ((fsts >>> Fsts.IQE) & 1) {
        const detail = await this.errorDetail(fsts);
        throw new DriverError(
          "queue-error",
          `invalidation queue error (IQEI ${detail.iqei}) at IQH ${hex(detail.iqh)}: ${detail.failed?.label ?? "unknown descriptor"}; ${detail.pending.length} pending`,
          { ...detail },
        );
      }
      if (this.poll.delayMs !== undefined && this.poll.delayMs > 0)
        await new Promise((r) => setTimeout(r, this.poll.delayMs));
    }
    const detail = await this.errorDetail(Number(await this.io.readReg(Reg.FSTS, 4)));
    throw new DriverError(
      "timeout",
      `wait descriptor status ${hex(addr)} not written after ${max} reads; IQH ${hex(detail.iqh)}, pending: ${detail.pending.map((s) => s.label).join("; ")}`,
      { ...detail, statusAddr: addr, statusValue: value },
    );
  }

  /** Submit descriptors followed by a wait: when this returns, all of them have completed. */
  async run(descs: readonly QueuedDescriptor[]): Promise<void> {
    await this.submit(descs);
    await this.wait();
  }

  /**
   * Recover from an invalidation queue error as Linux does: overwrite the descriptor at IQH (the
   * one that failed) with `replacement` (default: a wait descriptor that does nothing), then
   * clear FSTS.IQE so the hardware fetches again from IQH [VTD-QI-10]. Returns the failed slot.
   */
  async recover(replacement: QueuedDescriptor = waitNop()): Promise<SlotRecord | undefined> {
    const iqh = await this.readIqh();
    const failed = this.slots.get(iqh);
    const words = this.encode(replacement);
    await writeGuestWords(this.io, this.area.base + iqh, words);
    this.slots.set(iqh, { offset: iqh, label: this.label(replacement), words });
    await this.io.writeReg(Reg.FSTS, 1n << BigInt(Fsts.IQE), 4);
    return failed;
  }

  /** Descriptors the driver wrote from `from` up to its IQT, in queue order. */
  pendingFrom(from: number): SlotRecord[] {
    const out: SlotRecord[] = [];
    const step = this.descriptorBytes;
    if (this.sizeBytes === 0) return out;
    for (
      let at = from % this.sizeBytes, n = 0;
      at !== this.tail && n < this.slotCount;
      at = (at + step) % this.sizeBytes, n++
    ) {
      const s = this.slots.get(at);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /** The IQT value the driver last published. */
  get iqt(): number {
    return this.tail;
  }

  private free(): number {
    const step = this.descriptorBytes;
    const used = (this.tail - this.head + this.sizeBytes) % this.sizeBytes;
    return this.sizeBytes / step - 1 - used / step;
  }

  private async publish(): Promise<void> {
    await this.io.writeReg(Reg.IQT, BigInt(this.tail), 8);
  }

  private async readIqh(): Promise<number> {
    return Number((await this.io.readReg(Reg.IQH, 8)) & 0x7fff0n);
  }

  /** Poll IQH until a slot is free; an IQE while waiting is a queue error. */
  private async waitForRoom(): Promise<void> {
    await pollUntil(
      async () => {
        this.head = await this.readIqh();
        const fsts = Number(await this.io.readReg(Reg.FSTS, 4));
        if ((fsts >>> Fsts.IQE) & 1) {
          const detail = await this.errorDetail(fsts);
          throw new DriverError(
            "queue-error",
            `invalidation queue error while full, at IQH ${hex(detail.iqh)}`,
            { ...detail },
          );
        }
        return this.free();
      },
      (free) => free > 0,
      "queue full: IQH did not advance",
      this.poll,
    ).catch((e: unknown) => {
      if (e instanceof DriverError && e.code === "timeout")
        throw new DriverError(
          "queue-full",
          `${e.message}; pending: ${this.pendingFrom(this.head)
            .map((s) => s.label)
            .join("; ")}`,
          {
            iqh: this.head,
            iqt: this.tail,
          },
        );
      throw e;
    });
  }

  private async errorDetail(fsts: number): Promise<QueueErrorDetail> {
    const iqh = await this.readIqh();
    const iqt = Number((await this.io.readReg(Reg.IQT, 8)) & 0x7fff0n);
    const iqercd = await this.io.readReg(Reg.IQERCD, 8);
    const iqei = Number(iqercd & BigInt((1 << (Iqercd.IQEI_HI + 1)) - 1));
    return { fsts, iqh, iqt, iqei, failed: this.slots.get(iqh), pending: this.pendingFrom(iqh) };
  }

  private encode(d: QueuedDescriptor): bigint[] {
    const n = this.width / 64;
    if ("raw" in d) {
      if (d.raw.length > n) throw new DriverError("argument", `a raw descriptor has at most ${n} words here`);
      return [...d.raw, ...new Array<bigint>(n - d.raw.length).fill(0n)];
    }
    try {
      return encodeDescriptor(d, this.width);
    } catch (e) {
      throw new DriverError(
        "argument",
        `${d.kind} descriptor in a ${this.width}-bit queue: ${(e as Error).message}`,
      );
    }
  }

  private label(d: QueuedDescriptor): string {
    if ("raw" in d) return d.label ?? `raw ${d.raw.map((w) => hex(w)).join(" ")}`;
    return describeDescriptor(d);
  }
}
