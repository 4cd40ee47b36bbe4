/**
 * From a permitted value to what one request may observe [ORACLE-JUDGE-1]: a translation becomes
 * "completes at this address" or a permission fault, by the request's access type and privilege.
 */
import { LegacyFault as L, ScalableFault as S } from "../spec/fault-reasons.ts";
import type { OutcomeValue, Recording } from "./outcome.ts";

export type Resolved = { kind: "ok"; addr: number } | { kind: "fault"; reason: number; record: Recording };

export interface Access {
  write: boolean;
  priv: boolean;
  /** Byte offset of the request inside its 4 KiB page. */
  offset: number;
}

const INTR_LO = 0xfee00000;
const INTR_HI = 0xfef00000;

/** [ORACLE-JUDGE-1] The outcomes one permitted value allows for a request (usually one). */
export function resolve(v: OutcomeValue, a: Access): Resolved[] {
  if (v.kind === "fault") {
    if (v.access !== undefined && v.access !== (a.write ? "write" : "read")) return [];
    // [VTD-PASID-7] the PASID entry's SRE is checked before its walk.
    if (a.priv && v.pasidEntry !== undefined && !v.pasidEntry.sre)
      return [
        { kind: "fault", reason: S.SPT_6_SUPERVISOR_DISABLED, record: v.pasidEntry.fpd ? "no" : "yes" },
      ];
    return [{ kind: "fault", reason: a.write ? v.reason.write : v.reason.read, record: v.record }];
  }
  const addr = v.out + a.offset;
  if (v.stage === "untranslated") return [{ kind: "ok", addr }];
  // [VTD-NEST-5] a write needs the A/D update this value's walk could not make: not through it.
  if (a.write && v.readsOnly === true) return [];
  const rec: Recording = v.fpd ? "no" : "yes";
  const f = (reason: number): Resolved[] => [{ kind: "fault", reason, record: rec }];
  // [VTD-PASID] a supervisor request needs SRE in the PASID entry (SPT.6).
  if (v.scalable && a.priv && !v.sre) return f(S.SPT_6_SUPERVISOR_DISABLED);
  if (v.identity) return [{ kind: "ok", addr }];
  const r = v.rights;
  const out: Resolved[] = [];
  if (!r.ssR && !r.ssW) {
    // [VTD-SS-2] [VTD-SS-3] no right at all: not present (legacy reports the access's missing right).
    out.push(
      ...f(v.scalable ? S.SSS_2_SS_NONLEAF_NO_PERMISSION : a.write ? L.LGN_2_NO_WRITE : L.LGN_3_NO_READ),
    );
  } else if (!a.priv && !r.fsU) out.push(...f(S.SGN_2_USER_TO_SUPERVISOR));
  else if (a.write && !r.fsW && (!a.priv || v.wpe)) out.push(...f(S.SGN_6_NO_WRITE));
  else if (a.write && !r.ssW) out.push(...f(v.scalable ? S.SGN_6_NO_WRITE : L.LGN_2_NO_WRITE));
  else if (!a.write && !r.ssR) out.push(...f(v.scalable ? S.SGN_7_NO_READ : L.LGN_3_NO_READ));
  else if (v.out < INTR_HI && v.out + 4096 > INTR_LO)
    out.push(...f(v.scalable ? S.SGN_8_INTERRUPT_RANGE : L.LGN_4_INTERRUPT_RANGE));
  else {
    out.push({ kind: "ok", addr });
    if (v.adFault !== undefined && (!v.adFaultWriteOnly || a.write)) out.push(...f(v.adFault));
  }
  return out;
}

export function resolvedText(r: Resolved): string {
  return r.kind === "ok"
    ? `completes at 0x${r.addr.toString(16)}`
    : `fault 0x${r.reason.toString(16)}${r.record === "no" ? " (not recorded: FPD)" : r.record === "either" ? " (recording optional)" : ""}`;
}
