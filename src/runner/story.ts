/**
 * A trace told as a story a person reads: each step in words, registers by name, every
 * invalidation descriptor decoded (type, granularity, DID, PASID, address, AM as a page range,
 * IH, and SW/IF/FN for waits) and every table entry the guest writes decoded by what the table
 * is (root, context, PASID directory, PASID entry, paging entry of a stage and level).
 * [HARNESS-STORY-1]
 *
 * Which page holds which table is found from the trace itself: RTADDR names the root table, and
 * the pointers in every value ever written there name the tables below, to a fixed point.
 */
import { hexToBytes, hexToU64 } from "../contract/codec.ts";
import type { Json } from "../contract/wire.ts";
import { decodeLegacyContext, decodeScalableContext } from "../spec/context-entry.ts";
import { type Descriptor, decodeDescriptor } from "../spec/descriptor.ts";
import { faultReasonName } from "../spec/fault-reasons.ts";
import { decodeFaultRecord, faultRecordType } from "../spec/fault-record.ts";
import { decodeFsEntry, decodeSsEntry, type PagingLevel } from "../spec/paging-entry.ts";
import { decodePasidDir, decodePasidEntry } from "../spec/pasid-entry.ts";
import { FRCD_OFFSET, FRCD_SIZE, IOTLB_OFFSET, IVA_OFFSET, Reg } from "../spec/register-offsets.ts";
import type { Trace, TraceStep } from "../trace/types.ts";

export interface StoryLine {
  step: number;
  op: string;
  /** The step in words; entries and descriptors get a line each in `details`. */
  text: string;
  details: string[];
  /** The step the failure names. */
  failed?: boolean;
}

type Table =
  | { kind: "root"; scalable: boolean }
  | { kind: "context"; scalable: boolean; upper: boolean }
  | { kind: "pasid-dir" }
  | { kind: "pasid-table" }
  | { kind: "paging"; stage: "first" | "second"; level: PagingLevel };

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
const PAGE = 0xfffn;

const REG_NAMES = new Map<number, string>([
  ...Object.entries(Reg).map(([name, off]) => [off, name] as [number, string]),
  [IVA_OFFSET, "IVA"],
  [IOTLB_OFFSET, "IOTLB"],
]);

export function registerName(off: number): string {
  const name = REG_NAMES.get(off);
  if (name !== undefined) return name;
  if (off >= FRCD_OFFSET && off < FRCD_OFFSET + 256 * FRCD_SIZE) {
    const i = Math.floor((off - FRCD_OFFSET) / FRCD_SIZE);
    return `FRCD${i}${(off - FRCD_OFFSET) % FRCD_SIZE === 0 ? ".lo" : ".hi"}`;
  }
  const upper = REG_NAMES.get(off - 4);
  return upper === undefined ? `register ${hex(off)}` : `${upper} (upper half)`;
}

/** Every 8-byte word ever written at each address, for finding the tables. */
function writtenWords(steps: readonly TraceStep[]): Map<number, bigint[]> {
  const words = new Map<number, bigint[]>();
  for (const s of steps) {
    if (s.op !== "writeGuest") continue;
    const a = s.args as { gpa: string; data: string };
    const gpa = Number(hexToU64(a.gpa));
    const bytes = hexToBytes(a.data);
    for (let off = (8 - (gpa % 8)) % 8; off + 8 <= bytes.length; off += 8) {
      let w = 0n;
      for (let i = 7; i >= 0; i--) w = (w << 8n) | BigInt(bytes[off + i] as number);
      const list = words.get(gpa + off) ?? [];
      if (!list.includes(w)) list.push(w);
      words.set(gpa + off, list);
    }
  }
  return words;
}

/** Which page holds which table, from RTADDR and the pointers written below it. */
function findTables(steps: readonly TraceStep[]): Map<number, Table> {
  const tables = new Map<number, Table>();
  const words = writtenWords(steps);
  const add = (addr: number, t: Table): boolean => {
    if (addr === 0 || tables.has(addr)) return false;
    tables.set(addr, t);
    return true;
  };
  for (const s of steps) {
    if (s.op !== "writeReg" || (s.args as { off: number }).off !== Reg.RTADDR) continue;
    const v = hexToU64((s.args as { value: string }).value);
    add(Number(v & ~PAGE), { kind: "root", scalable: ((v >> 10n) & 3n) === 1n });
  }
  const valuesAt = (a: number): bigint[] => words.get(a) ?? [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const [base, t] of [...tables]) {
      if (t.kind === "root") {
        for (let i = 0; i < 256; i++) {
          for (const w of valuesAt(base + 16 * i)) {
            if ((w & 1n) === 1n)
              grew = add(Number(w & ~PAGE), { kind: "context", scalable: t.scalable, upper: false }) || grew;
          }
          if (t.scalable)
            for (const w of valuesAt(base + 16 * i + 8))
              if ((w & 1n) === 1n)
                grew = add(Number(w & ~PAGE), { kind: "context", scalable: true, upper: true }) || grew;
        }
      } else if (t.kind === "context") {
        const size = t.scalable ? 32 : 16;
        for (let i = 0; i < 4096 / size; i++) {
          for (const w0 of valuesAt(base + size * i)) {
            if ((w0 & 1n) === 0n) continue;
            if (t.scalable) {
              grew = add(decodeScalableContext([w0]).pasidDirPtr, { kind: "pasid-dir" }) || grew;
              continue;
            }
            for (const w1 of valuesAt(base + size * i + 8)) {
              const e = decodeLegacyContext([w0, w1]);
              if (e.tt !== 2 && e.aw >= 1 && e.aw <= 3)
                grew =
                  add(e.ssptptr, { kind: "paging", stage: "second", level: (e.aw + 2) as PagingLevel }) ||
                  grew;
            }
          }
        }
      } else if (t.kind === "pasid-dir") {
        for (let i = 0; i < 512; i++)
          for (const w of valuesAt(base + 8 * i)) {
            const d = decodePasidDir(w);
            if (d.present) grew = add(d.ptp, { kind: "pasid-table" }) || grew;
          }
      } else if (t.kind === "pasid-table") {
        for (let i = 0; i < 64; i++) {
          const at = base + 64 * i;
          for (const w0 of valuesAt(at))
            for (const w2 of valuesAt(at + 16).concat(valuesAt(at + 16).length === 0 ? [0n] : [])) {
              const e = decodePasidEntry([w0, 0n, w2]);
              if (!e.present) continue;
              if ((e.pgtt === 2 || e.pgtt === 3) && e.aw >= 1 && e.aw <= 3)
                grew =
                  add(e.ssptptr, { kind: "paging", stage: "second", level: (e.aw + 2) as PagingLevel }) ||
                  grew;
              if (e.pgtt === 1 || e.pgtt === 3)
                grew =
                  add(e.fsptptr, { kind: "paging", stage: "first", level: e.fspm === 1 ? 5 : 4 }) || grew;
            }
        }
      } else if (t.level > 1) {
        for (let i = 0; i < 512; i++)
          for (const w of valuesAt(base + 8 * i)) {
            const e = t.stage === "first" ? decodeFsEntry(w, t.level) : decodeSsEntry(w, t.level);
            if (e.present && !e.leaf)
              grew =
                add(e.addr, { kind: "paging", stage: t.stage, level: (t.level - 1) as PagingLevel }) || grew;
          }
      }
    }
  }
  return tables;
}

function bits(names: Array<[string, boolean]>): string {
  return names
    .filter(([, on]) => on)
    .map(([n]) => n)
    .join(" ");
}

/** One table entry in words. */
function entryText(t: Table, base: number, at: number, words: bigint[]): string {
  const idx = (size: number): number => Math.floor((at - base) / size);
  const w0 = words[0] ?? 0n;
  switch (t.kind) {
    case "root": {
      const i = idx(16);
      if (t.scalable) {
        const half = (at - base) % 16 === 0 ? "lower (devfn 0-127)" : "upper (devfn 128-255)";
        return `root entry bus ${i} ${half}: ${w0 & 1n ? `present, context table ${hex(w0 & ~PAGE & ((1n << 52n) - 1n))}` : "not present"}`;
      }
      return `root entry bus ${i}: ${w0 & 1n ? `present, context table ${hex(w0 & ~PAGE & ((1n << 52n) - 1n))}` : "not present"}`;
    }
    case "context": {
      if (t.scalable) {
        const devfn = idx(32) + (t.upper ? 128 : 0);
        const e = decodeScalableContext(words);
        if (!e.present) return `scalable context entry devfn ${devfn}: not present`;
        return `scalable context entry devfn ${devfn}: present${e.fpd ? " FPD" : ""}, PASID directory ${hex(e.pasidDirPtr)} (${2 ** (e.pdts + 7)} entries)${e.paside ? ", PASIDE" : ""}, RID_PASID ${e.ridPasid}`;
      }
      const e = decodeLegacyContext(words);
      if (!e.present) return `context entry devfn ${idx(16)}: not present`;
      const tt = ["translate", "translate with device-TLB", "pass-through", "reserved TT 3"][e.tt];
      return `context entry devfn ${idx(16)}: present${e.fpd ? " FPD" : ""}, ${tt}, DID ${e.did}, AW ${e.aw} (${[30, 39, 48, 57, 66][e.aw] ?? "?"}-bit), second-stage table ${hex(e.ssptptr)}`;
    }
    case "pasid-dir": {
      const d = decodePasidDir(w0);
      const first = idx(8) * 64;
      return `PASID directory entry ${idx(8)} (PASIDs ${first}-${first + 63}): ${d.present ? `present${d.fpd ? " FPD" : ""}, PASID table ${hex(d.ptp)}` : "not present"}`;
    }
    case "pasid-table": {
      const e = decodePasidEntry(words);
      if (!e.present) return `PASID entry ${idx(64)} (low 6 bits of the PASID): not present`;
      const pgtt =
        ["reserved PGTT 0", "first stage", "second stage", "nested", "pass-through"][e.pgtt] ??
        `reserved PGTT ${e.pgtt}`;
      const ss = e.pgtt === 2 || e.pgtt === 3 ? `, second-stage table ${hex(e.ssptptr)} AW ${e.aw}` : "";
      const fs =
        e.pgtt === 1 || e.pgtt === 3
          ? `, first-stage table ${hex(e.fsptptr)} (${e.fspm === 1 ? 5 : 4} levels)${e.sre ? " SRE" : ""}${e.wpe ? " WPE" : ""}`
          : "";
      return `PASID entry ${idx(64)} (low 6 bits of the PASID): present${e.fpd ? " FPD" : ""}, ${pgtt}, DID ${e.did}${ss}${fs}`;
    }
    case "paging": {
      const prefix = `${t.stage}-stage L${t.level}[${idx(8)}]`;
      if (t.stage === "first") {
        const e = decodeFsEntry(w0, t.level);
        if (!e.present) return `${prefix}: not present`;
        const rights = bits([
          ["W", e.write],
          ["U", e.user],
          ["A", e.accessed],
          ["D", e.dirty],
        ]);
        return `${prefix}: ${e.leaf ? `maps ${pageSize(t.level)} page ${hex(e.addr)}` : `points to L${t.level - 1} table ${hex(e.addr)}`} R${rights === "" ? "" : ` ${rights}`}`;
      }
      const e = decodeSsEntry(w0, t.level);
      if (!e.present) return `${prefix}: not present (R = W = 0)`;
      const rights = bits([
        ["R", e.read],
        ["W", e.write],
        ["A", e.accessed],
        ["D", e.dirty],
        ["SNP", e.snoop],
      ]);
      return `${prefix}: ${e.leaf ? `maps ${pageSize(t.level)} page ${hex(e.addr)}` : `points to L${t.level - 1} table ${hex(e.addr)}`} ${rights}`;
    }
  }
}

function pageSize(level: number): string {
  return ["", "4 KiB", "2 MiB", "1 GiB", "512 GiB", "256 TiB"][level] ?? `level-${level}`;
}

const GRANULARITY: Record<string, Record<string, string>> = {
  "context-cache": { 1: "global", 2: "domain-selective", 3: "device-selective" },
  iotlb: { 1: "global", 2: "domain-selective", 3: "page-selective within domain" },
  "pasid-iotlb": {
    0: "domain-selective",
    1: "PASID-selective",
    2: "PASID-selective",
    3: "page-selective within PASID",
  },
  "pasid-cache": {
    0: "domain-selective",
    1: "PASID-selective within domain",
    2: "reserved granularity",
    3: "global",
  },
};

function pages(addr: bigint, am: number): string {
  const n = 1n << BigInt(am);
  const base = addr & ~((n << 12n) - 1n);
  const end = base + (n << 12n) - 1n;
  return `AM ${am}: ${n} page${n === 1n ? "" : "s"}, ${hex(base)}-${hex(end)}`;
}

/** One invalidation descriptor in words. [HARNESS-STORY-1] */
export function descriptorText(d: Descriptor): string {
  const g = (kind: string, v: number | boolean): string =>
    GRANULARITY[kind]?.[String(Number(v))] ?? `granularity ${Number(v)}`;
  switch (d.kind) {
    case "context-cache":
      return `context-cache invalidation, ${g(d.kind, d.g)}${d.g >= 2 ? `, DID ${d.did}` : ""}${d.g === 3 ? `, SID ${hex(d.sid)} FM ${d.fm}` : ""}`;
    case "iotlb":
      return `IOTLB invalidation, ${g(d.kind, d.g)}${d.g >= 2 ? `, DID ${d.did}` : ""}${d.g === 3 ? `, address ${hex(d.addr)}, ${pages(d.addr, d.am)}, IH ${Number(d.ih)}` : ""}${d.dr ? ", DR" : ""}${d.dw ? ", DW" : ""}`;
    case "pasid-iotlb":
      return `PASID-based IOTLB invalidation, ${g(d.kind, d.g)}, DID ${d.did}, PASID ${d.pasid}${d.g === 3 ? `, address ${hex(d.addr)}, ${pages(d.addr, d.am)}, IH ${Number(d.ih)}` : ""}`;
    case "pasid-cache":
      return `PASID-cache invalidation, ${g(d.kind, d.g)}${d.g !== 3 ? `, DID ${d.did}` : ""}${d.g === 1 ? `, PASID ${d.pasid}` : ""}`;
    case "device-tlb":
      return `device-TLB invalidation, SID ${hex(d.sid)}, address ${hex(d.addr)}${d.s ? " (S: size in the address)" : ""}`;
    case "pasid-device-tlb":
      return `PASID-based device-TLB invalidation, SID ${hex(d.sid)}, PASID ${d.pasid}${d.gi ? " (all PASIDs)" : ""}, address ${hex(d.addr)}`;
    case "iec":
      return `interrupt-entry-cache invalidation, ${d.g ? `index-selective, index ${d.iidx} IM ${d.im}` : "global"}`;
    case "wait":
      return `wait: SW ${Number(d.sw)} (status write${d.sw ? ` of ${hex(d.statusData)} to ${hex(d.statusAddr)}` : ""}), IF ${Number(d.intr)} (completion interrupt), FN ${Number(d.fn)} (fence: later descriptors wait)${d.pd ? ", PD" : ""}`;
  }
}

/** Little-endian 64-bit words of a hex byte string, from byte `from`. */
function words64(data: Uint8Array, from: number, count: number): bigint[] {
  const out: bigint[] = [];
  for (let k = 0; k < count; k++) {
    let w = 0n;
    for (let i = 7; i >= 0; i--) w = (w << 8n) | BigInt(data[from + 8 * k + i] ?? 0);
    out.push(w);
  }
  return out;
}

const ENTRY_SIZE: Record<Table["kind"], number> = {
  root: 8,
  context: 16,
  "pasid-dir": 8,
  "pasid-table": 64,
  paging: 8,
};

function dmaText(args: Json, result: Json | undefined, error: { message: string } | undefined): string {
  const a = args as {
    sid: number;
    pasid?: number;
    priv?: boolean;
    iova: string;
    len: number;
    write: boolean;
  };
  const who = `SID ${hex(a.sid)}${a.pasid === undefined ? "" : ` PASID ${a.pasid}${a.priv ? " (supervisor)" : ""}`}`;
  const req = `DMA ${a.write ? "write" : "read"} by ${who} at IOVA ${a.iova}, ${a.len} bytes`;
  if (error !== undefined) return `${req}: failed (${error.message})`;
  const r = result as { status: string; data?: string } | null;
  if (r === null || r === undefined) return req;
  return `${req}: ${r.status}${r.data === undefined ? "" : `, data ${r.data.length > 32 ? `${r.data.slice(0, 32)}…` : r.data}`}`;
}

function regValueText(off: number, value: bigint): string {
  const name = registerName(off);
  if (off === Reg.GCMD) {
    const on = bits([
      ["TE", ((value >> 31n) & 1n) === 1n],
      ["SRTP", ((value >> 30n) & 1n) === 1n],
      ["WBF", ((value >> 27n) & 1n) === 1n],
      ["QIE", ((value >> 26n) & 1n) === 1n],
      ["IRE", ((value >> 25n) & 1n) === 1n],
      ["SIRTP", ((value >> 24n) & 1n) === 1n],
      ["CFI", ((value >> 23n) & 1n) === 1n],
    ]);
    return `${name} = ${hex(value)} (${on === "" ? "nothing set" : on})`;
  }
  if (off === Reg.RTADDR)
    return `${name} = ${hex(value)} (root table ${hex(value & ~PAGE)}, ${((value >> 10n) & 3n) === 1n ? "scalable" : "legacy"} mode)`;
  if (off === Reg.IQA)
    return `${name} = ${hex(value)} (queue ${hex(value & ~PAGE)}, ${(value >> 11n) & 1n ? "256" : "128"}-bit descriptors, ${(2 ** Number(value & 7n) * 256) >> Number((value >> 11n) & 1n)} entries)`;
  if (off === Reg.IQT || off === Reg.IQH)
    return `${name} = ${hex(value)} (descriptor ${Number((value >> 4n) & 0x7fffn)})`;
  if (off === Reg.CCMD && (value >> 63n) & 1n) {
    const g = Number((value >> 61n) & 3n);
    const gran = ["reserved granularity 0", "global", "domain-selective", "device-selective"][g];
    const did = g >= 2 ? `, DID ${value & 0xffffn}` : "";
    const sid = g === 3 ? `, SID ${hex((value >> 16n) & 0xffffn)} FM ${(value >> 32n) & 3n}` : "";
    return `${name} = ${hex(value)} (ICC: context-cache invalidation, ${gran}${did}${sid})`;
  }
  if (off === IOTLB_OFFSET && (value >> 63n) & 1n) {
    const g = Number((value >> 60n) & 3n);
    const gran = [
      "reserved granularity 0",
      "global",
      "domain-selective",
      "page-selective within domain (address in IVA)",
    ][g];
    const did = g >= 2 ? `, DID ${(value >> 32n) & 0xffffn}` : "";
    const drain = `${(value >> 49n) & 1n ? ", DR" : ""}${(value >> 48n) & 1n ? ", DW" : ""}`;
    return `${name} = ${hex(value)} (IVT: IOTLB invalidation, ${gran}${did}${drain})`;
  }
  if (off === IVA_OFFSET) {
    const am = Number(value & 0x3fn);
    return `${name} = ${hex(value)} (address ${hex(value & ~PAGE)}, ${pages(value & ~PAGE, am)}, IH ${(value >> 6n) & 1n})`;
  }
  if (off === Reg.FSTS) {
    const on = bits([
      ["PFO", (value & 1n) === 1n],
      ["PPF", (value & 2n) === 2n],
      ["IQE", (value & 0x10n) === 0x10n],
      ["ICE", (value & 0x20n) === 0x20n],
      ["ITE", (value & 0x40n) === 0x40n],
    ]);
    return `${name} = ${hex(value)}${on === "" ? "" : ` (${on})`}`;
  }
  if (name.startsWith("FRCD") && name.endsWith(".hi") && (value >> 63n) & 1n) {
    const r = decodeFaultRecord(0n, value);
    const pasid = r.pp ? `, PASID ${r.pv}` : "";
    return `${name} = ${hex(value)} (F: a ${faultRecordType(r)} fault of SID ${hex(r.sid)}${pasid}, reason ${faultReasonName(r.fr)})`;
  }
  return `${name} = ${hex(value)}`;
}

/** The story of a trace, one line per step. */
export function traceStory(trace: Trace): StoryLine[] {
  const tables = findTables(trace.steps);
  let queue: { base: number; width: 128 | 256 } | undefined;
  return trace.steps.map((step, index): StoryLine => {
    const line: StoryLine = { step: index, op: step.op, text: "", details: [] };
    if (trace.failure?.step === index) line.failed = true;
    const args = step.args as Record<string, unknown>;
    switch (step.op) {
      case "reset": {
        const cfg = (args.config ?? {}) as {
          viommu?: { scalable?: boolean; awBits?: number };
          devices?: unknown[];
        };
        line.text = `reset: ${cfg.viommu?.scalable ? "scalable" : "legacy"}-mode vIOMMU, ${cfg.viommu?.awBits ?? "?"}-bit addresses, ${cfg.devices?.length ?? 0} devices`;
        break;
      }
      case "writeReg": {
        const off = args.off as number;
        const value = hexToU64(args.value as string);
        line.text = `write ${regValueText(off, value)}`;
        if (off === Reg.IQA) queue = { base: Number(value & ~PAGE), width: (value >> 11n) & 1n ? 256 : 128 };
        break;
      }
      case "readReg": {
        const off = args.off as number;
        const r = step.result as { value?: string } | null | undefined;
        line.text =
          r?.value === undefined
            ? `read ${registerName(off)}`
            : `read ${regValueText(off, hexToU64(r.value))}`;
        break;
      }
      case "writeGuest": {
        const gpa = Number(hexToU64(args.gpa as string));
        const data = hexToBytes(args.data as string);
        line.text = describeGuestWrite(gpa, data, tables, queue, line.details);
        break;
      }
      case "readGuest":
        line.text = `guest reads ${args.len as number} bytes at ${args.gpa as string}`;
        break;
      case "dma":
        line.text = dmaText(step.args, step.result, step.error);
        break;
      default:
        line.text = `${step.op} ${JSON.stringify(step.args).slice(0, 120)}`;
    }
    if (step.error !== undefined && step.op !== "dma")
      line.text += ` — error ${step.error.code}: ${step.error.message}`;
    return line;
  });
}

function describeGuestWrite(
  gpa: number,
  data: Uint8Array,
  tables: Map<number, Table>,
  queue: { base: number; width: 128 | 256 } | undefined,
  details: string[],
): string {
  const page = gpa - (gpa % 4096);
  const allZero = data.every((b) => b === 0);
  if (queue !== undefined && page === queue.base) {
    const size = queue.width / 8;
    for (let off = 0; off + size <= data.length; off += size) {
      const words = words64(data, off, size / 8);
      const d = decodeDescriptor(words, {
        width: queue.width,
        pageRequestDrain: true,
        deviceTlbThrottle: true,
      });
      const slot = (gpa + off - queue.base) / size;
      details.push(
        `descriptor ${slot}: ${d.ok ? descriptorText(d.descriptor) : `invalid (type ${d.type}): ${d.detail}`}`,
      );
    }
    return `guest writes ${details.length} invalidation descriptor${details.length === 1 ? "" : "s"} into the queue at ${hex(gpa)}`;
  }
  const t = tables.get(page);
  if (t !== undefined && allZero && data.length === 4096)
    return `guest clears the ${tableName(t)} at ${hex(gpa)}`;
  if (t !== undefined) {
    const size =
      t.kind === "context" && t.scalable ? 32 : t.kind === "root" && !t.scalable ? 16 : ENTRY_SIZE[t.kind];
    const start = gpa - ((gpa - page) % size);
    for (let at = start; at < gpa + data.length; at += size) {
      const from = at - gpa;
      if (from < 0) continue;
      const words = words64(data, Math.max(0, from), Math.min(size, data.length - Math.max(0, from)) / 8);
      if (words.length === 0) continue;
      details.push(`${hex(at)}: ${entryText(t, page, at, words)}`);
    }
    return `guest writes the ${tableName(t)} at ${hex(gpa)} (${data.length} bytes)`;
  }
  if (allZero) return `guest zeroes ${data.length} bytes at ${hex(gpa)}`;
  if (data.length === 8)
    return `guest writes ${hex(words64(data, 0, 1)[0] ?? 0n)} at ${hex(gpa)} (no table found here)`;
  return `guest writes ${data.length} bytes of data at ${hex(gpa)}`;
}

function tableName(t: Table): string {
  switch (t.kind) {
    case "root":
      return `${t.scalable ? "scalable" : "legacy"} root table`;
    case "context":
      return `${t.scalable ? `scalable (${t.upper ? "upper" : "lower"})` : "legacy"} context table`;
    case "pasid-dir":
      return "PASID directory";
    case "pasid-table":
      return "PASID table";
    case "paging":
      return `${t.stage}-stage L${t.level} table`;
  }
}

/** The story as text lines (a failed step marked with ">>"). */
export function storyText(lines: readonly StoryLine[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    out.push(`${l.failed ? ">>" : "  "} ${String(l.step).padStart(4)} ${l.text}`);
    for (const d of l.details) out.push(`          ${d}`);
  }
  return out;
}
