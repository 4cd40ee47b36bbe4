/**
 * `list rules`: the rules of spec/*.md with what cites them, flagging rules nothing cites.
 * [HARNESS-RULES-1]
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

export interface Rule {
  id: string;
  title: string;
  file: string;
  line: number;
  withdrawn: boolean;
}

export type CitationKind = "test" | "property" | "source";

export interface Citation {
  file: string;
  line: number;
  kind: CitationKind;
}

const ID = "[A-Z][A-Z\\d]*(?:-[A-Z\\d]+)*-\\d+";
const HEADING = new RegExp(`^###\\s+(${ID})\\s+[—–-]+\\s+(.+?)\\s*$`);
const CITATION = new RegExp(`\\[(${ID}(?:\\s*,\\s*${ID})*)\\]`, "g");

export async function parseRules(specDir: string): Promise<Rule[]> {
  const files = (await readdir(specDir)).filter((f) => f.endsWith(".md") && f !== "README.md").sort();
  const rules: Rule[] = [];
  for (const f of files) {
    const lines = (await readFile(join(specDir, f), "utf8")).split("\n");
    lines.forEach((text, i) => {
      const m = HEADING.exec(text);
      if (m === null) return;
      const title = m[2] as string;
      rules.push({
        id: m[1] as string,
        title,
        file: join(specDir, f),
        line: i + 1,
        withdrawn: /withdrawn/i.test(title),
      });
    });
  }
  return rules;
}

async function sourceFiles(dir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(dir, { recursive: true });
  } catch {
    return [];
  }
  return entries
    .filter((f) => /\.(ts|mts|js|mjs)$/.test(f) && !f.split("/").includes("node_modules"))
    .sort()
    .map((f) => join(dir, f));
}

/** Every [ID] citation under root/{test,properties,src}, keyed by id. */
export async function scanCitations(root: string): Promise<Map<string, Citation[]>> {
  const out = new Map<string, Citation[]>();
  const roots: Array<[string, CitationKind]> = [
    ["test", "test"],
    ["properties", "property"],
    ["src", "source"],
  ];
  for (const [dir, kind] of roots) {
    for (const file of await sourceFiles(join(root, dir))) {
      const lines = (await readFile(file, "utf8")).split("\n");
      lines.forEach((text, i) => {
        for (const m of text.matchAll(CITATION)) {
          for (const id of (m[1] as string).split(",").map((s) => s.trim())) {
            const list = out.get(id) ?? [];
            list.push({ file: relative(root, file), line: i + 1, kind });
            out.set(id, list);
          }
        }
      });
    }
  }
  return out;
}

/**
 * The rules each property declares it checks (PropertyDefinition.rules) count as property
 * citations, named by property id (line 0).
 */
export function addDeclaredRules(
  citations: Map<string, Citation[]>,
  properties: ReadonlyArray<{ id: string; rules: readonly string[] }>,
): Map<string, Citation[]> {
  for (const p of properties) {
    for (const id of p.rules) {
      const list = citations.get(id) ?? [];
      list.push({ file: `property ${p.id}`, line: 0, kind: "property" });
      citations.set(id, list);
    }
  }
  return citations;
}

export function rulesReport(rules: Rule[], citations: Map<string, Citation[]>, root: string): string {
  const lines: string[] = [];
  const known = new Set(rules.map((r) => r.id));
  let uncited = 0;
  let untested = 0;
  let currentFile = "";
  for (const rule of rules) {
    if (rule.file !== currentFile) {
      currentFile = rule.file;
      lines.push(`${relative(root, rule.file)}`);
    }
    const cites = citations.get(rule.id) ?? [];
    const byKind = (k: CitationKind): string[] =>
      cites.filter((c) => c.kind === k).map((c) => (c.line > 0 ? `${c.file}:${c.line}` : c.file));
    const tests = byKind("test");
    const props = byKind("property");
    const src = byKind("source");
    let flag = "";
    if (!rule.withdrawn && cites.length === 0) {
      flag = "  [NOT CITED]";
      uncited++;
    } else if (!rule.withdrawn && tests.length === 0 && props.length === 0) {
      flag = "  [NO TEST OR PROPERTY]";
      untested++;
    }
    lines.push(`  ${rule.id} — ${rule.title}${flag}`);
    if (props.length > 0) lines.push(`      properties: ${props.join(", ")}`);
    if (tests.length > 0) lines.push(`      tests: ${tests.join(", ")}`);
    if (src.length > 0) lines.push(`      source: ${src.join(", ")}`);
  }
  const unknown = [...citations.entries()].filter(([id]) => !known.has(id));
  if (unknown.length > 0) {
    lines.push("cited but defined in no spec file:");
    for (const [id, cites] of unknown.sort(([a], [b]) => (a < b ? -1 : 1))) {
      lines.push(`  ${id}: ${cites.map((c) => `${c.file}:${c.line}`).join(", ")}`);
    }
  }
  lines.push(
    `${rules.length} rules: ${uncited} cited nowhere, ${untested} cited only by source, ${unknown.length} unknown ids cited`,
  );
  return `${lines.join("\n")}\n`;
}
