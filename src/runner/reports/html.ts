/**
 * The HTML reports: one self-contained file each (inline style, no script, nothing fetched).
 * [HARNESS-HTML-1]
 * - a run: a summary, then per failure the rule and its text, the one-line finding, the permitted
 *   and observed walks level by level, the decoded timeline of its trace, and the commands that
 *   rerun, replay and export it;
 * - the kill matrix of `mutants` as a heat map;
 * - the rule × property grid of `list rules --html`.
 */
import { readFileSync } from "node:fs";
import { parseTrace } from "../../trace/load.ts";
import type { Trace } from "../../trace/types.ts";
import { type Finding, findingLine, type RuleRef, rules } from "../finding.ts";
import type { PropertyResult, RunReport } from "../runner.ts";
import { traceStory } from "../story.ts";

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const e = escapeHtml;

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:80em;padding:0 1em;color:#1d2330}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #c9ced8;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#eef1f6}code,pre,.mono{font-family:ui-monospace,monospace;font-size:.92em}
pre{background:#f5f6f8;padding:.6em;overflow-x:auto;white-space:pre-wrap}
.pass{color:#17692e}.fail{color:#a4161a;font-weight:600}.error{color:#9a5b00;font-weight:600}.skip{color:#6b7280}
.finding{border-left:4px solid #a4161a;background:#fdf2f2;padding:.5em .8em}
.rule{background:#f4f6fb;border-left:4px solid #5561a8;padding:.4em .8em;white-space:pre-wrap}
ol.timeline{list-style:none;padding-left:0}ol.timeline li{padding:.1em .3em;border-bottom:1px dotted #dde}
ol.timeline li.failed{background:#fde2e2;font-weight:600}ol.timeline .n{display:inline-block;width:3.5em;color:#6b7280}
ol.timeline ul{margin:.1em 0 .2em 3.5em;padding-left:1em;font-weight:400}
td.heat{text-align:center;font-weight:600;min-width:2.2em}
.grid td.cited{background:#5561a8;color:#fff;text-align:center}.grid td.none{background:#fff}
`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${e(title)}</h1>
${body}
</body>
</html>
`;
}

/** Reads a result's trace file; undefined when it cannot be read (the report says so). */
function readTrace(file: string): Trace | undefined {
  try {
    return parseTrace(readFileSync(file, "utf8"), file);
  } catch {
    return undefined;
  }
}

export interface HtmlOptions {
  loadTrace?: (file: string) => Trace | undefined;
}

/** A run report as one HTML page. */
export function htmlReport(report: RunReport, options: HtmlOptions = {}): string {
  const load = options.loadTrace ?? readTrace;
  const s = report.summary;
  const rows = report.results
    .map(
      (r) =>
        `<tr><td class="${r.status}">${r.status.toUpperCase()}</td><td><a href="#${e(anchor(r.id))}">${e(r.id)}</a></td><td>${e(r.title)}</td><td>${r.status === "skip" ? e(r.message ?? "") : `${r.runs} cases, ${(r.durationMs / 1000).toFixed(1)} s`}</td></tr>`,
    )
    .join("\n");
  const summary = `<section id="summary"><h2>Summary</h2>
<p>Adapter <code>${e(report.adapter)}</code> (${e(report.model.name)} ${e(report.model.version)}), seed <code>${report.seed}</code>, ${report.runs} cases per property, suite ${e(report.suite)}.</p>
<p><span class="pass">${s.passed} passed</span>, <span class="fail">${s.failed} failed</span>, <span class="skip">${s.skipped} skipped</span>, <span class="error">${s.errors} errors</span> in ${(report.durationMs / 1000).toFixed(1)} s.</p>
<table><thead><tr><th>verdict</th><th>property</th><th>checks</th><th>run</th></tr></thead><tbody>
${rows}
</tbody></table></section>`;
  const failures = report.results
    .filter((r) => r.status === "fail" || r.status === "error")
    .map((r) => failureSection(r, r.trace === undefined ? undefined : load(r.trace)))
    .join("\n");
  return page(`iommu-conformance: ${report.adapter}`, `${summary}\n${failures}`);
}

function anchor(id: string): string {
  return `p-${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

function failureSection(r: PropertyResult, trace: Trace | undefined): string {
  const parts: string[] = [`<section class="failure" id="${e(anchor(r.id))}">`];
  parts.push(`<h2><span class="${r.status}">${r.status.toUpperCase()}</span> ${e(r.id)}</h2>`);
  const f = r.finding;
  if (f !== undefined) parts.push(`<p class="finding mono">${e(findingLine(f))}</p>`);
  parts.push(`<pre>${e(r.message ?? "")}</pre>`);
  if (f?.rule !== undefined) parts.push(ruleBlock(f.rule));
  else {
    const book = rules();
    const cited = r.rules.map((id) => book.get(id)).filter((x): x is RuleRef => x !== undefined);
    if (cited.length > 0)
      parts.push(
        `<h3>Rules this property checks</h3><ul>${cited.map((x) => `<li><code>${e(x.id)}</code> ${e(x.title)}</li>`).join("")}</ul>`,
      );
  }
  if (f?.walk !== undefined) parts.push(walkTable(f));
  parts.push(commandsBlock(r));
  if (r.trace !== undefined && trace === undefined)
    parts.push(`<p class="error">The trace ${e(r.trace)} could not be read.</p>`);
  if (trace !== undefined) parts.push(timeline(trace));
  parts.push("</section>");
  return parts.join("\n");
}

function ruleBlock(rule: RuleRef): string {
  return `<h3>Rule <code>${e(rule.id)}</code>${rule.title === "" ? "" : ` — ${e(rule.title)}`}</h3>
<div class="rule">${e(rule.text === "" ? "(rule text not found in spec/)" : rule.text)}</div>`;
}

function walkTable(f: Finding): string {
  const rows = (f.walk ?? [])
    .map(
      (w) =>
        `<tr><th>${e(w.level)}</th><td class="mono">${e(w.permitted)}</td><td class="mono">${e(w.observed)}</td></tr>`,
    )
    .join("\n");
  return `<h3>Walk, level by level</h3>
<table class="walk"><thead><tr><th>level</th><th>permitted (the walk the specification allows)</th><th>observed (earlier values of the entry; the page the model gave)</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}

function commandsBlock(r: PropertyResult): string {
  const c = r.commands ?? {};
  const lines: string[] = [];
  if (r.seed !== undefined)
    lines.push(
      `seed ${r.seed}, path "${r.path ?? ""}"${r.replayPath === undefined ? "" : `, replay path "${r.replayPath}"`}`,
    );
  if (c.again !== undefined) lines.push(`again:  ${c.again}`);
  if (r.trace !== undefined) lines.push(`trace:  ${r.trace} (${r.traceSteps ?? 0} steps)`);
  if (c.replay !== undefined) lines.push(`replay: ${c.replay}`);
  if (c.export !== undefined) lines.push(`export: ${c.export}`);
  return lines.length === 0 ? "" : `<h3>Reproduce</h3><pre class="commands">${e(lines.join("\n"))}</pre>`;
}

function timeline(trace: Trace): string {
  const items = traceStory(trace)
    .map((l) => {
      const details =
        l.details.length === 0
          ? ""
          : `<ul>${l.details.map((d) => `<li class="mono">${e(d)}</li>`).join("")}</ul>`;
      return `<li${l.failed ? ' class="failed"' : ""}><span class="n">${l.step}</span>${e(l.text)}${details}</li>`;
    })
    .join("\n");
  const commands = (trace.commands ?? []).map((c) => `<li>${e(c)}</li>`).join("");
  return `<h3>Timeline of the trace (${trace.steps.length} steps)</h3>
${commands === "" ? "" : `<ul class="commands">${commands}</ul>`}
<details open><summary>steps</summary><ol class="timeline">
${items}
</ol></details>`;
}

/** One mutant row of the kill matrix, as `mutants` reports it. */
export interface KillRow {
  mutant: string;
  status: "killed" | "survived" | "error" | "incomplete";
  results: ReadonlyArray<{
    id: string;
    status: PropertyResult["status"];
    runs: number;
    firstFailureMs?: number;
  }>;
}

/**
 * The kill matrix as a heat map: a killed cell is darker the fewer cases the property needed.
 */
export function killMatrixHtml(
  rows: readonly KillRow[],
  seed: number,
  runs: number,
  interrupted?: string,
): string {
  const props = [...new Set(rows.flatMap((r) => r.results.map((x) => x.id)))];
  const head = props.map((p) => `<th class="mono">${e(p)}</th>`).join("");
  const body = rows
    .map((r) => {
      const cells = props
        .map((p) => {
          const x = r.results.find((y) => y.id === p);
          if (x === undefined) return `<td class="heat">-</td>`;
          if (x.status !== "fail")
            return `<td class="heat ${x.status}" title="${e(x.status)}">${x.status === "pass" ? "·" : x.status === "skip" ? "s" : x.status === "incomplete" ? "i" : "E"}</td>`;
          const heat = Math.max(
            0.25,
            1 - Math.log10(Math.max(1, x.runs)) / Math.log10(Math.max(10, runs) * 1.2),
          );
          const bg = `rgba(164,22,26,${heat.toFixed(2)})`;
          return `<td class="heat killed" style="background:${bg};color:${heat > 0.5 ? "#fff" : "#1d2330"}" title="killed after ${x.runs} cases">${x.runs}</td>`;
        })
        .join("");
      return `<tr><th class="mono ${r.status}">${e(r.mutant)}</th>${cells}</tr>`;
    })
    .join("\n");
  const killed = rows.filter((r) => r.status === "killed").length;
  const incomplete = rows.filter((r) => r.status === "incomplete").length;
  // [HARNESS-STOP-4] an interrupted matrix says so and how much it left undone.
  const cut =
    interrupted === undefined
      ? ""
      : ` <strong>Interrupted by ${e(interrupted)}: ${incomplete} mutants incomplete.</strong>`;
  return page(
    "iommu-conformance: mutant kill matrix",
    `<p>Seed <code>${seed}</code>, ${runs} cases per property: ${killed} of ${rows.length} mutants killed.${cut} A cell gives the cases the property ran until it failed; darker is faster. · held, s skipped, E error, i incomplete.</p>
<table class="heatmap"><thead><tr><th>mutant</th>${head}</tr></thead><tbody>
${body}
</tbody></table>`,
  );
}

/** The rule × property grid: which property checks which rule. */
export function ruleGridHtml(
  ruleList: ReadonlyArray<{ id: string; title: string }>,
  properties: ReadonlyArray<{ id: string; rules: readonly string[] }>,
): string {
  const head = properties.map((p) => `<th class="mono">${e(p.id)}</th>`).join("");
  const body = ruleList
    .map((r) => {
      const cells = properties
        .map((p) =>
          p.rules.includes(r.id) ? `<td class="cited" title="${e(p.id)}">●</td>` : `<td class="none"></td>`,
        )
        .join("");
      return `<tr><th class="mono">${e(r.id)}</th><td>${e(r.title)}</td>${cells}</tr>`;
    })
    .join("\n");
  const covered = ruleList.filter((r) => properties.some((p) => p.rules.includes(r.id))).length;
  return page(
    "iommu-conformance: rules × properties",
    `<p>${ruleList.length} rules, ${covered} checked by at least one property.</p>
<table class="grid"><thead><tr><th>rule</th><th>title</th>${head}</tr></thead><tbody>
${body}
</tbody></table>`,
  );
}
