/**
 * A failure in terms a person reads in two minutes: the rule it breaks (id and title), the request
 * (SID, PASID, IOVA, read or write), what the model did against what was permitted, in one line;
 * and the permitted walk level by level beside what the trace shows the model could have used
 * instead (an earlier value of the same entry that leads to the page observed). [HARNESS-FAIL-1]
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hexToBytes, hexToU64 } from "../contract/codec.ts";
import { packageFile } from "../contract/package-files.ts";
import type { Trace } from "../trace/types.ts";

export interface RuleRef {
  id: string;
  title: string;
  /** The rule's text, from its heading to the next. */
  text: string;
}

export interface WalkRow {
  level: string;
  permitted: string;
  observed: string;
}

export interface Finding {
  step: number;
  op: string;
  rule?: RuleRef;
  /** The request of the failing step, in words (for DMA: SID, PASID, IOVA, read/write). */
  request?: string;
  message: string;
  observed?: string;
  permitted: string[];
  /** The first permitted walk level by level beside what was observed. */
  walk?: WalkRow[];
}

const SPEC_DIR = packageFile("spec");
const HEADING = /^###\s+([A-Z][A-Z\d]*(?:-[A-Z\d]+)*-\d+)\s+[—–-]+\s+(.+?)\s*$/;
const RULE_ID = /\[([A-Z][A-Z\d]*(?:-[A-Z\d]+)*-\d+)/;
let rulebook: Map<string, RuleRef> | undefined;

/** Every rule of spec/*.md with its title and text (read once). */
export function rules(specDir = SPEC_DIR): Map<string, RuleRef> {
  if (rulebook !== undefined && specDir === SPEC_DIR) return rulebook;
  const book = new Map<string, RuleRef>();
  let files: string[] = [];
  try {
    files = readdirSync(specDir).filter((f) => f.endsWith(".md") && f !== "README.md");
  } catch {
    // an installed copy without spec/: findings name rule ids without titles
  }
  for (const f of files.sort()) {
    let current: RuleRef | undefined;
    for (const line of readFileSync(join(specDir, f), "utf8").split("\n")) {
      const m = HEADING.exec(line);
      if (m !== null) {
        current = { id: m[1] as string, title: m[2] as string, text: "" };
        book.set(current.id, current);
      } else if (/^#{1,3}\s/.test(line)) current = undefined;
      else if (current !== undefined) current.text = `${current.text}${line}\n`;
    }
  }
  for (const r of book.values()) r.text = r.text.trim();
  if (specDir === SPEC_DIR) rulebook = book;
  return book;
}

function requestText(op: string, args: unknown): string | undefined {
  if (op !== "dma" && op !== "hostDma") return undefined;
  const a = args as {
    sid?: number;
    devId?: number;
    pasid?: number;
    iova: string;
    len: number;
    write: boolean;
  };
  const who =
    a.sid !== undefined
      ? `SID 0x${a.sid.toString(16)}`
      : a.devId !== undefined
        ? `device ${a.devId}`
        : "device";
  const pasid = a.pasid === undefined ? "no PASID" : `PASID ${a.pasid}`;
  return `${op === "hostDma" ? "host " : ""}DMA ${a.write ? "write" : "read"}, ${who}, ${pasid}, IOVA ${a.iova}, ${a.len} bytes`;
}

/** The finding of a failing (or broken) trace; undefined without a failure. */
export function findingOf(trace: Trace, book = rules()): Finding | undefined {
  const f = trace.failure;
  if (f === undefined) return undefined;
  const step = trace.steps[f.step];
  const ruleId = f.rule ?? RULE_ID.exec(f.message)?.[1];
  const rule = ruleId === undefined ? undefined : (book.get(ruleId) ?? { id: ruleId, title: "", text: "" });
  const text = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));
  const permitted = Array.isArray(f.permitted)
    ? f.permitted.map(text)
    : f.permitted === undefined
      ? []
      : [typeof f.permitted === "string" ? f.permitted : JSON.stringify(f.permitted)];
  const observed =
    f.observed === undefined
      ? undefined
      : typeof f.observed === "string"
        ? f.observed
        : JSON.stringify(f.observed);
  const finding: Finding = { step: f.step, op: step?.op ?? "?", message: f.message, permitted };
  if (rule !== undefined) finding.rule = rule;
  const request = step === undefined ? undefined : requestText(step.op, step.args);
  if (request !== undefined) finding.request = request;
  if (observed !== undefined) finding.observed = observed;
  const walk = permitted[0] === undefined ? undefined : walkRows(trace, f.step, permitted[0], observed);
  if (walk !== undefined) finding.walk = walk;
  return finding;
}

/** The one line: rule, request, observed against permitted. */
export function findingLine(f: Finding): string {
  const rule = f.rule === undefined ? "" : `${f.rule.id}${f.rule.title === "" ? "" : ` (${f.rule.title})`}: `;
  const request = f.request === undefined ? `step ${f.step} (${f.op})` : `step ${f.step}, ${f.request}`;
  const permitted = f.permitted.map((p) => p.split(" — ")[0]).join(" | ");
  const observed = f.observed === undefined ? "" : ` — observed ${f.observed}`;
  return `${rule}${request}: ${f.message}${observed}${permitted === "" ? "" : `; permitted ${permitted}`}`;
}

/** The walk table as aligned text lines. */
export function walkText(rows: readonly WalkRow[]): string[] {
  const w0 = Math.max(5, ...rows.map((r) => r.level.length));
  const w1 = Math.max(9, ...rows.map((r) => r.permitted.length));
  const line = (a: string, b: string, c: string): string =>
    `${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`.trimEnd();
  return [line("level", "permitted", "observed"), ...rows.map((r) => line(r.level, r.permitted, r.observed))];
}

const TOKEN = /^([A-Za-z0-9-]+)\[(0x[0-9a-f]+)\](?:=(\S+))?$/;

/**
 * The permitted walk "root[0xa010] -> ctx[...]=... -> L4[0xc000]=0x15003 ... -> 0x20a000" level by
 * level. The observed column shows, for each entry, an earlier value the trace wrote there that
 * differs from the one the permitted walk read, and where the observed page is that value's page.
 */
function walkRows(
  trace: Trace,
  failStep: number,
  permitted: string,
  observed?: string,
): WalkRow[] | undefined {
  const explain = permitted.split(" — ")[1];
  if (explain === undefined) return undefined;
  const tokens = explain.split(/\s+->\s+|\s+/).filter((t) => t !== "");
  const observedPage = /GPA (0x[0-9a-f]+)/.exec(observed ?? "")?.[1];
  const rows: WalkRow[] = [];
  for (const t of tokens) {
    const m = TOKEN.exec(t);
    if (m === null) {
      if (/^0x[0-9a-f]+$/.test(t)) rows.push({ level: "page", permitted: t, observed: observedPage ?? "" });
      continue;
    }
    const [, level, at, value] = m as unknown as [string, string, string, string | undefined];
    const earlier = value === undefined ? [] : earlierValues(trace, failStep, Number(at), value);
    rows.push({
      level,
      permitted: `[${at}]${value === undefined ? "" : ` = ${value}`}`,
      observed: earlier
        .map(
          (e) =>
            `earlier ${e.value} (step ${e.step})${observedPage !== undefined && pageOf(e.value) === Number(observedPage) ? " -> the observed page" : ""}`,
        )
        .join("; "),
    });
  }
  return rows.length === 0 ? undefined : rows;
}

function pageOf(value: string): number | undefined {
  const first = value.split(":")[0] as string;
  if (!/^0x[0-9a-f]+$/.test(first)) return undefined;
  return Number(BigInt(first) & 0xf_ffff_ffff_f000n);
}

/** Values the trace wrote to the 8-byte word at `addr` before `until` that differ from `current`. */
function earlierValues(
  trace: Trace,
  until: number,
  addr: number,
  current: string | undefined,
): Array<{ step: number; value: string }> {
  const out: Array<{ step: number; value: string }> = [];
  const now = current?.split(":")[0];
  for (let i = 0; i < until; i++) {
    const s = trace.steps[i];
    if (s?.op !== "writeGuest") continue;
    const a = s.args as { gpa: string; data: string };
    const gpa = Number(hexToU64(a.gpa));
    const off = addr - gpa;
    const bytes = hexToBytes(a.data);
    if (off < 0 || off + 8 > bytes.length) continue;
    let w = 0n;
    for (let k = 7; k >= 0; k--) w = (w << 8n) | BigInt(bytes[off + k] as number);
    const value = `0x${w.toString(16)}`;
    if (w === 0n || value === now || out.some((o) => o.value === value)) continue;
    out.push({ step: i, value });
  }
  return out;
}
