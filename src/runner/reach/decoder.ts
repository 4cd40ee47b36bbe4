/**
 * [HARNESS-REACH-1] Decodes the surface calls of cases (what a model sees: guest-memory writes,
 * register writes, DMA) into reach-matrix cells. It follows the guest's structures the way the
 * unit would: from RTADDR to root, context, PASID-directory and PASID tables and the paging
 * tables they point to; a write to a page the structures reach later is decoded once they do.
 */
import type { DmaRequest, PlatformConfig } from "../../contract/types.ts";
import { capabilitiesFor } from "../../contract/viommu-capabilities.ts";
import { type Descriptor, decodeDescriptor } from "../../spec/descriptor.ts";
import { IOTLB_OFFSET, Reg } from "../../spec/register-offsets.ts";
import { bit, bits, EDITED, type Field, pagingFields, STRUCTURES, type Unit } from "./cells.ts";

type PageKind =
  | { kind: "legacy root" | "scalable root" }
  | { kind: "legacy context" | "scalable context"; bus: number; upper: boolean }
  | { kind: "PASID directory"; sid: number }
  | { kind: "PASID entry"; sid: number }
  | { kind: "paging"; stage: "first" | "second"; level: number };

const ENTRY_BYTES: Record<PageKind["kind"], number> = {
  "legacy root": 16,
  "scalable root": 16,
  "legacy context": 16,
  "scalable context": 32,
  "PASID directory": 8,
  "PASID entry": 64,
  paging: 8,
};

const ADDR = 0x000f_ffff_ffff_f000n;
const PAGE = 0x1000;

/** Asks the model under measurement what its caches hold for an invalidation's target. */
export type CacheProbe = (d: Descriptor) => boolean | undefined;

export class ReachDecoder {
  readonly hits = new Set<string>();
  private mem = new Map<number, bigint>();
  private written = new Set<number>();
  private kinds = new Map<number, PageKind>();
  private pending = new Map<number, Array<{ addr: number; old: bigint[]; first: boolean }>>();
  private unit!: Unit;
  private passthrough = new Set<number>();
  /** Passed-through devices whose entry changed, until their next DMA: what, and whether invalidated. */
  private vmmPending = new Map<number, { what: string; invalidated: boolean }>();
  private te = false;
  private queue = { base: 0, bytes: 16, tail: 0, size: 4096 };
  private iotlbReg = IOTLB_OFFSET;
  private frcd = { from: 0, to: 0 };

  constructor(private readonly probe: CacheProbe = () => undefined) {}

  private hit(cell: string): void {
    this.hits.add(cell);
  }

  reset(config: PlatformConfig): void {
    const caps = capabilitiesFor(config.viommu);
    this.unit = { caps, haw: config.viommu.hawBits };
    this.mem = new Map();
    this.written = new Set();
    this.kinds = new Map();
    this.pending = new Map();
    this.passthrough = new Set(config.devices.filter((d) => d.kind === "passthrough").map((d) => d.sid));
    this.vmmPending = new Map();
    this.te = false;
    this.queue = { base: 0, bytes: 16, tail: 0, size: 4096 };
    this.iotlbReg = caps.iotlbRegOffset + 8;
    this.frcd = { from: caps.faultRecordOffset, to: caps.faultRecordOffset + 16 * caps.faultRecords };
  }

  private word(a: number): bigint {
    return this.mem.get(a) ?? 0n;
  }

  writeGuest(gpa: number, bytes: Uint8Array): void {
    // Entries touched, with their words before the write.
    const touched = new Map<number, { kind?: PageKind; old: bigint[] }>();
    const entryOf = (a: number): [number, number] => {
      const kind = this.kinds.get(a - (a % PAGE));
      const size = kind === undefined ? 8 : ENTRY_BYTES[kind.kind];
      return [a - (a % size), size];
    };
    for (let a = gpa - (gpa % 8); a < gpa + bytes.length; a += 8) {
      const [start, size] = entryOf(a);
      if (!touched.has(start))
        touched.set(start, { old: Array.from({ length: size / 8 }, (_, i) => this.word(start + 8 * i)) });
    }
    for (let i = 0; i < bytes.length; i++) {
      const a = gpa + i;
      const w = a - (a % 8);
      const shift = BigInt((a % 8) * 8);
      this.mem.set(w, (this.word(w) & ~(0xffn << shift)) | (BigInt(bytes[i] as number) << shift));
    }
    for (const [start, { old }] of touched) {
      const page = start - (start % PAGE);
      const kind = this.kinds.get(page);
      if (kind === undefined) {
        const list = this.pending.get(page) ?? [];
        list.push({ addr: start, old, first: !this.written.has(start) });
        this.pending.set(page, list);
      } else this.entryWritten(kind, start, old, !this.written.has(start));
      for (let i = 0; i < old.length; i++) this.written.add(start + 8 * i);
    }
  }

  private setKind(page: number, kind: PageKind): void {
    if (page === 0 && kind.kind !== "legacy root" && kind.kind !== "scalable root") return;
    const had = this.kinds.get(page);
    if (had !== undefined && JSON.stringify(had) === JSON.stringify(kind)) return;
    this.kinds.set(page, kind);
    const list = this.pending.get(page);
    if (list === undefined) return;
    this.pending.delete(page);
    for (const p of list) this.entryWritten(kind, p.addr - (p.addr % ENTRY_BYTES[kind.kind]), p.old, p.first);
  }

  private entryWritten(kind: PageKind, addr: number, old: bigint[], firstWrite: boolean): void {
    const n = ENTRY_BYTES[kind.kind] / 8;
    const words = Array.from({ length: n }, (_, i) => this.word(addr + 8 * i));
    const before = Array.from({ length: n }, (_, i) => old[i] ?? 0n);
    const name = kind.kind === "paging" ? `paging ${kind.stage} L${kind.level}` : kind.kind;
    const fields: readonly Field[] =
      kind.kind === "paging" ? pagingFields(kind.stage, kind.level) : (STRUCTURES[kind.kind] ?? []);
    for (const f of fields) {
      const c = f.classify(words, this.unit);
      if (c !== undefined) this.hit(`${name}.${f.name} ${c}`);
    }
    const edited = kind.kind === "paging" ? `paging ${kind.stage}` : kind.kind;
    if (EDITED.includes(edited)) this.hit(`edit ${edited} ${editClass(kind, before, words, firstWrite)}`);
    this.follow(kind, addr, words);
  }

  /** Register the tables an entry points to. */
  private follow(kind: PageKind, addr: number, w: bigint[]): void {
    const w0 = w[0] ?? 0n;
    const ptr = (x: bigint) => Number(x & ADDR);
    const offset = addr % PAGE;
    switch (kind.kind) {
      case "legacy root":
        if (bit(w0, 0)) this.setKind(ptr(w0), { kind: "legacy context", bus: offset / 16, upper: false });
        return;
      case "scalable root":
        if (bit(w0, 0)) this.setKind(ptr(w0), { kind: "scalable context", bus: offset / 16, upper: false });
        if (bit(w[1] ?? 0n, 0))
          this.setKind(ptr(w[1] ?? 0n), { kind: "scalable context", bus: offset / 16, upper: true });
        return;
      case "legacy context": {
        const sid = (kind.bus << 8) | (offset / 16);
        this.vmmChange(sid, "context entry");
        const aw = bits(w[1] ?? 0n, 2, 0);
        if (bit(w0, 0) && bits(w0, 3, 2) !== 2 && aw >= 1 && aw <= 3)
          this.setKind(ptr(w0), { kind: "paging", stage: "second", level: aw + 2 });
        return;
      }
      case "scalable context": {
        const sid = (kind.bus << 8) | (offset / 32 + (kind.upper ? 128 : 0));
        this.vmmChange(sid, "context entry");
        if (!bit(w0, 0)) return;
        const pages = Math.max(1, 2 ** (bits(w0, 11, 9) + 7) / 512);
        for (let i = 0; i < Math.min(pages, 64); i++)
          this.setKind(ptr(w0) + i * PAGE, { kind: "PASID directory", sid });
        return;
      }
      case "PASID directory":
        if (bit(w0, 0)) this.setKind(ptr(w0), { kind: "PASID entry", sid: kind.sid });
        return;
      case "PASID entry": {
        this.vmmChange(kind.sid, "PASID entry");
        if (!bit(w0, 0)) return;
        const pgtt = bits(w0, 8, 6);
        const w2 = w[2] ?? 0n;
        if (pgtt === 1 || pgtt === 3)
          this.setKind(ptr(w2), { kind: "paging", stage: "first", level: bits(w2, 3, 2) === 1 ? 5 : 4 });
        const aw = bits(w0, 4, 2);
        if ((pgtt === 2 || pgtt === 3) && aw >= 1 && aw <= 3)
          this.setKind(ptr(w0), { kind: "paging", stage: "second", level: aw + 2 });
        return;
      }
      case "paging": {
        if (kind.level === 1) return;
        const present = kind.stage === "first" ? bit(w0, 0) : (w0 & 3n) !== 0n;
        const leaf = (kind.level === 2 || kind.level === 3) && bit(w0, 7);
        if (present && !leaf)
          this.setKind(ptr(w0), { kind: "paging", stage: kind.stage, level: kind.level - 1 });
        return;
      }
    }
  }

  private vmmChange(sid: number, what: string): void {
    if (this.passthrough.has(sid)) this.vmmPending.set(sid, { what, invalidated: false });
  }

  /** Every invalidation between a change and the device's next DMA covers the change. */
  private vmmFollowup(kind: string): void {
    for (const p of this.vmmPending.values()) {
      this.hit(`vmm passthrough ${p.what} then ${kind}`);
      p.invalidated = true;
    }
  }

  dma(req: DmaRequest): void {
    const p = this.vmmPending.get(req.sid);
    if (p === undefined) return;
    if (!p.invalidated) this.hit(`vmm passthrough ${p.what} then none before DMA`);
    this.vmmPending.delete(req.sid);
  }

  writeReg(off: number, value: bigint): void {
    if (off === Reg.GCMD) {
      if (bit(value, 31)) this.hit("registers GCMD TE=1");
      else if (this.te) this.hit("registers GCMD TE=0 after TE=1");
      if (bit(value, 30)) {
        this.hit("registers GCMD SRTP");
        if (this.te) this.hit("registers root pointer changed while TE=1");
      }
      this.hit(bit(value, 26) ? "registers GCMD QIE=1" : "registers GCMD QIE=0");
      this.te = bit(value, 31);
    } else if (off === Reg.RTADDR) {
      const ttm = bits(value, 11, 10);
      this.hit(`registers RTADDR TTM=${ttm === 0 ? "00" : ttm === 1 ? "01" : "10 or 11"}`);
      if (ttm <= 1) this.setKind(Number(value & ADDR), { kind: ttm === 0 ? "legacy root" : "scalable root" });
    } else if (off === Reg.IQA) {
      this.queue = {
        base: Number(value & ADDR),
        bytes: bit(value, 11) ? 32 : 16,
        tail: 0,
        size: 4096 << bits(value, 2, 0),
      };
      this.hit(bits(value, 2, 0) === 0 ? "registers IQA QS=0" : "registers IQA QS>0");
      this.hit(`descriptors ${bit(value, 11) ? "256" : "128"}-bit queue`);
    } else if (off === Reg.IQT) this.queueAdvanced(Number(value & 0x7fff0n));
    else if (off === Reg.FSTS) this.hit("registers FSTS write-1-to-clear");
    else if (off === 0x38) this.hit("registers FECTL write");
    else if (off >= this.frcd.from && off < this.frcd.to) this.hit("registers FRCD clear");
    else if (off === Reg.CCMD && bit(value, 63)) {
      const g = ["", "global", "domain", "device"][bits(value, 62, 61)] ?? "";
      const d: Descriptor = {
        kind: "context-cache",
        g: bits(value, 62, 61),
        did: bits(value, 15, 0),
        sid: bits(value, 31, 16),
        fm: bits(value, 33, 32),
      };
      if (g !== "") this.invalidation(`register context-cache ${g}`, d);
    } else if (off === this.iotlbReg && bit(value, 63)) {
      const g = ["", "global", "domain", "page"][bits(value, 61, 60)] ?? "";
      const d: Descriptor = {
        kind: "iotlb",
        g: bits(value, 61, 60),
        dr: false,
        dw: false,
        did: bits(value, 47, 32),
        am: 0,
        ih: false,
        addr: 0n,
      };
      if (g !== "") this.invalidation(`register iotlb ${g}`, d);
    }
  }

  private invalidation(row: string, d: Descriptor): void {
    const held = this.probe(d);
    if (held !== undefined)
      this.hit(`invalidate ${row} ${held ? "target cached" : "nothing cached for target"}`);
    this.vmmFollowup(row.replace(/^register /, "").split(" ")[0] as string);
  }

  /** Descriptors from the last tail to the new one, as the unit fetches them. */
  private queueAdvanced(tailBytes: number): void {
    const { base, bytes, size } = this.queue;
    if (base === 0) return;
    let at = this.queue.tail;
    let count = 0;
    for (let guard = 0; at !== tailBytes && guard < 512; guard++) {
      const words = Array.from({ length: bytes / 8 }, (_, i) => this.word(base + at + 8 * i));
      const r = decodeDescriptor(words, { width: bytes === 32 ? 256 : 128 });
      if (!r.ok)
        this.hit(r.error === "invalid-type" ? "descriptors invalid type" : "descriptors reserved bit set");
      else {
        this.descriptor(r.descriptor);
        if (r.descriptor.kind !== "wait") count++;
        else if (count > 1) this.hit("descriptors batch of several before one wait");
      }
      at = (at + bytes) % size;
    }
    this.queue.tail = tailBytes;
  }

  private descriptor(d: Descriptor) {
    switch (d.kind) {
      case "context-cache":
        return this.gran("context-cache", ["", "global", "domain", "device"][d.g], d);
      case "iotlb":
        if (d.dr || d.dw) this.hit("descriptors iotlb DR/DW set");
        if (d.ih) this.hit("descriptors iotlb IH=1");
        if (d.am > 0) this.hit("descriptors iotlb AM>0");
        return this.gran("iotlb", ["", "global", "domain", "page"][d.g], d);
      case "pasid-cache":
        return this.gran("pasid-cache", ["domain", "pasid", "", "global"][d.g], d);
      case "pasid-iotlb":
        if (d.ih) this.hit("descriptors pasid-iotlb IH=1");
        if (d.am > 0) this.hit("descriptors pasid-iotlb AM>0");
        return this.gran("pasid-iotlb", ["", "", "pasid", "page"][d.g], d);
      case "wait":
        if (d.sw) this.hit("descriptors wait SW=1");
        if (d.intr) this.hit("descriptors wait IF=1");
        if (!d.sw && !d.intr) this.hit("descriptors wait SW=0 IF=0");
        if (d.fn) this.hit("descriptors wait FN=1");
        return;
      case "device-tlb":
        return this.hit("descriptors device-tlb");
      case "pasid-device-tlb":
        return this.hit("descriptors pasid-device-tlb");
      case "iec":
        return this.hit("descriptors iec");
    }
  }

  private gran(kind: string, g: string | undefined, d: Descriptor): void {
    if (g === undefined || g === "") return;
    this.invalidation(`${kind} ${g}`, d);
  }
}

/** How an entry changed. */
function editClass(kind: PageKind, before: bigint[], after: bigint[], firstWrite: boolean): string {
  if (firstWrite && before.every((x) => x === 0n)) return "first write";
  if (after.every((x) => x === 0n)) return "cleared to zero";
  const diffs = before.map((b, i) => b ^ (after[i] ?? 0n));
  const changed = diffs.reduce((n, d) => n + popcount(d), 0);
  const present = kind.kind === "paging" && kind.stage === "second" ? 3n : 1n;
  const b0 = before[0] ?? 0n;
  const a0 = after[0] ?? 0n;
  if (
    (b0 & present) !== 0n &&
    (a0 & present) === 0n &&
    a0 === (b0 & ~present) &&
    diffs.slice(1).every((d) => d === 0n)
  )
    return "present cleared, rest kept";
  if (changed !== 1) return "whole-entry rewrite";
  const d0 = diffs[0] ?? 0n;
  const perms = kind.kind === "paging" ? (kind.stage === "second" ? 3n : 6n) : 0n;
  if ((d0 & perms) !== 0n) return "one permission bit";
  // A PASID entry's SRE and WPE (word 2 bits 0 and 4) say what requests may do.
  if (kind.kind === "PASID entry" && ((diffs[2] ?? 0n) & 0x11n) !== 0n) return "one permission bit";
  if ((d0 & ADDR) !== 0n) return "one address bit";
  return "another single bit";
}

function popcount(x: bigint): number {
  let n = 0;
  for (let v = x; v !== 0n; v &= v - 1n) n++;
  return n;
}
