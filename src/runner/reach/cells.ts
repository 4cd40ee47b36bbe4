/**
 * [HARNESS-REACH-1] The reach matrix: every field of every structure a guest writes, each with
 * its value classes, and the events that matter beyond single fields. A cell is
 * "<row> <class>"; `catalogue()` lists every cell there is, the decoder marks those a run produced.
 */
import type { Capabilities } from "../../spec/capabilities.ts";

/** What a field's value means on this unit: its class names, and the class of one value. */
export interface Field {
  name: string;
  classes: readonly string[];
  /** The class of the entry's words; undefined when the field does not apply to this entry. */
  classify(w: readonly bigint[], u: Unit): string | undefined;
}

/** The unit an entry is judged against: its capabilities and widths. */
export interface Unit {
  caps: Capabilities;
  haw: number;
}

export const bit = (w: bigint, b: number): boolean => ((w >> BigInt(b)) & 1n) === 1n;
export const bits = (w: bigint, hi: number, lo: number): number =>
  Number((w >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));

const flag = (name: string, word: number, b: number): Field => ({
  name,
  classes: ["0", "1"],
  classify: (w) => (bit(w[word] ?? 0n, b) ? "1" : "0"),
});

/** Reserved bits: clear, or set (the mask for this entry on this unit). */
const reserved = (mask: (w: readonly bigint[], u: Unit) => bigint[]): Field => ({
  name: "reserved",
  classes: ["clear", "set"],
  classify: (w, u) => (mask(w, u).some((m, i) => ((w[i] ?? 0n) & m) !== 0n) ? "set" : "clear"),
});

/** An address field: inside the host address width, or beyond it. */
const address = (word: number, lo: number): Field => ({
  name: "address",
  classes: ["below HAW", "beyond HAW"],
  classify: (w, u) =>
    (((w[word] ?? 0n) >> BigInt(lo)) << BigInt(lo)) >> BigInt(u.haw) === 0n ? "below HAW" : "beyond HAW",
});

/** AW/SAGAW-style width fields: supported by SAGAW, a legal width the unit lacks, reserved. */
const width = (name: string, word: number, lo: number): Field => ({
  name,
  classes: ["supported", "unsupported", "reserved"],
  classify: (w, u) => {
    const v = bits(w[word] ?? 0n, lo + 2, lo);
    if (v >= 1 && v <= 3) return ((u.caps.sagaw >> v) & 1) === 1 ? "supported" : "unsupported";
    return "reserved";
  },
});

/**
 * DIDs: 0 (reserved with CM = 1), or in range. DIDs beyond ND are a class only of units with fewer
 * than 16 domain-id bits; the reference and QEMU report ND = 16 bits, so none exists there.
 */
const did = (word: number, lo: number): Field => ({
  name: "DID",
  classes: ["0", "in range"],
  classify: (w, u) => {
    const v = bits(w[word] ?? 0n, lo + 15, lo);
    return v === 0 ? "0" : v >= 2 ** u.caps.domainIdBits ? undefined : "in range";
  },
});

const enumField = (name: string, word: number, hi: number, lo: number, n: number): Field => ({
  name,
  classes: Array.from({ length: n }, (_, i) => String(i)),
  classify: (w) => String(bits(w[word] ?? 0n, hi, lo)),
});

const M = (hi: number, lo: number): bigint => ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
const aboveHaw = (u: Unit, top = 63): bigint => (u.haw <= top ? M(top, u.haw) : 0n);

/** The structures a guest writes, each entry's words and fields. */
export const STRUCTURES: Readonly<Record<string, readonly Field[]>> = {
  "legacy root": [flag("P", 0, 0), reserved((_w, u) => [M(11, 1) | aboveHaw(u), ~0n & M(63, 0)])],
  "scalable root": [
    flag("LP", 0, 0),
    flag("UP", 1, 0),
    reserved((_w, u) => [M(11, 1) | aboveHaw(u), M(11, 1) | aboveHaw(u)]),
  ],
  "legacy context": [
    flag("P", 0, 0),
    flag("FPD", 0, 1),
    enumField("TT", 0, 3, 2, 4),
    width("AW", 1, 0),
    did(1, 8),
    address(0, 12),
    reserved((_w, u) => [M(11, 4) | aboveHaw(u), M(7, 3) | M(63, 24)]),
  ],
  "scalable context": [
    flag("P", 0, 0),
    flag("FPD", 0, 1),
    flag("DTE", 0, 2),
    flag("PASIDE", 0, 3),
    flag("PRE", 0, 4),
    enumField("PDTS", 0, 11, 9, 8),
    {
      name: "RID_PASID",
      classes: ["0", "nonzero"],
      classify: (w) => (bits(w[1] ?? 0n, 19, 0) === 0 ? "0" : "nonzero"),
    },
    address(0, 12),
  ],
  "PASID directory": [flag("P", 0, 0), flag("FPD", 0, 1), address(0, 12), reserved(() => [M(11, 2)])],
  "PASID entry": [
    flag("P", 0, 0),
    flag("FPD", 0, 1),
    width("AW", 0, 2),
    enumField("PGTT", 0, 8, 6, 8),
    flag("SSADE", 0, 9),
    did(1, 0),
    flag("SRE", 2, 0),
    enumField("FSPM", 2, 3, 2, 4),
    flag("WPE", 2, 4),
    flag("EAFE", 2, 7),
    flag("PWSNP", 1, 23),
    flag("PGSNP", 1, 24),
  ],
};

/** Paging entries, by stage and level (1 = leaf tables). */
export function pagingFields(stage: "first" | "second", level: number): Field[] {
  const large = level === 2 || level === 3;
  const ps: Field[] = large ? [flag("PS", 0, 7)] : [];
  if (stage === "second")
    return [
      flag("R", 0, 0),
      flag("W", 0, 1),
      ...ps,
      flag("A", 0, 8),
      flag("D", 0, 9),
      flag("SNP", 0, 11),
      address(0, 12),
      reserved((_w, u) => [M(51, u.haw) | M(62, 62)]),
    ];
  return [
    flag("P", 0, 0),
    flag("R/W", 0, 1),
    flag("U/S", 0, 2),
    ...ps,
    flag("A", 0, 5),
    flag("D", 0, 6),
    flag("EA", 0, 10),
    address(0, 12),
    reserved((_w, u) => [M(51, u.haw)]),
  ];
}

export const PAGING_LEVELS: Readonly<Record<"first" | "second", readonly number[]>> = {
  first: [5, 4, 3, 2, 1],
  second: [5, 4, 3, 2, 1],
};

/** Edits of an entry already written (compared with its previous value). */
export const EDITS = [
  "first write",
  "whole-entry rewrite",
  "present cleared, rest kept",
  "one permission bit",
  "one address bit",
  "another single bit",
  "cleared to zero",
] as const;

/** Structures whose edits are counted; context entries have no permission bit. */
export const EDITED = ["legacy context", "scalable context", "PASID entry", "paging first", "paging second"];

export function editsOf(structure: string): string[] {
  return structure.endsWith("context") ? EDITS.filter((e) => e !== "one permission bit") : [...EDITS];
}

/** Descriptor kinds with their granularities (QI) and register-based invalidations. */
export const INVALIDATIONS: Readonly<Record<string, readonly string[]>> = {
  "context-cache": ["global", "domain", "device"],
  iotlb: ["global", "domain", "page"],
  "pasid-cache": ["domain", "pasid", "global"],
  "pasid-iotlb": ["pasid", "page"],
  "register context-cache": ["global", "domain", "device"],
  "register iotlb": ["global", "domain", "page"],
};

/** What the caches hold for an invalidation's target when it is processed. */
export const CACHE_STATES = ["target cached", "nothing cached for target"] as const;

/** Other descriptor cells. */
export const DESCRIPTOR_CELLS = [
  "wait SW=1",
  "wait IF=1",
  "wait SW=0 IF=0",
  "wait FN=1",
  "iotlb DR/DW set",
  "iotlb IH=1",
  "iotlb AM>0",
  "pasid-iotlb IH=1",
  "pasid-iotlb AM>0",
  "device-tlb",
  "pasid-device-tlb",
  "iec",
  "invalid type",
  "reserved bit set",
  "128-bit queue",
  "256-bit queue",
  "batch of several before one wait",
] as const;

/** Register writes. */
export const REGISTER_CELLS = [
  "GCMD TE=1",
  "GCMD TE=0 after TE=1",
  "GCMD SRTP",
  "GCMD QIE=1",
  "GCMD QIE=0",
  "RTADDR TTM=00",
  "RTADDR TTM=01",
  "RTADDR TTM=10 or 11",
  "IQA QS=0",
  "IQA QS>0",
  "FSTS write-1-to-clear",
  "FRCD clear",
  "FECTL write",
  "root pointer changed while TE=1",
] as const;

/** VMM events: a passed-through device's entry changed, then each invalidation kind. */
export const VMM_CHANGES = ["context entry", "PASID entry"] as const;
export const VMM_FOLLOWUPS = [
  "context-cache",
  "pasid-cache",
  "iotlb",
  "pasid-iotlb",
  "none before DMA",
] as const;

/** Every cell of the matrix, grouped by row. */
export function catalogue(): Array<{ row: string; cells: string[] }> {
  const out: Array<{ row: string; cells: string[] }> = [];
  for (const [s, fields] of Object.entries(STRUCTURES))
    for (const f of fields) out.push({ row: `${s}.${f.name}`, cells: [...f.classes] });
  for (const stage of ["first", "second"] as const)
    for (const level of PAGING_LEVELS[stage])
      for (const f of pagingFields(stage, level))
        out.push({ row: `paging ${stage} L${level}.${f.name}`, cells: [...f.classes] });
  for (const s of EDITED) out.push({ row: `edit ${s}`, cells: editsOf(s) });
  for (const [k, gs] of Object.entries(INVALIDATIONS))
    for (const g of gs) out.push({ row: `invalidate ${k} ${g}`, cells: [...CACHE_STATES] });
  out.push({ row: "descriptors", cells: [...DESCRIPTOR_CELLS] });
  out.push({ row: "registers", cells: [...REGISTER_CELLS] });
  for (const c of VMM_CHANGES) out.push({ row: `vmm passthrough ${c} then`, cells: [...VMM_FOLLOWUPS] });
  return out;
}
