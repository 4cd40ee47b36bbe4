/**
 * The run report for people: a header, one block a property (streamed as each finishes), a
 * summary. Colours only when the caller asks (a terminal). [HARNESS-REPORT-1] [HARNESS-REPORT-4]
 */
import pc from "picocolors";
import { failureCommands, shellQuote } from "../commands.ts";
import { findingLine, walkText } from "../finding.ts";
import type { PropertyResult, RunReport } from "../runner.ts";

type Colors = ReturnType<typeof pc.createColors>;
const PLAIN: Colors = pc.createColors(false);

const LABEL: Record<PropertyResult["status"], string> = {
  pass: "PASS ",
  fail: "FAIL ",
  skip: "SKIP ",
  error: "ERROR",
  incomplete: "INCOMPLETE",
};

function paintLabel(status: PropertyResult["status"], c: Colors): string {
  const label = LABEL[status];
  if (status === "pass") return c.green(label);
  if (status === "fail") return c.red(c.bold(label));
  if (status === "error") return c.magenta(label);
  return c.yellow(label);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "scalable-write-fault-legacy-reason ×37, fault-info-above-agaw ×2" [HARNESS-KNOWN-1] */
function tolerated(counts: Array<[string, number]>): string {
  return counts.map(([id, n]) => `${id} ×${n}`).join(", ");
}

export function textHeader(
  report: Pick<RunReport, "suite" | "adapter" | "model" | "seed" | "runs" | "shard" | "known">,
): string {
  const shard = report.shard === undefined ? "" : `, shard ${report.shard.index}/${report.shard.count}`;
  const known =
    report.known === undefined || report.known.length === 0
      ? ""
      : `known deviations tolerated: ${report.known.join(", ")}\n`;
  return `iommu-conformance ${report.suite}: adapter ${report.adapter} (${report.model.name} ${report.model.version}), seed ${report.seed}, ${report.runs} runs per property${shard}\n${known}`;
}

/** The lines of one property's result. */
export function textResult(r: PropertyResult, adapter: string, c: Colors = PLAIN): string {
  const lines: string[] = [];
  const timing = r.status === "skip" ? "" : ` (${r.runs} runs, ${seconds(r.durationMs)})`;
  lines.push(`${paintLabel(r.status, c)} ${r.id}: ${r.title}${timing}`);
  if (r.status === "skip") lines.push(`      skipped: ${r.message ?? ""}`);
  if (r.status === "incomplete") lines.push(`      incomplete: ${r.message ?? ""}`);
  if (r.tolerated !== undefined) lines.push(`      tolerated: ${tolerated(Object.entries(r.tolerated))}`);
  if (r.status === "fail" || r.status === "error") {
    // [HARNESS-FAIL-1] the rule, the request, observed against permitted, in one line.
    if (r.finding !== undefined) lines.push(`      ${findingLine(r.finding)}`);
    for (const l of (r.message ?? "").split("\n")) lines.push(`      ${l}`);
    if (r.finding?.walk !== undefined) for (const l of walkText(r.finding.walk)) lines.push(`        ${l}`);
  }
  if ((r.status === "fail" || r.status === "error") && r.seed !== undefined) {
    const shrinks = r.shrinks === undefined ? "" : `, shrunk ${r.shrinks} times`;
    const replayPath = r.replayPath === undefined ? "" : `, replay path "${r.replayPath}"`;
    lines.push(`      seed ${r.seed}, path "${r.path ?? ""}"${replayPath}${shrinks}`);
    const again = rerunCommand(r, adapter);
    if (again !== undefined) lines.push(`      again: ${again}`);
  }
  // [HARNESS-SEED-2] commands as the user types them, from where the run was started.
  if (r.trace !== undefined) {
    lines.push(`      trace: ${r.trace} (${r.traceSteps ?? 0} steps)`);
    lines.push(`      replay: ${r.commands?.replay ?? replayCommand(r.trace)}`);
    if (r.commands?.export !== undefined) lines.push(`      export: ${r.commands.export}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The command that reruns a failure by seed and path (the run's own, else as for a local install). */
export function rerunCommand(r: PropertyResult, adapter: string): string | undefined {
  return (
    r.commands?.again ?? failureCommands(adapter, r, { invocation: "npx iommu-conformance", cwd: "" }).again
  );
}

export function replayCommand(trace: string): string {
  return `npx iommu-conformance replay ${shellQuote(trace)}`;
}

export function textSummary(report: RunReport, c: Colors = PLAIN): string {
  const s = report.summary;
  const counts = [
    `${s.passed} passed`,
    s.failed > 0 ? c.red(`${s.failed} failed`) : `${s.failed} failed`,
    `${s.skipped} skipped`,
    `${s.errors} errors`,
    ...(s.incomplete > 0 ? [c.yellow(`${s.incomplete} incomplete`)] : []),
  ];
  const why = report.interrupted === undefined ? "" : ` (interrupted: ${report.interrupted})`;
  const total = new Map<string, number>();
  for (const r of report.results)
    for (const [id, n] of Object.entries(r.tolerated ?? {})) total.set(id, (total.get(id) ?? 0) + n);
  const tol = total.size === 0 ? "" : `tolerated: ${tolerated([...total].sort())}\n`;
  return `${tol}${counts.join(", ")} in ${seconds(report.durationMs)}${why}\n`;
}

export function textReport(report: RunReport, c: Colors = PLAIN): string {
  return [
    textHeader(report),
    ...report.results.map((r) => textResult(r, report.adapter, c)),
    textSummary(report, c),
  ].join("");
}
