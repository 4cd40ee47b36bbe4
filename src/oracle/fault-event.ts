/**
 * [ORACLE-JUDGE-10] The fault event as software sees it in FECTL (VT-d 5.10 §7.3, §11.4.7.2):
 * IM reads back what software last wrote (1 after reset); IP is set by an interrupt condition
 * (PPF or IQE becoming set while none of PPF, PFO, IQE, ICE, ITE is set), stays set while IM
 * holds the message, and clears when software clears IM or when every FSTS status field is clear.
 *
 * The oracle does not see the model's FSTS between reads, so it follows what the status may be
 * ("clear", "set" or "unknown") and the values IP may read now; an observed read narrows both.
 */

/** FSTS status fields whose being clear means every interrupt condition was serviced: ITE, ICE, IQE, PPF, PFO. */
const STATUS_FIELDS = 0x73n;
const IM = 1n << 31n;
const IP = 1n << 30n;

type Status = "clear" | "set" | "unknown";

export interface EventVerdict {
  message: string;
  observed: string;
  permitted: string[];
  /**
   * IP reads 1 where only a model that keeps IP after the records are cleared would show it (the
   * hold a relaxation may tolerate, ORACLE-TOL-1).
   */
  keptIp?: boolean;
}

export class FaultEvent {
  private im = true;
  /** The values a read of IP may show now. */
  private ipZero = true;
  private ipOne = false;
  /** Step of the condition that makes IP = 1 required (for reports). */
  private since = -1;
  private status: Status = "clear";
  /**
   * IP was possibly 1 when software cleared the fault records (not FSTS) and IM has not been
   * cleared since: a model that clears IP only on FSTS writes or an IM change may still show it.
   */
  private keptByRecordClear = false;

  reset(): void {
    this.im = true;
    this.ipZero = true;
    this.ipOne = false;
    this.status = "clear";
    this.keptByRecordClear = false;
  }

  /**
   * A step that may record a fault or set IQE: `must` when the fault must leave PPF or PFO set
   * (ORACLE-JUDGE-8), so that after it the status is known set.
   */
  condition(step: number, must: boolean): void {
    if (this.status === "set") return; // an unserviced condition: no new one (§7.3)
    const certain = must && this.status === "clear";
    // With IM = 1 the message is held in IP; with IM = 0 it is sent and IP cleared, unless a
    // transient condition holds it (§11.4.7.2), so either value may read back.
    if (certain) {
      this.ipOne = true;
      this.ipZero = !this.im;
      this.since = step;
    } else {
      this.ipOne = true;
    }
    this.status = must ? "set" : "unknown";
  }

  /** Software wrote FSTS or a fault record with a write-1-to-clear bit set: the status may now be all clear. */
  cleared(via: "fsts" | "record"): void {
    if (via === "record" && this.ipOne) this.keptByRecordClear = true;
    if (via === "fsts") this.keptByRecordClear = false;
    if (this.status === "clear") return;
    this.status = "unknown";
    this.ipZero = true; // IP clears once every status field is (§7.3)
  }

  /** A read of FSTS: all status fields clear means IP is clear (§7.3, §11.4.7.2). */
  statusRead(value: bigint): void {
    if ((value & STATUS_FIELDS) === 0n) {
      this.status = "clear";
      this.ipZero = true;
      this.ipOne = false;
    } else this.status = "set";
  }

  /** A write of FECTL: IM as written; clearing IM sends a held message (or a transient condition still holds it). */
  write(value: bigint): void {
    const im = (value & IM) !== 0n;
    if (this.im && !im && this.ipOne) this.ipZero = true;
    if (!im) this.keptByRecordClear = false;
    this.im = im;
  }

  /** Judge a read of FECTL (bits 31:0); undefined when it is permitted. */
  read(value: bigint): EventVerdict | undefined {
    const im = (value & IM) !== 0n;
    const ip = (value & IP) !== 0n;
    const text = `IM ${+im} IP ${+ip}`;
    if (im !== this.im)
      return {
        message: `FECTL.IM reads ${+im}, but software last wrote ${+this.im} (IM is read-write, 1 after reset)`,
        observed: text,
        permitted: [`IM ${+this.im}`],
      };
    if (ip ? !this.ipOne : !this.ipZero) {
      const permitted = `IM ${+this.im} IP ${+!ip}`;
      return ip
        ? {
            message:
              "FECTL.IP is set, but no interrupt condition arose since IP was last clear (every FSTS status field clear, or IP read 0)",
            observed: text,
            permitted: [permitted],
            ...(this.keptByRecordClear ? { keptIp: true } : {}),
          }
        : {
            message: `FECTL.IP is clear, but the interrupt condition of step ${this.since} is held pending by IM = 1 and no FSTS status was cleared since`,
            observed: text,
            permitted: [permitted],
          };
    }
    this.ipZero = !ip || !this.im; // what was read stays, but a transient hold (IM = 0) may end
    this.ipOne = ip;
    if (!ip) this.keptByRecordClear = false;
    return undefined;
  }

  /** A read of IP = 1 that a relaxation tolerated as kept: later reads may show it again. */
  acceptKeptIp(): void {
    this.ipZero = true;
  }
}
